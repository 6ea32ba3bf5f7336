"""Where new tasks go: a cluster's instances and what its running tasks reserve on them
(cpu, memory, the subnet's addresses, host ports), placed by the capacity manager before
anything starts, under a lock held until the containers exist.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import ipaddress
import socket
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import docker
from docker.errors import APIError, NotFound

from fgform.errors import FgformError
from fgform.fleet import capacity
from fgform.fleet.docker import labels as L
from fgform.fleet.docker.cluster import instance_address, instances
from fgform.fleet.docker.live_tasks import KIND_RUN_TASK, list_live_tasks
from fgform.fleet.driver import FleetContext
from fgform.placement_rules import Placement, instance_attributes, placement_of


@dataclass(frozen=True, slots=True)
class ClusterInfo:
    """What launching needs from a cluster's attributes."""

    name: str
    network: str
    strategy: str
    instances: tuple[capacity.Instance, ...]


def cluster_info(client: docker.DockerClient, cluster_attrs: dict[str, Any]) -> ClusterInfo:
    """Name, network, strategy and fleet of a cluster (fleet from cluster.instances)."""
    # Each instance's attributes (capacity's `attribute` blocks and the built-ins), which
    # placement constraints select instances by.
    attrs = instance_attributes(cluster_attrs.get("capacity"))
    insts = [capacity.Instance(str(inst["id"]), int(inst["cpu"]), int(inst["memory"]),
                               tuple(sorted(attrs[k].items())) if k < len(attrs) else ())
             for k, inst in enumerate(instances(client, cluster_attrs))]
    name = cluster_attrs.get("id") or cluster_attrs.get("name")
    return ClusterInfo(
        name=str(name),
        network=str(cluster_attrs.get("network_name") or f"fgform-{name}"),
        strategy=str(cluster_attrs.get("placement_strategy") or "spread"),
        instances=tuple(insts),
    )


def cluster_usage(ctx: FleetContext, client: docker.DockerClient, cluster: str
                  ) -> dict[str, capacity.Usage]:
    """Reserved cpu/memory and task count per instance, from the labels of every running
    task in the cluster (services and one-off tasks alike): ONE list call."""
    usage: dict[str, capacity.Usage] = {}
    for task in list_live_tasks(ctx, client, **{L.CLUSTER: cluster}):
        if not any(c.running or c.state == "created" for c in task.containers):
            continue  # a finished task holds nothing
        u = usage.get(task.instance, capacity.Usage())
        usage[task.instance] = capacity.Usage(u.cpu + task.cpu, u.memory + task.memory,
                                              u.tasks + 1)
    return usage


def task_size(taskdef: dict[str, Any]) -> tuple[int, int]:
    """(cpu units, MiB) a task of this definition reserves on its instance."""
    return int(taskdef.get("cpu") or 0), int(taskdef.get("memory") or 0)


def place_tasks(ctx: FleetContext, client: docker.DockerClient, cluster: ClusterInfo,
                taskdef: dict[str, Any], count: int,
                usage: dict[str, capacity.Usage] | None = None, *,
                placement: Placement | None = None,
                group: dict[str, int] | None = None) -> list[str]:
    """Instances for `count` new tasks, or InsufficientCapacityError before any start.

    Host ports the task definition publishes are a per-instance resource: see
    `placement_usage` (which `usage`, when given, must come from). `placement` is the
    service's (constraints, strategies; the task definition's constraints alone when None),
    `group` its tasks of this revision per instance (for distinctInstance)."""
    if count <= 0:
        return []
    if usage is None:
        usage = placement_usage(ctx, client, cluster, taskdef)
    what = str(taskdef.get("arn") or "task")
    if placement is None:
        placement = placement_of(None, taskdef)
    placed = capacity.place([task_size(taskdef)] * count, cluster.instances, usage,
                            cluster.strategy, what=what, ports=host_ports(taskdef),
                            placement=placement, group=group)
    check_addresses(client, cluster, count, what)
    return placed


