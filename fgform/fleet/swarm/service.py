"""fg_service on a Docker Swarm: one Swarm service, whose scheduler keeps the tasks.

fgform declares the service (`swarm_spec`: replicas, the container, reservations and limits,
the health check, update and rollback configuration, restart policy, endpoint mode `dnsrr`,
the cluster's overlay network) and Swarm does the rest: placing tasks on nodes, restarting
them, rolling updates and rolling back. The driver waits for the outcome
(`wait_for_steady_state`) and reports it with the attributes the local driver returns
(`running_count`, `tasks`, `targets`, `deployments`, `events`), so plans look the same.

Refresh is three list calls whatever the number of services and tasks: services and tasks
by this lineage's labels (the tasks filter matches the service's labels), and the nodes
(a task's instance is its node's hostname).

A Swarm task runs one container: a task definition with several containers is refused
before anything changes (see docs/swarm.md).
"""

from __future__ import annotations

import math
import time
from typing import Any

import docker
from docker.errors import APIError, NotFound
from docker.types import (
    ContainerSpec,
    EndpointSpec,
    Healthcheck,
    Placement,
    Resources,
    RestartPolicy,
    RollbackConfig,
    ServiceMode,
    TaskTemplate,
    UpdateConfig,
)

from fgform import deployment
from fgform.addresses import Address
from fgform.errors import FgformError
from fgform.fleet import events as EV
from fgform.fleet.docker import labels as L
from fgform.fleet.docker import registration as R
from fgform.fleet.docker.client import DockerDriver
from fgform.fleet.docker.cluster import cluster_name
from fgform.fleet.docker.launch import healthcheck
from fgform.fleet.docker.live_tasks import CONTAINER
from fgform.fleet.docker.lookup import find_cluster
from fgform.fleet.docker.service_run import Run, service_name
from fgform.fleet.docker.task_definition import resolve
from fgform.fleet.driver import FleetContext, PartialApplyError
from fgform.fleet.swarm.cluster import node_names, not_a_manager
from fgform.fleet.swarm.load_balancer import service_changed
from fgform.fleet.swarm.naming import swarm_service_name
from fgform.fleet.swarm.placement import SwarmPlacement, service_swarm_placement
from fgform.fleet.swarm.removal import remove_service

KIND_SERVICE = "swarm-service"  # the Swarm service's labels
KIND_TASK = "swarm-task"  # its containers' labels (no fgform.task-id: never a local task)
NS = 1_000_000_000
# Swarm's task states that are over, and those before `running`.
DONE_STATES = ("complete", "shutdown", "failed", "rejected", "orphaned", "remove")
FAILED_STATES = ("failed", "rejected")
# How often the wait looks at the tasks (one inspect and one list call per look).
POLL = 0.5
# A deleted service's tasks are gone from every node within this many seconds (they stop
# within their stop timeout; Swarm then removes them).
DELETE_WAIT = 120.0
# How long a removal waits for the stopped tasks to settle (fgform/fleet/swarm/removal.py).
SETTLE_WAIT = 30.0


# -- the spec -----------------------------------------------------------------------------
def _placement(planned: dict[str, Any], taskdef: dict[str, Any], cluster: dict[str, Any]
               ) -> SwarmPlacement:
    """The Swarm placement of a service: its task definition's and its own
    `placement_constraints` as node constraints, `placement_strategy` (or the cluster's) as
    spread preferences, distinctInstance as at most one task per node. What Swarm cannot
    express is refused (SwarmPlacementError) before anything changes."""
    return service_swarm_placement(planned, taskdef, cluster)


