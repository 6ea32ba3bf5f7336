"""Placement on a real 3-node Swarm through the real CLI: a DAEMON service runs one task on
every node (a global service), a memberOf constraint on a node label keeps the tasks on the
labelled node, and a constraint no node satisfies is refused at plan time (exit 1, nothing
created), as Nomad's plan reports placement failures before anything changes.

The node label is this test's own (`fgtest-zone`), added to one worker and removed after.
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator

import docker
import pytest
from fixtures.fgcli import Fleet, clean_up, ensure_base_image

pytestmark = pytest.mark.docker

LABELLED = "fgform-swarm-node-3"
HEALTH = ('["CMD", "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && '
          'printf \'GET / HTTP/1.0\\\\r\\\\n\\\\r\\\\n\' >&3 && grep -q 200 <&3"]')

CONFIG = """
variable "zone" {
  type    = string
  default = "b"
}

resource "fg_registry" "main" {
  port = $port
}

resource "fg_image" "web" {
  registry   = fg_registry.main.id
  repository = "web"
  context    = "$${path.module}/app"
}

resource "fg_task_definition" "web" {
  family = "$name-web"
  cpu    = 64
  memory = 32

  container "web" {
    image        = fg_image.web.uri
    command      = ["busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]
    stop_timeout = 1
    health_check {
      command  = $health
      interval = 1
      retries  = 2
    }
  }
}

resource "fg_cluster" "main" {
  name       = "$name"
  cidr_block = "$cidr"
  engine     = "swarm"
}

resource "fg_service" "daemon" {
  name                = "daemon"
  cluster             = fg_cluster.main.id
  task_definition     = fg_task_definition.web.arn
  scheduling_strategy = "DAEMON"
}

resource "fg_service" "zoned" {
  name            = "zoned"
  cluster         = fg_cluster.main.id
  task_definition = fg_task_definition.web.arn
  desired_count   = 3

  placement_constraints {
    type       = "memberOf"
    expression = "attribute:fgtest-zone == $${var.zone}"
  }
}
"""


def _registry_port() -> int:
    for port in range(5500, 5600):  # scripts/swarm.sh forwards 5000-5999 to the manager
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port in 5500-5599")


def _label(client: docker.DockerClient, node: str, value: str | None) -> None:
    n = next(n for n in client.nodes.list() if n.attrs["Description"]["Hostname"] == node)
    spec = dict(n.attrs["Spec"])
    labels = dict(spec.get("Labels") or {})
    if value is None:
        labels.pop("fgtest-zone", None)
    else:
        labels["fgtest-zone"] = value
    spec["Labels"] = labels
    n.update(spec)


@pytest.fixture(scope="module")
def fleet(swarm: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Fleet]:
    ensure_base_image(swarm)
    _label(swarm, LABELLED, "b")
    f = Fleet(tmp_path_factory.mktemp("swarm-placement"), swarm, port=_registry_port())
    f.copy_app()
    f.write(CONFIG, health=HEALTH)
    try:
        yield f
    finally:
        try:
            if f.lineage is not None and f.resources():
                f.run("destroy", "-auto-approve", timeout=300)
            for worker in ("fgform-swarm-node-2", "fgform-swarm-node-3"):
                subprocess.run(["docker", "exec", worker, "sh", "-c",
                                "docker image ls --digests --format "
                                "'{{.Repository}}@{{.Digest}}' | "
                                f"grep '^127.0.0.1:{f.port}/' | xargs -r docker image rm -f"],
                               capture_output=True, timeout=120)
            clean_up(swarm, [f])
        finally:
            _label(swarm, LABELLED, None)


def _by_service(f: Fleet) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for row in f.tasks():
        assert row["status"] == "RUNNING", row
        out.setdefault(row["service"], []).append(row["instance"])
    return {k: sorted(v) for k, v in out.items()}


def test_daemon_and_member_of_on_swarm(fleet: Fleet) -> None:
    res = fleet.ok("apply", "-auto-approve", timeout=400)
    assert "6 added" in res.out, str(res)
    nodes = sorted(n.attrs["Description"]["Hostname"] for n in fleet.client.nodes.list())
    placed = _by_service(fleet)
    assert placed["daemon"] == nodes  # one task on every node
    assert placed["zoned"] == [LABELLED] * 3  # only the labelled node
    svcs = {s["Spec"]["Labels"]["fgform.service"]: s["Spec"] for s in fleet.client.api.services(
        filters={"label": [f"fgform.lineage={fleet.lineage}"]})}
    assert "Global" in svcs["daemon"]["Mode"]
    assert svcs["zoned"]["TaskTemplate"]["Placement"]["Constraints"] == \
        ["node.labels.fgtest-zone==b"]
    attrs = fleet.resources()["fg_service.daemon"]["attributes"]
    assert attrs["desired_count"] == attrs["running_count"] == len(nodes)
    fleet.ok("plan", "-detailed-exitcode")


def test_impossible_constraint_is_refused_at_plan_time(fleet: Fleet) -> None:
    if not fleet.resources():
        fleet.ok("apply", "-auto-approve", timeout=400)
    before = fleet.resources()
    res = fleet.fails("plan", "-var", "zone=nowhere")
    assert res.code == 1, str(res)
    assert 'memberOf "attribute:fgtest-zone == nowhere"' in res.flat_err, str(res)
    res = fleet.fails("apply", "-auto-approve", "-var", "zone=nowhere", timeout=120)
    assert res.code == 1
    assert fleet.resources() == before  # nothing changed
    assert sorted(_by_service(fleet)["zoned"]) == [LABELLED] * 3