def placement_usage(ctx: FleetContext, client: docker.DockerClient, cluster: ClusterInfo,
                    taskdef: dict[str, Any]) -> dict[str, capacity.Usage]:
    """`cluster_usage`, with the host ports of `taskdef` that are taken on each instance's
    address (by any container of the engine, or by another process of this machine)."""
    usage = cluster_usage(ctx, client, cluster.name)
    ports = host_ports(taskdef)
    if not ports:
        return usage
    held = host_ports_held(client, {i.id: instance_address(i.id) for i in cluster.instances},
                           ports)
    return {iid: dataclasses.replace(usage.get(iid, capacity.Usage()), ports=held.get(iid, {}))
            for iid in set(usage) | set(held)}


def check_addresses(client: docker.DockerClient, cluster: ClusterInfo, count: int,
                    what: str) -> None:
    """Each task takes one address of the cluster subnet (awsvpc): refuse early, as ECS does
    for an exhausted subnet, rather than fail half-way through starting."""
    try:
        net = client.api.inspect_network(cluster.network)
    except NotFound as exc:
        raise FgformError(f"the network {cluster.network} of cluster {cluster.name} does not "
                          "exist", hint="Apply the fg_cluster first (or refresh).") from exc
    subnets = [c.get("Subnet") for c in (net.get("IPAM") or {}).get("Config") or []
               if c.get("Subnet")]
    if not subnets:
        return
    size = ipaddress.ip_network(subnets[0], strict=False).num_addresses
    usable = max(size - 3, 0)  # network, broadcast and the bridge's gateway address
    in_use = len(net.get("Containers") or {})
    if in_use + count > usable:
        raise capacity.InsufficientCapacityError(
            f"Unable to place {count} task(s) of {what}: the cluster subnet {subnets[0]} has "
            f"{max(usable - in_use, 0)} free address(es) ({in_use} of {usable} in use); every "
            "task takes one",
            unplaced=count, free={},
            hint="Give the cluster a larger cidr_block (it forces a new cluster), or run "
                 "fewer tasks.")


_cluster_locks: dict[str, threading.Lock] = {}
_cluster_locks_guard = threading.Lock()


def cluster_lock(cluster: str) -> threading.Lock:
    """Held from placement until the containers exist: usage is read from container labels,
    so two services of one cluster applied in parallel must not both place into the same
    free space before either has created its containers."""
    with _cluster_locks_guard:
        return _cluster_locks.setdefault(cluster, threading.Lock())


# Host ports are shared by every cluster (instance K of each publishes on one address).
_host_ports_lock = threading.Lock()


@contextlib.contextmanager
def placement_lock(cluster: ClusterInfo, taskdef: dict[str, Any]) -> Iterator[None]:
    """`cluster_lock`, and for a task definition that publishes host ports the lock of the
    host's ports too (always taken first, so two placements cannot deadlock): services of
    different clusters applied in parallel must not both take one port."""
    with contextlib.ExitStack() as stack:
        if host_ports(taskdef):
            stack.enter_context(_host_ports_lock)
        stack.enter_context(cluster_lock(cluster.name))
        yield


def host_bindings(td: dict[str, Any], bind: str = "127.0.0.1") -> dict[str, Any]:
    """Host ports of every container: all published on the first container, which owns the
    task's network namespace."""
    out: dict[str, Any] = {}
    for spec in td.get("container") or []:
        for pm in spec.get("port_mapping") or []:
            if pm.get("host_port"):
                key = f"{pm['container_port']}/{pm.get('protocol') or 'tcp'}"
                out[key] = (bind, int(pm["host_port"]))
    return out


def port_label(port: int, protocol: str | None = "tcp") -> str:
    """A host port as the capacity manager and the messages name it: "8080" (TCP, what
    nearly every task publishes) or "53/udp"."""
    proto = (protocol or "tcp").lower()
    return str(port) if proto == "tcp" else f"{port}/{proto}"


