"""A service's rolling deployment onto a new task definition: the steps
`fgform.deployment` allows under minimum_healthy_percent and maximum_percent, the
circuit breaker, and the rollback it may trigger.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import docker

from fgform import deployment
from fgform.addresses import Address
from fgform.errors import FgformError
from fgform.fleet import capacity
from fgform.fleet import events as EV
from fgform.fleet.docker.health import WaitResult, wait_healthy
from fgform.fleet.docker.launch import Launch, launch_tasks, stop_tasks
from fgform.fleet.docker.live_tasks import KIND_SERVICE, LiveTask, list_live_tasks
from fgform.fleet.docker.placement import (
    ClusterInfo,
    host_ports,
    place_tasks,
    placement_lock,
    placement_usage,
    task_size,
)
from fgform.fleet.docker.restarts import (
    arm,
)
from fgform.fleet.docker.service_run import (
    RUNS,
    add_event,
    final_attrs,
    raise_failed,
    register_targets,
    revision_check,
    stop_drained,
    summarize,
)
from fgform.fleet.docker.task_definition import resolve
from fgform.fleet.driver import FleetContext, PartialApplyError
from fgform.placement_rules import Placement, placement_of


def roll(ctx: FleetContext, client: docker.DockerClient, addr: Address,
          cluster: ClusterInfo, taskdef: dict[str, Any], name: str,
          attrs: dict[str, Any], prior: dict[str, Any] | None, old: list[LiveTask],
          current: list[LiveTask], deadline: float, grace: float, since: float, *,
          placement: Placement | None = None) -> None:
    """A rolling deployment from `old` tasks to `desired_count` tasks of `taskdef`, in
    the steps `deployment.next_step` allows under the service's minimum_healthy_percent
    and maximum_percent: stop what may stop (drained from the target groups first),
    start what may start, wait until the new tasks are healthy and registered, repeat.

    `current` are tasks of the new revision already running (a deployment resumed after
    an interrupted apply): they count as new ones once healthy. `placement` is the
    service's; with distinctInstance a new task goes where no task of the new revision is
    (an old one there is what it replaces).
    """
    if placement is None:
        placement = placement_of(attrs, taskdef)
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
        await_new(ctx, client, addr, attrs, prior, pending, deadline, grace, since)
    new_healthy = len(current)
    while True:
        with placement_lock(cluster, taskdef):
            usage = placement_usage(ctx, client, cluster, taskdef)
            group = _revision_group(ctx, client, address, arn,
                                    str(attrs.get("force_new_deployment") or "")) \
                if placement.distinct else {}
            room = capacity.fits_count(size, cluster.instances, usage, max(desired, 1),
                                       ports=ports, placement=placement, group=group)
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
                                          usage, placement=placement, group=group)
                launches = [Launch(address, KIND_SERVICE, cluster, name, taskdef, inst)
                            for inst in instances]
                ctx.log(f"{address}: deployment of {arn}: starting {len(launches)} "
                        f"task(s) ({counts.healthy} healthy, {counts.running} running)")
                ok, errors = launch_tasks(client, ctx, launches)
                add_event(address, "has started "
                       f"{EV.tasks_phrase([ln.task_id for ln in ok])}.", bool(ok))
        if step.done:
            add_event(address, f"(deployment {arn}) deployment completed.")
            return
        if step.stuck:
            reason = step.reason
            if clash:
                reason = (f"a new task cannot be placed (RESOURCE:PORTS): it publishes "
                          f"host port(s) {', '.join(ports)}, in use: {'; '.join(clash)}; "
                          f"and {reason.split(', and ', 1)[-1]}")
            raise PartialApplyError(
                f"{address}: the deployment of {arn} cannot proceed: {reason}",
                attrs=final_attrs(ctx, client, address, dict(
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
            stop_drained(ctx, client, address, attrs, retire)
            continue
        ids = [ln.task_id for ln in ok]
        res = await_new(ctx, client, addr, attrs, prior, ids, deadline, grace,
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
            trip(ctx, client, addr, cluster, name, attrs, prior, arn, failures,
                       threshold, last, rollback, grace, since)


def _revision_group(ctx: FleetContext, client: docker.DockerClient, address: str,
                    arn: str, forced: str = "") -> dict[str, int]:
    """The service's live tasks of revision `arn` per instance (distinctInstance); tasks
    started before `forced` (force_new_deployment) are old ones, not counted."""
    group: dict[str, int] = {}
    for t in list_live_tasks(ctx, client, address=address):
        if forced and t.created and t.created < forced:
            continue
        if t.task_definition == arn and (t.running or any(c.state == "created"
                                                          for c in t.containers)):
            group[t.instance] = group.get(t.instance, 0) + 1
    return group


def trip(ctx: FleetContext, client: docker.DockerClient, addr: Address,
          cluster: ClusterInfo, name: str, attrs: dict[str, Any],
          prior: dict[str, Any] | None, arn: str, failures: int, threshold: int,
          last: str, rollback: bool, grace: float, since: float) -> None:
    """The circuit breaker tripped: with rollback, deploy the revision state names again
    (a rolling deployment of its own, with a fresh steady-state timeout); then fail the
    apply naming the failed revision, why, and the last failed task's diagnostics."""
    address = str(addr)
    back = str((prior or attrs)["task_definition"])
    run = RUNS.get(address)
    if run is not None:
        run.failed, run.failed_revision = failures, arn
        run.reason = f"tasks failed to start or become healthy ({failures})"
    why = (f"{address}: deployment of {arn} failed: {failures} task(s) failed to start "
           f"or become healthy (circuit breaker threshold {threshold})")
    if rollback and back != arn:
        ctx.log(f"{address}: deployment of {arn} failed; rolling back to {back}")
        add_event(address, "deployment failed: tasks failed to become healthy; rolling "
               f"back to {back}")
        fits = revision_check(ctx)
        alive = [t for t in list_live_tasks(ctx, client, address=address) if t.running]
        good = [t for t in alive if t.task_definition == back and fits(t)]
        keep = {t.task_id for t in good}
        # The rollback is itself a deployment, but not one the breaker may stop again.
        dep = dict(attrs.get("deployment") or {}, circuit_breaker=None)
        back_attrs = dict(attrs, task_definition=back, deployment=dep)
        timeout = float(attrs.get("steady_state_timeout") or 300)
        back_td = resolve(ctx, back)
        back_placement = placement_of(back_attrs, back_td)
        if back_placement.daemon:
            back_placement = dataclasses.replace(back_placement, distinct=True)
        roll(ctx, client, addr, cluster, back_td, name, back_attrs,
                   prior, [t for t in alive if t.task_id not in keep], good,
                   time.monotonic() + timeout, grace, since, placement=back_placement)
        why += f"; rolled back to {back}"
    else:
        why += "; the deployment stopped where it is"
    raise PartialApplyError(
        f"{why}. The last failure:\n{last}",
        attrs=final_attrs(ctx, client, address, dict(attrs, task_definition=back)),
        hint=f"Fix {arn} (image, command, health check) and apply again.")


def await_new(ctx: FleetContext, client: docker.DockerClient, addr: Address,
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
        raise_failed(ctx, client, addr, attrs, res, ids,
                   extra=[summarize(errors)] if errors else None)
    if failed:
        # Every failed one goes, a task still starting at the timeout too: the breaker
        # counts it, and the planner must not see it as neither old nor new.
        stop_tasks(client, [t for t in res.live if t.task_id in res.failed
                              and t.task_id in ids])
    register_targets(ctx, client, address, attrs)
    return res if failed else None
