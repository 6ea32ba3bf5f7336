"""The registry of drivers: resource type name -> the driver the applier calls.

Each module owns one type; this is the only place that knows them all.
"""

from __future__ import annotations

from typing import Any

import docker

from fgform.addresses import Address
from fgform.fleet.docker.client import DockerDriver
from fgform.fleet.docker.cluster import ClusterDriver, default_name
from fgform.fleet.docker.image import ImageDriver
from fgform.fleet.docker.load_balancer import LoadBalancerDriver, reconfigure_for_target_group
from fgform.fleet.docker.registry import RegistryDriver
from fgform.fleet.docker.service import ServiceDriver
from fgform.fleet.docker.task_definition import TaskDefinitionDriver
from fgform.fleet.driver import Driver, FleetContext


class TargetGroupDriver(DockerDriver):
    """fg_target_group is a backend of its load balancer's proxy: no Docker object of its
    own, `id` is its name (or its address, module path and key included). Updating it
    reloads the proxy that forwards to it."""

    type_name = "fg_target_group"

    def read(self, ctx: FleetContext, items: dict[Address, dict[str, Any]]
             ) -> dict[Address, dict[str, Any] | None]:
        return {addr: dict(attrs) for addr, attrs in items.items()}

    def create(self, ctx: FleetContext, addr: Address, planned: dict[str, Any]) -> dict[str, Any]:
        # From the whole address: the same module called twice must not share target groups.
        return {**planned, "id": str(planned.get("name") or default_name(addr))}

    def update(self, ctx: FleetContext, addr: Address, prior: dict[str, Any],
               planned: dict[str, Any]) -> dict[str, Any]:
        attrs = self.create(ctx, addr, planned)
        reconfigure_for_target_group(self.client, ctx, attrs)
        return attrs

    def delete(self, ctx: FleetContext, addr: Address, prior: dict[str, Any], *,
               replacing: bool) -> None:
        return None


def docker_drivers(client: docker.DockerClient) -> dict[str, Driver]:
    """Every resource type's driver on the engine `client` talks to, by type name."""
    table: list[Driver] = [
        RegistryDriver(client),
        ImageDriver(client),
        ClusterDriver(client),
        TaskDefinitionDriver(),
        TargetGroupDriver(client),
        LoadBalancerDriver(client),
        ServiceDriver(client),
    ]
    return {d.type_name: d for d in table}