def host_ports(td: dict[str, Any]) -> list[str]:
    """The host ports a task of this definition publishes, as `port_label`s, in order."""
    labels = {port_label(port, key.partition("/")[2])
              for key, (_bind, port) in host_bindings(td).items()}
    return sorted(labels, key=lambda p: (int(p.partition("/")[0]), p))


# Published on every address of the host: such a port is taken on every instance.
_ANY_ADDRESS = ("", "0.0.0.0", "::")


def host_ports_held(client: docker.DockerClient, instances: dict[str, str],
                    ports: Sequence[str]) -> dict[str, dict[str, str]]:
    """For each instance (id -> its address), which of `ports` are taken there, and by whom.

    Every container of the engine counts, not only this cluster's or this state's tasks:
    instances of different clusters share addresses, and a registry or a load balancer
    listener publishes on them too. A running container's ports come from the list call; a
    container that is created (about to start) or restarting holds none yet, so its
    configured bindings are read. A port held by a process outside Docker is found by
    trying to bind it (when the engine runs on this machine).
    """
    held: dict[str, dict[str, str]] = {iid: {} for iid in instances}
    if not ports:
        return held
    wanted = set(ports)
    by_address: dict[str, list[str]] = {}
    for iid, address in instances.items():
        by_address.setdefault(address, []).append(iid)

    def take(ip: str, label: str, holder: str) -> None:
        if label not in wanted:
            return
        targets = list(instances) if ip in _ANY_ADDRESS else by_address.get(ip, [])
        for iid in targets:
            held[iid].setdefault(label, holder)

    rows = client.api.containers(all=True, filters={
        "status": ["running", "created", "restarting", "paused"]})
    for row in sorted(rows, key=lambda r: (r.get("Created") or 0, r["Id"])):
        holder = _holder(row)
        if row.get("State") in ("running", "paused"):
            for p in row.get("Ports") or []:
                if p.get("PublicPort"):
                    take(str(p.get("IP") or ""), port_label(int(p["PublicPort"]), p.get("Type")),
                         holder)
            continue
        try:
            bindings = (client.api.inspect_container(row["Id"]).get("HostConfig") or {}) \
                .get("PortBindings") or {}
        except (NotFound, APIError):
            continue  # removed meanwhile: it holds nothing
        for key, binds in bindings.items():
            proto = str(key).partition("/")[2]
            for b in binds or []:
                if str(b.get("HostPort") or "").isdigit():
                    take(str(b.get("HostIp") or ""), port_label(int(b["HostPort"]), proto),
                         holder)
    if _engine_is_local(client):
        for address, iids in by_address.items():
            for label in ports:
                if not all(label in held[iid] for iid in iids) and _bound(address, label):
                    for iid in iids:
                        held[iid].setdefault(label, "a process outside Docker")
    return held


def _holder(row: dict[str, Any]) -> str:
    """Who a container publishing a port is, for a message: a task by its service (or
    one-off task definition) and id, another fgform object by its resource address."""
    labels = row.get("Labels") or {}
    name = (row.get("Names") or ["/" + row["Id"][:12]])[0].lstrip("/")
    tid = labels.get(L.TASK_ID)
    if tid:
        if labels.get(L.KIND) == KIND_RUN_TASK:
            return f"run-task {labels.get(L.TASK_DEFINITION, '?')} (task {tid})"
        return f"service {labels.get(L.SERVICE) or '?'} (task {tid})"
    if labels.get(L.ADDRESS):
        return f"{labels[L.ADDRESS]} (container {name})"
    return f"container {name}"


def _engine_is_local(client: docker.DockerClient) -> bool:
    """Whether the engine publishes on this machine's addresses (a Unix socket)."""
    return str(getattr(client.api, "base_url", "")).startswith("http+docker://")


def _bound(address: str, label: str) -> bool:
    """Whether something already listens on `address`:port (TCP; other protocols are left
    to Docker, which reports a clash when it starts the task)."""
    number, _, proto = label.partition("/")
    if proto not in ("", "tcp"):
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # As a listener would: a port left in TIME_WAIT by a stopped task is free.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((address, int(number)))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False
