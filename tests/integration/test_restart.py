"""Restart policies against the real engine: a crashed essential container comes back by
itself (no scheduler running) as the same task, and the scheduler hands over when it should;
a one-off task is never restarted; a crashing revision still trips the circuit breaker."""

from __future__ import annotations

import time
from typing import Any

import docker
import pytest

from fgform.addresses import Address
from fgform.fleet.docker import inspection as I
from fgform.fleet.docker.client import LazyClient
from fgform.fleet.docker.labels import label_filter
from fgform.fleet.docker.live_tasks import CONTAINER, list_live_tasks
from fgform.fleet.docker.restarts import CRASH_LOOP_RESTARTS
from fgform.fleet.docker.runtask import run_task
from fgform.fleet.docker.service import ServiceDriver
from fgform.fleet.docker.task_definition import TaskDefinitionDriver
from fgform.fleet.driver import FleetContext, PartialApplyError

from helpers.services import HEALTH, HTTPD, container, make_cluster, make_taskdef, service_config

# Connects on first use, at test time (the docker_client fixture reports a missing engine).
CLIENT = LazyClient()

pytestmark = pytest.mark.docker

# Runs until /tmp/stop appears, then exits with the code written in it. The file is removed
# at each start, so a restarted container runs again until the next one.
STOPPABLE = ["sh", "-c", "rm -f /tmp/stop; echo started; "
             "while [ ! -f /tmp/stop ]; do sleep 0.1; done; exit $(cat /tmp/stop)"]


