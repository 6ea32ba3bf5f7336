"""Checks of task placement (docs/placement.md): placement constraint expressions parsed
(an error shows where in the expression), strategy fields, DAEMON services, instance
attributes of a cluster's capacity, and, on the local backend whose instances are in the
configuration, a constraint no instance satisfies: refused before anything changes, as
Nomad's plan reports placement failures."""

from __future__ import annotations

from typing import Any

from fgform.addresses import Address
from fgform.config.checks_references import attr_where, direct_reference, referenced_configs
from fgform.config.dynamic import known_blocks, literal_blocks
from fgform.config.model import Block, Resource
from fgform.errors import Diagnostic, SourceRange
from fgform.placement_rules import (
    BUILTIN_ATTRIBUTES,
    Constraint,
    ExpressionError,
    Placement,
    check_strategy,
    eligible,
    instance_attributes,
    parse,
    unsatisfied,
)
from fgform.values import UNKNOWN, contains_unknown, unmark

# The engines whose instances the configuration declares (the local one); a Swarm's nodes
# are only known to the fleet.
LOCAL_ENGINES = (None, "docker")


def check_placement(configs: dict[Address, dict[str, Any]],
                    resources: dict[Address, Resource]) -> list[Diagnostic]:
    """Every placement problem of the configuration (see the module docstring)."""
    diags: list[Diagnostic] = []
    for addr in sorted(configs, key=str):
        cfg, res = configs[addr], resources[addr]
        if addr.type in ("fg_task_definition", "fg_service"):
            diags.extend(_check_constraints(addr, cfg, res))
        if addr.type == "fg_service":
            diags.extend(_check_strategies(addr, cfg, res))
            diags.extend(_check_satisfiable(configs, resources, addr))
        if addr.type == "fg_cluster":
            diags.extend(_check_attributes(addr, cfg, res))
    return diags


def _blocks(res: Resource, name: str, count: int) -> list[Block | None]:
    lit = literal_blocks(res.body, name)
    return [lit[i] if i < len(lit) else None for i in range(count)]


def _plain(value: Any) -> Any:
    return unmark(value)[0]


def _check_constraints(addr: Address, cfg: dict[str, Any], res: Resource) -> list[Diagnostic]:
    diags: list[Diagnostic] = []
    items = known_blocks(cfg.get("placement_constraints"))
    for item, block in zip(items, _blocks(res, "placement_constraints", len(items)),
                           strict=True):
        if not isinstance(item, dict):
            continue
        ctype, expr = _plain(item.get("type")), _plain(item.get("expression"))
        if ctype is UNKNOWN or expr is UNKNOWN:
            continue
        where = attr_where(block, "expression", res.range)
        if ctype == "memberOf":
            if not isinstance(expr, str) or not expr.strip():
                diags.append(Diagnostic.error(
                    "Missing placement constraint expression",
                    f'{addr}: a memberOf constraint needs an expression, like expression = '
                    '"attribute:zone == a".', attr_where(block, "type", res.range)))
                continue
            try:
                parse(expr)
            except ExpressionError as exc:
                diags.append(Diagnostic.error(
                    "Invalid placement constraint expression",
                    f"{addr}: {exc.describe(expr)}", where))
        elif ctype == "distinctInstance":
            if addr.type == "fg_task_definition":
                diags.append(Diagnostic.error(
                    "Invalid placement constraint",
                    f"{addr}: distinctInstance is not supported in task definitions (as on "
                    "ECS): put it on the service.", attr_where(block, "type", res.range)))
            elif isinstance(expr, str) and expr:
                diags.append(Diagnostic.error(
                    "Invalid placement constraint",
                    f"{addr}: distinctInstance takes no expression (it places each task on "
                    "a different instance); use a memberOf constraint for the expression.",
                    where))
    return diags


