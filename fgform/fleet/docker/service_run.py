"""One converge of a service, below the scheduler (service.py) and its rolling deployments
(rollout.py): what a run records (events, the outcome of its deployment), the service's live
attributes, registering and draining its targets, and the errors that end a run with the
tasks that exist recorded.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

import docker

from fgform.addresses import Address
from fgform.errors import FgformError
from fgform.fleet import events as EV
from fgform.fleet.docker import registration as R
from fgform.fleet.docker.health import WaitResult, describe_failure
from fgform.fleet.docker.launch import definition_hashes, stop_tasks
from fgform.fleet.docker.live_tasks import LiveTask, list_live_tasks
from fgform.fleet.docker.restarts import (
    is_crash_looping,
    restart_note,
)
from fgform.fleet.docker.task_definition import resolve
from fgform.fleet.driver import FleetContext, PartialApplyError


def service_name(addr: Address, attrs: dict[str, Any]) -> str:
    """The service's name: its `name`, else the resource name plus the key of a counted
    instance (`web-0`, `web-a`), so two instances never share `fgform.service` labels."""
    if attrs.get("name"):
        return str(attrs["name"])
    if addr.key is None:
        return addr.name
    return re.sub(r"[^a-zA-Z0-9_.-]+", "-", f"{addr.name}-{addr.key}").strip("-.")


def revision_check(ctx: FleetContext) -> Callable[[LiveTask], bool]:
    """A test: do a task's containers carry the config-hashes of the revision its
    `fgform.task-definition` label names? Each revision is resolved (from ctx.resources) once.

    A task that fails it is not one of the service's tasks whatever its labels say (e.g. a
    container replaced by hand with the same labels and another command): it does not count
    as running, and converge replaces it. A task of a revision known nowhere cannot be checked
    and passes (it is not the current revision, so converge rolls it anyway).
    """
    expected: dict[str, dict[str, str] | None] = {}

    def check(task: LiveTask) -> bool:
        arn = task.task_definition
        if arn not in expected:
            try:
                # Services launch without overrides: the revision alone defines the hashes.
                expected[arn] = definition_hashes(resolve(ctx, arn))
            except FgformError:
                expected[arn] = None
        hashes = expected[arn]
        return hashes is None or task.matches(hashes)

    return check


def live_attrs(attrs: dict[str, Any], alive: list[LiveTask]) -> dict[str, Any]:
    """`attrs` with the computed attributes taken from the live tasks."""
    out = dict(attrs)
    out["running_count"] = sum(1 for t in alive if t.running)
    out["tasks"] = sorted((t.to_attr() for t in alive if t.running), key=lambda t: t["id"])
    out["targets"] = R.service_targets(out)
    return out


def summarize(errors: list[FgformError]) -> str:
    """Start errors, each distinct cause once (fifty tasks failing alike make one line)."""
    causes: dict[str, int] = {}
    for e in errors:
        cause = e.message.split(": ", 1)[-1]  # drop "cannot start task <id> of <arn>"
        causes[cause] = causes.get(cause, 0) + 1
    return "; ".join(f"{c} ({n} task(s))" if n > 1 else c for c, n in causes.items())


class Run:
    """What one converge of a service records: its events, and the outcome of its
    deployment (for the `deployments` attribute)."""

    def __init__(self, log: EV.EventLog, target: str) -> None:
        self.log = log
        self.target = target
        self.failed = 0
        self.failed_revision: str | None = None
        self.reason = ""
        self.registered: set[tuple[str, str]] = set()

    def finish(self, attrs: dict[str, Any], error: bool = False) -> dict[str, Any]:
        """`attrs` with `events` and `deployments` from this run."""
        out = dict(attrs)
        primary = str(out.get("task_definition"))
        tasks = out.get("tasks") if isinstance(out.get("tasks"), list) else []
        desired = int(out.get("desired_count") or 0)
        if error and self.failed_revision is None:
            # A failure without the breaker: the target revision failed, whichever
            # revision state now names.
            self.failed_revision = self.target
            self.reason = self.reason or "tasks failed to start or become healthy"
        if error:
            rolled_back = self.failed_revision != primary and \
                out.get("running_count") == desired and all(
                    t.get("task_definition") == primary for t in tasks)
            state = EV.COMPLETED if rolled_back else EV.FAILED
            if not rolled_back:
                # The failed deployment is the one in charge (PRIMARY), though state names
                # the revision to retry from.
                primary = str(self.failed_revision)
                self.log.add(f"(deployment {primary}) deployment failed: {self.reason}.")
        else:
            state = EV.COMPLETED
            # `reconcile -watch` converges every few seconds: one line per steady period.
            last = self.log.entries[-1]["message"] if self.log.entries else ""
            if not last.endswith(" has reached a steady state."):
                self.log.add("has reached a steady state.")
        out["deployments"] = EV.deployments(tasks, desired, primary, state, self.failed,
                                            self.reason, self.failed_revision)
        out["events"] = self.log.to_attr()
        return out


# service address -> the converge running for it in this process (services converge in
# parallel threads; the helpers here and in rollout.py find their run to record events).
RUNS: dict[str, Run] = {}
RUNS_LOCK = threading.Lock()


class StoppedMeanwhile(PartialApplyError):
    """Fewer tasks run after a converge's wait than it left running: some died meanwhile."""


