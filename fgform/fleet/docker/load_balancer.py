"""fg_load_balancer: an HAProxy container per load balancer on its cluster's network.

- The proxy image `fgform/haproxy:<ver>` is built from `images/haproxy/` on first use
  (`<ver>` is the content hash of that directory); the `image` attribute overrides it.
- The container runs HAProxy in master-worker mode: the master (root inside the container,
  every capability dropped but binding low ports, switching user and signalling its
  workers) re-reads the configuration on `reload`; workers run as the `haproxy` user. Each
  listener's port is published on `bind_address` at the same port. The master and runtime
  (admin) sockets live in /run/haproxy inside the container and are reached only through
  `docker exec`: never published.
- Configuration changes: the new file is written next to the live one, checked with
  `haproxy -c`, and only then moved over it and loaded with the master's hitless `reload`.
  A configuration HAProxy rejects fails the apply with HAProxy's own message and leaves the
  old one serving. Changing the set of listener ports needs other published ports, so it
  replaces the container (the only change that is not hitless).
- `id` and `dns_name` are the container name, which tasks on the cluster network resolve;
  `endpoints` are the URLs the host reaches each listener at.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import time
from pathlib import Path
from typing import Any

import docker
from docker.errors import APIError, NotFound

from fgform.addresses import Address
from fgform.config.schema import endpoint_url
from fgform.context_hash import context_sha256
from fgform.errors import FgformError
from fgform.fleet.docker import labels as L
from fgform.fleet.docker import registration
from fgform.fleet.docker.build import ensure_builtin_image
from fgform.fleet.docker.client import DockerDriver
from fgform.fleet.docker.lookup import find_cluster, type_of
from fgform.fleet.docker.proxy import READY_TIMEOUT, apply_config, wait_master
from fgform.fleet.driver import FleetContext
from fgform.fleet.haproxy import (
    RenderError,
    render_haproxy_config,
    used_target_groups,
)

KIND = "load-balancer"
IMAGE_DIR = Path(__file__).parent / "images" / "haproxy"
IMAGE_REPO = "fgform/haproxy"
# Enough to bind low ports, drop to the haproxy user and signal workers; nothing else.
CAPABILITIES = ["NET_BIND_SERVICE", "SETUID", "SETGID", "KILL"]


def object_name(ctx: FleetContext, addr: Address) -> str:
    """`fgform-lb-<lineage8>-<name>`: the container's name, also its `id` and `dns_name`."""
    rest = str(addr).replace(f"{addr.type}.", "", 1)
    slug = re.sub(r"[^a-zA-Z0-9_.-]+", "-", rest).strip("-.") or "lb"
    return f"fgform-lb-{ctx.lineage[:8]}-{slug}"


def listener_ports(attrs: dict[str, Any]) -> list[int]:
    return [int(x["port"]) for x in attrs.get("listener") or []]


def proxy_image_tag() -> str:
    """`fgform/haproxy:<ver>`: versioned by the content of the image directory."""
    return f"{IMAGE_REPO}:{context_sha256(IMAGE_DIR)[:12]}"


def ensure_proxy_image(client: docker.DockerClient, ctx: FleetContext) -> str:
    """The built-in proxy image, built when missing."""
    return ensure_builtin_image(client, ctx, IMAGE_DIR, proxy_image_tag(), KIND,
                                "load balancer")


# -- what the configuration is made of --------------------------------------------------------
def target_groups_of(ctx: FleetContext, lb: dict[str, Any],
                     override: dict[str, dict[str, Any]] | None = None
                     ) -> dict[str, dict[str, Any]]:
    """The attributes of every target group the load balancer forwards to, by id (from
    ctx.resources; `override` wins, for a target group being updated right now)."""
    known = {str(a["id"]): a for addr, a in ctx.resources.items()
             if isinstance(a, dict) and type_of(addr) == "fg_target_group" and a.get("id")}
    known.update(override or {})
    return {t: known[t] for t in used_target_groups(lb) if t in known}


def render_for(ctx: FleetContext, lb: dict[str, Any], name: str,
               override: dict[str, dict[str, Any]] | None = None) -> str:
    """The HAProxy configuration of load balancer container `name`, from this run's state."""
    tgs = target_groups_of(ctx, lb, override)
    try:
        return render_haproxy_config({**lb, "name": lb.get("name") or name}, tgs,
                                     registration.targets_of(ctx, list(tgs)))
    except RenderError as exc:
        raise FgformError(f"cannot configure the load balancer: {exc}",
                          hint="Forward only to fg_target_group ids (fg_target_group.NAME.id)."
                          ) from exc


