"""Data sources end to end: the real CLI, the real engine and registry.

One configuration (the producer) builds an image, pushes it to its registry and makes a
cluster; its own `data "fg_image"` depends on the image, so its read is deferred to apply.
A second configuration with a state of its own (the consumer) looks the image up by
repository and tag and the cluster by name during plan: the digests must be the one the
registry itself reports for the tag.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from fixtures.fgcli import Fleet, clean_up, ensure_base_image

from fgform.fleet.docker.registry_http import MANIFEST_ACCEPT, registry_request

pytestmark = pytest.mark.docker

PRODUCER = """
resource "fg_registry" "main" {
  port = $port
}

resource "fg_image" "app" {
  registry   = fg_registry.main.id
  repository = "app"
  tag        = "v1"
  context    = "$${path.module}/app"
}

resource "fg_cluster" "main" {
  name       = "$name"
  cidr_block = "$cidr"
}

data "fg_image" "app" {
  registry   = fg_registry.main.id
  repository = "app"
  tag        = "v1"
  depends_on = [fg_image.app]
}

output "registry" { value = fg_registry.main.id }
output "endpoint" { value = fg_registry.main.endpoint }
output "built" { value = fg_image.app.digest }
output "looked_up" { value = data.fg_image.app.digest }
"""

CONSUMER = """
data "fg_image" "app" {
  registry   = "$registry"
  repository = "app"
  tag        = "v1"
}

data "fg_cluster" "main" {
  name = "$name"
}

output "digest" { value = data.fg_image.app.digest }
output "uri" { value = data.fg_image.app.uri }
output "cluster" { value = data.fg_cluster.main.id }
output "network" { value = data.fg_cluster.main.network_name }
output "cidr" { value = data.fg_cluster.main.cidr_block }
"""


@pytest.fixture
def producer(docker_client: docker.DockerClient, tmp_path: Path) -> Iterator[Fleet]:
    ensure_base_image(docker_client)
    f = Fleet(tmp_path / "producer", docker_client)
    f.copy_app()
    f.write(PRODUCER)
    try:
        yield f
    finally:
        clean_up(docker_client, [f])


def _outputs(f: Fleet) -> dict:
    return {k: v["value"] for k, v in json.loads(f.ok("output", "-json").out).items()}


def test_image_digest_and_cluster_by_name(producer: Fleet, docker_client: docker.DockerClient,
                                          tmp_path: Path) -> None:
    plan = producer.ok("plan")
    assert "# data.fg_image.app will be read during apply" in plan.out
    assert "(config refers to values not yet known)" in plan.out
    producer.ok("apply", "-auto-approve")
    out = _outputs(producer)
    # What the registry itself says the tag names, asked over its HTTP API.
    status, headers = registry_request(out["endpoint"], "HEAD", "/v2/app/manifests/v1",
                                       accept=MANIFEST_ACCEPT)
    real = {k.lower(): v for k, v in headers.items()}["docker-content-digest"]
    assert status == 200 and real.startswith("sha256:")
    assert out["built"] == real and out["looked_up"] == real
    state = producer.state()
    assert state is not None
    data = [r for r in state["resources"] if r.get("mode") == "data"]
    assert [(r["type"], r["name"]) for r in data] == [("fg_image", "app")]

    consumer = Fleet(tmp_path / "consumer", docker_client, name=producer.name)
    try:
        consumer.write(CONSUMER, registry=out["registry"])
        plan = consumer.ok("plan")
        # Read during plan: no change to make, the outputs already known.
        assert "data.fg_image.app: Reading..." in plan.out
        assert "read during apply" not in plan.out
        assert f'+ digest  = "{real}"' in plan.out, plan.out
        consumer.ok("apply", "-auto-approve")
        got = _outputs(consumer)
        assert got["digest"] == real
        assert got["uri"] == f"{out['endpoint']}/app@{real}"
        assert got["cluster"] == producer.name
        assert got["network"] == f"fgform-{producer.name}"
        assert got["cidr"] == producer.cidr
        st = consumer.state()
        assert st is not None
        assert sorted((r.get("mode"), r["type"]) for r in st["resources"]) == [
            ("data", "fg_cluster"), ("data", "fg_image")]
        assert consumer.ok("plan", "-detailed-exitcode").code == 0

        # A cluster that does not exist: the read fails at the data block, exit 1.
        consumer.write(CONSUMER.replace('name = "$name"', 'name = "nope-$name"'),
                       registry=out["registry"])
        bad = consumer.fails("plan")
        assert "Failed to read data.fg_cluster.main" in bad.flat_err
        assert "main.tf line 8" in bad.flat_err, bad.err
        assert f"no cluster named 'nope-{producer.name}'" in bad.flat_err

        # A tag the registry does not have.
        consumer.write(CONSUMER.replace('tag        = "v1"', 'tag        = "v2"'),
                       registry=out["registry"])
        bad = consumer.fails("plan")
        assert "Failed to read data.fg_image.app" in bad.flat_err
        assert f"no image app:v2 in registry {out['endpoint']}" in bad.flat_err, bad.err

        # Destroying a configuration of data resources only: nothing to destroy, and they
        # leave the state.
        consumer.write(CONSUMER, registry=out["registry"])
        consumer.ok("destroy", "-auto-approve")
        st = consumer.state()
        assert st is not None and st["resources"] == []
    finally:
        producer.ok("destroy", "-auto-approve")