def add_event(address: str, message: str, when: bool = True) -> None:
    run = RUNS.get(address)
    if run is not None and when:
        run.log.add(message)


def dead_events(address: str, dead: list[LiveTask], looping: set[str]) -> None:
    """The events of removing tasks that stopped, or that their restart policy kept
    restarting (restart counts inspected), saying so."""
    stopped = [t.task_id for t in dead if t.task_id not in looping]
    add_event(address, f"has removed {EV.tasks_phrase(stopped)} that stopped.", bool(stopped))
    for t in dead:
        if t.task_id in looping:
            note = restart_note(t)
            how = "kept crashing" if is_crash_looping(t) else "crashed"
            add_event(address, f"has removed {EV.tasks_phrase([t.task_id])} that {how}"
                   + (f": {note}." if note else "."))


def restart_events(address: str, tasks: list[LiveTask]) -> None:
    """One event per restart Docker's restart policy made in place (restart counts
    inspected): the scheduler left the task alone, but the log says it crashed. A -watch
    pass sees the same restart again: each count is told once."""
    run = RUNS.get(address)
    if run is None:
        return
    for t in tasks:
        note = restart_note(t)
        message = f"(task {t.task_id}) was restarted in place: {note}."
        if note and not any(e["message"].endswith(message) for e in run.log.entries):
            run.log.add(message)


def register_targets(ctx: FleetContext, client: docker.DockerClient, address: str,
              attrs: dict[str, Any]) -> None:
    """Register the service's running tasks that are not failing a health check with its
    target groups (the proxy's own checks decide when they get traffic)."""
    if not attrs.get("load_balancer"):
        return
    fits = revision_check(ctx)
    ready = [t.to_attr() for t in list_live_tasks(ctx, client, address=address)
             if t.running and fits(t) and t.health in ("HEALTHY", "UNKNOWN")]
    before = {(t["target_group"], t["id"]) for t in R.service_targets(
        attrs, (attrs.get("tasks") or []) if isinstance(attrs.get("tasks"), list) else [])}
    R.register(client, ctx, address, attrs, ready)
    run = RUNS.get(address)
    if run is not None:
        added: dict[str, int] = {}
        for t in R.service_targets(attrs, ready):
            if (t["target_group"], t["id"]) not in before | run.registered:
                run.registered.add((t["target_group"], t["id"]))
                added[t["target_group"]] = added.get(t["target_group"], 0) + 1
        for tg, n in sorted(added.items()):
            run.log.add(f"registered {n} target{'s' if n != 1 else ''} in "
                        f"(target-group {tg})")


