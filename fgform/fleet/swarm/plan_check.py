"""Plan-time placement check on a Swarm: a service whose placement constraints no node
satisfies is refused before anything changes (as Nomad's plan reports placement failures),
where Swarm itself would leave its tasks pending forever.

On the local backend the instances are in the configuration and `config/checks_placement`
decides without Docker; a Swarm's nodes are the fleet's, so this runs on the planned changes
with the nodes' attributes the fleet reports (labels and built-ins, `node_attributes`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fgform.fleet.swarm.placement import check_nodes
from fgform.placement_rules import ExpressionError, constraints_of
from fgform.plan.model import Action, ResourceChange
from fgform.values import contains_unknown

_CHECKED = (Action.CREATE, Action.UPDATE, Action.DELETE_THEN_CREATE, Action.CREATE_THEN_DELETE)


def _base(address: str) -> str:
    return address.split("[", 1)[0]


def _related(change: ResourceChange, by_type: Mapping[str, list[ResourceChange]],
             rtype: str, attr: str, key: str) -> dict[str, Any] | None:
    """The planned attributes of the `rtype` resource the service names in `attr` (matched by
    `key` when known, else the one it depends on)."""
    want = (change.after or {}).get(attr)
    candidates = [c.after for c in by_type.get(rtype, []) if isinstance(c.after, dict)]
    if isinstance(want, str):
        exact = [a for a in candidates if a.get(key) == want]
        if len(exact) == 1:
            return exact[0]
    deps = set(change.dependencies)
    dep = [c.after for c in by_type.get(rtype, []) if isinstance(c.after, dict)
           and (str(c.address) in deps or _base(str(c.address)) in deps)]
    return dep[0] if len(dep) == 1 else None


def swarm_placement_errors(changes: Sequence[ResourceChange],
                           nodes: Callable[[], list[dict[str, str]]]) -> list[str]:
    """Errors for the services planned onto a Swarm cluster whose memberOf constraints no
    node satisfies. `nodes` gives the swarm's node attributes; it is called only when some
    such service has constraints (one list call)."""
    by_type: dict[str, list[ResourceChange]] = {}
    for c in changes:
        if c.action is not Action.DELETE:
            by_type.setdefault(c.address.type, []).append(c)
    errors: list[str] = []
    listed: list[dict[str, str]] | None = None
    for change in by_type.get("fg_service", []):
        if change.action not in _CHECKED or not isinstance(change.after, dict):
            continue
        cluster = _related(change, by_type, "fg_cluster", "cluster", "id")
        if cluster is None or cluster.get("engine") != "swarm":
            continue
        taskdef = _related(change, by_type, "fg_task_definition", "task_definition", "arn")
        if contains_unknown(change.after.get("placement_constraints")) or \
                contains_unknown((taskdef or {}).get("placement_constraints")):
            continue  # known at apply: Swarm then holds the tasks pending, as ECS would
        try:
            constraints = constraints_of(taskdef, change.after)
        except ExpressionError:
            continue  # validation reports it with its file and line
        if not any(c.node is not None for c in constraints):
            continue
        if listed is None:
            listed = nodes()
        errors.extend(check_nodes(constraints, listed, what=str(change.address)))
    return errors
