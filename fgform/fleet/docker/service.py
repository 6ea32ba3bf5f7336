"""fg_service: keeps `desired_count` tasks of a task definition running on a cluster.

Create and update both *converge*: look at what runs (one list call), clean up tasks whose
essential container stopped, scale in (newest first) or out (placed by the capacity manager,
refused before anything starts when the fleet is too small), roll onto a new task definition
(a rolling deployment in the steps `fgform.fleet.deployment` allows), and finally wait for
steady state.
So the next apply or `reconcile` after a task died simply replaces it.

When an apply fails part-way, the tasks that exist are reported through
`PartialApplyError.attrs`, which the executor saves: state never loses a running task.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Any

import docker

from fgform.addresses import Address
from fgform.errors import FgformError
from fgform.fleet import capacity, deployment
from fgform.fleet import events as EV
from fgform.fleet.docker import registration as R
from fgform.fleet.docker.health import WaitResult, describe_failure, wait_healthy
from fgform.fleet.docker.launch import Launch, definition_hashes, launch_tasks, stop_tasks
from fgform.fleet.docker.live_tasks import KIND_SERVICE, LiveTask, list_live_tasks
from fgform.fleet.docker.lookup import find_cluster
from fgform.fleet.docker.placement import (
    ClusterInfo,
    cluster_info,
    host_ports,
    place_tasks,
    placement_lock,
    placement_usage,
    task_size,
)
from fgform.fleet.docker.restarts import (
    arm,
    inspect_restarts,
    is_crash_looping,
    may_have_restarted,
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


class _Run:
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
# parallel threads; static helpers find their run here to record events).
_RUNS: dict[str, _Run] = {}
_RUNS_LOCK = threading.Lock()
# The crash-loop backoff of `reconcile` (a -watch process keeps it between passes):
# service address -> (strikes, monotonic time before which nothing is started, time of the
# last stop seen), and how many stopped tasks the last converge found.
_BACKOFF: dict[str, tuple[int, float, float]] = {}
_RUN_STOPPED: dict[str, int] = {}
BACKOFF_FIRST = 5.0
BACKOFF_MAX = 300.0
BACKOFF_RESET = 60.0
# Rounds of one reconcile of a service when tasks keep dying while it waits.
RECONCILE_ROUNDS = 3


class _StoppedMeanwhile(PartialApplyError):
    """Fewer tasks run after a converge's wait than it left running: some died meanwhile."""


def _event(address: str, message: str, when: bool = True) -> None:
    run = _RUNS.get(address)
    if run is not None and when:
        run.log.add(message)


def _dead_events(address: str, dead: list[LiveTask], looping: set[str]) -> None:
    """The events of removing tasks that stopped, or that their restart policy kept
    restarting (restart counts inspected), saying so."""
    stopped = [t.task_id for t in dead if t.task_id not in looping]
    _event(address, f"has removed {EV.tasks_phrase(stopped)} that stopped.", bool(stopped))
    for t in dead:
        if t.task_id in looping:
            note = restart_note(t)
            how = "kept crashing" if is_crash_looping(t) else "crashed"
            _event(address, f"has removed {EV.tasks_phrase([t.task_id])} that {how}"
                   + (f": {note}." if note else "."))


def _restart_events(address: str, tasks: list[LiveTask]) -> None:
    """One event per restart Docker's restart policy made in place (restart counts
    inspected): the scheduler left the task alone, but the log says it crashed. A -watch
    pass sees the same restart again: each count is told once."""
    run = _RUNS.get(address)
    if run is None:
        return
    for t in tasks:
        note = restart_note(t)
        message = f"(task {t.task_id}) was restarted in place: {note}."
        if note and not any(e["message"].endswith(message) for e in run.log.entries):
            run.log.add(message)