def _wait_listening(bind: str, ports: list[int]) -> None:
    """Until each published listener accepts a connection."""
    host = "127.0.0.1" if ipaddress.ip_address(bind).is_unspecified else bind
    deadline = time.monotonic() + READY_TIMEOUT
    for port in ports:
        while True:
            try:
                with socket.create_connection((host, port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise FgformError(f"the load balancer does not listen on {host}:{port}"
                                      ) from None
                time.sleep(0.05)


def start_proxy(container: Any, addr: Address, bind: str, name: str) -> None:
    """Start a load balancer's proxy container; a listener port taken on `bind` is an error
    that says so."""
    try:
        container.start()
    except APIError as exc:
        explanation = str(exc.explanation or exc)
        if "already allocated" in explanation or "address already in use" in explanation:
            raise FgformError(
                f"a listener port of {addr} is already in use on {bind}",
                hint="choose another listener port, or stop what listens there",
            ) from exc
        raise FgformError(f"the proxy container {name} failed to start: "
                          f"{explanation}") from exc


def _container_config(attrs: dict[str, Any]) -> dict[str, Any]:
    """What the container itself is made from (its config-hash label): a change of any of
    these needs a new container; everything else is a configuration reload."""
    return {"bind_address": attrs.get("bind_address"), "image": attrs.get("image"),
            "ports": sorted(listener_ports(attrs)), "cluster": attrs.get("cluster")}


class LoadBalancerDriver(DockerDriver):
    """An HAProxy container per load balancer; configuration changes are hitless reloads."""

    type_name = "fg_load_balancer"

    def read(self, ctx: FleetContext, items: dict[Address, dict[str, Any]]
             ) -> dict[Address, dict[str, Any] | None]:
        containers = L.containers_by_address(self.client, ctx, KIND)
        out: dict[Address, dict[str, Any] | None] = {}
        for addr, prior in items.items():
            c = containers.get(str(addr))
            # A stopped proxy, or one made for other ports or another image, serves nothing
            # of what state says: gone, so the plan makes it again.
            if c is None or c.get("State") != "running" or \
                    not L.made_from(c.get("Labels"), _container_config(prior)):
                out[addr] = None
                continue
            out[addr] = dict(prior)
        return out

    def create(self, ctx: FleetContext, addr: Address, planned: dict[str, Any]
               ) -> dict[str, Any]:
        client = self.client
        name = object_name(ctx, addr)
        cluster = find_cluster(ctx, str(planned["cluster"]))
        bind = str(planned.get("bind_address") or "127.0.0.1")
        ports = listener_ports(planned)
        image = planned.get("image") or ensure_proxy_image(client, ctx)
        L.remove_leftover(client, ctx, name, "load balancer")
        container = client.containers.create(
            image, name=name, detach=True,
            labels=L.base_labels(ctx, addr, kind=KIND, attrs=_container_config(planned)),
            network=cluster["network_name"],
            ports={f"{p}/tcp": (bind, p) for p in ports},
            cap_drop=["ALL"], cap_add=CAPABILITIES, security_opt=["no-new-privileges"],
            restart_policy={"Name": "unless-stopped"},
            init=True,  # stop() returns at once instead of waiting out SIGTERM
        )
        try:
            start_proxy(container, addr, bind, name)
            wait_master(container)
            # Under the registration lock: a service registering targets meanwhile either
            # did so before the render (which lists them) or waits and finds this proxy.
            with registration.LOCK:
                apply_config(container, render_for(ctx, planned, name))
                registration.proxy_configured(planned, name)
            _wait_listening(bind, ports)
        except BaseException:
            # Nothing in state will name a half-made proxy: never leave it behind.
            container.remove(force=True)
            raise
        ctx.log(f"load balancer {name} serving at "
                + ", ".join(endpoint_url(bind, p) for p in ports))
        return self._attrs(planned, name, bind)

    def update(self, ctx: FleetContext, addr: Address, prior: dict[str, Any],
               planned: dict[str, Any]) -> dict[str, Any]:
        container = self._container(self.client, prior.get("id") or object_name(ctx, addr))
        if container is None or _container_config(prior) != _container_config(planned):
            # New ports need a new container (published ports are fixed at creation).
            self.delete(ctx, addr, prior, replacing=True)
            return self.create(ctx, addr, planned)
        with registration.LOCK:
            if apply_config(container, render_for(ctx, planned, container.name)):
                ctx.log(f"load balancer {container.name} reloaded its configuration")
            registration.proxy_configured(prior, None)
            registration.proxy_configured(planned, container.name)
        return self._attrs(planned, container.name, str(planned.get("bind_address")))

    def delete(self, ctx: FleetContext, addr: Address, prior: dict[str, Any], *,
               replacing: bool) -> None:
        container = self._container(self.client, prior.get("id") or object_name(ctx, addr))
        with registration.LOCK:
            registration.proxy_configured(prior, None)
        if container is not None and container.labels.get(L.LINEAGE) == ctx.lineage:
            container.remove(force=True)

    # -- helpers ---------------------------------------------------------------------------
    @staticmethod
    def _attrs(planned: dict[str, Any], name: str, bind: str) -> dict[str, Any]:
        return {**planned, "id": name, "dns_name": name,
                "endpoints": [endpoint_url(bind, p) for p in listener_ports(planned)]}

    @staticmethod
    def _container(client: docker.DockerClient, name: str) -> Any:
        try:
            return client.containers.get(name)
        except NotFound:
            return None


def reconfigure_for_target_group(client: docker.DockerClient, ctx: FleetContext,
                                 tg: dict[str, Any]) -> None:
    """Reload every load balancer of this run that forwards to target group `tg`, with its
    new attributes (a health check or algorithm changed): the load balancer's own
    attributes did not change, so its driver is not called."""
    for address, lb in list(ctx.resources.items()):
        if not isinstance(lb, dict) or type_of(address) != "fg_load_balancer" or \
                tg.get("id") not in used_target_groups(lb) or not lb.get("id"):
            continue
        if _cluster_engine(ctx, lb) == "swarm":
            continue  # fleet/swarm/load_balancer.py renders those (targets through DNS)
        container = LoadBalancerDriver._container(client, str(lb["id"]))
        if container is None or container.status != "running":
            continue
        with registration.LOCK:
            if apply_config(container, render_for(ctx, lb, container.name,
                                                 {str(tg["id"]): tg})):
                ctx.log(f"load balancer {container.name} reloaded for target group "
                        f"{tg['id']}")



def _cluster_engine(ctx: FleetContext, lb: dict[str, Any]) -> str | None:
    """The `engine` of the load balancer's cluster (None when not known)."""
    for address, attrs in ctx.resources.items():
        if isinstance(attrs, dict) and type_of(address) == "fg_cluster" \
                and attrs.get("id") == lb.get("cluster"):
            return attrs.get("engine")
    return None
