"""The end-to-end API tests' shared parts (test_api_e2e*.py): one small configuration (a
cluster of two instances, a health-checked web task definition, a job that exits 3, a
configured service `web`), applied once per module with the real CLI, and ONE `fgform
serve` on it per module (real uvicorn, real HTTP); both cleaned up whatever happens."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import docker
import pytest
from botocore.exceptions import ClientError
from fixtures.fgcli import Fleet, clean_up, ensure_base_image

from .conftest import ApiServer, launch
from .services_fixtures import IGNORE_COUNT

PREFIX = "arn:aws:ecs:us-east-1:000000000000:"

CONFIG = """
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

resource "fg_task_definition" "job" {
  family = "$name-job"
  cpu    = 64
  memory = 32

  container "job" {
    image        = "$base_image"
    command      = ["busybox", "sh", "-c", "sleep 0.3; exit 3"]
    stop_timeout = 1
  }
}

resource "fg_service" "web" {
  name            = "web"
  cluster         = fg_cluster.main.id
  task_definition = fg_task_definition.web.arn
  desired_count   = 1
$lifecycle
}
"""

def write_config(fleet: Fleet, *, ignore_count: bool = False) -> None:
    fleet.write(CONFIG, lifecycle=IGNORE_COUNT if ignore_count else "")


def applied_fleet(docker_client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory,
                  name: str) -> Iterator[Fleet]:
    """The configuration applied; destroyed and every object of its lineage removed
    afterwards (what the API created carries the same lineage)."""
    ensure_base_image(docker_client)
    f = Fleet(tmp_path_factory.mktemp(name), docker_client)
    write_config(f)
    try:
        f.ok("apply", "-auto-approve")
        yield f
    finally:
        try:
            f.run("destroy", "-auto-approve", timeout=240)
        finally:
            clean_up(docker_client, [f])


def serving(fleet: Fleet, *flags: str) -> Iterator[ApiServer]:
    """`fgform serve` in the fleet's directory; SIGTERM at the end, which must exit 0."""
    server = launch(fleet.dir, "-listen", "127.0.0.1:0", *flags)
    try:
        server.wait_listening()
        yield server
    finally:
        code = server.stop()
        assert code == 0, f"the server exited {code}:\n{server.text}"


# The module fixtures of test_api_e2e*.py (imported there): the configuration applied in a
# directory named after the module, one `fgform serve` on it, and its admin key.
@pytest.fixture(scope="module")
def fleet(docker_client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory,
          request: pytest.FixtureRequest) -> Iterator[Fleet]:
    yield from applied_fleet(docker_client, tmp_path_factory,
                             request.module.__name__.rsplit(".", 1)[-1])


@pytest.fixture(scope="module")
def server(fleet: Fleet) -> Iterator[ApiServer]:
    yield from serving(fleet)


@pytest.fixture(scope="module")
def admin(server: ApiServer) -> tuple[str, str]:
    return server.key("admin")


def error(exc: ClientError) -> tuple[str, str]:
    """(code, message) of a boto3 error."""
    return exc.response["Error"]["Code"], exc.response["Error"]["Message"]


def fails(fn: Callable[..., Any], **params: Any) -> tuple[str, str, int]:
    """Call a boto3 operation that must fail: (code, message, HTTP status)."""
    try:
        got = fn(**params)
    except ClientError as exc:
        code, message = error(exc)
        return code, message, exc.response["ResponseMetadata"]["HTTPStatusCode"]
    raise AssertionError(f"succeeded: {got}")
