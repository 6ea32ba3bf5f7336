"""The HCL front end: text -> parse tree -> AST, or diagnostics saying where and what is wrong.

This is the only module that imports python-hcl2 and lark. It uses python-hcl2's grammar
(LALR, fast) but not its transformer: the raw lark tree is handed to config/convert.py, which
builds fgform's AST (config/ast.py) with line/column ranges and sees duplicate attributes.
The loader (files), `templatefile` (template text) and `fmt` (validation) all parse here, so
they accept the same language.
"""

from __future__ import annotations

import re
from typing import Any

from fgform.config import ast, lexscan
from fgform.config.convert import Converter, ConvertError
from fgform.config.model import Body
from fgform.errors import Diagnostic, SourceRange


def parse_file_text(text: str, filename: str) -> tuple[Body, list[Diagnostic]]:
    """Parse one file's text into a Body (no cache)."""
    return parse_text(text, filename)


def parse_expression(text: str, filename: str = "<expr>", line: int = 1, col: int = 1
                     ) -> ast.Node:
    """Parse one expression (as used by `-var` values and tests). Raises ValueError with a
    readable message on a syntax error."""
    body, diags = parse_text(f"__x = {text}\n", filename, col_shift=(line, col - 7))
    if diags:
        d = diags[0]
        raise ValueError(f"{d.summary}: {d.detail}")
    if "__x" not in body.attributes:
        raise ValueError("not a single expression")
    return body.attributes["__x"].expr


def parse_template(text: str, filename: str = "<template>", line: int = 1, col: int = 1
                   ) -> ast.Node:
    """Parse template text (a heredoc body, or a `templatefile` file) into a Template.

    Raises ValueError with a readable message on a syntax error.
    """
    _import_parser()
    try:
        return Converter(filename, "", parse=parse_text).template_from_text(text, line, col)
    except ConvertError as e:
        raise ValueError(f"{e.range}: {e.summary}: {e.detail}") from None


def check_syntax(text: str, filename: str) -> list[Diagnostic]:
    """The syntax errors of one file's text (empty when it parses), as the loader reports
    them: the parse, string escapes and template directives are all checked."""
    return parse_text(text.lstrip("\ufeff"), filename)[1]


# ---------------------------------------------------------------------------------------------
# Parsing: text -> lark tree -> Body
# ---------------------------------------------------------------------------------------------

_parser: Any = None
_lark_exceptions: Any = None


def _import_parser() -> Any:
    """Import hcl2/lark lazily: a warm (cached) load must not pay for them."""
    global _parser, _lark_exceptions
    if _parser is None:
        import lark.exceptions as lark_exceptions
        from hcl2.parser import parser as hcl2_parser

        _parser = _without_positions(hcl2_parser())
        _lark_exceptions = lark_exceptions
    return _parser


def warm_up() -> None:
    """Build the parser now (before forking parse workers, which then inherit it)."""
    _import_parser()


def _without_positions(parser: Any) -> Any:
    """python-hcl2's parser (compiled once, cached by python-hcl2) rebuilt in memory without
    `propagate_positions`: copying every rule's position up the tree as it is built was half
    of the parse time (9 of 18 s on a 5 MB file). `Converter.rng` finds positions from the
    tokens instead, and only for the nodes it keeps. Should lark's internals change, the
    parser as python-hcl2 built it still works, only slower."""
    try:
        from lark import Lark
        from lark.grammar import Rule
        from lark.lexer import TerminalDef

        data, memo = parser.memo_serialize([TerminalDef, Rule])
        return Lark._load_from_dict(data, memo, propagate_positions=False,
                                    postlex=parser.options.postlex)
    except Exception:  # noqa: BLE001 - any failure here only costs speed
        return parser


_stacked_parser: Any = None


def _parse(parser: Any, src: str) -> Any:
    """`parser.parse(src)`; where it fails at a unary operator that follows another
    (`!!x`, `- -1`, which Terraform accepts and python-hcl2's grammar does not: its
    `unary_op` takes an `expr_term` only), the parse of a grammar whose `unary_op` also
    takes a `unary_op`. That grammar is compiled (about 1 s) the first time it is needed
    only, so configurations without stacked operators never pay for it; should it fail too,
    the first error stands."""
    global _stacked_parser
    try:
        return parser.parse(src)
    except _lark_exceptions.UnexpectedInput as e:
        pos = getattr(e, "pos_in_stream", None)
        if not isinstance(pos, int) or not src.startswith(("!", "-"), pos) or \
                not src[:pos].rstrip().endswith(("!", "-")):
            raise
        try:
            if _stacked_parser is None:
                from pathlib import Path

                import hcl2
                from lark import Lark

                grammar = (Path(hcl2.__file__).parent / "hcl2.lark").read_text()
                rule = "!unary_op : (MINUS | NOT) expr_term"
                if rule not in grammar:
                    raise e from None
                _stacked_parser = Lark(
                    grammar.replace(rule, "!unary_op : (MINUS | NOT) (expr_term | unary_op)"),
                    parser="lalr", propagate_positions=False, postlex=parser.options.postlex)
            return _stacked_parser.parse(src)
        except _lark_exceptions.UnexpectedInput:
            raise e from None


