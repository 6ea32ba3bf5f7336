"""Attribute diffs between two object values of one resource type.

This is the only module that imports deepdiff (lazily: only to compare two non-empty values
that differ): everything else sees `AttributeDiff`s.

Values are first normalised by the schema so that a diff means what a user means by
"changed": a list of blocks whose schema names a `key` (port mappings by `container_port`,
containers by `name`, listeners by `port`) becomes a dict keyed by that attribute, so
reordering such blocks is not a change and an edited element is reported inside its key.
The paths of the resulting diffs therefore hold the key value (not the list index) for
keyed blocks: `("container", "web", "port_mapping", 8080, "protocol")`. `to_index_path`
maps such a path back to list indices of a concrete value (Terraform's `replace_paths`).
"""

from __future__ import annotations

from typing import Any

from fgform.config.schema import BlockSchema, ResourceSchema
from fgform.plan.model import AttributeDiff, DiffKind
from fgform.values import UNKNOWN, Path


class _UnknownToken:
    """Stands in for UNKNOWN while deepdiff runs: UNKNOWN refuses truth tests by design,
    and deepdiff is free to test anything it walks."""

    __slots__ = ()

    def __repr__(self) -> str:
        # a Python literal: deepdiff literal-evals reprs when it builds paths and reports
        return "'(known after apply)'"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _UnknownToken)

    def __hash__(self) -> int:
        return 0x5EED


_TOKEN = _UnknownToken()


def _key_of(el: Any, block: BlockSchema) -> Any:
    k = el.get(block.key or "") if isinstance(el, dict) else None
    if k is None or k is UNKNOWN or isinstance(k, (dict, list)):
        return None
    return k


def _keyable(elements: list[Any], block: BlockSchema) -> bool:
    """Whether every element has a known, distinct key (else compare by position, which is
    still correct, only noisier)."""
    keys = [_key_of(el, block) for el in elements]
    return bool(block.key) and None not in keys and len(set(keys)) == len(keys)


def _normalise_pair(before: Any, after: Any, block: BlockSchema | None) -> tuple[Any, Any]:
    """The comparable forms of two values of one object type: keyed block lists become
    dicts (on both sides or neither, so shapes match), UNKNOWN a token."""
    if block is None or not isinstance(before, dict) or not isinstance(after, dict):
        return normalise(before, block), normalise(after, block)
    nb: dict[str, Any] = {}
    na: dict[str, Any] = {}
    for k in before.keys() | after.keys():
        sub = block.block(k) if isinstance(k, str) else None
        bv, av = before.get(k, _ABSENT), after.get(k, _ABSENT)
        if {id(bv), id(av)} == {id(_ABSENT), id(None)} and block.attr(k) is not None:
            # An optional attribute added to the schema after the state was written is null
            # there (as Terraform's state upgrade makes it): absent and null are one value.
            continue
        if sub is None:
            pair = (normalise(bv, None), normalise(av, None))
        else:
            pair = _normalise_block_pair(bv, av, sub)
        if bv is not _ABSENT:
            nb[k] = pair[0]
        if av is not _ABSENT:
            na[k] = pair[1]
    return nb, na


_ABSENT = object()


def _normalise_block_pair(bv: Any, av: Any, sub: BlockSchema) -> tuple[Any, Any]:
    bl = bv if isinstance(bv, list) else None
    al = av if isinstance(av, list) else None
    if bl is None and al is None:
        return _normalise_pair(bv, av, sub) if isinstance(bv, dict) and isinstance(av, dict) \
            else (normalise(bv, sub), normalise(av, sub))
    if sub.key and _keyable(bl or [], sub) and _keyable(al or [], sub):
        bk = {_key_of(e, sub): e for e in bl or []}
        ak = {_key_of(e, sub): e for e in al or []}
        outb: dict[Any, Any] = {}
        outa: dict[Any, Any] = {}
        for k in bk.keys() | ak.keys():
            pb, pa = _normalise_pair(bk.get(k), ak.get(k), sub)
            if k in bk:
                outb[k] = pb
            if k in ak:
                outa[k] = pa
        return (outb if bl is not None else normalise(bv, sub),
                outa if al is not None else normalise(av, sub))
    lb: list[Any] = []
    la: list[Any] = []
    for i in range(max(len(bl or []), len(al or []))):
        eb = bl[i] if bl is not None and i < len(bl) else None
        ea = al[i] if al is not None and i < len(al) else None
        pb, pa = _normalise_pair(eb, ea, sub)
        if bl is not None and i < len(bl):
            lb.append(pb)
        if al is not None and i < len(al):
            la.append(pa)
    return (lb if bl is not None else normalise(bv, sub),
            la if al is not None else normalise(av, sub))


