"""Shared by the Swarm tests that need an image on every node or look inside the workers:
a busybox image applied through fg_registry + fg_image (pushed once to a registry on a port
scripts/swarm.sh forwards, pulled by digest on each node), and the containers a lineage
left on the worker nodes. Import the `swarm_image` fixture into a test module to use it."""

from __future__ import annotations

import contextlib
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from docker.errors import APIError, NotFound

from fgform.addresses import Address
from fgform.fleet.docker import labels as L
from fgform.fleet.docker.image import ImageDriver
from fgform.fleet.docker.registry import RegistryDriver
from fgform.fleet.driver import FleetContext

from helpers.labels import lineage_filter

# As tests/integration/conftest.py's busybox image (same text: the build cache serves it).
BUSYBOX_DOCKERFILE = (
    "FROM debian:bookworm-slim\n"
    "RUN apt-get update && apt-get install -y --no-install-recommends busybox "
    "&& rm -rf /var/lib/apt/lists/* && mkdir /www && echo ok > /www/index.html\n"
    'CMD ["busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]\n'
)


def remove_lineage(client: docker.DockerClient, lineage: str) -> None:
    """The registry's container and volume and the image's local tags of `lineage`."""
    filters = lineage_filter(lineage)
    for c in client.api.containers(all=True, filters=filters):
        with contextlib.suppress(NotFound):
            client.api.remove_container(c["Id"], force=True)
    for v in (client.api.volumes(filters=filters) or {}).get("Volumes") or []:
        with contextlib.suppress(NotFound, APIError):
            client.api.remove_volume(v["Name"], force=True)
    for img in client.api.images(filters=filters):
        for ref in img.get("RepoTags") or [img["Id"]]:
            with contextlib.suppress(NotFound, APIError):
                client.api.remove_image(ref, force=True)


def worker_leftovers(client: docker.DockerClient, ctx: FleetContext,
                     wait: float = 20.0) -> dict[str, list[str]]:
    """Containers of this lineage still on each worker node once Swarm has had `wait`
    seconds to remove them (it does so asynchronously after `service rm`)."""
    hosts = [n.attrs["Description"]["Hostname"] for n in client.nodes.list()
             if n.attrs["Spec"]["Role"] == "worker"]
    deadline = time.monotonic() + wait
    while True:
        left = {}
        for host in hosts:
            out = client.containers.get(host).exec_run(
                ["docker", "ps", "-aq", "--filter", f"label={L.LINEAGE}={ctx.lineage}"])
            ids = out.output.decode().split()
            if ids:
                left[host] = ids
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(1)


def swarm_registry_port() -> int:
    """A free port in 5000-5999: the range scripts/swarm.sh forwards from every worker's
    127.0.0.1 to the manager, so `127.0.0.1:PORT/...` pulls on every node."""
    for port in range(5400 + uuid.uuid4().int % 400, 6000):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port in 5400-5999")


@pytest.fixture(scope="module")
def swarm_image(swarm: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[dict[str, Any]]:
    """A busybox image applied through fg_registry + fg_image: pushed once, pulled by
    digest (`uri`) on whichever node runs it."""
    reg_ctx = FleetContext(lineage=f"test-{uuid.uuid4().hex}",
                           config_dir=str(tmp_path_factory.mktemp("ctx")))
    img = None
    try:
        reg = RegistryDriver(swarm).create(reg_ctx, Address("fg_registry", "swarm"), {
            "port": swarm_registry_port(), "bind_address": "127.0.0.1", "image": None})
        reg_ctx.resources["fg_registry.swarm"] = reg
        ctxdir = Path(reg_ctx.config_dir) / "app"
        ctxdir.mkdir()
        (ctxdir / "Dockerfile").write_text(BUSYBOX_DOCKERFILE)
        img = ImageDriver(swarm).create(reg_ctx, Address("fg_image", "busybox"), {
            "registry": reg["id"], "repository": "nodes/busybox", "tag": "latest",
            "context": "app", "dockerfile": "Dockerfile", "build_args": {}})
        yield img
    finally:
        remove_lineage(swarm, reg_ctx.lineage)
        if img is not None:  # what the workers pulled
            for node in swarm.nodes.list():
                if node.attrs["Spec"]["Role"] == "worker":
                    swarm.containers.get(node.attrs["Description"]["Hostname"]).exec_run(
                        ["docker", "image", "rm", "-f", img["uri"]])


