"""fg_load_balancer on a Docker Swarm: the same HAProxy container as on the local engine, on
the manager, finding its targets through Docker's embedded DNS instead of registration.

- The proxy container runs on the engine fgform talks to (the swarm's manager), publishes
  each listener on `bind_address` as on the local backend, and joins the cluster's overlay
  network (attachable), so it reaches tasks on every node. The swarm's routing mesh and
  service VIPs are not used (they need IPVS).
- Each target group's backend has, for every fg_service of the load balancer's cluster with a
  `load_balancer` block naming that target group, a `server-template` of `slots` servers
  resolving `tasks.<swarm service name>:<container_port>` through the `resolvers` section
  (Docker's DNS at 127.0.0.11): one A record per running task. Swarm adds a task's record
  when it starts and removes it when the task stops or its node is lost; HAProxy re-resolves
  every second, so targets follow the service with no registration call and no reload.
- Listeners, rules, health checks (`inter`/`fall`/`rise` from the target group), stickiness
  and weighted forwards are rendered by the same code as on the local backend
  (`fleet/haproxy.py`), so both behave alike.
- The configuration changes only when state does: a load balancer, a target group, or a
  service's `load_balancer` blocks or `desired_count` (the number of slots). The service
  driver tells this module (`service_changed`) and the proxies concerned reload (hitless:
  the servers' resolved addresses and health are saved to a server-state file first and
  read back by the new workers).
- Draining: see `docs/swarm.md`. A task leaving DNS puts its slot in maintenance at the
  next resolution: no new request goes to it, requests in flight finish (HAProxy does not
  cut them); Swarm stops the task meanwhile (its stop grace period plays the role of ALB's
  deregistration delay). A task that dies or is lost with its node fails its health checks
  and is marked down after `unhealthy_threshold` of them (or at its first failed
  connection): no new request goes to it. Requests already sent to a task lost with its
  node get no answer; HAProxy retries them on another task when `timeout server` strikes
  (`retry-on response-timeout`). `on-marked-down shutdown-sessions` would end them sooner,
  but HAProxy applies it to a slot put in maintenance too, which would cut the requests
  of every task leaving DNS gracefully: draining wins.
"""

from __future__ import annotations

import math
import threading
from typing import Any

import docker
from docker.errors import APIError, NotFound

from fgform.addresses import Address
from fgform.config.schema.load_balancer import endpoint_url
from fgform.errors import FgformError
from fgform.fleet.docker import labels as L
from fgform.fleet.docker.load_balancer import (
    CAPABILITIES,
    LoadBalancerDriver,
    _container_config,
    _wait_listening,
    ensure_proxy_image,
    listener_ports,
    object_name,
    start_proxy,
    target_groups_of,
)
from fgform.fleet.docker.lookup import find_cluster, type_of
from fgform.fleet.docker.proxy import apply_config, wait_master
from fgform.fleet.driver import FleetContext
from fgform.fleet.haproxy import ADMIN_SOCKET, RenderError, render_haproxy_config
from fgform.fleet.haproxy import used_target_groups as used_target_groups
from fgform.fleet.swarm.naming import swarm_service_name

KIND = "load-balancer"
SWARM_ENGINE = "swarm"
STATE_FILE = "/etc/haproxy/fgform/servers.state"
# Every server-template has at least this many slots: room for a scale-out or a DAEMON
# service's one task per node without a reload.
MIN_SLOTS = 10
# Docker's embedded DNS, on every user-defined network. Re-resolved every second: a task
# that stops leaves its slot within about a second. `hold valid`: the last answer stays in
# use while the DNS server does not answer (10 s, HAProxy's default). `hold nx`/`obsolete`
# 0: a service with no task left (NXDOMAIN) or a task gone from the answer loses its slot
# at once, instead of being sent requests for HAProxy's default 30 s. The payload size lets
# a big service's answer (16 bytes an address) fit in one UDP reply (512 bytes: 29).
RESOLVERS: dict[str, Any] = {
    "nameserver": "127.0.0.11:53",
    "state_file": STATE_FILE,
    "accepted_payload_size": 8192,
    "resolve_retries": 3,
    "timeout resolve": "1s",
    "timeout retry": "1s",
    "hold valid": "10s",
    "hold obsolete": "0s",
    "hold nx": "0s",
    "hold other": "10s",
    "hold refused": "10s",
    "hold timeout": "10s",
}

# Services changed in this process (address -> attributes; None: deleted), newer than
# ctx.resources, and the proxy container configured for each target group: under _LOCK,
# which the driver also holds while it renders and loads a configuration, so whichever of a
# service and a load balancer is applied second sees the other (they have no order).
_LOCK = threading.RLock()
_services: dict[str, dict[str, Any] | None] = {}
_proxies: dict[str, tuple[str, dict[str, Any]]] = {}


def on_swarm(ctx: FleetContext, lb: dict[str, Any]) -> bool:
    """Whether load balancer `lb` is on a swarm cluster (its cluster's `engine`)."""
    try:
        return find_cluster(ctx, str(lb.get("cluster"))).get("engine") == SWARM_ENGINE
    except FgformError:
        return False


