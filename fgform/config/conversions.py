"""HCL's value conversions and marks, shared by the evaluator and the function library:
Sensitive marks (strip, mark, ...), type names for messages, number/bool/string conversion,
and equality without conversion."""

from __future__ import annotations

from typing import Any

from fgform import numbers
from fgform.values import UNKNOWN, ListValue, MapValue, Sensitive, cty_type, retyped


def strip(value: Any) -> tuple[Any, bool]:
    """Unwrap a top-level Sensitive mark: (value, was_sensitive)."""
    if isinstance(value, Sensitive):
        inner = value.value
        while isinstance(inner, Sensitive):
            inner = inner.value
        return inner, True
    return value, False


def has_sensitive(value: Any) -> bool:
    """True when the value or anything nested in it is marked sensitive."""
    if isinstance(value, Sensitive):
        return True
    if isinstance(value, dict):
        return any(has_sensitive(v) for v in value.values())
    if isinstance(value, list):
        return any(has_sensitive(v) for v in value)
    return False


def deep_unmark(value: Any) -> Any:
    """Drop every Sensitive mark, however deep."""
    if isinstance(value, Sensitive):
        return deep_unmark(value.value)
    if isinstance(value, dict):
        return retyped(value, {k: deep_unmark(v) for k, v in value.items()})
    if isinstance(value, list):
        return retyped(value, [deep_unmark(v) for v in value])
    return value


def mark(value: Any, sensitive: bool) -> Any:
    """Mark a result sensitive when any input was."""
    if sensitive and not isinstance(value, Sensitive):
        return Sensitive(value)
    return value


def type_name(value: Any) -> str:
    """The HCL name of a value's type, for error messages."""
    value, _ = strip(value)
    if value is None:
        return "null"
    if value is UNKNOWN:
        return "unknown value"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, ListValue | MapValue):
        return friendly_type(cty_type(value))
    if isinstance(value, (list, tuple)):
        return "tuple"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def friendly_type(t: Any) -> str:
    """A type in Terraform's JSON form as its messages name it: `number`, `tuple`,
    `list of string`, `map of list of number`."""
    if isinstance(t, str):
        return t
    if t[0] in ("list", "set", "map"):
        return f"{t[0]} of {friendly_type(t[1])}"
    return t[0]


def norm_number(n: int | float) -> int | float:
    """A number in its canonical form (fgform/numbers.py): a plain float that is whole and
    below 2**53 becomes an int (2.0 -> 2); exact numbers stay as they are."""
    return numbers.normalize(n)


class ConversionError(Exception):
    """A value cannot be converted to the wanted type; the message reads in a sentence."""


def to_number(value: Any, sensitive: bool = False) -> int | float:
    """HCL's number conversion: numbers as they are, numeric strings parsed. A `sensitive`
    value is not quoted by the error."""
    if isinstance(value, bool):
        raise ConversionError("a number is required, got bool")
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            n = numbers.parse(value) if value.strip() == value else None
        except numbers.NumberError as e:
            raise ConversionError(str(e)) from None
        if n is not None:
            return n
        raise ConversionError("cannot convert this sensitive string to a number" if sensitive
                              else f'cannot convert "{value}" to a number')
    if value is None:
        raise ConversionError("a number is required, got null")
    raise ConversionError(f"a number is required, got {type_name(value)}")


def to_bool(value: Any, sensitive: bool = False) -> bool:
    """HCL's bool conversion: true/false, or the strings "true"/"false". A `sensitive` value
    is not quoted by the error."""
    if isinstance(value, bool):
        return value
    if value == "true":
        return True
    if value == "false":
        return False
    if value is None:
        raise ConversionError("a bool is required, got null")
    if isinstance(value, str):
        shown = "this sensitive string" if sensitive else f'"{value}"'
        raise ConversionError(f'cannot convert {shown} to a bool; only "true" or "false" '
                              "are allowed")
    raise ConversionError(f"a bool is required, got {type_name(value)}")


def format_number(n: int | float) -> str:
    """A number as Terraform writes it in strings (fgform/numbers.py's `to_string`)."""
    return numbers.to_string(n)


def to_string(value: Any) -> str:
    """HCL's string conversion: strings, numbers and bools; not null or collections."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return format_number(value)
    if value is None:
        raise ConversionError("a string is required, got null")
    raise ConversionError(f"a string is required, got {type_name(value)}")


def values_equal(a: Any, b: Any) -> bool:
    """HCL equality: no conversion between types; 1 == 1.0; true != 1; values of different
    types are never equal (`tolist([1]) == [1]` is false: a list is not a tuple), and
    null equals only null."""
    if a is None or b is None:
        return a is None and b is None
    if not isinstance(a, (list, dict)) or not isinstance(b, (list, dict)):
        return _same(a, b)  # primitives: no type to work out beyond theirs
    if cty_type(a) != cty_type(b):
        return False
    return _same(a, b)


def _same(a: Any, b: Any) -> bool:
    # Values of one type: their types' parts agree, so only the values are compared.
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return numbers.equal(a, b)
    if type(a) is not type(b):
        return False
    return a == b
