"""fg_cluster on a Docker Swarm: an attachable overlay network, and the swarm's nodes as
its capacity.

The network is named and labelled exactly as the local cluster's bridge network
(`fgform-<name>`, lineage, address, config hash), so reading, importing and deleting are the
local driver's (one list call finds it by its labels). Only its making differs: the
`overlay` driver (VXLAN between the nodes), `attachable` so one-off containers (and the load
balancer's proxy) may join it, with `cidr_block` as its subnet.

There is no `capacity` block on a swarm: as an ECS cluster's capacity is the container
instances registered with it, a swarm cluster's is its nodes (`swarm_instances`). A
`capacity` block written for the local engine is kept in state but places nothing, so the
same configuration applies to either engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import docker
from docker.errors import APIError
from docker.types import IPAMConfig, IPAMPool

from fgform.addresses import Address
from fgform.errors import FgformError
from fgform.fleet.docker import labels as L
from fgform.fleet.docker.cluster import (
    KIND,
    ClusterDriver,
    _config,
    _overlap,
    cluster_name,
    network_name,
)
from fgform.fleet.driver import FleetContext

ENGINE = "swarm"


def is_swarm(attrs: dict[str, Any] | None) -> bool:
    """Whether a cluster's attributes (state's or planned) name the swarm engine."""
    return isinstance(attrs, dict) and attrs.get("engine") == ENGINE


@dataclass(frozen=True, slots=True)
class SwarmNode:
    """One node of the swarm as the capacity manager sees an instance (`id`, `cpu` in CPU
    units, `memory` in MiB), with what `fgform nodes` shows besides."""

    id: str  # the node's hostname: what `fgform tasks` shows as a task's instance
    cpu: int
    memory: int
    node_id: str = ""
    hostname: str = ""
    state: str = ""  # ready, down, unknown, disconnected
    availability: str = ""  # active, pause, drain
    role: str = ""  # manager, worker
    address: str = ""
    labels: dict[str, str] = field(default_factory=dict)  # node labels (Spec.Labels)


def node_from_api(node: dict[str, Any]) -> SwarmNode:
    """A node of `client.api.nodes()` as a SwarmNode (CPU from NanoCPUs, 1e9 = 1024 units;
    memory from MemoryBytes)."""
    desc = node.get("Description") or {}
    res = desc.get("Resources") or {}
    spec = node.get("Spec") or {}
    status = node.get("Status") or {}
    host = str(desc.get("Hostname") or node.get("ID", "")[:12])
    return SwarmNode(
        id=host,
        cpu=int(int(res.get("NanoCPUs") or 0) * 1024 // 1_000_000_000),
        memory=int(res.get("MemoryBytes") or 0) // (1024 * 1024),
        node_id=str(node.get("ID", "")),
        hostname=host,
        state=str(status.get("State") or ""),
        availability=str(spec.get("Availability") or ""),
        role=str(spec.get("Role") or ""),
        address=str(status.get("Addr") or ""),
        labels=dict(spec.get("Labels") or {}),
    )


def swarm_instances(client: docker.DockerClient) -> list[SwarmNode]:
    """The swarm's nodes as capacity instances, sorted by hostname: ONE list call on the
    manager. Raises FgformError when the engine is not a swarm manager."""
    try:
        nodes = client.api.nodes()
    except APIError as exc:
        raise not_a_manager(exc) from exc
    return sorted((node_from_api(n) for n in nodes), key=lambda n: n.hostname)


def node_names(client: docker.DockerClient) -> dict[str, str]:
    """Node id -> hostname, for every node of the swarm (one list call)."""
    return {n.node_id: n.hostname for n in swarm_instances(client)}


def not_a_manager(exc: Exception) -> FgformError:
    """The error for a swarm call the engine refused (not a manager, not in a swarm)."""
    why = getattr(exc, "explanation", None) or str(exc)
    return FgformError(
        f"the Docker engine is not a Swarm manager: {why}",
        hint="A cluster with engine = \"swarm\" needs DOCKER_HOST to point at a manager "
             "of a swarm (`docker swarm init`, or `bash scripts/swarm.sh up 3` to try one).")


class SwarmClusterDriver(ClusterDriver):
    """The cluster's overlay network; read, import and delete are the local driver's."""

    type_name = "fg_cluster"

    def create(self, ctx: FleetContext, addr: Address, planned: dict[str, Any]
               ) -> dict[str, Any]:
        client = self.client
        name = cluster_name(addr, planned)
        net_name = network_name(name)
        cidr = str(planned.get("cidr_block") or "10.213.0.0/24")
        config = _config({"name": planned.get("name"), "cidr_block": cidr})
        swarm_instances(client)  # fails early, and clearly, off a manager
        self._remove_leftover(client, ctx, addr, net_name)
        clash = _overlap(client, cidr)
        if clash is not None:
            raise FgformError(
                f"cidr_block {cidr} overlaps subnet {clash[1]} of Docker network {clash[0]}",
                hint="choose a cidr_block that no other Docker network uses",
            )
        try:
            net = client.networks.create(
                net_name, driver="overlay", attachable=True, scope="swarm",
                check_duplicate=True,
                ipam=IPAMConfig(pool_configs=[IPAMPool(subnet=cidr)]),
                labels=L.base_labels(ctx, addr, attrs=config, kind=KIND,
                                     **{L.CLUSTER: name}),
            )
        except APIError as exc:
            raise FgformError(f"cannot create overlay network {net_name} with subnet {cidr}: "
                              f"{exc.explanation or exc}") from exc
        ctx.log(f"overlay network {net_name} ({cidr}) created: {net.short_id}")
        return {**planned, "name": planned.get("name"), "cidr_block": cidr, "id": name,
                "network_name": net_name}

    def import_object(self, ctx: FleetContext, addr: Address, ident: str
                      ) -> dict[str, Any] | None:
        """As the local driver's, `engine` set from the network's driver: an overlay
        network is a swarm cluster's."""
        attrs = super().import_object(ctx, addr, ident)
        if attrs is None:
            return None
        net = self.client.api.inspect_network(str(attrs["network_name"]))
        return {**attrs, "engine": ENGINE if net.get("Driver") == "overlay" else None}
