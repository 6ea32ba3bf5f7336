"""fg_image against the real engine and a real registry: build, push, pull, fail, update."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import docker
import pytest

from fgform.addresses import Address
from fgform.context_hash import context_sha256
from fgform.errors import FgformError
from fgform.fleet.docker import labels as L
from fgform.fleet.docker.client import LazyClient
from fgform.fleet.docker.image import ImageDriver
from fgform.fleet.docker.registry_http import MANIFEST_ACCEPT, registry_request
from fgform.fleet.driver import FleetContext

# Connects on first use, at test time (the docker_client fixture reports a missing engine).
CLIENT = LazyClient()
IMAGES = ImageDriver(CLIENT)

pytestmark = pytest.mark.docker

ADDR = Address("fg_image", "web")


@pytest.fixture
def registry(ctx: FleetContext, module_registry: dict[str, Any]) -> dict[str, Any]:
    # How the applier hands a dependency's attributes to a driver.
    ctx.resources["fg_registry.main"] = module_registry
    return module_registry


def _context(root: Path, dockerfile: str, files: dict[str, str] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Dockerfile").write_text(dockerfile)
    for name, text in (files or {}).items():
        (root / name).write_text(text)
    return root


def _planned(registry: dict[str, Any], context: str, **extra: Any) -> dict[str, Any]:
    # A repository per call keeps tests sharing the registry apart.
    repo = f"app/web-{uuid.uuid4().hex[:8]}"
    return {"registry": registry["id"], "repository": repo, "tag": "latest",
            "context": context, "dockerfile": "Dockerfile", "build_args": {}, **extra}


def _manifest_status(uri: str) -> int:
    endpoint, rest = uri.split("/", 1)
    repo, digest = rest.split("@")
    status, _ = registry_request(endpoint, "HEAD", f"/v2/{repo}/manifests/{digest}",
                                 accept=MANIFEST_ACCEPT)
    return status


def test_build_push_pull_read_delete(ctx: FleetContext, logs: list[str],
                                     docker_client: docker.DockerClient,
                                     registry: dict[str, Any], tmp_path: Path) -> None:
    _context(tmp_path / "app", 'FROM debian:bookworm-slim\nARG GREETING=none\n'
             'RUN echo "$GREETING" > /greeting\nCOPY hello.txt /hello.txt\n',
             {"hello.txt": "hello\n"})
    planned = _planned(registry, "app", build_args={"GREETING": "hi"})
    img = IMAGES.create(ctx, ADDR, planned)
    repo = planned["repository"]

    endpoint = registry["endpoint"]
    assert img["digest"].startswith("sha256:")
    assert img["uri"] == f"{endpoint}/{repo}@{img['digest']}"
    assert img["id"] == f"{endpoint}/{repo}:latest"
    assert img["context_sha256"] == context_sha256(tmp_path / "app")
    assert any(line.startswith("Step ") for line in logs)  # the build log streamed

    local = docker_client.images.get(img["id"])
    assert local.labels[L.LINEAGE] == ctx.lineage and local.labels[L.ADDRESS] == "fg_image.web"

    # The engine can pull it back by uri, and it holds what was built.
    docker_client.images.remove(img["id"])
    pulled = docker_client.images.pull(img["uri"])
    out = docker_client.containers.run(pulled.id, ["cat", "/greeting", "/hello.txt"],
                                       remove=True, labels=L.base_labels(ctx, ADDR))
    assert out == b"hi\nhello\n"

    assert IMAGES.read(ctx, {ADDR: img}) == {ADDR: img}
    IMAGES.delete(ctx, ADDR, img, replacing=False)
    assert _manifest_status(img["uri"]) == 404
    assert IMAGES.read(ctx, {ADDR: img}) == {ADDR: None}


def test_failing_build_shows_the_step_and_leaves_no_container(
        ctx: FleetContext, docker_client: docker.DockerClient, registry: dict[str, Any],
        tmp_path: Path) -> None:
    marker = f"marker-{uuid.uuid4().hex[:8]}"
    _context(tmp_path / "bad", "FROM debian:bookworm-slim\nRUN true\n"
             f"RUN echo {marker}-output && ls /does-not-exist\n")
    with pytest.raises(FgformError) as err:
        IMAGES.create(ctx, ADDR, _planned(registry, "bad"))
    message = err.value.message
    assert re.search(r"failed at Step 3/\d+ : RUN echo", message)
    assert f"{marker}-output" in message  # the failing step's own output
    assert "returned a non-zero code" in message
    # forcerm: the failed step's container is gone.
    leftovers = [c for c in docker_client.api.containers(all=True)
                 if marker in (c.get("Command") or "")]
    assert leftovers == []


def test_context_hash_and_update(ctx: FleetContext, registry: dict[str, Any],
                                 tmp_path: Path) -> None:
    app = _context(tmp_path / "app", "FROM debian:bookworm-slim\nCOPY . /app/\n",
                   {"main.txt": "v1\n", "notes.md": "scratch\n", ".dockerignore": "*.md\n"})
    planned = _planned(registry, "app")
    img = IMAGES.create(ctx, ADDR, planned)

    (app / "notes.md").write_text("edited, but ignored\n")
    assert context_sha256(app) == img["context_sha256"]
    (app / "main.txt").write_text("v2\n")
    assert context_sha256(app) != img["context_sha256"]

    new = IMAGES.update(ctx, ADDR, img, planned)
    assert new["context_sha256"] == context_sha256(app)
    assert new["digest"] != img["digest"]
    # The previous manifest stays: older task definition revisions still run it.
    assert _manifest_status(img["uri"]) == 200
    assert _manifest_status(new["uri"]) == 200
