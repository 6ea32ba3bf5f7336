"""A light scan of HCL text for the lexical mistakes the parser reports late or vaguely.

The LALR parser only fails where the token stream stops making sense, which for some
mistakes is far from the mistake itself: an unclosed quote swallows the following lines up
to the next quote, an unterminated heredoc is not a token at all (so the parser sees `<`),
and `5e` lexes as the number 5 followed by the name `e`. When a parse fails, the loader asks
this scanner for the first such mistake and, if it comes before the parse error, reports it
instead, where the user made it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fgform.suggest import closest

_HEREDOC_START = re.compile(r"<<(-?)([A-Za-z][A-Za-z0-9._-]*)\r?\n")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_BAD_EXPONENT = re.compile(r"[eE][+-]?")
_BARE_LINE = re.compile(r"[ \t]*([A-Za-z][A-Za-z0-9._-]*)([ \t]*)\r?$")


@dataclass(frozen=True)
class LexProblem:
    """One mistake: where it starts (an offset into the text) and what to say about it."""

    offset: int
    end: int
    summary: str
    detail: str


class _Found(Exception):
    def __init__(self, problem: LexProblem) -> None:
        super().__init__(problem.summary)
        self.problem = problem


def first_problem(text: str) -> LexProblem | None:
    """The first unterminated string or heredoc, or malformed number, in `text`."""
    try:
        _code(text, 0, False, [])
    except _Found as found:
        return found.problem
    return None


def trim_heredoc_markers(text: str) -> str | None:
    """`text` without the spaces after heredoc closing markers (`EOF  `), which Terraform
    allows and python-hcl2's grammar does not; None when there are none. Only line ends
    change, so every position the parser reports stays the same."""
    spans: list[tuple[int, int]] = []
    try:
        _code(text, 0, False, spans)
    except _Found:
        pass
    if not spans:
        return None
    parts = []
    pos = 0
    for start, end in spans:
        parts.append(text[pos:start])
        pos = end
    parts.append(text[pos:])
    return "".join(parts)


def interpolation_strips(text: str) -> tuple[str, frozenset[int]]:
    """`text` with the strip markers of quoted strings' interpolations (`"${~ x ~}"`)
    blanked, which python-hcl2's grammar has only for directives, and where they were.
    Blanking keeps every position the parser reports the same."""
    strips: list[int] = []
    try:
        _code(text, 0, False, [], strips)
    except _Found:
        pass
    if not strips:
        return text, frozenset()
    chars = list(text)
    for at in strips:
        chars[at] = " "
    return "".join(chars), frozenset(strips)


def _code(text: str, i: int, nested: bool, trailing: list[tuple[int, int]],
          strips: list[int] | None = None) -> int:
    """Scan code from `i`; inside a `${ }` (`nested`) stop at its closing `}` and return the
    offset after it. Raises _Found at the first problem; adds to `trailing` the spans of
    spaces after heredoc closing markers and to `strips` the offsets of interpolations'
    strip markers."""
    n = len(text)
    depth = 0
    while i < n:
        c = text[i]
        if c == '"':
            i = _string(text, i, trailing, strips)
        elif c == "#" or text.startswith("//", i):
            nl = text.find("\n", i)
            i = n if nl < 0 else nl + 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
        elif c == "<" and text.startswith("<<", i):
            i = _heredoc(text, i, trailing)
        elif c.isalpha() or c == "_":
            m = _NAME.match(text, i)
            i = m.end() if m else i + 1
        elif c.isdigit():
            i = _number(text, i)
        elif c in "{([":
            depth += 1
            i += 1
        elif c in ")]":
            depth -= 1
            i += 1
        elif c == "}":
            i += 1
            if nested and depth == 0:
                return i
            depth -= 1
        else:
            i += 1
    return n


def _string(text: str, start: int, trailing: list[tuple[int, int]],
            strips: list[int] | None = None) -> int:
    """Scan the quoted string opening at `start`; return the offset after its closing
    quote."""
    n = len(text)
    i = start + 1
    while i < n:
        c = text[i]
        if c == '"':
            return i + 1
        if c == "\n":
            break
        if c == "\\":
            i += 2 if i + 1 < n and text[i + 1] != "\n" else 1
            continue
        if text.startswith(("$${", "%%{"), i):
            i += 3
            continue
        if text.startswith(("${", "%{"), i):
            interp = c == "$"
            if interp and strips is not None and text.startswith("~", i + 2):
                strips.append(i + 2)
            end = _code(text, i + 2, True, trailing, strips)
            if (interp and strips is not None and end - 2 > i + 2 and text[end - 1] == "}"
                    and text[end - 2] == "~"):
                strips.append(end - 2)
            i = end
            continue
        i += 1
    line_end = text.find("\n", start)
    raise _Found(LexProblem(
        start, n if line_end < 0 else line_end, "Unterminated template string",
        'This quoted string has no closing `"` on its line. Quoted strings may not be split '
        "over multiple lines: to produce a multi-line string, either use the \\n escape to "
        'represent a newline character or use the "heredoc" multi-line template syntax.'))


def _heredoc(text: str, start: int, trailing: list[tuple[int, int]]) -> int:
    """Skip the heredoc opening at `start` (if `<<` opens one) up to its closing marker."""
    m = _HEREDOC_START.match(text, start)
    if m is None:
        return start + 2
    marker = m.group(2)
    pos = m.end()
    bare: list[tuple[str, int]] = []
    while pos < len(text):
        nl = text.find("\n", pos)
        line_end = len(text) if nl < 0 else nl
        b = _BARE_LINE.match(text, pos, line_end)
        if b is not None:
            if b.group(1) == marker:
                if b.group(2):
                    trailing.append(b.span(2))
                return line_end
            bare.append((b.group(1), text.count("\n", 0, pos) + 1))
        pos = line_end + 1
    opener = f"<<{m.group(1)}{marker}"
    detail = (f"The heredoc opened with {opener} is never closed: no line after it holds "
              f'only "{marker}".')
    near = closest(marker, {word for word, _ in bare})
    if near is not None:
        line = next(ln for word, ln in bare if word == near)
        detail += (f' Line {line} holds "{near}": did you mean to open the heredoc with '
                   f"<<{m.group(1)}{near}, or to close it with {marker}?")
    raise _Found(LexProblem(start, start + len(opener), "Unterminated heredoc", detail))


def _number(text: str, start: int) -> int:
    """Skip the number at `start`; an exponent marker without digits is a problem."""
    m = _NUMBER.match(text, start)
    end = m.end() if m else start + 1
    bad = _BAD_EXPONENT.match(text, end)
    if bad is not None and not _NAME.match(text, bad.end()):
        written = text[start:bad.end()]
        raise _Found(LexProblem(
            start, bad.end(), "Invalid number literal",
            f'The number "{written}" has an exponent marker but no exponent digits after '
            f"it; write the exponent in full (as in {text[start:end]}e3) or remove the "
            f'"{text[end]}".'))
    return end
