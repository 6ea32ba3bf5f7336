"""Value markers that flow through expressions: unknown-until-apply and sensitive.

Values are plain JSON-like Python data (None, bool, int, float, str, list, dict). Two markers
ride on top of them:

- `UNKNOWN`: a value not known until apply. Any operation with an unknown operand is unknown
  (except where the result does not depend on it, e.g. `length()` of a list with unknown
  elements, or `true || UNKNOWN`). Lists and dicts may hold unknowns inside them.
- `Sensitive(value)`: a value from a sensitive variable or output. Anything computed from it is
  sensitive too. The planner strips the marks with `unmark` and records the paths, so that
  renderers can hide them.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any


class Unknown:
    """The one value that stands for `(known after apply)`."""

    _instance: Unknown | None = None

    def __new__(cls) -> Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __reduce__(self):
        return (Unknown, ())

    def __bool__(self) -> bool:
        raise TypeError("an unknown value has no truth value; check is_unknown() first")


UNKNOWN = Unknown()


def is_unknown(value: Any) -> bool:
    return value is UNKNOWN


def contains_unknown(value: Any) -> bool:
    """True when the value or anything nested in it is unknown."""
    if value is UNKNOWN:
        return True
    if isinstance(value, Sensitive):
        return contains_unknown(value.value)
    if isinstance(value, dict):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(contains_unknown(v) for v in value)
    return False


class SetValue(list):
    """A set-typed value (`toset(...)`, a `set(...)` variable): a list, ordered as Terraform
    orders sets, that remembers being a set. `for_each` accepts sets of strings but not
    lists, so the difference must survive evaluation; everything else treats it as a list."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"SetValue({list.__repr__(self)})"


@dataclass(frozen=True, slots=True)
class Sensitive:
    """A value that must never be shown: plan output, PR comments and logs print (sensitive)."""

    value: Any


def mark_sensitive(value: Any) -> Any:
    return value if isinstance(value, Sensitive) else Sensitive(value)


Path = tuple[str | int, ...]


def unmark(value: Any, _path: Path = ()) -> tuple[Any, list[Path]]:
    """Strip Sensitive marks from a nested value; return it with the paths that were marked."""
    if isinstance(value, Sensitive):
        inner, _ = unmark(value.value, _path)
        return inner, [_path]
    if isinstance(value, dict):
        out: dict = {}
        paths: list[Path] = []
        for k, v in value.items():
            out[k], p = unmark(v, (*_path, k))
            paths.extend(p)
        return out, paths
    if isinstance(value, (list, tuple)):
        items: list = []
        paths = []
        for i, v in enumerate(value):
            u, p = unmark(v, (*_path, i))
            items.append(u)
            paths.extend(p)
        return (SetValue(items) if isinstance(value, SetValue) else items), paths
    return value, []


def unknown_paths(value: Any, _path: Path = ()) -> list[Path]:
    """Paths inside a value that are unknown (the basis of Terraform's after_unknown)."""
    if value is UNKNOWN:
        return [_path]
    if isinstance(value, Sensitive):
        return unknown_paths(value.value, _path)
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in unknown_paths(v, (*_path, k))]
    if isinstance(value, (list, tuple)):
        return [p for i, v in enumerate(value) for p in unknown_paths(v, (*_path, i))]
    return []


def cty_type(value: Any) -> Any:
    """The type Terraform's JSON output gives a value inferred from plain data: "string",
    ["tuple", [...]], ["object", {...}], "dynamic" for null."""
    if value is None:
        return "dynamic"
    if isinstance(value, Sensitive):
        return cty_type(value.value)
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return ["tuple", [cty_type(v) for v in value]]
    if isinstance(value, dict):
        return ["object", {str(k): cty_type(v) for k, v in sorted(value.items())}]
    return "dynamic"


def sensitive_strings(value: Any, _inside: bool = False, *, min_len: int = 3) -> set[str]:
    """The text of every sensitive leaf in a value (strings and numbers of `min_len`+
    characters: shorter ones would mask unrelated text), so messages that quote a value can
    be scrubbed of them."""
    if isinstance(value, Sensitive):
        return sensitive_strings(value.value, True, min_len=min_len)
    if isinstance(value, dict):
        return {s for v in value.values() for s in sensitive_strings(v, _inside,
                                                                     min_len=min_len)}
    if isinstance(value, (list, tuple)):
        return {s for v in value for s in sensitive_strings(v, _inside, min_len=min_len)}
    if not _inside or value is None or isinstance(value, bool) or value is UNKNOWN:
        return set()
    text = str(value)
    return {text} if len(text) >= max(1, min_len) else set()


def strings_at(value: Any, paths: list[Path] | list[list[str | int]]) -> set[str]:
    """`sensitive_strings` of the parts of a plain value at `paths` (a state's or a plan's
    sensitive paths); a path that is not in the value is skipped."""
    out: set[str] = set()
    for path in paths:
        part = value
        for step in path:
            try:
                part = part[step]
            except (KeyError, IndexError, TypeError):
                part = None
                break
        out |= sensitive_strings(Sensitive(part))
    return out


SENSITIVE_TEXT = "(sensitive value)"


def scrub(text: str, secrets: set[str] | frozenset[str]) -> str:
    """`text` with every occurrence of a secret replaced by `(sensitive value)`, longest
    first, so that a secret containing another is replaced whole. A secret also counts in
    the escaped form a JSON string or a quoted message gives it (`"a\\"b"`)."""
    if not secrets or not text:
        return text
    for form in _forms(frozenset(secrets)):
        if form in text:
            text = text.replace(form, SENSITIVE_TEXT)
    return text


@lru_cache(maxsize=8)
def _forms(secrets: frozenset[str]) -> tuple[str, ...]:
    # Cached: apply's progress printer scrubs every line with the same secrets.
    forms = {f for secret in secrets if secret for f in (
        secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1])}
    return tuple(sorted(forms, key=lambda f: (-len(f), f)))


_ATOMS = frozenset({str, int, float, bool, type(None), Unknown})


def copy_value(value: Any) -> Any:
    """`copy.deepcopy` of plain data (dicts, lists, scalars, UNKNOWN) in a fraction of its
    time; anything else (tuples, Sensitive, objects) still goes through deepcopy."""
    t = type(value)
    if t is dict:
        return {k: copy_value(v) for k, v in value.items()}
    if t is list:
        return [copy_value(v) for v in value]
    if t is SetValue:
        return SetValue(copy_value(v) for v in value)
    if t in _ATOMS:
        return value
    return copy.deepcopy(value)
