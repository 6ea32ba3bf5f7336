"""Terraform type constraints and value conversion.

A variable's `type` is an expression (`list(object({a = optional(number, 1)}))`) that the
loader keeps as an AST node; `parse_type` turns it into a `Type`. The schema tables write
their types as strings (`"map(string)"`), which `parse_type_string` reads into the same form,
so variables and resource attributes convert values by one set of rules: Terraform's.

`convert(value, type)` follows Terraform's safe conversions: "5" -> 5 for a number, true ->
"true" for a string, an object -> a map, an object's missing optional attributes filled with
their defaults (or null), extra object attributes dropped. A failure raises `TypeMismatch`
whose message names the path of the mismatch ("element 1: a number is required").
`UNKNOWN` converts to itself at any depth, and `Sensitive` marks are kept around the
converted value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from fgform import numbers
from fgform.config import ast
from fgform.config.conversions import ConversionError, to_bool
from fgform.config.unify import convert_value, set_of, unify
from fgform.errors import SourceRange
from fgform.suggest import did_you_mean
from fgform.values import (
    UNKNOWN,
    ListValue,
    MapValue,
    Sensitive,
    copy_value,
    cty_type,
    typed_object,
    typed_tuple,
)


class TypeMismatch(ValueError):
    """A value does not fit a type; `path` is where inside the value, `reason` is why.

    `quoted` is the part of the reason that shows the value (`, not the string "abc"`);
    `sensitive_from` is set to the depth of `path` at which the value became sensitive, and
    from there on the message shows neither the value nor the map keys inside it."""

    def __init__(self, reason: str, path: tuple[str | int, ...] = (), quoted: str = "") -> None:
        self.reason = reason
        self.path = path
        self.quoted = quoted
        self.sensitive_from: int | None = None
        super().__init__(reason + quoted)

    @property
    def message(self) -> str:
        """The reason, prefixed by where in the value: `element 1: a number is required`."""
        cut = len(self.path) if self.sensitive_from is None else self.sensitive_from
        steps = [_path_step(p) for i, p in enumerate(self.path)
                 if i < cut or not isinstance(p, _MapKey)]
        prefix = "".join(s + ": " for s in steps)
        return prefix + self.reason + (self.quoted if self.sensitive_from is None else "")


class _MapKey(str):
    """A path step that is a key of the value itself (a map's), not of its type: hidden when
    the value is sensitive."""

    __slots__ = ()


def _path_step(p: str | int) -> str:
    # Terraform says `element 1` for lists and `attribute "a"` for objects and maps.
    return f"element {p}" if isinstance(p, int) else f'attribute "{p}"'


class TypeSyntaxError(ValueError):
    """A type expression that is not a valid type constraint; `summary` heads its error."""

    def __init__(self, message: str, range: SourceRange | None = None,
                 summary: str = "Invalid type specification", hint: str = "") -> None:
        super().__init__(message)
        self.range = range
        self.summary = summary
        self.hint = hint


# -- the type model -----------------------------------------------------------------------
class Type:
    """Base of all type constraints."""

    def friendly(self) -> str:
        """The type as a user writes it: `list(string)`."""
        raise NotImplementedError

    def __str__(self) -> str:
        return self.friendly()


@dataclass(frozen=True)
class Primitive(Type):
    """string, number or bool."""

    name: str  # "string", "number", "bool"

    def friendly(self) -> str:
        return self.name


@dataclass(frozen=True)
class AnyType(Type):
    """`any`: the value is kept as it is."""

    def friendly(self) -> str:
        return "any"


@dataclass(frozen=True)
class ListType(Type):
    """`list(T)`: an ordered sequence of T."""

    element: Type

    def friendly(self) -> str:
        return f"list({self.element.friendly()})"


@dataclass(frozen=True)
class SetType(Type):
    """`set(T)`: unique values of T, ordered by value."""

    element: Type

    def friendly(self) -> str:
        return f"set({self.element.friendly()})"


@dataclass(frozen=True)
class MapType(Type):
    """`map(T)`: string keys to values of T."""

    element: Type

    def friendly(self) -> str:
        return f"map({self.element.friendly()})"


@dataclass(frozen=True)
class TupleType(Type):
    """`tuple([A, B])`: a fixed-length sequence of given types."""

    elements: tuple[Type, ...]

    def friendly(self) -> str:
        return "tuple([" + ", ".join(e.friendly() for e in self.elements) + "])"


@dataclass(frozen=True)
class ObjectType(Type):
    """`object({a = T, b = optional(U, default)})`: named attributes."""

    attributes: dict[str, Type] = field(hash=False)
    # Optional attribute name -> its default (None when `optional(T)` has no default).
    optional: dict[str, Any] = field(default_factory=dict, hash=False)

    def friendly(self) -> str:
        parts = []
        for name, t in self.attributes.items():
            if name in self.optional:
                d = self.optional[name]
                inner = t.friendly() if d is None else f"{t.friendly()}, {d!r}"
                parts.append(f"{name} = optional({inner})")
            else:
                parts.append(f"{name} = {t.friendly()}")
        return "object({" + ", ".join(parts) + "})"


STRING = Primitive("string")
NUMBER = Primitive("number")
BOOL = Primitive("bool")
ANY = AnyType()

_PRIMITIVES: dict[str, Type] = {"string": STRING, "number": NUMBER, "bool": BOOL, "any": ANY}
_COLLECTIONS = {"list": ListType, "set": SetType, "map": MapType}


# -- parsing type expressions -------------------------------------------------------------
def parse_type(node: ast.Node, evaluate_default: Any = None) -> Type:
    """Read a type constraint from a variable's `type` expression node.

    `evaluate_default(node) -> value` evaluates the default of `optional(T, default)`; when
    not given, the expression evaluator is used with an empty context.
    """
    # Terraform still takes a bare `list` or `map` as a whole variable type (0.11's
    # legacy: list(any), map(any)), never inside another type.
    if isinstance(node, ast.Variable) and node.name in ("list", "map"):
        return _COLLECTIONS[node.name](ANY)
    return _parse_type(node, evaluate_default)


def _parse_type(node: ast.Node, evaluate_default: Any = None) -> Type:
    """A type constraint, in Terraform's words when it is not one (typeexpr's messages,
    recorded from Terraform 1.11)."""
    if isinstance(node, ast.Parens):
        return _parse_type(node.inner, evaluate_default)
    if isinstance(node, ast.Variable):
        t = _PRIMITIVES.get(node.name)
        if t is None:
            if node.name in _COLLECTIONS:
                raise TypeSyntaxError(
                    f'The {node.name} type constructor requires one argument specifying '
                    'the element type.', node.range)
            raise TypeSyntaxError(f'The keyword "{node.name}" is not a valid type '
                                  "specification.", node.range,
                                  hint=did_you_mean(node.name, [*_PRIMITIVES, *_COLLECTIONS],
                                                    "type"))
        return t
    if isinstance(node, ast.Literal) and isinstance(node.value, str):
        raise _quoted_type(node.value, node.range)
    if isinstance(node, ast.Call):
        name, args = node.name, node.args
        if name in _COLLECTIONS:
            if len(args) != 1:
                raise TypeSyntaxError(f"The {name} type constructor requires one argument "
                                      "specifying the element type.", node.range)
            return _COLLECTIONS[name](_parse_type(args[0], evaluate_default))
        if name == "tuple":
            if len(args) != 1:
                raise TypeSyntaxError("The tuple type constructor requires one argument "
                                      "specifying the element types as a list.", node.range)
            if not isinstance(args[0], ast.Tuple):
                raise TypeSyntaxError("Tuple type constructor requires a list of element "
                                      "types.", node.range)
            return TupleType(tuple(_parse_type(a, evaluate_default) for a in args[0].items))
        if name == "object":
            if len(args) != 1:
                raise TypeSyntaxError("The object type constructor requires one argument "
                                      "specifying the attribute types and values as a map.",
                                      node.range)
            if not isinstance(args[0], ast.Object):
                raise TypeSyntaxError("Object type constructor requires a map whose keys are "
                                      "attribute names and whose values are the "
                                      "corresponding attribute types.", node.range)
            return _parse_object(args[0], evaluate_default)
        if name == "optional":
            raise TypeSyntaxError("Keyword \"optional\" is valid only as a modifier for "
                                  "object type attributes.", node.range)
        if name == "any":
            raise TypeSyntaxError('Type constraint keyword "any" does not expect arguments.',
                                  node.range)
        if name in _PRIMITIVES:
            raise TypeSyntaxError(f'Primitive type keyword "{name}" does not expect '
                                  "arguments.", node.range)
        raise TypeSyntaxError(f'Keyword "{name}" is not a valid type constructor.',
                              node.range)
    raise TypeSyntaxError("A type specification is either a primitive type keyword (bool, "
                          "number, string), any, or a complex type constructor call, like "
                          "list(string).", node.range)


def _parse_object(obj: ast.Object, evaluate_default: Any) -> ObjectType:
    attrs: dict[str, Type] = {}
    optional: dict[str, Any] = {}
    for key_node, value_node in obj.items:
        key = _object_key(key_node)
        if key in attrs:
            raise TypeSyntaxError("Object constructor map keys must be unique.",
                                  key_node.range)
        if isinstance(value_node, ast.Call) and value_node.name == "optional":
            if not value_node.args:
                raise TypeSyntaxError("Optional attribute modifier requires the attribute "
                                      "type as its argument.", value_node.range)
            if len(value_node.args) > 2:
                raise TypeSyntaxError("Optional attribute modifier expects at most two "
                                      "arguments: the attribute type, and a default value.",
                                      value_node.range)
            t = _parse_type(value_node.args[0], evaluate_default)
            default = None
            if len(value_node.args) == 2:
                raw = _eval_default(value_node.args[1], evaluate_default)
                try:
                    default = convert(raw, t)
                except TypeMismatch as exc:
                    raise TypeSyntaxError(f'Invalid default value for optional attribute '
                                          f'"{key}": {exc.message}.',
                                          value_node.args[1].range) from None
            attrs[key] = t
            optional[key] = default
        else:
            attrs[key] = _parse_type(value_node, evaluate_default)
    return ObjectType(attrs, optional)


def _quoted_type(text: str, range: SourceRange | None) -> TypeSyntaxError:
    # Terraform 0.11's quoted types: Terraform 0.12+ rejects them, in these words.
    message = ("Terraform 0.11 and earlier required type constraints to be given in quotes, "
               "but that form is now deprecated and will be removed in a future version of "
               f'Terraform. Remove the quotes around "{text}"')
    if text in _COLLECTIONS:
        message += (f" and write {text}(string) instead to explicitly indicate that the "
                    f"{text} elements are strings")
    elif text not in _PRIMITIVES:
        return TypeSyntaxError(
            "A type specification is either a primitive type keyword (bool, number, "
            "string), any, or a complex type constructor call, like list(string); "
            f'"{text}" is a quoted string.', range)
    return TypeSyntaxError(message + ".", range, "Invalid quoted type constraints")


def _object_key(node: ast.Node) -> str:
    if isinstance(node, ast.Literal) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Variable):
        return node.name
    if isinstance(node, ast.Template) and all(isinstance(p, str) for p in node.parts):
        return "".join(node.parts)
    raise TypeSyntaxError("Object constructor map keys must be attribute names.", node.range)


def _eval_default(node: ast.Node, evaluate_default: Any) -> Any:
    if evaluate_default is not None:
        return evaluate_default(node)
    if isinstance(node, ast.Literal):
        return node.value
    # The evaluator and the function library are optional here.
    from fgform.config.expr import EvalContext, evaluate
    from fgform.config.functions import call

    return evaluate(node, EvalContext(functions=call))


_TOKEN = re.compile(r"\s*([A-Za-z_]+|[(),\[\]])")


def parse_type_string(text: str) -> Type:
    """Parse a schema table's type string: `string`, `list(string)`, `map(list(any))`."""
    tokens = [m.group(1) for m in _TOKEN.finditer(text)]
    pos = 0

    def parse() -> Type:
        nonlocal pos
        word = tokens[pos]
        pos += 1
        if word in _PRIMITIVES:
            return _PRIMITIVES[word]
        if word in _COLLECTIONS and pos < len(tokens) and tokens[pos] == "(":
            pos += 1
            inner = parse()
            pos += 1  # ")"
            return _COLLECTIONS[word](inner)
        raise ValueError(f"unsupported schema type {text!r}")

    t = parse()
    if pos != len(tokens):
        raise ValueError(f"unsupported schema type {text!r}")
    return t


