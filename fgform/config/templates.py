"""Strings, heredocs and templates: the part of the parse tree -> AST conversion that scans
template text (`${ }` interpolations, `%{ }` directives, strip markers) and nests directives.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Any

from fgform.config import ast
from fgform.config.model import Body
from fgform.errors import Diagnostic, SourceRange

# Parses text into a Body (config/hcl.py's parse_text): (text, filename, col_shift).
ParseFn = Callable[[str, str, "tuple[int, int] | None"], "tuple[Body, list[Diagnostic]]"]


class TemplateParts:
    """String and template conversion, mixed into convert.Converter, which provides these:"""

    filename: str
    diags: list[Diagnostic]
    parse: ParseFn  # parses the expressions inside template text
    rng: Callable[[Any], SourceRange]
    position: Callable[[int, int, int, int], SourceRange]
    expr: Callable[[Any], ast.Node]
    error: Callable[[str, str, Any], Exception]
    unescape: Callable[..., str]
    _trees: Callable[[list[Any]], list[Any]]
    # Offsets of the `~` of `${~ x ~}` in the parsed text (config/hcl.py sets them).
    interp_strips: frozenset[int] = frozenset()

    def string(self, tree: Any) -> ast.Node:
        flat: list[Any] = []
        for part in tree.children:
            if not hasattr(part, "data"):
                continue  # the quotes
            inner = part.children[0]
            if not hasattr(inner, "data"):
                ttype = inner.type
                text = str(inner)
                if "\n" in text:
                    self._multiline_string(inner, text)
                if ttype == "ESCAPED_INTERPOLATION":
                    flat.append(text[1:])
                elif ttype == "ESCAPED_DIRECTIVE":
                    flat.append(text[1:])
                else:
                    flat.append(self.unescape(text, inner))
                continue
            if inner.data == "interpolation":
                toks = [c for c in inner.children if not hasattr(c, "data")]
                # `${~ x ~}`: the grammar has no strip markers in interpolations, so the
                # parser was handed the text with those `~` blanked (lexscan), and
                # `interp_strips` holds where they were.
                sl = _offset(toks[0], 2) in self.interp_strips
                sr = _offset(toks[-1], -1) in self.interp_strips
                flat.append(("${", self.expr(self._trees(inner.children)[0]), sl, sr,
                             self.rng(inner)))
            else:
                flat.append(self._directive_from_tree(inner))
        # A quoted string's literal text between two template sequences is one token (a
        # strip marker trims all of it), whatever pieces the grammar split it into.
        return self._assemble(list(_merge(flat)), self.rng(tree))

    def _multiline_string(self, token: Any, text: str) -> None:
        """As HCL: the literal text of a quoted string may not hold a new line (one error
        at each, on the new line itself). A heredoc may, and so may the expression inside a
        `${ }` or `%{ }` of a quoted string (not the quoted strings within it, though)."""
        line, col = token.line, token.column
        start = 0
        while (nl := text.find("\n", start)) >= 0:
            # A CRLF new line starts at its CR.
            at = nl - 1 if nl > start and text[nl - 1] == "\r" else nl
            at_line = line + text.count("\n", 0, at)
            line_start = text.rfind("\n", 0, at) + 1
            at_col = (col if line_start == 0 else 1) + at - line_start
            self.diags.append(Diagnostic.error(
                "Invalid multi-line string",
                "Quoted strings may not be split over multiple lines. To produce a multi-line "
                "string, either use the \\n escape to represent a newline character or use the "
                '"heredoc" multi-line template syntax.',
                self.position(at_line, at_col, at_line + 1, 1)))
            start = nl + 1

    def _directive_from_tree(self, tree: Any) -> tuple[Any, ...]:
        kind = tree.data.replace("template_", "")
        toks = [c for c in tree.children if not hasattr(c, "data")]
        strip_left = len(toks) > 1 and toks[1].type == "STRIP_MARKER"
        strip_right = len(toks) > 1 and toks[-2].type == "STRIP_MARKER"
        rng = self.rng(tree)
        if kind == "if_start":
            cond = self.expr(self._trees(tree.children)[0])
            return ("if", cond, strip_left, strip_right, rng)
        if kind == "for_start":
            trees = self._trees(tree.children)
            names = [str(t.children[0]) for t in trees if t.data == "identifier"]
            coll = self.expr([t for t in trees if t.data != "identifier"][0])
            return ("for", names, coll, strip_left, strip_right, rng)
        return (kind, strip_left, strip_right, rng)

    def _assemble(self, flat: list[Any], rng: SourceRange, flush: bool = False
                  ) -> ast.Node:
        """Flat tokens (literal strings, `${ }` and directive tuples) -> nested Template
        parts, as HCL's template parser: strip markers first, each trimming the whitespace
        of the one literal token beside it (in a heredoc or template file a literal token
        ends at a new line, so `~` trims at most up to the line before); then, in a `<<-`
        heredoc (`flush`), the indentation, counted on what the strip markers left."""
        for i, p in enumerate(flat):
            if isinstance(p, tuple):
                sl, sr = p[-3], p[-2]
                if sl and i > 0 and isinstance(flat[i - 1], str):
                    flat[i - 1] = flat[i - 1].rstrip()
                if sr and i + 1 < len(flat) and isinstance(flat[i + 1], str):
                    flat[i + 1] = flat[i + 1].lstrip()
        if flush:
            _flush_heredoc(flat)
        pos = 0

        def parse_seq(stop: tuple[str, ...]) -> tuple[list[Any], Any]:
            nonlocal pos
            out: list[Any] = []
            while pos < len(flat):
                p = flat[pos]
                if isinstance(p, tuple):
                    kind = p[0]
                    if kind in stop:
                        return out, p
                    pos += 1
                    if kind == "${":
                        out.append(p[1])
                    elif kind == "if":
                        then_parts, end = parse_seq(("else", "endif"))
                        else_parts: list[Any] = []
                        if end is not None and end[0] == "else":
                            pos += 1
                            else_parts, end = parse_seq(("endif",))
                        if end is None or end[0] != "endif":
                            raise self.error("Unterminated template directive",
                                             "This %{if} has no matching %{endif}.", p[-1])
                        pos += 1
                        out.append(ast.TemplateIf(p[-1], p[1], _merge(then_parts),
                                                  _merge(else_parts)))
                    elif kind == "for":
                        body, end = parse_seq(("endfor",))
                        if end is None:
                            raise self.error("Unterminated template directive",
                                             "This %{for} has no matching %{endfor}.", p[-1])
                        pos += 1
                        names = p[1]
                        key_var, value_var = (names[0], names[1]) if len(names) == 2 else (
                            None, names[0])
                        out.append(ast.TemplateFor(p[-1], key_var, value_var, p[2],
                                                   _merge(body)))
                    else:
                        raise self.error("Unexpected template directive",
                                         f"This %{{{kind}}} has no matching opening "
                                         "directive.", p[-1])
                else:
                    out.append(p)
                    pos += 1
            return out, None

        parts, end = parse_seq(())
        merged = _merge(parts)
        if all(isinstance(p, str) for p in merged):
            return ast.Literal(rng, "".join(merged))
        return ast.Template(rng, merged)

    def heredoc(self, tree: Any) -> ast.Node:
        tok = tree.children[0]
        raw = str(tok)
        trim = raw.startswith("<<-")
        first_nl = raw.index("\n")
        lines = raw[first_nl + 1:].split("\n")
        # The last two items are the closing marker line and the empty tail after it.
        content_lines = lines[:-2] if len(lines) >= 2 else []
        content_lines = [ln[:-1] if ln.endswith("\r") else ln for ln in content_lines]
        text = "".join(ln + "\n" for ln in content_lines)
        r = self.rng(tok)
        node = self.template_from_text(text, r.start_line + 1, 1, flush=trim)
        if isinstance(node, ast.Literal):
            return ast.Literal(r, node.value)
        return ast.Template(r, node.parts)  # type: ignore[attr-defined]

    def template_from_text(self, text: str, line: int, col: int, flush: bool = False
                           ) -> ast.Node:
        """Scan template text (a heredoc's or a template file's) for ${...} and %{...} and
        parse the expressions inside. As HCL's scanner, literal text is cut into tokens at
        each new line (kept at the end of its line's token): strip markers and a `<<-`
        heredoc's indentation (`flush`) work on these tokens."""
        flat: list[Any] = []
        i = 0
        n = len(text)
        lit: list[str] = []
        while i < n:
            if text.startswith("$${", i) or text.startswith("%%{", i):
                lit.append(text[i + 1:i + 3])
                i += 3
                continue
            if text.startswith("${", i) or text.startswith("%{", i):
                end = _scan_expr_end(text, i + 2)
                where = text_position(text, i, line, col)
                if end < 0:
                    raise self.error("Unterminated template string",
                                     "No closing `}` for this interpolation or directive.",
                                     SourceRange(self.filename, *where))
                if lit:
                    flat.append("".join(lit))
                    lit = []
                inner = text[i + 2:end]
                if text[i] == "$":
                    sl, sr = inner.startswith("~"), inner.endswith("~") and len(inner) > 1
                    inner_text = inner[1:] if sl else inner
                    inner_text = inner_text[:-1] if sr else inner_text
                    offset = i + 2 + (1 if sl else 0)
                    flat.append(("${", self._sub_expr(inner_text, text, offset, line, col),
                                 sl, sr, SourceRange(self.filename, *where)))
                else:
                    flat.append(self._directive_from_text(inner, text, i, line, col))
                i = end + 1
                continue
            c = text[i]
            lit.append(c)
            i += 1
            if c == "\n":
                flat.append("".join(lit))
                lit = []
        if lit:
            flat.append("".join(lit))
        return self._assemble(flat, SourceRange(self.filename, line, col), flush)

    def _sub_expr(self, expr_text: str, text: str, offset: int, line: int, col: int
                  ) -> ast.Node:
        sline, scol = text_position(text, offset, line, col)
        body, diags = self.parse(f"__x = {expr_text}\n", self.filename, (sline, scol - 7))
        if diags or "__x" not in body.attributes:
            d = diags[0] if diags else None
            raise self.error("Invalid template expression",
                             d.detail if d else "Expected one expression.",
                             d.range if d and d.range else SourceRange(self.filename, sline,
                                                                       scol))
        return body.attributes["__x"].expr

    def _directive_from_text(self, inner: str, text: str, start: int, line: int, col: int
                             ) -> tuple[Any, ...]:
        rng = SourceRange(self.filename, *text_position(text, start, line, col))
        strip_left = inner.startswith("~")
        body = inner[1:] if strip_left else inner
        strip_right = body.rstrip().endswith("~")
        if strip_right:
            body = body.rstrip()[:-1]
        m = re.match(r"\s*(if|else|endif|for|endfor)\b(.*)$", body, re.S)
        if not m:
            raise self.error("Invalid template directive",
                             "Expected one of if, else, endif, for or endfor after `%{`.", rng)
        kind, rest = m.group(1), m.group(2)
        body_offset = start + 2 + (1 if strip_left else 0) + m.start(2)
        if kind == "if":
            return ("if", self._sub_expr(rest, text, body_offset, line, col), strip_left,
                    strip_right, rng)
        if kind == "for":
            fm = re.match(r"\s*([A-Za-z_][\w-]*)\s*(?:,\s*([A-Za-z_][\w-]*)\s*)?\bin\b(.*)$",
                          rest, re.S)
            if not fm:
                raise self.error("Invalid template directive",
                                 "Expected `%{ for NAME in EXPR }` or "
                                 "`%{ for KEY, VALUE in EXPR }`.", rng)
            names = [fm.group(1)] + ([fm.group(2)] if fm.group(2) else [])
            coll = self._sub_expr(fm.group(3), text, body_offset + fm.start(3), line, col)
            return ("for", names, coll, strip_left, strip_right, rng)
        if rest.strip():
            raise self.error("Invalid template directive",
                             f"Unexpected text after %{{{kind}}}.", rng)
        return (kind, strip_left, strip_right, rng)


def _offset(token: Any, delta: int) -> int:
    """The source offset `delta` characters from the start of a lark token (-1 when lark
    gave it no position)."""
    pos = getattr(token, "start_pos", None)
    return -1 if pos is None else pos + delta


def _flush_heredoc(flat: list[Any]) -> None:
    """A `<<-` heredoc's indentation removed, as HCL's flushHeredocTemplateParts: the
    fewest leading spaces of any line that starts with a literal token (a line that starts
    with `${ }` or `%{ }` counts as none; a line of only whitespace is not counted and
    keeps its spaces) removed from every line that starts with one. A line "starts" after
    a token ending in a new line, so a strip marker that ate a new line joins the next line
    to the one before."""
    fewest: int | None = None
    adjust: list[int] = []
    newline = True
    for i, p in enumerate(flat):
        if newline:
            newline = False
            if isinstance(p, str):
                trimmed = p.lstrip()
                if not trimmed and p.endswith("\n"):
                    spaces = None  # a blank line
                else:
                    spaces = len(p) - len(trimmed)
                    adjust.append(i)
            else:
                spaces = 0
            if spaces is not None and (fewest is None or spaces < fewest):
                fewest = spaces
        if isinstance(p, str) and p.endswith("\n"):
            newline = True
    if fewest:
        for i in adjust:
            flat[i] = flat[i][fewest:]


def _merge(parts: list[Any]) -> tuple[Any, ...]:
    out: list[Any] = []
    for p in parts:
        if isinstance(p, str):
            if not p:
                continue
            if out and isinstance(out[-1], str):
                out[-1] += p
                continue
        out.append(p)
    # HCL hands literal text over in Unicode normalization form C (its string literal
    # decoding does), so "e\u0301" == "é" and length() counts what is seen.
    return tuple(unicodedata.normalize("NFC", p) if isinstance(p, str) and not p.isascii()
                 else p for p in out)


def text_position(text: str, offset: int, line: int, col: int) -> tuple[int, int]:
    """Line and column of `offset` in `text`, which starts at (line, col)."""
    before = text[:offset]
    nl = before.count("\n")
    if nl == 0:
        return line, col + offset
    return line + nl, offset - before.rfind("\n")


def _skip_string(text: str, i: int) -> int:
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == '"':
            return i + 1
        if text.startswith("$${", i) or text.startswith("%%{", i):
            i += 3
            continue
        if text.startswith("${", i) or text.startswith("%{", i):
            j = _scan_expr_end(text, i + 2)
            if j < 0:
                return n
            i = j + 1
            continue
        if c == "\n":
            return i  # strings do not span lines; let the parser report it
        i += 1
    return n


def _scan_expr_end(text: str, i: int) -> int:
    """Index of the `}` closing an interpolation whose body starts at i, or -1."""
    depth = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == '"':
            i = _skip_string(text, i + 1)
            continue
        if c in "{([":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif c == "}":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    return -1


# ---------------------------------------------------------------------------------------------
# Decoding bodies into the model
# ---------------------------------------------------------------------------------------------
