"""Target registration: a service's tasks as servers of its target groups' HAProxy backends,
changed through the runtime API (no reload, so scaling never reloads the proxy).

- `register` makes each target group of a service list exactly the service's given tasks
  (`add server`, then `enable health`/`enable server`; servers of tasks that are gone are
  put in maintenance and deleted once their connections are gone, without cutting them).
  Each phase's runtime API commands go in one `docker exec` (`runtime_all`).
- `deregister` drains the servers of tasks about to stop: no new requests, in-flight ones
  finish, until their connections are done or the target group's `deregistration_delay`
  runs out; only then are they removed (and the caller stops the tasks).
- A service's `targets` attribute records (target_group, id, address, port) for each task
  and `load_balancer` block; `live_targets` reads what the proxies really hold, so a target
  missing from its proxy is drift the plan repairs.

Services and load balancers are applied in parallel with no order between them. Targets a
service registered in this process are kept here (`_published`), under one lock that the
load balancer driver also holds while it renders and loads a configuration: whichever runs
second sees the other's work, so no target is lost between a proxy's creation and a
service's registration.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any

import docker
from docker.errors import APIError, NotFound

from fgform.errors import FgformError
from fgform.fleet.docker.lookup import type_of
from fgform.fleet.docker.proxy import parse_stat, runtime, runtime_all
from fgform.fleet.driver import FleetContext
from fgform.fleet.haproxy import (
    backend_name,
    server_name,
    server_options,
    used_target_groups,
)

LOCK = threading.RLock()
# target group id -> service address -> the targets that service registered in this process.
_published: dict[str, dict[str, list[dict[str, Any]]]] = {}
# target group id -> the proxy container configured for it in this process (a load balancer
# created in this run is in ctx.resources only once its create has returned).
_proxies: dict[str, str] = {}
DRAIN_POLL = 0.2


def service_targets(attrs: dict[str, Any], tasks: Iterable[dict[str, Any]] | None = None
                    ) -> list[dict[str, Any]]:
    """(target_group, id, address, port) for each task (default: `attrs["tasks"]`) and
    `load_balancer` block of a service, sorted."""
    tasks = list(attrs.get("tasks") or [] if tasks is None else tasks)
    out = [{"target_group": str(lb["target_group"]), "id": str(t["id"]),
            "address": t["address"], "port": int(lb["container_port"])}
           for lb in attrs.get("load_balancer") or [] for t in tasks if t.get("address")]
    return sorted(out, key=lambda x: (x["target_group"], x["id"]))


def targets_of(ctx: FleetContext, tg_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The targets each target group should have: every service's tasks (from this run's
    state, or what the service registered in this process, which is newer)."""
    out: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in tg_ids}
    with LOCK:
        for address, attrs in ctx.resources.items():
            if not isinstance(attrs, dict) or type_of(address) != "fg_service":
                continue
            for t in service_targets(attrs):
                tg = t["target_group"]
                if tg in out and ctx.labels.get(address, address) not in _published.get(tg, {}):
                    out[tg][t["id"]] = t
        for tg in tg_ids:
            for targets in _published.get(tg, {}).values():
                out[tg].update({t["id"]: t for t in targets})
    return {tg: [by_id[k] for k in sorted(by_id)] for tg, by_id in out.items()}


# -- the proxy of a target group --------------------------------------------------------------
def proxy_configured(lb: dict[str, Any], container_name: str | None) -> None:
    """Called by the load balancer driver, holding LOCK, once its proxy runs a configuration
    rendered with `targets_of` (None: the proxy is gone)."""
    for tg in used_target_groups(lb):
        if container_name is None:
            _proxies.pop(tg, None)
        else:
            _proxies[tg] = container_name


def _proxy_of(client: docker.DockerClient, ctx: FleetContext, tg_id: str
              ) -> tuple[Any, dict[str, Any]] | None:
    """(container, target group attributes) of the running proxy forwarding to `tg_id`."""
    tg = next((a for addr, a in ctx.resources.items() if isinstance(a, dict)
               and type_of(addr) == "fg_target_group" and a.get("id") == tg_id), None)
    name = _proxies.get(tg_id) or next(
        (str(lb["id"]) for address, lb in list(ctx.resources.items())
         if isinstance(lb, dict) and type_of(address) == "fg_load_balancer"
         and lb.get("id") and tg_id in used_target_groups(lb)), None)
    if name is None:
        return None
    try:
        container = client.containers.get(name)
    except NotFound:
        return None
    return (container, tg or {}) if container.status == "running" else None


def servers(container: Any, backend: str) -> dict[str, dict[str, Any]] | None:
    """The servers of a backend by name (address, port, operational and admin state), from
    `show servers state`; None when the proxy has no such backend (yet)."""
    text = runtime(container, f"show servers state {backend}")
    if "Can't find backend" in text:
        return None
    out = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) > 18 and f[0].isdigit() and f[1] == backend:
            out[f[3]] = {"address": f[4], "op": int(f[5]), "admin": int(f[6]),
                         "port": int(f[18])}
    return out


