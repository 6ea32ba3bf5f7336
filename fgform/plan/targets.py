"""`-target`: which instances an address names, and what the targets depend on."""

from __future__ import annotations

import re

from fgform.addresses import Address, AddressError, parse_address
from fgform.config.depgraph import Graph, NodeKind, resource_dependencies


def matches_target(addr: Address, target: str) -> bool:
    """`fg_service.web` matches all its instances, `module.m` everything inside."""
    s = str(addr)
    return s == target or s.startswith(target + "[") or s.startswith(target + ".")


def config_id(addr: Address) -> str:
    """The graph's node id of an instance's resource: `module.a.fg_service.web`."""
    mods = "".join(f"module.{s.name}." for s in addr.module)
    data = "data." if addr.mode == "data" else ""
    return f"{mods}{data}{addr.type}.{addr.name}"


def target_closure(g: Graph, targets: list[str]) -> dict[str, set[str | None]]:
    """What the targets depend on, transitively: config-level resource id -> the module
    instances (`module.m["a"]`) whose instances are included, None meaning all of them.

    The targets themselves are not in it (`matches_target` decides for them, keys included), and a
    dependency in the target's own module stays in the target's module instance: targeting
    `module.svc["a"]` or `fg_x.y[1]` plans nothing of `module.svc["b"]` or `fg_x.y[0]`.
    """
    memo: dict[str, set[str]] = {}
    todo: list[tuple[str, str | None, str]] = []  # (node id, module instance, module config)
    for t in targets:
        tid = _strip_keys(t)
        inst_module, conf_module = _module_of_target(t)
        for nid, node in g.nodes.items():
            if node.kind is NodeKind.RESOURCE and (nid == tid or nid.startswith(tid + ".")):
                todo.extend((d, inst_module, conf_module)
                            for d in resource_dependencies(g, nid, memo))
    out: dict[str, set[str | None]] = {}
    seen: set[tuple[str, str | None]] = set()
    while todo:
        nid, inst_module, conf_module = todo.pop()
        scope = inst_module if conf_module and nid.startswith(conf_module + ".") else None
        if (nid, scope) in seen:
            continue
        seen.add((nid, scope))
        out.setdefault(nid, set()).add(scope)
        todo.extend((d, inst_module, conf_module) for d in resource_dependencies(g, nid, memo))
    return out


def _module_of_target(target: str) -> tuple[str | None, str]:
    """The module instance a target lives in (`module.m["a"]`) and its config path
    (`module.m`); (None, "") for the root module."""
    try:
        a = parse_address(target)
        if not a.module:
            return None, ""
        return a.module_address, "".join(f"module.{m.name}." for m in a.module)[:-1]
    except AddressError:
        return (target if target.startswith("module.") else None), _strip_keys(target)


def _strip_keys(target: str) -> str:
    try:
        a = parse_address(target)
        return config_id(a.resource)
    except AddressError:
        # a module target: module.a[0].module.b -> module.a.module.b
        return re.sub(r"\[[^\]]*\]", "", target)
