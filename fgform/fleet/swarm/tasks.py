"""`fgform tasks` and `fgform logs` for services on a swarm: Swarm tasks as the local
backend's rows (`TaskRow`), the instance being the node's hostname and the address the
task's address on the cluster's overlay network.

Three list calls whatever the number of tasks (services, tasks, nodes); logs come from the
manager (`docker service logs`), which gathers them from every node.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import docker
from docker.errors import APIError, NotFound

from fgform.errors import FgformError
from fgform.fleet.docker import labels as L
from fgform.fleet.docker.inspection import TaskRow
from fgform.fleet.docker.lookup import type_of
from fgform.fleet.driver import FleetContext
from fgform.fleet.swarm.cluster import is_swarm, node_names
from fgform.fleet.swarm.service import KIND_SERVICE, _ip, lineage_services, task_attr

# Swarm task states -> the table's status words.
_PENDING = ("new", "allocated", "pending", "assigned", "accepted", "preparing", "ready",
            "starting")


def has_swarm(ctx: FleetContext) -> bool:
    """Whether this state has a cluster on a swarm (only then are Swarm APIs called)."""
    return any(isinstance(a, dict) and type_of(k) == "fg_cluster" and is_swarm(a)
               for k, a in ctx.resources.items())


def _services(client: docker.DockerClient, ctx: FleetContext) -> list[dict[str, Any]]:
    return lineage_services(client, ctx)


def _matches(ctx: FleetContext, svc: dict[str, Any], service: str | None) -> bool:
    """By service name or address (a moved service's objects carry its old address)."""
    labels = (svc.get("Spec") or {}).get("Labels") or {}
    return service is None or service == labels.get(L.SERVICE) or \
        ctx.labels.get(service, service) == labels.get(L.ADDRESS)


def _status(task: dict[str, Any]) -> str:
    st = task.get("Status") or {}
    state = st.get("State") or ""
    code = (st.get("ContainerStatus") or {}).get("ExitCode")
    if state == "running":
        return "RUNNING"
    if state in _PENDING:
        return "PENDING"
    return f"STOPPED (exit {code})" if code is not None and state != "rejected" else "STOPPED"


def _health(task: dict[str, Any]) -> str:
    spec = (task.get("Spec") or {}).get("ContainerSpec") or {}
    checked = bool((spec.get("Healthcheck") or {}).get("Test"))
    state = (task.get("Status") or {}).get("State")
    if not checked:
        return "UNKNOWN"
    # Swarm holds a checked task in `starting` until it is healthy, and fails it when not.
    if state == "running":
        return "HEALTHY"
    if state == "starting":
        return "STARTING"
    return "UNHEALTHY" if state in ("failed",) else "UNKNOWN"


def _seconds_since(stamp: str) -> float | None:
    head, _, frac = stamp.rstrip("Z").partition(".")
    try:
        when = datetime.fromisoformat(head).replace(tzinfo=UTC)
    except ValueError:
        return None
    return max(0.0, (datetime.now(UTC) - when).total_seconds() - float("0." + (frac or "0")))


def list_tasks(client: docker.DockerClient, ctx: FleetContext, service: str | None = None
               ) -> list[TaskRow]:
    """The Swarm tasks of this state's services (or one's) that Swarm means to run, as
    rows: three list calls. Sorted by service, then start time, then id."""
    services = {s["ID"]: s for s in _services(client, ctx) if _matches(ctx, s, service)}
    if not services:
        return []
    tasks = client.api.tasks(filters={"label": L.label_filter(ctx, kind=KIND_SERVICE)["label"],
                                      "desired-state": "running"})
    nodes = node_names(client)
    rows = []
    for t in sorted(tasks, key=lambda t: (str(t.get("CreatedAt")), t["ID"])):
        svc = services.get(t.get("ServiceID"))
        if svc is None:
            continue
        labels = svc["Spec"].get("Labels") or {}
        network = _network_name(svc)
        attr = task_attr(t, nodes, network)
        st = t.get("Status") or {}
        running = st.get("State") == "running"
        rows.append(TaskRow(
            task_id=attr["id"],
            service=labels.get(L.SERVICE, svc["Spec"]["Name"]),
            revision=attr["task_definition"],
            instance=attr["instance"],
            status=_status(t),
            health=_health(t),
            address=_ip(t, network) or "",
            ports="",
            uptime=_seconds_since(str(st.get("Timestamp") or "")) if running else None,
            restarts=0,
        ))
    return sorted(rows, key=lambda r: r.service)


def _network_name(svc: dict[str, Any]) -> str | None:
    """The cluster network a service's tasks join (its labels' cluster, `fgform-<id>`)."""
    cluster = ((svc.get("Spec") or {}).get("Labels") or {}).get(L.CLUSTER)
    return f"fgform-{cluster}" if cluster else None


def task_states(client: docker.DockerClient, ctx: FleetContext) -> list[tuple[str, bool]]:
    """(task id, running) of every Swarm task of this state that Swarm means to run."""
    tasks = client.api.tasks(filters={"label": L.label_filter(ctx, kind=KIND_SERVICE)["label"],
                                      "desired-state": "running"})
    return [(str(t["ID"])[:12], (t.get("Status") or {}).get("State") == "running")
            for t in tasks]


def owns(client: docker.DockerClient, ctx: FleetContext, service: str) -> bool:
    """Whether `service` (a name or address) is one of this state's Swarm services."""
    return any(_matches(ctx, s, service) for s in _services(client, ctx))


# "2026-12-03T03:46:45.85Z com.docker.swarm.node.id=..,com.docker.swarm.service.id=..,
# com.docker.swarm.task.id=.. text" (`details=True, timestamps=True`)
_DETAILS = re.compile(r"^(\S+) (\S*com\.docker\.swarm\.task\.id=([a-z0-9]+)\S*) ?(.*)$")


def stream_logs(client: docker.DockerClient, ctx: FleetContext, service: str, *,
                follow: bool = False, tail: int | None = None) -> Iterator[str]:
    """A Swarm service's log lines from every node, each prefixed with its task id (as
    the local backend's), in the order the manager gathers them."""
    found = [s for s in _services(client, ctx) if _matches(ctx, s, service)]
    if not found:
        raise FgformError(f"no tasks found for service {service!r}",
                          hint="`fgform tasks` lists what runs.")
    for svc in found:
        try:
            stream = client.api.service_logs(svc["ID"], details=True, stdout=True,
                                             stderr=True, timestamps=True, follow=follow,
                                             tail="all" if tail is None else tail)
        except (NotFound, APIError) as exc:
            raise FgformError(f"cannot read the logs of {service}: "
                              f"{getattr(exc, 'explanation', None) or exc}") from exc
        buf = b""
        for chunk in stream:
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for raw in lines:
                yield _line(raw.decode("utf-8", "replace"))
        if buf:
            yield _line(buf.decode("utf-8", "replace"))


def _line(text: str) -> str:
    m = _DETAILS.match(text)
    if m is None:
        return text
    return f"{m.group(3)[:12]} | {m.group(4)}"
