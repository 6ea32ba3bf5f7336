"""Rolling deployments against the real Docker engine: both percentages observed by sampling
the running and healthy task counts while the deployment runs; a full fleet."""

from __future__ import annotations

import threading
from typing import Any

import docker
import pytest

from fgform import deployment
from fgform.addresses import Address
from fgform.config.schema import get_schema
from fgform.fleet.docker.client import LazyClient
from fgform.fleet.docker.live_tasks import list_live_tasks
from fgform.fleet.docker.service import ServiceDriver
from fgform.fleet.docker.task_definition import TaskDefinitionDriver
from fgform.fleet.driver import FleetContext, PartialApplyError

from helpers.services import (
    HEALTH,
    HTTPD,
    container,
    http_get,
    make_cluster,
    make_taskdef,
    service_config,
)

# Connects on first use, at test time (the docker_client fixture reports a missing engine).
CLIENT = LazyClient()

pytestmark = pytest.mark.docker


class Sampler:
    """(running, healthy) task counts of one service, sampled from a thread every 50 ms."""

    def __init__(self, ctx: FleetContext, client: docker.DockerClient, address: str) -> None:
        self.samples: list[tuple[int, int]] = []
        self._stop = threading.Event()
        self._args = (ctx, client, address)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        ctx, client, address = self._args
        while not self._stop.is_set():
            live = list_live_tasks(ctx, client, address=address)
            # A task counts as running from the moment any container exists until its
            # essential containers are gone: the ceiling must hold for starting tasks too.
            running = sum(1 for t in live if any(c.running or c.state == "created"
                                                 for c in t.containers))
            self.samples.append((running, sum(1 for t in live if t.healthy)))
            self._stop.wait(0.05)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def new_revision(ctx: FleetContext, tdaddr: Address, td: dict[str, Any], image: str,
                 version: str) -> dict[str, Any]:
    td2 = TaskDefinitionDriver().update(ctx, tdaddr, td, {
        **td, "container": [container("web", image, command=HTTPD, health_check=HEALTH,
                                      environment={"V": version})]})
    ctx.resources[str(tdaddr)] = td2
    return td2


@pytest.mark.parametrize(("lo", "hi"), [(50, 100), (100, 150)])
def test_rolling_deployment_stays_within_both_percentages(
        ctx: FleetContext, busybox_image: str, docker_client: docker.DockerClient,
        lo: int, hi: int) -> None:
    cluster = make_cluster(ctx, count=2, cpu=4096, memory=2048)
    family = f"pct{lo}-{hi}"
    tdaddr, td1 = make_taskdef(ctx, family, [container("web", busybox_image, command=HTTPD,
                                                       health_check=HEALTH)])
    drv = ServiceDriver(CLIENT)
    addr = Address("fg_service", family)
    limits = {"minimum_healthy_percent": lo, "maximum_percent": hi, "circuit_breaker": None}
    a1 = drv.create(ctx, addr, service_config(cluster, td1, 4, deployment=limits))
    assert a1["running_count"] == 4
    td2 = new_revision(ctx, tdaddr, td1, busybox_image, "2")
    with Sampler(ctx, docker_client, str(addr)) as sampler:
        a2 = drv.update(ctx, addr, a1, service_config(cluster, td2, 4, deployment=limits))
    assert [t["revision"] for t in a2["tasks"]] == [2, 2, 2, 2]
    assert [(d["status"], d["task_definition"], d["running_count"], d["rollout_state"])
            for d in a2["deployments"]] == [("PRIMARY", f"{family}:2", 4, "COMPLETED")]
    events = [e["message"] for e in a2["events"]]
    assert events[-2:] == [f"(service {family}) (deployment {family}:2) deployment completed.",
                           f"(service {family}) has reached a steady state."]
    assert events[0].startswith(f"(service {family}) has started 4 tasks: (task ")
    assert any(m.startswith(f"(service {family}) has stopped ") for m in events)
    samples = sampler.samples
    assert len(samples) > 20, samples
    floor = deployment.healthy_floor(4, lo)
    ceiling = deployment.running_ceiling(4, hi)
    assert max(r for r, _ in samples) <= ceiling, samples
    assert min(h for _, h in samples) >= floor, samples
    # The limits were used, not just respected: the roll went below 4 healthy or above 4
    # running.
    assert min(h for _, h in samples) < 4 or max(r for r, _ in samples) > 4, samples


