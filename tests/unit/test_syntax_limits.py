"""Issue 7, syntax: deep expressions through the whole pipeline, lexical mistakes reported
where they are, escapes, and error lines at the end of big generated files. Inputs are
generated here rather than stored as fixtures (some are hundreds of kilobytes)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from fgform.cli import run
from fgform.config import ast
from fgform.config.expr import EvalContext, evaluate
from fgform.config.hcl import parse_expression, parse_file_text
from fgform.config.nesting import MAX_NESTING
from fgform.config.references import references


class _Boundary:
    """Lets CliRunner drive `run(argv)`, the whole error boundary."""

    name = "fgform"

    def main(self, args, prog_name=None, **_):
        raise SystemExit(run(list(args)))


def fg(tmp_path: Path, *args: str) -> Result:
    result = CliRunner().invoke(_Boundary(), [f"-chdir={tmp_path}", *args],
                                env={"NO_COLOR": "1", "XDG_CACHE_HOME": str(tmp_path / "c")})
    assert "Traceback" not in result.output and "internal error" not in result.output, \
        result.output
    return result


def errors(diags) -> list[tuple[str, int, int]]:
    return [(d.summary, d.range.start_line, d.range.start_col) for d in diags]


# -- deep expressions -------------------------------------------------------------------------

def nested(open_: str, inner: str, close: str, n: int) -> str:
    return open_ * n + inner + close * n


def test_what_terraform_accepts_validates_plans_and_formats(tmp_path: Path) -> None:
    # terraform validate accepts 20,000 nested parentheses and a 20,000-term sum.
    (tmp_path / "main.tf").write_text(
        "locals {\n"
        f"  parens = {nested('(', '1', ')', 20_000)}\n"
        f"  sum    = {' + '.join(['1'] * 20_000)}\n"
        f"  diff   = 100000{' - 1' * 20_000}\n"
        f"  lists  = {nested('[', 'local.parens', ']', 5_000)}\n"
        f"  calls  = {nested('abs(', '-2', ')', 5_000)}\n"
        f"  negate = {nested('-(', '3', ')', 5_000)}\n"
        f"  conds  = {'true ? ' * 5_000}4{' : 0' * 5_000}\n"
        f"  text   = \"{nested('${', 'local.sum', '}', 1)}{'-${local.parens}' * 2_000}\"\n"
        "}\n"
        "output \"all\" {\n"
        "  value = [local.parens, local.sum, local.diff, flatten(local.lists), local.calls,\n"
        "           local.negate, local.conds, length(local.text)]\n"
        "}\n")
    plan = fg(tmp_path, "plan")  # validates first
    assert plan.exit_code == 0, plan.output
    # parens 1, sum 20000, diff 80000, lists [1], calls 2, negate 3 (5,000 minus signs), conds
    # 4, text 4005 characters
    for value in ("+ 1,", "+ 20000,", "+ 80000,", "+ 2,", "+ 3,", "+ 4,", "+ 4005,"):
        assert value in plan.stdout, plan.stdout
    fmt = fg(tmp_path, "fmt", "-diff")
    assert fmt.exit_code == 0, fmt.output
    assert fg(tmp_path, "fmt", "-check").exit_code == 0  # formatted now, and still valid
    assert fg(tmp_path, "validate").exit_code == 0


def test_nesting_over_the_cap_is_an_error_at_the_level_that_crosses_it() -> None:
    deep = nested("(", "1", ")", MAX_NESTING + 10)
    _, diags = parse_file_text(f"locals {{\n  a = 1\n  b = {deep}\n}}\n", "main.tf")
    # The (MAX_NESTING + 1)th parenthesis opens at column 7 + MAX_NESTING on line 3.
    assert errors(diags) == [("Expression nested too deeply", 3, 7 + MAX_NESTING)]
    assert f"more than {MAX_NESTING:,} levels" in diags[0].detail


def test_a_function_call_or_a_list_is_one_level_of_nesting() -> None:
    n = MAX_NESTING - 10
    for text in (nested("abs(", "1", ")", n), nested("[", "1", "]", n)):
        _, diags = parse_file_text(f"a = {text}\n", "main.tf")
        assert diags == []


def test_long_operator_chains_keep_left_associativity_and_reference_order() -> None:
    node = parse_expression(" - ".join(["var.a"] + [str(i) for i in range(1, 20_001)]))
    assert isinstance(node, ast.Binary) and node.op == "-"
    ctx = EvalContext(variables={"a": 10**9})
    assert evaluate(node, ctx) == 10**9 - sum(range(1, 20_001))
    chain = parse_expression(" + ".join(f"var.v{i}" for i in range(20_000)))
    assert [str(r) for r in references(chain)] == [f"var.v{i}" for i in range(20_000)]
    logic = parse_expression(" && ".join(["true"] * 10_000 + ["false"]))
    assert evaluate(logic, EvalContext()) is False


# -- lexical mistakes at their place -----------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    # An unclosed quote: at the opening quote, not at the next string lines later.
    ('locals {\n  a = "hello\n  b = "world"\n  c = 1\n}\n',
     [("Unterminated template string", 2, 7)]),
    # The quote inside a multi-line ${ } is fine; the unclosed one after it is reported.
    ('locals {\n  a = "${max(\n  1, 2)}"\n  b = "x\n  c = 1\n}\n',
     [("Unterminated template string", 4, 7)]),
    ('locals {\n  a = <<EOF\nhello\n  b = 1\n}\n', [("Unterminated heredoc", 2, 7)]),
    ('locals {\n  a = <<-EOT\n  hello\n  EOF\n}\n', [("Unterminated heredoc", 2, 7)]),
    ("locals {\n  a = 5e\n  b = 1\n}\n", [("Invalid number literal", 2, 7)]),
    ("locals {\n  a = 1.5E+\n}\n", [("Invalid number literal", 2, 7)]),
    # A later, unrelated parse error is still reported as such.
    ('locals {\n  a = "ok" # "not a string\n  b = 1e5\n  c =\n}\n', [("Invalid syntax", 4, 6)]),
])
def test_lexical_mistakes_are_reported_where_they_are(text: str, expected: list) -> None:
    _, diags = parse_file_text(text, "main.tf")
    assert errors(diags) == expected


def test_misspelled_heredoc_marker_is_named() -> None:
    _, diags = parse_file_text("locals {\n  a = <<EOT\nhello\nEOF\n}\n", "main.tf")
    assert errors(diags) == [("Unterminated heredoc", 2, 7)]
    assert 'Line 4 holds "EOF"' in diags[0].detail


def test_spaces_after_a_heredoc_closing_marker_are_accepted_as_terraform_does() -> None:
    body, diags = parse_file_text("a = <<EOF\nx\nEOF  \nb = <<-X\n  y\n  X\t\n", "main.tf")
    assert diags == []
    assert [body.attributes[k].expr.value for k in ("a", "b")] == ["x\n", "y\n"]
    # Still a syntax error elsewhere is reported at its own place.
    _, diags = parse_file_text("a = <<EOF\nx\nEOF \nb =\n", "main.tf")
    assert errors(diags) == [("Invalid syntax", 4, 4)]


@pytest.mark.parametrize("text, summary, detail, span", [
    ('a = "x\\uZZZZy"\n', "Invalid escape sequence",
     "The \\u escape sequence must be followed by four hexadecimal digits.", (7, 13)),
    ('a = "\\U1F600 y"\n', "Invalid escape sequence",
     "The \\U escape sequence must be followed by eight hexadecimal digits.", (6, 13)),
    ('a = "\\uD800"\n', "Invalid escape sequence", "Cannot encode character U+d800 in UTF-8.",
     (6, 12)),
    ('a = "ok ${1} \\uDFFF"\n', "Invalid escape sequence",
     "Cannot encode character U+dfff in UTF-8.", (14, 20)),
    ('a = "\\U00110000"\n', "Invalid escape sequence",
     "Cannot encode character U+110000 in UTF-8.", (6, 16)),
])
def test_escape_errors_blame_the_escape(text: str, summary: str, detail: str,
                                        span: tuple[int, int]) -> None:
    _, diags = parse_file_text(text, "main.tf")
    assert [(d.summary, d.detail) for d in diags] == [(summary, detail)]
    assert (diags[0].range.start_line, diags[0].range.start_col, diags[0].range.end_col) == (
        1, *span)


def test_valid_unicode_escapes_still_decode() -> None:
    body, diags = parse_file_text('a = "caf\\u00e9 \\U0001F600"\n', "main.tf")
    assert diags == []
    assert body.attributes["a"].expr.value == "caf\u00e9 \U0001F600"


# -- the error line at the end of a big generated file -------------------------------------------

def test_error_at_the_end_of_a_generated_file_shows_its_own_line(tmp_path: Path) -> None:
    # Generated files carry form feeds, U+2028 and lone CRs in comments and strings; the
    # parser does not count them as new lines, and the snippet must not either (it showed a
    # line two further down for two of them).
    lines = ["locals {"]
    for i in range(5_000):
        extra = {0: "  # page\f break", 1: '  s{i} = "a\u2028b"', 2: "  # old mac\r eol"}
        lines.append(f'  l{i:05d} = "value-{i}"')
        if i % 500 in extra:
            lines.append(extra[i % 500].format(i=i))
    lines += ["  broken =", "}"]
    (tmp_path / "main.tf").write_bytes(("\n".join(lines) + "\n").encode())
    result = fg(tmp_path, "validate")
    assert result.exit_code == 1
    where = len(lines) - 1
    assert f"on main.tf line {where}, column 11:" in result.stderr, result.stderr
    assert f"{where}:   broken =\n" in result.stderr, result.stderr