def wait_until(what, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not (value := what()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return value


def _container(client: docker.DockerClient, ctx: FleetContext, task_id: str) -> dict[str, Any]:
    (cid,) = [c.id for t in list_live_tasks(ctx, client) if t.task_id == task_id
              for c in t.containers]
    return client.api.inspect_container(cid)


@pytest.mark.parametrize("code", [0, 9])
def test_a_crashed_essential_container_comes_back_by_itself(
        ctx: FleetContext, busybox_image: str, docker_client: docker.DockerClient,
        code: int) -> None:
    cluster = make_cluster(ctx, count=1, cpu=1024, memory=512)
    _, td = make_taskdef(ctx, "phoenix", [container("app", busybox_image, command=STOPPABLE)])
    drv = ServiceDriver(CLIENT)
    addr = Address("fg_service", "phoenix")
    attrs = drv.create(ctx, addr, service_config(cluster, td, 1))
    (task_id,) = [t["id"] for t in attrs["tasks"]]
    cid = _container(docker_client, ctx, task_id)["Id"]

    # The app exits (with 0 too: an essential container that stops stops an ECS task). No
    # scheduler runs: Docker's restart policy brings the same container, same task, back.
    docker_client.api.exec_start(docker_client.api.exec_create(
        cid, ["sh", "-c", f"echo {code} > /tmp/stop"]))
    info = wait_until(lambda: (i := docker_client.api.inspect_container(cid))["RestartCount"]
                      == 1 and i["State"]["Running"] and i)
    assert info, docker_client.api.inspect_container(cid)["State"]
    # Its log goes on: the same container, started twice.
    assert wait_until(lambda: docker_client.api.logs(cid).decode().split() == ["started"] * 2)
    (row,) = I.list_tasks(CLIENT, ctx)
    assert (row.task_id, row.status, row.restarts) == (task_id, "RUNNING", 1)
    live = drv.read(ctx, {addr: attrs})[addr]
    assert live is not None and [t["id"] for t in live["tasks"]] == [task_id]

    # The scheduler leaves a task its restart policy mended alone, and says it crashed.
    after = drv.reconcile(ctx, addr, attrs)
    assert [t["id"] for t in after["tasks"]] == [task_id]
    assert (f"(service phoenix) (task {task_id}) was restarted in place: its container app "
            "was restarted 1 time by its restart policy.") in [
                e["message"] for e in after["events"]]

    # A stop by hand is never undone by the policy: the task stays stopped, and the
    # scheduler replaces it with a new task.
    docker_client.api.stop(cid, timeout=1)
    time.sleep(1.5)
    state = docker_client.api.inspect_container(cid)
    assert (state["State"]["Status"], state["RestartCount"]) == ("exited", 1)
    again = drv.reconcile(ctx, addr, after)
    assert again["running_count"] == 1 and again["tasks"][0]["id"] != task_id
    assert f"(service phoenix) has removed 1 task: (task {task_id}) that stopped." in [
        e["message"] for e in again["events"]]


def test_a_crash_loop_is_handed_to_the_scheduler(
        ctx: FleetContext, busybox_image: str, docker_client: docker.DockerClient) -> None:
    cluster = make_cluster(ctx, count=1, cpu=1024, memory=512)
    _, td = make_taskdef(ctx, "flap", [container("app", busybox_image, command=STOPPABLE)])
    drv = ServiceDriver(CLIENT)
    addr = Address("fg_service", "flap")
    attrs = drv.create(ctx, addr, service_config(cluster, td, 1))
    (task_id,) = [t["id"] for t in attrs["tasks"]]
    cid = _container(docker_client, ctx, task_id)["Id"]
    # The app now crashes at every start: each start finds the stop file written again.
    for n in range(1, CRASH_LOOP_RESTARTS + 1):
        docker_client.api.exec_start(docker_client.api.exec_create(
            cid, ["sh", "-c", "echo 5 > /tmp/stop"]))
        # Restarted, and past its `rm` (it logs after), so the next stop file counts.
        assert wait_until(lambda n=n: docker_client.api.inspect_container(cid)[
            "RestartCount"] == n and docker_client.api.logs(cid).decode().split().count(
            "started") == n + 1)
    after = drv.reconcile(ctx, addr, attrs)
    assert after["running_count"] == 1 and after["tasks"][0]["id"] != task_id
    messages = [e["message"] for e in after["events"]]
    assert any(m.startswith(f"(service flap) has removed 1 task: (task {task_id}) that kept "
                            f"crashing: its container app was restarted "
                            f"{CRASH_LOOP_RESTARTS} times by its restart policy")
               for m in messages), messages


def test_a_one_off_task_is_never_restarted(ctx: FleetContext, busybox_image: str,
                                           docker_client: docker.DockerClient) -> None:
    cluster = make_cluster(ctx, count=1, cpu=1024, memory=512)
    _, td = make_taskdef(ctx, "job", [
        container("job", busybox_image, command=["sh", "-c", "sleep 2; echo done; exit 3"]),
        container("side", busybox_image, command=["sh", "-c", "echo side; exit 1"],
                  essential=False)])
    lines: list[str] = []
    restarts: dict[str, int] = {}

    def on_log(line: str) -> None:
        lines.append(line)
        if line == "job | done":  # 2 s in: a service would have restarted the sidecar
            for c in docker_client.api.containers(all=True, filters=label_filter(ctx)):
                restarts[c["Labels"][CONTAINER]] = docker_client.api.inspect_container(
                    c["Id"])["RestartCount"]

    assert run_task(CLIENT, ctx, cluster, td, on_log=on_log) == 3
    assert sorted(lines) == ["job | done", "side | side"]
    assert restarts == {"job": 0, "side": 0}


def test_a_crashing_revision_trips_the_breaker_and_rolls_back_to_armed_tasks(
        ctx: FleetContext, busybox_image: str, docker_client: docker.DockerClient) -> None:
    cluster = make_cluster(ctx, count=1, cpu=2048, memory=1024)
    tdaddr, td1 = make_taskdef(ctx, "crashy", [container("web", busybox_image, command=HTTPD,
                                                         health_check=HEALTH)])
    drv = ServiceDriver(CLIENT)
    addr = Address("fg_service", "crashy")
    limits = {"minimum_healthy_percent": 50, "maximum_percent": 100,
              "circuit_breaker": {"enable": True, "rollback": True}}
    a1 = drv.create(ctx, addr, service_config(cluster, td1, 2, deployment=limits))
    bad = ["sh", "-c", "echo crash-marker; sleep 0.5; exit 9"]
    td2 = TaskDefinitionDriver().update(ctx, tdaddr, td1, {
        **td1, "container": [container("web", busybox_image, command=bad,
                                       health_check=HEALTH)]})
    ctx.resources[str(tdaddr)] = td2
    with pytest.raises(PartialApplyError) as info:
        drv.update(ctx, addr, a1, service_config(cluster, td2, 2, deployment=limits))
    msg = info.value.message
    assert msg.startswith("fg_service.crashy: deployment of crashy:2 failed: 3 task(s) failed "
                          "to start or become healthy (circuit breaker threshold 3); rolled "
                          "back to crashy:1."), msg
    assert "exit code 9" in msg and "crash-marker" in msg, msg
    # Each crashed new task failed as it stopped: Docker did not restart it first.
    assert "restarted" not in msg, msg
    live = list_live_tasks(ctx, docker_client)
    assert {t.task_definition for t in live} == {"crashy:1"} and len(live) == 2
    # The tasks the rollback started have their restart policy once healthy.
    for t in live:
        policy = docker_client.api.inspect_container(t.containers[0].id)["HostConfig"][
            "RestartPolicy"]["Name"]
        assert policy == "unless-stopped", (t.task_id, policy)
