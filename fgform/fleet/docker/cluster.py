"""fg_cluster: a user-defined bridge network (the VPC subnet) plus bookkeeping of capacity.

The network `fgform-<name>` has the IPAM subnet `cidr_block`; tasks of the cluster join it.
Capacity ("instances") has no Docker object: `instances(attrs)` turns the `capacity` block
into the list the capacity manager places tasks on; `instance_address` is the loopback
address an instance publishes its tasks' host ports on. `id` is the cluster name (as an ECS
cluster is addressed by name); `network_name` is the Docker network.
"""

from __future__ import annotations

import ipaddress
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import docker
from docker.errors import APIError, NotFound
from docker.types import IPAMConfig, IPAMPool

from fgform.addresses import Address
from fgform.errors import FgformError
from fgform.fleet.docker import labels as L
from fgform.fleet.docker.client import DockerDriver
from fgform.fleet.docker.live_tasks import CONTAINER_INDEX, KIND_RUN_TASK
from fgform.fleet.driver import FleetContext

KIND = "cluster"
NETWORK_PREFIX = "fgform-"

_host_lock = threading.Lock()
_host: tuple[int, int] | None = None


def cluster_name(addr: Address | None, attrs: dict[str, Any]) -> str:
    """The `name` attribute, else a name derived from the whole address: `main`, `main-0`,
    `module.a.main`, `module.m-x.main-0` (module path and keys folded into Docker's name
    alphabet), so instances of one resource in different modules or under different keys
    never share a network."""
    if attrs.get("name"):
        return str(attrs["name"])
    if addr is None:
        raise FgformError("a cluster needs a name")
    return default_name(addr)


def _step(name: str, key: object) -> str:
    return name if key is None else f"{name}-{key}"


def default_name(addr: Address) -> str:
    """`addr` without its resource type, as a Docker-safe name (see `cluster_name`)."""
    parts = [f"module.{_step(s.name, s.key)}" for s in addr.module]
    parts.append(_step(addr.name, addr.key))
    slug = re.sub(r"[^a-zA-Z0-9_.-]+", "-", ".".join(parts)).strip("-.")
    return slug or addr.type


def network_name(name: str) -> str:
    return f"{NETWORK_PREFIX}{name}"


