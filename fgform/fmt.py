"""Canonical formatting of configuration files, byte-identical to ``terraform fmt``.

Terraform formats with ``hclwrite``: it lexes the file into tokens, applies a few
syntax-tree rewrites (quoted block labels, unwrapping ``"${x}"`` to ``x``, modern type
constraints in ``variable`` blocks) and then only rewrites the whitespace *before* each
token. This module does the same with a small tokenizer of its own (the loader owns the
real parser), so the output matches the Terraform binary byte for byte, including its
quirks (kept blank-line runs, kept CRLF, no final newline added).
"""

from __future__ import annotations

import bisect
import difflib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from fgform.config.nesting import MAX_NESTING, make_room
from fgform.errors import FgformError, SourceRange

__all__ = ["FmtError", "FORMAT_SUFFIXES", "find_files", "format_file", "format_source"]

#: File name endings that ``fgform fmt`` formats (``terraform fmt`` knows the last two).
FORMAT_SUFFIXES = (".hcl", ".fgvars", ".tf", ".tfvars")


class FmtError(FgformError):
    """The input is not valid HCL native syntax, so it is left exactly as it was."""

    def __init__(self, summary: str, range: SourceRange, *, hint: str = "") -> None:
        super().__init__(f"{range.filename}:{range.start_line}: {summary}", hint=hint)
        self.summary = summary
        self.range = range


# Token types; the names are hclsyntax's, so the rules below read like hclwrite's.
NEWLINE = "Newline"
COMMENT = "Comment"
IDENT = "Ident"
NUMBER = "NumberLit"
OQUOTE = "OQuote"
CQUOTE = "CQuote"
QUOTED_LIT = "QuotedLit"
STRING_LIT = "StringLit"
OHEREDOC = "OHeredoc"
CHEREDOC = "CHeredoc"
TEMPLATE_INTERP = "TemplateInterp"
TEMPLATE_CONTROL = "TemplateControl"
TEMPLATE_SEQ_END = "TemplateSeqEnd"
OBRACE, CBRACE = "OBrace", "CBrace"
OBRACK, CBRACK = "OBrack", "CBrack"
OPAREN, CPAREN = "OParen", "CParen"
EQUAL = "Equal"
DOT = "Dot"
COMMA = "Comma"
COLON = "Colon"
QUESTION = "Question"
ELLIPSIS = "Ellipsis"
DOUBLE_COLON = "DoubleColon"
FAT_ARROW = "FatArrow"
PLUS, MINUS, STAR, SLASH, PERCENT = "Plus", "Minus", "Star", "Slash", "Percent"
EQUAL_OP, NOT_EQUAL = "EqualOp", "NotEqual"
LT, LTE, GT, GTE = "LessThan", "LessThanEq", "GreaterThan", "GreaterThanEq"
AND, OR, BANG = "And", "Or", "Bang"
EOF = "EOF"
NIL = "Nil"

# Longest operators first, so "==" is never read as "=" "=".
_OPERATORS: tuple[tuple[str, str], ...] = (
    ("...", ELLIPSIS),
    ("==", EQUAL_OP), ("!=", NOT_EQUAL), ("<=", LTE), (">=", GTE), ("&&", AND), ("||", OR),
    ("=>", FAT_ARROW), ("::", DOUBLE_COLON),
    ("+", PLUS), ("-", MINUS), ("*", STAR), ("/", SLASH), ("%", PERCENT), ("<", LT),
    (">", GT), ("!", BANG), ("?", QUESTION), (":", COLON), ("=", EQUAL), (".", DOT),
    (",", COMMA), ("[", OBRACK), ("]", CBRACK), ("(", OPAREN), (")", CPAREN),
)
_OPENERS = {OBRACE: CBRACE, OBRACK: CBRACK, OPAREN: CPAREN,
            TEMPLATE_INTERP: TEMPLATE_SEQ_END, TEMPLATE_CONTROL: TEMPLATE_SEQ_END}
_CLOSERS = {CBRACE, CBRACK, CPAREN, TEMPLATE_SEQ_END}
_CLOSER_TEXT = {CBRACE: "}", CBRACK: "]", CPAREN: ")", TEMPLATE_SEQ_END: "}"}
_BINARY_OPS = {OR, AND, EQUAL_OP, NOT_EQUAL, LT, GT, LTE, GTE, PLUS, MINUS, STAR, SLASH, PERCENT}

