"""fgform.fmt must write exactly what ``terraform fmt`` writes.

The golden ``expected.tf`` files were produced by the real Terraform v1.11 binary; a
live test re-runs the binary over every fixture so a drifting fixture is caught too. The
golden tests drive the formatter alone (``format_valid``); ``format_source`` first asks the
HCL front end, and fmt must reject exactly what it rejects, with its diagnostics.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fgform.config.hcl import check_syntax
from fgform.config.nesting import MAX_NESTING
from fgform.errors import FgformError, Severity
from fgform.fmt import FmtError, find_files, format_file, format_source, format_valid
from fgform.fmt import tokens as tk

FIXTURES = Path(__file__).parent / "fixtures" / "fmt"
CASES = sorted(p.name for p in FIXTURES.iterdir() if (p / "input.tf").is_file())


def _read(path: Path) -> str:
    # Bytes, not read_text(): universal newlines would hide the CRLF fixture.
    return path.read_bytes().decode("utf-8")


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str) -> None:
    got = format_valid(_read(FIXTURES / case / "input.tf"))
    assert got == _read(FIXTURES / case / "expected.tf")


@pytest.mark.parametrize("case", CASES)
def test_idempotent(case: str) -> None:
    expected = _read(FIXTURES / case / "expected.tf")
    assert format_valid(expected) == expected


def _jiggle(text: str, rng: random.Random) -> str:
    """Re-space ``text`` between tokens without changing its tokens or its lines."""
    template = {tk.QUOTED_LIT, tk.STRING_LIT, tk.CQUOTE, tk.CHEREDOC,
                tk.TEMPLATE_INTERP, tk.TEMPLATE_CONTROL, tk.EOF}
    # After a heredoc's closing marker too: "EOT  " is still the marker, spaces included.
    opens_text = {tk.OQUOTE, tk.QUOTED_LIT, tk.STRING_LIT, tk.OHEREDOC, tk.CHEREDOC,
                  tk.TEMPLATE_SEQ_END}
    tight = {tk.OBRACK, tk.CBRACK, tk.OPAREN, tk.CPAREN, tk.OBRACE, tk.CBRACE,
             tk.COMMA, tk.NEWLINE}
    out: list[str] = []
    prev: tk.Token | None = None
    for tok in tk.lex(text):
        spaces = tok.spaces
        if prev is not None and tok.type not in template and prev.type not in opens_text:
            # Keep at least one space between tokens that could merge ("= =" vs "==").
            choices = [0, 1, 3] if tok.type in tight or prev.type in tight else [1, 2, 5]
            spaces = rng.choice(choices)
        out.append("".join(rng.choice(" \t ") for _ in range(spaces)) + tok.text)
        prev = tok
    return "".join(out)


@pytest.mark.parametrize("case", CASES)
def test_whitespace_insensitive(case: str) -> None:
    """Property: re-spacing the input between tokens never changes the result."""
    rng = random.Random(case)
    source = _read(FIXTURES / case / "input.tf")
    expected = _read(FIXTURES / case / "expected.tf")
    for _ in range(5):
        assert format_valid(_jiggle(source, rng)) == expected


def test_fixtures_match_live_terraform(tmp_path: Path) -> None:
    """Run the real binary once over every fixture (one process keeps this fast)."""
    terraform = shutil.which("terraform")
    assert terraform, "terraform must be on PATH: it is the oracle these tests check against"
    for case in CASES:
        shutil.copy(FIXTURES / case / "input.tf", tmp_path / f"{case}.tf")
    env = {**os.environ, "TF_CLI_CONFIG_FILE": os.devnull, "CHECKPOINT_DISABLE": "1"}
    run = subprocess.run([terraform, "fmt", "-no-color", str(tmp_path)], env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    for case in CASES:
        by_terraform = _read(tmp_path / f"{case}.tf")
        assert by_terraform == _read(FIXTURES / case / "expected.tf"), case
        assert format_valid(_read(FIXTURES / case / "input.tf")) == by_terraform, case


# Fixtures Terraform formats but the front end (python-hcl2's grammar) rejects: a comment
# between block labels, non-ASCII names, new lines inside `${ }`.
# fgform cannot load such files, so its fmt refuses them too. Pinned, so a front end that
# learns them shows here.
FRONT_END_REJECTS = {"one_line_blocks_and_labels", "unicode_alignment",
                     "unwrap_multiline_conditional", "unwrap_multiline_interpolation"}


def _front_end_errors(source: str, filename: str) -> list:
    return [d for d in check_syntax(source, filename) if d.severity is Severity.ERROR]


@pytest.mark.parametrize("case", CASES)
def test_fixtures_go_through_the_front_end(case: str) -> None:
    """format_source is the formatter behind the front end's gate, nothing more or less."""
    source = _read(FIXTURES / case / "input.tf")
    errors = _front_end_errors(source, "input.tf")
    assert bool(errors) == (case in FRONT_END_REJECTS)
    if not errors:
        assert format_source(source, "input.tf") == _read(FIXTURES / case / "expected.tf")
        return
    with pytest.raises(FmtError) as info:
        format_source(source, "input.tf")
    assert info.value.diagnostic == errors[0]