def test_full_fleet_stops_first_only_when_the_floor_allows(
        ctx: FleetContext, busybox_image: str, docker_client: docker.DockerClient) -> None:
    # One instance that holds exactly the 2 tasks: no room to start a new one beside them.
    cluster = make_cluster(ctx, count=1, cpu=512, memory=256)
    tdaddr, td1 = make_taskdef(ctx, "full", [container("web", busybox_image, command=HTTPD,
                                                       health_check=HEALTH)])
    drv = ServiceDriver(CLIENT)
    addr = Address("fg_service", "full")
    strict = {"minimum_healthy_percent": 100, "maximum_percent": 200, "circuit_breaker": None}
    a1 = drv.create(ctx, addr, service_config(cluster, td1, 2, deployment=strict))
    td2 = new_revision(ctx, tdaddr, td1, busybox_image, "2")
    with pytest.raises(PartialApplyError) as info:
        drv.update(ctx, addr, a1, service_config(cluster, td2, 2, deployment=strict))
    msg = info.value.message
    assert "the deployment of full:2 cannot proceed" in msg and "no room" in msg, msg
    assert "minimum_healthy_percent 100 keeps 2" in msg, msg
    # Nothing was stopped; state keeps naming the revision that runs.
    assert info.value.attrs is not None
    assert info.value.attrs["task_definition"] == "full:1"
    assert sorted(t["id"] for t in info.value.attrs["tasks"]) == \
        sorted(t["id"] for t in a1["tasks"])

    relaxed = {**strict, "minimum_healthy_percent": 50}
    with Sampler(ctx, docker_client, str(addr)) as sampler:
        a2 = drv.update(ctx, addr, a1, service_config(cluster, td2, 2, deployment=relaxed))
    assert [t["revision"] for t in a2["tasks"]] == [2, 2]
    assert min(h for _, h in sampler.samples) >= 1, sampler.samples


def test_grace_period_lets_slow_starters_through_a_deployment(
        ctx: FleetContext, busybox_image: str) -> None:
    cluster = make_cluster(ctx, count=1, cpu=2048, memory=1024)
    tdaddr, td1 = make_taskdef(ctx, "slow", [container("web", busybox_image, command=HTTPD,
                                                       health_check=HEALTH)])
    drv = ServiceDriver(CLIENT)
    addr = Address("fg_service", "slow")
    a1 = drv.create(ctx, addr, service_config(cluster, td1, 1))
    # The new revision fails its health check for its first 4 seconds.
    slow = ["sh", "-c", "(sleep 4; touch /tmp/ready) & exec " + " ".join(HTTPD)]
    check = {**HEALTH, "command": ["CMD-SHELL", "test -f /tmp/ready || "
                                   "{ echo not-ready-yet; exit 1; }"], "retries": 1}
    td2 = TaskDefinitionDriver().update(ctx, tdaddr, td1, {
        **td1, "container": [container("web", busybox_image, command=slow,
                                       health_check=check)]})
    ctx.resources[str(tdaddr)] = td2
    with pytest.raises(PartialApplyError) as info:
        drv.update(ctx, addr, a1, service_config(cluster, td2, 1))
    assert "not-ready-yet" in info.value.message and "unhealthy" in info.value.message
    assert info.value.attrs is not None
    assert [t["id"] for t in info.value.attrs["tasks"]] == [t["id"] for t in a1["tasks"]]
    assert info.value.attrs["task_definition"] == "slow:1"

    a2 = drv.update(ctx, addr, a1, service_config(cluster, td2, 1,
                                                  health_check_grace_period=15))
    assert [t["revision"] for t in a2["tasks"]] == [2]


@pytest.mark.parametrize("rollback", [True, False], ids=["rollback", "no-rollback"])
def test_circuit_breaker_stops_a_bad_deployment(ctx: FleetContext, busybox_image: str,
                                                rollback: bool) -> None:
    cluster = make_cluster(ctx, count=1, cpu=2048, memory=1024)
    family = f"bad{int(rollback)}"
    tdaddr, td1 = make_taskdef(ctx, family, [container("web", busybox_image, command=HTTPD,
                                                       health_check=HEALTH)])
    drv = ServiceDriver(CLIENT)
    addr = Address("fg_service", family)
    limits = {"minimum_healthy_percent": 50, "maximum_percent": 100,
              "circuit_breaker": {"enable": True, "rollback": rollback}}
    a1 = drv.create(ctx, addr, service_config(cluster, td1, 2, deployment=limits))
    sick = {**HEALTH, "command": ["CMD-SHELL", "echo probe-says-no; exit 1"], "retries": 1}
    td2 = TaskDefinitionDriver().update(ctx, tdaddr, td1, {
        **td1, "container": [container("web", busybox_image, command=HTTPD,
                                       health_check=sick)]})
    ctx.resources[str(tdaddr)] = td2
    with pytest.raises(PartialApplyError) as info:
        drv.update(ctx, addr, a1, service_config(cluster, td2, 2, deployment=limits))
    msg = info.value.message
    assert msg.startswith(f"fg_service.{family}: deployment of {family}:2 failed: 3 task(s) "
                          "failed to start or become healthy (circuit breaker threshold 3)"), msg
    assert "probe-says-no" in msg, msg
    attrs = info.value.attrs
    assert attrs is not None and attrs["task_definition"] == f"{family}:1"
    live = [t for t in list_live_tasks(ctx, CLIENT) if t.running]
    assert {t.task_definition for t in live} == {f"{family}:1"}
    deps = [(d["status"], d["task_definition"], d["rollout_state"], d["failed_tasks"])
            for d in attrs["deployments"]]
    events = [e["message"] for e in attrs["events"]]
    if rollback:
        assert f"; rolled back to {family}:1." in msg
        assert attrs["running_count"] == 2 and len(live) == 2
        assert deps == [("PRIMARY", f"{family}:1", "COMPLETED", 0),
                        ("INACTIVE", f"{family}:2", "FAILED", 3)]
        assert f"(service {family}) deployment failed: tasks failed to become healthy; " \
               f"rolling back to {family}:1" in events
        assert events[-1] == f"(service {family}) (deployment {family}:1) deployment completed."
    else:
        # 50 % let one old task stop for the first new one; nothing replaced it.
        assert "the deployment stopped where it is" in msg
        assert attrs["running_count"] == 1 and len(live) == 1
        assert deps == [("PRIMARY", f"{family}:2", "FAILED", 3),
                        ("ACTIVE", f"{family}:1", "COMPLETED", 0)]
        assert events[-1].startswith(f"(service {family}) (deployment {family}:2) "
                                     "deployment failed: tasks failed")
    assert get_schema("fg_service").needs_repair(attrs).startswith(  # type: ignore[misc]
        f"its last deployment ({family}:2) failed")


