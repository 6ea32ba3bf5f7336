"""Strings as Terraform's functions see them: characters are grapheme clusters (`length`,
`substr`, `strrev`), and case mapping is Go's simple, one-character-to-one mapping
(`upper`, `lower`, `title`), not Python's full mapping that turns "ß" into "SS"."""

from __future__ import annotations

import unicodedata
from functools import lru_cache


@lru_cache(maxsize=1)
def _cluster_re() -> object:
    # Imported on first non-ASCII text: `regex` takes ~10 ms to import, a tenth of a small
    # plan's whole run, and most configurations never need it.
    import regex

    return regex.compile(r"\X")


def graphemes(s: str) -> list[str]:
    """The extended grapheme clusters of `s` (what a user sees as one character):
    "👍🏽" and "e\u0301" are one each, as Terraform counts them."""
    if s.isascii() and "\r\n" not in s:
        return list(s)  # every ASCII character but CR LF is a cluster of its own
    clusters = _cluster_re().findall(s)  # type: ignore[attr-defined]
    if any(ch in _LINKERS for ch in s):
        clusters = [part for c in clusters for part in _split_conjuncts(c)]
    return clusters


# Unicode 15.1 joined Indic conjuncts (consonant + virama + consonant) into one cluster
# (rule GB9c), which the `regex` module follows; Terraform's segmentation (go-textseg, Unicode
# 15.0) breaks after the virama: length("नमस्ते") is 4 there. The viramas of GB9c's scripts:
_LINKERS = frozenset("\u094d\u09cd\u0acd\u0b4d\u0c4d\u0d4d")


def _split_conjuncts(cluster: str) -> list[str]:
    """`cluster` split where GB9c joined a consonant after a virama (and marks after it)."""
    parts = [cluster[0]]
    after_linker = cluster[0] in _LINKERS
    for ch in cluster[1:]:
        cat = unicodedata.category(ch)
        if after_linker and cat == "Lo" and "\u0900" <= ch <= "\u0dff":
            parts.append(ch)
            after_linker = False
            continue
        parts[-1] += ch
        if ch in _LINKERS:
            after_linker = True
        elif not (cat in ("Mn", "Me") or ch == "\u200d"):
            after_linker = False
    return parts


def grapheme_length(s: str) -> int:
    """The number of characters (grapheme clusters) in `s`."""
    if s.isascii() and "\r\n" not in s:
        return len(s)
    return len(graphemes(s))


def substr(s: str, offset: int, length: int) -> str:
    """cty's substr: `offset` counts from the end when negative (and past the start means
    the start); an offset at or past the end gives ""; a negative length means the rest of
    the string. Length 0 gives "", except after a negative offset, where cty takes the
    rest too: substr("hello", -3, 0) is "llo" in Terraform."""
    g = graphemes(s)
    if offset < 0:
        offset += len(g)
    elif length == 0:
        return ""
    rest = g[min(max(offset, 0), len(g)):]
    if length <= 0:
        return "".join(rest)
    return "".join(rest[:length])


def reverse(s: str) -> str:
    """`s` with its characters (grapheme clusters) in reverse order."""
    return "".join(reversed(graphemes(s)))


@lru_cache(maxsize=4096)
def _simple(ch: str, how: str) -> str:
    """Go's unicode.ToUpper/ToLower/ToTitle of one character: the simple mapping, so a
    character whose full mapping is several characters ("ß" -> "SS") mostly stays as it is."""
    mapped = getattr(ch, how)()
    if len(mapped) == 1:
        return mapped
    if ch == "\u0130" and how == "lower":  # İ: simple lower case is a plain i
        return "i"
    if how == "upper":
        # The Greek letters with a subscript iota: the simple upper case is the title case
        # letter (ᾳ -> ᾼ), which Python's title() gives as one character.
        titled = ch.title()
        if len(titled) == 1:
            return titled
    return ch


def upper(s: str) -> str:
    """Go's strings.ToUpper: upper("straße") is "STRAßE"."""
    if s.isascii():
        return s.upper()
    return "".join(_simple(ch, "upper") for ch in s)


def lower(s: str) -> str:
    """Go's strings.ToLower, character by character (no final-sigma rule: "ΣΑΣ" -> "σασ")."""
    if s.isascii():
        return s.lower()
    return "".join(_simple(ch, "lower") for ch in s)


def _separator(ch: str) -> bool:
    # Go's strings.Title: ASCII letters, digits and "_" join a word, any other ASCII
    # character separates words; beyond ASCII, letters and digits join and spaces separate,
    # and anything else (punctuation, symbols) joins.
    if ch.isascii():
        return not (ch.isalnum() or ch == "_")
    if ch.isalpha() or ch.isdigit() or ch.isnumeric():
        return False
    return ch.isspace()


def title(s: str) -> str:
    """Go's strings.Title: the first letter of each word in title case (simple mapping)."""
    out = []
    prev_sep = True
    for ch in s:
        out.append(_simple(ch, "title") if prev_sep else ch)
        prev_sep = _separator(ch)
    return "".join(out)


def indent(spaces: int, s: str) -> str:
    """Terraform's indent: every newline is followed by `spaces` spaces, so empty lines
    and the line after a final newline get them too."""
    return s.replace("\n", "\n" + " " * spaces)