# -- conversion ---------------------------------------------------------------------------
def _article(t: Type) -> str:
    text = t.friendly()
    if isinstance(t, Primitive):
        return f"a {text}"
    if isinstance(t, ObjectType):
        return "an object"
    if isinstance(t, TupleType):
        return "a tuple"
    if isinstance(t, ListType):
        return f"a list of {t.element.friendly()}"
    if isinstance(t, SetType):
        return f"a set of {t.element.friendly()}"
    if isinstance(t, MapType):
        return f"a map of {t.element.friendly()}"
    return text


def _format_number(v: int | float) -> str:
    return numbers.to_string(v)


def _parse_number(text: str) -> int | float | None:
    if text.strip() != text:
        return None
    try:
        return numbers.parse(text)
    except numbers.NumberError:
        return None


def convert(value: Any, type_: Type, _path: tuple[str | int, ...] = ()) -> Any:
    """Convert a value to a type by Terraform's rules, or raise TypeMismatch.

    null converts to null for every type (whether null is allowed is the caller's business:
    `nullable` for variables, `required` for attributes).
    """
    if value is UNKNOWN or value is None:
        return value
    if isinstance(value, Sensitive):
        try:
            return Sensitive(convert(value.value, type_, _path))
        except TypeMismatch as exc:
            if exc.sensitive_from is None:
                exc.sensitive_from = len(_path)
            raise
    if isinstance(type_, AnyType):
        return value
    if isinstance(type_, Primitive):
        return _convert_primitive(value, type_, _path)
    if isinstance(type_, (ListType, SetType)):
        items = _as_sequence(value, type_, _path)
        out = [convert(v, type_.element, (*_path, i)) for i, v in enumerate(items)]
        etype = _element_type(out, type_, _path)
        if etype != type_json(type_.element):
            out = [convert_value(v, etype) for v in out]
        if isinstance(type_, SetType):
            return set_of(out, etype)
        return ListValue(out, etype)
    if isinstance(type_, TupleType):
        items = _as_sequence(value, type_, _path)
        if len(items) != len(type_.elements):
            raise TypeMismatch(f"a tuple of {len(type_.elements)} elements is required "
                               f"(got {len(items)})", _path)
        # A null element keeps its declared type (Terraform's nulls are typed).
        return typed_tuple([convert(v, t, (*_path, i)) for i, (v, t) in
                            enumerate(zip(items, type_.elements, strict=True))],
                           [type_json(t) for t in type_.elements])
    if isinstance(type_, MapType):
        if not isinstance(value, dict):
            raise TypeMismatch(f"{_article(type_)} is required", _path)
        out_map = {k: convert(v, type_.element, (*_path, _MapKey(k))) for k, v in value.items()}
        etype = _element_type(list(out_map.values()), type_, _path)
        if etype != type_json(type_.element):
            out_map = {k: convert_value(v, etype) for k, v in out_map.items()}
        return MapValue(out_map, etype)
    if isinstance(type_, ObjectType):
        if not isinstance(value, dict):
            raise TypeMismatch("an object is required", _path)
        out_obj: dict[str, Any] = {}
        for name, t in type_.attributes.items():
            if name in value and value[name] is not None:
                out_obj[name] = convert(value[name], t, (*_path, name))
            elif name in type_.optional:
                out_obj[name] = copy_value(type_.optional[name])
            elif name in value:
                out_obj[name] = None
            else:
                raise TypeMismatch(f'attribute "{name}" is required', _path)
        # Terraform drops attributes the object type does not declare; a null attribute
        # keeps its declared type (an unset `optional(list(string))` is a null list).
        return typed_object(out_obj, {k: type_json(t) for k, t in type_.attributes.items()})
    raise TypeMismatch(f"unsupported type {type_}", _path)