_IDENT_RE = re.compile(r"[^\W\d][\w-]*")
_NUMBER_RE = re.compile(r"[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_HEREDOC_RE = re.compile(r"<<(-?)([^\W\d][\w-]*)(\r?\n)")


@dataclass(slots=True)
class Token:
    """One lexical token; ``spaces`` is the whitespace written before it."""

    type: str
    text: str
    spaces: int = 0
    line: int = 0


@dataclass(slots=True)
class _Frame:
    """A lexer mode: the top level, an interpolation, a quoted string or a heredoc."""

    kind: str
    depth: int = 0  # open "{" in main/interp modes, so "}" knows what it closes
    marker: str = ""  # heredoc end marker
    start_of_line: bool = True  # heredoc: could the next literal be the end marker?
    line: int = 0  # where the construct opened, for "unterminated" errors


class _Lexer:
    """A hand-written port of the hclsyntax scanner, just precise enough for formatting."""

    def __init__(self, src: str, filename: str) -> None:
        self.src = src
        self.filename = filename
        self.tokens: list[Token] = []
        self.last_end = 0
        self._newlines = [m.start() for m in re.finditer("\n", src)]

    def line_at(self, offset: int) -> int:
        return bisect.bisect_left(self._newlines, offset) + 1

    def error(self, summary: str, offset: int, line: int = 0) -> FmtError:
        return FmtError(summary, SourceRange(self.filename, line or self.line_at(offset)))

    def emit(self, type_: str, start: int, end: int) -> None:
        # Like hclwrite, the gap since the previous token counts as that many spaces;
        # formatting overwrites it for every token except EOF.
        self.tokens.append(Token(type_, self.src[start:end], start - self.last_end,
                                 self.line_at(start)))
        self.last_end = end

    def run(self) -> list[Token]:
        n = len(self.src)
        stack = [_Frame("main")]
        i = 0
        while i < n:
            frame = stack[-1]
            if frame.kind == "quoted":
                i = self._quoted(i, stack)
            elif frame.kind == "heredoc":
                i = self._heredoc(i, stack)
            else:
                i = self._main(i, stack)
        frame = stack[-1]
        if frame.kind == "quoted":
            raise self.error("Unterminated template string", n, frame.line)
        if frame.kind == "heredoc":
            raise self.error(f"Unterminated heredoc: no closing marker {frame.marker!r}", n,
                             frame.line)
        if frame.kind == "interp":
            raise self.error("Unterminated template interpolation", n, frame.line)
        self.tokens.append(Token(EOF, "", n - self.last_end, self.line_at(n)))
        return self.tokens

    def _main(self, i: int, stack: list[_Frame]) -> int:
        src = self.src
        frame = stack[-1]
        c = src[i]
        if c in " \t":
            return i + 1
        if c == "\n" or src.startswith("\r\n", i):
            end = i + (1 if c == "\n" else 2)
            self.emit(NEWLINE, i, end)
            return end
        if c == "#" or src.startswith("//", i):
            # Single-line comments own their newline, as in hclsyntax.
            nl = src.find("\n", i)
            end = len(src) if nl < 0 else nl + 1
            self.emit(COMMENT, i, end)
            return end
        if src.startswith("/*", i):
            close = src.find("*/", i + 2)
            if close < 0:
                raise self.error("Unterminated block comment", i)
            self.emit(COMMENT, i, close + 2)
            return close + 2
        if c == '"':
            self.emit(OQUOTE, i, i + 1)
            stack.append(_Frame("quoted", line=self.line_at(i)))
            return i + 1
        if src.startswith("<<", i):
            m = _HEREDOC_RE.match(src, i)
            if not m:
                raise self.error("Invalid heredoc introducer: expected <<MARKER and a newline",
                                 i)
            self.emit(OHEREDOC, i, m.end())
            stack.append(_Frame("heredoc", marker=m.group(2), line=self.line_at(i)))
            return m.end()
        if c == "{":
            frame.depth += 1
            self.emit(OBRACE, i, i + 1)
            return i + 1
        if c == "}" or (src.startswith("~}", i) and frame.kind == "interp" and frame.depth == 0):
            end = i + (1 if c == "}" else 2)
            if frame.kind == "interp" and frame.depth == 0:
                self.emit(TEMPLATE_SEQ_END, i, end)
                stack.pop()
            else:
                frame.depth = max(frame.depth - 1, 0)
                self.emit(CBRACE, i, end)
            return end
        m = _IDENT_RE.match(src, i)
        if m:
            self.emit(IDENT, i, m.end())
            return m.end()
        m = _NUMBER_RE.match(src, i)
        if m:
            self.emit(NUMBER, i, m.end())
            return m.end()
        for text, type_ in _OPERATORS:
            if src.startswith(text, i):
                self.emit(type_, i, i + len(text))
                return i + len(text)
        if c == "\r":
            raise self.error("Invalid character: a carriage return must be followed by a newline",
                             i)
        raise self.error(f"Invalid character {c!r}", i)

    def _open_template(self, i: int, stack: list[_Frame]) -> int:
        """Emit ``${`` / ``%{`` (with an optional ``~`` strip marker) at ``i``."""
        end = i + 3 if self.src.startswith("~", i + 2) else i + 2
        self.emit(TEMPLATE_INTERP if self.src[i] == "$" else TEMPLATE_CONTROL, i, end)
        stack.append(_Frame("interp", line=self.line_at(i)))
        return end

    def _quoted(self, i: int, stack: list[_Frame]) -> int:
        src, n = self.src, len(self.src)
        c = src[i]
        if c == '"':
            self.emit(CQUOTE, i, i + 1)
            stack.pop()
            return i + 1
        if src.startswith("${", i) or src.startswith("%{", i):
            return self._open_template(i, stack)
        if c == "\n" or src.startswith("\r\n", i):
            raise self.error("Unterminated template string: a quoted string cannot span lines",
                             i, stack[-1].line)
        j = i
        while j < n:
            if src[j] == "\\":
                j += 2
            elif src.startswith("$${", j) or src.startswith("%%{", j):
                j += 3
            elif src[j] in '"\n' or src.startswith("${", j) or src.startswith("%{", j) \
                    or src.startswith("\r\n", j):
                break
            else:
                j += 1
        j = min(j, n)
        self.emit(QUOTED_LIT, i, j)
        return j

    def _heredoc(self, i: int, stack: list[_Frame]) -> int:
        src, n = self.src, len(self.src)
        frame = stack[-1]
        if frame.start_of_line:
            nl = src.find("\n", i)
            line_end = n if nl < 0 else nl
            if nl >= 0 and src[i:line_end].strip() == frame.marker:
                # The marker line (with its indentation) is one token, then its newline.
                body_end = line_end - 1 if src[line_end - 1] == "\r" else line_end
                self.emit(CHEREDOC, i, body_end)
                self.emit(NEWLINE, body_end, nl + 1)
                stack.pop()
                return nl + 1
        j = i
        while j < n:
            if src.startswith("$${", j) or src.startswith("%%{", j):
                j += 3
            elif src.startswith("${", j) or src.startswith("%{", j):
                break
            elif src[j] == "\n":
                j += 1
                break
            else:
                j += 1
        if j > i:
            self.emit(STRING_LIT, i, j)
        frame.start_of_line = src[j - 1] == "\n" if j > i else False
        if j < n and (src.startswith("${", j) or src.startswith("%{", j)) \
                and not frame.start_of_line:
            return self._open_template(j, stack)
        return j


def _lex(src: str, filename: str) -> list[Token]:
    return _Lexer(src, filename).run()


# ---------------------------------------------------------------------------------------
# Structure: find block labels and attribute expressions, and reject invalid syntax.
# ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Attr:
    name: str
    start: int  # first expression token
    end: int  # one past the last expression token
    blocks: tuple[str, ...]  # enclosing block types, outermost first


@dataclass(slots=True)
class _Block:
    labels_start: int  # first token after the block type
    labels_end: int  # index of the "{"
    labels: list[str]


@dataclass
class _Structure:
    attrs: list[_Attr] = field(default_factory=list)
    blocks: list[_Block] = field(default_factory=list)


def _is_line_end(tok: Token) -> bool:
    return tok.type == NEWLINE or tok.type == EOF or (
        tok.type == COMMENT and tok.text.endswith("\n"))


class _Parser:
    """Walks the body/block/attribute structure; expressions are bracket-checked only."""

    def __init__(self, tokens: list[Token], filename: str) -> None:
        self.toks = tokens
        self.filename = filename
        self.out = _Structure()
        self.nl = True  # are newlines significant where the parser is?
        self.opens: list[Token] = []  # open brackets, to name the unclosed one at EOF

    def error(self, summary: str, tok: Token) -> FmtError:
        return FmtError(summary, SourceRange(self.filename, tok.line))

    def skip_block_comments(self, i: int) -> int:
        while self.toks[i].type == COMMENT and not self.toks[i].text.endswith("\n"):
            i += 1
        return i

    def body(self, i: int, path: tuple[str, ...], opener: Token | None) -> int:
        toks = self.toks
        while True:
            tok = toks[i]
            if tok.type in (NEWLINE, COMMENT):
                i += 1
                continue
            if tok.type == EOF:
                if opener is not None:
                    raise self.error("Unclosed block: this '{' has no matching '}'", opener)
                return i
            if tok.type == CBRACE:
                if opener is None:
                    raise self.error("Unexpected '}': no block is open here", tok)
                return i
            if tok.type != IDENT:
                raise self.error("Argument or block definition required", tok)
            j = self.skip_block_comments(i + 1)
            if toks[j].type == EQUAL:
                i = self.attribute(i, j, path)
                if toks[i].type == CBRACE:
                    raise self.error("Missing newline after argument", toks[i])
                i = self.line_end(i, "argument")
            else:
                i = self.block(i, j, path)

    def line_end(self, i: int, what: str) -> int:
        i = self.skip_block_comments(i)
        tok = self.toks[i]
        if not _is_line_end(tok):
            raise self.error(f"Missing newline after {what}", tok)
        return i if tok.type == EOF else i + 1

    def attribute(self, name_i: int, eq_i: int, path: tuple[str, ...]) -> int:
        """Record one ``name = expr``; returns the index of the token that ends it."""
        self.nl = True
        first = self.peek(eq_i + 1)
        end = self.expr(first)
        self.out.attrs.append(_Attr(self.toks[name_i].text, first, end, path))
        return self.peek(end)

    # -- expressions: a recursive-descent validator for hclsyntax's expression grammar.
    # Newlines end an expression at top level and separate object items, but are
    # insignificant inside (), [] and template interpolations; "nl" tracks which applies.

    def peek(self, i: int) -> int:
        """Index of the next token the grammar sees: comments (and, where newlines do
        not matter, newlines) are skipped; a line comment counts as a newline."""
        toks = self.toks
        while True:
            tok = toks[i]
            if tok.type == COMMENT and not (self.nl and tok.text.endswith("\n")):
                i += 1
            elif tok.type == NEWLINE and not self.nl:
                i += 1
            else:
                if tok.type == EOF and self.opens:
                    opener = self.opens[-1]
                    raise self.error(f"Unclosed '{opener.text}': nothing closes it before the "
                                     "end of the file", opener)
                return i

    def expect(self, i: int, type_: str, what: str) -> int:
        j = self.peek(i)
        if self.toks[j].type != type_:
            raise self.error(f"Invalid expression: expected {what}", self.toks[j])
        return j + 1

    def nested(self, nl: bool, fn: Callable[[int], int], i: int, opener: bool = False) -> int:
        """Run ``fn`` with newlines (in)significant; ``opener``: toks[i-1] opened a bracket."""
        saved, self.nl = self.nl, nl
        if opener:
            self.opens.append(self.toks[i - 1])
            if len(self.opens) > MAX_NESTING:
                self.opens.pop()
                raise self.error("Expressions are nested too deeply to format (more than "
                                 f"{MAX_NESTING:,} levels)", self.toks[i - 1])
        try:
            return fn(i)
        finally:
            self.nl = saved
            if opener:
                self.opens.pop()

    def expr(self, i: int) -> int:
        i = self.binary(i)
        j = self.peek(i)
        if self.toks[j].type == QUESTION:
            i = self.expr(j + 1)
            i = self.expect(i, COLON, "':' in the conditional expression")
            i = self.expr(i)
        return i

    def binary(self, i: int) -> int:
        i = self.unary(i)
        while True:
            j = self.peek(i)
            if self.toks[j].type not in _BINARY_OPS:
                return i
            i = self.unary(j + 1)

    def unary(self, i: int) -> int:
        j = self.peek(i)
        if self.toks[j].type in (MINUS, BANG):
            return self.unary(j + 1)
        return self.postfix(self.primary(j))

    def postfix(self, i: int) -> int:
        toks = self.toks
        while True:
            j = self.peek(i)
            if toks[j].type == DOT:
                k = self.peek(j + 1)
                if toks[k].type not in (IDENT, NUMBER, STAR):
                    raise self.error("Invalid attribute name after '.'", toks[k])
                i = k + 1
            elif toks[j].type == OBRACK:
                i = self.nested(False, self.index, j + 1, True)
            else:
                return i

    def index(self, i: int) -> int:
        j = self.peek(i)
        if self.toks[j].type == STAR:
            return self.expect(j + 1, CBRACK, "']' after the splat '*'")
        return self.expect(self.expr(j), CBRACK, "']' to close the index")

    def primary(self, j: int) -> int:
        toks = self.toks
        tok = toks[j]
        if tok.type == NUMBER:
            return j + 1
        if tok.type == IDENT:
            k = self.peek(j + 1)
            while toks[k].type == DOUBLE_COLON:  # provider::NAME::function
                k = self.expect(k + 1, IDENT, "a name after '::'")
                k = self.peek(k)
                if toks[k].type != DOUBLE_COLON and toks[k].type != OPAREN:
                    raise self.error("Invalid function name: expected '('", toks[k])
            if toks[k].type == OPAREN:
                return self.nested(False, self.call_args, k + 1, True)
            return j + 1
        if tok.type in (OQUOTE, OHEREDOC):
            return self.template(j + 1, CQUOTE if tok.type == OQUOTE else CHEREDOC)
        if tok.type == OPAREN:
            return self.nested(False, lambda i: self.expect(self.expr(i), CPAREN, "')'"),
                               j + 1, True)
        if tok.type == OBRACK:
            return self.nested(False, self.tuple, j + 1, True)
        if tok.type == OBRACE:
            return self.nested(True, self.object, j + 1, True)
        if tok.type in (NEWLINE, COMMENT, EOF):
            raise self.error("Invalid expression: expected a value before the end of the line",
                             tok)
        raise self.error(f"Invalid expression: unexpected {tok.text!r}", tok)

    def call_args(self, i: int) -> int:
        toks = self.toks
        while True:
            j = self.peek(i)
            if toks[j].type == CPAREN:
                return j + 1
            j = self.peek(self.expr(j))
            if toks[j].type == ELLIPSIS:
                return self.expect(j + 1, CPAREN, "')' after '...'")
            if toks[j].type == CPAREN:
                return j + 1
            if toks[j].type != COMMA:
                raise self.error("Missing ',' or ')' in the function call", toks[j])
            i = j + 1

    def tuple(self, i: int) -> int:
        toks = self.toks
        j = self.peek(i)
        if toks[j].type == IDENT and toks[j].text == "for":
            return self.for_expr(j + 1, CBRACK)
        while True:
            j = self.peek(i)
            if toks[j].type == CBRACK:
                return j + 1
            j = self.peek(self.expr(j))
            if toks[j].type == CBRACK:
                return j + 1
            if toks[j].type != COMMA:
                raise self.error("Missing ',' or ']' in the list", toks[j])
            i = j + 1

    def object(self, i: int) -> int:
        toks = self.toks
        j = self.nested(False, self.peek, i)
        if toks[j].type == IDENT and toks[j].text == "for":
            return self.nested(False, lambda k: self.for_expr(k, CBRACE), j + 1)
        while True:
            j = self.nested(False, self.peek, i)  # newlines before an item separate nothing
            if toks[j].type == CBRACE:
                return j + 1
            j = self.peek(self.expr(j))
            if toks[j].type not in (EQUAL, COLON):
                raise self.error("Missing '=' or ':' after the object key", toks[j])
            j = self.peek(self.expr(j + 1))
            if toks[j].type == CBRACE:
                return j + 1
            if toks[j].type not in (COMMA, NEWLINE, COMMENT):
                raise self.error("Missing ',' or a newline between object attributes", toks[j])
            i = j + 1

    def for_expr(self, i: int, closer: str) -> int:
        toks = self.toks
        i = self.expect(i, IDENT, "a variable name after 'for'")
        j = self.peek(i)
        if toks[j].type == COMMA:
            i = self.expect(j + 1, IDENT, "a second variable name")
        j = self.peek(i)
        if toks[j].type != IDENT or toks[j].text != "in":
            raise self.error("Invalid 'for' expression: expected 'in'", toks[j])
        i = self.expect(self.expr(j + 1), COLON, "':' in the 'for' expression")
        i = self.expr(i)
        j = self.peek(i)
        if closer == CBRACE:
            if toks[j].type != FAT_ARROW:
                raise self.error("Invalid 'for' expression: expected '=>' building an object",
                                 toks[j])
            j = self.peek(self.expr(j + 1))
            if toks[j].type == ELLIPSIS:
                j = self.peek(j + 1)
        elif toks[j].type in (FAT_ARROW, ELLIPSIS):
            raise self.error("Invalid 'for' expression: '=>' and '...' build objects, not lists",
                             toks[j])
        if toks[j].type == IDENT and toks[j].text == "if":
            j = self.peek(self.expr(j + 1))
        if toks[j].type != closer:
            raise self.error(f"Invalid 'for' expression: expected '{_CLOSER_TEXT[closer]}'",
                             toks[j])
        return j + 1

    def template(self, i: int, closer: str) -> int:
        toks = self.toks
        while True:
            tok = toks[i]
            if tok.type == closer:
                return i + 1
            if tok.type == TEMPLATE_INTERP:
                i = self.nested(False, self.expr, i + 1, True)
                i = self.nested(False, lambda k: self.expect(k, TEMPLATE_SEQ_END, "'}'"), i)
            elif tok.type == TEMPLATE_CONTROL:
                # %{ if/for/else/endif/endfor } directives: balanced, not parsed further.
                depth = 1
                i += 1
                while depth:
                    if toks[i].type == EOF:
                        raise self.error("Unterminated template directive", tok)
                    depth += _OPENERS.get(toks[i].type) == TEMPLATE_SEQ_END
                    depth -= toks[i].type == TEMPLATE_SEQ_END
                    i += 1
            elif tok.type in (QUOTED_LIT, STRING_LIT):
                i += 1
            else:
                raise self.error(f"Invalid template: unexpected {tok.text!r}", tok)

    def block(self, type_i: int, i: int, path: tuple[str, ...]) -> int:
        toks = self.toks
        labels: list[str] = []
        while toks[i].type != OBRACE:
            tok = toks[i]
            if tok.type == IDENT:
                labels.append(tok.text)
                i += 1
            elif tok.type == OQUOTE:
                i += 1
                text = ""
                single = True
                if toks[i].type == QUOTED_LIT:
                    text = _unescape(toks[i].text)
                    single = _is_single_scanner_literal(toks[i].text)
                    i += 1
                if toks[i].type != CQUOTE:
                    raise self.error("Invalid block label: templates are not allowed in labels",
                                     toks[i])
                if single:
                    # hclwrite's Labels() skips a label the scanner split into several
                    # literal tokens (any "$" or "%"), so terraform fmt drops it: match that.
                    labels.append(text)
                i += 1
            elif tok.type == COMMENT and not tok.text.endswith("\n"):
                i += 1
            elif tok.type == EQUAL:
                raise self.error("Argument or block definition required", tok)
            else:
                raise self.error(
                    f"Invalid block definition: expected a label or '{{' after "
                    f"{toks[type_i].text!r}", tok)
        self.out.blocks.append(_Block(type_i + 1, i, labels))
        opener = toks[i]
        inner = (*path, toks[type_i].text)
        i += 1
        j = self.skip_block_comments(i)
        if _is_line_end(toks[j]):
            i = self.body(i, inner, opener)
        elif toks[j].type != CBRACE:
            # A single-line block holds at most one argument and no nested block.
            k = self.skip_block_comments(j + 1)
            if toks[j].type != IDENT or toks[k].type != EQUAL:
                raise self.error(
                    "Invalid single-line block: it can contain only a single argument", toks[j])
            i = self.skip_block_comments(self.attribute(j, k, inner))
            if toks[i].type != CBRACE:
                raise self.error(
                    "Invalid single-line block: it must end with '}' after its argument",
                    toks[i])
        else:
            i = j
        return self.line_end(i + 1, "block definition")


def _is_single_scanner_literal(lit: str) -> bool:
    """Would hclsyntax scan this quoted literal as one token? It splits at "$" and "%"."""
    if "$" not in lit and "%" not in lit:
        return True
    return lit in ("$", "%", "$${", "$${~", "%%{", "%%{~")


_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


def _unescape(lit: str) -> str:
    """Decode a quoted-string literal the way hclsyntax does."""
    out: list[str] = []
    i = 0
    while i < len(lit):
        c = lit[i]
        if c == "\\" and i + 1 < len(lit):
            e = lit[i + 1]
            if e in _ESCAPES:
                out.append(_ESCAPES[e])
                i += 2
                continue
            width = {"u": 4, "U": 8}.get(e, 0)
            digits = lit[i + 2:i + 2 + width]
            if width and len(digits) == width and all(d in "0123456789abcdefABCDEF"
                                                      for d in digits):
                out.append(chr(int(digits, 16)))
                i += 2 + width
                continue
        if lit.startswith("$${", i) or lit.startswith("%%{", i):
            out.append(c + "{")
            i += 3
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _escape(value: str) -> str:
    """Encode a string as hclwrite's TokensForValue does for a quoted label."""
    out: list[str] = []
    for i, ch in enumerate(value):
        if ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch in "$%":
            out.append(ch * 2 if value[i + 1:i + 2] == "{" else ch)
        elif not ch.isprintable():
            out.append(f"\\u{ord(ch):04x}" if ord(ch) < 0x10000 else f"\\U{ord(ch):08x}")
        else:
            out.append(ch)
    return "".join(out)


# ---------------------------------------------------------------------------------------
# The rewrites terraform's fmt command makes on top of hclwrite (command/fmt.go).
# ---------------------------------------------------------------------------------------


def _label_tokens(labels: list[str]) -> list[Token]:
    out: list[Token] = []
    for label in labels:
        out.append(Token(OQUOTE, '"'))
        if label:
            out.append(Token(QUOTED_LIT, _escape(label)))
        out.append(Token(CQUOTE, '"'))
    return out


def _format_value_expr(tokens: list[Token]) -> list[Token]:
    """Unwrap ``"${expr}"`` to ``expr`` when the string is nothing but one interpolation."""
    if len(tokens) < 5:
        return tokens
    if (tokens[0].type, tokens[1].type, tokens[-2].type, tokens[-1].type) != (
            OQUOTE, TEMPLATE_INTERP, TEMPLATE_SEQ_END, CQUOTE):
        return tokens
    inside = tokens[2:-2]
    quotes = 0
    for tok in inside:
        if tok.type == OQUOTE:
            quotes += 1
            continue
        if tok.type == CQUOTE:
            quotes -= 1
            continue
        if quotes > 0:
            continue  # interpolations inside nested strings are part of the expression
        if tok.type in (TEMPLATE_INTERP, TEMPLATE_SEQ_END, QUOTED_LIT):
            return tokens  # "${a}${b}" or "x${a}": a real template, keep it
    start, end = 0, len(inside)
    while start < end and inside[start].type == NEWLINE:
        start += 1
    while end > start and inside[end - 1].type == NEWLINE:
        end -= 1
    trimmed = inside[start:end]
    # A multi-line expression (e.g. a conditional) only parses unquoted inside parens.
    multi_line = any(t.type == NEWLINE for t in trimmed)
    parens = bool(trimmed) and trimmed[0].type == OPAREN and trimmed[-1].type == CPAREN
    if multi_line and not parens:
        return [Token(OPAREN, "("), *trimmed, Token(CPAREN, ")")]
    return trimmed


def _format_type_expr(tokens: list[Token]) -> list[Token]:
    """Modernise ``type`` in a variable block: ``list`` -> ``list(any)``, ``"string"``..."""
    def call(name: str, arg: str) -> list[Token]:
        return [Token(IDENT, name), Token(OPAREN, "("), Token(IDENT, arg), Token(CPAREN, ")")]

    if len(tokens) == 1 and tokens[0].type == IDENT and tokens[0].text in ("list", "map", "set"):
        return call(tokens[0].text, "any")
    if len(tokens) == 3 and [t.type for t in tokens] == [OQUOTE, QUOTED_LIT, CQUOTE]:
        legacy = tokens[1].text
        if legacy == "string":
            return [Token(IDENT, "string")]
        if legacy in ("list", "map"):
            return call(legacy, "string")
    return tokens


def _rewrite(tokens: list[Token], filename: str) -> list[Token]:
    structure = _Parser(tokens, filename)
    structure.body(0, (), None)
    edits: list[tuple[int, int, list[Token]]] = []
    for block in structure.out.blocks:
        # SetLabels(Labels()): bare labels get quoted, comments among labels vanish.
        edits.append((block.labels_start, block.labels_end, _label_tokens(block.labels)))
    for attr in structure.out.attrs:
        old = tokens[attr.start:attr.end]
        if attr.blocks == ("variable",) and attr.name == "type":
            new = _format_type_expr(old)
        else:
            new = _format_value_expr(old)
        if new is not old:
            edits.append((attr.start, attr.end, new))
    # One pass in source order: slice-assigning per edit would be quadratic on big files.
    out: list[Token] = []
    pos = 0
    for start, end, new in sorted(edits, key=lambda e: e[0]):
        out.extend(tokens[pos:start])
        out.extend(new)
        pos = end
    out.extend(tokens[pos:])
    return out


# ---------------------------------------------------------------------------------------
# hclwrite's format.go: indentation, spacing, and alignment of "=" and trailing comments.
# ---------------------------------------------------------------------------------------


def _bracket_change(tok: Token) -> int:
    if tok.type in (OBRACE, OBRACK, OPAREN, TEMPLATE_CONTROL, TEMPLATE_INTERP):
        return 1
    if tok.type in _CLOSERS:
        return -1
    return 0


def _is_newline(tok: Token) -> bool:
    return tok.type == NEWLINE or (tok.type == COMMENT and tok.text.endswith("\n"))


def _columns(tokens: list[Token]) -> int:
    return sum(t.spaces + len(t.text) for t in tokens)


@dataclass(slots=True)
class _Line:
    lead: list[Token]
    assign: list[Token] | None = None
    comment: list[Token] | None = None


_NIL = Token(NIL, "")
_NEGATION_CONTEXT = {
    NIL, OPAREN, OBRACE, OBRACK, EQUAL, COLON, COMMA, QUESTION, PLUS, STAR, SLASH, PERCENT,
    MINUS, EQUAL_OP, NOT_EQUAL, GT, GTE, LT, LTE, AND, OR, BANG,
}
_TEMPLATE_TEXT = {QUOTED_LIT, STRING_LIT}


def _space_after(subject: Token, before: Token, after: Token) -> bool:
    """hclwrite's spaceAfterToken, rule for rule and in the same order."""
    s, a = subject.type, after.type
    if a in (NEWLINE, NIL):
        return False
    if s == IDENT and a == OPAREN:
        return False  # a function call
    if (s == IDENT and a == DOUBLE_COLON) or (s == DOUBLE_COLON and a == IDENT):
        return False  # provider::name::func
    if s == DOT or a == DOT:
        return False
    if a in (COMMA, ELLIPSIS):
        return False
    if s == COMMA:
        return True
    if s in _TEMPLATE_TEXT or s in (OQUOTE, OHEREDOC) or a in _TEMPLATE_TEXT \
            or a in (CQUOTE, CHEREDOC):
        return False  # never touch the inside of a template
    if s == IDENT and subject.text == "in" and before.type == IDENT:
        return True  # "for x in [..]" rather than "in[..]"
    if a == OBRACK and (s in (IDENT, NUMBER) or _bracket_change(subject) < 0):
        return False  # an index
    if s == BANG:
        return False
    if s == MINUS:
        # Negation if what precedes cannot end an operand.
        return before.type not in _NEGATION_CONTEXT
    if s == OBRACE or a == CBRACE:
        return not (s == OBRACE and a == CBRACE)  # "{ a = 1 }" but "{}"
    if s in (TEMPLATE_INTERP, TEMPLATE_CONTROL) and a == OBRACE:
        return True
    if s == CBRACE and a == TEMPLATE_SEQ_END:
        return True
    if s == TEMPLATE_SEQ_END and a in (TEMPLATE_INTERP, TEMPLATE_CONTROL):
        return False
    if _bracket_change(subject) > 0:
        return False
    if _bracket_change(after) < 0:
        return False
    return True


def _lines_for_format(tokens: list[Token]) -> list[_Line]:
    lines: list[_Line] = []
    start = 0
    for i, tok in enumerate(tokens):
        if tok.type == EOF:
            lines.append(_Line(tokens[start:i]))
            start = -1
            break
        if _is_newline(tok):
            lines.append(_Line(tokens[start:i + 1]))
            start = i + 1
    if start >= 0:
        lines.append(_Line(tokens[start:]))
    for line in lines:
        lead = line.lead
        if not lead:
            continue
        if len(lead) > 1 and lead[-1].type == COMMENT:
            line.comment = lead[-1:]
            lead = line.lead = lead[:-1]
        for i, tok in enumerate(lead):
            if i > 0 and tok.type == EQUAL:
                # Only a complete single-line expression joins an alignment run.
                if sum(_bracket_change(t) for t in lead[i:]) == 0:
                    line.assign = lead[i:]
                    line.lead = lead[:i]
                break
    return lines


def _format_indent(lines: list[_Line]) -> None:
    indents: list[int] = []
    for line in lines:
        if not line.lead:
            continue
        if line.lead[0].type == NEWLINE:
            line.lead[0].spaces = 0
            continue
        net = 0
        for tok in line.lead:
            net += _bracket_change(tok)
            if tok.type == OHEREDOC:
                break
        for tok in line.assign or ():
            net += _bracket_change(tok)
        if net > 0:
            line.lead[0].spaces = 2 * len(indents)
            indents.append(net)
            continue
        closed = -net
        while closed > 0 and indents:
            if closed > indents[-1]:
                closed -= indents.pop()
            elif closed < indents[-1]:
                indents[-1] -= closed
                closed = 0
            else:
                indents.pop()
                closed = 0
        line.lead[0].spaces = 2 * len(indents)


def _format_spaces(lines: list[_Line]) -> None:
    for line in lines:
        for cell, is_assign in ((line.lead, False), (line.assign, True)):
            if not cell:
                continue
            if is_assign:
                cell[0].spaces = 1
            for i in range(len(cell) - 1):
                before = cell[i - 1] if i > 0 else _NIL
                cell[i + 1].spaces = 1 if _space_after(cell[i], before, cell[i + 1]) else 0


def _format_cells(lines: list[_Line]) -> None:
    """Align "=" across runs of consecutive single-line attributes, then trailing comments.

    Any line without the cell (blank, comment-only, block header, multi-line value)
    ends the run, exactly as hclwrite's formatCells does.
    """
    def align(cell: Callable[[_Line], list[Token] | None],
              width: Callable[[_Line], int]) -> None:
        chain: list[_Line] = []
        for line in [*lines, None]:
            if line is not None and cell(line) is not None:
                chain.append(line)
                continue
            if chain:
                widest = max(width(c) for c in chain)
                for chained in chain:
                    cell(chained)[0].spaces = widest - width(chained) + 1  # type: ignore[index]
                chain = []

    align(lambda ln: ln.assign, lambda ln: _columns(ln.lead))
    align(lambda ln: ln.comment, lambda ln: _columns(ln.lead) + _columns(ln.assign or []))


def _format_tokens(tokens: list[Token]) -> None:
    lines = _lines_for_format(tokens)
    _format_indent(lines)
    _format_spaces(lines)
    _format_cells(lines)


# ---------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------


def format_source(text: str, filename: str = "<input>") -> str:
    """Return ``text`` formatted exactly as ``terraform fmt`` would write the file.

    Raises FmtError (with ``filename:line``) when the text is not valid HCL syntax;
    like Terraform, nothing is formatted then.
    """
    # The expression walk recurses once per bracket: follow what validate accepts.
    make_room()
    try:
        tokens = _rewrite(_lex(text, filename), filename)
    except RecursionError:
        # Thousands of nested brackets: refuse clearly rather than crash with a traceback.
        raise FmtError("Expressions are nested too deeply to format",
                       SourceRange(filename, 1)) from None
    _format_tokens(tokens)
    return "".join(" " * t.spaces + t.text for t in tokens)


def format_file(path: str | Path, check: bool = False,
                diff: bool = False) -> tuple[bool, str, str]:
    """Format one file; returns ``(changed, new_text, unified_diff)``.

    The file is rewritten only when it changed and ``check`` is false. The diff is
    computed only when ``diff`` is true (otherwise it is ``""``).
    """
    path = Path(path)
    raw = path.read_bytes()
    try:
        # newline="" semantics: CRLF must survive so the output can keep it, as terraform does.
        old = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise FmtError("Invalid character encoding: the file is not UTF-8",
                       SourceRange(str(path), line)) from None
    new = format_source(old, str(path))
    changed = new != old
    patch = ""
    if diff and changed:
        patch = "".join(difflib.unified_diff(
            old.splitlines(keepends=True), new.splitlines(keepends=True),
            fromfile=f"old/{path.name}", tofile=f"new/{path.name}"))
    if changed and not check:
        _write_back(path, new.encode("utf-8"))
    return changed, new, patch


def _write_back(path: Path, data: bytes) -> None:
    """Replace `path` with `data` atomically, keeping its mode; never through a symlink.

    A linked configuration file may point out of the configuration directory (or at
    someone else's file): fmt reports it instead of writing through the link or replacing
    the link with a copy.
    """
    from fgform.safefile import refuse_symlink, replace_file

    refuse_symlink(path, "the formatted file")
    replace_file(path, data, mode=os.stat(path).st_mode & 0o7777)


def find_files(dir: str | Path, recursive: bool = False) -> list[Path]:
    """List the configuration files under ``dir`` that fmt handles, sorted by path.

    ``dir`` may also be a single file, which is returned as is. Hidden directories
    (``.terraform``, ``.git``...) are never descended into: they hold tool state.
    """
    root = Path(dir)
    if root.is_file():
        return [root]
    found: list[Path] = []
    for entry in sorted(root.iterdir()):
        if entry.is_dir():
            if recursive and not entry.name.startswith("."):
                found.extend(find_files(entry, recursive=True))
        elif entry.name.endswith(FORMAT_SUFFIXES) and entry.is_file():
            found.append(entry)
    return found
