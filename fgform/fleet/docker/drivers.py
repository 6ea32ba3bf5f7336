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


class Relabelled:
    """A driver seen through the instances' label addresses (`FleetContext.labels`).

    Docker objects are found, named and labelled by the resource address they were made for,
    and labels cannot change: after a `moved` block the objects keep the old address. Every
    call gets the address the objects carry instead of the instance's new one (read's answer
    is keyed back by the new ones), so a move keeps the objects as Terraform keeps the remote
    object. Other attributes (reconcile, import_object...) pass through, their Address
    arguments translated the same way.
    """

    def __init__(self, inner: Driver) -> None:
        self.inner = inner
        self.type_name = inner.type_name

    def read(self, ctx: FleetContext, items: dict[Address, dict[str, Any]]
             ) -> dict[Address, dict[str, Any] | None]:
        if not ctx.labels:
            return self.inner.read(ctx, items)
        back = {ctx.label_address(a): a for a in items}
        live = self.inner.read(ctx, {label: items[a] for label, a in back.items()})
        return {back.get(label, label): attrs for label, attrs in live.items()}

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            ctx = next((a for a in args if isinstance(a, FleetContext)), None)
            if name == "create" and ctx is not None and ctx.labels:
                fresh_label(ctx, next(a for a in args if isinstance(a, Address)))
            if ctx is not None and ctx.labels:
                args = tuple(ctx.label_address(a) if isinstance(a, Address) else a
                             for a in args)
            return attr(*args, **kwargs)

        return call


def fresh_label(ctx: FleetContext, addr: Address) -> None:
    """Before creating instance `addr`: when another instance moved away from this address,
    its objects still carry it, so the new objects get a label of their own
    (`fg_x.name--2`, recorded in state as `labelled_as`) and neither sees the other's."""
    taken = set(ctx.labels.values())
    if str(addr) in ctx.labels or str(addr) not in taken:
        return
    n = 2
    while True:
        label = Address(addr.type, f"{addr.name}--{n}", addr.key, addr.module)
        if str(label) not in taken and str(label) not in ctx.resources:
            ctx.labels[str(addr)] = str(label)
            return
        n += 1


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
    return {d.type_name: Relabelled(d) for d in table}  # type: ignore[misc]