def stop_drained(ctx: FleetContext, client: docker.DockerClient, address: str,
          attrs: dict[str, Any], tasks: list[LiveTask]) -> None:
    """Stop tasks, draining them from their target groups first."""
    if attrs.get("load_balancer"):
        R.deregister(client, ctx, address, attrs, [t.task_id for t in tasks])
    stop_tasks(client, tasks)
    add_event(address, f"has stopped {EV.tasks_phrase([t.task_id for t in tasks])}.",
           bool(tasks))


def final_attrs(ctx: FleetContext, client: docker.DockerClient, address: str,
           attrs: dict[str, Any]) -> dict[str, Any]:
    """attrs with running_count and tasks from one fresh list call."""
    return final_live(ctx, client, address, attrs)[0]


def final_live(ctx: FleetContext, client: docker.DockerClient, address: str,
                attrs: dict[str, Any]) -> tuple[dict[str, Any], list[LiveTask]]:
    """`final_attrs`, and every task of the service that list call saw."""
    live = list_live_tasks(ctx, client, address=address)
    fits = revision_check(ctx)
    return live_attrs(attrs, [t for t in live if t.running and fits(t)]), live


def raise_short(ctx: FleetContext, client: docker.DockerClient, address: str,
           attrs: dict[str, Any], final: dict[str, Any], live: list[LiveTask],
           desired: int) -> None:
    """After the wait, fewer tasks run than desired (one passed the wait and died since,
    or vanished): never report that as steady. The stopped tasks are described, then
    removed (the service replaces them at the next apply); state records those running."""
    stopped = [t for t in live if not t.running and not t.restarting]
    details = [describe_failure(client, t, "stopped") for t in stopped]
    stop_tasks(client, stopped)
    if stopped:
        now = final_attrs(ctx, client, address, attrs)
    else:
        now = final
        details.append(f"{desired - final['running_count']} task(s) are gone "
                       "(removed by someone else?)")
    raise StoppedMeanwhile(
        f"{address} did not reach a steady state: {now['running_count']} of {desired} "
        f"task(s) running"
        + (f" ({len(stopped)} stopped, removed)" if stopped else "") + ":\n"
        + "\n".join(details),
        attrs=now,
        hint="Fix the task definition (image, command, health check) and apply again; "
             "the tasks that run are recorded in state and failed ones are replaced.",
    )


def doomed_tasks(res: WaitResult, new_ids: list[str]) -> list[LiveTask]:
    """The new tasks of a wait that stopped or turned unhealthy: to be removed."""
    by_id = {t.task_id: t for t in res.live}
    return [by_id[tid] for tid in res.failed if tid in by_id and tid in new_ids
            and (tid in res.stopped or by_id[tid].stopped or by_id[tid].unhealthy
                 or not by_id[tid].running)]


def raise_failed(ctx: FleetContext, client: docker.DockerClient, addr: Address,
          attrs: dict[str, Any], res: WaitResult, new_ids: list[str],
          extra: list[str] | None = None) -> None:
    """Remove the new tasks that stopped or turned unhealthy (their diagnostics are
    already collected), then raise with the tasks that remain recorded."""
    address = str(addr)
    run = RUNS.get(address)
    if run is not None:
        run.failed += len(res.failed)
    doomed = doomed_tasks(res, new_ids)
    stop_tasks(client, doomed)
    fits = revision_check(ctx)
    alive = [t for t in list_live_tasks(ctx, client, address=address)
             if t.running and fits(t)]
    now = live_attrs(attrs, alive)
    details = "\n".join(res.failed[tid] for tid in sorted(res.failed))
    msgs = "\n".join(extra or [])
    raise PartialApplyError(
        f"{address} did not reach a steady state: {len(res.failed)} task(s) failed"
        f"{' (removed ' + str(len(doomed)) + ')' if doomed else ''}:\n{details}"
        + (f"\n{msgs}" if msgs else ""),
        attrs=now,
        hint="Fix the task definition (image, command, health check) and apply again; "
             "the tasks that run are recorded in state and failed ones are replaced.",
    )
