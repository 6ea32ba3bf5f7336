"""The local Docker engine as a fleet: the `Fleet` the command line builds and passes down.

Connecting is lazy: building a `DockerFleet` (and getting its drivers) talks to no engine, so
the commands that never touch the fleet (`validate`, `plan -refresh=false`, an apply of
outputs only) work without one. The first call that needs the engine connects (and pings),
and every later call shares that one client.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any

import docker

from fgform.fleet.docker import inspect as I
from fgform.fleet.docker import lb_status as LB
from fgform.fleet.docker import runtask
from fgform.fleet.docker import tasks as T
from fgform.fleet.docker.client import get_client
from fgform.fleet.docker.drivers import drivers
from fgform.fleet.driver import Driver, FleetContext
from fgform.fleet.fleet import ChangeWatch, ServiceScheduler

# The resource types whose drivers talk to the engine (a task definition or target group
# alone is bookkeeping: applying only those needs no engine).
ENGINE_TYPES = frozenset({"fg_registry", "fg_image", "fg_cluster", "fg_service",
                          "fg_load_balancer"})


class DockerFleet:
    """Tasks as containers on the local Docker engine (see docs/internals.md)."""

    def __init__(self, client: docker.DockerClient | None = None) -> None:
        self._client = client
        self._lock = threading.Lock()
        self._drivers: dict[str, Driver] | None = None

    @property
    def client(self) -> docker.DockerClient:
        """The engine client, connected on first use (DockerUnavailableError when the
        engine cannot be reached)."""
        with self._lock:
            if self._client is None:
                self._client = get_client()
            return self._client

    @property
    def drivers(self) -> Mapping[str, Driver]:
        with self._lock:
            if self._drivers is None:
                self._drivers = drivers()
            return self._drivers

    @property
    def scheduler(self) -> ServiceScheduler:
        return self.drivers["fg_service"]  # type: ignore[return-value]

    def require(self, types: Collection[str]) -> None:
        if ENGINE_TYPES.intersection(types):
            self.client  # noqa: B018 - connecting is the check

    def list_tasks(self, ctx: FleetContext, service: str | None = None) -> list[Any]:
        return I.list_tasks(ctx, service)

    def task_states(self, ctx: FleetContext) -> list[tuple[str, bool]]:
        return [(t.task_id, t.running)
                for t in T.list_live_tasks(ctx, self.client, kind=T.KIND_SERVICE)]

    def watch_changes(self, ctx: FleetContext) -> ChangeWatch:
        return T.watch_changes(ctx, self.client)

    def task_logs(self, ctx: FleetContext, service: str, *, follow: bool = False,
                  tail: int | None = None) -> Iterator[str]:
        return I.stream_logs(ctx, service, follow=follow, tail=tail)

    def balancer_logs(self, balancer_id: str, *, follow: bool = False,
                      tail: int | None = None) -> Iterator[str]:
        return LB.proxy_logs(balancer_id, follow=follow, tail=tail)

    def balancer_status(self, balancers: list[tuple[str, dict[str, Any]]],
                        services: list[dict[str, Any]]) -> list[Any]:
        return LB.lb_status(balancers, services)

    def run_task(self, ctx: FleetContext, cluster: dict[str, Any], taskdef: dict[str, Any], *,
                 count: int = 1, override_command: list[str] | None = None,
                 env: dict[str, str] | None = None,
                 on_log: Callable[[str], None] | None = None,
                 timeout: float | None = None) -> int:
        return runtask.run_task(ctx, cluster, taskdef, count=count,
                                override_command=override_command, env=env, on_log=on_log,
                                timeout=timeout)
