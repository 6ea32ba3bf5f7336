"""fileset: the files under a directory whose paths match a glob, as Terraform's fileset
matches them (`*`, `?`, `[...]` with `^` to negate, `{a,b}`, and `**` for any number of
directories)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable

from fgform.config.fn_base import FuncError
from fgform.values import SetValue


class _GlobSyntax(Exception):
    pass


def _component_regex(pat: str, i: int, stop: str = "") -> tuple[str, int]:
    """The regular expression of glob text from `pat[i]` up to one of `stop` (inside
    braces) or the end; returns it and where it stopped."""
    out: list[str] = []
    while i < len(pat):
        ch = pat[i]
        if ch in stop:
            break
        if ch == "\\":
            if i + 1 >= len(pat):
                raise _GlobSyntax
            out.append(re.escape(pat[i + 1]))
            i += 2
        elif ch == "*":
            while i < len(pat) and pat[i] == "*":
                i += 1
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
            i += 1
        elif ch == "[":
            j = i + 1
            neg = j < len(pat) and pat[j] == "^"
            if neg:
                j += 1
            items: list[str] = []
            first = True
            while j < len(pat) and (pat[j] != "]" or first):
                c = pat[j]
                if c == "\\" and j + 1 < len(pat):
                    j += 1
                    c = pat[j]
                if j + 2 < len(pat) and pat[j + 1] == "-" and pat[j + 2] != "]":
                    items.append(f"{re.escape(c)}-{re.escape(pat[j + 2])}")
                    j += 3
                else:
                    items.append(re.escape(c))
                    j += 1
                first = False
            if j >= len(pat):
                raise _GlobSyntax
            out.append(("[^/" if neg else "[") + "".join(items) + "]")
            i = j + 1
        elif ch == "{":
            alts: list[str] = []
            i += 1
            while True:
                sub, i = _component_regex(pat, i, ",}")
                alts.append(sub)
                if i >= len(pat):
                    raise _GlobSyntax
                i += 1
                if pat[i - 1] == "}":
                    break
            out.append("(?:" + "|".join(alts) + ")")
        else:
            out.append(re.escape(ch))
            i += 1
    return "".join(out), i


def glob_regex(pattern: str) -> re.Pattern[str]:
    """The glob as a regular expression over slash-separated relative paths."""
    parts = [p for p in pattern.split("/")]
    while parts and parts[-1] == "":  # "**/" matches as "**" does
        parts.pop()
    pieces: list[str] = []
    for n, part in enumerate(parts):
        last = n == len(parts) - 1
        if part == "**":
            pieces.append(".*" if last else "(?:[^/]+/)*")
            continue
        body, _ = _component_regex(part, 0)
        pieces.append(body + ("" if last else "/"))
    return re.compile("".join(pieces))


def fileset(base: str, shown_base: str, pattern: str,
            inside: Callable[[str], bool]) -> SetValue:
    """The regular files under directory `base` whose path relative to it matches
    `pattern`, sorted; `inside(path)` says whether a file may be listed (the configuration's
    confinement), so a symbolic link out of it is left out."""
    pattern = os.path.normpath(pattern).replace(os.sep, "/") if pattern else ""
    if pattern in ("", "."):
        return SetValue([], "string")
    if pattern.startswith("../") or pattern == "..":
        raise FuncError(f'"{pattern}" reaches outside the directory "{shown_base}": fgform '
                        "lists only files of the configuration", 1)
    try:
        regex = glob_regex(pattern)
    except (_GlobSyntax, re.error):
        raise FuncError(f'failed to glob pattern "{shown_base}/{pattern}": syntax error in '
                        "pattern", None) from None
    if not os.path.isdir(base):
        return SetValue([], "string")
    found: list[str] = []
    for root, dirs, files in os.walk(base):
        dirs.sort()
        rel_root = os.path.relpath(root, base)
        for name in files:
            rel = name if rel_root == "." else f"{rel_root}/{name}".replace(os.sep, "/")
            full = os.path.join(root, name)
            if regex.fullmatch(rel) and os.path.isfile(full) and inside(full):
                found.append(rel)
    return SetValue(sorted(found), "string")