def normalise(value: Any, block: BlockSchema | None) -> Any:
    """The comparable form of one value on its own (no keyed pairing): UNKNOWN a token."""
    if value is UNKNOWN:
        return _TOKEN
    if isinstance(value, dict):
        return {k: normalise(v, None) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [normalise(v, None) for v in value]
    return value


def _denormalise(value: Any) -> Any:
    if isinstance(value, _UnknownToken):
        return UNKNOWN
    if isinstance(value, dict):
        return {k: _denormalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_denormalise(v) for v in value]
    return value


_MISSING = ("not present",)


def _kind(report: str, before: Any, after: Any) -> DiffKind:
    if report.endswith("_added"):
        return DiffKind.ADD
    if report.endswith("_removed"):
        return DiffKind.REMOVE
    if before is None and after is not None:
        return DiffKind.ADD
    if after is None and before is not None:
        return DiffKind.REMOVE
    return DiffKind.CHANGE


def diff_attributes(before: dict[str, Any] | None, after: dict[str, Any] | None,
                    schema: ResourceSchema | None) -> list[AttributeDiff]:
    """Every changed leaf/element between two object values, sorted by path.

    `before`/`after` are plain values (sensitive marks stripped) that may hold UNKNOWN. Each
    diff is flagged `forces_replacement` from the schema.
    """
    before = before or {}
    after = after or {}
    # Most resources do not change: == is far cheaper than a DeepDiff (environment notes).
    if before == after:
        return []
    if not before or not after:
        # A create or a delete: every top-level attribute is added or removed, exactly what
        # DeepDiff reports for an empty side, at a fraction of its cost (plans of 1,000 new
        # resources spent most of their time here).
        return _one_sided(before, after, schema)
    body = schema.body if schema else None
    # Equal attributes have nothing to report: only the others are normalised and go
    # through DeepDiff (a task definition's unchanged history of revisions cost ~2 ms per
    # revision there).
    same = {k for k, v in before.items() if k in after and after[k] == v}
    nb, na = _normalise_pair({k: v for k, v in before.items() if k not in same},
                             {k: v for k, v in after.items() if k not in same}, body)
    if nb == na:
        return []
    from deepdiff import DeepDiff  # only for real changes: a no-op plan never imports it

    tree = DeepDiff(nb, na, threshold_to_diff_deeper=0, view="tree", verbose_level=2)
    diffs: list[AttributeDiff] = []
    for report, items in tree.items():
        for item in items:
            path = tuple(item.path(output_format="list"))
            # Take the values from the originals, so keyed blocks read as the user wrote them.
            b = None if _is_missing(item.t1) else _fetch(before, path, schema, item.t1)
            a = None if _is_missing(item.t2) else _fetch(after, path, schema, item.t2)
            diffs.append(AttributeDiff(
                path=path, kind=_kind(report, b, a), before=b, after=a,
                forces_replacement=forces_replacement(path, b, a, schema),
            ))
    diffs.sort(key=lambda d: _path_sort_key(d.path))
    return diffs


def _one_sided(before: dict[str, Any], after: dict[str, Any], schema: ResourceSchema | None
               ) -> list[AttributeDiff]:
    """The diffs when one side is empty: one ADD (or REMOVE) per top-level attribute."""
    diffs: list[AttributeDiff] = []
    adding = bool(after)
    for k, v in (after if adding else before).items():
        path = (k,)
        b, a = (None, v) if adding else (v, None)
        diffs.append(AttributeDiff(
            path=path, kind=DiffKind.ADD if adding else DiffKind.REMOVE, before=b, after=a,
            forces_replacement=forces_replacement(path, b, a, schema),
        ))
    diffs.sort(key=lambda d: _path_sort_key(d.path))
    return diffs


def _fetch(value: Any, path: Path, schema: ResourceSchema | None, fallback: Any) -> Any:
    cur = value
    for step in to_index_path(path, value, schema):
        if isinstance(cur, dict) and step in cur:
            cur = cur[step]
        elif isinstance(cur, list) and isinstance(step, int) and 0 <= step < len(cur):
            cur = cur[step]
        else:
            return _denormalise(fallback)
    return cur


def _is_missing(v: Any) -> bool:
    # deepdiff reports the absent side of an add/remove as its NotPresent sentinel.
    return type(v).__name__ == "NotPresent"


def _path_sort_key(path: Path) -> tuple:
    return tuple((0, p, "") if isinstance(p, int) else (1, 0, str(p)) for p in path)


def forces_replacement(path: Path, before: Any, after: Any,
                       schema: ResourceSchema | None) -> bool:
    """True when a change at `path` (a normalised path) cannot be made in place."""
    if schema is None or not path:
        return False
    block: BlockSchema = schema.body
    i = 0
    while i < len(path):
        name = path[i]
        if not isinstance(name, str):
            return False
        attr = block.attr(name)
        if attr is not None:
            return attr.force_new
        sub = block.block(name)
        if sub is None:
            return False
        if sub.force_new:
            return True
        i += 1
        if not sub.single:
            if i >= len(path):
                return _any_force_new(sub, before) or _any_force_new(sub, after)
            i += 1  # the element's key or index
        if i >= len(path):
            # a whole block (element) added or removed
            return _any_force_new(sub, before) or _any_force_new(sub, after)
        block = sub
    return False


def _any_force_new(block: BlockSchema, value: Any) -> bool:
    """Whether adding/removing this block value sets or clears a force_new attribute."""
    if value is None:
        return False
    if isinstance(value, list):
        return any(_any_force_new(block, v) for v in value)
    if isinstance(value, dict):
        # a keyed list normalised to a dict of elements
        if block.key and all(isinstance(v, dict) for v in value.values()) and \
                not any(block.attr(k) for k in value if isinstance(k, str)):
            return any(_any_force_new(block, v) for v in value.values())
        for a in block.attributes:
            if a.force_new and value.get(a.name) is not None:
                return True
        for b in block.blocks:
            if b.force_new and value.get(b.name):
                return True
            if _any_force_new(b, value.get(b.name)):
                return True
    return False


def to_index_path(path: Path, value: Any, schema: ResourceSchema | None) -> list[str | int]:
    """Map a normalised diff path back to list indices within `value` (keys of keyed
    blocks become the element's position), as Terraform's replace_paths expects."""
    out: list[str | int] = []
    block = schema.body if schema else None
    cur = value
    i = 0
    while i < len(path):
        step = path[i]
        out.append(step)
        sub = block.block(step) if (block is not None and isinstance(step, str)) else None
        cur = cur.get(step) if isinstance(cur, dict) else None
        i += 1
        if sub is not None and not sub.single and isinstance(cur, list) and i < len(path):
            key = path[i]
            idx = next((n for n, el in enumerate(cur)
                        if isinstance(el, dict) and sub.key and el.get(sub.key) == key), None)
            if idx is None:
                idx = key if isinstance(key, int) else None
            if idx is None:
                return out
            out.append(idx)
            cur = cur[idx] if 0 <= idx < len(cur) else None
            i += 1
            block = sub
            continue
        block = sub if sub is not None else None
    return out


def replace_paths(diffs: list[AttributeDiff], after: Any, before: Any,
                  schema: ResourceSchema | None) -> list[list[str | int]]:
    """Terraform's replace_paths: the (index) paths of the changes that force replacement."""
    seen: list[list[str | int]] = []
    for d in diffs:
        if not d.forces_replacement:
            continue
        p = to_index_path(d.path, after if d.kind is not DiffKind.REMOVE else before, schema)
        if p not in seen:
            seen.append(p)
    return seen
