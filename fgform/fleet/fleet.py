"""What fgform needs from a fleet: its drivers, and what the fleet commands inspect and run.

A fleet is built once, at the command line's boundary (`DockerFleet` in
`fgform/fleet/docker/fleet.py` for the local Docker engine), and passed down into the workflow
and the commands; nothing below reaches for a global client. Tests pass an in-memory fleet
(tests/helpers/fakefleet.py) the same way. Building a fleet must not connect to anything: commands
that never touch the fleet (`validate`, `plan -refresh=false`) work without one.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from fgform.addresses import Address
from fgform.fleet.driver import Driver, FleetContext


class OrphanTask(Protocol):
    """A task the scheduler removed: no service in state owns it."""

    @property
    def address(self) -> str: ...

    @property
    def task_id(self) -> str: ...


class ServiceScheduler(Protocol):
    """The service driver as `fgform reconcile` uses it: from the state alone."""

    def read(self, ctx: FleetContext, items: dict[Address, dict[str, Any]]
             ) -> dict[Address, dict[str, Any] | None]:
        """As `Driver.read`."""
        ...

    def remove_orphans(self, ctx: FleetContext, services: set[str]) -> Sequence[OrphanTask]:
        """Remove the service tasks of this lineage whose service (address) is not in
        `services`; return them."""
        ...

    def reconcile(self, ctx: FleetContext, addr: Address, attrs: dict[str, Any]
                  ) -> dict[str, Any]:
        """Restore the service's desired count of healthy tasks; its new attributes."""
        ...


class ChangeWatch(Protocol):
    """Wakes `reconcile -watch` when a service task changes (starts, dies, turns unhealthy)."""

    def wait(self, seconds: float, listed_at: float) -> None:
        """Return after `seconds`, or sooner on a change; `listed_at` is when (monotonic)
        the fleet was last looked at."""
        ...

    def died(self, task_id: str) -> str | None:
        """The exit code the task was seen to die with (None: not seen dying)."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class NodeRow:
    """One instance of a cluster's capacity, as `fgform nodes` shows it: a capacity instance
    of the local backend, or a node of the Swarm. cpu in CPU units (1024 a core), memory in
    MiB; `tasks` and the reservations count this state's running tasks placed there."""

    cluster: str  # the cluster's name
    engine: str  # "docker" or "swarm"
    instance: str  # instance id (i-0) or the Swarm node's hostname
    node_id: str  # the Swarm node id; the instance id locally
    role: str  # "manager" / "worker" on Swarm; "instance" locally
    state: str  # "ready", "down", "unknown", "disconnected" (Swarm's node states)
    availability: str  # "active", "pause" or "drain"
    cpu: int
    memory: int
    tasks: int = 0
    cpu_reserved: int = 0
    memory_reserved: int = 0
    attributes: dict[str, str] = field(default_factory=dict)  # node labels / declared ones


def sort_nodes(rows: Sequence[NodeRow]) -> list[NodeRow]:
    """Rows in `fgform nodes` order: by cluster, then instance (i-2 before i-10)."""
    import re

    def natural(text: str) -> tuple[Any, ...]:
        return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text))

    return sorted(rows, key=lambda r: (r.cluster, natural(r.instance), r.node_id))


@dataclass(frozen=True, slots=True)
class TaskContainer:
    """One container of a task, as the ECS API shows it (`containers[]` of DescribeTasks).
    `bindings`: (bind address, host port, container port, protocol) of its published ports."""

    name: str
    status: str  # PENDING, RUNNING or STOPPED
    exit_code: int | None = None
    health: str = "UNKNOWN"  # HEALTHY, UNHEALTHY or UNKNOWN
    essential: bool = True
    bindings: tuple[tuple[str, int, int, str], ...] = ()


@dataclass(frozen=True, slots=True)
class TaskRecord:
    """A task of the fleet (a service's or a one-off one) as the ECS API shows it: plain data
    read from one list call (`Fleet.task_records`). Times are epoch seconds (None: unknown);
    `task_definition` is fgform's `family:revision`."""

    task_id: str
    cluster: str
    service: str  # "" for a one-off task
    task_definition: str
    status: str  # PROVISIONING, PENDING, RUNNING or STOPPED
    desired: str = "RUNNING"
    health: str = "UNKNOWN"
    cpu: int = 0
    memory: int = 0
    started_by: str = ""
    created_at: float | None = None
    started_at: float | None = None
    stopped_at: float | None = None
    stopped_for: float | None = None  # seconds since it stopped (about: from the list call)
    stop_code: str = ""
    instance: str = ""
    containers: tuple[TaskContainer, ...] = ()

    @property
    def one_off(self) -> bool:
        return not self.service


@dataclass(slots=True)
class StartedTasks:
    """What `Fleet.start_tasks` started (task ids) and what it could not place: one
    (reason, message) per task left out, the reason as ECS's (`RESOURCE:MEMORY`,
    `RESOURCE:CPU`, `RESOURCE:PORTS`)."""

    task_ids: list[str] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)


