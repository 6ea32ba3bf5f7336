"""hclwrite's format.go: indentation, spacing, and alignment of "=" and trailing comments.

Formatting only rewrites the whitespace *before* each token (``Token.spaces``), line by
line, so the output keeps the input's lines, blank-line runs, CRLF and comments' bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fgform.fmt.tokens import (
    AND,
    BANG,
    CBRACE,
    CHEREDOC,
    CLOSERS,
    COLON,
    COMMA,
    COMMENT,
    CQUOTE,
    DOT,
    DOUBLE_COLON,
    ELLIPSIS,
    EOF,
    EQUAL,
    EQUAL_OP,
    GT,
    GTE,
    IDENT,
    LT,
    LTE,
    MINUS,
    NEWLINE,
    NIL,
    NOT_EQUAL,
    NUMBER,
    OBRACE,
    OBRACK,
    OHEREDOC,
    OPAREN,
    OPENERS,
    OQUOTE,
    OR,
    PERCENT,
    PLUS,
    QUESTION,
    QUOTED_LIT,
    SLASH,
    STAR,
    STRING_LIT,
    TEMPLATE_CONTROL,
    TEMPLATE_INTERP,
    TEMPLATE_SEQ_END,
    Token,
)

__all__ = ["format_tokens"]


def _bracket_change(tok: Token) -> int:
    if tok.type in OPENERS:
        return 1
    if tok.type in CLOSERS:
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


def format_tokens(tokens: list[Token]) -> None:
    """Set every token's ``spaces`` (EOF's excepted) as hclwrite's format does."""
    lines = _lines_for_format(tokens)
    _format_indent(lines)
    _format_spaces(lines)
    _format_cells(lines)