def parse_text(text: str, filename: str, col_shift: tuple[int, int] | None = None
               ) -> tuple[Body, list[Diagnostic]]:
    """Parse text into a Body, or an empty Body and the diagnostics (never raises).

    `col_shift` = (line, dcol) places text parsed on its own where it stands in a file: all
    lines move down by line - 1, the first line's columns by dcol.
    """
    parser = _import_parser()
    exc = _lark_exceptions
    # lark needs a final newline (no EOF token in the grammar).
    src = text if text.endswith("\n") else text + "\n"
    try:
        try:
            strips: frozenset[int] = frozenset()
            try:
                tree = _parse(parser, src)
            except exc.UnexpectedInput:
                trimmed = lexscan.trim_heredoc_markers(src) or src
                trimmed, strips = lexscan.interpolation_strips(trimmed)
                if trimmed == src:
                    raise
                tree = _parse(parser, trimmed)
                src = trimmed
        except exc.UnexpectedInput as e:
            return Body(), [_lexical_diagnostic(e, src, filename, col_shift)
                            or _syntax_diagnostic(e, src, filename, col_shift)]
        except RecursionError:
            return Body(), [Diagnostic.error("Invalid syntax", "The expression is nested too "
                                             "deeply.", SourceRange(filename, 1, 1))]
        conv = Converter(filename, src, col_shift, parse=parse_text)
        conv.interp_strips = strips
        try:
            body = conv.body(tree.children[0])
        except ConvertError as e:
            return Body(), [Diagnostic.error(e.summary, e.detail, e.range)]
        except RecursionError:
            return Body(), [Diagnostic.error("Invalid syntax", "The expression is nested too "
                                             "deeply.", SourceRange(filename, 1, 1))]
        return body, conv.diags
    except Exception as e:  # never a traceback for any input
        return Body(), [Diagnostic.error("Invalid syntax", f"The file could not be read: {e}.",
                                         SourceRange(filename, 1, 1))]


# Terminal names -> what users call them.
_TERMINAL_WORDS = {
    "RBRACE": "`}`", "LBRACE": "`{`", "LSQB": "`[`", "RSQB": "`]`", "LPAR": "`(`",
    "RPAR": "`)`", "EQ": "`=`", "COLON": "`:`", "COMMA": "`,`", "DOT": "`.`",
    "DBLQUOTE": '`"`', "NAME": "a name", "NL_OR_COMMENT": "a new line",
    "INT_LITERAL": "a number", "FLOAT_LITERAL": "a number", "STRING_CHARS": "text",
    "QMARK": "`?`", "FOR_OBJECT_ARROW": "`=>`", "ELLIPSIS": "`...`",
    "INTERP_START": "`${`", "DIRECTIVE_START": "`%{`", "ATTR_SPLAT": "`.*`",
    "FULL_SPLAT_START": "`[*]`", "PLUS": "`+`", "MINUS": "`-`", "ASTERISK": "`*`",
    "SLASH": "`/`", "PERCENT": "`%`", "DOUBLE_EQ": "`==`", "NEQ": "`!=`", "LT": "`<`",
    "GT": "`>`", "LEQ": "`<=`", "GEQ": "`>=`", "DOUBLE_AMP": "`&&`", "DOUBLE_PIPE": "`||`",
    "NOT": "`!`", "IN": "`in`", "IF": "`if`", "FOR": "`for`", "ELSE": "`else`",
    "ENDIF": "`endif`", "ENDFOR": "`endfor`", "TRUE": "`true`", "FALSE": "`false`",
    "NULL": "`null`", "HEREDOC_TEMPLATE": "a heredoc", "HEREDOC_TEMPLATE_TRIM": "a heredoc",
    "$END": "the end of the file", "STRIP_MARKER": "`~`", "COLONS": "`::`",
}
_EXPR_START = {"INT_LITERAL", "FLOAT_LITERAL", "DBLQUOTE", "LSQB", "LPAR", "NAME", "MINUS",
               "NOT", "HEREDOC_TEMPLATE"}
_OPERATORS = {"PLUS", "MINUS", "ASTERISK", "SLASH", "PERCENT", "DOUBLE_EQ", "NEQ", "LT", "GT",
              "LEQ", "GEQ", "DOUBLE_AMP", "DOUBLE_PIPE", "QMARK"}
_ORDER = ["EQ", "LBRACE", "RBRACE", "RSQB", "RPAR", "COMMA", "COLON", "FOR_OBJECT_ARROW",
          "DBLQUOTE", "NAME", "NL_OR_COMMENT"]


