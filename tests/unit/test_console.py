"""`fgform console`: expressions against the configuration and the state.

The printed forms are `terraform console`'s, recorded from Terraform 1.11
(`echo 'EXPR' | terraform console`), as is the piped mode's behaviour: every line is
evaluated, only the last value is printed, the first error ends the run with exit 1.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from fgform import __version__
from fgform.cli.console_cmd import run_interactive, run_piped
from fgform.cli.status import ExitStatus
from fgform.errors import Diagnostic, DiagnosticsError
from fgform.render.console import format_value
from fgform.values import UNKNOWN, Sensitive
from tests.helpers.cli import fails, fg

# (value, what terraform console printed for the expression that made it)
RECORDED = [
    ("hello", '"hello"'),
    (3, "3"),
    ([1, 2, 3], "[\n  1,\n  2,\n  3,\n]"),
    ({"a": 1, "b": "x"}, '{\n  "a" = 1\n  "b" = "x"\n}'),
    ({"name": "n", "list": [True, None], "nested": {"x": 1.5}},
     '{\n  "list" = [\n    true,\n    null,\n  ]\n  "name" = "n"\n  "nested" = {\n'
     '    "x" = 1.5\n  }\n}'),
    ("a\nb", "<<EOT\na\nb\nEOT"),
    ("a\nb\n", "<<EOT\na\nb\n\nEOT"),
    (None, "null"), (True, "true"), ([], "[]"), ({}, "{}"),
    (Sensitive("s3cret"), "(sensitive value)"),
    (12345678901234567890, "12345678901234567890"),
    (1.5, "1.5"), (1e20, "100000000000000000000"), (-0.25, "-0.25"),
    ([[1], [], {}], "[\n  [\n    1,\n  ],\n  [],\n  {},\n]"),
    ({"x": []}, '{\n  "x" = []\n}'),
    ('{"a":1}', '"{\\"a\\":1}"'),
    ('q"uote', '"q\\"uote"'),
    ("tab\there", '"tab\\there"'),
    (["a\nb"], "[\n  <<-EOT\n  a\n  b\n  EOT,\n]"),
    ({"a b": 1, "1x": 2, "c": None}, '{\n  "1x" = 2\n  "a b" = 1\n  "c" = null\n}'),
    ([Sensitive(1), 2], "[\n  (sensitive value),\n  2,\n]"),
    ("", '""'), ("x%{y}", '"x%{y}"'), ("${x}", '"${x}"'),
]


@pytest.mark.parametrize("value, printed", RECORDED)
def test_values_print_as_terraform_console(value, printed: str) -> None:
    assert format_value(value) == printed


def test_unknown_and_heredoc_marker_clash() -> None:
    assert format_value(UNKNOWN) == "(known after apply)"
    # The marker never matches a line of the string (Terraform adds underscores).
    assert format_value("EOT\nx") == "<<EOT_\nEOT\nx\nEOT_"


def test_deep_values_print_without_recursion() -> None:
    v: list = []
    for _ in range(5000):
        v = [v]
    assert format_value(v).count("[") == 5001


CONFIG = """\
variable "name" {
  default = "web"
}

variable "secret" {
  default   = "hunter22"
  sensitive = true
}

locals {
  names = [for i in range(2) : "${var.name}-${i}"]
}

resource "fg_cluster" "main" {
  count = 2
  name  = local.names[count.index]
}

