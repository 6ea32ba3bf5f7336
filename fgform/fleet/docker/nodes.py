"""`fgform nodes` on the local backend: each cluster's capacity instances (the `capacity`
block, as the capacity manager places tasks on them) with what this state's running tasks
reserve there.

The instances are always "ready" and "active": they are bookkeeping on one engine, with no
machine of their own to lose or drain. The usage comes from ONE list call for every
cluster (the task containers' labels), as `placement.cluster_usage` reads it for one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import docker

from fgform.fleet import capacity
from fgform.fleet.docker.cluster import instances
from fgform.fleet.docker.live_tasks import list_live_tasks
from fgform.fleet.driver import FleetContext
from fgform.fleet.fleet import NodeRow


def usage_by_cluster(ctx: FleetContext, client: docker.DockerClient
                     ) -> dict[str, dict[str, capacity.Usage]]:
    """cluster name -> instance id -> what its running tasks reserve: ONE list call."""
    out: dict[str, dict[str, capacity.Usage]] = {}
    for task in list_live_tasks(ctx, client):
        if not any(c.running or c.state == "created" for c in task.containers):
            continue  # a finished task holds nothing (as cluster_usage counts)
        per = out.setdefault(task.cluster, {})
        u = per.get(task.instance, capacity.Usage())
        per[task.instance] = capacity.Usage(u.cpu + task.cpu, u.memory + task.memory,
                                            u.tasks + 1)
    return out


def local_nodes(ctx: FleetContext, client: docker.DockerClient,
                clusters: Sequence[tuple[str, dict[str, Any]]]) -> list[NodeRow]:
    """The rows of the local clusters among `clusters` ((name, attributes) pairs)."""
    if not clusters:
        return []
    usage = usage_by_cluster(ctx, client)
    rows = []
    for name, attrs in clusters:
        used = usage.get(name, {})
        for inst in instances(client, attrs):
            u = used.get(str(inst["id"]), capacity.Usage())
            rows.append(NodeRow(
                cluster=name, engine="docker", instance=str(inst["id"]),
                node_id=str(inst["id"]), role="instance", state="ready",
                availability="active", cpu=int(inst["cpu"]), memory=int(inst["memory"]),
                tasks=u.tasks, cpu_reserved=u.cpu, memory_reserved=u.memory,
                attributes={str(k): str(v) for k, v in (inst.get("attributes") or {}).items()}))
    return rows