def slots(service: dict[str, Any]) -> int:
    """Server-template slots for a service: every task it may run during a deployment
    (desired_count times `maximum_percent`, ECS's 200% by default), at least MIN_SLOTS."""
    desired = int(service.get("desired_count") or 0)
    dep = (service.get("deployment") or [{}])
    dep = dep[0] if isinstance(dep, list) and dep else dep if isinstance(dep, dict) else {}
    peak = math.ceil(desired * int(dep.get("maximum_percent") or 200) / 100)
    return max(MIN_SLOTS, peak)


def _services_of(ctx: FleetContext) -> dict[str, dict[str, Any]]:
    """Every service's attributes by address: state and this run, then what service drivers
    reported in this process (newer), without the deleted ones."""
    out = {a: attrs for a, attrs in ctx.resources.items()
           if isinstance(attrs, dict) and type_of(a) == "fg_service"}
    with _LOCK:
        for address, attrs in _services.items():
            if attrs is None:
                out.pop(address, None)
            else:
                out[address] = attrs
    return out


def templates_of(ctx: FleetContext, lb: dict[str, Any], tg_ids: list[str]
                 ) -> dict[str, list[dict[str, Any]]]:
    """The server templates of each target group: one per service of the load balancer's
    cluster forwarding to it (`load_balancer` blocks), sorted by service."""
    out: dict[str, list[dict[str, Any]]] = {t: [] for t in tg_ids}
    for _address, svc in sorted(_services_of(ctx).items()):
        if svc.get("cluster") != lb.get("cluster") or not svc.get("id"):
            continue  # another cluster's tasks are not on this overlay network
        name = swarm_service_name(ctx.lineage, str(svc["id"]))
        for block in svc.get("load_balancer") or []:
            tg = str(block.get("target_group"))
            if tg in out:
                out[tg].append({"prefix": f"{name}-", "count": slots(svc),
                                "fqdn": f"tasks.{name}",
                                "port": int(block["container_port"])})
    return out


def render_for(ctx: FleetContext, lb: dict[str, Any], name: str,
               override: dict[str, dict[str, Any]] | None = None) -> str:
    """The HAProxy configuration of swarm load balancer container `name`, from this run's
    state (`override`: target group attributes being updated right now)."""
    tgs = target_groups_of(ctx, lb, override)
    try:
        return render_haproxy_config({**lb, "name": lb.get("name") or name}, tgs,
                                     templates=templates_of(ctx, lb, list(tgs)),
                                     resolvers=RESOLVERS)
    except RenderError as exc:
        raise FgformError(f"cannot configure the load balancer: {exc}",
                          hint="Forward only to fg_target_group ids (fg_target_group.NAME.id)."
                          ) from exc


def save_server_state(container: Any) -> None:
    """Write the running servers' state (each slot's address and health) where the next
    configuration's workers read it (`server-state-file`), so a reload keeps targets up."""
    script = (f'echo "show servers state" | socat -t 5 - UNIX-CONNECT:{ADMIN_SOCKET} '
              f'> {STATE_FILE}.new && mv {STATE_FILE}.new {STATE_FILE}')
    code, out = container.exec_run(["sh", "-c", script], user="root")
    if code != 0:
        raise FgformError(f"cannot save the proxy's server state: "
                          f"{out.decode(errors='replace').strip()}")


def install(container: Any, text: str) -> bool:
    """Load configuration `text` into the proxy (hitless reload, servers' state kept);
    False when it is already the live one."""
    code, live = container.exec_run(["cat", "/etc/haproxy/haproxy.cfg"])
    if code == 0 and live.decode(errors="replace") == text:
        return False
    save_server_state(container)
    return apply_config(container, text)


def _container(client: docker.DockerClient, name: str) -> Any:
    try:
        return client.containers.get(name)
    except NotFound:
        return None


def _configured(lb: dict[str, Any], name: str | None) -> None:
    """Under _LOCK: the proxy `name` now serves the target groups of `lb` (None: gone)."""
    for tg in used_target_groups(lb):
        if name is None:
            _proxies.pop(tg, None)
        else:
            _proxies[tg] = (name, {**lb, "id": name})