def _container(addr: Address, taskdef: dict[str, Any]) -> dict[str, Any]:
    """The one container of a task on Swarm; several are refused (a Swarm task runs one
    container, and ECS's shared network namespace has no Swarm equivalent)."""
    containers = list(taskdef.get("container") or [])
    if len(containers) != 1:
        names = ", ".join(str(c.get("name")) for c in containers)
        raise FgformError(
            f"{addr}: task definition {taskdef.get('arn')} has {len(containers)} containers "
            f"({names}); a service on a swarm cluster runs tasks of exactly one container",
            hint="Split the containers into task definitions of their own (one service "
                 "each), or run the service on a cluster with engine = \"docker\".")
    return dict(containers[0])


def _percent_count(desired: int, percent: float) -> int:
    return int(math.floor(desired * percent / 100.0))


def update_settings(attrs: dict[str, Any]) -> dict[str, Any]:
    """`deployment` as Swarm's update (and rollback) configuration: `start-first` when
    maximum_percent lets new tasks start beside the old ones, else `stop-first`; as many
    tasks at once as the percentages allow (at least one); `rollback` when the circuit
    breaker rolls back, else `pause` (the deployment stops where it is, as the local
    backend's)."""
    count = attrs.get("desired_count")
    # A DAEMON service's count is unknown until Swarm places it: one task at a time then.
    desired = count if isinstance(count, int) and not isinstance(count, bool) else 0
    lo, hi = deployment.settings(attrs)
    _enable, rollback = deployment.breaker(attrs)
    if hi > 100:
        order, parallelism = "start-first", _percent_count(desired, hi - 100)
    else:
        order, parallelism = "stop-first", _percent_count(desired, 100 - lo)
    grace = float(attrs.get("health_check_grace_period") or 0)
    return {
        "parallelism": max(1, parallelism),
        "order": order,
        # A new task that fails within this window counts as a failed update.
        "monitor": int(max(5.0, grace) * NS),
        "failure_action": "rollback" if rollback else "pause",
        "max_failure_ratio": 0.0,
    }


def spec_config(addr: Address, planned: dict[str, Any], cluster: dict[str, Any],
                taskdef: dict[str, Any]) -> dict[str, Any]:
    """Everything the Swarm service is made of, as plain data: its `fgform.config-hash`
    label is this hashed, so a service changed by hand (or rolled back) is seen."""
    spec = _container(addr, taskdef)
    cpu = int(taskdef.get("cpu") or spec.get("cpu") or 0)
    mem = int(taskdef.get("memory") or spec.get("memory") or 0)
    placement = _placement(planned, taskdef, cluster)
    daemon = planned.get("scheduling_strategy") == "DAEMON"
    return {
        "task_definition": str(taskdef.get("arn") or ""),
        "network": str(cluster.get("network_name") or ""),
        "mode": "global" if daemon else "replicated",
        "replicas": None if daemon else int(planned.get("desired_count") or 0),
        "container": str(spec["name"]),
        "image": spec["image"],
        "command": list(spec["command"]) if spec.get("command") is not None else None,
        "entry_point": (list(spec["entry_point"]) if spec.get("entry_point") is not None
                        else None),
        "environment": {str(k): str(v) for k, v in (spec.get("environment") or {}).items()},
        "working_directory": spec.get("working_directory"),
        "user": spec.get("user"),
        "stop_timeout": int(spec.get("stop_timeout") or 10),
        "health_check": healthcheck(spec.get("health_check")),
        "nano_cpus": int(cpu * NS / 1024) if cpu else None,
        "memory_bytes": mem * 1024 * 1024 if mem else None,
        "update": update_settings(planned),
        "constraints": list(placement.constraints),
        # The SDK's (strategy, descriptor) pairs, as lists so the config hashes as JSON.
        "preferences": [["spread", p["Spread"]["SpreadDescriptor"]]
                        for p in placement.preferences if "Spread" in p],
        "max_replicas": placement.max_replicas,
        "placement_warnings": list(placement.warnings),
    }


def task_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """What one task is made of (`spec_config` without the count and the update settings):
    its containers' `fgform.config-hash`, so a scale is not a rolling update."""
    return {k: v for k, v in cfg.items() if k not in ("mode", "replicas", "update")}


