"""The tokens ``terraform fmt`` works on, and a scanner that produces them.

A hand-written port of the hclsyntax scanner, just precise enough for formatting: the
token types carry hclsyntax's names so the rules in ``rewrite`` and ``layout`` read like
hclwrite's. It does not judge the syntax (the HCL front end does that before formatting);
it only refuses text it cannot cut into tokens.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from enum import Enum

__all__ = ["LexError", "Token", "lex"]


class LexError(Exception):
    """Text the scanner cannot cut into tokens, at a line."""

    def __init__(self, summary: str, line: int) -> None:
        super().__init__(summary)
        self.summary = summary
        self.line = line


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
OPENERS = {OBRACE, OBRACK, OPAREN, TEMPLATE_INTERP, TEMPLATE_CONTROL}
CLOSERS = {CBRACE, CBRACK, CPAREN, TEMPLATE_SEQ_END}
# Operators that cannot end an expression: a line ending in one continues on the next.
BINARY_OPS = {OR, AND, EQUAL_OP, NOT_EQUAL, LT, GT, LTE, GTE, PLUS, MINUS, STAR, SLASH, PERCENT}

_IDENT_RE = re.compile(r"[^\W\d][\w-]*")
_NUMBER_RE = re.compile(r"[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
# The front end also takes "." in a marker (`<<EOT.x`): take what it takes.
_HEREDOC_RE = re.compile(r"<<(-?)([^\W\d][\w.-]*)(\r?\n)")


@dataclass(slots=True)
class Token:
    """One lexical token; ``spaces`` is the whitespace written before it."""

    type: str
    text: str
    spaces: int = 0
    line: int = 0


class _Mode(Enum):
    """A lexer mode: the top level, an interpolation, a quoted string or a heredoc."""

    MAIN = "main"
    INTERP = "interp"
    QUOTED = "quoted"
    HEREDOC = "heredoc"


@dataclass(slots=True)
class _Frame:
    """One open construct on the lexer's stack, in its mode."""

    kind: _Mode
    depth: int = 0  # open "{" in main/interp modes, so "}" knows what it closes
    marker: str = ""  # heredoc end marker
    start_of_line: bool = True  # heredoc: could the next literal be the end marker?
    line: int = 0  # where the construct opened, for "unterminated" errors


class _Lexer:
    """The scanner: a stack of modes (top level, interpolation, quoted string, heredoc)."""

    def __init__(self, src: str) -> None:
        self.src = src
        self.tokens: list[Token] = []
        self.last_end = 0
        self._newlines = [m.start() for m in re.finditer("\n", src)]

    def line_at(self, offset: int) -> int:
        return bisect.bisect_left(self._newlines, offset) + 1

    def error(self, summary: str, offset: int, line: int = 0) -> LexError:
        return LexError(summary, line or self.line_at(offset))

    def emit(self, type_: str, start: int, end: int) -> None:
        # Like hclwrite, the gap since the previous token counts as that many spaces;
        # formatting overwrites it for every token except EOF.
        self.tokens.append(Token(type_, self.src[start:end], start - self.last_end,
                                 self.line_at(start)))
        self.last_end = end

    def run(self) -> list[Token]:
        n = len(self.src)
        stack = [_Frame(_Mode.MAIN)]
        i = 0
        while i < n:
            frame = stack[-1]
            if frame.kind is _Mode.QUOTED:
                i = self._quoted(i, stack)
            elif frame.kind is _Mode.HEREDOC:
                i = self._heredoc(i, stack)
            else:
                i = self._main(i, stack)
        frame = stack[-1]
        if frame.kind is _Mode.QUOTED:
            raise self.error("Unterminated template string", n, frame.line)
        if frame.kind is _Mode.HEREDOC:
            raise self.error(f"Unterminated heredoc: no closing marker {frame.marker!r}", n,
                             frame.line)
        if frame.kind is _Mode.INTERP:
            raise self.error("Unterminated template interpolation", n, frame.line)
        self.tokens.append(Token(EOF, "", n - self.last_end, self.line_at(n)))
        return self.tokens

    def _main(self, i: int, stack: list[_Frame]) -> int:
        src = self.src
        frame = stack[-1]
        c = src[i]
        if c in " \t" or (c == "\r" and not src.startswith("\r\n", i)):
            return i + 1  # the front end reads a lone carriage return as a space too
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
            stack.append(_Frame(_Mode.QUOTED, line=self.line_at(i)))
            return i + 1
        if src.startswith("<<", i):
            m = _HEREDOC_RE.match(src, i)
            if not m:
                raise self.error("Invalid heredoc introducer: expected <<MARKER and a newline",
                                 i)
            self.emit(OHEREDOC, i, m.end())
            stack.append(_Frame(_Mode.HEREDOC, marker=m.group(2), line=self.line_at(i)))
            return m.end()
        if c == "{":
            frame.depth += 1
            self.emit(OBRACE, i, i + 1)
            return i + 1
        if c == "}" or (src.startswith("~}", i) and frame.kind is _Mode.INTERP and frame.depth == 0):
            end = i + (1 if c == "}" else 2)
            if frame.kind is _Mode.INTERP and frame.depth == 0:
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
        raise self.error(f"Invalid character {c!r}", i)

    def _open_template(self, i: int, stack: list[_Frame]) -> int:
        """Emit ``${`` / ``%{`` (with an optional ``~`` strip marker) at ``i``."""
        end = i + 3 if self.src.startswith("~", i + 2) else i + 2
        self.emit(TEMPLATE_INTERP if self.src[i] == "$" else TEMPLATE_CONTROL, i, end)
        stack.append(_Frame(_Mode.INTERP, line=self.line_at(i)))
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
            if src[i:line_end].strip() == frame.marker:
                # The marker line (with its indentation) is one token, then its newline
                # (none when the file ends on the marker: the front end takes that too).
                body_end = line_end - 1 if src[line_end - 1] == "\r" else line_end
                self.emit(CHEREDOC, i, body_end)
                stack.pop()
                if nl < 0:
                    return n
                self.emit(NEWLINE, body_end, nl + 1)
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


def lex(src: str) -> list[Token]:
    """The tokens of ``src``, ending with an EOF token; LexError where it cannot be cut."""
    return _Lexer(src).run()
