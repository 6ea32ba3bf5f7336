"""`moved` blocks on the real engine: the remote objects stay, only their state address
changes (Terraform's semantics), for a registry, an image, a cluster, a service, a target
group and a load balancer.

Docker labels cannot change, so the moved instances record in state the address their
objects are labelled with (`labelled_as`) and the drivers keep finding them by it. A new
resource declared at a moved-away address gets objects of its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import docker
import pytest
from fixtures.fgcli import Fleet, clean_up, ensure_base_image, free_port, http_get

pytestmark = pytest.mark.docker

CONFIG = """
resource "fg_registry" "$reg" {
  port = $port
}

resource "fg_image" "$img" {
  registry   = fg_registry.$reg.id
  repository = "web"
  context    = "$${path.module}/app"
}

resource "fg_task_definition" "web" {
  family = "$name-web"
  cpu    = 128
  memory = 64

  container "web" {
    image        = fg_image.$img.uri
    stop_timeout = 1
    port_mapping {
      container_port = 8080
    }
  }
}

resource "fg_cluster" "$cl" {
  name       = "$name"
  cidr_block = "$cidr"

  capacity {
    instance_count  = 2
    instance_cpu    = 1024
    instance_memory = 512
  }
}

resource "fg_service" "$svc" {
  name                 = "web"
  cluster              = fg_cluster.$cl.id
  task_definition      = fg_task_definition.web.arn
  desired_count        = 2
  steady_state_timeout = 60

  load_balancer {
    target_group   = fg_target_group.$tg.id
    container_name = "web"
    container_port = 8080
  }
}

resource "fg_target_group" "$tg" {
  port = 8080
}

resource "fg_load_balancer" "$lb" {
  cluster = fg_cluster.$cl.id

  listener {
    port                 = $lb_port
    default_target_group = fg_target_group.$tg.id
  }
}
$extra
"""

OLD = {"reg": "main", "img": "web", "cl": "main", "svc": "app", "tg": "app", "lb": "front",
       "extra": ""}
MOVED = """
moved {
  from = fg_registry.main
  to   = fg_registry.hub
}
moved {
  from = fg_image.web
  to   = fg_image.site
}
moved {
  from = fg_cluster.main
  to   = fg_cluster.prod
}
moved {
  from = fg_service.app
  to   = fg_service.web
}
moved {
  from = fg_target_group.app
  to   = fg_target_group.web
}
moved {
  from = fg_load_balancer.front
  to   = fg_load_balancer.edge
}
"""
NEW = {"reg": "hub", "img": "site", "cl": "prod", "svc": "web", "tg": "web", "lb": "edge",
       "extra": MOVED}


@pytest.fixture
def fleet(docker_client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Fleet]:
    ensure_base_image(docker_client)
    f = Fleet(tmp_path_factory.mktemp("moved"), docker_client)
    f.copy_app()
    try:
        yield f
    finally:
        clean_up(docker_client, [f])


def ids(fleet: Fleet) -> dict[str, list[str]]:
    """The lineage's containers and networks, by id (what must survive the move)."""
    lineage = fleet.lineage
    assert lineage is not None
    flt = {"label": [f"fgform.lineage={lineage}"]}
    return {"containers": sorted(c["Id"] for c in fleet.client.api.containers(filters=flt)),
            "networks": sorted(n["Id"] for n in fleet.client.api.networks(filters=flt))}


def test_moved_blocks_keep_the_docker_objects(fleet: Fleet) -> None:
    lb_port = free_port()
    fleet.write(CONFIG, **OLD, lb_port=lb_port)
    fleet.ok("apply", "-auto-approve")
    before = ids(fleet)
    assert len(before["containers"]) == 4  # the registry, the load balancer, two tasks
    assert len(before["networks"]) == 1

    fleet.write(CONFIG, **NEW, lb_port=lb_port)
    res = fleet.ok("plan")
    for old, new in (("fg_registry.main", "fg_registry.hub"), ("fg_image.web", "fg_image.site"),
                     ("fg_cluster.main", "fg_cluster.prod"), ("fg_service.app", "fg_service.web"),
                     ("fg_target_group.app", "fg_target_group.web"),
                     ("fg_load_balancer.front", "fg_load_balancer.edge")):
        assert f"{old} has moved to {new}" in res.out, str(res)
    assert "0 to add, 0 to change, 0 to destroy" in res.out, str(res)
    fleet.ok("apply", "-auto-approve")
    assert set(fleet.resources()) == {"fg_registry.hub", "fg_image.site",
                                      "fg_task_definition.web", "fg_cluster.prod",
                                      "fg_service.web", "fg_target_group.web",
                                      "fg_load_balancer.edge"}
    # The next plan finds every object where the moved instances say: nothing to do, the
    # same containers and network.
    res = fleet.run("plan", "-detailed-exitcode")
    assert res.code == 0 and "No changes." in res.out, str(res)
    assert ids(fleet) == before
    assert len(fleet.tasks()) == 2
    # `fgform tasks ADDRESS` finds the moved service's tasks by its new address.
    rows = json.loads(fleet.ok("tasks", "fg_service.web", "-json").out)
    assert len(rows) == 2, rows
    # The load balancer still forwards to the service's tasks.
    assert http_get(f"http://127.0.0.1:{lb_port}/").strip() == "fgform cli test v1"

    # With the moved blocks gone too (the state carries the move) ...
    fleet.write(CONFIG, **{**NEW, "extra": ""}, lb_port=lb_port)
    res = fleet.run("plan", "-detailed-exitcode")
    assert res.code == 0, str(res)
    # ... and a new registry at the moved-away address: a container of its own, the moved
    # one untouched.
    fleet.write(CONFIG, **{**NEW, "extra": f'resource "fg_registry" "main" {{\n'
                                           f'  port = {free_port()}\n}}\n'}, lb_port=lb_port)
    res = fleet.ok("apply", "-auto-approve")
    assert "1 added, 0 changed, 0 destroyed" in res.out, str(res)
    after = ids(fleet)
    assert set(before["containers"]) < set(after["containers"])
    assert len(after["containers"]) == 5
    res = fleet.run("plan", "-detailed-exitcode")
    assert res.code == 0, str(res)

    fleet.ok("destroy", "-auto-approve")
    fleet.assert_nothing_left()