def _service_kwargs(ctx: FleetContext, addr: Address, name: str, cluster_id: str,
                    svc_name: str, cfg: dict[str, Any]) -> dict[str, Any]:
    """create_service / update_service arguments for `cfg` (`spec_config`)."""
    extra = {L.CLUSTER: cluster_id, L.SERVICE: name, L.TASK_DEFINITION: cfg["task_definition"]}
    hc = cfg["health_check"]
    container = ContainerSpec(
        image=cfg["image"],
        # Swarm's Command replaces the image's ENTRYPOINT, Args its CMD.
        command=cfg["entry_point"],
        args=cfg["command"],
        env=[f"{k}={v}" for k, v in sorted(cfg["environment"].items())],
        workdir=cfg["working_directory"],
        user=cfg["user"],
        # The tasks' own hash: a scale or new update settings leave running tasks alone.
        labels=L.base_labels(ctx, addr, attrs=task_config(cfg), kind=KIND_TASK,
                             **{**extra, CONTAINER: cfg["container"]}),
        stop_grace_period=cfg["stop_timeout"] * NS,
        healthcheck=Healthcheck(**hc) if hc else None,
    )
    nano, mem = cfg["nano_cpus"], cfg["memory_bytes"]
    resources = Resources(cpu_limit=nano, mem_limit=mem, cpu_reservation=nano,
                          mem_reservation=mem)
    template = TaskTemplate(
        container_spec=container,
        resources=resources,
        # ECS replaces a service's task whatever made it stop.
        restart_policy=RestartPolicy(condition="any", delay=NS, max_attempts=0),
        placement=Placement(constraints=cfg["constraints"] or None,
                            preferences=[tuple(p) for p in cfg["preferences"]] or None,
                            maxreplicas=cfg.get("max_replicas") or None),
        networks=[cfg["network"]],
    )
    up = cfg["update"]
    mode = ServiceMode("global") if cfg["mode"] == "global" else \
        ServiceMode("replicated", replicas=cfg["replicas"])
    return {
        "task_template": template,
        "name": svc_name,
        "labels": L.base_labels(ctx, addr, attrs=cfg, kind=KIND_SERVICE, **extra),
        "mode": mode,
        "update_config": UpdateConfig(**up),
        "rollback_config": RollbackConfig(**up),
        # No routing mesh (it needs IPVS): each task is its own DNS record.
        "endpoint_spec": EndpointSpec(mode="dnsrr"),
    }


# -- the live view -------------------------------------------------------------------------
def _ip(task: dict[str, Any], network: str | None) -> str | None:
    """The task's address on the cluster's overlay network (else its first one)."""
    found = None
    for att in task.get("NetworksAttachments") or []:
        addrs = att.get("Addresses") or []
        if not addrs:
            continue
        ip = str(addrs[0]).split("/")[0]
        net = ((att.get("Network") or {}).get("Spec") or {}).get("Name")
        if network is None or net == network:
            return ip
        found = found or ip
    return found


def task_attr(task: dict[str, Any], nodes: dict[str, str], network: str | None
              ) -> dict[str, Any]:
    """A Swarm task as the service's `tasks` attribute lists it (the local driver's keys)."""
    labels = ((task.get("Spec") or {}).get("ContainerSpec") or {}).get("Labels") or {}
    arn = labels.get(L.TASK_DEFINITION, "")
    tail = arn.rpartition(":")[2]
    return {
        "id": str(task["ID"])[:12],
        "instance": nodes.get(task.get("NodeID") or "", str(task.get("NodeID") or "")),
        "address": _ip(task, network),
        "revision": int(tail) if tail.isdigit() else None,
        "task_definition": arn,
        "containers": [labels.get(CONTAINER, "")],
        "started_at": str(task.get("CreatedAt") or ""),
    }