def _refused(command: str, answer: str) -> str | None:
    """What the proxy refused in its answer to `command`, or None when it did it."""
    text = answer.strip()
    if not text or text.startswith(("New server registered", "Server deleted")):
        return None
    if command.startswith("del server ") and (text.startswith("No such server")
                                              or "Can't find" in text):
        return None  # gone already: what was asked
    return text


def _still_in_use(answer: str) -> bool:
    """`del server` refused only because the server still has connections."""
    return "connections" in answer


def _run_checked(container: Any, commands: list[str]) -> list[str]:
    """Run `commands` in one exec; the names of the servers whose `del server` was refused
    because they still have connections (left in maintenance, to delete later). Any other
    refusal raises FgformError."""
    busy = []
    for command, answer in zip(commands, runtime_all(container, commands), strict=True):
        why = _refused(command, answer)
        if why is None:
            continue
        if command.startswith("del server ") and _still_in_use(why):
            busy.append(command.split()[-1])
            continue
        raise FgformError(f"the load balancer refused {command.split(' ', 2)[:2]}: {why}")
    return busy


def _removal(backend: str, name: str, *, cut: bool) -> list[str]:
    """The commands that take a server out for good: maintenance (no new request), with
    `cut` its remaining sessions closed, then deleted (refused while it has connections)."""
    return [f"set server {backend}/{name} state maint"] + \
        ([f"shutdown sessions server {backend}/{name}"] if cut else []) + \
        [f"del server {backend}/{name}"]


# How long a pass waits for a removed server's last connections before leaving its deletion
# to the next registration (a connection waiting out `timeout connect` may take longer).
DELETE_WAIT = 2.0


def _delete_when_idle(ctx: FleetContext, container: Any, busy: list[str],
                      wait: float = DELETE_WAIT) -> None:
    """Delete servers (`backend/name`, in maintenance) once their connections are gone,
    for at most `wait` s; those still in use stay in maintenance (no traffic) and are
    deleted by the next registration, which finds them stale. Never raises for them."""
    deadline = time.monotonic() + wait
    while busy and time.monotonic() < deadline:
        time.sleep(DRAIN_POLL)
        try:
            with LOCK:
                busy = _run_checked(container, [f"del server {s}" for s in busy])
        except (FgformError, APIError) as exc:
            ctx.log(f"cannot remove targets {', '.join(busy)}: {exc}")
            return
    for s in busy:
        ctx.log(f"target {s} still has connections: kept in maintenance, removed later")


# -- register / deregister --------------------------------------------------------------------
def register(client: docker.DockerClient, ctx: FleetContext, service: str,
             attrs: dict[str, Any], tasks: list[dict[str, Any]]) -> None:
    """Make every target group of service `service` hold exactly `tasks` of it (each a
    `tasks` attribute entry: id, address), through the runtime API: one exec per target
    group, new targets first. A server that is no longer wanted goes into maintenance and
    is deleted once its connections are gone; its sessions are not cut, so a request
    waiting on a dead task's connection is retried on a live target."""
    wanted = service_targets(attrs, tasks)
    busy: list[tuple[Any, list[str]]] = []
    for lb in attrs.get("load_balancer") or []:
        tg_id = str(lb["target_group"])
        mine = [t for t in wanted if t["target_group"] == tg_id]
        with LOCK:
            _published.setdefault(tg_id, {})[service] = mine
            proxy = _proxy_of(client, ctx, tg_id)
            if proxy is None:
                continue  # no proxy yet: its configuration will list these targets
            container, tg = proxy
            backend = backend_name(tg_id)
            have = servers(container, backend)
            if have is None:
                continue  # the proxy is being configured: it renders _published
            desired = {t["id"] for t in targets_of(ctx, [tg_id])[tg_id]}
            commands: list[str] = []
            added = []
            for t in mine:
                name = server_name(t["id"])
                srv = have.get(name)
                if srv is not None and (srv["address"], srv["port"]) == (t["address"],
                                                                          t["port"]):
                    if srv["admin"] & 0x1D:  # maint or drain left by an interrupted run
                        commands.append(f"set server {backend}/{name} state ready")
                    continue
                if srv is not None:
                    # The same task at another address: the name must be free at once.
                    commands += _removal(backend, name, cut=True)
                commands += [f"add server {backend}/{name} {t['address']}:{t['port']} "
                             f"{server_options(tg)}",
                             f"enable health {backend}/{name}",
                             f"enable server {backend}/{name}"]
                added.append(t)
            # Servers of tasks that no service runs any more (stopped by hand, crashed).
            for name in sorted(set(have) - {server_name(x) for x in desired}):
                commands += _removal(backend, name, cut=False)
            if (tg.get("stickiness") or {}).get("enabled"):
                # `add server` gives a server no stickiness cookie: this computes one for
                # each server from its address and the backend's key.
                commands.append(f"enable dynamic-cookie backend {backend}")
            if commands:
                left = _run_checked(container, commands)
                if left:
                    busy.append((container, left))
            for t in added:
                ctx.log(f"{service}: registered {t['id']} ({t['address']}:{t['port']}) "
                        f"in target group {tg_id}")
    for container, left in busy:
        _delete_when_idle(ctx, container, left)