def host_size(client: docker.DockerClient) -> tuple[int, int]:
    """(CPU units, memory MiB) of the Docker host, from `docker info`; cached per process."""
    global _host
    with _host_lock:
        if _host is None:
            info = client.info()
            _host = (1024 * int(info["NCPU"]), int(info["MemTotal"]) // (1024 * 1024))
        return _host


def instances(client: docker.DockerClient, attrs: dict[str, Any]) -> list[dict[str, Any]]:
    """The cluster's instances: `[{"id": "i-0", "cpu": ..., "memory": ...}, ...]`.

    Without a `capacity` block: one instance the size of the Docker host. With one, sizes not
    given default to an equal share of the host, so the fleet never claims more than the
    machine has unless the user says so.
    """
    cap = attrs.get("capacity") or {}
    count = int(cap.get("instance_count") or 1)
    cpu, memory = cap.get("instance_cpu"), cap.get("instance_memory")
    if cpu is None or memory is None:
        host_cpu, host_mem = host_size(client)
        cpu = cpu if cpu is not None else host_cpu // count
        memory = memory if memory is not None else host_mem // count
    return [{"id": f"i-{k}", "cpu": int(cpu), "memory": int(memory)} for k in range(count)]


# Instance i-K publishes its tasks' host ports on this address plus K: every address of
# 127.0.0.0/8 reaches the loopback interface on Linux, with no set-up.
LOOPBACK_BASE = ipaddress.IPv4Address("127.0.0.1")


def instance_address(instance_id: str) -> str:
    """The host address instance `i-K` publishes host ports on: 127.0.0.1 for i-0,
    127.0.0.2 for i-1, and so on. A single-instance cluster publishes on 127.0.0.1, as a
    plain `docker run -p 127.0.0.1:...` does; instance K of every cluster shares its address,
    so their host ports are one resource (the capacity manager checks the whole engine)."""
    tail = instance_id.rpartition("-")[2]
    return str(LOOPBACK_BASE + int(tail)) if tail.isdigit() else str(LOOPBACK_BASE)


def _subnets(net_attrs: dict[str, Any]) -> list[str]:
    return [c["Subnet"] for c in ((net_attrs.get("IPAM") or {}).get("Config") or [])
            if c.get("Subnet")]


def _overlap(client: docker.DockerClient, cidr: str) -> tuple[str, str] | None:
    """(network, subnet) of an existing Docker network whose subnet overlaps `cidr`."""
    want = ipaddress.ip_network(cidr, strict=False)
    for net in client.networks.list():
        for subnet in _subnets(net.attrs):
            try:
                if ipaddress.ip_network(subnet, strict=False).overlaps(want):
                    return net.name, subnet
            except ValueError:
                continue
    return None


class ClusterDriver(DockerDriver):
    """The cluster network; capacity and placement are attributes only."""

    type_name = "fg_cluster"

    def read(self, ctx: FleetContext, items: dict[Address, dict[str, Any]]
             ) -> dict[Address, dict[str, Any] | None]:
        # One list call for every item: this lineage's networks by address, and (for what
        # an `import` adopted, labelled otherwise or not at all) every network by name.
        every = self.client.networks.list()
        nets = {}
        for n in every:
            labels = n.attrs.get("Labels") or {}
            if (labels.get(L.MANAGED) == "true" and labels.get(L.LINEAGE) == ctx.lineage
                    and labels.get(L.KIND) == KIND):
                nets[labels.get(L.ADDRESS)] = n
        adopted = self._adopted(ctx, items, nets, {n.name: n for n in every})
        out: dict[Address, dict[str, Any] | None] = {}
        for addr, prior in items.items():
            net = nets.get(str(addr)) or adopted.get(addr)
            if net is None:
                out[addr] = None
                continue
            live = dict(prior)
            # A network labelled with the hash of the configuration in state was made from it:
            # its subnet is the state's cidr_block. Any other network under this address shows
            # its real subnet, so the plan replaces it.
            subnets = _subnets(net.attrs)
            if not L.made_from(net.attrs.get("Labels"), _config(prior)) and subnets:
                live["cidr_block"] = subnets[0]
            live["network_name"] = net.name
            out[addr] = live
        return out

    def _adopted(self, ctx: FleetContext, items: dict[Address, dict[str, Any]],
                 labelled: dict[Any, Any], by_name: dict[str, Any]) -> dict[Address, Any]:
        """Networks an `import` adopted: not labelled for their address in this lineage, so
        found by the name state records."""
        missing = {addr: prior.get("network_name") for addr, prior in items.items()
                   if str(addr) not in labelled and prior.get("network_name")}
        return {addr: by_name[name] for addr, name in missing.items()
                if name in by_name and _adoptable(ctx, by_name[name].attrs.get("Labels"))}

    def import_object(self, ctx: FleetContext, addr: Address, ident: str
                      ) -> dict[str, Any] | None:
        """The attributes of an existing network named (or with the id) `ident`, made by
        fgform (any state) or not: `name` is the network name without `fgform-` (null when
        that is the name the address would get anyway), `cidr_block` its first subnet."""
        try:
            net = self.client.api.inspect_network(ident)
        except NotFound:
            return None
        if net.get("Name") != ident and not str(net.get("Id", "")).startswith(ident):
            return None  # Docker matched a prefix of another network's name
        if not _adoptable(ctx, net.get("Labels")) and (net.get("Labels") or {}).get(
                L.ADDRESS) != str(addr):
            raise FgformError(f"network {net['Name']} is already managed by "
                              f"{net['Labels'].get(L.ADDRESS)} in this state")
        full = str(net["Name"])
        name: str | None = full.removeprefix(NETWORK_PREFIX)
        if full == network_name(default_name(addr)):
            name = None
        subnets = _subnets(net)
        return {"name": name, "cidr_block": subnets[0] if subnets else None,
                "placement_strategy": "spread", "capacity": None,
                "id": cluster_name(addr, {"name": name}), "network_name": full}

    def create(self, ctx: FleetContext, addr: Address, planned: dict[str, Any]
               ) -> dict[str, Any]:
        client = self.client
        name = cluster_name(addr, planned)
        net_name = network_name(name)
        cidr = str(planned.get("cidr_block") or "10.213.0.0/24")
        config = _config({"name": planned.get("name"), "cidr_block": cidr})  # as returned
        self._remove_leftover(client, ctx, addr, net_name)
        clash = _overlap(client, cidr)
        if clash is not None:
            raise FgformError(
                f"cidr_block {cidr} overlaps subnet {clash[1]} of Docker network {clash[0]}",
                hint="choose a cidr_block that no other Docker network uses",
            )
        try:
            net = client.networks.create(
                net_name, driver="bridge", check_duplicate=True,
                ipam=IPAMConfig(pool_configs=[IPAMPool(subnet=cidr)]),
                labels=L.base_labels(ctx, addr, attrs=config, kind=KIND, **{L.CLUSTER: name}),
            )
        except APIError as exc:
            # A race with another network being created, or a subnet Docker refuses.
            raise FgformError(f"cannot create network {net_name} with subnet {cidr}: "
                              f"{exc.explanation or exc}") from exc
        ctx.log(f"network {net_name} ({cidr}) created: {net.short_id}")
        return {**planned, "name": planned.get("name"), "cidr_block": cidr, "id": name,
                "network_name": net_name}

    def update(self, ctx: FleetContext, addr: Address, prior: dict[str, Any],
               planned: dict[str, Any]) -> dict[str, Any]:
        # capacity and placement_strategy are bookkeeping; name and cidr force replacement.
        return {**planned, "id": prior["id"], "network_name": prior["network_name"]}

    def delete(self, ctx: FleetContext, addr: Address, prior: dict[str, Any], *,
               replacing: bool) -> None:
        net_name = prior.get("network_name") or network_name(cluster_name(addr, prior))
        _remove_one_off_tasks(self.client, ctx, str(prior.get("id") or cluster_name(addr, prior)))
        # Only this address's network: by name AND labels, removed by its id. A network of
        # that name owned by another address (or state) is not ours to delete.
        # An imported network (a plain one, or another state's) is this address's too.
        for net in _named(self.client, net_name):
            labels = net.get("Labels") or {}
            if labels.get(L.LINEAGE) == ctx.lineage and labels.get(L.ADDRESS) == str(addr) \
                    or _adoptable(ctx, labels):
                remove_network(self.client, net["Id"], ctx.log, name=net_name)

    @staticmethod
    def _remove_leftover(client: docker.DockerClient, ctx: FleetContext, addr: Address,
                         net_name: str) -> None:
        """A network of this name left by an interrupted apply of this very address is
        replaced; anyone else's (another address of this state included) is an error: names
        are global on the engine."""
        for old in _named(client, net_name):
            labels = old.get("Labels") or {}
            if labels.get(L.LINEAGE) != ctx.lineage:
                raise FgformError(f"a Docker network named {net_name} already exists and is "
                                  "not managed by this state",
                                  hint="give the cluster another name")
            owner = labels.get(L.ADDRESS) or "an unknown resource"
            if owner != str(addr):
                raise FgformError(f"network {net_name} is in use by {owner}",
                                  hint="give one of the clusters another name")
            ctx.log(f"removing leftover network {net_name}")
            remove_network(client, old["Id"], ctx.log, name=net_name)


def _remove_one_off_tasks(client: docker.DockerClient, ctx: FleetContext, cluster: str
                          ) -> None:
    """The cluster's one-off tasks of this state go with it: those RunTask (the API) keeps
    after they exit, for DescribeTasks, and any still running. One list call."""
    rows = client.api.containers(all=True, filters=L.label_filter(
        ctx, kind=KIND_RUN_TASK, **{L.CLUSTER: cluster}))
    # The containers that joined a task's namespace before the one that owns it.
    for row in sorted(rows, key=lambda r: -int((r.get("Labels") or {}).get(
            CONTAINER_INDEX, "0") or 0)):
        try:
            client.api.remove_container(row["Id"], force=True)
        except NotFound:
            pass
        except APIError as exc:
            if "already in progress" not in _explain(exc):
                raise


def _adoptable(ctx: FleetContext, labels: dict[str, str] | None) -> bool:
    """Whether an `import` may adopt an object with these labels: one fgform did not make
    (no lineage label), or one of another state. Never another address's of this state."""
    return (labels or {}).get(L.LINEAGE) != ctx.lineage


def _named(client: docker.DockerClient, net_name: str) -> list[dict[str, Any]]:
    """Networks named exactly `net_name` (the list filter matches substrings; several can
    exist after racing creates)."""
    return [n for n in client.api.networks(names=[net_name]) if n.get("Name") == net_name]


# Removal of a network Docker says "has active endpoints": force-disconnect every endpoint,
# retry; this many attempts, sleeping these seconds between them (about 1.5 s in all).
REMOVE_ATTEMPTS = 5
REMOVE_BACKOFF = (0.1, 0.2, 0.4, 0.8)
ACTIVE_ENDPOINTS = "has active endpoints"


def _try_remove(client: docker.DockerClient, net: str) -> APIError | None:
    """Remove a network; None when it is gone (removed now or already), else the error."""
    try:
        client.api.remove_network(net)
    except NotFound:
        return None
    except APIError as exc:
        return None if exc.status_code == 404 else exc
    return None


def remove_network(client: docker.DockerClient, net: str,
                   log: Callable[[str], None] = lambda _m: None, *, name: str | None = None,
                   force_disconnect: bool = True) -> None:
    """Remove the network `net` (name or id); gone already is fine.

    Containers still attached (a task container that outlived its service, anyone's container
    connected by hand) are force-disconnected first: the network is being destroyed, so they
    lose it either way. Docker may also refuse with "has active endpoints" for endpoints whose
    containers no longer exist (moby#17217, after many parallel starts and stops): those are
    force-disconnected by their endpoint name, which is the documented way out. After
    REMOVE_ATTEMPTS the error names the network and the remedy; the caller's resource stays
    in state, so the next destroy tries again. `force_disconnect=False` only retries (tests).
    """
    label = name or net
    last: APIError | None = None
    for attempt in range(REMOVE_ATTEMPTS):
        last = _try_remove(client, net)
        if last is None:
            return
        if ACTIVE_ENDPOINTS not in _explain(last):
            raise FgformError(f"cannot delete network {label}: {_explain(last)}") from last
        if force_disconnect:
            try:
                _disconnect_all(client, net, label, log)
            except NotFound:
                return
            except APIError as exc:
                if exc.status_code == 404:
                    return
                last = exc
            else:
                last = _try_remove(client, net)  # at once: nothing else holds it now
                if last is None:
                    return
        if attempt < REMOVE_ATTEMPTS - 1:
            time.sleep(REMOVE_BACKOFF[min(attempt, len(REMOVE_BACKOFF) - 1)])
    stale = _endpoints(client, net)
    who = (", ".join(sorted(stale.values())) if stale else
           "none that Docker lists (stale endpoints of containers that no longer exist)")
    raise FgformError(
        f"cannot delete network {label}: Docker still reports active endpoints after "
        f"{REMOVE_ATTEMPTS} attempts to force-disconnect them and remove it ({_explain(last)}); "
        f"endpoints: {who}",
        hint="This is Docker's stale-endpoint bug (moby#17217). Restart the Docker daemon "
             "(e.g. `sudo systemctl restart docker`), which drops stale endpoints, then run "
             "destroy again: the cluster stays in state until its network is gone.",
    ) from last


def _endpoints(client: docker.DockerClient, net: str) -> dict[str, str]:
    """Endpoints Docker lists on `net`: container id (or `ep-<id>` for an endpoint whose
    container is gone) -> endpoint name (the container's name)."""
    try:
        info = client.api.inspect_network(net)
    except (NotFound, APIError):
        return {}
    return {key: str(ep.get("Name") or key)
            for key, ep in (info.get("Containers") or {}).items()}


def _disconnect_all(client: docker.DockerClient, net: str, label: str,
                    log: Callable[[str], None]) -> None:
    """Force-disconnect every endpoint of `net`: by container id, else by endpoint name (the
    only handle left for an endpoint whose container no longer exists)."""
    for key, ep_name in sorted(_endpoints(client, net).items(), key=lambda kv: kv[1]):
        log(f"network {label}: force-disconnecting {ep_name}")
        for target in dict.fromkeys((key, ep_name)):
            try:
                client.api.disconnect_container_from_network(target, net, force=True)
                break
            except NotFound:
                continue  # this handle is unknown: try the next one
            except APIError as exc:
                if "is not connected" in _explain(exc):
                    break
                continue


def _explain(exc: Exception | None) -> str:
    return str(getattr(exc, "explanation", None) or exc)


def _config(attrs: dict[str, Any]) -> dict[str, Any]:
    return {k: attrs.get(k) for k in ("name", "cidr_block")}