def _running(task: dict[str, Any]) -> bool:
    """Running and meant to run. Swarm holds a task with a health check in `starting` until
    it is healthy, so a running task is a healthy one."""
    return (task.get("Status") or {}).get("State") == "running" \
        and task.get("DesiredState") == "running"


def live_attrs(attrs: dict[str, Any], svc: dict[str, Any], tasks: list[dict[str, Any]],
               nodes: dict[str, str]) -> dict[str, Any]:
    """`attrs` with what the Swarm service and its tasks say."""
    out = dict(attrs)
    spec = svc.get("Spec") or {}
    labels = spec.get("Labels") or {}
    replicated = (spec.get("Mode") or {}).get("Replicated")
    if replicated is not None and "Replicas" in replicated:
        out["desired_count"] = int(replicated["Replicas"])
    elif "Global" in (spec.get("Mode") or {}):
        # A DAEMON service's count is what Swarm decided: one task per eligible node.
        out["desired_count"] = sum(1 for t in tasks if t.get("ServiceID") == svc.get("ID")
                                   and t.get("DesiredState") == "running")
    if labels.get(L.TASK_DEFINITION):
        out["task_definition"] = labels[L.TASK_DEFINITION]
    network = attrs.get("_network")
    mine = [t for t in tasks if t.get("ServiceID") == svc.get("ID") and _running(t)]
    out["running_count"] = len(mine)
    out["tasks"] = sorted((task_attr(t, nodes, network) for t in mine),
                          key=lambda t: t["id"])
    out["targets"] = R.service_targets(out)
    out.pop("_network", None)
    return out


def lineage_services(client: docker.DockerClient, ctx: FleetContext, **extra: str
                     ) -> list[dict[str, Any]]:
    """This lineage's Swarm services (narrowed by `extra` labels): one list call."""
    try:
        return client.api.services(filters=L.label_filter(ctx, kind=KIND_SERVICE, **extra))
    except APIError as exc:
        raise not_a_manager(exc) from exc


def _tasks(client: docker.DockerClient, **filters: Any) -> list[dict[str, Any]]:
    try:
        return client.api.tasks(filters=filters)
    except NotFound:
        return []


def _last_error(tasks: list[dict[str, Any]], nodes: dict[str, str]) -> str:
    """The newest failed task's reason, with its node: "task x on node-2: exit 1"."""
    failed = [t for t in tasks if (t.get("Status") or {}).get("State") in FAILED_STATES]
    if not failed:
        return ""
    t = max(failed, key=lambda t: str((t.get("Status") or {}).get("Timestamp") or ""))
    status = t.get("Status") or {}
    code = (status.get("ContainerStatus") or {}).get("ExitCode")
    why = status.get("Err") or status.get("Message") or status.get("State")
    node = nodes.get(t.get("NodeID") or "", "")
    return (f"task {str(t['ID'])[:12]}" + (f" on {node}" if node else "") + f": {why}"
            + (f" (exit code {code})" if code else ""))


