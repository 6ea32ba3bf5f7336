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

import json
import re
from functools import cache
from importlib import resources
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


class SchemaError(ValueError):
    """A document that does not match its schema; `path` is where, `message` says why."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path or 'the top level'}: {message}")
        self.path = path
        self.message = message


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


def _matches_type(value: Any, name: str) -> bool:
    t = _type_of(value)
    return t == name or (name == "number" and t == "integer")


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
        """Raise SchemaError for the first place (in document order) `doc` does not match."""
        self._check(self.root, doc, path)

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

    def _type_fits(self, node: dict[str, Any], doc: Any) -> bool:
        if "$ref" in node:
            node = self._resolve(node["$ref"])
        types = node.get("type")
        if types is None:
            return False
        names = [types] if isinstance(types, str) else types
        return any(_matches_type(doc, t) for t in names)

    def _matches(self, node: dict[str, Any], doc: Any) -> bool:
        try:
            self._check(node, doc, "")
        except SchemaError:
            return False
        return True

    def _check(self, node: dict[str, Any], doc: Any, path: str) -> None:
        if "$ref" in node:
            self._check(self._resolve(node["$ref"]), doc, path)
        types = node.get("type")
        if types is not None:
            names = [types] if isinstance(types, str) else types
            if not any(_matches_type(doc, t) for t in names):
                raise SchemaError(path, f"expected {self.describe(node)}, got "
                                        f"{_TYPE_NAMES.get(_type_of(doc), 'a value')}")
        if "const" in node and not _equal(doc, node["const"]):
            raise SchemaError(path, f"expected {_show(node['const'])}, got {_show(doc)}")
        if "enum" in node and not any(_equal(doc, v) for v in node["enum"]):
            raise SchemaError(path, f"expected {self.describe({'enum': node['enum']})}, "
                                    f"got {_show(doc)}")
        for key in ("oneOf", "anyOf"):
            alts = node.get(key)
            if alts is not None:
                hits = sum(1 for a in alts if self._matches(a, doc))
                if hits == 0:
                    # One alternative of the value's type (an object where an object is
                    # allowed): its own error says what is wrong inside.
                    same = [a for a in alts if self._type_fits(a, doc)]
                    if len(same) == 1:
                        self._check(same[0], doc, path)
                if hits == 0 or (key == "oneOf" and hits > 1):
                    raise SchemaError(path, f"expected {self.describe({key: alts})}, got "
                                            f"{_show(doc)}")
        if isinstance(doc, str) and len(doc) < node.get("minLength", 0):
            raise SchemaError(path, f"expected at least {node['minLength']} character(s), "
                                    f"got {_show(doc)}")
        if isinstance(doc, str) and "pattern" in node and not re.search(node["pattern"], doc):
            want = node.get("title") or f"a string matching {node['pattern']}"
            raise SchemaError(path, f"expected {want}, got {_show(doc)}")
        if "minimum" in node and _type_of(doc) in ("integer", "number") \
                and doc < node["minimum"]:
            raise SchemaError(path, f"expected a number >= {node['minimum']}, got {_show(doc)}")
        if isinstance(doc, list):
            self._check_array(node, doc, path)
        elif isinstance(doc, dict):
            self._check_object(node, doc, path)
        if "if" in node and self._matches(node["if"], doc) and "then" in node:
            self._check(node["then"], doc, path)

    def _check_array(self, node: dict[str, Any], doc: list[Any], path: str) -> None:
        if len(doc) < node.get("minItems", 0):
            raise SchemaError(path, f"expected at least {node['minItems']} item(s), got "
                                    f"{len(doc)}")
        items = node.get("items")
        if items is not None:
            for i, x in enumerate(doc):
                self._check(items, x, _child(path, i))
        if node.get("uniqueItems"):
            seen: list[Any] = []
            for i, x in enumerate(doc):
                if any(_equal(x, y) for y in seen):
                    raise SchemaError(_child(path, i), f"{_show(x)} is listed twice")
                seen.append(x)

    def _check_object(self, node: dict[str, Any], doc: dict[str, Any], path: str) -> None:
        for name in node.get("required", ()):
            if name not in doc:
                raise SchemaError(path, f"missing required property {_show(name)}")
        if len(doc) < node.get("minProperties", 0):
            raise SchemaError(path, f"expected at least {node['minProperties']} "
                                    "property(ies), got none" if not doc else
                                    f"expected at least {node['minProperties']} properties")
        props = node.get("properties", {})
        extra = node.get("additionalProperties", True)
        names = node.get("propertyNames")
        for key, value in doc.items():
            if names is not None and not self._matches(names, key):
                raise SchemaError(_child(path, key),
                                  f"property name {_show(key)} is not "
                                  f"{self.describe(names)}")
            if key in props:
                self._check(props[key], value, _child(path, key))
            elif extra is False:
                allowed = ", ".join(sorted(props))
                raise SchemaError(_child(path, key),
                                  f"unexpected property (expected only {allowed})")
            elif isinstance(extra, dict):
                self._check(extra, value, _child(path, key))


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
    text = resources.files(package).joinpath(name).read_text(encoding="utf-8")
    return Schema(json.loads(text))
