"""The service scheduler (`reconcile`) against the real engine: an unhealthy task is
replaced, and task containers that no service of this state owns are removed."""

from __future__ import annotations

import threading
import time

import docker
import pytest

from fgform.addresses import Address
from fgform.fleet.docker.client import LazyClient
from fgform.fleet.docker.live_tasks import list_live_tasks
from fgform.fleet.docker.service import ServiceDriver
from fgform.fleet.driver import FleetContext

from helpers.services import HTTPD, container, make_cluster, make_taskdef, service_config

# Connects on first use, at test time (the docker_client fixture reports a missing engine).
CLIENT = LazyClient()

pytestmark = pytest.mark.docker

# Healthy while /tmp/ok exists: a test turns one task unhealthy by removing it.
START = ["sh", "-c", "touch /tmp/ok && exec " + " ".join(HTTPD)]
CHECK = {"command": ["CMD-SHELL", "test -f /tmp/ok || { echo gone-bad; exit 1; }"],
         "interval": 1, "timeout": 2, "retries": 1, "start_period": 0}


def wait_until(what, timeout: float = 20.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not (value := what()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return value


def test_reconcile_replaces_an_unhealthy_task(ctx: FleetContext, busybox_image: str,
                                              docker_client: docker.DockerClient) -> None:
    cluster = make_cluster(ctx, count=1, cpu=2048, memory=1024)
    _, td = make_taskdef(ctx, "sick", [container("web", busybox_image, command=START,
                                                 health_check=CHECK)])
    drv = ServiceDriver(CLIENT)
    addr = Address("fg_service", "sick")
    attrs = drv.create(ctx, addr, service_config(cluster, td, 2))
    victim = attrs["tasks"][0]["id"]
    (cid,) = [c.id for t in list_live_tasks(ctx, CLIENT) if t.task_id == victim
              for c in t.containers]
    docker_client.api.exec_start(docker_client.api.exec_create(cid, ["rm", "/tmp/ok"]))
    assert wait_until(lambda: any(t.unhealthy for t in list_live_tasks(ctx, CLIENT)
                                  if t.task_id == victim))

    after = drv.reconcile(ctx, addr, attrs)
    ids = {t["id"] for t in after["tasks"]}
    assert after["running_count"] == 2 and victim not in ids
    assert attrs["tasks"][1]["id"] in ids  # the healthy one was left alone
    assert {t.task_id for t in list_live_tasks(ctx, CLIENT)} == ids
    assert any(e["message"].startswith(f"(service sick) has stopped 1 task: (task {victim})")
               for e in after["events"]), after["events"]


def test_reconcile_replaces_tasks_that_die_while_it_waits(
        ctx: FleetContext, logs: list[str], busybox_image: str,
        docker_client: docker.DockerClient) -> None:
    """Two tasks killed one after the other: the reconcile that replaces the first, and
    waits for its replacement, replaces the second too instead of failing with "did not
    reach a steady state"."""
    cluster = make_cluster(ctx, count=1, cpu=2048, memory=1024)
    # Healthy only ~2 s after start: the pass waits long enough to see the second death.
    slow = ["sh", "-c", "sleep 2 && touch /tmp/ok && exec " + " ".join(HTTPD)]
    _, td = make_taskdef(ctx, "pair", [container("web", busybox_image, command=slow,
                                                 health_check={**CHECK, "start_period": 10})])
    drv = ServiceDriver(CLIENT)
    addr = Address("fg_service", "pair")
    attrs = drv.create(ctx, addr, service_config(cluster, td, 2))
    first, second = (t["id"] for t in attrs["tasks"])

    def container_of(task_id: str) -> str:
        return next(c.id for t in list_live_tasks(ctx, CLIENT) if t.task_id == task_id
                    for c in t.containers)

    docker_client.api.kill(container_of(first))
    assert wait_until(lambda: not any(t.running for t in list_live_tasks(ctx, CLIENT)
                                      if t.task_id == first))
    second_cid = container_of(second)

    def kill_second() -> None:
        # Once the pass waits for the first task's replacement to become healthy.
        if wait_until(lambda: any("to become healthy" in line for line in logs), 60):
            docker_client.api.kill(second_cid)

    killer = threading.Thread(target=kill_second)
    logs.clear()
    killer.start()
    try:
        after = drv.reconcile(ctx, addr, attrs)
    finally:
        killer.join(70)
    ids = {t["id"] for t in after["tasks"]}
    assert after["running_count"] == 2 and not {first, second} & ids, after["tasks"]
    assert {t.task_id for t in list_live_tasks(ctx, CLIENT) if t.running} == ids


def test_orphan_task_containers_are_removed(ctx: FleetContext, busybox_image: str) -> None:
    cluster = make_cluster(ctx, count=1, cpu=2048, memory=1024)
    _, td = make_taskdef(ctx, "kept", [container("web", busybox_image, command=HTTPD)])
    drv = ServiceDriver(CLIENT)
    kept = drv.create(ctx, Address("fg_service", "kept"), service_config(cluster, td, 1))
    # A service removed from state by hand (`state rm`) left its task behind.
    drv.create(ctx, Address("fg_service", "gone"), service_config(cluster, td, 1))

    removed = drv.remove_orphans(ctx, {"fg_service.kept"})
    assert [t.address for t in removed] == ["fg_service.gone"]
    assert {t.task_id for t in list_live_tasks(ctx, CLIENT)} == {kept["tasks"][0]["id"]}


def test_crash_loop_is_throttled_with_a_growing_backoff(
        ctx: FleetContext, busybox_image: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import fgform.fleet.docker.service as S

    monkeypatch.setattr(S, "BACKOFF_FIRST", 3.0)
    monkeypatch.setattr(S, "_BACKOFF", {})
    cluster = make_cluster(ctx, count=1, cpu=2048, memory=1024)
    # Healthy long enough to pass the apply's wait, then it crashes: a crash loop.
    crashy = ["sh", "-c", "sleep 1.5; exit 7"]
    _, td = make_taskdef(ctx, "loop", [container("app", busybox_image, command=crashy)])
    drv = ServiceDriver(CLIENT)
    addr = Address("fg_service", "loop")
    attrs = drv.create(ctx, addr, service_config(cluster, td, 1))
    launches: list[float] = []
    deadline = time.monotonic() + 25
    while time.monotonic() < deadline:
        before = {t.task_id for t in list_live_tasks(ctx, CLIENT)}
        attrs = drv.reconcile(ctx, addr, attrs)
        if {t.task_id for t in list_live_tasks(ctx, CLIENT)} - before:
            launches.append(time.monotonic())
        time.sleep(0.5)
    gaps = [b - a for a, b in zip(launches, launches[1:], strict=False)]
    messages = [e["message"] for e in attrs["events"]]
    assert any("is unable to consistently start tasks successfully" in m for m in messages), \
        messages
    assert any(m.startswith("(service loop) has removed 1 task: (task ") for m in messages)
    # 0 s, then 3, 6, 12 s between replacements (plus the 1.5 s each task lives).
    assert len(launches) >= 3, launches
    assert gaps[-1] > gaps[0] + 2, gaps
