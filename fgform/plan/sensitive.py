"""Sensitive attribute paths in planned values: those the schema marks, merged with those the
state recorded, and marks put back so dependents of a sensitive attribute stay sensitive."""

from __future__ import annotations

from typing import Any

from fgform.config.schema import BlockSchema, ResourceSchema
from fgform.values import Path, Sensitive


def schema_sensitive_paths(schema: ResourceSchema | None, value: Any) -> list[Path]:
    """Paths of attributes the schema marks sensitive, within a concrete value."""
    if schema is None or not isinstance(value, dict):
        return []
    extra = schema.sensitive_paths(value) if schema.sensitive_paths else []
    return _block_sensitive(schema.body, value, ()) + extra


def _block_sensitive(block: BlockSchema, value: dict[str, Any], path: Path) -> list[Path]:
    out: list[Path] = [(*path, a.name) for a in block.attributes
                       if a.sensitive and value.get(a.name) is not None]
    for b in block.blocks:
        v = value.get(b.name)
        if isinstance(v, dict):
            out += _block_sensitive(b, v, (*path, b.name))
        elif isinstance(v, list):
            for i, el in enumerate(v):
                if isinstance(el, dict):
                    out += _block_sensitive(b, el, (*path, b.name, i))
    return out


def merge_paths(*groups: list[Path] | list[list[str | int]]) -> list[Path]:
    """The paths of all groups, each once, sorted. A dict keeps them unique: a task
    definition's history gives thousands of paths."""
    seen = dict.fromkeys(tuple(p) for g in groups for p in g)
    return sorted(seen, key=lambda p: tuple(str(x) for x in p))


def remark(value: Any, paths: list[Path]) -> Any:
    """Put Sensitive marks back at `paths`, so dependents of a sensitive attribute stay
    sensitive."""
    if not paths:
        return value
    if () in paths:
        return Sensitive(value)
    if isinstance(value, dict):
        return {k: remark(v, [p[1:] for p in paths if p and p[0] == k])
                for k, v in value.items()}
    if isinstance(value, list):
        return [remark(v, [p[1:] for p in paths if p and p[0] == i])
                for i, v in enumerate(value)]
    return value