def type_json(t: Type) -> Any:
    """A type constraint in Terraform's JSON form ("string", ["list", "number"]); `any`
    is "dynamic"."""
    if isinstance(t, Primitive):
        return t.name
    if isinstance(t, (ListType, SetType, MapType)):
        kind = "list" if isinstance(t, ListType) else "set" if isinstance(t, SetType) else "map"
        return [kind, type_json(t.element)]
    if isinstance(t, TupleType):
        return ["tuple", [type_json(e) for e in t.elements]]
    if isinstance(t, ObjectType):
        return ["object", {k: type_json(v) for k, v in sorted(t.attributes.items())}]
    return "dynamic"


def _has_any(t: Type) -> bool:
    if isinstance(t, AnyType):
        return True
    if isinstance(t, (ListType, SetType, MapType)):
        return _has_any(t.element)
    if isinstance(t, TupleType):
        return any(_has_any(e) for e in t.elements)
    if isinstance(t, ObjectType):
        return any(_has_any(a) for a in t.attributes.values())
    return False


def _element_type(items: list[Any], type_: ListType | SetType | MapType,
                  path: tuple[str | int, ...]) -> Any:
    """The element type of a converted collection: the constraint's, or where it says
    `any`, the type the converted elements unify to (`list(any)` of `[1, "a"]` is a list
    of string, as in Terraform)."""
    if not _has_any(type_.element):
        return type_json(type_.element)
    types = [cty_type(v) for v in items]
    if not types:
        return type_json(type_.element)
    etype = unify(types)
    if etype is None:
        kind = "list" if isinstance(type_, ListType) else (
            "set" if isinstance(type_, SetType) else "map")
        raise TypeMismatch(f"all {kind} elements must have the same type", path)
    return etype


def _as_sequence(value: Any, type_: Type, path: tuple[str | int, ...]) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return list(value)
    raise TypeMismatch(f"{_article(type_)} is required", path)


def _convert_primitive(value: Any, type_: Primitive, path: tuple[str | int, ...]) -> Any:
    name = type_.name
    if name == "string":
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return _format_number(value)
        raise TypeMismatch("a string is required", path)
    if name == "number":
        if isinstance(value, bool):
            raise TypeMismatch("a number is required", path)
        if isinstance(value, (int, float)):
            return value
        if isinstance(value, str):
            n = _parse_number(value)
            if n is not None:
                return n
            raise TypeMismatch("a number is required", path, f', not the string "{value}"')
        raise TypeMismatch("a number is required", path)
    if name == "bool":
        try:
            return to_bool(value)
        except ConversionError:
            raise TypeMismatch("a bool is required", path) from None
    raise TypeMismatch(f"unsupported type {name}", path)
