"""Checks on what a resource refers to: reference attributes naming the wrong resource type
(`cluster = fg_task_definition.x.arn`), `ignore_changes` entries, target groups shared by
two load balancers; and the helpers other checks use to follow a reference."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fgform.addresses import Address
from fgform.config import ast
from fgform.config.ast import Reference
from fgform.config.decode import configurable
from fgform.config.dynamic import contents_of
from fgform.config.model import Block, Config, Resource
from fgform.config.references import references
from fgform.config.schema import REFERENCE_ATTRIBUTES, SCHEMAS, get_schema
from fgform.errors import Diagnostic, SourceRange
from fgform.suggest import did_you_mean

# Attributes inside nested blocks that name another resource: (type, block path, attribute)
# -> (target type, target attribute). The top-level ones are in schema.REFERENCE_ATTRIBUTES.
NESTED_REFERENCE_ATTRIBUTES: dict[tuple[str, tuple[str, ...], str], tuple[str, str]] = {
    ("fg_service", ("load_balancer",), "target_group"): ("fg_target_group", "id"),
    ("fg_load_balancer", ("listener",), "default_target_group"): ("fg_target_group", "id"),
    ("fg_load_balancer", ("listener", "rule"), "target_group"): ("fg_target_group", "id"),
    ("fg_load_balancer", ("listener", "forward", "target_group"), "id"):
        ("fg_target_group", "id"),
    ("fg_load_balancer", ("listener", "rule", "forward", "target_group"), "id"):
        ("fg_target_group", "id"),
}


def direct_reference(expr: ast.Node) -> Reference | None:
    """The reference when an expression is nothing but one (`fg_cluster.main.id` or
    `"${fg_cluster.main.id}"`); None for anything computed."""
    if isinstance(expr, ast.Template) and len(expr.parts) == 1 and \
            isinstance(expr.parts[0], ast.Node):
        expr = expr.parts[0]
    if isinstance(expr, ast.Parens):
        return direct_reference(expr.inner)
    if not isinstance(expr, (ast.GetAttr, ast.Index)):
        return None
    refs = references(expr)
    return refs[0] if len(refs) == 1 else None


def _ref_attribute(ref: Reference, res: Resource | None) -> str | None:
    """The attribute a resource reference reads, skipping an instance key."""
    rest = list(ref.parts[2:])
    if rest and (isinstance(rest[0], int) or (res is not None and res.for_each is not None)):
        rest = rest[1:]
    return rest[0] if rest and isinstance(rest[0], str) else None


def check_reference_attributes(res: Resource, cfg: Config, path: tuple[str, ...]
                               ) -> list[Diagnostic]:
    """Attributes that name another resource must reference the right type's right
    attribute: a service's `cluster` is an `fg_cluster`'s `id`, not anything else."""
    diags: list[Diagnostic] = []
    for (rtype, attr_name), target in REFERENCE_ATTRIBUTES.items():
        if rtype == res.type and attr_name in res.body.attributes:
            diags.extend(_check_ref_attr(res, attr_name, res.body.attributes[attr_name].expr,
                                         target, cfg))
    for (rtype, block_path, attr_name), target in NESTED_REFERENCE_ATTRIBUTES.items():
        if rtype != res.type:
            continue
        for block in _blocks_at(res.body.blocks, block_path):
            attr = block.body.attributes.get(attr_name)
            if attr is not None:
                diags.extend(_check_ref_attr(res, attr_name, attr.expr, target, cfg))
    return diags


def _blocks_at(blocks: list[Block], path: tuple[str, ...]) -> list[Block]:
    found = [b for b in blocks if b.type == path[0]] + contents_of(blocks, path[0])
    if len(path) == 1:
        return found
    return [x for b in found for x in _blocks_at(b.body.blocks, path[1:])]


def _check_ref_attr(res: Resource, attr_name: str, expr: ast.Node, target: tuple[str, str],
                    cfg: Config) -> list[Diagnostic]:
    ref = direct_reference(expr)
    if ref is None or not ref.parts or ref.parts[0] not in SCHEMAS or len(ref.parts) < 2:
        return []  # a variable, a local, a literal: only its value can be checked
    want_type, want_attr = target
    got_type, got_name = ref.parts[0], ref.parts[1]
    referenced = cfg.module.resources.get(f"{got_type}.{got_name}")
    got_attr = _ref_attribute(ref, referenced)
    article = "an"  # every type starts with fg_: "an eff-gee cluster"
    if got_type != want_type:
        same_type = sorted(r.name for r in cfg.module.resources.values()
                           if r.type == want_type)
        example = f"{want_type}.{same_type[0] if same_type else 'NAME'}.{want_attr}"
        return [Diagnostic.error(
            f'Wrong resource type for "{attr_name}"',
            f'"{attr_name}" of {res.type} must be the {want_attr} of {article} {want_type} '
            f"(like {example}), but this refers to {ref}, {'the ' + got_attr + ' of ' if got_attr else ''}"
            f"an {got_type}.", ref.range, f"Did you mean {example}?" if same_type else "")]
    if got_attr is not None and got_attr != want_attr:
        fixed = f"{got_type}.{got_name}.{want_attr}"
        return [Diagnostic.error(
            f'Wrong attribute for "{attr_name}"',
            f'"{attr_name}" of {res.type} must be the {want_attr} of {article} {want_type}, '
            f"not its {got_attr}.", ref.range, f"Did you mean {fixed}?")]
    return []


def check_ignore_changes(res: Resource) -> list[Diagnostic]:
    """`lifecycle { ignore_changes = [...] }` may only name the type's arguments."""
    schema = get_schema(res.type)
    if schema is None:
        return []
    names = [a.name for a in schema.body.attributes if configurable(a)] + \
        [b.name for b in schema.body.blocks]
    diags = []
    for entry in res.lifecycle.ignore_changes:
        first = entry.split(".")[0].split("[")[0]
        if entry == "all" or first in names:
            continue
        diags.append(Diagnostic.error(
            "Unsupported attribute",
            f'ignore_changes names "{entry}", but {res.type} has no argument or block named '
            f'"{first}".', res.lifecycle.range or res.range, did_you_mean(first, names)))
    return diags