class SwarmLoadBalancerDriver:
    """fg_load_balancer on a swarm cluster: the HAProxy container on the manager, on the
    cluster's overlay network, its targets found through DNS (`tasks.<service>`). Same
    attributes as the local driver, so plans read the same."""

    type_name = "fg_load_balancer"

    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client

    # The proxy container is found, and judged stale, exactly as the local one's.
    read = LoadBalancerDriver.read

    def create(self, ctx: FleetContext, addr: Address, planned: dict[str, Any]
               ) -> dict[str, Any]:
        client = self.client
        name = object_name(ctx, addr)
        cluster = find_cluster(ctx, str(planned["cluster"]))
        network = cluster.get("network_name")
        if not network:
            raise FgformError(f"the cluster of {addr} has no overlay network yet")
        bind = str(planned.get("bind_address") or "127.0.0.1")
        ports = listener_ports(planned)
        image = planned.get("image") or ensure_proxy_image(client, ctx)
        L.remove_leftover(client, ctx, name, "load balancer")
        try:
            container = client.containers.create(
                image, name=name, detach=True,
                labels=L.base_labels(ctx, addr, kind=KIND, attrs=_container_config(planned)),
                network=network,
                ports={f"{p}/tcp": (bind, p) for p in ports},
                cap_drop=["ALL"], cap_add=CAPABILITIES, security_opt=["no-new-privileges"],
                restart_policy={"Name": "unless-stopped"},
                init=True,
            )
        except APIError as exc:
            raise FgformError(f"the proxy container {name} cannot be made on network "
                              f"{network}: {exc.explanation or exc}",
                              hint="The cluster's overlay network must be attachable.") from exc
        try:
            start_proxy(container, addr, bind, name)
            wait_master(container)
            with _LOCK:
                install(container, render_for(ctx, planned, name))
                _configured(planned, name)
            _wait_listening(bind, ports)
        except BaseException:
            container.remove(force=True)
            raise
        ctx.log(f"load balancer {name} serving at "
                + ", ".join(endpoint_url(bind, p) for p in ports))
        return _attrs(planned, name, bind)

    def update(self, ctx: FleetContext, addr: Address, prior: dict[str, Any],
               planned: dict[str, Any]) -> dict[str, Any]:
        container = _container(self.client, prior.get("id") or object_name(ctx, addr))
        if container is None or _container_config(prior) != _container_config(planned):
            self.delete(ctx, addr, prior, replacing=True)
            return self.create(ctx, addr, planned)
        with _LOCK:
            if install(container, render_for(ctx, planned, container.name)):
                ctx.log(f"load balancer {container.name} reloaded its configuration")
            _configured(prior, None)
            _configured(planned, container.name)
        return _attrs(planned, container.name, str(planned.get("bind_address")))

    def delete(self, ctx: FleetContext, addr: Address, prior: dict[str, Any], *,
               replacing: bool) -> None:
        container = _container(self.client, prior.get("id") or object_name(ctx, addr))
        with _LOCK:
            _configured(prior, None)
        if container is not None and container.labels.get(L.LINEAGE) == ctx.lineage:
            container.remove(force=True)


def _attrs(planned: dict[str, Any], name: str, bind: str) -> dict[str, Any]:
    return {**planned, "id": name, "dns_name": name,
            "endpoints": [endpoint_url(bind, p) for p in listener_ports(planned)]}


def _swarm_balancers(ctx: FleetContext) -> list[dict[str, Any]]:
    """The load balancers of this run on swarm clusters that have a proxy."""
    return [lb for a, lb in list(ctx.resources.items())
            if isinstance(lb, dict) and type_of(a) == "fg_load_balancer" and lb.get("id")
            and on_swarm(ctx, lb)]


def _reload(client: docker.DockerClient, ctx: FleetContext, lb: dict[str, Any], name: str,
            why: str, override: dict[str, dict[str, Any]] | None = None) -> None:
    container = _container(client, name)
    if container is None or container.status != "running":
        return
    if install(container, render_for(ctx, lb, name, override)):
        ctx.log(f"load balancer {name} reloaded for {why}")


def service_changed(client: docker.DockerClient, ctx: FleetContext, address: str,
                    attrs: dict[str, Any] | None, prior: dict[str, Any] | None = None) -> None:
    """Called by the swarm service driver when a service's `load_balancer` blocks or
    `desired_count` may have changed: after create and update (`attrs`, the new attributes)
    and after delete (`attrs` None). Reloads the proxies forwarding to its target groups
    (old and new) when their configuration changes; targets themselves need no call."""
    tgs = {str(b.get("target_group")) for s in (attrs, prior, ctx.resources.get(address))
           if isinstance(s, dict) for b in s.get("load_balancer") or []}
    with _LOCK:
        _services[address] = attrs
        balancers = {str(lb["id"]): lb for lb in _swarm_balancers(ctx)}
        # Load balancers configured in this process but not yet in ctx.resources (their
        # create has not returned).
        for tg in tgs:
            if tg in _proxies:
                balancers.setdefault(_proxies[tg][0], _proxies[tg][1])
        for name, lb in sorted(balancers.items()):
            if tgs & set(used_target_groups(lb)):
                _reload(client, ctx, lb, name, f"service {address}")


def reconfigure_for_target_group(client: docker.DockerClient, ctx: FleetContext,
                                 tg: dict[str, Any]) -> None:
    """Reload every swarm load balancer of this run that forwards to target group `tg`, with
    its new attributes (the local engine's function of the same name skips these)."""
    with _LOCK:
        for lb in _swarm_balancers(ctx):
            if tg.get("id") in used_target_groups(lb):
                _reload(client, ctx, lb, str(lb["id"]), f"target group {tg['id']}",
                        {str(tg["id"]): tg})
