"""Terraform's type unification and conversion between value types (cty's `convert` package).

Types are written in Terraform's JSON form, the one `output -json` shows: "string",
"number", "bool", "dynamic", ["list", T], ["set", T], ["map", T], ["tuple", [T, ...]],
["object", {name: T}]. A value's type is `cty_type(value)` (fgform/values.py): plain lists
and dicts are tuples and objects, `ListValue`, `SetValue` and `MapValue` collections.

- `unify(types)`: the one type all of `types` convert to, or None (cty's `UnifyUnsafe`):
  number and bool unify with string to string, tuples and objects with lists and maps to
  the collection, tuples of different lengths to a list and objects of different attributes
  to a map when their elements unify, null (type dynamic) with anything to that thing.
- `convert_value(value, type)`: the value as that type (cty's unsafe conversion: "5" -> 5),
  or ConversionError.
- `to_collection(value, kind)`: `tolist`, `toset`, `tomap` (and the functions whose
  parameter is a list, set or map of any type): the elements unified to one type.
- `set_of(items, etype)`: a set value, duplicates dropped and ordered as cty orders sets
  (strings lexically by bytes, numbers numerically, false before true, anything else by
  cty's hash string of the value).
"""

from __future__ import annotations

import json
from typing import Any

from fgform.config.context import EvalError
from fgform.config.conversions import (
    ConversionError,
    format_number,
    friendly_type,
    to_bool,
    to_number,
)
from fgform.values import UNKNOWN, ListValue, MapValue, Sensitive, SetValue, cty_type

DYNAMIC = "dynamic"
friendly = friendly_type  # a type as Terraform's messages name it
_PRIMITIVES = frozenset({"string", "number", "bool"})


def kind(t: Any) -> str:
    """"string", "number", "bool", "dynamic", "list", "set", "map", "tuple" or "object"."""
    return t if isinstance(t, str) else t[0]


# -- unification --------------------------------------------------------------------------
def unify(types: list[Any]) -> Any:
    """The type all `types` convert to, by cty's `UnifyUnsafe`; None when there is none."""
    if not types:
        return None
    if all(t == types[0] for t in types):
        return types[0]
    counts: dict[str, int] = {}
    for t in types:
        counts[kind(t)] = counts.get(kind(t), 0) + 1
    n = len(types)
    dyn = counts.get(DYNAMIC, 0)
    maps, lists, sets = counts.get("map", 0), counts.get("list", 0), counts.get("set", 0)
    objects, tuples = counts.get("object", 0), counts.get("tuple", 0)
    if maps and maps + dyn == n:
        return _unify_collections("map", types, dyn > 0)
    if maps and maps + objects + dyn == n:
        t = _unify_objects_as_map(types)
        if t is not None:
            return t
    elif lists and lists + dyn == n:
        return _unify_collections("list", types, dyn > 0)
    elif lists and lists + tuples + dyn == n and not dyn:
        # Lists and tuples unify as a list of what all their elements unify to
        # (`true ? tolist([1]) : ["a"]` is tolist(["1"])).
        et = unify([e for t in types for e in ([t[1]] if kind(t) == "list" else t[1])])
        return None if et is None else ["list", et]
    elif sets and sets + dyn == n:
        return _unify_collections("set", types, dyn > 0)
    elif objects and objects + dyn == n:
        return DYNAMIC if dyn else _unify_objects(types)
    elif tuples and tuples + dyn == n:
        return DYNAMIC if dyn else _unify_tuples(types)
    elif objects and tuples:
        return None
    for want in sorted(types, key=_preference):
        if all(t == want or can_convert(t, want) for t in types):
            return want
    return None


def _preference(t: Any) -> int:
    # cty's sortTypes, reduced to the cases that decide: string is the most general
    # primitive, a list preferred to a set (`true ? tolist(["a"]) : toset(["b"])` is a
    # list), collections to tuples and objects (`true ? toset([1]) : ["a"]` is a set), and
    # dynamic the least preferred (a placeholder that the others should decide).
    return {"string": 0, "list": 1, "map": 1, "number": 1, "bool": 1, "set": 2,
            "tuple": 3, "object": 3, DYNAMIC: 4}[kind(t)]


