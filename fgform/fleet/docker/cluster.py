"""fg_cluster: a user-defined bridge network (the VPC subnet) plus bookkeeping of capacity.

The network `fgform-<name>` has the IPAM subnet `cidr_block`; tasks of the cluster join it.
Capacity ("instances") has no Docker object: `instances(attrs)` turns the `capacity` block
into the list the capacity manager places tasks on. `id` is the cluster name (as an ECS
cluster is addressed by name); `network_name` is the Docker network.
"""

from __future__ import annotations

import ipaddress
import threading
from typing import Any

from docker.errors import APIError, NotFound
from docker.types import IPAMConfig, IPAMPool

from fgform.addresses import Address
from fgform.errors import FgformError
from fgform.fleet.docker import labels as L
from fgform.fleet.docker.client import get_client
from fgform.fleet.driver import FleetContext

KIND = "cluster"
NETWORK_PREFIX = "fgform-"

_host_lock = threading.Lock()
_host: tuple[int, int] | None = None


def cluster_name(addr: Address | None, attrs: dict[str, Any]) -> str:
    """The `name` attribute, else the resource name (plus the key of a counted instance)."""
    if attrs.get("name"):
        return str(attrs["name"])
    if addr is None:
        raise FgformError("a cluster needs a name")
    return addr.name if addr.key is None else f"{addr.name}-{addr.key}"


def network_name(name: str) -> str:
    return f"{NETWORK_PREFIX}{name}"


def host_size() -> tuple[int, int]:
    """(CPU units, memory MiB) of the Docker host, from `docker info`; cached per process."""
    global _host
    with _host_lock:
        if _host is None:
            info = get_client().info()
            _host = (1024 * int(info["NCPU"]), int(info["MemTotal"]) // (1024 * 1024))
        return _host


def instances(attrs: dict[str, Any]) -> list[dict[str, Any]]:
    """The cluster's instances: `[{"id": "i-0", "cpu": ..., "memory": ...}, ...]`.

    Without a `capacity` block: one instance the size of the Docker host. With one, sizes not
    given default to an equal share of the host, so the fleet never claims more than the
    machine has unless the user says so.
    """
    cap = attrs.get("capacity") or {}
    count = int(cap.get("instance_count") or 1)
    cpu, memory = cap.get("instance_cpu"), cap.get("instance_memory")
    if cpu is None or memory is None:
        host_cpu, host_mem = host_size()
        cpu = cpu if cpu is not None else host_cpu // count
        memory = memory if memory is not None else host_mem // count
    return [{"id": f"i-{k}", "cpu": int(cpu), "memory": int(memory)} for k in range(count)]


def _subnets(net_attrs: dict[str, Any]) -> list[str]:
    return [c["Subnet"] for c in ((net_attrs.get("IPAM") or {}).get("Config") or [])
            if c.get("Subnet")]


def _overlap(cidr: str) -> tuple[str, str] | None:
    """(network, subnet) of an existing Docker network whose subnet overlaps `cidr`."""
    want = ipaddress.ip_network(cidr, strict=False)
    for net in get_client().networks.list():
        for subnet in _subnets(net.attrs):
            try:
                if ipaddress.ip_network(subnet, strict=False).overlaps(want):
                    return net.name, subnet
            except ValueError:
                continue
    return None


class ClusterDriver:
    """The cluster network; capacity and placement are attributes only."""

    type_name = "fg_cluster"

    def read(self, ctx: FleetContext, items: dict[Address, dict[str, Any]]
             ) -> dict[Address, dict[str, Any] | None]:
        nets = {n.attrs.get("Labels", {}).get(L.ADDRESS): n for n in get_client().networks.list(
            filters=L.label_filter(ctx, kind=KIND))}
        out: dict[Address, dict[str, Any] | None] = {}
        for addr, prior in items.items():
            net = nets.get(str(addr))
            if net is None:
                out[addr] = None
                continue
            live = dict(prior)
            subnets = _subnets(net.attrs)
            if subnets:
                live["cidr_block"] = subnets[0]
            live["network_name"] = net.name
            out[addr] = live
        return out

    def create(self, ctx: FleetContext, addr: Address, planned: dict[str, Any]
               ) -> dict[str, Any]:
        client = get_client()
        name = cluster_name(addr, planned)
        net_name = network_name(name)
        cidr = str(planned.get("cidr_block") or "10.213.0.0/24")
        self._remove_leftover(ctx, net_name)
        clash = _overlap(cidr)
        if clash is not None:
            raise FgformError(
                f"cidr_block {cidr} overlaps subnet {clash[1]} of Docker network {clash[0]}",
                hint="choose a cidr_block that no other Docker network uses",
            )
        try:
            net = client.networks.create(
                net_name, driver="bridge", check_duplicate=True,
                ipam=IPAMConfig(pool_configs=[IPAMPool(subnet=cidr)]),
                labels=L.base_labels(ctx, addr, attrs=_config(planned), kind=KIND,
                                     **{L.CLUSTER: name}),
            )
        except APIError as exc:
            # A race with another network being created, or a subnet Docker refuses.
            raise FgformError(f"cannot create network {net_name} with subnet {cidr}: "
                              f"{exc.explanation or exc}") from exc
        ctx.log(f"network {net_name} ({cidr}) created: {net.short_id}")
        return {**planned, "name": planned.get("name"), "cidr_block": cidr, "id": name,
                "network_name": net_name}

    def update(self, ctx: FleetContext, addr: Address, prior: dict[str, Any],
               planned: dict[str, Any]) -> dict[str, Any]:
        # capacity and placement_strategy are bookkeeping; name and cidr force replacement.
        return {**planned, "id": prior["id"], "network_name": prior["network_name"]}

    def delete(self, ctx: FleetContext, addr: Address, prior: dict[str, Any]) -> None:
        net_name = prior.get("network_name") or network_name(cluster_name(addr, prior))
        try:
            net = get_client().networks.get(net_name)
        except NotFound:
            return
        try:
            net.remove()
        except APIError as exc:
            if exc.status_code == 404:
                return
            attached = sorted((net.attrs.get("Containers") or {}).values(),
                              key=lambda c: c.get("Name", ""))
            names = ", ".join(c.get("Name", "?") for c in attached) or "unknown containers"
            raise FgformError(f"cannot delete network {net_name}: still used by {names}",
                              hint="stop the cluster's services and tasks first") from exc

    @staticmethod
    def _remove_leftover(ctx: FleetContext, net_name: str) -> None:
        """A network of this name from an interrupted apply of this state is replaced; anyone
        else's is an error (names are global on the engine)."""
        try:
            old = get_client().networks.get(net_name)
        except NotFound:
            return
        if (old.attrs.get("Labels") or {}).get(L.LINEAGE) != ctx.lineage:
            raise FgformError(f"a Docker network named {net_name} already exists and is not "
                              "managed by this state", hint="give the cluster another name")
        ctx.log(f"removing leftover network {net_name}")
        old.remove()


def _config(attrs: dict[str, Any]) -> dict[str, Any]:
    return {k: attrs.get(k) for k in ("name", "cidr_block")}


DRIVER = ClusterDriver()
