"""Did-you-mean hints for misspelt names, the same wherever a name is checked.

One rule for the loader (block types, arguments), the evaluator (variables, locals,
attributes, functions), the schema decoder and validation: the closest candidate by
`difflib`'s ratio, if it is at least 0.6 (ties go to the alphabetically last candidate,
whatever order the candidates come in).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

CUTOFF = 0.6


def closest(name: str, candidates: Iterable[Any]) -> str | None:
    """The candidate closest to `name` (candidates are compared as strings), or None when
    nothing is close enough."""
    found = difflib.get_close_matches(name, [str(c) for c in candidates], n=1, cutoff=CUTOFF)
    return found[0] if found else None


def did_you_mean(name: str, candidates: Iterable[Any], what: str = "") -> str:
    """`Did you mean "x"?` (or `Did you mean the {what} "x"?`), or "" when nothing is close."""
    match = closest(name, candidates)
    if match is None:
        return ""
    return f'Did you mean the {what} "{match}"?' if what else f'Did you mean "{match}"?'
