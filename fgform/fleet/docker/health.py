"""Waiting for new tasks to become healthy, and saying why one did not.

Every decision comes from the list call (and an inspect); the engine's event stream only
wakes the wait early and remembers which containers died.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import docker
from docker.errors import APIError, NotFound

from fgform.fleet.docker import labels as L
from fgform.fleet.docker.live_tasks import ESSENTIAL, KIND_SERVICE, LiveTask, list_live_tasks
from fgform.fleet.docker.restarts import restarted_since
from fgform.fleet.driver import FleetContext

# The wait's list calls come this often at the latest (an engine event wakes it sooner).
POLL_SECONDS = 0.25
# A task counts as steady only once its essential containers have been up this long by the
# engine's own clock (the list call's "Up N seconds"), no `die` event was seen for it, and an
# inspect of each essential container confirms it still runs. A container that exits at once
# must not pass for healthy: under load the list call's view lags the container's real state
# by more than a second ("Up 1 second" for a process that exited before its start returned),
# so neither two polls nor the creation time can tell.
MIN_STABLE_SECONDS = 1.0


@dataclass(slots=True)
class WaitResult:
    healthy: list[LiveTask]
    failed: dict[str, str]  # task id -> why (exit code, health output, last log lines)
    live: list[LiveTask]  # the last list call's view of every task of the filter
    # Failed tasks known to have stopped, though the (lagging) list view may still show them
    # running: a `die` event or an inspect said so.
    stopped: set[str] = field(default_factory=set)


class _Wakeup:
    """Wakes `wait_healthy` as soon as Docker reports that a watched container started, died
    or changed health, instead of letting it sleep out the poll interval (a task is seen
    healthy ~0.1 s sooner on average, up to POLL_SECONDS). One `GET /events` stream, filtered
    by the same labels as the list call; exec events of the health checks are not asked for.

    It also remembers every `die` of an essential container, by task id (`died`): the engine
    reports the die before its list view catches up, so a task that died is failed even while
    the list call still shows it "Up". With `since` (epoch seconds, taken before the tasks were
    launched) the engine replays the events from then on, so a container that died before
    the stream was opened is not missed.

    Apart from `died`, only a wake-up: every decision still comes from the list call (and an
    inspect), and the loop still polls every POLL_SECONDS, so a stream that fails (or is never
    opened) changes nothing else.
    """

    # Events within this long after a list call are answered by the next one, not by one
    # list call each (ten tasks turn healthy within a few hundred milliseconds).
    MIN_GAP = 0.05

    def __init__(self, client: docker.DockerClient, filters: dict[str, list[str]],
                 since: float | None = None) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._died: dict[str, str] = {}  # task id -> exit code (as the event gives it)
        self._stream: Any = None
        try:
            self._stream = client.api.events(
                decode=True,
                # Whole seconds (rounded down): earlier events only cost a few more lines.
                since=int(since) if since is not None else None,
                filters={
                    **filters, "type": ["container"],
                    # health_status matches "health_status: healthy" etc. by prefix.
                    "event": ["health_status", "start", "die", "destroy"]})
        except (APIError, OSError, docker.errors.DockerException):
            return
        threading.Thread(target=self._pump, name="fgform-events", daemon=True).start()

    def _pump(self) -> None:
        try:
            for ev in self._stream:
                self._note(ev)
                self._event.set()
        except Exception:  # noqa: BLE001 - closed by close(), or the engine went away
            pass

    def _note(self, ev: Any) -> None:
        if not isinstance(ev, dict) or (ev.get("Action") or ev.get("status")) != "die":
            return
        attrs = (ev.get("Actor") or {}).get("Attributes") or {}
        tid = attrs.get(L.TASK_ID)
        if tid and attrs.get(ESSENTIAL, "true") == "true":
            with self._lock:
                self._died.setdefault(tid, str(attrs.get("exitCode", "?")))

    def died(self, task_id: str) -> str | None:
        """The exit code of the first essential container of `task_id` seen to die."""
        with self._lock:
            return self._died.get(task_id)

    def wait(self, seconds: float, listed_at: float) -> None:
        """Sleep until an event arrives or `seconds` pass; `listed_at` is when (monotonic)
        the last list call was made."""
        if self._event.wait(seconds):
            since = time.monotonic() - listed_at
            if since < self.MIN_GAP:
                time.sleep(self.MIN_GAP - since)
        self._event.clear()

    def close(self) -> None:
        if self._stream is not None:
            try:
                self._stream.close()
            except Exception:  # noqa: BLE001 - best effort
                pass


def watch_changes(ctx: FleetContext, client: docker.DockerClient) -> _Wakeup:
    """A wake-up on the engine's events for this lineage's service task containers (start,
    die, destroy, health changes): `reconcile -watch` sleeps on it instead of a bare timer.
    `close()` it when done."""
    return _Wakeup(client, L.label_filter(ctx, kind=KIND_SERVICE))


def wait_healthy(ctx: FleetContext, client: docker.DockerClient, task_ids: Iterable[str],
                 timeout: float, log_lines: int = 10, grace: float = 0.0,
                 since: float | None = None, **extra: str) -> WaitResult:
    """Wait (one list call per round) until every task in `task_ids` runs and is healthy.

    A round starts when Docker reports a change of one of the tasks' containers (an event
    stream), or after POLL_SECONDS at the latest. A task fails at once when an essential
    container stops (in the list call, or by a `die` event), when its restart policy restarts
    one (it crashed: a restart must not hide it), or when a health check turns
    unhealthy after the first `grace` seconds (the service's health_check_grace_period); the
    others are waited for until `timeout`. A task passes only when steady (`_steady`).
    `since` (epoch seconds, before the tasks were launched) lets the event stream replay the
    dies that came before it was opened. Failures carry diagnostics.
    """
    wakeup = _Wakeup(client, L.label_filter(ctx, **extra), since)
    try:
        return _wait_healthy(ctx, client, task_ids, timeout, log_lines, grace, wakeup, extra,
                             since)
    finally:
        wakeup.close()


def _steady(client: docker.DockerClient, task: LiveTask, since: float | None = None) -> str:
    """Whether a task the list call shows running and healthy may pass: "steady", "wait"
    (not up long enough yet) or "stopped" (an inspect shows it is not running after all, or
    that its restart policy restarted it at `since` or later: it crashed).

    Every essential container must be up MIN_STABLE_SECONDS by the engine's clock (a task
    with a health check has proven itself by passing it, so only that it runs is checked);
    then an inspect of each confirms it: unlike the list view, an inspect waits for the
    engine to finish handling an exit it has received.
    """
    if task.health == "UNKNOWN":
        ups = [c.uptime for c in task.essentials]
        if any(u is None or u < MIN_STABLE_SECONDS for u in ups):
            return "wait"
    for c in task.essentials:
        try:
            info = client.api.inspect_container(c.id)
        except NotFound:
            return "stopped"
        state = info.get("State") or {}
        if not state.get("Running") or state.get("Restarting") or state.get("Dead"):
            return "stopped"
        if restarted_since(info.get("RestartCount"), state.get("StartedAt"), since):
            return "stopped"
    return "steady"


def _wait_healthy(ctx: FleetContext, client: docker.DockerClient, task_ids: Iterable[str],
                  timeout: float, log_lines: int, grace: float, wakeup: _Wakeup,
                  extra: dict[str, str], since: float | None = None) -> WaitResult:
    pending = set(task_ids)
    started = time.monotonic()
    deadline = started + timeout
    failed: dict[str, str] = {}
    healthy: dict[str, LiveTask] = {}
    stopped: set[str] = set()
    live: list[LiveTask] = []
    while True:
        listed_at = time.monotonic()
        live = list_live_tasks(ctx, client, **extra)
        by_id = {t.task_id: t for t in live}
        for tid in sorted(pending):
            task = by_id.get(tid)
            if task is None:
                failed[tid] = "its containers disappeared (removed by someone else?)"
            elif task.stopped or task.restarting or wakeup.died(tid) is not None:
                # A `die` also when the restart policy brings the container back at once.
                failed[tid] = describe_failure(client, task, "stopped", log_lines,
                                               died=wakeup.died(tid))
                stopped.add(tid)
            elif task.unhealthy and time.monotonic() - started >= grace:
                failed[tid] = describe_failure(client, task, "unhealthy", log_lines)
            elif task.healthy:
                verdict = _steady(client, task, since)
                if verdict == "wait":
                    continue
                if verdict == "stopped":
                    failed[tid] = describe_failure(client, task, "stopped", log_lines,
                                                   died=wakeup.died(tid))
                    stopped.add(tid)
                else:
                    healthy[tid] = task
            else:
                continue
            pending.discard(tid)
        if not pending:
            break
        if time.monotonic() >= deadline:
            for tid in sorted(pending):
                task = by_id.get(tid)
                failed[tid] = (describe_failure(client, task, f"not healthy after {timeout:g} s",
                                                log_lines) if task else "gone")
            break
        wakeup.wait(POLL_SECONDS, listed_at)
    return WaitResult(list(healthy.values()), failed, live, stopped)


def describe_failure(client: docker.DockerClient, task: LiveTask, what: str,
                     log_lines: int = 10, died: str | None = None) -> str:
    """Why a task failed: exit codes, the last health-check output, the last log lines.

    `died`: the exit code a `die` event reported, shown when no inspect shows it (yet): a
    container its restart policy restarted runs again, with exit code 0 in inspect."""
    parts = [f"task {task.task_id} ({task.task_definition} on {task.instance}) {what}"]
    exited = False
    for c in task.containers:
        head = f"  container {c.container}: {c.status or c.state}"
        try:
            info = client.api.inspect_container(c.id)
        except NotFound:
            parts.append(head + " (gone)")
            continue
        state = info.get("State") or {}
        if state.get("Status") and state.get("Status") != c.state:
            # The list view lagged behind: say what the container really is.
            head = f"  container {c.container}: {state['Status']}"
        restarts = int(info.get("RestartCount") or 0)
        # A restarting container still shows the exit code it restarts after.
        if state.get("Status") in ("exited", "restarting"):
            exited = True
            head += f" exit code {state.get('ExitCode')}"
            if state.get("OOMKilled"):
                head += " (out of memory: raise the task's memory)"
            if state.get("Error"):
                head += f" error: {state['Error']}"
        if restarts:
            policy = ((info.get("HostConfig") or {}).get("RestartPolicy") or {}).get("Name")
            head += (f"; restarted {restarts} time{'s' if restarts != 1 else ''} by its "
                     f"restart policy ({policy})")
        parts.append(head)
        hlog = ((state.get("Health") or {}).get("Log") or [])
        if hlog:
            last = hlog[-1]
            out = (last.get("Output") or "").strip()
            parts.append(f"    last health check: exit {last.get('ExitCode')}"
                         + (f": {out[-300:]}" if out else " (no output)"))
        try:
            raw = client.api.logs(c.id, tail=log_lines)
        except APIError:
            raw = b""
        text = raw.decode("utf-8", "replace").rstrip("\n") if isinstance(raw, bytes) else ""
        if text:
            parts.append("    last log lines:")
            parts.extend(f"      {line}" for line in text.splitlines()[-log_lines:])
        else:
            parts.append("    (no log output)")
    if died is not None and not exited:
        parts.append(f"  the engine reported an essential container died: exit code {died}")
    return "\n".join(parts)