def _unify_collections(k: str, types: list[Any], has_dynamic: bool) -> Any:
    if has_dynamic:
        return DYNAMIC
    et = unify([t[1] for t in types])
    return None if et is None else [k, et]


def _unify_objects_as_map(types: list[Any]) -> Any:
    elems: list[Any] = []
    for t in types:
        if kind(t) == "map":
            elems.append(t[1])
        elif kind(t) == "object":
            elems.extend(t[1].values())
    et = unify(elems) if elems else DYNAMIC
    return None if et is None else ["map", et]


def _unify_objects(types: list[Any]) -> Any:
    names = set(types[0][1])
    if any(set(t[1]) != names for t in types[1:]):
        # Objects of different attributes unify as a map, when their attributes do.
        return _unify_objects_as_map(types)
    attrs = {}
    for name in sorted(names):
        at = unify([t[1][name] for t in types])
        if at is None:
            return None
        attrs[name] = at
    return ["object", attrs]


def _unify_tuples(types: list[Any]) -> Any:
    length = len(types[0][1])
    if any(len(t[1]) != length for t in types[1:]):
        # Tuples of different lengths unify as a list, when their elements do.
        et = unify([e for t in types for e in t[1]]) if any(t[1] for t in types) else DYNAMIC
        return None if et is None else ["list", et]
    elems = []
    for i in range(length):
        et = unify([t[1][i] for t in types])
        if et is None:
            return None
        elems.append(et)
    return ["tuple", elems]


def can_convert(src: Any, dst: Any) -> bool:
    """Whether cty has a (possibly unsafe) conversion from type `src` to type `dst`."""
    if src == dst or dst == DYNAMIC or src == DYNAMIC:
        return True
    sk, dk = kind(src), kind(dst)
    if sk in _PRIMITIVES and dk in _PRIMITIVES:
        # Every primitive converts to and from string; number and bool do not mix.
        return sk == "string" or dk == "string"
    if dk in ("list", "set"):
        if sk in ("list", "set"):
            return can_convert(src[1], dst[1])
        if sk == "tuple":
            if dst[1] == DYNAMIC:
                return not src[1] or unify(src[1]) is not None
            return all(can_convert(e, dst[1]) for e in src[1])
        return False
    if dk == "map":
        if sk == "map":
            return can_convert(src[1], dst[1])
        if sk == "object":
            if dst[1] == DYNAMIC:
                return not src[1] or unify(list(src[1].values())) is not None
            return all(can_convert(e, dst[1]) for e in src[1].values())
        return False
    if dk == "tuple":
        return sk == "tuple" and len(src[1]) == len(dst[1]) and all(
            can_convert(a, b) for a, b in zip(src[1], dst[1], strict=True))
    if dk == "object":
        if sk == "map":
            return all(can_convert(src[1], b) for b in dst[1].values())
        return sk == "object" and all(
            name in src[1] and can_convert(src[1][name], t) for name, t in dst[1].items())
    return False


# -- conversion ---------------------------------------------------------------------------
def convert_value(value: Any, t: Any) -> Any:
    """`value` converted to type `t` (cty's unsafe conversion); ConversionError if it
    cannot be. null and unknown convert to any type as they are; marks are kept."""
    if value is None or value is UNKNOWN or t == DYNAMIC:
        return value
    if isinstance(value, Sensitive):
        return Sensitive(convert_value(value.value, t))
    k = kind(t)
    if k == "string":
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return format_number(value)
        raise ConversionError(f"string required, got {friendly(cty_type(value))}")
    if k == "number":
        if isinstance(value, (int, float, str)) and not isinstance(value, bool):
            return to_number(value)
        raise ConversionError(f"number required, got {friendly(cty_type(value))}")
    if k == "bool":
        if isinstance(value, (bool, str)):
            return to_bool(value)
        raise ConversionError(f"bool required, got {friendly(cty_type(value))}")
    if k in ("list", "set", "map"):
        return to_collection(value, k, t[1])
    if k == "tuple":
        if not isinstance(value, list) or isinstance(value, SetValue) or len(value) != len(
                t[1]):
            raise ConversionError(f"tuple required, got {friendly(cty_type(value))}")
        return [convert_value(v, et) for v, et in zip(value, t[1], strict=True)]
    if k == "object":
        if not isinstance(value, dict):
            raise ConversionError(f"object required, got {friendly(cty_type(value))}")
        missing = [name for name in t[1] if name not in value]
        if missing:
            raise ConversionError(f'attribute "{missing[0]}" is required')
        return {name: convert_value(value[name], at) for name, at in t[1].items()}
    raise ConversionError(f"cannot convert to {friendly(t)}")