@runtime_checkable
class Fleet(Protocol):
    """A fleet fgform provisions: one driver per resource type, and the live views and
    one-off operations of the fleet commands (`tasks`, `logs`, `lb status`, `run-task`,
    `reconcile`, `nodes`)."""

    @property
    def drivers(self) -> Mapping[str, Driver]:
        """Every resource type's driver, by type name. Getting them connects to nothing; a
        driver connects when it is first called."""
        ...

    @property
    def scheduler(self) -> ServiceScheduler:
        """The service driver's reconcile side."""
        ...

    def require(self, types: Collection[str]) -> None:
        """Fail now (DockerUnavailableError) when changing resources of these types needs a
        fleet that cannot be reached: once, before anything changes, rather than once per
        resource half-way through an apply."""
        ...

    def placement_nodes(self) -> list[dict[str, str]]:
        """The attributes (labels and built-ins) of the swarm's nodes that take tasks (ready
        and active), for the plan-time placement check of services on swarm clusters; empty
        where the engine is no swarm."""
        ...

    def read_data(self, ctx: FleetContext, type_name: str, args: dict[str, Any]
                  ) -> dict[str, Any]:
        """Read data source `type_name` (`data "fg_image"`, ...) with these arguments: its
        arguments and computed attributes. Raises FgformError when there is nothing to read
        (no such image, family or cluster)."""
        ...

    def list_tasks(self, ctx: FleetContext, service: str | None = None) -> list[Any]:
        """`fgform tasks`: every task of this state, or one service's (by name or address),
        as rows (dataclasses with the table's columns)."""
        ...

    def task_states(self, ctx: FleetContext) -> list[tuple[str, bool]]:
        """(task id, running) of every service task of this state: one list call."""
        ...

    def watch_changes(self, ctx: FleetContext) -> ChangeWatch:
        """A wake-up on changes of this state's service tasks; `close()` it when done."""
        ...

    def task_logs(self, ctx: FleetContext, service: str, *, follow: bool = False,
                  tail: int | None = None) -> Iterator[str]:
        """A service's log lines, each prefixed with its task, interleaved by time."""
        ...

    def balancer_logs(self, balancer_id: str, *, follow: bool = False,
                      tail: int | None = None) -> Iterator[str]:
        """A load balancer's access log."""
        ...

    def balancer_status(self, balancers: list[tuple[str, dict[str, Any]]],
                        services: list[dict[str, Any]]) -> list[Any]:
        """`fgform lb status`: each (address, attributes) load balancer's target groups and
        targets as its proxy sees them (objects with `to_json()`)."""
        ...

    def run_task(self, ctx: FleetContext, cluster: dict[str, Any], taskdef: dict[str, Any], *,
                 count: int = 1, override_command: list[str] | None = None,
                 env: dict[str, str] | None = None,
                 on_log: Callable[[str], None] | None = None,
                 timeout: float | None = None) -> int:
        """Run one-off tasks of a task definition on a cluster, streaming their log lines to
        `on_log`; their exit code."""
        ...

    def list_nodes(self, ctx: FleetContext, clusters: Sequence[tuple[str, dict[str, Any]]]
                   ) -> list[NodeRow]:
        """`fgform nodes`: every instance of each (name, attributes) cluster, with its
        capacity and the tasks of this state placed on it, sorted by cluster and instance.
        A constant number of list calls, whatever the number of nodes and tasks."""
        ...

    def start_tasks(self, ctx: FleetContext, cluster: dict[str, Any], taskdef: dict[str, Any],
                    *, count: int = 1, started_by: str = "") -> StartedTasks:
        """ECS RunTask: place and start `count` one-off tasks of `taskdef` (overrides already
        applied to it) and return at once, without waiting for them to exit. Tasks that do
        not fit are failures, not an error; their containers stay after they exit (for
        `task_records`) until `sweep_tasks` removes them."""
        ...

    def task_records(self, ctx: FleetContext, *, cluster: str | None = None,
                     task_ids: Collection[str] | None = None, times: bool = False
                     ) -> list[TaskRecord]:
        """Every task of this state (service and one-off ones), or of one cluster, or those
        of `task_ids`: ONE list call. `times`: also read exact start and stop times (one
        inspect per stopped task)."""
        ...

    def stop_task(self, ctx: FleetContext, task_id: str) -> TaskRecord | None:
        """ECS StopTask: stop a task (None: no such task). A one-off task's containers stay,
        stopped, for `task_records`; a service task is removed (its scheduler replaces
        it)."""
        ...

    def sweep_tasks(self, ctx: FleetContext, retention: float) -> list[str]:
        """Remove the one-off tasks stopped more than `retention` seconds ago, and stop what
        still runs of a one-off task whose essential container exited; the ids removed."""
        ...
