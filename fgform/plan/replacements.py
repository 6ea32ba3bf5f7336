"""Replacements: create_before_destroy forced onto dependencies and downgraded where it
cannot work, and the warning for a `-replace` that lacks an instance key."""

from __future__ import annotations

import json
import textwrap
from typing import Any

from fgform.addresses import Address, parse_address
from fgform.config.depgraph import Graph, NodeKind, resource_dependencies
from fgform.config.expand import ExpansionMode
from fgform.config.schema import get_schema
from fgform.plan.model import Action, ResourceChange
from fgform.plan.targets import config_id


def forced_create_before_destroy(g: Graph) -> set[str]:
    """Config ids of the resources create_before_destroy is forced onto: everything a
    resource with create_before_destroy depends on, transitively (Terraform's
    ForcedCBDTransformer). Otherwise a dependency replaced destroy-first would have to be
    destroyed before its CBD dependent's old object lets go of it, and its new object
    created before the dependent's new one: a cycle in the apply order."""
    memo: dict[str, set[str]] = {}
    todo = [nid for nid, node in g.nodes.items() if node.kind is NodeKind.RESOURCE
            and node.obj.lifecycle.create_before_destroy]
    forced: set[str] = set()
    while todo:
        nid = todo.pop()
        for dep in resource_dependencies(g, nid, memo):
            if dep not in forced:
                forced.add(dep)
                todo.append(dep)
    return forced


def downgrade_create_before_destroy(changes: dict[Address, ResourceChange],
                                    g: Graph) -> list[str]:
    """Turn create-first replacements destroy-first where create-first cannot work, in place;
    returns a warning for each.

    (1) A type whose new object shares its Docker identity with the old one
    (`create_before_destroy_supported` False): deleting the deposed old object would delete
    the new one. (2) Then, to a fixpoint, a create-first replacement that depends
    (transitively) on a destroy-first one: the destroy-first dependency waits for the
    dependent's old object to go, which (create-first) waits for its new object, which waits
    for the dependency's new object, which waits for its destroy: a cycle in the apply order.
    """
    memo: dict[str, set[str]] = {}
    closure: dict[str, set[str]] = {}

    def deps_of(cid: str) -> set[str]:
        if cid not in closure:
            closure[cid] = set()  # guards against cycles
            out: set[str] = set()
            for d in resource_dependencies(g, cid, memo) if cid in g.nodes else ():
                out |= {d} | deps_of(d)
            closure[cid] = out
        return closure[cid]

    warnings: list[str] = []
    destroy_first: set[str] = set()  # config ids with a destroy-first replacement
    for addr, rc in sorted(changes.items()):
        schema = get_schema(addr.type)
        if schema is None or schema.create_before_destroy_supported:
            if rc.action is Action.DELETE_THEN_CREATE:
                destroy_first.add(config_id(addr))
            continue
        if rc.action is Action.CREATE_THEN_DELETE:
            rc.action = Action.DELETE_THEN_CREATE
            warnings.append(_warning(
                f"create_before_destroy is not possible for {addr}",
                f"{addr} must be replaced, and create_before_destroy is in effect for it "
                f"(set in its lifecycle, or forced by a dependent that has it), but a new "
                f"{addr.type} {schema.create_before_destroy_conflict}: deleting the old "
                f"object would delete the new one too.",
                "It will be destroyed first and then created (-/+) instead."))
        # Never recorded as create-first: a later replacement must not be either.
        rc.create_before_destroy = False
        if rc.action is Action.DELETE_THEN_CREATE:
            destroy_first.add(config_id(addr))
    grew = True
    while grew:
        grew = False
        for addr, rc in sorted(changes.items()):
            if rc.action is not Action.CREATE_THEN_DELETE:
                continue
            blockers = sorted(deps_of(config_id(addr)) & destroy_first)
            if not blockers:
                continue
            rc.action = Action.DELETE_THEN_CREATE
            rc.create_before_destroy = False
            destroy_first.add(config_id(addr))
            grew = True
            warnings.append(_warning(
                f"create_before_destroy is not possible for {addr}",
                f"{addr} must be replaced, and create_before_destroy is in effect for it, "
                f"but it depends on {', '.join(blockers)}, which must be destroyed before "
                f"it is created again: replacing {addr} create-first would make a cycle in "
                f"the apply order.",
                "It will be destroyed first and then created (-/+) instead."))
    return warnings


def incomplete_replace_warnings(replace: list[str], expansions: dict[Address, Any],
                                instances: list[Address]) -> list[str]:
    """`-replace` of a resource that has count or for_each, or of one inside a module call
    that has, without an instance key, matches no instance: as Terraform does, say so and
    list the addresses that were perhaps meant, instead of a plan that silently replaces
    nothing."""
    exact = set(instances)
    warnings = []
    for text in replace:
        addr = parse_address(text)
        if addr in exact:
            continue
        options = sorted({a for a in instances if _completes(addr, a)})
        exp = expansions.get(addr)
        if not options and (addr.key is not None or exp is None or exp.mode is ExpansionMode.SINGLE):
            continue  # names nothing that exists: not a missing key
        lines = [_warning(
            "Incompletely-matched force-replace resource instance",
            f"Your force-replace request for {addr} doesn't match any resource instances "
            "because it lacks an instance key.")]
        if options:
            lines += ["", textwrap.fill("To force replacement of particular instances, use "
                                        "one or more of the following options instead:", 76)]
            lines += [f"  -replace={json.dumps(str(a))}" for a in options]
        warnings.append("\n".join(lines))
    return warnings


def _completes(partial: Address, instance: Address) -> bool:
    """Whether `instance` is `partial` with the instance keys it lacks filled in (the
    resource's own, a module call's or both)."""
    if (partial.type, partial.name) != (instance.type, instance.name) or len(
            partial.module) != len(instance.module):
        return False
    if partial.key is not None and partial.key != instance.key:
        return False
    return all(p.name == i.name and (p.key is None or p.key == i.key)
               for p, i in zip(partial.module, instance.module, strict=True))


def _warning(summary: str, *paragraphs: str) -> str:
    """A plan warning: the summary line, then the paragraphs wrapped as Terraform wraps."""
    return "\n".join([summary] + [textwrap.fill(p, 76) for p in paragraphs])
