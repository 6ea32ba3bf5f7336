"""matchkeys, issensitive and ephemeralasnull, with Terraform's treatment of unknown
values and sensitive marks."""

from __future__ import annotations

from typing import Any

from fgform.config.conversions import ConversionError, strip, to_string, values_equal
from fgform.config.fn_base import FuncError
from fgform.config.unify import to_collection
from fgform.values import UNKNOWN, ListValue, Sensitive, contains_unknown


def matchkeys(values: Any, keys: Any, searchset: Any) -> Any:
    """The elements of `values` whose key (same position in `keys`) is in `searchset`.
    Unknown values or keys make the result unknown; an unknown element of the search set
    matches nothing (as in Terraform, where it compares unequal)."""
    for i, arg in enumerate((values, keys, searchset)):
        if arg is None:
            raise FuncError("argument must not be null", i)
        if arg is not UNKNOWN and not isinstance(arg, list):
            raise FuncError("list of values required", i)
    if values is UNKNOWN or keys is UNKNOWN or searchset is UNKNOWN:
        return UNKNOWN
    if len(values) != len(keys):
        raise FuncError("length of keys and values should be equal", None)
    if contains_unknown(keys) or contains_unknown(values):
        return UNKNOWN
    wanted = [s for s in searchset if s is not None and not contains_unknown(s)]
    try:
        # The result is a list of the values' element type (Terraform converts `values`).
        typed = to_collection(values, "list")
    except ConversionError as exc:
        raise FuncError(str(exc), 0) from None
    return ListValue([v for v, k in zip(typed, keys, strict=True)
                      if k is not None and any(_same_key(k, s) for s in wanted)], typed.etype)


def _same_key(a: Any, b: Any) -> bool:
    """Keys and search set are converted to one type first: [1, 2] against ["1"] matches."""
    if values_equal(a, b):
        return True
    scalars = (str, int, float, bool)
    if isinstance(a, scalars) and isinstance(b, scalars) and type(a) is not type(b):
        try:
            return to_string(a) == to_string(b)
        except ConversionError:
            return False
    return False


def issensitive(value: Any) -> Any:
    """Whether the value itself is marked sensitive (a mark nested inside does not count,
    as in Terraform). An unknown value that is not marked: not known yet."""
    if isinstance(value, Sensitive):
        return True
    return UNKNOWN if strip(value)[0] is UNKNOWN else False


def ephemeralasnull(value: Any) -> Any:
    """fgform has no ephemeral values, so every value is returned as it is."""
    return value
