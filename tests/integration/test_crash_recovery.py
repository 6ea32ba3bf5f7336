"""Crash recovery: `fgform apply` killed (SIGKILL) or interrupted (SIGINT) part-way.

The kill points are found by watching the fleet and the output (a registry container that
runs, an image build that started, task containers that exist), never by sleeping blindly.
After each kill the state file must parse, the dead process's lock must be taken over as
stale, and the next apply must converge without leaving anything the state does not know.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from fixtures.fgcli import Fleet, Running, clean_up, ensure_base_image

pytestmark = pytest.mark.docker

FULL = """
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
    stop_timeout = 1
    health_check {
      command  = $health
      interval = 1
      retries  = 3
    }
  }
}

resource "fg_cluster" "main" {
  name       = "$name"
  cidr_block = "$cidr"
}

resource "fg_service" "web" {
  name                 = "web"
  cluster              = fg_cluster.main.id
  task_definition      = fg_task_definition.web.arn
  desired_count        = 3
  steady_state_timeout = 60
}
"""

# Two services of the session base image, the second after the first.
TWO_SERVICES = """
resource "fg_task_definition" "web" {
  family = "$name-web"
  cpu    = 128
  memory = 64

  container "web" {
    image        = "$base_image"
    stop_timeout = 1
    health_check {
      command  = $health
      interval = 1
      retries  = 3
    }
  }
}

resource "fg_cluster" "main" {
  name       = "$name"
  cidr_block = "$cidr"
}

resource "fg_service" "a" {
  name                 = "a"
  cluster              = fg_cluster.main.id
  task_definition      = fg_task_definition.web.arn
  desired_count        = 2
  steady_state_timeout = 60
}

resource "fg_service" "b" {
  name                 = "b"
  cluster              = fg_cluster.main.id
  task_definition      = fg_task_definition.web.arn
  desired_count        = 2
  steady_state_timeout = 60
  depends_on           = [fg_service.a]
}
"""


@pytest.fixture
def fleet(docker_client: docker.DockerClient, tmp_path: Path) -> Iterator[Fleet]:
    ensure_base_image(docker_client)
    f = Fleet(tmp_path / "cfg", docker_client)
    try:
        yield f
    finally:
        clean_up(docker_client, [f])


def after_kill(fleet: Fleet, run: Running) -> dict:
    """The state after a SIGKILL: it parses, and the dead process's lock is still there."""
    assert run.proc.returncode == -signal.SIGKILL
    state = fleet.state()
    assert state is not None and state["lineage"]
    assert fleet.lock_path.exists(), "the killed apply held the lock"
    holder = json.loads(fleet.lock_path.read_text())
    assert holder["Pid"] == run.proc.pid
    return state


