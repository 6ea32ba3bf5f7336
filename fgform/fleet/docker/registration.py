"""Target registration: a service's tasks as servers of its target groups' HAProxy backends,
changed through the runtime API (no reload, so scaling never reloads the proxy).

- `register` makes each target group of a service list exactly the service's given tasks
  (`add server`, then `enable health`/`enable server`; servers of tasks that are gone are
  removed).
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

from docker.errors import APIError, NotFound

from fgform.addresses import AddressError, parse_address
from fgform.errors import FgformError
from fgform.fleet.docker.client import get_client
from fgform.fleet.driver import FleetContext
from fgform.render.haproxy import (
    ADMIN_SOCKET,
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


def _type_of(address: str) -> str | None:
    try:
        return parse_address(address).type
    except (AddressError, ValueError):
        return None


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
            if not isinstance(attrs, dict) or _type_of(address) != "fg_service":
                continue
            for t in service_targets(attrs):
                tg = t["target_group"]
                if tg in out and address not in _published.get(tg, {}):
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


def _proxy_of(ctx: FleetContext, tg_id: str) -> tuple[Any, dict[str, Any]] | None:
    """(container, target group attributes) of the running proxy forwarding to `tg_id`."""
    tg = next((a for addr, a in ctx.resources.items() if isinstance(a, dict)
               and _type_of(addr) == "fg_target_group" and a.get("id") == tg_id), None)
    name = _proxies.get(tg_id) or next(
        (str(lb["id"]) for address, lb in list(ctx.resources.items())
         if isinstance(lb, dict) and _type_of(address) == "fg_load_balancer"
         and lb.get("id") and tg_id in used_target_groups(lb)), None)
    if name is None:
        return None
    try:
        container = get_client().containers.get(name)
    except NotFound:
        return None
    return (container, tg or {}) if container.status == "running" else None


def runtime(container: Any, command: str) -> str:
    """One runtime API command on the proxy's admin socket (inside the container)."""
    from fgform.fleet.docker.load_balancer import socket_command

    return socket_command(container, ADMIN_SOCKET, command)


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


def _checked(container: Any, command: str) -> None:
    text = runtime(container, command).strip()
    if text and not text.startswith(("New server registered", "Server deleted")):
        raise FgformError(f"the load balancer refused {command.split(' ', 2)[:2]}: {text}")


# -- register / deregister --------------------------------------------------------------------
def register(ctx: FleetContext, service: str, attrs: dict[str, Any],
             tasks: list[dict[str, Any]]) -> None:
    """Make every target group of service `service` hold exactly `tasks` of it (each a
    `tasks` attribute entry: id, address), through the runtime API."""
    wanted = service_targets(attrs, tasks)
    for lb in attrs.get("load_balancer") or []:
        tg_id = str(lb["target_group"])
        mine = [t for t in wanted if t["target_group"] == tg_id]
        with LOCK:
            _published.setdefault(tg_id, {})[service] = mine
            proxy = _proxy_of(ctx, tg_id)
            if proxy is None:
                continue  # no proxy yet: its configuration will list these targets
            container, tg = proxy
            backend = backend_name(tg_id)
            have = servers(container, backend)
            if have is None:
                continue  # the proxy is being configured: it renders _published
            desired = {t["id"] for t in targets_of(ctx, [tg_id])[tg_id]}
            for t in mine:
                name = server_name(t["id"])
                srv = have.get(name)
                if srv is not None and (srv["address"], srv["port"]) == (t["address"],
                                                                          t["port"]):
                    if srv["admin"] & 0x1D:  # maint or drain left by an interrupted run
                        _checked(container, f"set server {backend}/{name} state ready")
                    continue
                if srv is not None:
                    _remove(container, backend, name)
                _checked(container, f"add server {backend}/{name} {t['address']}:{t['port']} "
                         f"{server_options(tg)}")
                _checked(container, f"enable health {backend}/{name}")
                _checked(container, f"enable server {backend}/{name}")
                ctx.log(f"{service}: registered {t['id']} ({t['address']}:{t['port']}) "
                        f"in target group {tg_id}")
            # Servers of tasks that no service runs any more (stopped by hand, crashed).
            for name in set(have) - {server_name(x) for x in desired}:
                _remove(container, backend, name)
            if (tg.get("stickiness") or {}).get("enabled"):
                # `add server` gives a server no stickiness cookie: this computes one for
                # each server from its address and the backend's key.
                _checked(container, f"enable dynamic-cookie backend {backend}")


