"""Node loss on the real 3-node Swarm: a worker drained, its tasks rescheduled on the other
nodes, `fgform nodes` showing it "drain" with nothing placed there; the node is ALWAYS made
active again.

It drains a node every Swarm test shares, so it is named test_zz_... and lives in its own
module: it runs after the other Swarm tests (pytest runs modules and tests in file order,
and this file sorts last), never in the middle of them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import docker
import pytest
from docker.errors import APIError, NotFound
from docker.types import ContainerSpec, EndpointSpec, ServiceMode, TaskTemplate

from fgform.fleet.docker import labels as L
from fgform.fleet.driver import FleetContext
from fgform.fleet.swarm.fleet import EngineFleet
from fgform.fleet.swarm.removal import remove_service
from swarm.images import swarm_image

__all__ = ["swarm_image"]  # the fixture, imported for pytest

pytestmark = pytest.mark.docker

REPLICAS = 3


def set_availability(client: docker.DockerClient, node_id: str, availability: str) -> None:
    """`docker node update --availability`, retried when the node's version moved under us
    (Swarm refuses an update made from a stale version)."""
    for _ in range(10):
        node = client.api.inspect_node(node_id)
        spec = dict(node["Spec"])
        spec["Availability"] = availability
        try:
            client.api.update_node(node_id, node["Version"]["Index"], spec)
            return
        except APIError as exc:
            if "update out of sequence" not in str(exc):
                raise
            time.sleep(0.2)
    raise AssertionError(f"could not set node {node_id} {availability}")


def running_tasks(client: docker.DockerClient, service_id: str) -> list[dict[str, Any]]:
    return [t for t in client.api.tasks(filters={"service": service_id,
                                                  "desired-state": "running"})
            if (t.get("Status") or {}).get("State") == "running"]


def wait_for(what: str, check: Any, timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


@pytest.fixture
def web(swarm: docker.DockerClient, ctx: FleetContext,
        swarm_image: dict[str, Any]) -> Iterator[str]:
    """A 3-replica dnsrr service on an overlay network of this test, labelled as fgform's
    service driver labels its services; its id."""
    net = f"nodes-loss-{uuid.uuid4().hex[:8]}"
    swarm.api.create_network(net, driver="overlay", attachable=True,
                             labels=L.base_labels(ctx, "fg_cluster.main", kind="cluster"))
    labels = L.base_labels(ctx, "fg_service.web", kind="service", **{L.CLUSTER: "main"})
    spec = ContainerSpec(swarm_image["uri"], labels=labels,
                         args=["busybox", "httpd", "-f", "-p", "8080", "-h", "/www"])
    sid = str(swarm.api.create_service(
        TaskTemplate(spec, networks=[net]), name=f"nodes-loss-{ctx.lineage[-8:]}",
        labels=labels, mode=ServiceMode("replicated", replicas=REPLICAS),
        endpoint_spec=EndpointSpec(mode="dnsrr"))["ID"])
    try:
        yield sid
    finally:
        remove_service(swarm, sid, time.monotonic() + 30)
        for _ in range(60):
            try:
                swarm.api.remove_network(net)
                break
            except NotFound:
                break
            except APIError:
                time.sleep(0.5)


def test_zz_drained_worker_tasks_are_rescheduled(swarm: docker.DockerClient,
                                                 ctx: FleetContext, web: str) -> None:
    tasks = wait_for("3 running tasks", lambda: (lambda ts: ts if len(ts) == REPLICAS else None)(
        running_tasks(swarm, web)))
    workers = {n.id for n in swarm.nodes.list() if n.attrs["Spec"]["Role"] == "worker"}
    on_workers = [t["NodeID"] for t in tasks if t["NodeID"] in workers]
    assert on_workers, "Swarm placed no task on a worker"
    victim = sorted(on_workers)[0]
    fleet = EngineFleet(swarm)
    try:
        set_availability(swarm, victim, "drain")

        def whole_again() -> list[dict[str, Any]] | None:
            ts = running_tasks(swarm, web)
            return ts if len(ts) == REPLICAS and all(t["NodeID"] != victim for t in ts) \
                else None

        moved = wait_for("the tasks rescheduled off the drained node", whole_again)
        assert {t["NodeID"] for t in moved} <= {n.id for n in swarm.nodes.list()} - {victim}
        rows = {r.node_id: r for r in fleet.list_nodes(ctx, [("main", {"engine": "swarm"})])}
        assert rows[victim].availability == "drain"
        assert rows[victim].tasks == 0
        assert sum(r.tasks for r in rows.values()) == REPLICAS
    finally:
        # Always: the shared swarm gets its node back, whatever happened above.
        set_availability(swarm, victim, "active")
    rows = {r.node_id: r for r in fleet.list_nodes(ctx, [("main", {"engine": "swarm"})])}
    assert rows[victim].availability == "active"


# fgform's own service on the swarm: a registry, its image, a swarm cluster and a 3-task
# service with a health check (bash's /dev/tcp: busybox wget crashes on overlay networks).
FG_CONFIG = """
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
    command      = ["busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]
    stop_timeout = 1
    port_mapping {
      container_port = 8080
    }
    health_check {
      command  = $swarm_health
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
  desired_count        = 3
  steady_state_timeout = 180
}
"""
SWARM_HEALTH = ('["CMD", "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && '
                'printf \'GET / HTTP/1.0\\\\r\\\\n\\\\r\\\\n\' >&3 && grep -q 200 <&3"]')


@pytest.fixture
def fg_fleet(swarm: docker.DockerClient, tmp_path: Any) -> Iterator[Any]:
    from fixtures.fgcli import Fleet, clean_up, ensure_base_image

    from swarm.images import swarm_registry_port

    ensure_base_image(swarm)
    f = Fleet(tmp_path / "fg", swarm, port=swarm_registry_port())
    f.copy_app()
    f.write(FG_CONFIG, swarm_health=SWARM_HEALTH)
    try:
        yield f
    finally:
        if f.lineage is not None and f.resources():
            f.run("destroy", "-auto-approve", timeout=300)
        for node in swarm.nodes.list():  # the image the workers pulled
            if node.attrs["Spec"]["Role"] == "worker":
                swarm.containers.get(node.attrs["Description"]["Hostname"]).exec_run(
                    ["sh", "-c", "docker image ls --digests --format "
                     "'{{.Repository}}@{{.Digest}}' | "
                     f"grep '^127.0.0.1:{f.port}/' | xargs -r docker image rm -f"])
        clean_up(swarm, [f])


def test_zz_drained_node_under_an_fgform_service(swarm: docker.DockerClient,
                                                 fg_fleet: Any) -> None:
    """fgform's own service: a worker drained, `fgform tasks` shows its tasks moved,
    `fgform nodes` shows it draining with none placed, and the plan is a no-op once the
    service is whole again."""
    import json

    f = fg_fleet
    f.ok("apply", "-auto-approve", timeout=400)
    rows = f.tasks()
    workers = {n.attrs["Description"]["Hostname"]: n.id for n in swarm.nodes.list()
               if n.attrs["Spec"]["Role"] == "worker"}
    used = sorted({r["instance"] for r in rows} & set(workers))
    assert used, rows
    host = used[0]
    moved_ids = {r["task_id"] for r in rows if r["instance"] == host}
    try:
        set_availability(swarm, workers[host], "drain")

        def whole() -> list[dict[str, Any]] | None:
            now = f.tasks()
            ok = (len(now) == 3 and all(r["status"] == "RUNNING" for r in now)
                  and all(r["instance"] != host for r in now))
            return now if ok else None

        now = wait_for("the service whole again off the drained node", whole)
        assert not moved_ids & {r["task_id"] for r in now}  # new tasks, elsewhere
        nodes = {r["instance"]: r for r in json.loads(f.ok("nodes", "-json").out)}
        assert nodes[host]["availability"] == "drain" and nodes[host]["tasks"] == 0
        assert sum(r["tasks"] for r in nodes.values()) == 3
        # Swarm made the service whole: nothing for fgform to change.
        f.ok("plan", "-detailed-exitcode")
    finally:
        set_availability(swarm, workers[host], "active")
