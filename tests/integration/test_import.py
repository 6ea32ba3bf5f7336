"""`import` blocks against the real engine, through the real CLI: a plain Docker network
(fgform never made it) and a network another state made (labelled with its lineage) are
adopted as fg_cluster resources, refreshed by name afterwards, updated and destroyed like
any other; the other state lets go of its network with `removed { destroy = false }`."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from docker.errors import APIError, NotFound
from docker.types import IPAMConfig, IPAMPool
from fixtures.fgcli import Fleet, clean_up

pytestmark = pytest.mark.docker

PLAIN = """
import {
  to = fg_cluster.net
  id = "$net"
}

resource "fg_cluster" "net" {
  name               = "$net"
  cidr_block         = "$cidr"
  placement_strategy = "binpack"
}
"""

MADE = """
resource "fg_cluster" "old" {
  name       = "$name"
  cidr_block = "$cidr"
}
"""

FORGET = """
removed {
  from = fg_cluster.old
  lifecycle {
    destroy = false
  }
}
"""

ADOPT = """
import {
  to = fg_cluster.main
  id = "fgform-$name"
}

resource "fg_cluster" "main" {
  name       = "$name"
  cidr_block = "$cidr"
}
"""


@pytest.fixture
def fleets(docker_client: docker.DockerClient, tmp_path: Path) -> Iterator[list[Fleet]]:
    made: list[Fleet] = []
    yield made
    clean_up(docker_client, made)


def _networks(client: docker.DockerClient, name: str) -> list[dict]:
    return [n for n in client.api.networks(names=[name]) if n["Name"] == name]


def test_import_a_plain_docker_network(docker_client: docker.DockerClient,
                                       fleets: list[Fleet], tmp_path: Path) -> None:
    fleet = Fleet(tmp_path / "plain", docker_client)
    fleets.append(fleet)
    net = f"plain-{uuid.uuid4().hex[:8]}"
    docker_client.networks.create(net, driver="bridge",
                                  ipam=IPAMConfig(pool_configs=[IPAMPool(subnet=fleet.cidr)]))
    try:
        fleet.write(PLAIN, net=net)
        plan = fleet.ok("plan")
        assert ("  # fg_cluster.net will be updated in-place\n"
                f'  # (imported from "{net}")\n') in plan.out
        assert "Plan: 1 to import, 0 to add, 1 to change, 0 to destroy." in plan.out
        applied = fleet.ok("apply", "-auto-approve")
        assert f"fg_cluster.net: Importing... [id={net}]" in applied.out
        assert "Apply complete! Resources: 1 imported, 0 added, 1 changed, 0 destroyed." \
            in applied.out
        attrs = fleet.resources()["fg_cluster.net"]["attributes"]
        assert attrs["network_name"] == net and attrs["placement_strategy"] == "binpack"
        # refresh finds the unlabelled network by the name state records
        again = fleet.run("plan", "-detailed-exitcode")
        assert again.code == 0 and "No changes." in again.out, str(again)
        fleet.ok("destroy", "-auto-approve")
        assert _networks(docker_client, net) == []
    finally:
        for n in _networks(docker_client, net):
            with contextlib.suppress(NotFound, APIError):
                docker_client.api.remove_network(n["Id"])


def test_import_another_state_s_network(docker_client: docker.DockerClient,
                                        fleets: list[Fleet], tmp_path: Path) -> None:
    old = Fleet(tmp_path / "old", docker_client)
    fleets.append(old)
    old.write(MADE)
    old.ok("apply", "-auto-approve")
    network = f"fgform-{old.name}"
    [made] = _networks(docker_client, network)
    assert made["Labels"]["fgform.lineage"] == old.lineage

    new = Fleet(tmp_path / "new", docker_client, name=old.name, cidr=old.cidr)
    fleets.append(new)
    new.write(ADOPT)
    plan = new.run("plan", "-detailed-exitcode")
    assert plan.code == 2, str(plan)
    # the configuration matches the network: an import and nothing else
    assert ("  # fg_cluster.main will be imported\n"
            '    resource "fg_cluster" "main" {\n') in plan.out
    assert "Plan: 1 to import, 0 to add, 0 to change, 0 to destroy." in plan.out
    new.ok("apply", "-auto-approve")
    assert new.lineage != old.lineage
    assert new.resources()["fg_cluster.main"]["attributes"]["network_name"] == network

    # the old state lets go of it without destroying it
    old.write(FORGET)
    forget = old.ok("plan")
    assert (" # fg_cluster.old will no longer be managed by fgform, but will not be "
            "destroyed\n") in forget.out
    old.ok("apply", "-auto-approve")
    assert old.resources() == {}
    assert [n["Id"] for n in _networks(docker_client, network)] == [made["Id"]]

    again = new.run("plan", "-detailed-exitcode")
    assert again.code == 0 and "No changes." in again.out, str(again)
    new.ok("destroy", "-auto-approve")
    assert _networks(docker_client, network) == []


REGISTRY = """
import {
  to = fg_registry.main
  id = "$container"
}

resource "fg_registry" "main" {
  port = $port
}
"""


def test_import_a_registry_container(docker_client: docker.DockerClient,
                                     fleets: list[Fleet], tmp_path: Path,
                                     module_registry: dict) -> None:
    # module_registry: a registry container made by fgform's driver for another lineage
    fleet = Fleet(tmp_path / "reg", docker_client, port=module_registry["port"])
    fleets.append(fleet)
    container = module_registry["id"]
    fleet.write(REGISTRY, container=container)
    plan = fleet.run("plan", "-detailed-exitcode")
    assert plan.code == 2, str(plan)
    assert "  # fg_registry.main will be imported\n" in plan.out
    assert "Plan: 1 to import, 0 to add, 0 to change, 0 to destroy." in plan.out
    fleet.ok("apply", "-auto-approve")
    attrs = fleet.resources()["fg_registry.main"]["attributes"]
    assert attrs["id"] == container and attrs["endpoint"] == module_registry["endpoint"]
    again = fleet.run("plan", "-detailed-exitcode")
    assert again.code == 0 and "No changes." in again.out, str(again)
    fleet.ok("destroy", "-auto-approve")
    with pytest.raises(NotFound):
        docker_client.api.inspect_container(container)