def _check_strategies(addr: Address, cfg: dict[str, Any], res: Resource) -> list[Diagnostic]:
    diags: list[Diagnostic] = []
    items = known_blocks(cfg.get("placement_strategy"))
    daemon = _plain(cfg.get("scheduling_strategy")) == "DAEMON"
    if daemon:
        if "desired_count" in res.body.attributes:
            diags.append(Diagnostic.error(
                "Invalid desired_count",
                f"{addr}: a DAEMON service runs one task on every instance that satisfies its "
                "placement constraints, so its desired_count is not set (as on ECS).",
                res.body.attributes["desired_count"].range))
        if items:
            block = _blocks(res, "placement_strategy", 1)[0]
            diags.append(Diagnostic.error(
                "Invalid placement strategy",
                f"{addr}: a DAEMON service takes no placement_strategy (as on ECS): it runs "
                "one task on every instance.", block.range if block else res.range))
        return diags
    for item, block in zip(items, _blocks(res, "placement_strategy", len(items)),
                           strict=True):
        if not isinstance(item, dict):
            continue
        stype, field_ = _plain(item.get("type")), _plain(item.get("field"))
        if stype is UNKNOWN or field_ is UNKNOWN:
            continue
        problem = check_strategy(str(stype), str(field_ or ""))
        if problem:
            diags.append(Diagnostic.error(
                "Invalid placement strategy", f"{addr}: {problem}.",
                attr_where(block, "field", res.range)))
    return diags


def _check_attributes(addr: Address, cfg: dict[str, Any], res: Resource) -> list[Diagnostic]:
    cap = _plain(cfg.get("capacity"))
    if isinstance(cap, list):
        cap = cap[0] if cap else None
    if not isinstance(cap, dict):
        return []
    cap_blocks = literal_blocks(res.body, "capacity")
    cap_block = cap_blocks[0] if cap_blocks else None
    items = known_blocks(cap.get("attribute"))
    lit = literal_blocks(cap_block.body, "attribute") if cap_block is not None else []
    diags: list[Diagnostic] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        block = lit[i] if i < len(lit) else cap_block
        fallback = block.range if block is not None else res.range
        name, value, values = item.get("name"), item.get("value"), item.get("values")
        if name is UNKNOWN:
            continue
        if name in BUILTIN_ATTRIBUTES:
            diags.append(Diagnostic.error(
                "Invalid instance attribute",
                f"{addr}: {name} is a built-in attribute of every instance "
                f"({', '.join(BUILTIN_ATTRIBUTES)}); choose another name.",
                attr_where(block, "name", fallback)))
        elif name in seen:
            diags.append(Diagnostic.error(
                "Duplicate instance attribute",
                f'{addr}: the attribute "{name}" is declared twice in capacity.',
                attr_where(block, "name", fallback)))
        seen.add(str(name))
        if value is UNKNOWN or values is UNKNOWN:
            continue
        if (value is None) == (not values):
            diags.append(Diagnostic.error(
                "Invalid instance attribute",
                f'{addr}: the attribute "{name}" needs exactly one of value (every instance) '
                "or values (instance i-K gets values[K % length]), and values must not be "
                "empty.", fallback))
    return diags


# -- constraints against the declared instances -------------------------------------------------
def _reference(configs: dict[Address, dict[str, Any]], resources: dict[Address, Resource],
               addr: Address, name: str, rtype: str) -> tuple[Address, dict[str, Any]] | None:
    attr = resources[addr].body.attributes.get(name)
    ref = direct_reference(attr.expr) if attr is not None else None
    if ref is None or ref.parts[0] != rtype or len(ref.parts) < 2:
        return None
    found = referenced_configs(configs, resources, addr, ref)
    return found[0] if len(found) == 1 else None


def _constraint_ranges(addr: Address, res: Resource, cfg: dict[str, Any]
                       ) -> list[tuple[dict[str, Any], SourceRange]]:
    items = known_blocks(cfg.get("placement_constraints"))
    return [(item, attr_where(block, "expression", res.range))
            for item, block in zip(items, _blocks(res, "placement_constraints", len(items)),
                                   strict=True) if isinstance(item, dict)]