def _elements(value: Any) -> list[Any]:
    return list(value.values()) if isinstance(value, dict) else list(value)


def to_collection(value: Any, k: str, etype: Any = DYNAMIC) -> Any:
    """`value` as a list, set or map (`k`) of `etype`; with "dynamic", of the type its
    elements unify to (`tolist([1, "a"])` is `["1", "a"]`), or ConversionError in
    Terraform's words ("cannot convert tuple to list of any single type")."""
    if value is None or value is UNKNOWN:
        return value
    if isinstance(value, Sensitive):
        return Sensitive(to_collection(value.value, k, etype))
    vt = cty_type(value)
    want_dict = k == "map"
    if want_dict != isinstance(value, dict):
        raise ConversionError(f"cannot convert {friendly(vt)} to {k} of any single type"
                              if etype == DYNAMIC else
                              f"{friendly([k, etype])} required, got {friendly(vt)}")
    if etype == DYNAMIC:
        if vt[0] in ("list", "set", "map"):
            etype = vt[1]
        else:
            types = [cty_type(v) for v in _elements(value)]
            etype = unify(types) if types else DYNAMIC
            if etype == DYNAMIC and any(t != DYNAMIC for t in types):
                # A null among objects or tuples leaves cty no single element type.
                if any(v is UNKNOWN for v in _elements(value)):
                    return UNKNOWN
                etype = None
            if etype is None:
                raise ConversionError(f"cannot convert {friendly(vt)} to {k} of any single "
                                      "type")
    if isinstance(value, dict):
        return MapValue({key: convert_value(v, etype) for key, v in value.items()}, etype)
    items = [convert_value(v, etype) for v in value]
    if k == "set":
        return set_of(items, etype)
    return ListValue(items, etype)


def collection_or_none(value: Any, k: str) -> Any:
    """`to_collection(value, k)`, or None when the value does not convert."""
    try:
        return to_collection(value, k)
    except ConversionError:
        return None


# -- sets ---------------------------------------------------------------------------------
def set_of(items: list[Any], etype: Any = None) -> SetValue:
    """A set of `items` (already of one type): duplicates dropped, ordered as cty orders
    a set's elements."""
    if etype is None:
        etype = unify([cty_type(v) for v in items]) if items else DYNAMIC
        if etype is None:
            etype = DYNAMIC
    # Duplicates found by a key that is equal exactly when the values are (elements of one
    # type): linear, where comparing every pair was quadratic.
    seen: dict[str, Any] = {}
    for v in items:
        seen.setdefault(set_hash(v, exact=True), v)
    out = list(seen.values())
    out.sort(key=_set_key_for(etype))
    return SetValue(out, etype)


def _set_key_for(etype: Any) -> Any:
    # Known elements before unknown ones, non-null before null (cty's setRules.Less).
    def base(v: Any) -> tuple[int, ...]:
        if v is UNKNOWN:
            return (2,)
        if v is None:
            return (1,)
        return (0,)

    if etype == "string":
        return lambda v: (*base(v), v if isinstance(v, str) else "")
    if etype == "number":
        return lambda v: (*base(v), v if isinstance(v, int | float) else 0)
    if etype == "bool":
        return lambda v: (*base(v), v is True)
    return lambda v: (*base(v), set_hash(v).encode())


