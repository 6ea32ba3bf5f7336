"""fg_service: keeps `desired_count` tasks of a task definition running on a cluster.

Create and update both *converge*: look at what runs (one list call), clean up tasks whose
essential container stopped, scale in (newest first) or out (placed by the capacity manager,
refused before anything starts when the fleet is too small), roll onto a new task definition
(a rolling deployment in the steps `fgform.deployment` allows), and finally wait for
steady state.
So the next apply or `reconcile` after a task died simply replaces it.

When an apply fails part-way, the tasks that exist are reported through
`PartialApplyError.attrs`, which the executor saves: state never loses a running task.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from fgform.addresses import Address
from fgform.fleet import events as EV
from fgform.fleet.docker import registration as R
from fgform.fleet.docker.client import DockerDriver
from fgform.fleet.docker.health import wait_healthy
from fgform.fleet.docker.launch import Launch, launch_tasks, stop_tasks
from fgform.fleet.docker.live_tasks import KIND_SERVICE, LiveTask, list_live_tasks
from fgform.fleet.docker.lookup import find_cluster
from fgform.fleet.docker.placement import (
    cluster_info,
    place_tasks,
    placement_lock,
)
from fgform.fleet.docker.restarts import (
    arm,
    inspect_restarts,
    is_crash_looping,
    may_have_restarted,
)
from fgform.fleet.docker.rollout import roll
from fgform.fleet.docker.service_run import (
    RUNS,
    RUNS_LOCK,
    Run,
    StoppedMeanwhile,
    add_event,
    dead_events,
    final_attrs,
    final_live,
    live_attrs,
    raise_failed,
    raise_short,
    register_targets,
    restart_events,
    revision_check,
    service_name,
    stop_drained,
    summarize,
)
from fgform.fleet.docker.task_definition import resolve
from fgform.fleet.driver import FleetContext, PartialApplyError
from fgform.placement_rules import placement_of

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


class ServiceDriver(DockerDriver):
    """The service scheduler, run at apply (and by `fgform reconcile`)."""

    type_name = "fg_service"

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
        with RUNS_LOCK:
            strikes, not_before, last_stop = _BACKOFF.get(address, (0, 0.0, 0.0))
        wait = not_before - time.monotonic()
        if wait > 0:
            log = EV.EventLog(service_name(addr, attrs), attrs.get("events"))
            head = "is unable to consistently start tasks successfully"
            # One line per backoff period, not one per pass within it.
            if not log.entries or head not in log.entries[-1]["message"]:
                log.add(f"{head}: {strikes} tasks stopped in a row; next attempt in "
                        f"{wait:.0f} s.")
            out = final_attrs(ctx, self.client, address, attrs)
            out["events"] = log.to_attr()
            return out
        _RUN_STOPPED.pop(address, None)
        # Several tasks killed at once die one by one: those that die while the pass waits
        # for the first replacements are replaced at once, not a pass later.
        result = self.converge(ctx, addr, attrs, attrs, rounds=RECONCILE_ROUNDS)
        stopped = _RUN_STOPPED.pop(address, 0)
        now = time.monotonic()
        with RUNS_LOCK:
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
        run = Run(EV.EventLog(service_name(addr, planned), (prior or planned).get("events")),
                   str(planned["task_definition"]))
        with RUNS_LOCK:
            RUNS[address] = run
        try:
            while True:
                try:
                    final = self._converge(ctx, addr, planned, prior)
                    break
                except StoppedMeanwhile:
                    rounds -= 1
                    if rounds <= 0:
                        raise
        except PartialApplyError as exc:
            if exc.attrs is not None:
                exc.attrs = run.finish(exc.attrs, error=True)
            raise
        finally:
            with RUNS_LOCK:
                RUNS.pop(address, None)
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
            dead_events(address, dead, looping)
            stop_tasks(client, dead)
        restart_events(address, [t for t in restarted
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
            stop_drained(ctx, client, address, attrs, sick)
            gone = {t.task_id for t in sick}
            alive = [t for t in alive if t.task_id not in gone]
        fits = revision_check(ctx)
        # force_new_deployment (UpdateService's forceNewDeployment): tasks started before
        # that time are rolled like an older revision's.
        trigger = str(planned.get("force_new_deployment") or "")
        current = [t for t in alive if t.task_definition == arn and fits(t)]
        drifted = [t for t in alive if t.task_definition == arn and not fits(t)]
        if drifted:
            ctx.log(f"{address}: replacing {len(drifted)} task(s) whose containers differ "
                    f"from {arn} (config-hash)")
        forced = [t for t in current if trigger and t.created and t.created < trigger]
        if forced:
            ctx.log(f"{address}: replacing {len(forced)} task(s) started before "
                    f"force_new_deployment ({trigger})")
            gone = {t.task_id for t in forced}
            current = [t for t in current if t.task_id not in gone]
        kept = {t.task_id for t in current}
        placement = placement_of(planned, taskdef)
        desired = int(planned.get("desired_count") or 0)
        # Tasks on an instance the placement constraints do not admit (changed constraints
        # or instance attributes, a smaller fleet): a DAEMON's stop, the others move.
        on = {i.id: i for i in cluster.instances}
        # (A service without constraints keeps its tasks where they are, as before.)
        misplaced = [t for t in current
                     if t.instance not in on or not placement.admits(on[t.instance].attrs)
                     ] if placement.constraints or placement.daemon else []
        if placement.daemon:
            # One task on every instance the constraints admit (distinctInstance), however
            # many the plan counted: the fleet as it is now decides.
            placement = dataclasses.replace(placement, distinct=True)
            desired = sum(1 for i in cluster.instances if placement.admits(i.attrs))
            attrs["desired_count"] = desired
            seen: set[str] = set()
            doubled = []
            for t in sorted(current, key=lambda t: (t.created, t.task_id)):
                if t.instance in seen:
                    doubled.append(t)
                seen.add(t.instance)
            extra = {t.task_id for t in misplaced + doubled}
            if extra:
                ctx.log(f"{address}: stopping {len(extra)} daemon task(s) on instances that "
                        "do not take one")
                surplus = [t for t in current if t.task_id in extra]
                stop_drained(ctx, client, address, attrs, surplus)
                current = [t for t in current if t.task_id not in extra]
                kept -= extra
                alive = [t for t in alive if t.task_id not in extra]
        elif misplaced:
            ctx.log(f"{address}: moving {len(misplaced)} task(s) off instances its placement "
                    "constraints exclude")
            kept -= {t.task_id for t in misplaced}
            current = [t for t in current if t.task_id in kept]
        # Rolled like tasks of an older revision: new ones start before they stop.
        old = [t for t in alive if t.task_id not in kept]

        if len(current) > desired:
            # Newest first: the longest-running tasks are the proven ones.
            surplus = sorted(current, key=lambda t: (t.created, t.task_id),
                             reverse=True)[:len(current) - desired]
            ctx.log(f"{address}: stopping {len(surplus)} task(s)")
            stop_drained(ctx, client, address, attrs, surplus)
            gone = {t.task_id for t in surplus}
            current = [t for t in current if t.task_id not in gone]

        missing = desired - len(current)
        new_ids: list[str] = []
        if old:
            roll(ctx, client, addr, cluster, taskdef, name, attrs, prior, old,
                       current, deadline, grace, since, placement=placement)
        elif missing > 0:
            # Refused here, before anything starts, when no instance has room (cpu,
            # memory, or a host port the task definition publishes).
            with placement_lock(cluster, taskdef):
                group: dict[str, int] = {}
                for t in current:
                    group[t.instance] = group.get(t.instance, 0) + 1
                instances = place_tasks(ctx, client, cluster, taskdef, missing,
                                        placement=placement, group=group)
                launches = [Launch(address, KIND_SERVICE, cluster, name, taskdef, inst)
                            for inst in instances]
                ok, errors = launch_tasks(client, ctx, launches)
            new_ids = [ln.task_id for ln in ok]
            add_event(address, f"has started {EV.tasks_phrase(new_ids)}.", bool(new_ids))
            if errors:
                raise PartialApplyError(
                    f"{address}: {len(errors)} of {len(launches)} task(s) did not start: "
                    + summarize(errors),
                    attrs=final_attrs(ctx, client, address, attrs))

        wait = planned.get("wait_for_steady_state", True)
        if wait:
            waiting = [t.task_id for t in current if not t.healthy] + new_ids
            if waiting:
                ctx.log(f"{address}: waiting for {len(waiting)} task(s) to become healthy")
                res = wait_healthy(ctx, client, waiting, max(1.0, deadline - time.monotonic()),
                                     grace=grace, since=since, address=address)
                if res.failed:
                    raise_failed(ctx, client, addr, attrs, res, new_ids)
        register_targets(ctx, client, address, attrs)
        final, live_now = final_live(ctx, client, address, attrs)
        # A task its restart policy is restarting right now (it crashed after its wait) is
        # the policy's to mend, and the scheduler's if it keeps crashing: not short.
        mending = sum(1 for t in live_now if t.restarting)
        if wait and final["running_count"] + mending < desired:
            raise_short(ctx, client, address, attrs, final, live_now, desired)
        # The waits are over: every task that runs gets its restart policy (after the check
        # above, so a task that crashed meanwhile is seen stopped, not restarting).
        arm(client, [t for t in live_now if t.running])
        return final

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
    def delete(self, ctx: FleetContext, addr: Address, prior: dict[str, Any], *,
               replacing: bool) -> None:
        client = self.client
        found = list_live_tasks(ctx, client, address=str(addr))
        if found:
            ctx.log(f"{addr}: stopping {len(found)} task(s)")
        stop_drained(ctx, client, str(addr), prior, found)