# The last configs indexed by (type, name, module): the checks look up one reference per
# service, and scanning every configuration for each made them quadratic (5,000 services).
# (Kept with the dict's size: a dict that grew since is indexed again.)
_index: tuple[Any, int, dict[tuple[str, str, Any], list[tuple[Address, dict[str, Any]]]]] = (
    None, 0, {})


def _by_name(configs: dict[Address, dict[str, Any]]
             ) -> dict[tuple[str, str, Any], list[tuple[Address, dict[str, Any]]]]:
    global _index
    if _index[0] is not configs or _index[1] != len(configs):
        index: dict[tuple[str, str, Any], list[tuple[Address, dict[str, Any]]]] = {}
        for a, c in configs.items():
            index.setdefault((a.type, a.name, a.module), []).append((a, c))
        _index = (configs, len(configs), index)
    return _index[2]


def referenced_configs(configs: dict[Address, dict[str, Any]],
                         resources: dict[Address, Resource], svc: Address, ref: Reference
                         ) -> list[tuple[Address, dict[str, Any]]]:
    """The configurations of the resource instance(s) a service's reference may name
    (`fg_task_definition.app.arn`, `fg_cluster.main[0].id`)."""
    rtype, name = ref.parts[0], ref.parts[1]
    found = _by_name(configs).get((rtype, name, svc.module), [])
    if not found:
        return []
    td_res = resources[found[0][0]]
    if td_res.count is None and td_res.for_each is None:
        return found
    key = ref.parts[2] if len(ref.parts) > 2 else None
    if isinstance(key, int) or (td_res.for_each is not None and isinstance(key, str)):
        return [(a, c) for a, c in found if a.key == key]
    # A dynamic key ([count.index], [each.key]): the instance with the service's own key.
    same = [(a, c) for a, c in found if a.key == svc.key]
    return same or found


def attr_where(block: Block | None, attr: str, fallback: SourceRange) -> SourceRange:
    """Where an attribute of a block is written: the attribute, else the block, else
    `fallback` (no block)."""
    if block is None:
        return fallback
    a = block.body.attributes.get(attr)
    return a.range if a is not None else block.range


def check_target_group_owners(module_configs: Mapping[tuple[str, ...], Config]
                              ) -> list[Diagnostic]:
    """A target group belongs to at most one load balancer: each proxy keeps its own view of
    the targets' health and draining, which two proxies would contradict."""
    diags: list[Diagnostic] = []
    for cfg in module_configs.values():
        owner: dict[str, tuple[str, SourceRange]] = {}
        for res in cfg.module.resources.values():
            if res.type != "fg_load_balancer":
                continue
            for (rtype, path, attr_name), _t in NESTED_REFERENCE_ATTRIBUTES.items():
                if rtype != res.type:
                    continue
                for block in _blocks_at(res.body.blocks, path):
                    attr = block.body.attributes.get(attr_name)
                    ref = direct_reference(attr.expr) if attr is not None else None
                    if ref is None or ref.parts[0] != "fg_target_group" or len(ref.parts) < 2:
                        continue
                    tg = f"fg_target_group.{ref.parts[1]}"
                    lb = f"{res.type}.{res.name}"
                    if tg not in owner:
                        owner[tg] = (lb, attr.range)
                    elif owner[tg][0] != lb:
                        diags.append(Diagnostic.error(
                            "Target group on two load balancers",
                            f"{tg} is used by {owner[tg][0]} (at {owner[tg][1]}) and by {lb}: "
                            "a target group belongs to at most one load balancer.",
                            attr.range, "Give each load balancer its own target group."))
    return diags