def test_kill_9_at_several_points_then_converge(fleet: Fleet) -> None:
    fleet.copy_app()
    fleet.write(FULL)

    # 1. Killed once the registry container exists, before its create has been recorded
    # (the driver waits for the server to answer first): a container and a volume of the
    # lineage that the state does not list.
    run = fleet.start("apply", "-auto-approve")
    run.wait_for(lambda: fleet.lineage and fleet.containers(kind="registry"),
                 desc="the registry container")
    run.kill9()
    after_kill(fleet, run)
    lineage = fleet.lineage
    assert "fg_registry.main" not in fleet.resources()
    assert len(fleet.containers(kind="registry")) == 1
    assert len(fleet.objects()["volumes"]) == 1

    # 2. Killed while the image builds (the registry is there by now).
    run = fleet.start("apply", "-auto-approve")
    run.wait_line("fg_image.web: Creating...")
    time.sleep(0.3)
    run.kill9()
    after_kill(fleet, run)
    assert fleet.lineage == lineage
    # The leftover registry container was replaced (one container, the same volume).
    assert "fg_registry.main" in fleet.resources()
    assert "fg_image.web" not in fleet.resources()
    assert len(fleet.containers(kind="registry")) == 1
    assert len(fleet.objects()["volumes"]) == 1

    assert "Took over a stale state lock" in " ".join(run.output.split())

    # 3. Killed while the service's tasks start: containers exist that no state lists.
    run = fleet.start("apply", "-auto-approve")
    run.wait_for(lambda: fleet.containers(kind="task"), timeout=90, desc="task containers")
    run.kill9()
    after_kill(fleet, run)
    assert "fg_service.web" not in fleet.resources()
    assert fleet.containers(kind="task")

    # 4. The next apply takes over the stale lock, adopts or replaces what the kills left,
    # and converges.
    res = fleet.ok("apply", "-auto-approve")
    assert "Apply complete!" in res.out
    assert "Took over a stale state lock" in res.flat_err
    assert not fleet.lock_path.exists()
    rows = fleet.tasks()
    assert len(rows) == 3, rows
    assert {(r["status"], r["health"]) for r in rows} == {("RUNNING", "HEALTHY")}
    fleet.assert_no_orphans()
    assert len(fleet.containers(kind="registry")) == 1
    assert len(fleet.objects()["volumes"]) == 1
    assert "No changes." in fleet.ok("plan", "-detailed-exitcode").out

    fleet.ok("destroy", "-auto-approve")
    fleet.assert_nothing_left()
    # Builds the killed applies made but never recorded go with the image resource too.
    assert fleet.client.api.images(filters={"label": [f"fgform.lineage={lineage}"]}) == []


def test_kill_9_during_scale_out_then_converge(fleet: Fleet) -> None:
    """Killed while an existing service scales out: the new tasks are adopted."""
    fleet.write(TWO_SERVICES.replace("desired_count        = 2\n  steady_state_timeout = 60\n"
                                      "  depends_on", "desired_count = 0\n  depends_on"))
    fleet.ok("apply", "-auto-approve")
    assert len(fleet.tasks()) == 2
    fleet.write(TWO_SERVICES)
    run = fleet.start("apply", "-auto-approve")
    run.wait_for(lambda: fleet.containers(service="b"), desc="service b's tasks")
    run.kill9()
    after_kill(fleet, run)

    res = fleet.ok("apply", "-auto-approve")
    assert "Apply complete!" in res.out
    assert "Took over a stale state lock" in res.flat_err
    rows = fleet.tasks()
    assert sorted(r["service"] for r in rows) == ["a", "a", "b", "b"], rows
    fleet.assert_no_orphans()
    assert "No changes." in fleet.ok("plan", "-detailed-exitcode").out
    fleet.ok("destroy", "-auto-approve")
    fleet.assert_nothing_left()


def test_ctrl_c_stops_gracefully_then_converges(fleet: Fleet) -> None:
    fleet.write(TWO_SERVICES)
    run = fleet.start("apply", "-auto-approve")
    run.wait_line("fg_service.a: Creating...")
    run.proc.send_signal(signal.SIGINT)
    code = run.finish()
    out = run.output
    assert code == 1, out
    assert "Traceback" not in out
    assert "Interrupt received" in out
    assert "Gracefully shutting down" in out
    # What was running finished and is recorded; what was not started was not.
    assert "fg_service.a: Creation complete" in out
    assert "Apply cancelled" in out
    res = fleet.resources()
    assert "fg_service.a" in res and "fg_service.b" not in res
    assert len(res["fg_service.a"]["attributes"]["tasks"]) == 2
    assert not fleet.lock_path.exists(), "a graceful stop releases the lock"
    fleet.assert_no_orphans()

    res2 = fleet.ok("apply", "-auto-approve")
    assert "Resources: 1 added, 0 changed, 0 destroyed." in res2.out
    rows = fleet.tasks()
    assert sorted(r["service"] for r in rows) == ["a", "a", "b", "b"]
    fleet.assert_no_orphans()
    fleet.ok("destroy", "-auto-approve")
    fleet.assert_nothing_left()
