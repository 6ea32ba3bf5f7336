"""A service on a real 3-node Swarm through the real CLI: apply (tasks spread over the
nodes, the image pulled by digest on the workers), a no-op plan, a rolling update and a
circuit-breaker rollback done by Swarm, a scale in place, and a destroy that leaves nothing
on any node.

One fleet for the module; the tests take it through its life in file order (each works
alone too: the fixture applies what it needs).
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator

import docker
import pytest
from fixtures.fgcli import Fleet, clean_up, ensure_base_image

pytestmark = pytest.mark.docker

WORKERS = ("fgform-swarm-node-2", "fgform-swarm-node-3")

# busybox wget crashes in overlay-networked containers here: the health check speaks HTTP
# through bash's /dev/tcp instead.
HEALTH = ('["CMD", "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/$${PORT:-8080} && '
          'printf \'GET / HTTP/1.0\\\\r\\\\n\\\\r\\\\n\' >&3 && grep -q 200 <&3"]')

CONFIG = """
variable "replicas" {
  type    = number
  default = 6
}

variable "message" {
  type    = string
  default = "one"
}

variable "health_port" {
  type    = number
  default = 8080
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
  cpu    = 128
  memory = 64

  container "web" {
    image        = fg_image.web.uri
    command      = ["busybox", "httpd", "-f", "-v", "-p", "8080", "-h", "/www"]
    stop_timeout = 1
    environment = {
      MESSAGE = var.message
      PORT    = tostring(var.health_port)
    }
    port_mapping {
      container_port = 8080
    }
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

resource "fg_service" "web" {
  name                 = "web"
  cluster              = fg_cluster.main.id
  task_definition      = fg_task_definition.web.arn
  desired_count        = var.replicas
  steady_state_timeout = 180

  deployment {
    minimum_healthy_percent = 50
    maximum_percent         = 200
    circuit_breaker {
      enable   = true
      rollback = true
    }
  }
}

output "task_addresses" {
  value = [for t in fg_service.web.tasks : "http://$${t.address}:8080/"]
}
"""


def _registry_port() -> int:
    """A free port the workers reach the manager's loopback on (scripts/swarm.sh forwards
    5000-5999)."""
    for port in range(5600, 6000):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port in 5600-5999")


def _node(name: str, *cmd: str) -> str:
    """A docker command run on worker `name` (its Docker-in-Docker engine)."""
    proc = subprocess.run(["docker", "exec", name, "docker", *cmd], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def fleet(swarm: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Fleet]:
    ensure_base_image(swarm)
    f = Fleet(tmp_path_factory.mktemp("swarm-service"), swarm, port=_registry_port())
    f.copy_app()
    f.write(CONFIG, health=HEALTH)
    try:
        yield f
    finally:
        if f.lineage is not None and f.resources():
            f.run("destroy", "-auto-approve", timeout=300)
        # Swarm leaves the images its nodes pulled (as ECS's agent does until it cleans up):
        # this registry's are this test's, removed from the workers.
        for worker in WORKERS:
            subprocess.run(["docker", "exec", worker, "sh", "-c",
                            "docker image ls --digests --format "
                            "'{{.Repository}}@{{.Digest}}' | "
                            f"grep '^127.0.0.1:{f.port}/' | xargs -r docker image rm -f"],
                           capture_output=True, timeout=120)
        clean_up(swarm, [f])


def _service(f: Fleet) -> dict:
    svcs = f.client.api.services(filters={"label": [f"fgform.lineage={f.lineage}"]})
    assert len(svcs) == 1, svcs
    return svcs[0]


@pytest.fixture
def applied(fleet: Fleet) -> Fleet:
    """Applied with the defaults (6 tasks, message "one")."""
    fleet.ok("apply", "-auto-approve", timeout=400)
    return fleet


def running(f: Fleet) -> list[dict]:
    rows = f.tasks()
    assert rows and all(r["status"] == "RUNNING" for r in rows), rows
    return rows


def test_apply_spreads_tasks_over_every_node(fleet: Fleet) -> None:
    res = fleet.ok("apply", "-auto-approve", timeout=400)
    assert "Apply complete! Resources: 5 added, 0 changed, 0 destroyed." in res.out
    rows = running(fleet)
    assert len(rows) == 6
    assert {r["health"] for r in rows} == {"HEALTHY"}
    assert {r["revision"] for r in rows} == {f"{fleet.name}-web:1"}
    nodes = {n.attrs["Description"]["Hostname"] for n in fleet.client.nodes.list()}
    assert {r["instance"] for r in rows} == nodes  # spread: every node runs some
    prefix = fleet.cidr.rsplit(".", 1)[0] + "."
    assert all(r["address"].startswith(prefix) for r in rows), rows
    # State records the engine, and the service's tasks as the local backend lists them.
    res_ = fleet.resources()
    assert res_["fg_cluster.main"]["attributes"]["engine"] == "swarm"
    svc = res_["fg_service.web"]["attributes"]
    assert svc["running_count"] == 6
    assert sorted(t["id"] for t in svc["tasks"]) == sorted(r["task_id"] for r in rows)
    out = json.loads(fleet.ok("output", "-json").out)
    assert len(out["task_addresses"]["value"]) == 6
    # One Swarm service, dnsrr, on the cluster's overlay network; its image by digest.
    spec = _service(fleet)["Spec"]
    assert spec["EndpointSpec"]["Mode"] == "dnsrr"
    assert spec["Mode"]["Replicated"]["Replicas"] == 6
    image = spec["TaskTemplate"]["ContainerSpec"]["Image"]
    assert image == res_["fg_image.web"]["attributes"]["uri"]
    assert "@sha256:" in image
    res_limits = spec["TaskTemplate"]["Resources"]
    assert res_limits["Limits"]["NanoCPUs"] == 125_000_000 == \
        res_limits["Reservations"]["NanoCPUs"]
    assert res_limits["Limits"]["MemoryBytes"] == 64 * 1024 * 1024
    assert spec["UpdateConfig"]["FailureAction"] == "rollback"
    assert spec["UpdateConfig"]["Order"] == "start-first"
    # The workers pulled the image by its digest.
    digest = image.partition("@")[2]
    for worker in WORKERS:
        assert digest in _node(worker, "image", "ls", "--digests"), worker
    # A no-op plan afterwards.
    fleet.ok("plan", "-detailed-exitcode")


def test_logs_of_every_task(applied: Fleet) -> None:
    rows = running(applied)
    # httpd -v logs each request: every task's health checks, gathered from every node,
    # each line prefixed with its task id.
    lines = applied.ok("logs", "web").out.splitlines()
    seen = {ln.split(" | ", 1)[0].strip() for ln in lines if " | " in ln}
    assert {r["task_id"] for r in rows} <= seen, (rows, lines[:20])
    assert any("response:200" in ln for ln in lines)


def test_rolling_update_by_swarm(applied: Fleet) -> None:
    before = {r["task_id"] for r in running(applied)}
    svc_id = _service(applied)["ID"]
    res = applied.ok("apply", "-auto-approve", "-var", "message=two", timeout=400)
    assert "2 changed" in res.out, str(res)
    rows = running(applied)
    assert len(rows) == 6
    assert {r["revision"] for r in rows} == {f"{applied.name}-web:2"}
    assert not before & {r["task_id"] for r in rows}  # every task replaced
    svc = _service(applied)
    assert svc["ID"] == svc_id  # updated in place, by Swarm
    assert svc["UpdateStatus"]["State"] == "completed"
    env = svc["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"]
    assert "MESSAGE=two" in env
    applied.ok("plan", "-detailed-exitcode", "-var", "message=two")


def test_circuit_breaker_rollback_by_swarm(applied: Fleet) -> None:
    good = applied.resources()["fg_task_definition.web"]["attributes"]["arn"]
    # A health check on a port nothing listens on: the new tasks never become healthy.
    res = applied.fails("apply", "-auto-approve", "-var", "health_port=9", timeout=400)
    assert "Swarm rolled the update back" in res.flat_err, str(res)
    assert f"rolled back to {good}" in res.flat_err, str(res)
    svc = applied.resources()["fg_service.web"]["attributes"]
    assert svc["task_definition"] == good
    deps = {d["status"]: d for d in svc["deployments"]}
    assert deps["PRIMARY"]["task_definition"] == good
    assert deps["INACTIVE"]["rollout_state"] == "FAILED"
    rows = running(applied)
    assert len(rows) == 6
    assert {r["revision"] for r in rows} == {good}
    assert _service(applied)["UpdateStatus"]["State"] == "rollback_completed"


def test_new_service_that_never_gets_healthy_trips_the_breaker(applied: Fleet) -> None:
    # Replaced by a service whose tasks never pass their health check: there is no Swarm
    # update to roll back, so fgform's breaker stops the apply after ECS's threshold (3).
    res = applied.fails("apply", "-auto-approve", "-var", "health_port=9",
                        "-replace=fg_service.web", timeout=400)
    assert "did not reach a steady state" in res.flat_err, str(res)
    assert "circuit breaker threshold 3" in res.flat_err, str(res)
    svc = applied.resources()["fg_service.web"]["attributes"]
    assert svc["running_count"] == 0
    # The next apply with a good definition deploys over it (a Swarm update) and is whole.
    applied.ok("apply", "-auto-approve", timeout=400)
    assert len(running(applied)) == 6
    applied.ok("plan", "-detailed-exitcode")


def test_scale_in_place(applied: Fleet) -> None:
    svc_id = _service(applied)["ID"]
    before = {r["task_id"] for r in running(applied)}
    res = applied.ok("apply", "-auto-approve", "-var", "replicas=3", timeout=400)
    assert "1 changed" in res.out, str(res)
    rows = running(applied)
    assert len(rows) == 3
    assert {r["task_id"] for r in rows} <= before  # a scale, not a rolling update
    res = applied.ok("apply", "-auto-approve", "-var", "replicas=5", timeout=400)
    rows = running(applied)
    assert len(rows) == 5
    assert len({r["task_id"] for r in rows} & before) == 3
    res = applied.ok("apply", "-auto-approve", "-var", "replicas=3", timeout=400)
    assert len(running(applied)) == 3
    # Swarm keeps the count itself: `reconcile` only reads, and changes nothing.
    kept = {r["task_id"] for r in running(applied)}
    applied.ok("reconcile")
    assert {r["task_id"] for r in running(applied)} == kept
    assert _service(applied)["ID"] == svc_id
    assert applied.resources()["fg_service.web"]["attributes"]["running_count"] == 3
    applied.ok("plan", "-detailed-exitcode", "-var", "replicas=3")


def test_destroy_leaves_nothing_on_any_node(applied: Fleet) -> None:
    lineage = applied.lineage
    net = f"fgform-{applied.name}"
    applied.ok("destroy", "-auto-approve", timeout=400)
    assert applied.client.api.services(filters={"label": [f"fgform.lineage={lineage}"]}) \
        == []
    applied.assert_nothing_left()
    # The workers: no container of the lineage, and the overlay network gone (Swarm removes
    # a node's copy of it when its last task there is gone).
    deadline = time.monotonic() + 30
    for worker in WORKERS:
        while True:
            ps = _node(worker, "ps", "-a", "-q", "--filter", f"label=fgform.lineage={lineage}")
            nets = _node(worker, "network", "ls", "--format", "{{.Name}}").split()
            if not ps.strip() and net not in nets:
                break
            assert time.monotonic() < deadline, (worker, ps, nets)
            time.sleep(1)
