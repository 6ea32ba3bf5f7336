"""The local Docker engine as a fleet: the `Fleet` the command line builds and passes down.

Building a `DockerFleet` costs nothing: the Docker SDK and the drivers are imported on first
use (that alone takes longer than a small `plan -refresh=false`), and the engine is connected
to (and pinged) by the first call that talks to it, through one client every driver shares.
So the commands that never touch the fleet (`validate`, `plan -refresh=false`, an apply of
outputs only) work without an engine.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from fgform.fleet.driver import Driver, FleetContext
from fgform.fleet.fleet import (
    ChangeWatch,
    NodeRow,
    ServiceScheduler,
    StartedTasks,
    TaskRecord,
    sort_nodes,
)

if TYPE_CHECKING:
    import docker

# The resource types whose drivers talk to the engine (a task definition or target group
# alone is bookkeeping: applying only those needs no engine).
ENGINE_TYPES = frozenset({"fg_registry", "fg_image", "fg_cluster", "fg_service",
                          "fg_load_balancer"})


class DockerFleet:
    """Tasks as containers on the local Docker engine (see docs/internals.md).

    `client`: an engine client to use (tests pass theirs); by default one is made on first
    use (`DOCKER_HOST`, else the local socket)."""

    def __init__(self, client: docker.DockerClient | None = None) -> None:
        self._client = client
        self._lazy: Any = None  # the LazyClient made when none was given
        self._drivers: dict[str, Driver] | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> docker.DockerClient:
        """The client every driver and inspection shares (connecting when first used)."""
        with self._lock:
            if self._client is None:
                from fgform.fleet.docker.client import LazyClient

                self._lazy = LazyClient()
                self._client = self._lazy
            return self._client

    @property
    def drivers(self) -> Mapping[str, Driver]:
        client = self.client
        with self._lock:
            if self._drivers is None:
                from fgform.fleet.docker.drivers import docker_drivers

                self._drivers = docker_drivers(client)
            return self._drivers

    @property
    def scheduler(self) -> ServiceScheduler:
        return self.drivers["fg_service"]  # type: ignore[return-value]

    def require(self, types: Collection[str]) -> None:
        if not ENGINE_TYPES.intersection(types):
            return
        self.client  # noqa: B018 - makes the lazy client when none was given
        if self._lazy is not None:
            self._lazy.connect()  # DockerUnavailableError when the engine cannot be reached

    def placement_nodes(self) -> list[dict[str, str]]:
        return []  # the local engine's instances are the configuration's (capacity)

    def read_data(self, ctx: FleetContext, type_name: str, args: dict[str, Any]
                  ) -> dict[str, Any]:
        from fgform.fleet.docker.data_sources import read_data

        return read_data(self.client, ctx, type_name, args)

    def list_tasks(self, ctx: FleetContext, service: str | None = None) -> list[Any]:
        from fgform.fleet.docker.inspection import list_tasks

        return list_tasks(self.client, ctx, service)

    def task_states(self, ctx: FleetContext) -> list[tuple[str, bool]]:
        from fgform.fleet.docker.live_tasks import KIND_SERVICE, list_live_tasks

        return [(t.task_id, t.running)
                for t in list_live_tasks(ctx, self.client, kind=KIND_SERVICE)]

    def watch_changes(self, ctx: FleetContext) -> ChangeWatch:
        from fgform.fleet.docker.health import watch_changes

        return watch_changes(ctx, self.client)

    def task_logs(self, ctx: FleetContext, service: str, *, follow: bool = False,
                  tail: int | None = None) -> Iterator[str]:
        from fgform.fleet.docker.inspection import stream_logs

        return stream_logs(self.client, ctx, service, follow=follow, tail=tail)

    def balancer_logs(self, balancer_id: str, *, follow: bool = False,
                      tail: int | None = None) -> Iterator[str]:
        from fgform.fleet.docker.lb_status import proxy_logs

        return proxy_logs(self.client, balancer_id, follow=follow, tail=tail)

    def balancer_status(self, balancers: list[tuple[str, dict[str, Any]]],
                        services: list[dict[str, Any]]) -> list[Any]:
        from fgform.fleet.docker.lb_status import lb_status

        return lb_status(self.client, balancers, services)

    def run_task(self, ctx: FleetContext, cluster: dict[str, Any], taskdef: dict[str, Any], *,
                 count: int = 1, override_command: list[str] | None = None,
                 env: dict[str, str] | None = None,
                 on_log: Callable[[str], None] | None = None,
                 timeout: float | None = None) -> int:
        from fgform.fleet.docker.runtask import run_task

        return run_task(self.client, ctx, cluster, taskdef, count=count,
                        override_command=override_command, env=env, on_log=on_log,
                        timeout=timeout)

    def list_nodes(self, ctx: FleetContext, clusters: Sequence[tuple[str, dict[str, Any]]]
                   ) -> list[NodeRow]:
        from fgform.fleet.docker.nodes import local_nodes

        return sort_nodes(local_nodes(ctx, self.client, clusters))

    def start_tasks(self, ctx: FleetContext, cluster: dict[str, Any], taskdef: dict[str, Any],
                    *, count: int = 1, started_by: str = "") -> StartedTasks:
        from fgform.fleet.docker.oneoff import start

        return start(self.client, ctx, cluster, taskdef, count, started_by)

    def task_records(self, ctx: FleetContext, *, cluster: str | None = None,
                     task_ids: Collection[str] | None = None, times: bool = False
                     ) -> list[TaskRecord]:
        from fgform.fleet.docker.oneoff import records

        return records(self.client, ctx, cluster=cluster, task_ids=task_ids, times=times)

    def stop_task(self, ctx: FleetContext, task_id: str) -> TaskRecord | None:
        from fgform.fleet.docker.oneoff import stop

        return stop(self.client, ctx, task_id)

    def sweep_tasks(self, ctx: FleetContext, retention: float) -> list[str]:
        from fgform.fleet.docker.oneoff import sweep

        return sweep(self.client, ctx, retention)
