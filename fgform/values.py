"""Value markers that flow through expressions: unknown-until-apply and sensitive.

Values are plain JSON-like Python data (None, bool, int, float, str, list, dict): a plain list
is a tuple and a plain dict an object, as HCL builds them; `ListValue`, `SetValue` and
`MapValue` (subclasses, so code reading values needs no change) are list, set and map values,
which Terraform keeps apart from tuples and objects (`tolist([1]) == [1]` is false). Two
markers ride on top of them:

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


class ListValue(list):
    """A list-typed value (`tolist(...)`, a `list(...)` variable, a function's list result),
    as opposed to a plain Python list, which is a tuple. `etype` is the element type in
    Terraform's JSON form ("string", ["object", {...}], "dynamic"), None when it is to be
    inferred from the elements. Everything that treats it as a list still works."""

    __slots__ = ("etype",)
    kind = "list"

    def __init__(self, items: Any = (), etype: Any = None) -> None:
        super().__init__(items)
        self.etype = etype

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list.__repr__(self)})"

    def __reduce__(self):
        return (type(self), (list(self), self.etype))

    def __copy__(self) -> ListValue:
        return type(self)(self, self.etype)

    def __deepcopy__(self, memo: dict) -> ListValue:
        return type(self)(copy.deepcopy(list(self), memo), self.etype)


class SetValue(ListValue):
    """A set-typed value (`toset(...)`, a `set(...)` variable): a list, ordered as Terraform
    orders sets, that remembers being a set. `for_each` accepts sets of strings but not
    lists, so the difference must survive evaluation; everything else treats it as a list."""

    __slots__ = ()
    kind = "set"


class MapValue(dict):
    """A map-typed value (`tomap(...)`, a `map(...)` variable), as opposed to a plain dict,
    which is an object. `etype` as for `ListValue`."""

    __slots__ = ("etype",)
    kind = "map"

    def __init__(self, items: Any = (), etype: Any = None) -> None:
        super().__init__(items)
        self.etype = etype

    def __repr__(self) -> str:
        return f"MapValue({dict.__repr__(self)})"

    def __reduce__(self):
        return (MapValue, (dict(self), self.etype))

    def __copy__(self) -> MapValue:
        return MapValue(self, self.etype)

    def __deepcopy__(self, memo: dict) -> MapValue:
        return MapValue(copy.deepcopy(dict(self), memo), self.etype)


class ObjectValue(dict):
    """An object value that remembers its attributes' types (`atypes`, name -> type in
    Terraform's JSON form), made where the type is known (a variable converted to an
    `object(...)` type, `regex` with named groups) and only when an attribute is null:
    Terraform's null carries a type (an unset `optional(list(string))` attribute is a
    null list of string), fgform's None does not. `cty_type` reads `atypes` for null
    attributes only. Everything that treats it as a dict still works."""

    __slots__ = ("atypes",)

    def __init__(self, items: Any = (), atypes: dict[str, Any] | None = None) -> None:
        super().__init__(items)
        self.atypes = dict(atypes or {})

    def __repr__(self) -> str:
        return f"ObjectValue({dict.__repr__(self)})"

    def __reduce__(self):
        return (ObjectValue, (dict(self), self.atypes))

    def __copy__(self) -> ObjectValue:
        return ObjectValue(self, self.atypes)

    def __deepcopy__(self, memo: dict) -> ObjectValue:
        return ObjectValue(copy.deepcopy(dict(self), memo), self.atypes)


class TupleValue(list):
    """A tuple value that remembers its elements' types (`etypes`), as `ObjectValue` does
    its attributes': made only when an element is null (`regex("(a)(b)?", "a")` is a
    tuple of two strings, the second null)."""

    __slots__ = ("etypes",)

    def __init__(self, items: Any = (), etypes: list[Any] | None = None) -> None:
        super().__init__(items)
        self.etypes = list(etypes or [])

    def __repr__(self) -> str:
        return f"TupleValue({list.__repr__(self)})"

    def __reduce__(self):
        return (TupleValue, (list(self), self.etypes))

    def __copy__(self) -> TupleValue:
        return TupleValue(self, self.etypes)

    def __deepcopy__(self, memo: dict) -> TupleValue:
        return TupleValue(copy.deepcopy(list(self), memo), self.etypes)


def typed_object(items: dict, atypes: dict[str, Any]) -> dict:
    """`items` as an object whose null attributes have the types `atypes` gives them: an
    `ObjectValue` when one of them is null and typed, else the plain dict (most objects
    have no null attribute, and plain dicts take every fast path)."""
    if any(v is None and atypes.get(k, "dynamic") != "dynamic" for k, v in items.items()):
        return ObjectValue(items, {k: t for k, t in atypes.items() if k in items})
    return items


def typed_tuple(items: list, etypes: list[Any]) -> list:
    """`items` as a tuple whose null elements have the types `etypes` gives them (same
    length): a `TupleValue` when one of them is null and typed, else the plain list."""
    if len(etypes) == len(items) and any(
            v is None and t != "dynamic" for v, t in zip(items, etypes, strict=True)):
        return TupleValue(items, etypes)
    return items


def retyped(template: Any, items: Any) -> Any:
    """`items` (a list or dict built from `template`'s elements) as a value of the same
    kind as `template`: a list/set/map keeps its class and element type."""
    if isinstance(template, ListValue):
        return type(template)(items, template.etype)
    if isinstance(template, MapValue):
        return MapValue(items, template.etype)
    if isinstance(template, ObjectValue):
        return ObjectValue(items, template.atypes)
    if isinstance(template, TupleValue):
        return TupleValue(items, template.etypes)
    return items


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
        return retyped(value, out), paths
    if isinstance(value, (list, tuple)):
        items: list = []
        paths = []
        for i, v in enumerate(value):
            u, p = unmark(v, (*_path, i))
            items.append(u)
            paths.extend(p)
        return retyped(value, items), paths
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
    """The type Terraform's JSON output gives a value: "string", ["list", "number"],
    ["tuple", [...]], ["object", {...}], "dynamic" for null. A plain list is a tuple and a
    plain dict an object; `ListValue`, `SetValue` and `MapValue` are collections, their
    element type recorded or, when not, the one their elements unify to."""
    if value is None or value is UNKNOWN:
        return "dynamic"
    if isinstance(value, Sensitive):
        return cty_type(value.value)
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, ListValue | MapValue):
        etype = value.etype
        if etype is None:
            etype = _common_type([cty_type(v) for v in (
                value.values() if isinstance(value, dict) else value)])
        return [value.kind, etype]
    if isinstance(value, TupleValue):
        etypes = value.etypes + ["dynamic"] * (len(value) - len(value.etypes))
        return ["tuple", [t if v is None else cty_type(v)
                          for v, t in zip(value, etypes, strict=False)]]
    if isinstance(value, list | tuple):
        return ["tuple", [cty_type(v) for v in value]]
    if isinstance(value, ObjectValue):
        return ["object", {str(k): value.atypes.get(k, "dynamic") if v is None else
                           cty_type(v) for k, v in sorted(value.items())}]
    if isinstance(value, dict):
        return ["object", {str(k): cty_type(v) for k, v in sorted(value.items())}]
    return "dynamic"


def plain_value(value: Any) -> Any:
    """`value` with every `ListValue`, `SetValue` and `MapValue` in it a plain list or dict
    (marks and unknowns kept): the form state and plan files hold, and that the state
    store's encoding cache (marshal) accepts."""
    t = type(value)
    if t is ListValue or t is SetValue:
        return [plain_value(v) for v in value]
    if t is MapValue or t is ObjectValue:
        return {k: plain_value(v) for k, v in value.items()}
    if t is TupleValue:
        return [plain_value(v) for v in value]
    if t is list:
        return [plain_value(v) for v in value] if any(
            isinstance(v, (list, dict, Sensitive)) for v in value) else value
    if t is dict:
        return {k: plain_value(v) for k, v in value.items()} if any(
            isinstance(v, (list, dict, Sensitive)) for v in value.values()) else value
    if t is Sensitive:
        return Sensitive(plain_value(value.value))
    return value


def typed_value(value: Any, type_: Any) -> Any:
    """Plain data read back (from a state file) as the value of type `type_` (Terraform's
    JSON form) it was: lists, sets and maps become `ListValue`, `SetValue`, `MapValue`
    again, at any depth. A value that does not fit the type is returned as it is."""
    if value is None or type_ is None or isinstance(type_, str):
        return value
    kind = type_[0] if isinstance(type_, list) and len(type_) == 2 else None
    inner = type_[1] if kind else None
    if kind in ("list", "set") and isinstance(value, list):
        cls = SetValue if kind == "set" else ListValue
        if isinstance(inner, str):  # elements of a primitive type: nothing to retype
            return cls(value, inner)
        return cls([typed_value(v, inner) for v in value], inner)
    if kind == "map" and isinstance(value, dict):
        if isinstance(inner, str):
            return MapValue(value, inner)
        return MapValue({k: typed_value(v, inner) for k, v in value.items()}, inner)
    if kind == "tuple" and isinstance(value, list) and isinstance(inner, list) and len(
            inner) == len(value):
        return typed_tuple([typed_value(v, t) for v, t in zip(value, inner, strict=True)],
                           inner)
    if kind == "object" and isinstance(value, dict) and isinstance(inner, dict):
        return typed_object({k: typed_value(v, inner.get(k)) for k, v in value.items()},
                            inner)
    return value


def _common_type(types: list[Any]) -> Any:
    # A collection built without a recorded element type: its elements' type when they all
    # have one (nulls aside), else "dynamic".
    known = [t for t in types if t != "dynamic"]
    if known and all(t == known[0] for t in known):
        return known[0]
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
    if t is ListValue or t is SetValue:
        return t((copy_value(v) for v in value), value.etype)
    if t is MapValue:
        return MapValue({k: copy_value(v) for k, v in value.items()}, value.etype)
    if t is ObjectValue:
        return ObjectValue({k: copy_value(v) for k, v in value.items()}, value.atypes)
    if t is TupleValue:
        return TupleValue([copy_value(v) for v in value], value.etypes)
    if t in _ATOMS:
        return value
    return copy.deepcopy(value)