def test_stacked_unary_operators_are_valid_and_formatted_as_terraform() -> None:
    # Once rejected by apply and fmt alike; Terraform 1.11 accepts them: `terraform fmt`
    # wrote this file as shown.
    assert format_source("a =  - -1\nb = ! !true\n", "main.tf") == "a = --1\nb = !!true\n"


@pytest.mark.parametrize(("source", "line", "fragment"), [
    ("a = \n", 1, "Expected an expression after `=`, found a new line"),
    ("a = [1, 2\n", 1, "Expected `]`, `,` or a new line after `2`, found the end of the file"),
    ('a = "${foo(1}"\n', 1, "found `}`"),
    ("a = (1]\n", 1, "Expected `)` or a new line after `1`, found `]`"),
    ('a = "abc\n', 1, "Unterminated template string"),
    ("x {\n  a = 1\n", 2, "Expected `}` after `1`, found the end of the file"),
    ("}\n", 1, "Expected a name or a new line, found `}`"),
    ("a = 1 2\n", 1, "found `2`"),
    ("x { a = 1 b = 2 }\n", 1, "Missing newline"),
    ("a = 1\n/* open\n", 2, "Expected an expression after `/`"),
    ("a = [for k, v in x : k => v]\n", 1, "found `=>`"),
    ("a = 1\nb = @\n", 2, "found `@`"),
    ('r "${x}" {}\n', 1, "Invalid block label"),
    ("= 1\n", 1, "Expected a name or a new line, found `= 1`"),
    ('a = "%{ if x }y"\n', 1, "Unterminated template directive"),
])
def test_invalid_syntax_is_a_clear_error(source: str, line: int, fragment: str) -> None:
    """The front end's diagnostic, at its line: exactly what validate reports."""
    with pytest.raises(FmtError) as info:
        format_source(source, "main.tf")
    err = info.value
    assert isinstance(err, FgformError)
    assert err.message.startswith(f"main.tf:{line}: ")
    assert fragment in err.message
    assert err.range.start_line == line
    assert err.diagnostic == _front_end_errors(source, "main.tf")[0]
    assert err.message == f"main.tf:{line}: {err.summary}: {err.detail}"


@pytest.mark.parametrize(("source", "expected"), [
    # The front end takes these (Terraform does not): fmt formats them as hclwrite would.
    ("x {\n  a = 1 }\n", "x {\na = 1 }\n"),
    ("x { y { a = 1 } }\n", "x { y { a = 1 } }\n"),
    ("x = <<EOT\nhi\nEOT", "x = <<EOT\nhi\nEOT"),
    ("a = 1 +\n  2\nb=1\n", "a = 1 +\n2\nb = 1\n"),
    ("a = x ?\n  b\n  : c\nbb=1\n", "a = x ?\nb\n: c\nbb = 1\n"),
    ("x\n{\na=1\n}\n", "x\n{\n  a = 1\n}\n"),
    ("a =\r 1\n", "a = 1\n"),
    ("\ufeffa=1\n", "a = 1\n"),  # terraform fmt drops a byte order mark
    ("v = <<EOT.x\nhi\nEOT.x\n", "v = <<EOT.x\nhi\nEOT.x\n"),
])
def test_what_the_front_end_accepts_is_formatted(source: str, expected: str) -> None:
    assert _front_end_errors(source, "main.tf") == []
    assert format_source(source, "main.tf") == expected
    assert format_source(expected, "main.tf") == expected


