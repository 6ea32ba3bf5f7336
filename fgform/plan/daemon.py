"""A DAEMON service's desired_count at plan time: one task on every instance of its local
cluster that satisfies its placement constraints. The instances are in the configuration
(the cluster's `capacity`), so the plan shows the count, and a change of the cluster's
instance_count or attributes plans the service's update (its tasks added or removed at
apply), as ECS adjusts a daemon service when container instances join or leave."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fgform.addresses import Address
from fgform.placement_rules import daemon_task_count
from fgform.values import UNKNOWN, contains_unknown

# Engines whose instances the configuration declares; a Swarm's nodes are the fleet's.
LOCAL_ENGINES = (None, "docker")


def with_daemon_count(desired: dict[str, Any], deps: list[str],
                      planned: Mapping[Address, Any],
                      prior: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """`desired` (a service's decoded configuration) with desired_count set for a DAEMON
    service on a local cluster: from the planned values of the cluster and task definition
    it depends on (`planned`: address -> object with `.after`). UNKNOWN when they are not
    known yet; unchanged for any other service.

    On another engine (Swarm) the nodes decide: the count the fleet last reported (the
    refreshed `prior` attributes) is kept, UNKNOWN for a new service."""
    if desired.get("scheduling_strategy") != "DAEMON":
        return desired
    cluster = _dependency(desired, deps, planned, "fg_cluster", "cluster", "id")
    if cluster is not None and cluster.get("engine") not in LOCAL_ENGINES:
        known = (prior or {}).get("desired_count")
        return {**desired, "desired_count": known if isinstance(known, int) else UNKNOWN}
    taskdef = _dependency(desired, deps, planned, "fg_task_definition", "task_definition",
                          "arn")
    count = None
    if cluster is not None and not contains_unknown(cluster.get("capacity")) and \
            not contains_unknown(desired.get("placement_constraints")) and \
            not contains_unknown((taskdef or {}).get("placement_constraints")):
        count = daemon_task_count(desired, cluster, taskdef)
    return {**desired, "desired_count": UNKNOWN if count is None else count}


def _dependency(desired: dict[str, Any], deps: list[str], planned: Mapping[Address, Any],
                rtype: str, attr: str, key: str) -> dict[str, Any] | None:
    """The planned value of the `rtype` resource the service names in `attr`: among its
    dependencies, the one whose `key` equals the service's value (or the only one)."""
    found = []
    for addr, change in planned.items():
        after = getattr(change, "after", None)
        if addr.type != rtype or not isinstance(after, dict):
            continue
        base = str(addr).split("[")[0]
        if str(addr) in deps or base in deps:
            found.append(after)
    exact = [a for a in found if a.get(key) == desired.get(attr)]
    if len(exact) == 1:
        return exact[0]
    return found[0] if len(found) == 1 else None