class ServiceDriver:
    """The service scheduler, run at apply (and by `fgform reconcile`)."""

    type_name = "fg_service"

    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client

    # -- read --------------------------------------------------------------------------------
    def read(self, ctx: FleetContext, items: dict[Address, dict[str, Any]]
             ) -> dict[Address, dict[str, Any] | None]:
        if not items:
            return {}
        client = self.client
        # ONE list call for every service of this lineage.
        by_address: dict[str, list[LiveTask]] = {}
        for task in list_live_tasks(ctx, client, kind=KIND_SERVICE):
            by_address.setdefault(task.address, []).append(task)
        fits = revision_check(ctx)
        out: dict[Address, dict[str, Any] | None] = {}
        for addr, attrs in items.items():
            found = by_address.get(str(addr), [])
            # Strictly read-only: a refresh may run while an apply is starting tasks (their
            # containers still `created`), so nothing is stopped or removed here. Tasks that
            # do not run simply do not count; converge cleans up the dead ones.
            if not found and int(attrs.get("desired_count") or 0) > 0:
                out[addr] = None  # no trace at all: the service is gone
                continue
            # A running task whose containers are not what its revision defines does not
            # count: running_count drops and the plan repairs the service.
            live = live_attrs(attrs, [t for t in found if t.running and fits(t)])
            # What the proxies hold: a target missing there is drift (see needs_repair).
            live["targets"] = R.live_targets(client, ctx, live)
            out[addr] = live
        return out

    # -- create / update ---------------------------------------------------------------------
    def create(self, ctx: FleetContext, addr: Address, planned: dict[str, Any]) -> dict[str, Any]:
        return self.converge(ctx, addr, planned, None)

    def update(self, ctx: FleetContext, addr: Address, prior: dict[str, Any],
               planned: dict[str, Any]) -> dict[str, Any]:
        return self.converge(ctx, addr, planned, prior)

    def reconcile(self, ctx: FleetContext, addr: Address, attrs: dict[str, Any]
                  ) -> dict[str, Any]:
        """Restore the desired count from state alone (`fgform reconcile`).

        A service whose tasks keep stopping (a crash loop) is throttled as ECS throttles
        task launches: a task stopping within BACKOFF_RESET s of the previous stop is a
        strike, and from the second strike on the next replacement waits BACKOFF_FIRST s,
        doubling up to BACKOFF_MAX s; a service with no stop for BACKOFF_RESET s starts
        over. Within the wait the pass starts nothing and says so in the events.
        """
        address = str(addr)
        with _RUNS_LOCK:
            strikes, not_before, last_stop = _BACKOFF.get(address, (0, 0.0, 0.0))
        wait = not_before - time.monotonic()
        if wait > 0:
            log = EV.EventLog(service_name(addr, attrs), attrs.get("events"))
            head = "is unable to consistently start tasks successfully"
            # One line per backoff period, not one per pass within it.
            if not log.entries or head not in log.entries[-1]["message"]:
                log.add(f"{head}: {strikes} tasks stopped in a row; next attempt in "
                        f"{wait:.0f} s.")
            out = self._final(ctx, self.client, address, attrs)
            out["events"] = log.to_attr()
            return out
        _RUN_STOPPED.pop(address, None)
        # Several tasks killed at once die one by one: those that die while the pass waits
        # for the first replacements are replaced at once, not a pass later.
        result = self.converge(ctx, addr, attrs, attrs, rounds=RECONCILE_ROUNDS)
        stopped = _RUN_STOPPED.pop(address, 0)
        now = time.monotonic()
        with _RUNS_LOCK:
            if stopped:
                strikes = strikes + 1 if now - last_stop < BACKOFF_RESET else 1
                delay = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (strikes - 2)) \
                    if strikes > 1 else 0.0
                _BACKOFF[address] = (strikes, now + delay, now)
        return result

    def converge(self, ctx: FleetContext, addr: Address, planned: dict[str, Any],
                 prior: dict[str, Any] | None, *, rounds: int = 1) -> dict[str, Any]:
        """Make the fleet run `planned`; returns the attributes with computed values, the
        service's event log and deployments included (also on a PartialApplyError).
        With `rounds` > 1, tasks that die while it waits are replaced by another round
        (up to `rounds` in all) instead of failing it."""
        address = str(addr)
        run = _Run(EV.EventLog(service_name(addr, planned), (prior or planned).get("events")),
                   str(planned["task_definition"]))
        with _RUNS_LOCK:
            _RUNS[address] = run
        try:
            while True:
                try:
                    final = self._converge(ctx, addr, planned, prior)
                    break
                except _StoppedMeanwhile:
                    rounds -= 1
                    if rounds <= 0:
                        raise
        except PartialApplyError as exc:
            if exc.attrs is not None:
                exc.attrs = run.finish(exc.attrs, error=True)
            raise
        finally:
            with _RUNS_LOCK:
                _RUNS.pop(address, None)
        return run.finish(final)

    def _converge(self, ctx: FleetContext, addr: Address, planned: dict[str, Any],
                  prior: dict[str, Any] | None) -> dict[str, Any]:
        started_at = time.monotonic()
        client = self.client
        cluster = cluster_info(client, find_cluster(ctx, planned["cluster"]))
        taskdef = resolve(ctx, planned["task_definition"])
        arn = str(taskdef["arn"])
        name = service_name(addr, planned)
        attrs = dict(planned)
        attrs["id"] = f"{cluster.name}/{name}"
        timeout = float(planned.get("steady_state_timeout") or 300)
        deadline = started_at + timeout
        address = str(addr)
        grace = float(planned.get("health_check_grace_period") or 0)

        # Before anything starts: the health wait replays the engine's `die` events from here.
        since = time.time()
        live = list_live_tasks(ctx, client, address=address)
        # Converge runs under the fleet lock (apply, a reconcile pass), so no other fgform
        # process is launching tasks of this lineage: a task left in `created` is the
        # leftover of a killed apply and is cleaned up like a dead one. (Refresh, which may
        # run beside an apply, never removes anything: see `read`.)
        # Restart policies mend an isolated crash in place; a task they keep restarting (a
        # crash loop) is the scheduler's, like one that stopped: it counts toward the backoff.
        restarted = [t for t in live if may_have_restarted(t)]
        inspect_restarts(client, restarted)
        looping = {t.task_id for t in restarted if t.restarting or is_crash_looping(t)}
        dead = [t for t in live if not t.running or t.task_id in looping]
        if dead:
            _RUN_STOPPED[address] = _RUN_STOPPED.get(address, 0) + len(dead)
            ctx.log(f"{address}: removing {len(dead)} stopped or crash-looping task(s)")
            _dead_events(address, dead, looping)
            stop_tasks(client, dead)
        _restart_events(address, [t for t in restarted
                                  if t.running and t.task_id not in looping])
        alive = [t for t in live if t.running and t.task_id not in looping]
        # Healthy tasks an interrupted apply left without their restart policy get it now.
        arm(client, [t for t in alive if t.healthy])
        # A task of this revision failing its health check for longer than the grace period
        # is replaced (as ECS does); Docker's restart policy cannot see that.
        sick = [t for t in alive if t.task_definition == arn and t.unhealthy
                and t.age() >= grace]
        if sick:
            ctx.log(f"{address}: replacing {len(sick)} unhealthy task(s)")
            self._stop(ctx, client, address, attrs, sick)
            gone = {t.task_id for t in sick}
            alive = [t for t in alive if t.task_id not in gone]
        fits = revision_check(ctx)
        current = [t for t in alive if t.task_definition == arn and fits(t)]
        kept = {t.task_id for t in current}
        drifted = [t for t in alive if t.task_definition == arn and t.task_id not in kept]
        if drifted:
            ctx.log(f"{address}: replacing {len(drifted)} task(s) whose containers differ "
                    f"from {arn} (config-hash)")
        # Rolled like tasks of an older revision: new ones start before they stop.
        old = [t for t in alive if t.task_id not in kept]
        desired = int(planned.get("desired_count") or 0)

        if len(current) > desired:
            # Newest first: the longest-running tasks are the proven ones.
            surplus = sorted(current, key=lambda t: (t.created, t.task_id),
                             reverse=True)[:len(current) - desired]
            ctx.log(f"{address}: stopping {len(surplus)} task(s)")
            self._stop(ctx, client, address, attrs, surplus)
            gone = {t.task_id for t in surplus}
            current = [t for t in current if t.task_id not in gone]

        missing = desired - len(current)
        new_ids: list[str] = []
        if old:
            self._roll(ctx, client, addr, cluster, taskdef, name, attrs, prior, old,
                       current, deadline, grace, since)
        elif missing > 0:
            # Refused here, before anything starts, when no instance has room (cpu,
            # memory, or a host port the task definition publishes).
            with placement_lock(cluster, taskdef):
                instances = place_tasks(ctx, client, cluster, taskdef, missing)
                launches = [Launch(address, KIND_SERVICE, cluster, name, taskdef, inst)
                            for inst in instances]
                ok, errors = launch_tasks(client, ctx, launches)
            new_ids = [ln.task_id for ln in ok]
            _event(address, f"has started {EV.tasks_phrase(new_ids)}.", bool(new_ids))
            if errors:
                raise PartialApplyError(
                    f"{address}: {len(errors)} of {len(launches)} task(s) did not start: "
                    + summarize(errors),
                    attrs=self._final(ctx, client, address, attrs))

        wait = planned.get("wait_for_steady_state", True)
        if wait:
            waiting = [t.task_id for t in current if not t.healthy] + new_ids
            if waiting:
                ctx.log(f"{address}: waiting for {len(waiting)} task(s) to become healthy")
                res = wait_healthy(ctx, client, waiting, max(1.0, deadline - time.monotonic()),
                                     grace=grace, since=since, address=address)
                if res.failed:
                    self._fail(ctx, client, addr, attrs, res, new_ids)
        self._register(ctx, client, address, attrs)
        final, live_now = self._final_live(ctx, client, address, attrs)
        # A task its restart policy is restarting right now (it crashed after its wait) is
        # the policy's to mend, and the scheduler's if it keeps crashing: not short.
        mending = sum(1 for t in live_now if t.restarting)
        if wait and final["running_count"] + mending < desired:
            self._short(ctx, client, address, attrs, final, live_now, desired)
        # The waits are over: every task that runs gets its restart policy (after the check
        # above, so a task that crashed meanwhile is seen stopped, not restarting).
        arm(client, [t for t in live_now if t.running])
        return final

    # -- target registration -------------------------------------------------------------------
    @staticmethod
    def _register(ctx: FleetContext, client: docker.DockerClient, address: str,
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
        run = _RUNS.get(address)
        if run is not None:
            added: dict[str, int] = {}
            for t in R.service_targets(attrs, ready):
                if (t["target_group"], t["id"]) not in before | run.registered:
                    run.registered.add((t["target_group"], t["id"]))
                    added[t["target_group"]] = added.get(t["target_group"], 0) + 1
            for tg, n in sorted(added.items()):
                run.log.add(f"registered {n} target{'s' if n != 1 else ''} in "
                            f"(target-group {tg})")

    @staticmethod
    def _stop(ctx: FleetContext, client: docker.DockerClient, address: str,
              attrs: dict[str, Any], tasks: list[LiveTask]) -> None:
        """Stop tasks, draining them from their target groups first."""
        if attrs.get("load_balancer"):
            R.deregister(client, ctx, address, attrs, [t.task_id for t in tasks])
        stop_tasks(client, tasks)
        _event(address, f"has stopped {EV.tasks_phrase([t.task_id for t in tasks])}.",
               bool(tasks))

    # -- rolling onto a new task definition ----------------------------------------------------
    def _roll(self, ctx: FleetContext, client: docker.DockerClient, addr: Address,
              cluster: ClusterInfo, taskdef: dict[str, Any], name: str,
              attrs: dict[str, Any], prior: dict[str, Any] | None, old: list[LiveTask],
              current: list[LiveTask], deadline: float, grace: float, since: float) -> None:
        """A rolling deployment from `old` tasks to `desired_count` tasks of `taskdef`, in
        the steps `deployment.next_step` allows under the service's minimum_healthy_percent
        and maximum_percent: stop what may stop (drained from the target groups first),
        start what may start, wait until the new tasks are healthy and registered, repeat.

        `current` are tasks of the new revision already running (a deployment resumed after
        an interrupted apply): they count as new ones once healthy.
        """
        address = str(addr)
        desired = int(attrs.get("desired_count") or 0)
        lo, hi = deployment.settings(attrs)
        # Failing old tasks go first (they hold no part of the healthy floor), then the
        # oldest.
        remaining = sorted(old, key=lambda t: (not t.unhealthy, t.created, t.task_id))
        size = task_size(taskdef)
        ports = host_ports(taskdef)
        arn = str(taskdef["arn"])
        enable, rollback = deployment.breaker(attrs)
        threshold = deployment.failure_threshold(desired)
        failures = 0
        pending = [t.task_id for t in current if not t.healthy]
        if pending:
            self._await_new(ctx, client, addr, attrs, prior, pending, deadline, grace, since)
        new_healthy = len(current)
        while True:
            with placement_lock(cluster, taskdef):
                usage = placement_usage(ctx, client, cluster, taskdef)
                room = capacity.fits_count(size, cluster.instances, usage, max(desired, 1),
                                           ports=ports)
                # A host port is taken once per instance: where an old task (or anything
                # else) holds it, no new task goes until that one stops.
                clash = capacity.held_ports(cluster.instances, usage, ports) \
                    if ports and room < capacity.fits_count(
                        size, cluster.instances, usage, max(desired, 1)) else []
                counts = deployment.Counts(
                    desired,
                    old_healthy=sum(1 for t in remaining if not t.unhealthy),
                    old_unhealthy=sum(1 for t in remaining if t.unhealthy),
                    new_healthy=new_healthy)
                step = deployment.next_step(counts, lo, hi, room)
                ok: list[Launch] = []
                errors: list[FgformError] = []
                if step.start and not step.stop:
                    instances = place_tasks(ctx, client, cluster, taskdef, step.start,
                                              usage)
                    launches = [Launch(address, KIND_SERVICE, cluster, name, taskdef, inst)
                                for inst in instances]
                    ctx.log(f"{address}: deployment of {arn}: starting {len(launches)} "
                            f"task(s) ({counts.healthy} healthy, {counts.running} running)")
                    ok, errors = launch_tasks(client, ctx, launches)
                    _event(address, "has started "
                           f"{EV.tasks_phrase([ln.task_id for ln in ok])}.", bool(ok))
            if step.done:
                _event(address, f"(deployment {arn}) deployment completed.")
                return
            if step.stuck:
                reason = step.reason
                if clash:
                    reason = (f"a new task cannot be placed (RESOURCE:PORTS): it publishes "
                              f"host port(s) {', '.join(ports)}, in use: {'; '.join(clash)}; "
                              f"and {reason.split(', and ', 1)[-1]}")
                raise PartialApplyError(
                    f"{address}: the deployment of {arn} cannot proceed: {reason}",
                    attrs=self._final(ctx, client, address, dict(
                        attrs, task_definition=(prior or attrs)["task_definition"])),
                    hint="Lower deployment.minimum_healthy_percent so old tasks may stop "
                         "first" + (", or add an instance (capacity.instance_count): a task "
                                    "publishing a host port needs an instance where the "
                                    "port is free." if clash else ", or add capacity to the "
                                    "cluster."))
            if step.stop:
                # Stopping frees room: the next round places with the new usage.
                unhealthy = [t for t in remaining if t.unhealthy][:step.stop_unhealthy]
                healthy = [t for t in remaining if not t.unhealthy][:step.stop_healthy]
                retire = unhealthy + healthy
                gone = {t.task_id for t in retire}
                remaining = [t for t in remaining if t.task_id not in gone]
                ctx.log(f"{address}: deployment of {arn}: stopping {len(retire)} old task(s)")
                self._stop(ctx, client, address, attrs, retire)
                continue
            ids = [ln.task_id for ln in ok]
            res = self._await_new(ctx, client, addr, attrs, prior, ids, deadline, grace,
                                  since, errors=errors, tolerate=enable)
            if res is None:
                new_healthy += len(ids)
                continue
            new_healthy += len(res.healthy)
            failures += len(res.failed) + len(errors)
            last = (next((res.failed[tid] for tid in sorted(res.failed)), "")
                    or summarize(errors))
            ctx.log(f"{address}: deployment of {arn}: {failures} task(s) failed "
                    f"(circuit breaker at {threshold})")
            if failures >= threshold or time.monotonic() >= deadline:
                self._trip(ctx, client, addr, cluster, name, attrs, prior, arn, failures,
                           threshold, last, rollback, grace, since)

    def _trip(self, ctx: FleetContext, client: docker.DockerClient, addr: Address,
              cluster: ClusterInfo, name: str, attrs: dict[str, Any],
              prior: dict[str, Any] | None, arn: str, failures: int, threshold: int,
              last: str, rollback: bool, grace: float, since: float) -> None:
        """The circuit breaker tripped: with rollback, deploy the revision state names again
        (a rolling deployment of its own, with a fresh steady-state timeout); then fail the
        apply naming the failed revision, why, and the last failed task's diagnostics."""
        address = str(addr)
        back = str((prior or attrs)["task_definition"])
        run = _RUNS.get(address)
        if run is not None:
            run.failed, run.failed_revision = failures, arn
            run.reason = f"tasks failed to start or become healthy ({failures})"
        why = (f"{address}: deployment of {arn} failed: {failures} task(s) failed to start "
               f"or become healthy (circuit breaker threshold {threshold})")
        if rollback and back != arn:
            ctx.log(f"{address}: deployment of {arn} failed; rolling back to {back}")
            _event(address, "deployment failed: tasks failed to become healthy; rolling "
                   f"back to {back}")
            fits = revision_check(ctx)
            alive = [t for t in list_live_tasks(ctx, client, address=address) if t.running]
            good = [t for t in alive if t.task_definition == back and fits(t)]
            keep = {t.task_id for t in good}
            # The rollback is itself a deployment, but not one the breaker may stop again.
            dep = dict(attrs.get("deployment") or {}, circuit_breaker=None)
            back_attrs = dict(attrs, task_definition=back, deployment=dep)
            timeout = float(attrs.get("steady_state_timeout") or 300)
            self._roll(ctx, client, addr, cluster, resolve(ctx, back), name, back_attrs,
                       prior, [t for t in alive if t.task_id not in keep], good,
                       time.monotonic() + timeout, grace, since)
            why += f"; rolled back to {back}"
        else:
            why += "; the deployment stopped where it is"
        raise PartialApplyError(
            f"{why}. The last failure:\n{last}",
            attrs=self._final(ctx, client, address, dict(attrs, task_definition=back)),
            hint=f"Fix {arn} (image, command, health check) and apply again.")

    def _await_new(self, ctx: FleetContext, client: docker.DockerClient, addr: Address,
                   attrs: dict[str, Any], prior: dict[str, Any] | None, ids: list[str],
                   deadline: float, grace: float, since: float,
                   errors: list[FgformError] | None = None, tolerate: bool = False
                   ) -> WaitResult | None:
        """Wait until new tasks are healthy and register them (they take traffic before any
        old task drains). On a failure: with `tolerate` (a circuit breaker counts failures)
        remove the failed tasks and return the result; else fail the apply with the old
        revision in state. None when every task became healthy."""
        address = str(addr)
        res = wait_healthy(ctx, client, ids, max(1.0, deadline - time.monotonic()),
                             grace=grace, since=since, address=address)
        arm(client, res.healthy)
        failed = bool(errors or res.failed)
        if failed and not tolerate:
            # The old revision keeps serving; state keeps naming it, so the next apply
            # tries the rollout again.
            if prior is not None:
                attrs = dict(attrs, task_definition=prior["task_definition"])
            self._fail(ctx, client, addr, attrs, res, ids,
                       extra=[summarize(errors)] if errors else None)
        if failed:
            # Every failed one goes, a task still starting at the timeout too: the breaker
            # counts it, and the planner must not see it as neither old nor new.
            stop_tasks(client, [t for t in res.live if t.task_id in res.failed
                                  and t.task_id in ids])
        self._register(ctx, client, address, attrs)
        return res if failed else None

    # -- results -------------------------------------------------------------------------------
    @staticmethod
    def _final(ctx: FleetContext, client: docker.DockerClient, address: str,
               attrs: dict[str, Any]) -> dict[str, Any]:
        """attrs with running_count and tasks from one fresh list call."""
        return ServiceDriver._final_live(ctx, client, address, attrs)[0]

    @staticmethod
    def _final_live(ctx: FleetContext, client: docker.DockerClient, address: str,
                    attrs: dict[str, Any]) -> tuple[dict[str, Any], list[LiveTask]]:
        """`_final`, and every task of the service that list call saw."""
        live = list_live_tasks(ctx, client, address=address)
        fits = revision_check(ctx)
        return live_attrs(attrs, [t for t in live if t.running and fits(t)]), live

    @staticmethod
    def _short(ctx: FleetContext, client: docker.DockerClient, address: str,
               attrs: dict[str, Any], final: dict[str, Any], live: list[LiveTask],
               desired: int) -> None:
        """After the wait, fewer tasks run than desired (one passed the wait and died since,
        or vanished): never report that as steady. The stopped tasks are described, then
        removed (the service replaces them at the next apply); state records those running."""
        stopped = [t for t in live if not t.running and not t.restarting]
        details = [describe_failure(client, t, "stopped") for t in stopped]
        stop_tasks(client, stopped)
        if stopped:
            now = ServiceDriver._final(ctx, client, address, attrs)
        else:
            now = final
            details.append(f"{desired - final['running_count']} task(s) are gone "
                           "(removed by someone else?)")
        raise _StoppedMeanwhile(
            f"{address} did not reach a steady state: {now['running_count']} of {desired} "
            f"task(s) running"
            + (f" ({len(stopped)} stopped, removed)" if stopped else "") + ":\n"
            + "\n".join(details),
            attrs=now,
            hint="Fix the task definition (image, command, health check) and apply again; "
                 "the tasks that run are recorded in state and failed ones are replaced.",
        )

    @staticmethod
    def _doomed(res: WaitResult, new_ids: list[str]) -> list[LiveTask]:
        """The new tasks of a wait that stopped or turned unhealthy: to be removed."""
        by_id = {t.task_id: t for t in res.live}
        return [by_id[tid] for tid in res.failed if tid in by_id and tid in new_ids
                and (tid in res.stopped or by_id[tid].stopped or by_id[tid].unhealthy
                     or not by_id[tid].running)]

    def _fail(self, ctx: FleetContext, client: docker.DockerClient, addr: Address,
              attrs: dict[str, Any], res: WaitResult, new_ids: list[str],
              extra: list[str] | None = None) -> None:
        """Remove the new tasks that stopped or turned unhealthy (their diagnostics are
        already collected), then raise with the tasks that remain recorded."""
        address = str(addr)
        run = _RUNS.get(address)
        if run is not None:
            run.failed += len(res.failed)
        doomed = self._doomed(res, new_ids)
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

    # -- the scheduler's clean-up -------------------------------------------------------------
    def remove_orphans(self, ctx: FleetContext, services: set[str]) -> list[LiveTask]:
        """Remove the service tasks of this state's lineage whose service address is not in
        `services` (a service removed from state by hand, or an apply killed between
        starting tasks and saving state); returns them."""
        client = self.client
        orphans = [t for t in list_live_tasks(ctx, client, kind=KIND_SERVICE)
                   if t.address not in services]
        stop_tasks(client, orphans)
        return sorted(orphans, key=lambda t: (t.address, t.task_id))

    # -- delete --------------------------------------------------------------------------------
    def delete(self, ctx: FleetContext, addr: Address, prior: dict[str, Any]) -> None:
        client = self.client
        found = list_live_tasks(ctx, client, address=str(addr))
        if found:
            ctx.log(f"{addr}: stopping {len(found)} task(s)")
        self._stop(ctx, client, str(addr), prior, found)
