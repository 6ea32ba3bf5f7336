"""RunTask: a one-off task of a task definition, run to completion (`fgform run-task`).

The task is placed by the capacity manager like a service's (it holds capacity while it
runs), started, its logs streamed through a callback, waited for, and removed. The return
value is the essential container's exit code; with several tasks or essential containers,
the highest (so any failure shows). Ctrl-C removes the task before re-raising.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import docker
import requests
from docker.errors import APIError, NotFound

from fgform.errors import FgformError
from fgform.fleet.docker.launch import Launch, launch_tasks, remove_containers
from fgform.fleet.docker.live_tasks import KIND_RUN_TASK
from fgform.fleet.docker.placement import cluster_info, place_tasks, placement_lock
from fgform.fleet.docker.task_definition import definition_of
from fgform.fleet.driver import FleetContext

LogCallback = Callable[[str], None]


def run_task(client: docker.DockerClient, ctx: FleetContext, cluster_attrs: dict[str, Any],
             taskdef_attrs: dict[str, Any], count: int = 1, override_command: list[str] | None = None,
             env: dict[str, str] | None = None, on_log: LogCallback | None = None,
             timeout: float | None = None) -> int:
    """Run `count` tasks of `taskdef_attrs` on the cluster; returns the exit code.

    Log lines go to `on_log` as they come (prefixed by the task id when count > 1, and by
    the container name when the task has several). `timeout` (seconds) stops the tasks and
    raises FgformError when they run longer.
    """
    if count < 1:
        raise FgformError("run-task needs a count of at least 1")
    cluster = cluster_info(client, cluster_attrs)
    taskdef = definition_of(taskdef_attrs)
    arn = str(taskdef.get("arn") or taskdef.get("family"))
    family = str(taskdef.get("family") or "task")
    emit = _serialised(on_log or (lambda _line: None))
    specs = list(taskdef.get("container") or [])
    multi = len(specs) > 1
    launches: list[Launch] = []
    try:
        with placement_lock(cluster, taskdef):
            # Refused here, before anything starts, when the fleet is full.
            instances = place_tasks(ctx, client, cluster, taskdef, count)
            launches = [Launch(f"run-task:{arn}", KIND_RUN_TASK, cluster, f"run-{family}",
                                 taskdef, inst, command=override_command, environment=env)
                        for inst in instances]
            ok, errors = launch_tasks(client, ctx, launches)
        if errors:
            raise FgformError("run-task: " + "; ".join(e.message for e in errors))
        log_threads = []
        for ln in ok:
            for cid, spec in zip(ln.container_ids, specs, strict=False):
                parts = ([ln.task_id] if count > 1 else []) + ([spec["name"]] if multi else [])
                prefix = "/".join(parts) + " | " if parts else ""
                th = threading.Thread(target=_follow, args=(client, cid, prefix, emit),
                                      daemon=True)
                th.start()
                log_threads.append(th)
        code = _wait(client, ok, specs, timeout)
        # Every line out before we return (the streams end when their containers stop).
        for th in log_threads:
            th.join(timeout=5)
        return code
    finally:
        # Runs on success, on errors and on Ctrl-C alike: a one-off task never lingers.
        remove_containers(client, [(cid, 1) for ln in launches
                                     for cid in reversed(ln.container_ids)])


def _serialised(fn: LogCallback) -> LogCallback:
    """One line at a time, from several streaming threads."""
    lock = threading.Lock()

    def call(line: str) -> None:
        with lock:
            fn(line)

    return call


def _follow(client: docker.DockerClient, cid: str, prefix: str, emit: LogCallback) -> None:
    """Stream one container's output, line by line, until it stops."""
    buf = b""
    try:
        for chunk in client.api.logs(cid, stream=True, follow=True):
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                emit(prefix + line.decode("utf-8", "replace"))
    except (APIError, NotFound, OSError):
        pass  # removed under us (Ctrl-C): nothing more to print
    if buf:
        emit(prefix + buf.decode("utf-8", "replace"))


def _wait(client: docker.DockerClient, launches: list[Launch], specs: list[dict[str, Any]],
          timeout: float | None) -> int:
    """Wait until each task's first essential container exits; stop the rest of that task.

    Returns the highest exit code over the tasks.
    """
    done: queue.Queue[tuple[str, str, int]] = queue.Queue()
    essential_of: dict[str, list[str]] = {}
    for ln in launches:
        pairs = list(zip(ln.container_ids, specs, strict=False))
        ess = [cid for cid, spec in pairs if spec.get("essential", True)] or ln.container_ids
        essential_of[ln.task_id] = ess
        for cid in ess:
            threading.Thread(target=_wait_one, args=(client, ln.task_id, cid, done),
                             daemon=True).start()
    codes: dict[str, int] = {}
    deadline = None if timeout is None else time.monotonic() + timeout
    by_id = {ln.task_id: ln for ln in launches}
    while len(codes) < len(launches):
        try:
            # A short get keeps the main thread responsive to Ctrl-C.
            tid, _cid, code = done.get(timeout=0.2)
        except queue.Empty:
            if deadline is not None and time.monotonic() > deadline:
                raise FgformError(f"run-task: the task(s) ran longer than {timeout:g} s and "
                                  "were stopped") from None
            continue
        if tid in codes:
            continue
        codes[tid] = code
        # ECS semantics: when an essential container stops, the task stops.
        remove_containers(client, [(c, 2) for c in by_id[tid].container_ids
                                     if c not in essential_of[tid]])
    return max(codes.values())


def _wait_one(client: docker.DockerClient, tid: str, cid: str,
              done: queue.Queue[tuple[str, str, int]]) -> None:
    while True:
        try:
            result = client.api.wait(cid)
            code = int(result.get("StatusCode", 1))
        except requests.exceptions.ReadTimeout:
            continue  # the client's HTTP timeout, not the task's: a long task keeps running
        except (APIError, NotFound, OSError, requests.exceptions.RequestException):
            code = 137  # removed under us: report what a kill reports
        break
    done.put((tid, cid, code))
