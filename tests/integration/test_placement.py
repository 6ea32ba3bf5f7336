"""Placement constraints, strategies and DAEMON services on the local backend, end to end
(the real CLI, the real engine): memberOf keeps tasks on the instances whose attributes
match, distinctInstance puts each task on its own instance, a DAEMON service runs one task
on every matching instance and follows the cluster's instance_count, and a constraint no
instance satisfies is refused at plan time with nothing created."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from fixtures.fgcli import Fleet, clean_up, ensure_base_image

pytestmark = pytest.mark.docker

CONFIG = """
variable "instances" {
  type    = number
  default = 3
}

resource "fg_cluster" "main" {
  name       = "$name"
  cidr_block = "$cidr"

  capacity {
    instance_count  = var.instances
    instance_cpu    = 1024
    instance_memory = 512
    attribute {
      name   = "zone"
      values = ["a", "b", "c"]
    }
  }
}

resource "fg_task_definition" "app" {
  family = "$name-app"
  cpu    = 64
  memory = 32

  container "app" {
    image        = "$image"
    command      = ["sleep", "$sleep"]
    stop_timeout = 1
  }

  placement_constraints {
    type       = "memberOf"
    expression = "attribute:ecs.os-type == linux"
  }
}

resource "fg_service" "zoned" {
  cluster         = fg_cluster.main.id
  task_definition = fg_task_definition.app.arn
  desired_count   = 3

  placement_constraints {
    type       = "memberOf"
    expression = "$zoned"
  }
}

resource "fg_service" "distinct" {
  cluster         = fg_cluster.main.id
  task_definition = fg_task_definition.app.arn
  desired_count   = 3

  placement_constraints {
    type = "distinctInstance"
  }
  placement_strategy {
    type  = "binpack"
    field = "memory"
  }
}

resource "fg_service" "daemon" {
  cluster             = fg_cluster.main.id
  task_definition     = fg_task_definition.app.arn
  scheduling_strategy = "DAEMON"

  placement_constraints {
    type       = "memberOf"
    expression = "attribute:zone != c"
  }
}
"""


@pytest.fixture
def fleets(docker_client: docker.DockerClient) -> Iterator[list[Fleet]]:
    ensure_base_image(docker_client)
    made: list[Fleet] = []
    try:
        yield made
    finally:
        clean_up(docker_client, made)


def placed(fleet: Fleet) -> dict[str, list[str]]:
    """Service address -> the instance label of each of its running task containers."""
    out: dict[str, list[str]] = {}
    for c in fleet.containers():
        labels = c["Labels"]
        if c["State"] == "running" and labels.get("fgform.task-id"):
            out.setdefault(labels["fgform.address"], []).append(labels["fgform.instance"])
    return {k: sorted(v) for k, v in out.items()}


def test_constraints_distinct_instance_and_daemon(fleets: list[Fleet], tmp_path: Path,
                                                 docker_client: docker.DockerClient) -> None:
    fleet = Fleet(tmp_path / "fleet", docker_client)
    fleets.append(fleet)
    image = ensure_base_image(docker_client)
    fleet.write(CONFIG, image=image, zoned="attribute:zone in [a, b]", sleep=3600)
    plan = fleet.ok("plan")
    # The DAEMON service's task count is known at plan time: i-0 (a) and i-1 (b).
    assert re.search(r"desired_count +\= 2\n", plan.out), plan.out
    fleet.ok("apply", "-auto-approve")
    where = placed(fleet)
    # memberOf: zones a and b only (i-0, i-1), never i-2 (zone c).
    assert len(where["fg_service.zoned"]) == 3
    assert set(where["fg_service.zoned"]) <= {"i-0", "i-1"}, where
    # distinctInstance beats binpack (which alone would stack all three on one instance).
    assert where["fg_service.distinct"] == ["i-0", "i-1", "i-2"], where
    # DAEMON: one task on each instance that is not in zone c.
    assert where["fg_service.daemon"] == ["i-0", "i-1"], where
    assert "No changes" in fleet.ok("plan").out

    # A fourth instance (zone a): the plan says the daemon service grows, apply places it.
    plan = fleet.ok("plan", "-var", "instances=4")
    assert re.search(r"~ desired_count += 2 -> 3\n", plan.out), plan.out
    fleet.ok("apply", "-auto-approve", "-var", "instances=4")
    assert placed(fleet)["fg_service.daemon"] == ["i-0", "i-1", "i-3"]
    assert "No changes" in fleet.ok("plan", "-var", "instances=4").out

    # A new revision: rolling deployments keep every rule (new tasks go where no task of
    # the new revision is; the old one there is what they replace).
    fleet.write(CONFIG, image=image, zoned="attribute:zone in [a, b]", sleep=3601)
    fleet.ok("apply", "-auto-approve", "-var", "instances=4")
    where = placed(fleet)
    assert where["fg_service.daemon"] == ["i-0", "i-1", "i-3"], where
    assert len(set(where["fg_service.distinct"])) == 3, where
    assert len(where["fg_service.zoned"]) == 3
    assert set(where["fg_service.zoned"]) <= {"i-0", "i-1", "i-3"}, where
    revisions = {c["Labels"].get("fgform.task-definition") for c in fleet.containers()
                 if c["State"] == "running"}
    assert len(revisions) == 1, revisions

    # A constraint no instance satisfies: refused at plan time, naming it; nothing changes.
    fleet.write(CONFIG, image=image, zoned="attribute:zone == z", sleep=3601)
    res = fleet.fails("apply", "-auto-approve", "-var", "instances=4")
    assert "Placement constraint cannot be satisfied" in res.err, res.err
    assert 'memberOf "attribute:zone == z"' in res.flat_err, res.err
    assert "main.tf" in res.err
    assert placed(fleet)["fg_service.zoned"] == where["fg_service.zoned"]

    fleet.write(CONFIG, image=image, zoned="attribute:zone in [a, b]", sleep=3601)
    fleet.ok("destroy", "-auto-approve", "-var", "instances=4")
    fleet.assert_nothing_left()


def test_impossible_constraint_creates_nothing(fleets: list[Fleet], tmp_path: Path,
                                               docker_client: docker.DockerClient) -> None:
    fleet = Fleet(tmp_path / "none", docker_client)
    fleets.append(fleet)
    fleet.write(CONFIG, image=ensure_base_image(docker_client),
                zoned="attribute:zone == a and attribute:zone == b", sleep=3600)
    res = fleet.fails("plan")
    assert "Placement constraint cannot be satisfied" in res.err, res.err
    assert "main.tf line" in res.err and "i-2 (zone=c)" in res.flat_err, res.err
    res = fleet.fails("apply", "-auto-approve")
    assert fleet.state() is None or not fleet.resources()
    fleet.assert_nothing_left()