def _check_satisfiable(configs: dict[Address, dict[str, Any]],
                       resources: dict[Address, Resource], addr: Address
                       ) -> list[Diagnostic]:
    cluster = _reference(configs, resources, addr, "cluster", "fg_cluster")
    if cluster is None:
        return []
    cluster_addr, cluster_cfg = cluster
    if _plain(cluster_cfg.get("engine")) not in LOCAL_ENGINES:
        return []  # a Swarm's nodes are checked by its fleet (fleet/swarm/placement.py)
    cap = _plain(cluster_cfg.get("capacity"))
    if isinstance(cap, list):
        cap = cap[0] if cap else None
    if contains_unknown(cap) or cap is not None and not isinstance(cap, dict):
        return []
    try:
        instances = instance_attributes(cap)
    except (TypeError, ValueError):
        return []  # a wrong type, reported by the decoding
    td = _reference(configs, resources, addr, "task_definition", "fg_task_definition")
    sources = [(addr, resources[addr], configs[addr])]
    if td is not None:
        sources.insert(0, (td[0], resources[td[0]], td[1]))
    located: list[tuple[Constraint, SourceRange, Address]] = []
    for owner, res, cfg in sources:
        for item, where in _constraint_ranges(owner, res, cfg):
            ctype, expr = _plain(item.get("type")), _plain(item.get("expression"))
            if ctype != "memberOf" or not isinstance(expr, str) or contains_unknown(expr):
                continue
            try:
                located.append((Constraint("memberOf", expr, parse(expr)), where, owner))
            except ExpressionError:
                continue  # reported by _check_constraints
    listing = _instances_text(instances)
    diags: list[Diagnostic] = []
    bad = unsatisfied([c for c, _w, _o in located], instances)
    for c, where, owner in located:
        if c in bad:
            whose = "" if owner == addr else f" (from {owner})"
            diags.append(Diagnostic.error(
                "Placement constraint cannot be satisfied",
                f'{addr}: no instance of {cluster_addr} satisfies the placement constraint '
                f'memberOf "{c.expression}"{whose}, so no task could be placed. The '
                f"instances: {listing}.", where))
    if diags:
        return diags
    cfg = configs[addr]
    distinct = any(isinstance(i, dict) and _plain(i.get("type")) == "distinctInstance"
                   for i in known_blocks(cfg.get("placement_constraints")))
    daemon = _plain(cfg.get("scheduling_strategy")) == "DAEMON"
    placement = Placement(constraints=tuple(c for c, _w, _o in located))
    ok = eligible(placement, instances)
    res = resources[addr]
    if located and not ok:
        joined = " and ".join(f'"{c.expression}"' for c, _w, _o in located)
        return [Diagnostic.error(
            "Placement constraints cannot be satisfied",
            f"{addr}: no instance of {cluster_addr} satisfies all its placement constraints "
            f"together ({joined}), so no task could be placed. The instances: {listing}.",
            located[-1][1])]
    desired = _plain(cfg.get("desired_count"))
    if distinct and not daemon and isinstance(desired, int | float) \
            and not isinstance(desired, bool) and desired > len(ok):
        attr = res.body.attributes.get("desired_count")
        return [Diagnostic.error(
            "Placement constraints cannot be satisfied",
            f"{addr}: distinctInstance places each task on a different instance, but "
            f"desired_count is {int(desired)} and {len(ok)} instance(s) of {cluster_addr} "
            f"satisfy its constraints ({', '.join(ok) or 'none'}). Lower desired_count or "
            "raise capacity.instance_count.", attr.range if attr is not None else res.range)]
    return []


def _instances_text(instances: list[dict[str, str]]) -> str:
    parts = []
    for attrs in instances:
        own = ", ".join(f"{k}={v}" for k, v in sorted(attrs.items())
                        if k not in BUILTIN_ATTRIBUTES)
        parts.append(attrs["ecs.instance-id"] + (f" ({own})" if own else ""))
    if len(parts) > 10:
        parts = parts[:10] + [f"... {len(parts) - 10} more"]
    return "; ".join(parts) or "none"