def deregister(ctx: FleetContext, service: str, attrs: dict[str, Any],
               task_ids: Iterable[str]) -> None:
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
            proxy = _proxy_of(ctx, tg_id)
            if proxy is None:
                continue
            container, tg = proxy
            backend = backend_name(tg_id)
            delay = float(tg.get("deregistration_delay") or 0)
            try:
                have = servers(container, backend) or {}
                for task_id in sorted(gone):
                    name = server_name(task_id)
                    if name in have:
                        _checked(container, f"set server {backend}/{name} state drain")
                        draining.append((container, backend, name, time.monotonic() + delay))
                        ctx.log(f"{service}: draining {task_id} from target group {tg_id}")
            except (FgformError, APIError) as exc:
                # The proxy is going away too (a destroy removes both at once): nothing
                # left to drain there.
                ctx.log(f"{service}: cannot drain from target group {tg_id}: {exc}")
    while draining:
        still = []
        for container, backend, name, deadline in draining:
            try:
                if time.monotonic() < deadline and _sessions(container, backend, name) > 0:
                    still.append((container, backend, name, deadline))
                    continue
                with LOCK:
                    _remove(container, backend, name)
            except (FgformError, APIError) as exc:
                ctx.log(f"cannot remove target {name} from {backend}: {exc}")
        draining = still
        if draining:
            time.sleep(DRAIN_POLL)


def _sessions(container: Any, backend: str, name: str) -> int:
    """Current connections of one server (`scur` of `show stat`)."""
    text = runtime(container, "show stat -1 4 -1")
    for line in text.splitlines():
        f = line.split(",")
        if len(f) > 4 and f[0] == backend and f[1] == name:
            return int(f[4] or 0)
    return 0


def _remove(container: Any, backend: str, name: str) -> None:
    """Take a server out for good: maintenance, its remaining sessions cut, deleted."""
    runtime(container, f"set server {backend}/{name} state maint")
    runtime(container, f"shutdown sessions server {backend}/{name}")
    text = runtime(container, f"del server {backend}/{name}").strip()
    if text and not text.startswith(("Server deleted", "No such server")) and \
            "Can't find" not in text:
        raise FgformError(f"the load balancer did not remove target {name}: {text}")


def live_targets(ctx: FleetContext, attrs: dict[str, Any]) -> list[dict[str, Any]]:
    """The service's targets as its proxies hold them: a target of a target group with a
    load balancer in this state counts only when that proxy has it (at that address);
    a target group no load balancer forwards to has nothing to hold, so its targets count."""
    out = []
    cache: dict[str, dict[str, dict[str, Any]] | None] = {}
    for t in service_targets(attrs):
        tg_id = t["target_group"]
        has_lb = any(isinstance(lb, dict) and _type_of(a) == "fg_load_balancer"
                     and tg_id in used_target_groups(lb) for a, lb in ctx.resources.items())
        if not has_lb:
            out.append(t)
            continue
        if tg_id not in cache:
            proxy = _proxy_of(ctx, tg_id)
            try:
                cache[tg_id] = None if proxy is None else servers(proxy[0],
                                                                  backend_name(tg_id))
            except (FgformError, APIError):
                cache[tg_id] = None  # a proxy that does not answer holds no target
        srv = (cache[tg_id] or {}).get(server_name(t["id"]))
        if srv is not None and (srv["address"], srv["port"]) == (t["address"], t["port"]):
            out.append(t)
    return out
