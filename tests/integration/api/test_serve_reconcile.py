"""`fgform serve -reconcile`: the service scheduler runs beside the server, as ECS's
control plane has one; a service task stopped through the API is replaced without anyone
running `fgform reconcile`, and the scheduler ends with the server."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from fixtures.fgcli import Fleet

from .conftest import ALLOW_ALL, StartServer
from .services_fixtures import applied, running, wait_until

pytestmark = pytest.mark.docker


@pytest.fixture
def fleet(docker_client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Fleet]:
    with applied(docker_client, tmp_path_factory.mktemp("api-reconcile")) as f:
        yield f


def _alive(pid: int) -> bool:
    """Running, not only not yet reaped: an orphan waits for init to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _scheduler_pid(text: str) -> int:
    return int(text.split("service scheduler running (pid ", 1)[1].split(")")[0])


def test_a_stopped_service_task_is_replaced_by_the_servers_scheduler(
        fleet: Fleet, start_api_server: StartServer) -> None:
    server = start_api_server(fleet.dir, "-reconcile")
    key, secret = server.key("ops", ALLOW_ALL)
    ecs = server.boto3(key, secret)
    name = fleet.name
    ecs.update_service(cluster=name, service="web", desiredCount=2)
    first = wait_until(lambda: len(running(fleet, "web")) == 2 and running(fleet, "web"),
                       desc="2 web tasks")
    arns = ecs.list_tasks(cluster=name, serviceName="web")["taskArns"]
    assert len(arns) == 2
    ecs.stop_task(cluster=name, task=arns[0], reason="test")
    # The scheduler, not the test, brings the service back to 2 tasks, one of them new.
    replaced = wait_until(
        lambda: (len(tasks := running(fleet, "web")) == 2
                 and {t["task_id"] for t in tasks} != {t["task_id"] for t in first}
                 and tasks), timeout=90, desc="the stopped task replaced")
    assert len(replaced) == 2
    pid = _scheduler_pid(server.text)
    assert _alive(pid)
    assert server.stop() == 0
    assert not _alive(pid), "the scheduler outlived the server"


def test_the_scheduler_stops_when_the_server_is_killed(
        fleet: Fleet, start_api_server: StartServer) -> None:
    # SIGKILL gives the server no chance to stop its child: the child notices on its own
    # (fgform/cli/lifeline.py) and stops as Ctrl-C stops it, finishing its pass.
    server = start_api_server(fleet.dir, "-reconcile")
    wait_until(lambda: "service scheduler running" in server.text, timeout=30,
               desc="the scheduler to start")
    pid = _scheduler_pid(server.text)
    assert _alive(pid)
    time.sleep(1)  # past its start-up: it is watching
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(10)
    wait_until(lambda: not _alive(pid), timeout=60, desc="the scheduler to stop")
    # It let go of the state: a plan right after it runs, and finds nothing to change.
    fleet.ok("plan", "-detailed-exitcode")
