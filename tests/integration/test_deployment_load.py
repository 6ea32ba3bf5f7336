"""Rolling deployments through the real load balancer under 300 requests a second, each on a
new connection: no request fails while every task of a 4-task service is replaced, with the
default limits (start all, then drain all) and with 50/100 (half at a time, no surge)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import docker
import pytest
from fixtures.fgcli import Fleet
from fixtures.lbfleet import SERVICE_CONFIG, module_fleet

pytestmark = pytest.mark.docker

# The load balancer module's service, with its revision chosen by a variable and its
# deployment limits by two more.
CONFIG = SERVICE_CONFIG.replace('''    stop_timeout = 1
''', '''    stop_timeout = 1
    environment = {
      VERSION = var.app_version
    }
''', 1).replace('''  steady_state_timeout = 60
''', '''  steady_state_timeout = 60
  deployment {
    minimum_healthy_percent = var.min_healthy
    maximum_percent         = var.max_percent
  }
''', 1) + '''
variable "app_version" {
  type    = string
  default = "1"
}

variable "min_healthy" {
  type    = number
  default = 100
}

variable "max_percent" {
  type    = number
  default = 200
}
'''


@pytest.fixture(scope="module")
def fleet(docker_client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Fleet]:
    assert CONFIG.count("var.app_version") == 1 and CONFIG.count("var.min_healthy") == 1
    yield from module_fleet(docker_client, tmp_path_factory, "deploy-load", CONFIG)


@pytest.mark.parametrize(("lo", "hi"), [(100, 200), (50, 100)])
def test_deployment_under_load_fails_no_request(fleet: Fleet, lo: int, hi: int) -> None:
    from lb_load import Load

    limits = ["-var", f"min_healthy={lo}", "-var", f"max_percent={hi}", "-var", "replicas=4"]
    fleet.ok("apply", "-auto-approve", *limits, "-var", "app_version=0")
    port = fleet.lbport  # type: ignore[attr-defined]
    load = Load(f"http://127.0.0.1:{port}/", rps=300, workers=24).start()
    took = []
    try:
        for version in ("1", "2"):
            start = time.monotonic()
            fleet.ok("apply", "-auto-approve", *limits, "-var", f"app_version={version}",
                     timeout=240)
            took.append(time.monotonic() - start)
    finally:
        result = load.stop()
    print(f"\n2 deployments of 4 tasks at {lo}/{hi} under load: {result.summary()}, "
          f"apply took {', '.join(f'{t:.1f} s' for t in took)}")
    assert result.failed == 0, (result.summary(), result.errors)
    assert result.rate >= 250, result.summary()  # the load held (the machine is shared)
    svc = fleet.resources()["fg_service.web"]["attributes"]
    assert {t["task_definition"] for t in svc["tasks"]} == {svc["task_definition"]}
    assert len(svc["tasks"]) == 4


def test_destroy_leaves_nothing(fleet: Fleet) -> None:
    res = fleet.ok("destroy", "-auto-approve")
    assert "5 destroyed" in res.out, str(res)
    fleet.assert_nothing_left()
