"""The failures a user meets, through the real CLI against the real engine.

Each must print a clear message (never a Python traceback), exit 1, leave the state file
consistent (it parses, it lists only what exists) and leave nothing orphaned: after each test
no container, network or volume of the test's lineage remains.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from fixtures.fgcli import Fleet, clean_up, ensure_base_image

pytestmark = pytest.mark.docker

REGISTRY_AND_IMAGE = """
resource "fg_registry" "main" {
  port = $port
}

resource "fg_image" "web" {
  registry   = fg_registry.main.id
  repository = "web"
  context    = "$${path.module}/app"
}
"""

# A service of the session base image (no registry, no build): quick to apply.
SERVICE = """
resource "fg_task_definition" "app" {
  family = "$name-app"
  cpu    = $cpu
  memory = $memory

  container "app" {
    image        = "$base_image"
    command      = $command
    stop_timeout = 1
  }
}

resource "fg_cluster" "main" {
  name       = "$name"
  cidr_block = "$cidr"

  capacity {
    instance_count  = $instances
    instance_cpu    = $instance_cpu
    instance_memory = $instance_memory
  }
}

resource "fg_service" "app" {
  name                 = "app"
  cluster              = fg_cluster.main.id
  task_definition      = fg_task_definition.app.arn
  desired_count        = $count
  steady_state_timeout = 5
}
"""

SLEEPER = '["busybox", "sleep", "600"]'


def service_config(fleet: Fleet, *, command: str = SLEEPER, count: int = 2, cpu: int = 128,
                   memory: int = 64, instances: int = 1, instance_cpu: int = 1024,
                   instance_memory: int = 512) -> None:
    fleet.write(SERVICE, command=command, count=count, cpu=cpu, memory=memory,
                instances=instances, instance_cpu=instance_cpu,
                instance_memory=instance_memory)


@pytest.fixture
def fleet(docker_client: docker.DockerClient, tmp_path: Path) -> Iterator[Fleet]:
    ensure_base_image(docker_client)
    f = Fleet(tmp_path / "cfg", docker_client)
    try:
        yield f
    finally:
        clean_up(docker_client, [f])


def test_dockerfile_that_fails_to_build(fleet: Fleet) -> None:
    app = fleet.copy_app()
    (app / "Dockerfile").write_text(
        "FROM debian:bookworm-slim\n"
        "RUN echo preparing the app && ls /no/such/dir && echo never\n"
        "COPY www/ /www/\n")
    fleet.write(REGISTRY_AND_IMAGE)
    res = fleet.fails("apply", "-auto-approve")
    # The failing step and its output, then the builder's verdict.
    assert "Error: creating fg_image.web: image build failed at Step 2/" in res.flat_err, res.err
    assert "RUN echo preparing the app && ls /no/such/dir" in res.flat_err, res.err
    assert "preparing the app" in res.flat_err, res.err
    assert "ls: cannot access '/no/such/dir': No such file or directory" in res.flat_err, res.err
    assert "returned a non-zero code: 2" in res.flat_err, res.err
    assert "never" not in res.flat_err.replace("&& echo never", "")
    # State: the registry (which did get created), not the image.
    assert set(fleet.resources()) == {"fg_registry.main"}
    assert fleet.objects()["containers"] == [f"fgform-registry-{fleet.lineage[:8]}-main"]
    assert fleet.client.api.images(
        filters={"label": [f"fgform.lineage={fleet.lineage}"]}) == []

    fleet.ok("destroy", "-auto-approve")
    fleet.assert_nothing_left()


def test_registry_port_already_taken(fleet: Fleet) -> None:
    fleet.write('resource "fg_registry" "main" {\n  port = $port\n}\n')
    with socket.socket() as s:
        s.bind(("127.0.0.1", fleet.port))
        s.listen()
        res = fleet.fails("apply", "-auto-approve")
    assert f"Error: creating fg_registry.main: port {fleet.port} on 127.0.0.1 is already " \
           "in use" in res.flat_err
    assert "choose another `port`" in res.flat_err, res.err
    assert fleet.resources() == {}
    # The container Docker left `created` is removed, and so is the volume made for it.
    fleet.assert_nothing_left()
    # Once the port is free, the same configuration applies.
    fleet.ok("apply", "-auto-approve")
    assert set(fleet.resources()) == {"fg_registry.main"}
    fleet.ok("destroy", "-auto-approve")
    fleet.assert_nothing_left()


def test_task_that_exits_at_once(fleet: Fleet) -> None:
    # A whole core each: a CPU-starved container may still look `running` a second after
    # start, which the no-health-check steady test would take for steady (see the report).
    service_config(fleet, command='["busybox", "sh", "-c", "echo booting; '
                                  'echo fatal: no config file >&2; false"]',
                   cpu=1024, instance_cpu=2048)
    res = fleet.fails("apply", "-auto-approve")
    # The address once: the driver's message starts with it, the apply error too.
    assert "Error: creating fg_service.app: did not reach a steady state" in res.flat_err, \
        res.err
    assert "exit code 1" in res.flat_err, res.err
    assert "last log lines:" in res.flat_err, res.err
    assert "fatal: no config file" in res.flat_err and "booting" in res.flat_err, res.err
    # The failed tasks are removed; state records the service as it is (no tasks), tainted.
    assert fleet.containers(kind="task") == []
    svc = fleet.resources().get("fg_service.app")
    assert svc is not None and svc["status"] == "tainted"
    assert svc["attributes"]["running_count"] == 0
    fleet.assert_no_orphans()
    # reconcile starts the tasks again and fails the same way, naming the address once.
    res = fleet.fails("reconcile")
    assert "Error: fg_service.app: did not reach a steady state" in res.flat_err, res.err
    assert "fg_service.app: fg_service.app" not in res.flat_err, res.err
    fleet.assert_no_orphans()

    # Fixed, the next apply converges.
    service_config(fleet)
    fleet.ok("apply", "-auto-approve")
    assert len(fleet.tasks()) == 2
    fleet.assert_no_orphans()
    fleet.ok("destroy", "-auto-approve")
    fleet.assert_nothing_left()


def test_insufficient_capacity_starts_nothing(fleet: Fleet) -> None:
    service_config(fleet, count=3, instances=1, instance_cpu=256, instance_memory=128)
    res = fleet.fails("apply", "-auto-approve")
    assert "Error: creating fg_service.app: Unable to place 3 task(s) of " \
           f"{fleet.name}-app:1 (cpu 128, memory 64)" in res.flat_err
    assert "free per instance: i-0 cpu 256 memory 128" in res.flat_err, res.err
    assert "raise capacity.instance_count" in res.flat_err, res.err
    assert fleet.containers(kind="task") == []
    assert "fg_service.app" not in fleet.resources()
    fleet.ok("destroy", "-auto-approve")
    fleet.assert_nothing_left()


def test_docker_engine_unreachable(fleet: Fleet) -> None:
    from fixtures.fgcli import cli_env

    service_config(fleet)
    dead = cli_env(DOCKER_HOST="unix:///nonexistent.sock")
    res = fleet.fails("apply", "-auto-approve", env=dead)
    assert "Error: Cannot reach the Docker engine at unix:///nonexistent.sock" in res.flat_err, res.err
    assert "DOCKER_HOST" in res.flat_err, res.err
    assert res.err.count("Cannot reach the Docker engine") == 1
    # Refused before anything changed: not even the task definition (no Docker object) is
    # recorded, so what state says stays true.
    assert fleet.resources() == {}

    # With a fleet in state: refresh needs the engine, and so do the fleet commands.
    fleet.ok("apply", "-auto-approve")
    serial = fleet.state()["serial"]
    for args in (("plan",), ("apply", "-auto-approve"), ("destroy", "-auto-approve"),
                 ("tasks",), ("run-task", f"{fleet.name}-app")):
        res = fleet.fails(*args, env=dead)
        assert "Cannot reach the Docker engine at unix:///nonexistent.sock" in res.flat_err, \
            str(res)
    assert fleet.state()["serial"] == serial
    assert len(fleet.tasks()) == 2
    fleet.ok("destroy", "-auto-approve")
    fleet.assert_nothing_left()


def test_push_refused_registry_stopped_after_plan(fleet: Fleet) -> None:
    """The registry dies between `plan -out` and `apply PLAN`: the push is refused."""
    fleet.copy_app()
    fleet.write(REGISTRY_AND_IMAGE)
    fleet.ok("apply", "-auto-approve", "-target", "fg_registry.main")
    fleet.ok("plan", "-out", "tfplan")
    registry = fleet.resources()["fg_registry.main"]["attributes"]["id"]
    fleet.client.api.stop(registry, timeout=1)

    res = fleet.fails("apply", "tfplan")
    endpoint = f"127.0.0.1:{fleet.port}"
    assert f"Error: creating fg_image.web: push of {endpoint}/web:latest failed" in res.flat_err, res.err
    assert "connection refused" in res.flat_err, res.err
    assert set(fleet.resources()) == {"fg_registry.main"}
    # The tag that never reached the registry is not left behind.
    assert fleet.client.api.images(name=f"{endpoint}/web") == []

    # The next plan sees the registry down and restarts it (same volume); the push succeeds.
    res = fleet.ok("apply", "-auto-approve")
    assert "fg_registry.main will be created" in res.out
    assert set(fleet.resources()) == {"fg_registry.main", "fg_image.web"}
    assert fleet.resources()["fg_image.web"]["attributes"]["digest"].startswith("sha256:")
    assert len(fleet.objects()["volumes"]) == 1
    fleet.ok("destroy", "-auto-approve")
    fleet.assert_nothing_left()
