"""Placement on Swarm, pure (no Docker): ECS placement constraints and strategies as a
Swarm service's `Placement` (constraints, preferences, max replicas per node), and the
plan-time check of constraints against the nodes' attributes.

The mapping (docs/swarm.md, "Placement"):

- `attribute:NAME` is the node label `node.labels.NAME`; `ec2InstanceId` /
  `attribute:ecs.instance-id` is `node.hostname` (node ids are opaque; the hostname is what
  `docker node ls` and `fgform tasks` show); `attribute:ecs.os-type` is `node.platform.os`,
  `attribute:ecs.cpu-architecture` is `node.platform.arch`.
- `==` and `!=` map as they are; `in [v]` with one value is `==`; `!in [a, b]` (and
  `not(... in [a, b])`) is one `!=` per value; `and` is several constraints (Swarm ANDs
  them); `not` is pushed inward. Swarm constraints cannot say "or", "one of several", a
  regular expression or "the label exists": `or`, `in` with several values, `=~`, `!~`,
  `exists` are refused with an error naming the constraint (fgform does not expand them
  against today's nodes, which would silently go wrong when a node joins or is relabelled).
  The way out is a label saying the same (`node.labels.tier == web`).
- `distinctInstance` is `MaxReplicas = 1` (at most one task of the service per node).
- `spread` by `attribute:NAME` is the preference `{"Spread": {"SpreadDescriptor":
  "node.labels.NAME"}}` (in order, as Swarm applies preferences hierarchically); `spread` by
  `instanceId` needs none (Swarm spreads across nodes by itself). Swarm has no `binpack`
  and no `random`: a warning says the tasks are spread instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fgform.errors import FgformError
from fgform.placement_rules import (
    INSTANCE_ID,
    And,
    Cond,
    Constraint,
    Node,
    Not,
    Or,
    constraints_of,
    unsatisfied,
)

# ECS attribute -> Swarm constraint key, for the built-ins; any other is a node label.
_BUILTIN_KEYS = {
    INSTANCE_ID: "node.hostname",
    "ecs.os-type": "node.platform.os",
    "ecs.cpu-architecture": "node.platform.arch",
}
_NEGATE = {"==": "!=", "!=": "==", "in": "!in", "!in": "in", "=~": "!~", "!~": "=~",
           "exists": "!exists", "!exists": "exists"}


@dataclass(frozen=True, slots=True)
class SwarmPlacement:
    """A Swarm service's placement: `constraints` ("node.labels.zone==a"), `preferences`
    ([{"Spread": {"SpreadDescriptor": "node.labels.zone"}}]), `max_replicas` (per node; 0:
    no limit), and `warnings` for what Swarm cannot do (binpack, random)."""

    constraints: list[str] = field(default_factory=list)
    preferences: list[dict[str, Any]] = field(default_factory=list)
    max_replicas: int = 0
    warnings: list[str] = field(default_factory=list)

    def docker_placement(self) -> dict[str, Any]:
        """The `TaskTemplate.Placement` object of the Docker API."""
        out: dict[str, Any] = {}
        if self.constraints:
            out["Constraints"] = list(self.constraints)
        if self.preferences:
            out["Preferences"] = list(self.preferences)
        if self.max_replicas:
            out["MaxReplicas"] = self.max_replicas
        return out


class SwarmPlacementError(FgformError):
    """A placement constraint Swarm cannot express."""


def swarm_key(name: str) -> str:
    """The Swarm constraint key of an ECS attribute name."""
    return _BUILTIN_KEYS.get(name, f"node.labels.{name}")


def _atoms(node: Node, negate: bool, constraint: Constraint) -> list[Cond]:
    """The conjunction of tests equivalent to `node` (negated when `negate`), or
    SwarmPlacementError when it needs an "or"."""
    if isinstance(node, Not):
        return _atoms(node.item, not negate, constraint)
    if isinstance(node, (And, Or)):
        conjunction = isinstance(node, And) != negate  # De Morgan
        if not conjunction and len(node.items) > 1:
            raise _refuse(constraint, "it needs an \"or\" (Swarm ANDs constraints)")
        return [a for item in node.items for a in _atoms(item, negate, constraint)]
    op = _NEGATE[node.op] if negate else node.op
    return [Cond(node.name, op, node.values, node.position)]


def _refuse(constraint: Constraint, why: str) -> SwarmPlacementError:
    return SwarmPlacementError(
        f'the placement constraint memberOf "{constraint.expression}" cannot be expressed as '
        f"Swarm constraints: {why}",
        hint="Swarm constraints are ANDed equality tests on node attributes: use ==, != and "
             "and (or !in), or give the nodes a label that says the same "
             "(docker node update --label-add tier=web NODE; attribute:tier == web).")


def _swarm_constraints(constraint: Constraint) -> list[str]:
    assert constraint.node is not None
    out: list[str] = []
    for atom in _atoms(constraint.node, False, constraint):
        key = swarm_key(atom.name)
        if atom.op == "==" or atom.op == "in" and len(atom.values) == 1:
            out.append(f"{key}=={atom.values[0]}")
        elif atom.op in ("!=", "!in"):
            out.extend(f"{key}!={v}" for v in atom.values)
        elif atom.op == "in":
            raise _refuse(constraint, f"{atom.text()} is one of several values (an \"or\")")
        elif atom.op in ("=~", "!~"):
            raise _refuse(constraint, f"{atom.text()} is a regular expression")
        else:
            raise _refuse(constraint, f"{atom.text()} tests whether a label exists")
    return out


def swarm_placement(constraints: Sequence[Constraint],
                    strategies: Sequence[tuple[str, str]] = (),
                    cluster_strategy: str = "spread") -> SwarmPlacement:
    """The Swarm placement of a service: its (and its task definition's) constraints
    (`placement_rules.constraints_of`), its ordered strategies ((type, field) pairs) and the
    cluster's `placement_strategy` (used when the service has none). Raises
    SwarmPlacementError for a constraint Swarm cannot express."""
    result = SwarmPlacement()
    seen: set[str] = set()
    for c in constraints:
        if c.type == "distinctInstance":
            result = _with(result, max_replicas=1)
            continue
        if c.node is None:
            continue
        for s in _swarm_constraints(c):
            if s not in seen:
                seen.add(s)
                result.constraints.append(s)
    rules = list(strategies) or [(cluster_strategy or "spread", "instanceId")]
    for stype, field_ in rules:
        if stype == "spread":
            if field_.startswith("attribute:"):
                descriptor = swarm_key(field_[len("attribute:"):])
                result.preferences.append({"Spread": {"SpreadDescriptor": descriptor}})
            # spread by instanceId: what Swarm does anyway
        elif stype == "binpack":
            result.warnings.append(
                f"placement strategy binpack({field_ or 'memory'}) has no Swarm equivalent: "
                "Swarm's scheduler spreads tasks across the nodes instead")
        elif stype == "random":
            result.warnings.append("placement strategy random has no Swarm equivalent: "
                                   "Swarm's scheduler spreads tasks across the nodes instead")
    return result


def _with(p: SwarmPlacement, **changes: Any) -> SwarmPlacement:
    return SwarmPlacement(constraints=p.constraints, preferences=p.preferences,
                          warnings=p.warnings,
                          max_replicas=changes.get("max_replicas", p.max_replicas))


def service_swarm_placement(service: Mapping[str, Any], taskdef: Mapping[str, Any] | None,
                            cluster: Mapping[str, Any] | None = None) -> SwarmPlacement:
    """`swarm_placement` from the attributes of a service, its task definition and its
    cluster (as state and the plan hold them)."""
    strategies = [(str(s.get("type")), str(s.get("field") or ""))
                  for s in service.get("placement_strategy") or [] if isinstance(s, Mapping)]
    return swarm_placement(constraints_of(taskdef, service), strategies,
                           str((cluster or {}).get("placement_strategy") or "spread"))


def node_attributes(hostname: str, labels: Mapping[str, str] | None = None,
                    os: str = "linux", arch: str = "") -> dict[str, str]:
    """A Swarm node as the query language sees it: its labels, and the built-ins
    (`ecs.instance-id` is the hostname)."""
    attrs = {str(k): str(v) for k, v in (labels or {}).items()}
    attrs[INSTANCE_ID] = hostname
    attrs["ecs.os-type"] = os
    if arch:
        attrs["ecs.cpu-architecture"] = arch
    return attrs


def check_nodes(constraints: Sequence[Constraint], nodes: Sequence[Mapping[str, str]],
                what: str = "the service") -> list[str]:
    """Errors for the memberOf constraints no node satisfies (each alone, then all together),
    given the nodes' attributes (`node_attributes`): refuse at plan time what Swarm would
    leave pending forever."""
    errors = [f'No node satisfies the placement constraint memberOf "{c.expression}" of '
              f"{what} (nodes: {_listing(nodes)})" for c in unsatisfied(constraints, nodes)]
    member = [c for c in constraints if c.node is not None]
    if not errors and len(member) > 1 and not any(
            all(c.admits(n) for c in member) for n in nodes):
        joined = " and ".join(f'"{c.expression}"' for c in member)
        errors.append(f"No node satisfies all the placement constraints of {what} together "
                      f"({joined}; nodes: {_listing(nodes)})")
    return errors


def _listing(nodes: Sequence[Mapping[str, str]]) -> str:
    if not nodes:
        return "none"
    parts = []
    for n in nodes:
        labels = ", ".join(f"{k}={v}" for k, v in sorted(n.items())
                           if k not in (INSTANCE_ID, "ecs.os-type", "ecs.cpu-architecture"))
        parts.append(f"{n.get(INSTANCE_ID)}" + (f" [{labels}]" if labels else ""))
    return "; ".join(parts)
