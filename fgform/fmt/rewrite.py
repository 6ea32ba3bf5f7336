"""The syntax-tree rewrites ``terraform fmt`` makes on top of hclwrite (command/fmt.go).

Block labels get quoted, ``"${expr}"`` is unwrapped to ``expr``, and legacy type
constraints in ``variable`` blocks are modernised. Finding the labels and the attribute
values needs only the body structure, read here from the tokens; the text has already
passed the HCL front end, so this walk judges nothing: whatever it does not recognise is
left as written.
"""

from __future__ import annotations

from dataclasses import dataclass

from fgform.fmt.tokens import (
    BINARY_OPS,
    CBRACE,
    CHEREDOC,
    CLOSERS,
    COLON,
    COMMENT,
    CPAREN,
    CQUOTE,
    EOF,
    EQUAL,
    IDENT,
    NEWLINE,
    OBRACE,
    OHEREDOC,
    OPAREN,
    OPENERS,
    OQUOTE,
    QUESTION,
    QUOTED_LIT,
    TEMPLATE_INTERP,
    TEMPLATE_SEQ_END,
    Token,
)

__all__ = ["rewrite"]


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
    labels: list[str] | None  # None: keep the labels as written


def _is_line_end(tok: Token) -> bool:
    return tok.type == NEWLINE or (tok.type == COMMENT and tok.text.endswith("\n"))


def _skip_inline_comments(toks: list[Token], i: int) -> int:
    while toks[i].type == COMMENT and not toks[i].text.endswith("\n"):
        i += 1
    return i


def _next_significant(toks: list[Token], i: int) -> Token:
    while toks[i].type in (NEWLINE, COMMENT):
        i += 1
    return toks[i]


# Strings and heredocs nest like brackets here: no line inside them ends an attribute.
_OPEN = OPENERS | {OQUOTE, OHEREDOC}
_CLOSE = CLOSERS | {CQUOTE, CHEREDOC}
# A line ending in one of these continues on the next (the front end allows it).
_DANGLING = BINARY_OPS | {QUESTION, COLON}


def _expression_end(toks: list[Token], start: int) -> tuple[int, int]:
    """Where the expression from ``start`` ends: (one past its last token, the index of the
    line end, "}" or EOF that stops it)."""
    depth = 0
    last = start
    i = start
    while True:
        tok = toks[i]
        if tok.type == EOF:
            return last, i
        if depth == 0 and (tok.type == CBRACE or _is_line_end(tok)):
            if tok.type == CBRACE or not _continues(toks, start, last, i):
                return last, i
        elif tok.type in _OPEN:
            depth += 1
        elif tok.type in _CLOSE:
            depth = max(depth - 1, 0)
        if tok.type not in (NEWLINE, COMMENT):
            last = i + 1
        i += 1


def _continues(toks: list[Token], start: int, last: int, i: int) -> bool:
    """Does the expression go on past the line end at ``i``? Only where the front end lets
    an operator dangle (``a +`` / ``? b``): a body item never starts with anything but a
    name, so valid Terraform input always stops here."""
    if last > start and toks[last - 1].type in _DANGLING:
        return True
    return _next_significant(toks, i).type not in (IDENT, CBRACE, EOF)


def _block_labels(toks: list[Token], i: int) -> tuple[int, list[str] | None] | None:
    """The labels from ``i`` up to a block's "{": (index of the "{", their values), or
    None when this is not a block header."""
    labels: list[str] = []
    while True:
        tok = toks[i]
        if tok.type == OBRACE:
            return i, labels
        if tok.type == IDENT:
            labels.append(tok.text)
            i += 1
        elif tok.type == OQUOTE:
            text, single = "", True
            if toks[i + 1].type == QUOTED_LIT:
                text = _unescape(toks[i + 1].text)
                single = _is_single_scanner_literal(toks[i + 1].text)
                i += 1
            if toks[i + 1].type != CQUOTE:
                return None
            if single:
                # hclwrite's Labels() skips a label the scanner split into several
                # literal tokens (any "$" or "%"), so terraform fmt drops it: match that.
                labels.append(text)
            i += 2
        elif tok.type == COMMENT and not tok.text.endswith("\n"):
            i += 1
        elif _is_line_end(tok):
            # The front end takes a new line before the "{": keep such a header as written.
            k = i
            while toks[k].type in (NEWLINE, COMMENT):
                k += 1
            return (k, None) if toks[k].type == OBRACE else None
        else:
            return None


def _structure(toks: list[Token]) -> tuple[list[_Attr], list[_Block]]:
    """Every attribute and block header, in source order (an iterative walk: blocks may
    nest as deep as the front end lets them)."""
    attrs: list[_Attr] = []
    blocks: list[_Block] = []
    path: list[str] = []  # enclosing block types
    i = 0
    while toks[i].type != EOF:
        tok = toks[i]
        if tok.type in (NEWLINE, COMMENT):
            i += 1
            continue
        if tok.type == CBRACE:
            if path:
                path.pop()
            i += 1
            continue
        if tok.type == IDENT:
            j = _skip_inline_comments(toks, i + 1)
            if toks[j].type == EQUAL:
                start = _skip_inline_comments(toks, j + 1)
                end, i = _expression_end(toks, start)
                attrs.append(_Attr(tok.text, start, end, tuple(path)))
                continue
            header = _block_labels(toks, j)
            if header is not None:
                brace, labels = header
                blocks.append(_Block(i + 1, brace, labels))
                path.append(tok.text)
                i = brace + 1
                continue
        # Not an item (the front end allowed something this walk does not know): skip it.
        i = max(_expression_end(toks, i)[1], i + 1)
    return attrs, blocks


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


def rewrite(tokens: list[Token]) -> list[Token]:
    """``tokens`` with terraform fmt's rewrites applied (new tokens carry no spacing yet)."""
    attrs, blocks = _structure(tokens)
    edits: list[tuple[int, int, list[Token]]] = []
    for block in blocks:
        if block.labels is not None:
            # SetLabels(Labels()): bare labels get quoted, comments among labels vanish.
            edits.append((block.labels_start, block.labels_end, _label_tokens(block.labels)))
    for attr in attrs:
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
