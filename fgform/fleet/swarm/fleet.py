"""The command line's fleet: the local Docker engine, whose clusters may be Swarm ones.

`EngineFleet` is a `DockerFleet` (one lazily connected client, `DOCKER_HOST` as the Docker
CLI reads it: a swarm's manager for swarm clusters) whose drivers go through the engine
switch (`switch.engine_drivers`), whose task views add the Swarm tasks of the state's
swarm clusters, and whose `run-task` and `nodes` go to the Swarm for swarm clusters
(`engine.SwarmRunTaskAndNodes`). It lives here, above `fleet/docker/`, so the local backend never imports the
Swarm one (`fleet/swarm/` builds on `fleet/docker/`, not the other way round).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from fgform.fleet.docker.fleet import DockerFleet
from fgform.fleet.driver import Driver, FleetContext
from fgform.fleet.swarm.engine import SwarmRunTaskAndNodes


class EngineFleet(SwarmRunTaskAndNodes, DockerFleet):
    """The local engine, and a swarm for clusters with engine = "swarm"."""

    @property
    def drivers(self) -> Mapping[str, Driver]:
        client = self.client
        with self._lock:
            if self._drivers is None:
                from fgform.fleet.swarm.switch import engine_drivers

                self._drivers = engine_drivers(client)
            return self._drivers

    def list_tasks(self, ctx: FleetContext, service: str | None = None) -> list[Any]:
        rows = super().list_tasks(ctx, service)
        from fgform.fleet.swarm import tasks

        if tasks.has_swarm(ctx):
            rows = sorted(rows + tasks.list_tasks(self.client, ctx, service),
                          key=lambda r: r.service)
        return rows

    def task_states(self, ctx: FleetContext) -> list[tuple[str, bool]]:
        states = super().task_states(ctx)
        from fgform.fleet.swarm import tasks

        if tasks.has_swarm(ctx):
            states += tasks.task_states(self.client, ctx)
        return states

    def task_logs(self, ctx: FleetContext, service: str, *, follow: bool = False,
                  tail: int | None = None) -> Iterator[str]:
        from fgform.fleet.swarm import tasks

        if tasks.has_swarm(ctx) and tasks.owns(self.client, ctx, service):
            return tasks.stream_logs(self.client, ctx, service, follow=follow, tail=tail)
        return super().task_logs(ctx, service, follow=follow, tail=tail)

    def placement_nodes(self) -> list[dict[str, str]]:
        from fgform.fleet.swarm.cluster import swarm_instances
        from fgform.fleet.swarm.placement import node_attributes

        return [node_attributes(n.hostname or n.id, n.labels)
                for n in swarm_instances(self.client)
                if n.state == "ready" and n.availability == "active"]

    def balancer_status(self, balancers: list[tuple[str, dict[str, Any]]],
                        services: list[dict[str, Any]]) -> list[Any]:
        swarm = _swarm_balancers(self.client, balancers)
        if not swarm:
            return super().balancer_status(balancers, services)
        from fgform.fleet.swarm.lb_status import swarm_lb_status

        local = [b for b in balancers if b[0] not in swarm]
        rows = super().balancer_status(local, services) if local else []
        rows += swarm_lb_status(self.client, [b for b in balancers if b[0] in swarm])
        order = {address: i for i, (address, _) in enumerate(balancers)}
        return sorted(rows, key=lambda r: order.get(r.address, len(order)))


def _swarm_balancers(client: Any, balancers: list[tuple[str, dict[str, Any]]]) -> set[str]:
    """The addresses of the load balancers whose proxy is on an overlay network (a swarm
    cluster's): two list calls whatever their number."""
    if not balancers:
        return set()
    overlays = {n["Name"] for n in client.api.networks(filters={"driver": "overlay"})}
    if not overlays:
        return set()
    ids = {str(attrs.get("id")): address for address, attrs in balancers}
    out = set()
    for c in client.api.containers(all=True, filters={"name": list(ids)}):
        nets = set((c.get("NetworkSettings") or {}).get("Networks") or {})
        for name in c.get("Names") or []:
            address = ids.get(name.lstrip("/"))
            if address is not None and nets & overlays:
                out.add(address)
    return out
