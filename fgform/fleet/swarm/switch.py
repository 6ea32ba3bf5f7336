"""The engine switch: each resource goes to the local driver or the Swarm one, by the engine
of its cluster (`fg_cluster.engine`).

A cluster names its engine; a service follows its cluster (found by `planned["cluster"]` in
`ctx.resources`); a load balancer too (its Swarm driver plugs into `SWARM_DRIVERS`). A
read gets a batch: it is split by engine, each part read by its own driver (each still one
list call per object kind). Everything else a driver has (import, the scheduler's
`remove_orphans`) is the local driver's, or both drivers' where both may hold objects.

`engine_drivers(client)` is the table the command line's fleet uses: the local one
(`docker_drivers`) with the switch put between `Relabelled` and the local drivers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import docker

from fgform.addresses import Address
from fgform.errors import FgformError
from fgform.fleet.docker.drivers import Relabelled, docker_drivers
from fgform.fleet.docker.lookup import find_cluster
from fgform.fleet.driver import Driver, FleetContext
from fgform.fleet.swarm.cluster import ENGINE, SwarmClusterDriver, is_swarm
from fgform.fleet.swarm.service import SwarmServiceDriver

LOCAL = "docker"


def _swarm_load_balancer(client: docker.DockerClient) -> Driver | None:
    """The Swarm load balancer driver, when there is one (fleet/swarm/load_balancer.py)."""
    try:
        from fgform.fleet.swarm import load_balancer  # type: ignore[attr-defined]
    except ImportError:
        return None
    driver = getattr(load_balancer, "SwarmLoadBalancerDriver", None)
    return driver(client) if driver is not None else None


# Resource type -> its Swarm driver, built with the client. A type not here always goes to
# the local driver.
SWARM_DRIVERS: dict[str, Callable[[docker.DockerClient], Driver | None]] = {
    "fg_cluster": SwarmClusterDriver,
    "fg_service": SwarmServiceDriver,
    "fg_load_balancer": _swarm_load_balancer,
}


def cluster_engine(attrs: dict[str, Any] | None) -> str:
    """"swarm" or "docker" for a cluster's attributes (null: the local engine)."""
    return ENGINE if is_swarm(attrs) else LOCAL


def engine_by_cluster(ctx: FleetContext, attrs: dict[str, Any]) -> str | None:
    """The engine of the cluster a service or load balancer names (`cluster`); None when
    that cluster is known nowhere (state lost it)."""
    ref = attrs.get("cluster")
    if not isinstance(ref, str):
        return LOCAL
    try:
        return cluster_engine(find_cluster(ctx, ref))
    except FgformError:
        return None


class EngineSwitch:
    """One resource type's driver: the local one or the Swarm one, per resource."""

    def __init__(self, local: Driver, swarm: Driver,
                 engine_of: Callable[[FleetContext, dict[str, Any]], str | None]) -> None:
        self.local = local
        self.swarm = swarm
        self.engine_of = engine_of
        self.type_name = local.type_name

    def pick(self, ctx: FleetContext, attrs: dict[str, Any]) -> Driver:
        return self.swarm if self.engine_of(ctx, attrs) == ENGINE else self.local

    def read(self, ctx: FleetContext, items: dict[Address, dict[str, Any]]
             ) -> dict[Address, dict[str, Any] | None]:
        on_swarm = {a: v for a, v in items.items() if self.engine_of(ctx, v) == ENGINE}
        local = {a: v for a, v in items.items() if a not in on_swarm}
        out: dict[Address, dict[str, Any] | None] = {}
        if local:
            out.update(self.local.read(ctx, local))
        if on_swarm:
            out.update(self.swarm.read(ctx, on_swarm))
        return out

    def create(self, ctx: FleetContext, addr: Address, planned: dict[str, Any]
               ) -> dict[str, Any]:
        return self.pick(ctx, planned).create(ctx, addr, planned)

    def update(self, ctx: FleetContext, addr: Address, prior: dict[str, Any],
               planned: dict[str, Any]) -> dict[str, Any]:
        return self.pick(ctx, planned).update(ctx, addr, prior, planned)

    def delete(self, ctx: FleetContext, addr: Address, prior: dict[str, Any], *,
               replacing: bool) -> None:
        engine = self.engine_of(ctx, prior)
        if engine is None:
            # The cluster is gone from state: the objects may be on either engine.
            self.local.delete(ctx, addr, prior, replacing=replacing)
            self.swarm.delete(ctx, addr, prior, replacing=replacing)
            return
        (self.swarm if engine == ENGINE else self.local).delete(
            ctx, addr, prior, replacing=replacing)

    def reconcile(self, ctx: FleetContext, addr: Address, attrs: dict[str, Any]
                  ) -> dict[str, Any]:
        return self.pick(ctx, attrs).reconcile(ctx, addr, attrs)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> Any:
        # import_object: the Swarm driver's when it has one (it tells the engine from the
        # object), else the local driver's, else none (the type cannot be imported).
        # remove_orphans and the rest: the local driver's (Swarm removes its own tasks).
        if name == "import_object" and hasattr(self.swarm, name):
            return getattr(self.swarm, name)
        return getattr(self.local, name)


def engine_drivers(client: docker.DockerClient) -> dict[str, Driver]:
    """Every resource type's driver, switching between the local engine and the Swarm one
    by cluster engine (the table `EngineFleet` uses)."""
    table: dict[str, Driver] = {}
    for name, wrapped in docker_drivers(client).items():
        local: Driver = getattr(wrapped, "inner", wrapped)
        make = SWARM_DRIVERS.get(name)
        swarm = make(client) if make is not None else None
        if swarm is not None:
            engine_of = (lambda _ctx, attrs: cluster_engine(attrs)) if name == "fg_cluster" \
                else engine_by_cluster
            local = EngineSwitch(local, swarm, engine_of)  # type: ignore[assignment]
        if name == "fg_target_group":
            local = SwarmTargetGroups(local, client)  # type: ignore[assignment]
        table[name] = Relabelled(local)  # type: ignore[assignment]
    return table


class SwarmTargetGroups:
    """The target group driver, whose update also reloads the swarm load balancers that
    forward to it (the local driver reloads the local ones; it cannot import this side)."""

    def __init__(self, inner: Driver, client: docker.DockerClient) -> None:
        self.inner = inner
        self.client = client
        self.type_name = inner.type_name

    def update(self, ctx: FleetContext, addr: Any, prior: dict[str, Any],
               planned: dict[str, Any]) -> dict[str, Any]:
        from fgform.fleet.swarm.load_balancer import reconfigure_for_target_group

        attrs = self.inner.update(ctx, addr, prior, planned)
        reconfigure_for_target_group(self.client, ctx, attrs)
        return attrs

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
