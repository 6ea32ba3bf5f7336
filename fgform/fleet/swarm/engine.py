"""`run-task` and `nodes` per cluster engine: a mixin of the command line's fleet
(`EngineFleet` in fleet/swarm/fleet.py, a `DockerFleet`), sending a cluster whose `engine`
is "swarm" to the Swarm side (fleet/swarm/runtask.py, fleet/swarm/nodes.py) and every other
to `DockerFleet`'s own methods (through `super()`).

Not in `DockerFleet` itself: the Swarm side builds on fleet/docker/ (its labels, task
definitions, container settings), and fleet/docker/ importing fleet/swarm/ back would be an
import cycle (`.importlinter`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fgform.errors import FgformError
from fgform.fleet.driver import FleetContext
from fgform.fleet.fleet import NodeRow, StartedTasks, sort_nodes

SWARM = "swarm"


def is_swarm(cluster_attrs: dict[str, Any] | None) -> bool:
    """Whether a cluster (its state attributes) runs on the Swarm: `cluster.is_swarm`'s
    test, here without importing cluster.py (and the Docker SDK with it) when the command
    line builds its fleet."""
    return (cluster_attrs or {}).get("engine") == SWARM


class SwarmRunTaskAndNodes:
    """`run_task` and `list_nodes` by cluster engine; mixed in before `DockerFleet`
    (`class EngineFleet(SwarmRunTaskAndNodes, DockerFleet)`), whose `client` it uses."""

    client: Any  # DockerFleet's lazily connected client

    def run_task(self, ctx: FleetContext, cluster: dict[str, Any], taskdef: dict[str, Any], *,
                 count: int = 1, override_command: list[str] | None = None,
                 env: dict[str, str] | None = None,
                 on_log: Callable[[str], None] | None = None,
                 timeout: float | None = None) -> int:
        if not is_swarm(cluster):
            return super().run_task(  # type: ignore[misc]
                ctx, cluster, taskdef, count=count, override_command=override_command,
                env=env, on_log=on_log, timeout=timeout)
        # A Swarm job on the cluster's overlay network.
        from fgform.fleet.swarm.runtask import run_swarm_task

        return run_swarm_task(self.client, ctx, cluster, taskdef, count=count,
                              override_command=override_command, env=env, on_log=on_log,
                              timeout=timeout)

    def start_tasks(self, ctx: FleetContext, cluster: dict[str, Any], taskdef: dict[str, Any],
                    *, count: int = 1, started_by: str = "") -> StartedTasks:
        if is_swarm(cluster):
            # Only the local engine keeps one-off tasks to read back later (the API's
            # RunTask); `fgform run-task` runs them on a swarm.
            raise FgformError(f"cluster {cluster.get('name') or cluster.get('id')} runs on a "
                              "Docker Swarm: start its one-off tasks with `fgform run-task`")
        return super().start_tasks(  # type: ignore[misc, no-any-return]
            ctx, cluster, taskdef, count=count, started_by=started_by)

    def list_nodes(self, ctx: FleetContext, clusters: Sequence[tuple[str, dict[str, Any]]]
                   ) -> list[NodeRow]:
        swarm = [(n, a) for n, a in clusters if is_swarm(a)]
        local = [(n, a) for n, a in clusters if not is_swarm(a)]
        rows = super().list_nodes(ctx, local) if local else []  # type: ignore[misc]
        if swarm:
            from fgform.fleet.swarm.nodes import swarm_nodes

            rows += swarm_nodes(ctx, self.client, swarm)
        return sort_nodes(rows)
