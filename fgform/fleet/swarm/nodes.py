"""`fgform nodes` on a Swarm: the swarm's nodes as the cluster's capacity, each with its
state, availability, size and the tasks of this state Swarm placed on it.

Three list calls whatever the size of the swarm or the number of tasks: the nodes, the
tasks of this lineage that Swarm wants running (filtered by the lineage label, which a
task carries from its service), and (only when a task's container labels do not name its
cluster) this lineage's services. A node's size is what Swarm schedules reservations
against: Description.Resources, NanoCPUs as CPU units (1024 a core) and MemoryBytes as MiB.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import docker

from fgform.fleet.docker import labels as L
from fgform.fleet.driver import FleetContext
from fgform.fleet.fleet import NodeRow

# States of a task that Swarm has put on a node and that holds its reservation there.
PLACED = frozenset({"assigned", "accepted", "preparing", "ready", "starting", "running"})


def cpu_units(nano_cpus: int | float | None) -> int:
    """NanoCPUs as ECS CPU units: 1e9 NanoCPUs (one core) is 1024 units."""
    return int(round((nano_cpus or 0) / 1_000_000_000 * 1024))


def mib(nbytes: int | float | None) -> int:
    return int((nbytes or 0) // (1024 * 1024))


def node_facts(node: dict[str, Any]) -> dict[str, Any]:
    """What a row shows of one node (`docker node inspect`'s JSON)."""
    desc = node.get("Description") or {}
    spec = node.get("Spec") or {}
    res = desc.get("Resources") or {}
    return {
        "id": str(node.get("ID") or ""),
        "hostname": str(desc.get("Hostname") or node.get("ID") or ""),
        "role": str(spec.get("Role") or ""),
        "state": str((node.get("Status") or {}).get("State") or "unknown"),
        "availability": str(spec.get("Availability") or "active"),
        "cpu": cpu_units(res.get("NanoCPUs")),
        "memory": mib(res.get("MemoryBytes")),
        "attributes": {str(k): str(v) for k, v in (spec.get("Labels") or {}).items()},
    }


def placed_usage(ctx: FleetContext, client: docker.DockerClient
                 ) -> dict[tuple[str, str], tuple[int, int, int]]:
    """(cluster name, node id) -> (tasks, reserved cpu units, reserved MiB) of this state's
    tasks that Swarm wants running and has put on a node."""
    tasks = client.api.tasks(filters={"label": L.label_filter(ctx)["label"],
                                      "desired-state": "running"})
    service_labels: dict[str, dict[str, str]] | None = None
    out: dict[tuple[str, str], tuple[int, int, int]] = {}
    for t in tasks:
        node = t.get("NodeID")
        if not node or (t.get("Status") or {}).get("State") not in PLACED:
            continue
        spec = t.get("Spec") or {}
        cluster = ((spec.get("ContainerSpec") or {}).get("Labels") or {}).get(L.CLUSTER)
        if cluster is None:
            if service_labels is None:  # one call, only when needed
                service_labels = {s["ID"]: (s.get("Spec") or {}).get("Labels") or {}
                                  for s in client.api.services(filters=L.label_filter(ctx))}
            cluster = service_labels.get(str(t.get("ServiceID")), {}).get(L.CLUSTER, "")
        reserve = (spec.get("Resources") or {}).get("Reservations") or {}
        n, cpu, mem = out.get((cluster, node), (0, 0, 0))
        out[(cluster, node)] = (n + 1, cpu + cpu_units(reserve.get("NanoCPUs")),
                                mem + mib(reserve.get("MemoryBytes")))
    return out


def swarm_nodes(ctx: FleetContext, client: docker.DockerClient,
                clusters: Sequence[tuple[str, dict[str, Any]]]) -> list[NodeRow]:
    """The rows of the Swarm clusters among `clusters` ((name, attributes) pairs): every node
    of the swarm for each (the whole swarm is a Swarm cluster's capacity)."""
    if not clusters:
        return []
    nodes = [node_facts(n) for n in client.api.nodes()]
    usage = placed_usage(ctx, client)
    rows = []
    for name, _attrs in clusters:
        for n in nodes:
            count, cpu, mem = usage.get((name, n["id"]), (0, 0, 0))
            rows.append(NodeRow(
                cluster=name, engine="swarm", instance=n["hostname"], node_id=n["id"],
                role=n["role"], state=n["state"], availability=n["availability"],
                cpu=n["cpu"], memory=n["memory"], tasks=count, cpu_reserved=cpu,
                memory_reserved=mem, attributes=n["attributes"]))
    return rows
