"""Subnets for the networks tests create, chosen so that they collide with nothing.

Where a test's search starts is derived from its pytest node id: the same test gets the
same subnet run after run, and different tests start far apart. From there it takes the
first subnet that overlaps no network the engine has (another run's, another engineer's, a
leftover) and none this process has handed out already. Two runs of the same test started
at the same instant can still pick the same one; the network create then fails, and the
caller may ask again (`free_subnet` sees the other run's network by then).
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import threading

import docker

_given: list[ipaddress.IPv4Network] = []
_lock = threading.Lock()


def engine_subnets(client: docker.DockerClient) -> list[ipaddress.IPv4Network]:
    """The IPv4 subnets of every network the engine has."""
    taken: list[ipaddress.IPv4Network] = []
    for net in client.api.networks():
        for cfg in (net.get("IPAM") or {}).get("Config") or []:
            try:
                subnet = ipaddress.ip_network(cfg.get("Subnet") or "", strict=False)
            except ValueError:
                continue
            if isinstance(subnet, ipaddress.IPv4Network):
                taken.append(subnet)
    return taken


def free_subnet(client: docker.DockerClient, prefix: int, pool: str,
                key: str | None = None) -> str:
    """A free /`prefix` subnet inside `pool` (see the module's docstring); the search
    starts at a place derived from `key`, by default the running test's node id."""
    if key is None:
        key = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" (", 1)[0]
    candidates = list(ipaddress.ip_network(pool).subnets(new_prefix=prefix))
    start = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % len(candidates)
    taken = engine_subnets(client)
    with _lock:
        for i in range(len(candidates)):
            net = candidates[(start + i) % len(candidates)]
            if not any(net.overlaps(t) for t in taken) and \
                    not any(net.overlaps(g) for g in _given):
                _given.append(net)
                return str(net)
    raise RuntimeError(f"no free /{prefix} subnet left in {pool}")