resource "fg_cluster" "later" {
  name = "later"
}
"""


def _instance(attrs: dict, key=None, sensitive_paths=()) -> dict:
    return {"index_key": key, "status": "ready", "attributes": attrs,
            "sensitive_paths": [list(p) for p in sensitive_paths], "dependencies": [],
            "create_before_destroy": False}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    d = tmp_path / "cfg"
    (d / "state").mkdir(parents=True)
    (d / "main.tf").write_text(CONFIG)
    state = {
        "version": 1, "fgform_version": __version__, "serial": 1,
        "lineage": "11111111-2222-3333-4444-555555555555", "outputs": {},
        "resources": [{"module": "", "type": "fg_cluster", "name": "main", "instances": [
            _instance({"id": "c0", "name": "web-0"}, 0),
            _instance({"id": "c1", "name": "web-1"}, 1, [("name",)])]}],
    }
    (d / "state" / "default.fgstate.json").write_text(json.dumps(state))
    return d


@pytest.mark.parametrize("line, printed", [
    ("fg_cluster.main[0].id", '"c0"'),
    ("fg_cluster.main[*].id", '[\n  "c0",\n  "c1",\n]'),
    ("fg_cluster.main[1].name", "(sensitive value)"),  # sensitive in state
    ("fg_cluster.later.id", "(known after apply)"),  # not applied yet
    ("local.names", '[\n  "web-0",\n  "web-1",\n]'),
    ("var.secret", "(sensitive value)"),
    ('upper(var.name) # a comment', '"WEB"'),
])
def test_piped_expression_against_config_and_state(project: Path, line: str,
                                                   printed: str) -> None:
    r = fg(f"-chdir={project}", "console", input=line + "\n")
    assert (r.exit_code, r.stdout) == (0, printed + "\n"), r.stderr


def test_piped_prints_only_the_last_value(project: Path) -> None:
    r = fg(f"-chdir={project}", "console", input="var.name\n1 + 2\n")
    assert (r.exit_code, r.stdout) == (0, "3\n")
    r = fg(f"-chdir={project}", "console", input="1 + 2\n-var.name\n-var.name2\n")
    err = fails(r)
    assert r.stdout == "" and "on <console-input> line 1" in err
    r = fg(f"-chdir={project}", "console", input="var.name\nexit\n1 + 2\n")
    assert (r.exit_code, r.stdout) == (0, "")


def test_piped_errors(project: Path) -> None:
    err = fails(fg(f"-chdir={project}", "console", input="nosuch(1)\n"))
    assert "Call to unknown function" in err and 'no function named "nosuch"' in err
    err = fails(fg(f"-chdir={project}", "console", input="1 +\n"))
    assert "<console-input>" in err
    err = fails(fg(f"-chdir={project}", "console", input="var.nope\n"))
    assert "var.nope" in err or '"nope"' in err


def _evaluate(text: str) -> str:
    if text.startswith("bad"):
        raise DiagnosticsError([Diagnostic.error("Invalid expression", text)])
    return format_value(eval(text, {}))  # the loop is under test, not the evaluator


def test_interactive_goes_on_after_an_error_and_reads_open_brackets_on() -> None:
    out, errors = io.StringIO(), []

    def echo(text: str = "", nl: bool = True) -> None:
        out.write(text + ("\n" if nl else ""))

    lines = ["1 + 2", "bad one", "[1,", " 2]", "", "help", "exit", "never read"]
    code = run_interactive(_evaluate, lines, echo, errors.append)
    assert code is ExitStatus.OK
    assert [e.diagnostics[0].detail for e in errors] == ["bad one"]
    text = out.getvalue()
    # "> " before each expression; none while brackets are open; errors go elsewhere.
    assert text.startswith("> 3\n> > [\n  1,\n  2,\n]\n> > The fgform console")
    assert "never" not in text


def test_interactive_end_of_input_ends_it() -> None:
    out = io.StringIO()
    code = run_interactive(_evaluate, ["1"], lambda t="", nl=True: out.write(
        t + ("\n" if nl else "")), lambda e: None)
    assert code is ExitStatus.OK and out.getvalue() == "> 1\n> \n"


def test_piped_loop_directly() -> None:
    out: list[str] = []
    assert run_piped(_evaluate, ["1", "", "2"], lambda t="", nl=True: out.append(t),
                     lambda e: None) is ExitStatus.OK
    assert out == ["2"]


def test_no_configuration_is_no_error(tmp_path: Path) -> None:
    """As terraform console in an empty directory: functions work, names are undeclared
    (Terraform 1.11's words)."""
    r = fg(f"-chdir={tmp_path}", "console", input='upper("x")\n')
    assert (r.exit_code, r.stdout) == (0, '"X"\n')
    err = fails(fg(f"-chdir={tmp_path}", "console", input="var.x\n"))
    assert 'An input variable with the name "x" has not been declared.' in err
