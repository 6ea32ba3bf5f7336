"""fg_registry against the real engine: serve, push, replace keeping data, clash, deletion."""

from __future__ import annotations

import json
import socket
import urllib.request
from collections.abc import Callable
from pathlib import Path

import docker
import pytest
from docker.errors import NotFound

from fgform.addresses import Address
from fgform.errors import FgformError
from fgform.fleet.docker import labels as L
from fgform.fleet.docker.build import build_image
from fgform.fleet.docker.client import LazyClient
from fgform.fleet.docker.registry import RegistryDriver, object_name
from fgform.fleet.driver import FleetContext

from helpers.labels import lineage_filter

# Connects on first use, at test time (the docker_client fixture reports a missing engine).
CLIENT = LazyClient()
REGISTRY = RegistryDriver(CLIENT)

pytestmark = pytest.mark.docker

ADDR = Address("fg_registry", "main")


def _planned(port: int) -> dict:
    return {"port": port, "bind_address": "127.0.0.1", "image": None}


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return resp.status, resp.read()


def test_registry_lifecycle_keeps_data_across_replacement(
        ctx: FleetContext, docker_client: docker.DockerClient, free_port: int,
        port_picker: Callable[[], int], tmp_path: Path) -> None:
    reg = REGISTRY.create(ctx, ADDR, _planned(free_port))
    assert reg["endpoint"] == f"127.0.0.1:{free_port}"
    assert reg["id"] == reg["volume"] == object_name(ctx, ADDR)
    assert _get(f"http://{reg['endpoint']}/v2/")[0] == 200
    container = docker_client.containers.get(reg["id"])
    assert container.labels[L.LINEAGE] == ctx.lineage
    assert container.labels[L.ADDRESS] == "fg_registry.main"

    # Push something small (FROM scratch: one tiny layer), labelled for teardown.
    ref = f"{reg['endpoint']}/keep/me"
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY data.txt /data.txt\n")
    (tmp_path / "data.txt").write_text("kept\n")
    build_image(CLIENT, ctx, tmp_path, "Dockerfile", f"{ref}:v1", labels=L.base_labels(ctx, ADDR))
    pushed = docker_client.api.push(ref, tag="v1", stream=True, decode=True)
    assert not [item for item in pushed if "error" in item]

    # Replace (a port change forces it): delete without the volume, create on the new port.
    REGISTRY.delete(ctx, ADDR, reg, replacing=True)
    assert REGISTRY.read(ctx, {ADDR: reg}) == {ADDR: None}
    new_port = port_picker()
    reg2 = REGISTRY.create(ctx, ADDR, _planned(new_port))
    assert reg2["volume"] == reg["volume"]
    _, body = _get(f"http://{reg2['endpoint']}/v2/_catalog")
    assert "keep/me" in json.loads(body)["repositories"]

    live = REGISTRY.read(ctx, {ADDR: reg2})[ADDR]
    assert live is not None and live["port"] == new_port and live["endpoint"] == reg2["endpoint"]

    REGISTRY.delete(ctx, ADDR, reg2, replacing=False)
    assert REGISTRY.read(ctx, {ADDR: reg2}) == {ADDR: None}
    with pytest.raises(NotFound):
        docker_client.volumes.get(reg2["volume"])


def test_port_clash_is_reported_and_leaves_no_container(
        ctx: FleetContext, docker_client: docker.DockerClient) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(FgformError, match=f"port {port} on 127.0.0.1 is already in use"):
            REGISTRY.create(ctx, ADDR, _planned(port))
    left = docker_client.api.containers(all=True, filters=lineage_filter(ctx.lineage))
    assert left == []


def test_read_detects_removal_by_hand(
        ctx: FleetContext, docker_client: docker.DockerClient, free_port: int) -> None:
    reg = REGISTRY.create(ctx, ADDR, _planned(free_port))
    other = Address("fg_registry", "never_created")
    result = REGISTRY.read(ctx, {ADDR: reg, other: _planned(1)})
    assert result[ADDR] == reg and result[other] is None
    docker_client.containers.get(reg["id"]).remove(force=True)
    assert REGISTRY.read(ctx, {ADDR: reg}) == {ADDR: None}
    # Creating again adopts the kept volume.
    again = REGISTRY.create(ctx, ADDR, _planned(free_port))
    assert again["volume"] == reg["volume"]


def test_read_compares_the_config_hash_label(
        ctx: FleetContext, docker_client: docker.DockerClient,
        port_picker: Callable[[], int]) -> None:
    port = port_picker()
    reg = REGISTRY.create(ctx, ADDR, _planned(port))
    # The label is the hash of the configuration in state: read reports state's attributes.
    container = docker_client.containers.get(reg["id"])
    assert container.labels[L.CONFIG_HASH] == L.config_hash(_planned(port))
    assert REGISTRY.read(ctx, {ADDR: reg}) == {ADDR: reg}

    # Removed and recreated by hand on another port, same labels but another config-hash.
    new_port = port_picker()
    while new_port == port:
        new_port = port_picker()
    labels = {**container.labels, L.CONFIG_HASH: L.config_hash(_planned(new_port))}
    image = container.attrs["Config"]["Image"]
    container.remove(force=True)
    docker_client.containers.run(
        image, name=reg["id"], detach=True, init=True, labels=labels,
        ports={"5000/tcp": ("127.0.0.1", new_port)},
        volumes={reg["volume"]: {"bind": "/var/lib/docker-registry", "mode": "rw"}})
    live = REGISTRY.read(ctx, {ADDR: reg})[ADDR]
    assert live is not None
    assert (live["port"], live["bind_address"], live["endpoint"]) == (
        new_port, "127.0.0.1", f"127.0.0.1:{new_port}")
    assert (live["id"], live["volume"]) == (reg["id"], reg["volume"])


def test_matching_config_hash_hides_dockers_spelling_of_the_image(
        ctx: FleetContext, docker_client: docker.DockerClient, free_port: int) -> None:
    """Made from the configuration in state (the label says so): when the image's tag moves
    away, Docker lists the container's image by id, which is no drift to replace it for."""
    from fgform.fleet.docker.registry import ensure_server_image

    tag = f"fgform-test/registry-{ctx.lineage[5:17]}:v1"
    docker_client.images.get(ensure_server_image(CLIENT, ctx)).tag(tag)
    try:
        reg = REGISTRY.create(ctx, ADDR, {**_planned(free_port), "image": tag})
    finally:
        docker_client.images.remove(tag)  # only the tag: the server image keeps its own
    (row,) = docker_client.api.containers(filters=L.label_filter(ctx, kind="registry"))
    assert row["Image"].startswith("sha256:")
    assert REGISTRY.read(ctx, {ADDR: reg}) == {ADDR: reg}