def deregister(client: docker.DockerClient, ctx: FleetContext, service: str,
               attrs: dict[str, Any], task_ids: Iterable[str]) -> None:
    """Drain the servers of tasks about to stop, wait until their connections finish or the
    target group's `deregistration_delay` runs out, then remove them."""
    gone = set(task_ids)
    if not gone:
        return
    draining: list[tuple[Any, str, str, float]] = []  # container, backend, name, deadline
    for lb in attrs.get("load_balancer") or []:
        tg_id = str(lb["target_group"])
        with LOCK:
            current = _published.get(tg_id, {}).get(service)
            if current is None:
                current = [t for t in service_targets(ctx.resources.get(service) or attrs)
                           if t["target_group"] == tg_id]
            _published.setdefault(tg_id, {})[service] = [t for t in current
                                                          if t["id"] not in gone]
            proxy = _proxy_of(client, ctx, tg_id)
            if proxy is None:
                continue
            container, tg = proxy
            backend = backend_name(tg_id)
            delay = float(tg.get("deregistration_delay") or 0)
            try:
                have = servers(container, backend) or {}
                names = [(t, server_name(t)) for t in sorted(gone)
                         if server_name(t) in have]
                _run_checked(container, [f"set server {backend}/{n} state drain"
                                         for _t, n in names])
                for task_id, name in names:
                    draining.append((container, backend, name, time.monotonic() + delay))
                    ctx.log(f"{service}: draining {task_id} from target group {tg_id}")
            except (FgformError, APIError) as exc:
                # The proxy is going away too (a destroy removes both at once): nothing
                # left to drain there.
                ctx.log(f"{service}: cannot drain from target group {tg_id}: {exc}")
    while draining:
        still = []
        done: dict[int, tuple[Any, list[str]]] = {}
        sessions: dict[int, dict[tuple[str, str], int]] = {}
        for container, backend, name, deadline in draining:
            key = id(container)
            try:
                if time.monotonic() < deadline:
                    if key not in sessions:
                        sessions[key] = _sessions(container)
                    if sessions[key].get((backend, name), 0) > 0:
                        still.append((container, backend, name, deadline))
                        continue
            except (FgformError, APIError) as exc:
                ctx.log(f"cannot read the sessions of target {name} in {backend}: {exc}")
            done.setdefault(key, (container, []))[1].append(f"{backend}/{name}")
        for container, names in done.values():
            # The delay is over (or nothing is in flight): what is left is cut.
            commands = [c for s in names for c in _removal(*s.split("/", 1), cut=True)]
            try:
                with LOCK:
                    busy = _run_checked(container, commands)
            except (FgformError, APIError) as exc:
                ctx.log(f"cannot remove targets {', '.join(names)}: {exc}")
                continue
            _delete_when_idle(ctx, container, busy)
        draining = still
        if draining:
            time.sleep(DRAIN_POLL)


def _sessions(container: Any) -> dict[tuple[str, str], int]:
    """Current connections of every server ((backend, server) -> `scur` of `show stat`)."""
    return {k: int(row.get("scur") or 0)
            for k, row in parse_stat(runtime(container, "show stat -1 4 -1")).items()}


def live_targets(client: docker.DockerClient, ctx: FleetContext, attrs: dict[str, Any]
                 ) -> list[dict[str, Any]]:
    """The service's targets as its proxies hold them: a target of a target group with a
    load balancer in this state counts only when that proxy has it (at that address);
    a target group no load balancer forwards to has nothing to hold, so its targets count."""
    out = []
    cache: dict[str, dict[str, dict[str, Any]] | None] = {}
    for t in service_targets(attrs):
        tg_id = t["target_group"]
        has_lb = any(isinstance(lb, dict) and type_of(a) == "fg_load_balancer"
                     and tg_id in used_target_groups(lb) for a, lb in ctx.resources.items())
        if not has_lb:
            out.append(t)
            continue
        if tg_id not in cache:
            proxy = _proxy_of(client, ctx, tg_id)
            try:
                cache[tg_id] = None if proxy is None else servers(proxy[0],
                                                                  backend_name(tg_id))
            except (FgformError, APIError):
                cache[tg_id] = None  # a proxy that does not answer holds no target
        srv = (cache[tg_id] or {}).get(server_name(t["id"]))
        if srv is not None and (srv["address"], srv["port"]) == (t["address"], t["port"]):
            out.append(t)
    return out
