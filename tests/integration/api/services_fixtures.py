"""The API service tests' configuration (one cluster, one task definition: the session
base image serving HTTP with a health check, one target group and a configured service
`web`) and how they call the actions and watch the fleet."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
from fixtures.fgcli import Fleet, clean_up, ensure_base_image, remove_lineages

from fgform.api.actions import ACTIONS, ApiContext
from fgform.api.errors import ApiError

CONFIG = """
variable "message" {
  type    = string
  default = "v1"
}

resource "fg_cluster" "main" {
  name       = "$name"
  cidr_block = "$cidr"

  capacity {
    instance_count  = 2
    instance_cpu    = 2048
    instance_memory = 2048
  }
}

resource "fg_task_definition" "web" {
  family = "$name-web"
  cpu    = 64
  memory = 32

  container "web" {
    image        = "$base_image"
    stop_timeout = 1
    environment = {
      MESSAGE = var.message
    }
    port_mapping {
      container_port = 8080
    }
    health_check {
      command  = $health
      interval = 1
      retries  = 3
    }
  }
}

resource "fg_target_group" "web" {
  name = "$name-tg"
  port = 8080
}

resource "fg_service" "web" {
  name            = "web"
  cluster         = fg_cluster.main.id
  task_definition = fg_task_definition.web.arn
  desired_count   = 1
$lifecycle
}
"""

IGNORE_COUNT = """
  lifecycle {
    ignore_changes = [desired_count]
  }
"""


def write_config(fleet: Fleet, *, ignore_count: bool = False) -> None:
    fleet.write(CONFIG, lifecycle=IGNORE_COUNT if ignore_count else "")


@contextlib.contextmanager
def applied(docker_client: docker.DockerClient, dir: Path) -> Iterator[Fleet]:
    """The configuration applied in `dir`; destroyed (and every object of its lineage
    removed) afterwards, whatever the test did. API-made services are in state, so destroy
    removes them too."""
    ensure_base_image(docker_client)
    f = Fleet(dir, docker_client)
    write_config(f)
    try:
        f.ok("apply", "-auto-approve")
        yield f
        f.ok("destroy", "-auto-approve", timeout=240)
        clean_up(docker_client, [f])
    finally:
        remove_lineages(docker_client, set(f.lineages))


def call(ctx: ApiContext, name: str, **params: Any) -> dict[str, Any]:
    """Run action `name`'s handler as the server would (after authorization)."""
    import fgform.api.handlers  # noqa: F401  registers the actions

    return ACTIONS[name].handler(ctx, params)


def error_of(ctx: ApiContext, name: str, **params: Any) -> ApiError:
    """The ApiError action `name` answers (the test fails when it succeeds)."""
    try:
        got = call(ctx, name, **params)
    except ApiError as exc:
        return exc
    raise AssertionError(f"{name} succeeded: {got}")


def wait_until(what: Callable[[], Any], timeout: float = 60, desc: str = "") -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = what()
        if last:
            return last
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {desc} (last: {last!r})")


def running(fleet: Fleet, service: str) -> list[dict[str, Any]]:
    """The service's running tasks as `fgform tasks -json` lists them."""
    return [t for t in fleet.tasks() if t["service"] == service
            and t["status"] == "RUNNING"]
