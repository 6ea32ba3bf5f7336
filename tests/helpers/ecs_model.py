"""Checking API responses against botocore's own model of ECS (output shapes: member names,
types, enums), for the unit tests of the API's actions."""

from __future__ import annotations

from typing import Any


def conforms(value: Any, shape: Any, path: str = "") -> list[str]:
    """Where `value` (a response) does not fit botocore's ECS output `shape`."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{path}: not an object"]
        out = [f"{path}.{k}: not in ECS's {shape.name}" for k in value if k not in shape.members]
        for k, v in value.items():
            if k in shape.members and v is not None:
                out += conforms(v, shape.members[k], f"{path}.{k}")
        return out
    if kind == "list":
        if not isinstance(value, list):
            return [f"{path}: not a list"]
        return [p for i, v in enumerate(value) for p in conforms(v, shape.member,
                                                                  f"{path}[{i}]")]
    if kind == "map":
        return [] if isinstance(value, dict) else [f"{path}: not a map"]
    expected = {"string": str, "boolean": bool, "integer": int, "long": int,
                "timestamp": (int, float, str), "double": (int, float)}[kind]
    if not isinstance(value, expected) or (kind in ("integer", "long") and
                                           isinstance(value, bool)):
        return [f"{path}: {value!r} is not {kind}"]
    if kind == "string" and shape.enum and value not in shape.enum:
        return [f"{path}: {value!r} not one of ECS's values"]
    return []