def set_hash(value: Any, exact: bool = False) -> str:
    """cty's hash string of a value (`makeSetHashBytes`), which orders sets of anything
    but strings, numbers and bools: `[1;"a";]`, `{"k":1;}`."""
    if isinstance(value, Sensitive):
        return set_hash(value.value, exact)
    if value is None:
        return "~"
    if value is UNKNOWN:
        return "?"
    if isinstance(value, bool):
        return "T" if value else "F"
    if isinstance(value, int | float):
        if exact:  # every digit, for telling values apart (1 and 1.0 are one number)
            if isinstance(value, int):
                return str(value)
            return str(int(value)) if value.is_integer() and abs(value) < 2**63 \
                else repr(value)
        return format(value, ".10g")
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "{" + "".join(f"{json.dumps(k, ensure_ascii=False)}:"
                             f"{set_hash(value[k], exact)};" for k in sorted(value)) + "}"
    if isinstance(value, list):
        return "[" + "".join(f"{set_hash(v, exact)};" for v in value) + "]"
    return "?"


# -- the conditional's mismatch message ---------------------------------------------------
def mismatch(a: Any, b: Any) -> str:
    """Why the two results of a conditional have no common type, as HCL says it: the
    first tuple element or object attribute whose types do not unify, then the two."""
    if kind(a) == "tuple" and kind(b) == "tuple" and len(a[1]) == len(b[1]):
        for i, (x, y) in enumerate(zip(a[1], b[1], strict=True)):
            if unify([x, y]) is None:
                return f"Type mismatch for tuple element {i}: {mismatch(x, y)}"
    if kind(a) == "object" and kind(b) == "object" and set(a[1]) == set(b[1]):
        for name in sorted(a[1]):
            if unify([a[1][name], b[1][name]]) is None:
                return (f'Type mismatch for object attribute "{name}": '
                        f"{mismatch(a[1][name], b[1][name])}")
    return f"The 'true' value is {friendly(a)}, but the 'false' value is {friendly(b)}."


def unify_results(chosen: Any, other: Any, took_true: bool, node: Any) -> Any:
    """A conditional's chosen result converted to the type both results unify to (HCL's
    ConditionalExpr): a literal null or a wholly unknown result takes the other's type;
    results of no common type are an error at the conditional."""
    c, _ = _strip_all(chosen)
    o, _ = _strip_all(other)
    if o is None or o is UNKNOWN or c is UNKNOWN:
        return chosen
    if type(c) is type(o) and type(c) in (str, bool, int, float):
        return chosen  # the common case, settled without working out types
    ct, ot = cty_type(c), cty_type(o)
    if c is None:
        return chosen
    if ct == ot:
        return chosen
    t_true, t_false = (ct, ot) if took_true else (ot, ct)
    want = unify([t_true, t_false])
    if want is None:
        raise EvalError("The true and false result expressions must have consistent types. "
                        + mismatch(t_true, t_false), node.range,
                        summary="Inconsistent conditional result types")
    try:
        return convert_value(chosen, want)
    except ConversionError as e:
        which = node.true_result if took_true else node.false_result
        raise EvalError(f"The {'true' if took_true else 'false'} result value has the wrong "
                        f"type: {e}.", which.range,
                        summary="Incorrect conditional result type") from None


def check_results(true_value: Any, false_value: Any, node: Any) -> None:
    """A conditional with an unknown condition: its results must still have a common
    type (their values are not converted: either may come)."""
    a, _ = _strip_all(true_value)
    b, _ = _strip_all(false_value)
    if a is None or b is None or a is UNKNOWN or b is UNKNOWN:
        return
    ta, tb = cty_type(a), cty_type(b)
    if ta != tb and unify([ta, tb]) is None:
        raise EvalError("The true and false result expressions must have consistent types. "
                        + mismatch(ta, tb), node.range,
                        summary="Inconsistent conditional result types")


def _strip_all(value: Any) -> tuple[Any, bool]:
    sens = False
    while isinstance(value, Sensitive):
        value, sens = value.value, True
    return value, sens