def host_port_service(ctx: FleetContext, image: str, family: str, port: int, instances: int
                      ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A one-task service publishing `port` on a cluster of `instances` (cpu and memory for
    two tasks each), and a second revision of its task definition: (cluster, service
    attributes, revision 2)."""
    cluster = make_cluster(ctx, count=instances, cpu=2048, memory=1024)
    pub = [{"container_port": 8080, "host_port": port, "protocol": "tcp"}]

    def spec(**env: str) -> list[dict[str, Any]]:
        return [container("web", image, command=HTTPD, health_check=HEALTH,
                          port_mapping=pub, environment=env)]

    tdaddr, td1 = make_taskdef(ctx, family, spec())
    a1 = ServiceDriver(CLIENT).create(ctx, Address("fg_service", family),
                                service_config(cluster, td1, 1))
    td2 = TaskDefinitionDriver().update(ctx, tdaddr, td1, {**td1, "container": spec(V="2")})
    ctx.resources[str(tdaddr)] = td2
    return cluster, a1, td2


def test_a_host_port_roll_stops_first_only_when_the_floor_allows(
        ctx: FleetContext, busybox_image: str, free_port: int) -> None:
    # One instance: only the host port keeps the new task from starting beside the old.
    cluster, a1, td2 = host_port_service(ctx, busybox_image, "hp", free_port, 1)
    drv = ServiceDriver(CLIENT)
    addr = Address("fg_service", "hp")
    with pytest.raises(PartialApplyError) as info:
        drv.update(ctx, addr, a1, service_config(cluster, td2, 1))
    msg = info.value.message
    task = a1["tasks"][0]["id"]
    assert "the deployment of hp:2 cannot proceed: a new task cannot be placed " \
           f"(RESOURCE:PORTS): it publishes host port(s) {free_port}, in use: {free_port} on " \
           f"i-0 by service hp (task {task}); and no old task may stop first" in msg, msg
    assert "minimum_healthy_percent 100 keeps 1" in msg, msg
    assert "capacity.instance_count" in info.value.hint
    assert info.value.attrs is not None and info.value.attrs["task_definition"] == "hp:1"
    assert [t["id"] for t in info.value.attrs["tasks"]] == [task]

    stop_first = {"minimum_healthy_percent": 0, "maximum_percent": 200,
                  "circuit_breaker": None}
    a2 = drv.update(ctx, addr, a1, service_config(cluster, td2, 1, deployment=stop_first))
    assert [t["revision"] for t in a2["tasks"]] == [2]
    assert http_get("127.0.0.1", free_port) == 200


def test_a_host_port_roll_starts_first_on_another_instance(
        ctx: FleetContext, busybox_image: str, free_port: int) -> None:
    # With a second instance the port is free there: the default 100/200 deploys the new
    # task beside the old one (on 127.0.0.2) before the old one stops, as ECS does.
    cluster, a1, td2 = host_port_service(ctx, busybox_image, "hq", free_port, 2)
    assert [t["instance"] for t in a1["tasks"]] == ["i-0"]
    a2 = ServiceDriver(CLIENT).update(ctx, Address("fg_service", "hq"), a1,
                                service_config(cluster, td2, 1))
    assert [(t["revision"], t["instance"]) for t in a2["tasks"]] == [(2, "i-1")]
    assert http_get("127.0.0.2", free_port) == 200
    # Started before the old task stopped: the old one was still running then.
    events = [e["message"] for e in a2["events"]]
    started = next(i for i, m in enumerate(events) if "has started" in m and
                   a2["tasks"][0]["id"] in m)
    stopped = next(i for i, m in enumerate(events) if "has stopped" in m and
                   a1["tasks"][0]["id"] in m)
    assert started < stopped, events