def _describe_expected(expected: set[str]) -> str:
    exp = set(expected)
    words: list[str] = []
    if "EQ" in exp and "LBRACE" in exp:
        # After a name in a body: an argument or a block; labels are rarely what was meant.
        return "`=` or `{`"
    if len(exp & _EXPR_START) >= 4:
        words.append("an expression")
        exp -= _EXPR_START | {"FLOAT_LITERAL", "HEREDOC_TEMPLATE_TRIM", "TEMPLATE_STRING",
                              "LBRACE", "TRUE", "FALSE", "NULL", "FOR", "IN", "IF", "FOR_EACH",
                              "ELSE", "ENDIF", "ENDFOR"}
        exp.discard("NL_OR_COMMENT")
    if len(exp & _OPERATORS) >= 3:
        words.append("an operator")
        exp -= _OPERATORS | {"DOT", "LSQB", "ATTR_SPLAT", "FULL_SPLAT_START"}
    if "STRING_CHARS" in exp and "DBLQUOTE" in exp:
        words.append('the closing `"`')
        exp -= {"STRING_CHARS", "DBLQUOTE", "INTERP_START", "DIRECTIVE_START",
                "ESCAPED_INTERPOLATION", "ESCAPED_DIRECTIVE"}
    if {"NAME", "DBLQUOTE"} <= exp and "LBRACE" in exp:
        words.append("a block label or `{`")
        exp -= {"NAME", "DBLQUOTE", "LBRACE", "IN", "IF", "FOR", "FOR_EACH", "ELSE", "ENDIF",
                "ENDFOR", "TRUE", "FALSE", "NULL"}
    rest = sorted(exp, key=lambda t: (_ORDER.index(t) if t in _ORDER else 99, t))
    for t in rest:
        w = _TERMINAL_WORDS.get(t)
        if w and w not in words:
            words.append(w)
    if not words:
        return "something else"
    if len(words) > 4:
        words = words[:4]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _token_text(token: Any) -> str:
    ttype = getattr(token, "type", "")
    if ttype == "$END":
        return "the end of the file"
    value = str(token)
    if ttype == "NL_OR_COMMENT" or value.strip() == "":
        return "a new line" if "\n" in value else "a space"
    value = value.strip()
    first = value.splitlines()[0] if value else value
    if len(first) > 24:
        first = first[:24] + "..."
    return f"`{first}`"


def _previous_word(src: str, line: int, col: int) -> str:
    lines = src.split("\n")
    before = "\n".join(lines[: line - 1] + [lines[line - 1][: col - 1]]) if 0 < line <= len(
        lines) else src
    before = before.rstrip()
    m = re.search(r'("[^"\n]*"|[\w.\-]+|\S)$', before)
    return m.group(1) if m else ""


def _lexical_diagnostic(e: Any, src: str, filename: str,
                        col_shift: tuple[int, int] | None) -> Diagnostic | None:
    """The first unclosed string or heredoc, or malformed number, when it comes before the
    parse error `e` (which it usually caused, lines later): None when there is none."""
    problem = lexscan.first_problem(src)
    if problem is None:
        return None
    line, col = _line_col(src, problem.offset)
    err_line = getattr(e, "line", -1)
    err_col = getattr(e, "column", -1)
    if isinstance(err_line, int) and err_line >= 1 and (line, col) > (err_line, err_col):
        return None
    end_line, end_col = _line_col(src, problem.end)
    if col_shift is not None:
        base_line, dcol = col_shift
        col = col + dcol if line == 1 else col
        end_col = end_col + dcol if end_line == 1 else end_col
        line, end_line = base_line + line - 1, base_line + end_line - 1
    return Diagnostic.error(problem.summary, problem.detail,
                            SourceRange(filename, line, col, end_line, end_col))


def _line_col(src: str, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters) of `offset` in `src`."""
    return src.count("\n", 0, offset) + 1, offset - src.rfind("\n", 0, offset)


def _syntax_diagnostic(e: Any, src: str, filename: str, col_shift: tuple[int, int] | None
                       ) -> Diagnostic:
    exc = _lark_exceptions
    line = getattr(e, "line", -1)
    col = getattr(e, "column", -1)
    if not isinstance(line, int) or line < 1:
        # Unexpected end of input: point just past the last non-blank text.
        stripped = src.rstrip()
        line = stripped.count("\n") + 1
        col = len(stripped.split("\n")[-1]) + 1
    if isinstance(e, exc.UnexpectedCharacters):
        found = e.char
        found_text = "a new line" if found == "\n" else f"`{found}`"
        allowed = set(e.allowed or ())
        expected = _describe_expected(allowed) if allowed else ""
    elif isinstance(e, exc.UnexpectedToken):
        found_text = _token_text(e.token)
        expected = _describe_expected(set(e.expected or ()))
    else:
        found_text = "the end of the file"
        expected = _describe_expected(set(getattr(e, "expected", None) or ()))
    prev = _previous_word(src, line, col)
    after = f" after `{prev}`" if prev else ""
    if expected:
        detail = f"Expected {expected}{after}, found {found_text}."
    else:
        detail = f"Unexpected {found_text}{after}."
    if col_shift is not None:
        base_line, dcol = col_shift
        col = col + dcol if line == 1 else col
        line = base_line + line - 1
    return Diagnostic.error("Invalid syntax", detail, SourceRange(filename, line, max(col, 1)))


# ---------------------------------------------------------------------------------------------
# Tree conversion