def test_deep_nesting_formats_and_absurd_nesting_is_an_error_at_its_line() -> None:
    # Terraform formats 20,000 nested brackets; fgform follows up to its nesting cap.
    deep = "a = " + "[" * 20_000 + "]" * 20_000 + "\n"
    assert format_source(deep) == deep
    with pytest.raises(FmtError, match="nested too deeply") as info:
        format_source("a = 1\nb = " + "(" * (MAX_NESTING + 1) + "1" + ")" * (MAX_NESTING + 1)
                      + "\n", "main.tf")
    assert info.value.range.start_line == 2


def test_format_file_rewrites_and_reports(tmp_path: Path) -> None:
    path = tmp_path / "main.hcl"
    path.write_bytes(b"a=1\r\nbb = 2\r\n")
    changed, new, diff = format_file(path, check=True, diff=True)
    assert changed and new == "a  = 1\r\nbb = 2\r\n"
    assert diff.startswith("--- old/main.hcl\n+++ new/main.hcl\n") and "+a  = 1" in diff
    assert path.read_bytes() == b"a=1\r\nbb = 2\r\n", "check=True must not write"
    changed, _, diff = format_file(path)
    assert changed and diff == ""
    assert path.read_bytes() == b"a  = 1\r\nbb = 2\r\n", "CRLF is kept, like terraform"
    assert format_file(path, diff=True) == (False, "a  = 1\r\nbb = 2\r\n", "")


def test_format_file_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tf"
    bad.write_text("ok = 1\nx = [\n")
    with pytest.raises(FmtError, match=r"bad\.tf:2: "):
        format_file(bad)
    assert bad.read_text() == "ok = 1\nx = [\n"
    latin1 = tmp_path / "latin1.tf"
    latin1.write_bytes(b'a = 1\nb = "\xe9"\n')
    with pytest.raises(FmtError, match=r"latin1\.tf:2: Invalid file encoding"):
        format_file(latin1)


def test_find_files(tmp_path: Path) -> None:
    for name in ("a.tf", "b.hcl", "c.fgvars", "d.tfvars", "e.txt", "sub/f.tf",
                 ".terraform/g.tf", "sub/deeper/h.hcl"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    top = [p.relative_to(tmp_path).as_posix() for p in find_files(tmp_path, recursive=False)]
    assert top == ["a.tf", "b.hcl", "c.fgvars", "d.tfvars"]
    every = [p.relative_to(tmp_path).as_posix() for p in find_files(tmp_path, recursive=True)]
    assert every == ["a.tf", "b.hcl", "c.fgvars", "d.tfvars", "sub/deeper/h.hcl", "sub/f.tf"]
    assert find_files(tmp_path / "a.tf", recursive=False) == [tmp_path / "a.tf"]


@pytest.mark.parametrize(("source", "expected"), [
    ("", ""),
    ("a = 1", "a = 1"),  # terraform adds no final newline (its stdin mode prints one)
    ("a = 1\n   ", "a = 1\n   "),  # nor strips spaces at end of file
    ("a = 1   # c   \n", "a = 1 # c   \n"),  # a comment's own bytes are its own
])
def test_file_edges_like_terraform(source: str, expected: str) -> None:
    assert format_source(source) == expected


def test_fmt_and_validate_report_a_syntax_error_alike(tmp_path: Path) -> None:
    """The CLI prints the front end's diagnostic, as validate does, and leaves the file."""
    (tmp_path / "main.tf").write_text('a = "%{ if x }y"\n')
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "fgform", f"-chdir={tmp_path}", *args],
                              env=env, capture_output=True, text=True, timeout=120)

    fmt_run, validate_run = run("fmt"), run("validate")
    # Exit statuses as Terraform 1.11: terraform fmt 2, terraform validate 1.
    assert (fmt_run.returncode, validate_run.returncode) == (2, 1)
    assert "Unterminated template directive" in fmt_run.stderr
    assert "on main.tf line 1, column 6" in fmt_run.stderr
    assert validate_run.stderr.startswith(fmt_run.stderr.rstrip("\n"))
    assert (tmp_path / "main.tf").read_text() == 'a = "%{ if x }y"\n'
