"""Type constraints and Terraform's conversions."""

from __future__ import annotations

from typing import Any

import pytest

from fgform.config import types
from fgform.config.hcl import parse_expression
from fgform.values import UNKNOWN, Sensitive


def t(text: str) -> types.Type:
    return types.parse_type(parse_expression(text, "types.hcl"))


@pytest.mark.parametrize("text", [
    "string", "number", "bool", "any", "list(string)", "set(number)", "map(bool)",
    "tuple([string, number])", "list(map(any))",
    "object({a = string, b = optional(number)})",
])
def test_parse_and_render_round_trip(text: str) -> None:
    assert t(text).friendly() == text


@pytest.mark.parametrize("type_text,value,expected", [
    ("number", "5", 5),
    ("number", "1.5", 1.5),
    ("number", 7, 7),
    ("string", True, "true"),
    ("string", 5, "5"),
    ("string", 2.5, "2.5"),
    ("bool", "false", False),
    ("list(number)", ["1", 2], [1, 2]),
    ("set(string)", ["b", "a", "b"], ["a", "b"]),
    ("map(number)", {"a": "1"}, {"a": 1}),
    ("map(string)", {"a": 1, "b": True}, {"a": "1", "b": "true"}),  # object -> map
    ("tuple([string, number])", [1, "2"], ["1", 2]),
    ("object({a = string})", {"a": "x", "extra": 1}, {"a": "x"}),
    ("object({a = string, b = optional(number, 3)})", {"a": "x"}, {"a": "x", "b": 3}),
    ("object({a = string, b = optional(number)})", {"a": "x"}, {"a": "x", "b": None}),
    ("object({b = optional(number, 3)})", {"b": None}, {"b": 3}),
    ("list(object({port = number, proto = optional(string, \"tcp\")}))",
     [{"port": "80"}, {"port": 53, "proto": "udp"}],
     [{"port": 80, "proto": "tcp"}, {"port": 53, "proto": "udp"}]),
    ("object({inner = optional(object({n = optional(number, 1)}), {})})", {},
     {"inner": {"n": 1}}),
    ("any", {"x": [1]}, {"x": [1]}),
    ("number", None, None),
])
def test_convert(type_text: str, value: Any, expected: Any) -> None:
    assert types.convert(value, t(type_text)) == expected


@pytest.mark.parametrize("type_text,value,message", [
    ("number", "five", 'a number is required, not the string "five"'),
    ("number", True, "a number is required"),
    ("bool", "yes", "a bool is required"),
    ("string", [1], "a string is required"),
    ("list(number)", [1, "x"], 'element 1: a number is required, not the string "x"'),
    ("list(string)", "a", "a list of string is required"),
    ("map(number)", {"a": "x"}, 'attribute "a": a number is required, not the string "x"'),
    ("object({a = string})", {}, 'attribute "a" is required'),
    ("object({a = list(number)})", {"a": [1, 2, {}]}, 'attribute "a": element 2: a number '
     "is required"),
    ("tuple([string])", ["a", "b"], "a tuple of 1 elements is required (got 2)"),
    ("object({a = string})", "x", "an object is required"),
])
def test_mismatch_names_the_path(type_text: str, value: Any, message: str) -> None:
    with pytest.raises(types.TypeMismatch) as exc:
        types.convert(value, t(type_text))
    assert exc.value.message == message


def test_unknown_and_sensitive_pass_through() -> None:
    assert types.convert(UNKNOWN, t("number")) is UNKNOWN
    assert types.convert([UNKNOWN, "2"], t("list(number)")) == [UNKNOWN, 2]
    assert types.convert(Sensitive("5"), t("number")) == Sensitive(5)
    assert types.convert({"a": Sensitive("1")}, t("map(number)")) == {"a": Sensitive(1)}


@pytest.mark.parametrize("text,error", [
    ("strin", 'The keyword "strin" is not a valid type specification.'),
    # A bare list (or map) is valid: Terraform 1.11 takes it as list(any); a bare set not.
    ("set", "The set type constructor requires one argument"),
    ("optional(string)", 'Keyword "optional" is valid only as a modifier'),
    ("object({a = optional(number, \"x\")})", 'Invalid default value for optional attribute'),
    ("frob(string)", 'Keyword "frob" is not a valid type constructor.'),
])
def test_invalid_type_specifications(text: str, error: str) -> None:
    with pytest.raises(types.TypeSyntaxError) as exc:
        t(text)
    assert error in str(exc.value)
    assert exc.value.range is not None


@pytest.mark.parametrize("text", ["string", "list(string)", "map(string)", "list(any)",
                                  "map(list(number))"])
def test_schema_type_strings(text: str) -> None:
    assert types.parse_type_string(text).friendly() == text
