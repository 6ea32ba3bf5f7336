"""Starting and stopping tasks.

The first container of a task is attached to the cluster network (its own IP in the cluster
subnet); the others join its namespace with `network_mode="container:<first>"`, so the
containers of one task reach each other on localhost. Services (service.py) and one-off
tasks (runtask.py) both launch through `launch_tasks`.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import docker
from docker.errors import APIError, ImageNotFound, NotFound

from fgform.errors import FgformError
from fgform.fleet.docker import labels as L
from fgform.fleet.docker.cluster import instance_address
from fgform.fleet.docker.live_tasks import (
    CONTAINER,
    CONTAINER_INDEX,
    CPU,
    CREATED,
    ESSENTIAL,
    KIND_SERVICE,
    MEMORY,
    RESTART_NEVER,
    RESTART_POLICY,
    STOP_TIMEOUT,
    LiveTask,
)
from fgform.fleet.docker.placement import ClusterInfo, host_bindings
from fgform.fleet.docker.restarts import restart_policy
from fgform.fleet.driver import FleetContext

# Start and stop are I/O bound (the engine does the work): 16 threads cut a 40-task scale-out
# from 22 s (4 threads) to 16 s here; the engine serialises much of the network set-up.
WORKERS = 16


@dataclass(slots=True)
class Launch:
    """Everything needed to start one task."""

    address: str
    kind: str
    cluster: ClusterInfo
    service: str  # service name ("" for a one-off task)
    taskdef: dict[str, Any]
    instance: str
    task_id: str = field(default_factory=lambda: secrets.token_hex(4))
    command: list[str] | None = None  # override of the first essential container's command
    environment: dict[str, str] | None = None  # added to every container's environment
    container_ids: list[str] = field(default_factory=list)  # filled in by launch_task
    labels: dict[str, str] = field(default_factory=dict)  # more labels (RunTask's started-by)


_NAME_BAD = re.compile(r"[^a-zA-Z0-9_.-]+")


def container_name(cluster: str, service: str, task_id: str, container: str) -> str:
    """`<cluster>-<service>-<task-id>-<container>`, with characters Docker refuses replaced."""
    raw = "-".join(p for p in (cluster, service, task_id, container) if p)
    return _NAME_BAD.sub("_", raw).lstrip("_.-") or task_id


def healthcheck(hc: dict[str, Any] | None) -> dict[str, Any] | None:
    """The task definition's health check (seconds) as Docker's (nanoseconds)."""
    if not hc or not hc.get("command"):
        return None
    test = list(hc["command"])
    if test[0] not in ("CMD", "CMD-SHELL", "NONE"):
        # A bare command line is what users mean when they leave the prefix out.
        test = ["CMD-SHELL", " ".join(test)] if len(test) == 1 else ["CMD", *test]
    ns = 1_000_000_000
    return {
        "test": test,
        "interval": int((hc.get("interval") or 30) * ns),
        "timeout": int((hc.get("timeout") or 5) * ns),
        "retries": int(hc.get("retries") or 3),
        "start_period": int((hc.get("start_period") or 0) * ns),
    }


_pull_lock = threading.Lock()


def ensure_images(client: docker.DockerClient, images: Iterable[str],
                  log: Callable[[str], None] = lambda _m: None) -> None:
    """Pull each image by its reference when it is not present locally (once each)."""
    with _pull_lock:  # two services sharing an image must not pull it twice at once
        for image in sorted(set(images)):
            try:
                client.api.inspect_image(image)
                continue
            except ImageNotFound:
                pass
            log(f"pulling {image}")
            try:
                repo, sep, digest = image.partition("@")
                if sep:
                    client.api.pull(repo, tag=digest)
                else:
                    client.images.pull(image)
                client.api.inspect_image(image)
            except (APIError, ImageNotFound) as exc:
                raise FgformError(f"cannot pull image {image!r}: {_explain(exc)}",
                                  hint="Check the image name, and that its registry "
                                  "(fg_registry) is running.") from exc


def _explain(exc: Exception) -> str:
    return getattr(exc, "explanation", None) or str(exc)


def container_config(td: dict[str, Any], index: int, spec: dict[str, Any],
                     command: list[str] | None = None,
                     environment: dict[str, str] | None = None,
                     kind: str = KIND_SERVICE) -> dict[str, Any]:
    """The effective definition of container `index` (`spec`) of a task of `td`: what
    `_create_container` hands Docker, after the launch's overrides (`command` for the first
    essential container, `environment` added to every container's), the task's cpu/memory
    and the restart policy of a task launched as `kind`.

    Its `config_hash` is the container's `fgform.config-hash` label. Only what reaches Docker
    is in it, normalised (256 and 256.0 alike, seconds as Docker's nanoseconds), so the hash of
    a revision does not change when the revision is only re-recorded (an INACTIVE revision's
    `status`, another key order, a schema default added to state later).
    """
    cpu = spec.get("cpu") or td.get("cpu") or 0
    mem = spec.get("memory") or td.get("memory") or 0
    env = dict(spec.get("environment") or {})
    env.update(environment or {})
    cmd = spec.get("command")
    if command is not None and index == _first_essential(td):
        cmd = command
    return {
        "name": spec["name"],
        "image": spec["image"],
        "command": list(cmd) if cmd is not None else None,
        "entry_point": (list(spec["entry_point"]) if spec.get("entry_point") is not None
                        else None),
        "environment": env,
        "working_directory": spec.get("working_directory"),
        "user": spec.get("user"),
        "health_check": healthcheck(spec.get("health_check")),
        "stop_timeout": int(spec.get("stop_timeout") or 10),
        "essential": bool(spec.get("essential", True)),
        "nano_cpus": int(cpu * 1_000_000_000 / 1024) if cpu else None,
        "memory_bytes": int(mem) * 1024 * 1024 if mem else None,
        # The task-level reservation (cpu/memory labels) and, on the namespace owner, the
        # host ports of the whole task.
        "task_cpu": int(td.get("cpu") or 0),
        "task_memory": int(td.get("memory") or 0),
        "publish": host_bindings(td) if index == 0 else {},
        "restart_policy": restart_policy(td, index, kind),
    }


def definition_hashes(td: dict[str, Any], command: list[str] | None = None,
                      environment: dict[str, str] | None = None) -> dict[str, str]:
    """Container name -> the `fgform.config-hash` its container in a task of `td` carries."""
    return {spec["name"]: L.config_hash(container_config(td, i, spec, command, environment))
            for i, spec in enumerate(td.get("container") or [])}


def _create_container(client: docker.DockerClient, ctx: FleetContext, launch: Launch,
                      index: int, spec: dict[str, Any], first_name: str | None) -> str:
    """Create one container of the task; returns its id."""
    td = launch.taskdef
    cfg = container_config(td, index, spec, launch.command, launch.environment, launch.kind)
    name = container_name(launch.cluster.name, launch.service, launch.task_id, spec["name"])
    labels = L.base_labels(
        ctx, launch.address, attrs=cfg, kind=launch.kind,
        **{
            L.CLUSTER: launch.cluster.name,
            L.SERVICE: launch.service,
            L.TASK_DEFINITION: str(td.get("arn") or ""),
            L.TASK_ID: launch.task_id,
            L.INSTANCE: launch.instance,
            CONTAINER: spec["name"],
            CONTAINER_INDEX: str(index),
            # Task-level reservation on every container: usage is summed once per task id.
            CPU: str(cfg["task_cpu"]),
            MEMORY: str(cfg["task_memory"]),
            ESSENTIAL: "true" if cfg["essential"] else "false",
            CREATED: datetime.now(UTC).isoformat(timespec="microseconds"),
            STOP_TIMEOUT: str(cfg["stop_timeout"]),
            RESTART_POLICY: cfg["restart_policy"],
            **launch.labels,
        },
    )
    # The config hash names the ports only; the address is the instance's (placement).
    publish = _bind_to(cfg["publish"], instance_address(launch.instance))
    host_kwargs: dict[str, Any] = {
        "init": True,  # PID 1 forwards SIGTERM and reaps: stop takes 0.1 s, not the timeout
        "nano_cpus": cfg["nano_cpus"],
        "mem_limit": cfg["memory_bytes"],
        "memswap_limit": cfg["memory_bytes"],  # equal to the limit: no swap, as on Fargate
        # None until `arm`: a crash before its deployment saw it healthy is a failed task,
        # as ECS counts it, not a restart the engine would be busy with while it is removed.
        "restart_policy": {"Name": RESTART_NEVER},
    }
    if first_name is None:
        host_kwargs["network_mode"] = launch.cluster.network
        if publish:
            host_kwargs["port_bindings"] = publish
        networking = client.api.create_networking_config(
            {launch.cluster.network: client.api.create_endpoint_config(
                aliases=[launch.task_id])})
    else:
        host_kwargs["network_mode"] = f"container:{first_name}"
        networking = None
    host_config = client.api.create_host_config(
        **{k: v for k, v in host_kwargs.items() if v is not None})
    resp = client.api.create_container(
        cfg["image"],
        command=cfg["command"],
        entrypoint=cfg["entry_point"],
        name=name,
        hostname=launch.task_id if first_name is None else None,
        labels=labels,
        environment=cfg["environment"] or None,
        working_dir=cfg["working_directory"],
        user=cfg["user"],
        healthcheck=cfg["health_check"],
        stop_timeout=cfg["stop_timeout"],
        # (port, protocol) pairs: docker-py appends "/tcp" to a plain "8080/tcp" string.
        ports=_exposed(publish) if first_name is None and publish else None,
        host_config=host_config,
        networking_config=networking,
        detach=True,
    )
    return str(resp["Id"])


def _first_essential(td: dict[str, Any]) -> int:
    specs = td.get("container") or []
    return next((i for i, c in enumerate(specs) if c.get("essential", True)), 0)


def _exposed(publish: dict[str, Any]) -> list[tuple[int, str]]:
    """The `ports=` of create_container for `_publish`'s keys ("8080/tcp" -> (8080, "tcp"))."""
    out = []
    for key in publish:
        port, _, proto = str(key).partition("/")
        out.append((int(port), proto or "tcp"))
    return out


def _bind_to(publish: dict[str, Any], address: str) -> dict[str, Any]:
    """`_publish`'s bindings moved to the address of the instance the task is placed on."""
    return {key: (address, port) for key, (_bind, port) in publish.items()}


def launch_task(client: docker.DockerClient, ctx: FleetContext, launch: Launch) -> list[str]:
    """Create and start every container of one task; returns container ids in order.

    On failure the task's containers are removed, so a half-started task never lingers.
    """
    specs = list(launch.taskdef.get("container") or [])
    if not specs:
        raise FgformError(f"task definition {launch.taskdef.get('arn')} has no containers")
    ids: list[str] = []
    first_name: str | None = None
    try:
        for index, spec in enumerate(specs):
            cid = _create_container(client, ctx, launch, index, spec, first_name)
            ids.append(cid)
            if index == 0:
                first_name = container_name(launch.cluster.name, launch.service,
                                            launch.task_id, spec["name"])
                # The others join this namespace, which exists only once it runs.
                client.api.start(cid)
        for cid in ids[1:]:
            client.api.start(cid)
    except APIError as exc:
        remove_containers(client, [(cid, 0) for cid in ids])
        raise FgformError(
            f"cannot start task {launch.task_id} of {launch.taskdef.get('arn')}: "
            f"{_explain(exc)}") from exc
    launch.container_ids = ids
    ctx.log(f"{launch.address}: started task {launch.task_id} "
            f"({launch.taskdef.get('arn')}) on {launch.instance}")
    return ids


def launch_tasks(client: docker.DockerClient, ctx: FleetContext, launches: Sequence[Launch]
                 ) -> tuple[list[Launch], list[FgformError]]:
    """Start several tasks in parallel; returns those started and the errors of the rest."""
    if not launches:
        return [], []
    images = {c["image"] for ln in launches for c in ln.taskdef.get("container") or []}
    ensure_images(client, images, ctx.log)
    ok: list[Launch] = []
    errors: list[FgformError] = []
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(launches))) as pool:
        futures = [(ln, pool.submit(launch_task, client, ctx, ln)) for ln in launches]
        for ln, fut in futures:
            try:
                fut.result()
                ok.append(ln)
            except FgformError as exc:
                errors.append(exc)
    return ok, errors


