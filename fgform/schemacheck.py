"""A small JSON Schema (draft 2020-12) checker for the schemas fgform ships.

State and plan files are checked against their schemas before anything uses them, so that
a file of the wrong shape gives one clear message naming the JSON path
(`resources[3].instances[0].index_key: expected null, an integer >= 0 or a string`) instead
of a KeyError deep in the code. `jsonschema` would do it, but it is a test-only dependency
and costs more to import than a state file costs to read; this covers the subset of the
vocabulary the shipped schemas use:

    type, enum, const, pattern, minLength, minimum, minItems, minProperties, uniqueItems, required,
    properties, additionalProperties, propertyNames, items, oneOf, anyOf, if/then,
    $ref (to "#/$defs/..." of the same document)

and refuses, when a schema is loaded, any keyword it does not know, so a schema can never
silently ask for more than is checked. `tests/unit/test_schemacheck.py` compares it with
`jsonschema` on the real schemas and on bad samples.

Messages never quote a value that could be a secret: a type error says what was found
("got a string"), not what the string is; only the short scalars a pattern, enum or const
checks (versions, names, statuses) are shown.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

# Keywords that only describe (annotations): accepted and ignored.
_ANNOTATIONS = frozenset({"$schema", "$id", "$comment", "title", "description", "$defs",
                          "default", "examples"})
_CHECKED = frozenset({"type", "enum", "const", "pattern", "minLength", "minimum", "minItems",
                      "minProperties", "uniqueItems", "required", "properties",
                      "additionalProperties", "propertyNames", "items", "oneOf", "anyOf",
                      "if", "then", "$ref"})
_TYPE_NAMES = {"null": "null", "boolean": "a boolean", "integer": "an integer",
               "number": "a number", "string": "a string", "array": "an array",
               "object": "an object"}
_SHOWN = 60  # longest scalar quoted in a message


# Where a value sits, built cheaply while walking and formatted only for a message: () for
# the top level, else (parent location, key or index).
Location = tuple[Any, ...]


class SchemaError(ValueError):
    """A document that does not match its schema; `path` is where, `message` says why.

    Both are formatted on first use: while a oneOf or if is being tried, mismatches are
    raised and caught by the thousand and never shown.
    """

    def __init__(self, where: Location | str, message: str | Callable[[], str]) -> None:
        super().__init__()
        self._where = where
        self._message = message

    @property
    def path(self) -> str:
        return self._where if isinstance(self._where, str) else _format(self._where)

    @property
    def message(self) -> str:
        return self._message if isinstance(self._message, str) else self._message()

    def __str__(self) -> str:
        return f"{self.path or 'the top level'}: {self.message}"


def _format(where: Location) -> str:
    steps: list[Any] = []
    while where:
        where, key = where
        steps.append(key)
    out = ""
    for key in reversed(steps):
        out = _child(out, key)
    return out


def _type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _show(value: Any) -> str:
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        return text if len(text) <= _SHOWN else text[:_SHOWN - 4] + '..."'
    if value is None or isinstance(value, (bool, int, float)):
        return json.dumps(value)
    return _TYPE_NAMES.get(_type_of(value), "a value")


def _alternatives(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


def _child(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key, ensure_ascii=False)}]"


class Schema:
    """A loaded schema: `check(doc)` raises SchemaError at the first mismatch."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.root = schema
        self._compiled: dict[int, Check] = {}
        # Type-only checks and the Python types they accept: an array of such items is
        # checked in one C-level pass when every item's type is one of them.
        self._pure_types: dict[Check, frozenset[type]] = {}
        # Checks whose common success an object's check can see without calling them (a plan
        # file has ~10 small objects per resource): check -> (how, what), `how` one of
        # _TYPE (the value's type is in `what`), _ENUM (a str in `what`), _ARRAY (a list of
        # items whose types are all in `what`).
        self._quick: dict[Check, tuple[int, frozenset[Any]]] = {}
        self._root_check: Check | None = None
        self._verify(schema, "#")

    # -- loading ----------------------------------------------------------------------------
    def _verify(self, node: Any, where: str) -> None:
        """Refuse keywords this checker does not implement (they would pass unchecked)."""
        if not isinstance(node, dict):
            raise ValueError(f"schema {where} is not an object")
        unknown = set(node) - _ANNOTATIONS - _CHECKED
        if unknown:
            raise ValueError(f"schema {where} uses unsupported keywords {sorted(unknown)}")
        for key in ("properties", "$defs"):
            for name, sub in node.get(key, {}).items():
                self._verify(sub, f"{where}/{key}/{name}")
        for key in ("additionalProperties", "items", "propertyNames", "if", "then"):
            sub = node.get(key)
            if isinstance(sub, dict):
                self._verify(sub, f"{where}/{key}")
        for key in ("oneOf", "anyOf"):
            for i, sub in enumerate(node.get(key, [])):
                self._verify(sub, f"{where}/{key}/{i}")
        if "$ref" in node:
            self._resolve(node["$ref"])

    def _resolve(self, ref: str) -> dict[str, Any]:
        if not ref.startswith("#/$defs/"):
            raise ValueError(f"unsupported $ref {ref!r} (only #/$defs/NAME)")
        return self.root["$defs"][ref[len("#/$defs/"):]]

    # -- checking ---------------------------------------------------------------------------
    def check(self, doc: Any, path: str = "") -> None:
        """Raise SchemaError for the first place (in document order) `doc` does not match;
        `path` names where `doc` sits in a larger document, for the message."""
        self._check_root(doc, ((), path) if path else ())

    @property
    def _check_root(self) -> Check:
        if self._root_check is None:
            self._root_check = self._compile(self.root)
        return self._root_check

    def describe(self, node: dict[str, Any]) -> str:
        """What a value matching `node` looks like, for "expected ..." messages."""
        if "$ref" in node:
            return self.describe(self._resolve(node["$ref"]))
        if "title" in node:
            return str(node["title"])
        if "const" in node:
            return _show(node["const"])
        if "enum" in node:
            return "one of " + ", ".join(_show(v) for v in node["enum"])
        alts = node.get("oneOf") or node.get("anyOf")
        if alts:
            return _alternatives([self.describe(a) for a in alts])
        types = node.get("type")
        if types is None:
            return "a value"
        names = [_TYPE_NAMES[t] for t in ([types] if isinstance(types, str) else types)]
        text = _alternatives(names)
        if "minimum" in node:
            text += f" >= {node['minimum']}"
        return text

    def _compile(self, node: dict[str, Any]) -> Check:
        """One function that checks `node`'s keywords, built once per schema node (a walk
        that looked each keyword up at every value cost 5x more than parsing the JSON)."""
        key = id(node)
        done = self._compiled.get(key)
        if done is not None:
            return done
        checks: list[Check] = []

        def run(doc: Any, where: Location) -> None:
            for c in checks:
                c(doc, where)

        self._compiled[key] = run  # before the parts: a $ref cycle finds it here
        if "$ref" in node:
            target = self._compile(self._resolve(node["$ref"]))
            if target is not anything:
                checks.append(target)
        # An object or array check tests the type itself: one call less per value.
        fused = node.get("type") in ("object", "array") and (
            {"required", "minProperties", "properties", "additionalProperties",
             "propertyNames", "minItems", "items", "uniqueItems"} & node.keys())
        if "type" in node and not fused and not (self._types_of(node) or set()) >= _ALL_TYPES:
            checks.append(self._compile_pure_type(node) if node.keys() <= _TYPE_ONLY
                          else self._compile_type(node))
        if "const" in node:
            const = node["const"]

            def check_const(doc: Any, where: Location) -> None:
                if not _equal(doc, const):
                    raise SchemaError(where, lambda: f"expected {_show(const)}, got {_show(doc)}")
            checks.append(check_const)
        if "enum" in node:
            choices = node["enum"]
            scalars = frozenset(v for v in choices if isinstance(v, str))
            want = self.describe({"enum": choices})

            def check_enum(doc: Any, where: Location) -> None:
                if type(doc) is str and doc in scalars:
                    return
                if not any(_equal(doc, v) for v in choices):
                    raise SchemaError(where, lambda: f"expected {want}, got {_show(doc)}")
            checks.append(check_enum)
            self._quick[check_enum] = (_ENUM, scalars)
        for word in ("oneOf", "anyOf"):
            if word in node:
                checks.append(self._compile_alternatives(node[word], word == "oneOf"))
        if "minLength" in node or "pattern" in node:
            checks.append(self._compile_string(node))
        if "minimum" in node:
            low = node["minimum"]

            def check_minimum(doc: Any, where: Location) -> None:
                if type(doc) in (int, float) and doc < low:
                    raise SchemaError(where, lambda: f"expected a number >= {low}, got "
                                                     f"{_show(doc)}")
            checks.append(check_minimum)
        if {"minItems", "items", "uniqueItems"} & node.keys():
            checks.append(self._compile_array(node))
        if {"required", "minProperties", "properties", "additionalProperties",
                "propertyNames"} & node.keys():
            checks.append(self._compile_object(node))
        if "if" in node and "then" in node:
            cond, then = self._compile(node["if"]), self._compile(node["then"])

            def check_if(doc: Any, where: Location) -> None:
                try:
                    cond(doc, where)
                except SchemaError:
                    return
                then(doc, where)
            checks.append(check_if)
        if len(checks) <= 1:
            self._compiled[key] = checks[0] if checks else anything
        return self._compiled[key]

    def _compile_type(self, node: dict[str, Any]) -> Check:
        types = node["type"]
        names = frozenset([types] if isinstance(types, str) else types)
        accepted = frozenset(t for t, name in _PY_TYPES.items()
                             if name in names or (name == "integer" and "number" in names))
        want = self.describe(node)

        def check_type(doc: Any, where: Location) -> None:
            if type(doc) in accepted:
                return
            t = _type_of(doc)
            if t in names or (t == "integer" and "number" in names):
                return  # an integral float where an integer is asked, as jsonschema
            raise SchemaError(where, lambda: f"expected {want}, got "
                                             f"{_TYPE_NAMES.get(_type_of(doc), 'a value')}")
        return check_type

    def _compile_pure_type(self, node: dict[str, Any]) -> Check:
        """_compile_type, remembered as a type-only check (see _pure_types)."""
        check = self._compile_type(node)
        types = node["type"]
        names = frozenset([types] if isinstance(types, str) else types)
        self._pure_types[check] = frozenset(
            t for t, name in _PY_TYPES.items()
            if name in names or (name == "integer" and "number" in names))
        self._quick[check] = (_TYPE, self._pure_types[check])
        return check

    def _compile_alternatives(self, alts: list[dict[str, Any]], one: bool) -> Check:
        compiled = [self._compile(a) for a in alts]
        typed = [self._types_of(a) for a in alts]
        want = self.describe({"oneOf": alts})

        def fits(types: frozenset[str] | None, doc: Any) -> bool:
            t = _type_of(doc)
            return types is not None and (t in types or (t == "integer" and "number" in types))

        def check_alternatives(doc: Any, where: Location) -> None:
            hits = 0
            for c in compiled:
                try:
                    c(doc, where)
                except SchemaError:
                    continue
                hits += 1
                if not one:
                    return
            if hits == 1 and one:
                return
            if hits == 0:
                # One alternative of the value's type (an object where an object is
                # allowed): its own error says what is wrong inside.
                same = [c for c, types in zip(compiled, typed, strict=True) if fits(types, doc)]
                if len(same) == 1:
                    same[0](doc, where)
            raise SchemaError(where, lambda: f"expected {want}, got {_show(doc)}")
        return check_alternatives

    def _types_of(self, node: dict[str, Any]) -> frozenset[str] | None:
        if "$ref" in node:
            node = self._resolve(node["$ref"])
        types = node.get("type")
        if types is None:
            return None
        return frozenset([types] if isinstance(types, str) else types)

    def _compile_string(self, node: dict[str, Any]) -> Check:
        shortest = node.get("minLength", 0)
        pattern = re.compile(node["pattern"]) if "pattern" in node else None
        want = node.get("title") or f"a string matching {node.get('pattern')}"

        def check_string(doc: Any, where: Location) -> None:
            if type(doc) is not str:
                return
            if len(doc) < shortest:
                raise SchemaError(where, lambda: f"expected at least {shortest} "
                                                 f"character(s), got {_show(doc)}")
            if pattern is not None and not pattern.search(doc):
                raise SchemaError(where, lambda: f"expected {want}, got {_show(doc)}")
        return check_string

    def _compile_array(self, node: dict[str, Any]) -> Check:
        fewest = node.get("minItems", 0)
        items = self._compile(node["items"]) if "items" in node else None
        if items is anything:
            items = None
        unique = bool(node.get("uniqueItems"))
        wrong_type = self._compile_type(node) if node.get("type") == "array" else None
        item_types = self._pure_types.get(items) if items is not None else None

        def check_array(doc: Any, where: Location) -> None:
            if type(doc) is not list:
                if wrong_type is not None:
                    wrong_type(doc, where)
                return
            if len(doc) < fewest:
                raise SchemaError(where, f"expected at least {fewest} item(s), got {len(doc)}")
            if items is not None and not (item_types is not None
                                          and set(map(type, doc)) <= item_types):
                for i, x in enumerate(doc):
                    items(x, (where, i))
            if unique and len(doc) > 1:
                seen: list[Any] = []
                for i, x in enumerate(doc):
                    if any(_equal(x, y) for y in seen):
                        raise SchemaError((where, i), f"{_show(x)} is listed twice")
                    seen.append(x)
        if not fewest and not unique:
            # An empty array passes, and one of type-only items whose types all fit.
            self._quick[check_array] = (
                _ARRAY, item_types if item_types is not None else frozenset())
        return check_array

    def _compile_object(self, node: dict[str, Any]) -> Check:
        required = tuple(node.get("required", ()))
        fewest = node.get("minProperties", 0)
        props = {k: self._compile(v) for k, v in node.get("properties", {}).items()}
        wrong_type = self._compile_type(node) if node.get("type") == "object" else None
        extra_node = node.get("additionalProperties", True)
        extra = self._compile(extra_node) if isinstance(extra_node, dict) else None
        if extra is anything:
            extra = None
        closed = extra_node is False
        names = self._compile(node["propertyNames"]) if "propertyNames" in node else None
        names_want = self.describe(node["propertyNames"]) if "propertyNames" in node else ""
        allowed = ", ".join(sorted(props))
        # The common case, every property known and the required ones there, takes the short
        # way: only the properties with a check are visited, still in document order. Any
        # other document goes the long way, which finds its first problem in order.
        known, must = frozenset(props), frozenset(required)
        # key -> (its check, and how and what the check accepts without a call: _quick)
        to_check = {k: (c, *self._quick.get(c, (_CALL, frozenset())))
                    for k, c in props.items() if c is not anything}
        short = names is None and extra is None

        def check_object(doc: Any, where: Location) -> None:
            if type(doc) is not dict:
                if wrong_type is not None:
                    wrong_type(doc, where)
                return
            if short and must <= doc.keys() and len(doc) >= fewest \
                    and (not closed or doc.keys() <= known):
                for key, value in doc.items():
                    todo = to_check.get(key)
                    if todo is None:
                        continue
                    check, how, what = todo
                    if how == _TYPE:
                        if type(value) in what:
                            continue
                    elif how == _ENUM:
                        if type(value) is str and value in what:
                            continue
                    elif how == _ARRAY and type(value) is list \
                            and set(map(type, value)) <= what:
                        continue
                    check(value, (where, key))
                return
            for name in required:
                if name not in doc:
                    raise SchemaError(where, f"missing required property {_show(name)}")
            if len(doc) < fewest:
                raise SchemaError(where, f"expected at least {fewest} property(ies), got "
                                         f"{len(doc)}")
            for key, value in doc.items():
                if names is not None:
                    try:
                        names(key, ())
                    except SchemaError:
                        raise SchemaError((where, key), lambda k=key: f"property name "
                                          f"{_show(k)} is not {names_want}") from None
                check = props.get(key)
                if check is not None:
                    if check is not anything:
                        check(value, (where, key))
                elif closed:
                    raise SchemaError((where, key),
                                      f"unexpected property (expected only {allowed})")
                elif extra is not None:
                    extra(value, (where, key))
        return check_object


def anything(doc: Any, where: Location) -> None:
    """The check of a schema that accepts any value (skipped by its callers)."""


_ALL_TYPES = frozenset(_TYPE_NAMES) - {"integer"}  # "number" covers integers
_TYPE_ONLY = frozenset({"type"}) | _ANNOTATIONS
_CALL, _TYPE, _ENUM, _ARRAY = range(4)  # see Schema._quick
_PY_TYPES: dict[type, str] = {type(None): "null", bool: "boolean", int: "integer",
                              str: "string", list: "array", dict: "object"}
Check = Callable[[Any, Location], None]


def _equal(a: Any, b: Any) -> bool:
    # JSON equality: true is not 1, 1 equals 1.0.
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    return bool(type(a) is type(b) or (_type_of(a) in ("integer", "number")
                                        and _type_of(b) in ("integer", "number"))) and a == b


@cache
def packaged(package: str, name: str) -> Schema:
    """The schema file `name` shipped inside `package` (package data), loaded once."""
    # Beside the package's modules (importlib.resources would cost ~10 ms of imports).
    module = importlib.import_module(package)
    text = Path(module.__file__ or "").with_name(name).read_text(encoding="utf-8")
    return Schema(json.loads(text))