class SwarmServiceDriver(DockerDriver):
    """Declares the Swarm service and waits for Swarm's outcome."""

    type_name = "fg_service"

    # -- read ----------------------------------------------------------------------------
    def read(self, ctx: FleetContext, items: dict[Address, dict[str, Any]]
             ) -> dict[Address, dict[str, Any] | None]:
        if not items:
            return {}
        client = self.client
        services = {s["Spec"]["Labels"].get(L.ADDRESS): s
                    for s in lineage_services(client, ctx)}
        tasks = _tasks(client, label=L.label_filter(ctx, kind=KIND_SERVICE)["label"],
                       **{"desired-state": "running"})
        nodes = node_names(client)
        out: dict[Address, dict[str, Any] | None] = {}
        for addr, attrs in items.items():
            svc = services.get(str(addr))
            if svc is None:
                out[addr] = None
                continue
            network = _network_of(ctx, attrs)
            out[addr] = live_attrs(dict(attrs, _network=network), svc, tasks, nodes)
        return out

    # -- create / update -----------------------------------------------------------------
    def create(self, ctx: FleetContext, addr: Address, planned: dict[str, Any]
               ) -> dict[str, Any]:
        attrs = self._deploy(ctx, addr, planned, None)
        service_changed(self.client, ctx, str(addr), attrs)
        return attrs

    def update(self, ctx: FleetContext, addr: Address, prior: dict[str, Any],
               planned: dict[str, Any]) -> dict[str, Any]:
        attrs = self._deploy(ctx, addr, planned, prior)
        # Targets are Docker's DNS: only the proxies' slots and target groups may change.
        service_changed(self.client, ctx, str(addr), attrs, prior)
        return attrs

    def reconcile(self, ctx: FleetContext, addr: Address, attrs: dict[str, Any]
                  ) -> dict[str, Any]:
        """Swarm's own scheduler keeps the desired count: reconcile only reads."""
        live = self.read(ctx, {addr: attrs}).get(addr)
        return live if live is not None else dict(attrs)

    def remove_orphans(self, ctx: FleetContext, services: set[str]) -> list[Any]:
        return []

    def _deploy(self, ctx: FleetContext, addr: Address, planned: dict[str, Any],
                prior: dict[str, Any] | None) -> dict[str, Any]:
        client = self.client
        cluster = find_cluster(ctx, planned["cluster"])
        cluster_id = str(cluster.get("id") or cluster_name(None, cluster))
        taskdef = resolve(ctx, planned["task_definition"])
        name = service_name(addr, planned)
        svc_id = f"{cluster_id}/{name}"
        svc_name = swarm_service_name(ctx.lineage, svc_id)
        cfg = spec_config(addr, planned, cluster, taskdef)
        for warning in cfg["placement_warnings"]:
            ctx.log(f"{addr}: {warning}")
        kwargs = _service_kwargs(ctx, addr, name, cluster_id, svc_name, cfg)
        address = str(addr)
        run = Run(EV.EventLog(name, (prior or planned).get("events")), cfg["task_definition"])
        attrs = dict(planned, id=svc_id)
        existing = [s for s in lineage_services(client, ctx, address=address)]
        by_name = [s for s in client.api.services(filters={"name": svc_name})
                   if s["Spec"]["Name"] == svc_name]
        for s in by_name:
            if s not in existing and (s["Spec"].get("Labels") or {}).get(L.LINEAGE) \
                    != ctx.lineage:
                raise FgformError(f"a Swarm service named {svc_name} already exists and "
                                  "fgform does not manage it in this state")
        before_status: Any = None
        try:
            if existing:
                svc = client.api.inspect_service(existing[0]["ID"])
                before_status = svc.get("UpdateStatus")
                if (svc["Spec"].get("Labels") or {}).get(L.CONFIG_HASH) == \
                        L.config_hash(cfg):
                    ctx.log(f"{address}: Swarm service {svc_name} is up to date")
                else:
                    client.api.update_service(svc["ID"], svc["Version"]["Index"],
                                              fetch_current_spec=False, **kwargs)
                    ctx.log(f"{address}: Swarm service {svc_name} updated "
                            f"({cfg['task_definition']})")
                    run.log.add(f"has started a deployment of {cfg['task_definition']}.")
                svc_ref = svc["ID"]
            else:
                made = client.api.create_service(**kwargs)
                svc_ref = made["ID"]
                ctx.log(f"{address}: Swarm service {svc_name} created")
                run.log.add(f"has started a deployment of {cfg['task_definition']}.")
        except APIError as exc:
            raise FgformError(f"{address}: cannot declare Swarm service {svc_name}: "
                              f"{exc.explanation or exc}") from exc
        if not planned.get("wait_for_steady_state", True):
            return run.finish(self._now(ctx, addr, attrs, svc_ref, cluster))
        back = str((prior or {}).get("task_definition") or "")
        return self._wait(ctx, addr, attrs, svc_ref, cluster, cfg, run, before_status, back)

    def _now(self, ctx: FleetContext, addr: Address, attrs: dict[str, Any], svc_ref: str,
             cluster: dict[str, Any]) -> dict[str, Any]:
        """attrs with the live view of the service `svc_ref`: one inspect, one list."""
        client = self.client
        svc = client.api.inspect_service(svc_ref)
        tasks = _tasks(client, service=svc["ID"], **{"desired-state": "running"})
        live = live_attrs(dict(attrs, _network=cluster.get("network_name")), svc, tasks,
                          node_names(client))
        # The configuration's wish stands in state (a scale by hand is drift the plan shows);
        # a DAEMON (global) service's count is the nodes' (live_attrs).
        if "Global" not in (svc["Spec"].get("Mode") or {}):
            live["desired_count"] = attrs.get("desired_count")
        live["task_definition"] = (svc["Spec"].get("Labels") or {}).get(
            L.TASK_DEFINITION, attrs.get("task_definition"))
        return live

    def _wait(self, ctx: FleetContext, addr: Address, attrs: dict[str, Any], svc_ref: str,
              cluster: dict[str, Any], cfg: dict[str, Any], run: Run, before_status: Any,
              back: str) -> dict[str, Any]:
        """Until every task of the new spec runs (healthy), Swarm rolled the update back or
        paused it, or steady_state_timeout passes."""
        client = self.client
        address = str(addr)
        arn = cfg["task_definition"]
        want_hash = L.config_hash(cfg)
        task_hash = L.config_hash(task_config(cfg))
        deadline = time.monotonic() + float(attrs.get("steady_state_timeout") or 300)
        enable, _rollback = deployment.breaker(attrs)
        # A DAEMON (global) service's count is not known before Swarm places it: a node each.
        desired = cfg["replicas"] if cfg["replicas"] is not None else len(node_names(client))
        threshold = deployment.failure_threshold(desired)
        started = time.time()
        count = "one task per node" if cfg["replicas"] is None else f"{desired} task(s)"
        ctx.log(f"{address}: waiting for Swarm to run {count} of {arn}")
        while True:
            svc = client.api.inspect_service(svc_ref)
            status = svc.get("UpdateStatus")
            ours = status if status != before_status else None
            state = (ours or {}).get("State") or ""
            every = _tasks(client, service=svc["ID"])
            spec_hash = (svc["Spec"].get("Labels") or {}).get(L.CONFIG_HASH)
            if state in ("rollback_started", "rollback_completed", "rollback_paused") \
                    or (spec_hash != want_hash and state.startswith("rollback")):
                if state == "rollback_started":
                    time.sleep(POLL)
                    if time.monotonic() < deadline:
                        continue
                return self._rolled_back(ctx, addr, attrs, svc_ref, cluster, run, arn, back,
                                         ours or {}, _last_error(every, node_names(client)), every)
            if state == "paused":
                return self._failed(ctx, addr, attrs, svc_ref, cluster, run, arn, back,
                                    f"Swarm paused the update: {ours.get('Message')}"
                                    if ours else "Swarm paused the update",
                                    _last_error(every, node_names(client)), every)
            current = [t for t in every if t.get("DesiredState") == "running" and
                       ((t.get("Spec") or {}).get("ContainerSpec") or {}).get(
                           "Labels", {}).get(L.CONFIG_HASH) == task_hash]
            stale = [t for t in every if t.get("DesiredState") == "running"
                     and t not in current]
            running = [t for t in current if _running(t)]
            settled = state not in ("updating",) and not stale
            if cfg["replicas"] is not None:
                whole = len(running) == cfg["replicas"] == len(current)
            else:
                whole = bool(current) and len(running) == len(current)
            if whole and settled:
                run.log.add(f"(deployment {arn}) deployment completed.")
                return run.finish(self._now(ctx, addr, attrs, svc_ref, cluster))
            fails = [t for t in every if (t.get("Status") or {}).get("State") in FAILED_STATES
                     and ((t.get("Spec") or {}).get("ContainerSpec") or {}).get(
                         "Labels", {}).get(L.CONFIG_HASH) == task_hash
                     and _after(t, started)]
            if enable and len(fails) >= threshold and ours is None:
                # A new service (or a scale) has no Swarm update to roll back: the breaker
                # stops it as ECS's does, and the tasks Swarm keeps retrying stay declared.
                return self._failed(ctx, addr, attrs, svc_ref, cluster, run, arn, back,
                                    f"{len(fails)} task(s) failed to start or become "
                                    f"healthy (circuit breaker threshold {threshold})",
                                    _last_error(every, node_names(client)), every)
            if time.monotonic() >= deadline:
                return self._failed(ctx, addr, attrs, svc_ref, cluster, run, arn, back,
                                    f"{len(running)} of {len(current) or desired} task(s) "
                                    f"running after {attrs.get('steady_state_timeout') or 300}"
                                    " s (steady_state_timeout)",
                                    _last_error(every, node_names(client)), every)
            time.sleep(POLL)

    def _rolled_back(self, ctx: FleetContext, addr: Address, attrs: dict[str, Any],
                     svc_ref: str, cluster: dict[str, Any], run: Run, arn: str, back: str,
                     status: dict[str, Any], last: str, every: list[dict[str, Any]]
                     ) -> dict[str, Any]:
        """Swarm rolled the update back: fail the apply as the local backend's circuit
        breaker does, state naming the revision that runs again."""
        address = str(addr)
        failed = sum(1 for t in every if (t.get("Status") or {}).get("State") in FAILED_STATES)
        run.failed, run.failed_revision = max(1, failed), arn
        run.reason = f"tasks failed to start or become healthy ({max(1, failed)})"
        back = back or arn
        run.log.add(f"deployment failed: tasks failed to become healthy; rolling back to "
                    f"{back}")
        # Swarm reports the rollback done when it has declared it: wait for the old tasks.
        self._settle(svc_ref, time.monotonic() + 60)
        now = self._now(ctx, addr, dict(attrs, task_definition=back), svc_ref, cluster)
        raise PartialApplyError(
            f"{address}: deployment of {arn} failed: Swarm rolled the update back "
            f"({status.get('Message') or status.get('State')}); rolled back to {back}. "
            f"The last failure:\n{last or 'a task failed'}",
            attrs=run.finish(now, error=True),
            hint=f"Fix {arn} (image, command, health check) and apply again.")

    def _failed(self, ctx: FleetContext, addr: Address, attrs: dict[str, Any], svc_ref: str,
                cluster: dict[str, Any], run: Run, arn: str, back: str, why: str, last: str,
                every: list[dict[str, Any]]) -> dict[str, Any]:
        address = str(addr)
        failed = sum(1 for t in every if (t.get("Status") or {}).get("State") in FAILED_STATES)
        run.failed, run.failed_revision = failed, arn
        run.reason = why
        now = self._now(ctx, addr, dict(attrs, task_definition=back or arn), svc_ref, cluster)
        raise PartialApplyError(
            f"{address} did not reach a steady state: deployment of {arn}: {why}"
            + (f". The last failure:\n{last}" if last else ""),
            attrs=run.finish(now, error=True),
            hint="Fix the task definition (image, command, health check) and apply again.")

    def _settle(self, svc_ref: str, deadline: float) -> None:
        """Until every task Swarm means to run is running (or the deadline)."""
        while time.monotonic() < deadline:
            tasks = _tasks(self.client, service=svc_ref, **{"desired-state": "running"})
            if tasks and all(_running(t) for t in tasks):
                return
            time.sleep(POLL)

    def _scale_to_zero(self, svc: dict[str, Any], deadline: float) -> None:
        """Stop a replicated service's tasks (each within its stop timeout) and wait until
        every node reports them stopped: removing the service then only removes stopped
        containers. A global service has no count: removing it stops its tasks."""
        client = self.client
        spec = svc["Spec"]
        replicated = (spec.get("Mode") or {}).get("Replicated")
        if replicated is None:
            return
        if replicated.get("Replicas"):
            spec = dict(spec, Mode={"Replicated": {"Replicas": 0}})
            try:
                client.api.update_service(svc["ID"], svc["Version"]["Index"],
                                          task_template=spec.get("TaskTemplate"),
                                          name=spec.get("Name"), labels=spec.get("Labels"),
                                          mode=ServiceMode("replicated", replicas=0),
                                          update_config=spec.get("UpdateConfig"),
                                          rollback_config=spec.get("RollbackConfig"),
                                          endpoint_spec=spec.get("EndpointSpec"),
                                          fetch_current_spec=False)
            except (NotFound, APIError):
                return  # changed meanwhile, or gone: removing it stops what is left
        while time.monotonic() < deadline:
            if _stopped(_tasks(client, service=svc["ID"])):
                return
            time.sleep(POLL)

    # -- delete ----------------------------------------------------------------------------
    def delete(self, ctx: FleetContext, addr: Address, prior: dict[str, Any], *,
               replacing: bool) -> None:
        """Remove the Swarm service and its task slots from the proxies forwarding to it."""
        self._delete(ctx, addr, prior)
        service_changed(self.client, ctx, str(addr), None, prior)

    def _delete(self, ctx: FleetContext, addr: Address, prior: dict[str, Any]) -> None:
        """Remove the Swarm service, then wait until its tasks are gone from every node (so
        the cluster's network can go next)."""
        client = self.client
        address = str(addr)
        deadline = time.monotonic() + DELETE_WAIT
        for svc in lineage_services(client, ctx, address=address):
            ctx.log(f"{address}: removing Swarm service {svc['Spec']['Name']}")
            self._scale_to_zero(svc, deadline)
            remove_service(client, svc["ID"], min(deadline, time.monotonic() + SETTLE_WAIT))
        lbl = L.label_filter(ctx, kind=KIND_SERVICE, address=address)["label"]
        # Swarm forgets the tasks before each node has removed their containers: on the
        # manager (this engine) the containers themselves are awaited too.
        here = L.label_filter(ctx, kind=KIND_TASK, address=address)
        while time.monotonic() < deadline:
            if not _tasks(client, label=lbl) and not client.api.containers(
                    all=True, filters=here):
                return
            time.sleep(POLL)
        raise FgformError(f"{address}: the Swarm service's tasks did not go within "
                          f"{DELETE_WAIT:.0f} s", hint="`docker service ps` shows them; "
                          "destroy again when they are gone.")


def _stopped(tasks: list[dict[str, Any]]) -> bool:
    """Whether every task has stopped (its container too, on whichever node)."""
    return all((t.get("Status") or {}).get("State") in DONE_STATES for t in tasks)


def _after(task: dict[str, Any], since: float) -> bool:
    """Whether the task was created after `since` (epoch seconds)."""
    from datetime import datetime

    raw = str(task.get("CreatedAt") or "")
    try:
        # "2026-12-03T03:46:45.855136426Z": nanoseconds beyond what fromisoformat reads.
        head, _, frac = raw.rstrip("Z").partition(".")
        when = datetime.fromisoformat(head + "+00:00").timestamp() + float("0." + (frac or "0"))
    except ValueError:
        return True
    return when >= since - 1.0


def _network_of(ctx: FleetContext, attrs: dict[str, Any]) -> str | None:
    try:
        return find_cluster(ctx, attrs["cluster"]).get("network_name")
    except (FgformError, KeyError):
        return None
