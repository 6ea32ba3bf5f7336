"""Fixtures for tests against the real Docker engine (no mocks).

- `docker_client` (session): the engine must be reachable; an unreachable engine FAILS the
  test with the way to fix it, it never skips (a skipped integration suite looks green).
- `lineage` / `ctx` (per test): a fresh state lineage, so every object a test makes carries
  its own `fgform.lineage` label; teardown removes every container, network, volume and image
  with that label, whatever the test did or left behind.
"""

from __future__ import annotations

import contextlib
import io
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from docker.errors import APIError, ImageNotFound, NotFound

from fgform.errors import DockerUnavailableError
from fgform.fleet.docker.client import get_client
from fgform.fleet.driver import FleetContext
from fgform.fleet.swarm.removal import remove_service

from helpers.labels import lineage_filter


@pytest.fixture(scope="session")
def docker_client() -> docker.DockerClient:
    try:
        return get_client()
    except DockerUnavailableError as exc:
        pytest.fail(f"{exc.message}\nThe integration tests need the engine: run "
                    "`sudo scripts/setup.sh` first.", pytrace=False)


@pytest.fixture
def lineage(docker_client: docker.DockerClient) -> Iterator[str]:
    value = f"test-{uuid.uuid4().hex}"
    yield value
    remove_lineage(docker_client, value)


@pytest.fixture
def logs() -> list[str]:
    """The progress lines drivers reported through `ctx.log`."""
    return []


@pytest.fixture
def ctx(lineage: str, logs: list[str], tmp_path: Path) -> FleetContext:
    """A FleetContext for this test; `config_dir` is the test's tmp_path."""
    return FleetContext(lineage=lineage, config_dir=str(tmp_path), log=logs.append)


def remove_lineage(client: docker.DockerClient, lineage: str) -> None:
    """Remove every object labelled with `lineage`, containers first (they hold the rest)."""
    filters = lineage_filter(lineage)
    # Swarm services first (on a swarm manager): their tasks hold overlay networks.
    with contextlib.suppress(APIError):
        for s in client.api.services(filters=filters):
            with contextlib.suppress(NotFound, APIError):
                remove_service(client, s["ID"], time.monotonic() + 10)
    for c in client.api.containers(all=True, filters=filters):
        with contextlib.suppress(NotFound):
            client.api.remove_container(c["Id"], force=True, v=False)
    for n in client.api.networks(filters=filters):
        with contextlib.suppress(NotFound, APIError):
            client.api.remove_network(n["Id"])
    for v in (client.api.volumes(filters=filters) or {}).get("Volumes") or []:
        with contextlib.suppress(NotFound, APIError):
            client.api.remove_volume(v["Name"], force=True)
    for img in client.api.images(filters=filters):
        for ref in img.get("RepoTags") or [img["Id"]]:
            with contextlib.suppress(NotFound, APIError):
                client.api.remove_image(ref, force=True)


@pytest.fixture
def free_port() -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    return pick_free_port()


@pytest.fixture
def port_picker() -> Callable[[], int]:
    """For a test that needs more than one free port."""
    return pick_free_port


def pick_free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def module_registry(docker_client: docker.DockerClient) -> Iterator[dict[str, Any]]:
    """One fg_registry for a whole test module, under its own lineage (removed afterwards).

    Tests that only need somewhere to push share it: the first push of the base layer (about
    5 s) then happens once per module. Use a distinct repository name per test.
    """
    from fgform.addresses import Address
    from fgform.fleet.docker.registry import RegistryDriver

    reg_ctx = FleetContext(lineage=f"test-{uuid.uuid4().hex}")
    try:
        yield RegistryDriver(docker_client).create(reg_ctx, Address("fg_registry", "shared"),
                            {"port": pick_free_port(), "bind_address": "127.0.0.1",
                             "image": None})
    finally:
        remove_lineage(docker_client, reg_ctx.lineage)


BUSYBOX_IMAGE = "fgform-test/busybox:2"
BUSYBOX_DOCKERFILE = (
    "FROM debian:bookworm-slim\n"
    "RUN apt-get update && apt-get install -y --no-install-recommends busybox "
    "&& rm -rf /var/lib/apt/lists/* && mkdir /www && echo ok > /www/index.html\n"
    'CMD ["busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]\n'
)


@pytest.fixture(scope="session")
def busybox_image(docker_client: docker.DockerClient) -> str:
    """A tiny image with busybox httpd serving /www on 8080, built once and kept by tag
    across tests and sessions."""
    try:
        docker_client.api.inspect_image(BUSYBOX_IMAGE)
    except ImageNotFound:
        docker_client.images.build(fileobj=io.BytesIO(BUSYBOX_DOCKERFILE.encode()),
                                   tag=BUSYBOX_IMAGE, rm=True, forcerm=True)
    return BUSYBOX_IMAGE
