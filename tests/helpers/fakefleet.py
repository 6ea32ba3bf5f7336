"""An in-memory fleet for tests: what `DockerFleet` is to the real engine, without one.

Tests hand it to the workflow (`workflow.apply(wd, FakeFleet(), plan)`) and to the command
line (`fgform.cli.run(argv, fleet=FakeFleet())`) instead of monkeypatching. Its drivers keep
objects in a dict and keep the driver contract that tests/integration/test_driver_contract.py
checks against both this fleet and Docker: create and update return every computed attribute
known; read is one look at the fleet for any number of items and reports a deleted object as
None; delete is idempotent.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import Any

from fgform.addresses import Address
from fgform.config.schema import SCHEMAS, AttrSchema
from fgform.errors import DockerUnavailableError, FgformError
from fgform.fleet.data_sources import image_result, latest_task_definition
from fgform.fleet.driver import Driver, FleetContext
from fgform.fleet.fleet import (
    ChangeWatch,
    NodeRow,
    OrphanTask,
    ServiceScheduler,
    StartedTasks,
    TaskContainer,
    TaskRecord,
    sort_nodes,
)
from fgform.values import contains_unknown


class FakeFleet:
    """Objects by (lineage, type, id); every driver call and look at the fleet is counted."""

    def __init__(self, *, scheduler: ServiceScheduler | None = None,
                 reachable: bool = True) -> None:
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.lock = threading.Lock()
        self.looks = 0  # list calls to the "engine": read makes one per call, not per item
        self.deletes: list[tuple[str, bool]] = []  # (address, replacing) of every delete
        self.runs: list[dict[str, Any]] = []  # run_task and start_tasks calls
        # Tasks by id: (lineage, record), for the ECS API's task views.
        self.tasks: dict[str, tuple[str, TaskRecord]] = {}
        self.fail_next: list[tuple[str, str]] = []  # start_tasks failures to report next
        # Objects adopted by an import: (lineage, type, id) -> the key they are kept under
        # (another lineage's, or "" for an object fgform never made).
        self.adopted: dict[tuple[str, str, str], tuple[str, str, str]] = {}
        self.reachable = reachable
        self.data_reads: list[tuple[str, dict[str, Any]]] = []  # read_data calls
        # Images a registry holds besides the fg_image objects: (repository, tag) -> digest.
        self.images: dict[tuple[str, str], str] = {}
        self._ids = itertools.count(1)
        self._drivers: dict[str, Driver] = {
            t: (ImportingDriver if t in IMPORTABLE else MemoryDriver)(self, t) for t in SCHEMAS}
        self._scheduler = scheduler

    # -- Fleet --------------------------------------------------------------------------
    @property
    def drivers(self) -> Mapping[str, Driver]:
        return self._drivers

    @property
    def scheduler(self) -> ServiceScheduler:
        return self._scheduler or MemoryScheduler(self)

    def placement_nodes(self) -> list[dict[str, str]]:
        return []

    def require(self, types: Collection[str]) -> None:
        if types and not self.reachable:
            raise DockerUnavailableError("Cannot reach the fake fleet: it is switched off",
                                         hint="FakeFleet(reachable=True)")

    def read_data(self, ctx: FleetContext, type_name: str, args: dict[str, Any]
                  ) -> dict[str, Any]:
        with self.lock:
            self.data_reads.append((type_name, dict(args)))
            objects = [o for (lineage, t, _), o in sorted(self.objects.items())
                       if t == type_name and lineage == ctx.lineage]
        if type_name == "fg_task_definition":
            return latest_task_definition(ctx, args["family"])
        if type_name == "fg_image":
            repo, tag = args["repository"], args.get("tag") or "latest"
            digest = self.images.get((repo, tag)) or next(
                (o["digest"] for o in objects if o.get("repository") == repo
                 and (o.get("tag") or "latest") == tag), None)
            if digest is None:
                raise FgformError(f"no image {repo}:{tag} in registry {args['registry']}")
            return image_result(args, f"fake-{args['registry']}", digest)
        if type_name == "fg_cluster":
            found = next((o for o in objects if (o.get("name") or o.get("id")) == args["name"]),
                         None)
            if found is None:
                raise FgformError(f"no cluster named {args['name']!r}")
            return {"name": args["name"], "id": found["id"],
                    "network_name": found.get("network_name"),
                    "cidr_block": found.get("cidr_block"),
                    "engine": found.get("engine") or "docker"}
        raise FgformError(f"fgform has no data source {type_name!r}")

    def list_tasks(self, ctx: FleetContext, service: str | None = None) -> list[Any]:
        return []

    def task_states(self, ctx: FleetContext) -> list[tuple[str, bool]]:
        return []

    def watch_changes(self, ctx: FleetContext) -> ChangeWatch:
        return _Timer()

    def task_logs(self, ctx: FleetContext, service: str, *, follow: bool = False,
                  tail: int | None = None) -> Iterator[str]:
        raise FgformError(f"no tasks found for service {service!r}")

    def balancer_logs(self, balancer_id: str, *, follow: bool = False,
                      tail: int | None = None) -> Iterator[str]:
        return iter(())

    def balancer_status(self, balancers: list[tuple[str, dict[str, Any]]],
                        services: list[dict[str, Any]]) -> list[Any]:
        return []

    def run_task(self, ctx: FleetContext, cluster: dict[str, Any], taskdef: dict[str, Any], *,
                 count: int = 1, override_command: list[str] | None = None,
                 env: dict[str, str] | None = None,
                 on_log: Callable[[str], None] | None = None,
                 timeout: float | None = None) -> int:
        self.runs.append({"cluster": cluster, "taskdef": taskdef, "count": count,
                          "command": override_command, "env": env})
        return 0

    def list_nodes(self, ctx: FleetContext, clusters: Sequence[tuple[str, dict[str, Any]]]
                   ) -> list[NodeRow]:
        # Each cluster's capacity instances, empty (no task runs in a fake fleet); sizes not
        # declared are those of a 2-core, 4 GiB host shared equally.
        rows = []
        for name, attrs in clusters:
            cap = attrs.get("capacity") or {}
            count = int(cap.get("instance_count") or 1)
            for k in range(count):
                rows.append(NodeRow(
                    cluster=name, engine=str(attrs.get("engine") or "docker"),
                    instance=f"i-{k}", node_id=f"i-{k}", role="instance", state="ready",
                    availability="active",
                    cpu=int(cap.get("instance_cpu") or 2048 // count),
                    memory=int(cap.get("instance_memory") or 4096 // count)))
        return sort_nodes(rows)

    def start_tasks(self, ctx: FleetContext, cluster: dict[str, Any], taskdef: dict[str, Any],
                    *, count: int = 1, started_by: str = "") -> StartedTasks:
        """One-off tasks as records, RUNNING at once; `fail_next` (reason, message) pairs
        stand for tasks the capacity manager could not place."""
        started = StartedTasks()
        failing = self.fail_next[:count]
        del self.fail_next[:count]
        started.failures = list(failing)
        with self.lock:
            for _ in range(count - len(failing)):
                tid = f"{next(self._ids):032x}"
                self.tasks[tid] = (ctx.lineage, TaskRecord(
                    task_id=tid, cluster=str(cluster.get("id") or cluster.get("name")),
                    service="", task_definition=str(taskdef.get("arn")), status="RUNNING",
                    cpu=int(taskdef.get("cpu") or 0), memory=int(taskdef.get("memory") or 0),
                    started_by=started_by, created_at=time.time(), started_at=time.time(),
                    containers=tuple(TaskContainer(name=str(c["name"]), status="RUNNING")
                                     for c in taskdef.get("container") or [])))
                self.runs.append({"cluster": cluster, "taskdef": taskdef, "task_id": tid,
                                  "started_by": started_by})
                started.task_ids.append(tid)
        return started

    def task_records(self, ctx: FleetContext, *, cluster: str | None = None,
                     task_ids: Collection[str] | None = None, times: bool = False
                     ) -> list[TaskRecord]:
        with self.lock:
            self.looks += 1
            return [r for lineage, r in self.tasks.values() if lineage == ctx.lineage
                    and (cluster is None or r.cluster == cluster)
                    and (task_ids is None or r.task_id in task_ids)]

    def stop_task(self, ctx: FleetContext, task_id: str) -> TaskRecord | None:
        with self.lock:
            found = self.tasks.get(task_id)
            if found is None or found[0] != ctx.lineage:
                return None
            rec = dataclasses.replace(
                found[1], status="STOPPED", desired="STOPPED", stop_code="UserInitiated",
                stopped_at=time.time(), stopped_for=0.0,
                containers=tuple(dataclasses.replace(c, status="STOPPED", exit_code=143)
                                 for c in found[1].containers))
            if rec.service:
                del self.tasks[task_id]  # the scheduler's to replace
            else:
                self.tasks[task_id] = (ctx.lineage, rec)
            return rec

    def sweep_tasks(self, ctx: FleetContext, retention: float) -> list[str]:
        with self.lock:
            gone = sorted(tid for tid, (lineage, r) in self.tasks.items()
                          if lineage == ctx.lineage and r.status == "STOPPED"
                          and (r.stopped_for or 0.0) >= retention)
            for tid in gone:
                del self.tasks[tid]
            return gone

    # -- for the drivers ----------------------------------------------------------------
    def new_id(self, type_name: str) -> str:
        return f"{type_name.removeprefix('fg_')}-{next(self._ids)}"


# The types whose Docker drivers can import an existing object (fgform/fleet/docker).
IMPORTABLE = ("fg_cluster", "fg_registry")


class MemoryDriver:
    """One resource type's objects in the fake fleet; computed attributes are made up from
    the schema (strings name the object, numbers count from 1, collections start empty)."""

    def __init__(self, fleet: FakeFleet, type_name: str) -> None:
        self.fleet = fleet
        self.type_name = type_name
        self.computed: list[AttrSchema] = [a for a in SCHEMAS[type_name].body.attributes
                                           if a.computed]

    def _key(self, ctx: FleetContext, ident: Any) -> tuple[str, str, str]:
        key = (ctx.lineage, self.type_name, str(ident))
        return self.fleet.adopted.get(key, key)

    def read(self, ctx: FleetContext, items: dict[Address, dict[str, Any]]
             ) -> dict[Address, dict[str, Any] | None]:
        with self.fleet.lock:
            self.fleet.looks += 1
            return {addr: copy.deepcopy(self.fleet.objects.get(self._key(ctx, prior.get("id"))))
                    for addr, prior in items.items()}

    def create(self, ctx: FleetContext, addr: Address, planned: dict[str, Any]) -> dict[str, Any]:
        # A new id every time, whatever the name: an old object and its replacement
        # (create_before_destroy) live side by side.
        ident = self.fleet.new_id(self.type_name)
        attrs = self._known(dict(planned, id=ident), {})
        with self.fleet.lock:
            self.fleet.objects[self._key(ctx, ident)] = attrs
        return copy.deepcopy(attrs)

    def update(self, ctx: FleetContext, addr: Address, prior: dict[str, Any],
               planned: dict[str, Any]) -> dict[str, Any]:
        key = self._key(ctx, prior.get("id"))
        with self.fleet.lock:
            if key not in self.fleet.objects:
                raise FgformError(f"{addr}: {prior.get('id')} does not exist")
            attrs = self._known(dict(planned, id=prior.get("id")), prior)
            self.fleet.objects[key] = attrs
        return copy.deepcopy(attrs)

    def delete(self, ctx: FleetContext, addr: Address, prior: dict[str, Any], *,
               replacing: bool) -> None:
        with self.fleet.lock:
            self.fleet.deletes.append((str(addr), replacing))
            self.fleet.objects.pop(self._key(ctx, prior.get("id")), None)

    def _known(self, attrs: dict[str, Any], prior: dict[str, Any]) -> dict[str, Any]:
        """`attrs` with every computed attribute known: the prior value, else a made-up one."""
        for a in self.computed:
            if a.name in attrs and not contains_unknown(attrs[a.name]):
                continue
            if a.name in prior and not contains_unknown(prior[a.name]):
                attrs[a.name] = prior[a.name]
            elif a.type == "number":
                attrs[a.name] = 1
            elif a.type.startswith(("list", "set")):
                attrs[a.name] = []
            elif a.type.startswith(("map", "object")):
                attrs[a.name] = {}
            else:
                attrs[a.name] = f"{attrs['id']}-{a.name}"
        return attrs


class ImportingDriver(MemoryDriver):
    """A MemoryDriver whose type can be imported (the Docker driver has import_object)."""

    def import_object(self, ctx: FleetContext, addr: Address, ident: str
                      ) -> dict[str, Any] | None:
        """As the Docker drivers: fg_cluster and fg_registry objects are
        found by id or name in any lineage (or none: key lineage ""), and adopted."""
        with self.fleet.lock:
            self.fleet.looks += 1
            for key, attrs in self.fleet.objects.items():
                if key[1] == self.type_name and ident in (
                        attrs.get("id"), attrs.get("name"), attrs.get("network_name")):
                    self.fleet.adopted[(ctx.lineage, self.type_name, str(attrs["id"]))] = key
                    return copy.deepcopy(attrs)
        return None


class MemoryScheduler:
    """`reconcile` on the fake fleet: every service is at its desired count at once."""

    def __init__(self, fleet: FakeFleet) -> None:
        self.fleet = fleet

    def read(self, ctx: FleetContext, items: dict[Address, dict[str, Any]]
             ) -> dict[Address, dict[str, Any] | None]:
        return self.fleet.drivers["fg_service"].read(ctx, items)

    def remove_orphans(self, ctx: FleetContext, services: set[str]) -> list[OrphanTask]:
        return []

    def reconcile(self, ctx: FleetContext, addr: Address, attrs: dict[str, Any]
                  ) -> dict[str, Any]:
        return {**attrs, "running_count": attrs.get("desired_count") or 0}


class _Timer:
    """A change watch that sees no changes: `reconcile -watch` polls."""

    def wait(self, seconds: float, listed_at: float) -> None:
        time.sleep(seconds)

    def died(self, task_id: str) -> str | None:
        return None

    def close(self) -> None:
        pass
