"""Sensitive values through the real CLI against the real engine: apply's progress lines
and a driver's error message never show one."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from fixtures.fgcli import Fleet, clean_up

pytestmark = pytest.mark.docker

CLUSTER = """
variable "cluster_name" {
  type      = string
  sensitive = true
}

resource "fg_cluster" "main" {
  name       = var.cluster_name
  cidr_block = "$cidr"
}
"""

REGISTRY = """
variable "port" {
  type      = number
  sensitive = true
}

resource "fg_registry" "main" {
  port = var.port
}
"""


@pytest.fixture
def fleet(docker_client: docker.DockerClient, tmp_path: Path) -> Iterator[Fleet]:
    f = Fleet(tmp_path / "cfg", docker_client)
    try:
        yield f
    finally:
        clean_up(docker_client, [f])


def test_progress_lines_leave_out_a_sensitive_id(fleet: Fleet) -> None:
    secret = f"{fleet.name}-secret"
    fleet.write(CLUSTER)
    res = fleet.ok("apply", "-auto-approve", f"-var=cluster_name={secret}")
    assert "fg_cluster.main: Creation complete after" in res.out, str(res)
    assert secret not in res.text, str(res)
    res = fleet.ok("destroy", "-auto-approve", "-json", f"-var=cluster_name={secret}")
    assert '"type":"apply_start"' in res.out, str(res)
    assert secret not in res.text, str(res)
    fleet.assert_nothing_left()


def test_a_driver_error_quoting_a_sensitive_value_is_scrubbed(fleet: Fleet) -> None:
    fleet.write(REGISTRY)
    with socket.socket() as s:
        s.bind(("127.0.0.1", fleet.port))
        s.listen()
        res = fleet.fails("apply", "-auto-approve", f"-var=port={fleet.port}")
    assert "Error: creating fg_registry.main: port (sensitive value) on 127.0.0.1 is " \
           "already in use" in res.flat_err, str(res)
    assert str(fleet.port) not in res.text, str(res)
    fleet.assert_nothing_left()