def remove_containers(client: docker.DockerClient, items: Sequence[tuple[str, int]]) -> None:
    """Stop (SIGTERM, then SIGKILL after its timeout) and remove containers; gone is fine."""
    for cid, timeout in items:
        try:
            client.api.stop(cid, timeout=timeout)
        except NotFound:
            continue
        except APIError:
            pass  # already stopping/stopped: removal below settles it
        try:
            client.api.remove_container(cid, force=True)
        except NotFound:
            pass
        except APIError as exc:
            # "removal already in progress" from a concurrent delete is fine
            if "already in progress" not in _explain(exc):
                raise


def stop_task(client: docker.DockerClient, task: LiveTask, keep_stopped: bool = False) -> None:
    """Stop and remove a task's containers; joined containers first, the namespace owner
    last. `keep_stopped` leaves exited essential containers for their logs."""
    items = [(c.id, c.stop_timeout) for c in sorted(task.containers, key=lambda c: -c.index)
             if not (keep_stopped and c.essential and c.state in ("exited", "dead"))]
    remove_containers(client, items)


def stop_tasks(client: docker.DockerClient, tasks: Sequence[LiveTask],
               keep_stopped: bool = False) -> None:
    """Stop several tasks in parallel."""
    if not tasks:
        return
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(tasks))) as pool:
        for fut in [pool.submit(stop_task, client, t, keep_stopped) for t in tasks]:
            fut.result()
