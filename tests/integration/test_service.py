"""fg_service against the real Docker engine: tasks, health, scaling, failures, capacity."""

from __future__ import annotations

import threading
import time

import docker
import pytest

from fgform.addresses import Address
from fgform.config.schema import get_schema
from fgform.fleet.capacity import InsufficientCapacityError
from fgform.fleet.docker import inspection as I
from fgform.fleet.docker import labels as L
from fgform.fleet.docker.client import LazyClient
from fgform.fleet.docker.health import MIN_STABLE_SECONDS, _steady, _Wakeup, describe_failure
from fgform.fleet.docker.labels import label_filter
from fgform.fleet.docker.launch import (
    Launch,
    _create_container,
    container_name,
    definition_hashes,
    launch_tasks,
)
from fgform.fleet.docker.live_tasks import KIND_SERVICE, list_live_tasks, uptime
from fgform.fleet.docker.placement import cluster_info
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
    owned,
    service_config,
)

# Connects on first use, at test time (the docker_client fixture reports a missing engine).
CLIENT = LazyClient()

pytestmark = pytest.mark.docker


def test_service_runs_healthy_reachable_tasks(ctx: FleetContext, busybox_image: str,
                                              docker_client: docker.DockerClient) -> None:
    cluster = make_cluster(ctx)
    _, td = make_taskdef(ctx, "web", [container("web", busybox_image, command=HTTPD,
                                                health_check=HEALTH)])
    drv = ServiceDriver(CLIENT)
    addr = Address("fg_service", "web")
    attrs = drv.create(ctx, addr, service_config(cluster, td, 2))
    assert attrs["running_count"] == 2
    assert attrs["id"] == f"{cluster['id']}/web"
    assert sorted(t["instance"] for t in attrs["tasks"]) == ["i-0", "i-1"]  # spread

    for task in attrs["tasks"]:
        assert task["revision"] == 1 and task["address"].startswith(cluster["cidr_block"][:5])
        assert http_get(task["address"]) == 200
    rows = I.list_tasks(CLIENT, ctx, "web")
    assert [r.health for r in rows] == ["HEALTHY", "HEALTHY"]
    assert all(r.status == "RUNNING" and r.revision == "web:1" for r in rows)

    # Resource limits and labels as ECS would set them.
    c = owned(docker_client, ctx)[0]
    info = docker_client.api.inspect_container(c["Id"])
    host = info["HostConfig"]
    assert host["NanoCpus"] == 250_000_000 and host["Init"] is True
    assert host["Memory"] == host["MemorySwap"] == 128 * 1024 * 1024
    labels = info["Config"]["Labels"]
    assert labels["fgform.task-definition"] == "web:1" and labels["fgform.memory"] == "128"
    assert info["Name"] == f"/{cluster['id']}-web-{labels['fgform.task-id']}-web"

    # Read reflects the fleet; a task container removed by hand lowers running_count...
    assert drv.read(ctx, {addr: attrs})[addr] == attrs
    docker_client.api.remove_container(c["Id"], force=True)
    live = drv.read(ctx, {addr: attrs})[addr]
    assert live is not None and live["running_count"] == 1
    # ...and the next apply replaces it.
    again = drv.update(ctx, addr, live, service_config(cluster, td, 2))
    assert again["running_count"] == 2

    lines = list(I.stream_logs(CLIENT, ctx, "web"))  # busybox httpd logs nothing; must not fail
    assert isinstance(lines, list)

    drv.delete(ctx, addr, again, replacing=False)
    assert owned(docker_client, ctx) == []
    assert drv.read(ctx, {addr: again})[addr] is None


def test_containers_of_a_task_share_localhost(ctx: FleetContext, busybox_image: str,
                                              docker_client: docker.DockerClient) -> None:
    cluster = make_cluster(ctx, count=1)
    sidecar_health = dict(HEALTH)  # the sidecar checks the web container over localhost
    _, td = make_taskdef(ctx, "pair", [
        container("web", busybox_image, command=["busybox", "sh", "-c",
                                              "echo hello-from-web; exec " + " ".join(HTTPD)]),
        container("probe", busybox_image, command=["busybox", "sleep", "600"],
                  health_check=sidecar_health, essential=False),
    ])
    drv = ServiceDriver(CLIENT)
    addr = Address("fg_service", "pair")
    attrs = drv.create(ctx, addr, service_config(cluster, td, 1))
    assert attrs["running_count"] == 1
    task = attrs["tasks"][0]
    assert [n.rsplit("-", 1)[1] for n in task["containers"]] == ["web", "probe"]
    rows = I.list_tasks(CLIENT, ctx)
    assert rows[0].health == "HEALTHY"
    assert list(I.stream_logs(CLIENT, ctx, "pair")) == [f"{task['id']}/web   | hello-from-web"]

    # The essential container dies: the task is stopped and no longer counts. Refresh only
    # reports it (read never stops or removes anything); the next apply replaces the task,
    # removing the dead one's containers.
    web = next(c for c in owned(docker_client, ctx) if c["Labels"]["fgform.container"] == "web")
    docker_client.api.kill(web["Id"])
    live = drv.read(ctx, {addr: attrs})[addr]
    assert live is not None and live["running_count"] == 0 and live["tasks"] == []
    left = owned(docker_client, ctx)
    assert sorted((c["Labels"]["fgform.container"], c["State"]) for c in left) == [
        ("probe", "running"), ("web", "exited")]
    assert I.list_tasks(CLIENT, ctx)[0].status.startswith("STOPPED")
    again = drv.update(ctx, addr, live, service_config(cluster, td, 1))
    assert again["running_count"] == 1 and again["tasks"][0]["id"] != task["id"]
    assert len(owned(docker_client, ctx)) == 2


def test_scaling_stops_newest_first(ctx: FleetContext, busybox_image: str,
                                    docker_client: docker.DockerClient) -> None:
    cluster = make_cluster(ctx, count=2)
    _, td = make_taskdef(ctx, "scale", [container("web", busybox_image, command=HTTPD)])
    drv = ServiceDriver(CLIENT)
    addr = Address("fg_service", "scale")
    a2 = drv.create(ctx, addr, service_config(cluster, td, 2))
    first = {t["id"] for t in a2["tasks"]}
    a4 = drv.update(ctx, addr, a2, service_config(cluster, td, 4))
    assert a4["running_count"] == 4
    assert sorted(t["instance"] for t in a4["tasks"]) == ["i-0", "i-0", "i-1", "i-1"]
    oldest = min(a4["tasks"], key=lambda t: (t["started_at"], t["id"]))
    a1 = drv.update(ctx, addr, a4, service_config(cluster, td, 1))
    assert a1["running_count"] == 1
    assert a1["tasks"][0]["id"] == oldest["id"] and oldest["id"] in first
    assert len({c["Labels"]["fgform.task-id"] for c in owned(docker_client, ctx)}) == 1


def test_rolling_update_moves_to_new_revision(ctx: FleetContext, busybox_image: str) -> None:
    cluster = make_cluster(ctx, count=1, cpu=1024, memory=512)
    tdaddr, td1 = make_taskdef(ctx, "roll", [container("web", busybox_image, command=HTTPD,
                                                       health_check=HEALTH)])
    drv = ServiceDriver(CLIENT)
    addr = Address("fg_service", "roll")
    a1 = drv.create(ctx, addr, service_config(cluster, td1, 2))
    td2 = TaskDefinitionDriver().update(ctx, tdaddr, td1, {
        **td1, "container": [container("web", busybox_image, command=HTTPD, health_check=HEALTH,
                                       environment={"V": "2"})]})
    ctx.resources[str(tdaddr)] = td2
    assert td2["arn"] == "roll:2" and td2["revisions"][0]["status"] == "INACTIVE"
    # Four 128 MiB tasks fit in 512 MiB: new ones start beside the old, then old ones stop.
    a2 = drv.update(ctx, addr, a1, service_config(cluster, td2, 2))
    assert a2["running_count"] == 2
    assert [t["revision"] for t in a2["tasks"]] == [2, 2]
    assert not {t["id"] for t in a1["tasks"]} & {t["id"] for t in a2["tasks"]}


def test_task_that_exits_at_once_fails_with_logs(ctx: FleetContext, busybox_image: str,
                                                 docker_client: docker.DockerClient) -> None:
    cluster = make_cluster(ctx, count=1)
    _, td = make_taskdef(ctx, "crash", [container(
        "app", busybox_image, command=["busybox", "sh", "-c", "echo boom-marker >&2; exit 3"])])
    with pytest.raises(PartialApplyError) as info:
        ServiceDriver(CLIENT).create(ctx, Address("fg_service", "crash"),
                               service_config(cluster, td, 2))
    msg = info.value.message
    assert "2 task(s) failed" in msg and "boom-marker" in msg and "exit code 3" in msg
    assert info.value.attrs is not None and info.value.attrs["running_count"] == 0
    assert info.value.attrs["tasks"] == []
    assert owned(docker_client, ctx) == []  # nothing orphaned


def test_insufficient_capacity_refused_before_starting(
        ctx: FleetContext, busybox_image: str, docker_client: docker.DockerClient) -> None:
    cluster = make_cluster(ctx, count=2, cpu=512, memory=256)
    _, td = make_taskdef(ctx, "big", [container("web", busybox_image, command=HTTPD)],
                         cpu=256, memory=256)
    with pytest.raises(InsufficientCapacityError) as info:
        ServiceDriver(CLIENT).create(ctx, Address("fg_service", "big"),
                               service_config(cluster, td, 3))
    assert str(info.value).startswith(
        "Unable to place 3 task(s) of big:1 (cpu 256, memory 256): no instance has 256 free "
        "memory units for more than 2 of them; free per instance: i-0 cpu 512 memory 256, "
        "i-1 cpu 512 memory 256")
    assert owned(docker_client, ctx) == []

    # The subnet is capacity too: a /28 has 13 addresses for tasks.
    small = make_cluster(ctx, count=1, cpu=65536, memory=65536, prefix=28)
    with pytest.raises(InsufficientCapacityError, match="has 13 free address"):
        ServiceDriver(CLIENT).create(ctx, Address("fg_service", "many"),
                               service_config(small, td, 14))
    assert owned(docker_client, ctx) == []


def test_unhealthy_task_times_out_with_health_output(ctx: FleetContext,
                                                     busybox_image: str) -> None:
    cluster = make_cluster(ctx, count=1)
    bad = {**HEALTH, "command": ["CMD-SHELL", "echo probe-says-no; exit 1"], "retries": 1}
    _, td = make_taskdef(ctx, "sick", [container("web", busybox_image, command=HTTPD,
                                                 health_check=bad)])
    with pytest.raises(PartialApplyError) as info:
        ServiceDriver(CLIENT).create(ctx, Address("fg_service", "sick"),
                               service_config(cluster, td, 1, steady_state_timeout=10))
    assert "probe-says-no" in info.value.message and "unhealthy" in info.value.message
    assert list_live_tasks(ctx, CLIENT) == []


@pytest.mark.parametrize("command", [["sh", "-c", "sleep 0.3; exit 1"], ["false"]],
                         ids=["sleep-then-exit", "false"])
def test_task_without_health_check_that_exits_is_never_steady(
        ctx: FleetContext, busybox_image: str, docker_client: docker.DockerClient,
        command: list[str]) -> None:
    """Regression: with no health check, a task whose container exits at once could pass for
    steady (the list call's view lags the engine by over a second under load: "Up 1 second"
    for a process that had exited), so apply exited 0 with dead tasks. Every attempt fails,
    with the exit code, and leaves nothing behind."""
    cluster = make_cluster(ctx, count=1)
    _, td = make_taskdef(ctx, "quick", [container("app", busybox_image, command=command)])
    drv = ServiceDriver(CLIENT)
    for attempt in range(5):
        addr = Address("fg_service", f"quick{attempt}")
        t0 = time.monotonic()
        with pytest.raises(PartialApplyError) as info:
            drv.create(ctx, addr, service_config(cluster, td, 2))
        # Failed on the exit it saw, not by waiting out the 40 s steady-state timeout.
        assert time.monotonic() - t0 < 30, f"attempt {attempt} waited for the timeout"
        msg = info.value.message
        assert "did not reach a steady state" in msg, msg
        assert msg.count("exit code 1") == 2, msg
        assert info.value.attrs is not None and info.value.attrs["running_count"] == 0
        assert info.value.attrs["tasks"] == []
        assert owned(docker_client, ctx) == [], f"attempt {attempt}: dead task left behind"


def test_task_that_dies_during_the_wait_is_not_reported_steady(
        ctx: FleetContext, busybox_image: str, docker_client: docker.DockerClient) -> None:
    """A task that passed before dies while the apply waits for new ones: the apply must not
    report steady state with fewer tasks running than desired."""
    cluster = make_cluster(ctx, count=1)
    _, td = make_taskdef(ctx, "victim", [container("web", busybox_image, command=HTTPD)])
    drv = ServiceDriver(CLIENT)
    addr = Address("fg_service", "victim")
    a1 = drv.create(ctx, addr, service_config(cluster, td, 1))
    first = a1["tasks"][0]["id"]
    first_cid = next(c["Id"] for c in owned(docker_client, ctx)
                     if c["Labels"]["fgform.task-id"] == first)

    # Scale to 2: the running task is not waited for, the new one must be up a second first.
    # As soon as the new task's container exists, kill the first task (as a crash would).
    killed = threading.Event()

    def kill_first_once_second_exists() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if len({c["Labels"]["fgform.task-id"] for c in owned(docker_client, ctx)}) > 1:
                docker_client.api.kill(first_cid)
                killed.set()
                return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_first_once_second_exists, daemon=True)
    killer.start()
    with pytest.raises(PartialApplyError) as info:
        drv.update(ctx, addr, a1, service_config(cluster, td, 2))
    killer.join(5)
    assert killed.is_set()
    msg = info.value.message
    assert "1 of 2 task(s) running" in msg and f"task {first}" in msg, msg
    assert "exit code 137" in msg, msg
    assert info.value.attrs is not None and info.value.attrs["running_count"] == 1
    assert first not in {t["id"] for t in info.value.attrs["tasks"]}
    # The dead task is removed; the next apply brings the service back to 2.
    assert len(owned(docker_client, ctx)) == 1
    again = drv.update(ctx, addr, info.value.attrs, service_config(cluster, td, 2))
    assert again["running_count"] == 2


def test_steady_check_sees_through_a_stale_list_view(
        ctx: FleetContext, busybox_image: str, docker_client: docker.DockerClient) -> None:
    """What the wait does when the list view lags (as it does under load), made
    deterministic: a real list snapshot taken while the task was up over a second is judged
    after the container exited. The inspect confirmation and the replayed `die` event both
    see the truth, and the failure carries the exit code."""
    cluster = cluster_info(CLIENT, make_cluster(ctx, count=1))
    _, td = make_taskdef(ctx, "stale", [container(
        "app", busybox_image, command=["sh", "-c", "sleep 2.2; exit 4"])])
    since = time.time()
    launch = Launch("fg_service.stale", KIND_SERVICE, cluster, "stale", td, "i-0")
    ok, errors = launch_tasks(docker_client, ctx, [launch])
    assert not errors
    snapshot = None
    deadline = time.monotonic() + 10
    while snapshot is None and time.monotonic() < deadline:
        (task,) = list_live_tasks(ctx, docker_client)
        up = task.containers[0].uptime
        if task.running and up is not None and up >= MIN_STABLE_SECONDS:
            snapshot = task  # "Up 1 second": what a lagging list call still shows
        time.sleep(0.05)
    assert snapshot is not None
    assert _steady(docker_client, snapshot) == "steady"  # still truly running
    docker_client.api.wait(launch.container_ids[0], timeout=10)
    assert _steady(docker_client, snapshot) == "stopped"  # the inspect is not fooled
    msg = describe_failure(docker_client, snapshot, "stopped")
    assert "container app: exited exit code 4" in msg, msg

    # The die happened before this stream was opened: `since` replays it.
    wakeup = _Wakeup(docker_client, label_filter(ctx), since)
    try:
        deadline = time.monotonic() + 5
        while wakeup.died(launch.task_id) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert wakeup.died(launch.task_id) == "4"
    finally:
        wakeup.close()


def test_task_replaced_by_hand_with_another_config_hash_is_not_counted(
        ctx: FleetContext, busybox_image: str, docker_client: docker.DockerClient) -> None:
    """A task container replaced by hand with the same labels (revision and all) but another
    command and config-hash is not one of the service's tasks: running_count drops, the plan
    repairs the service, and the repair replaces that task."""
    cluster = make_cluster(ctx, count=1)
    _, td = make_taskdef(ctx, "forged", [container("web", busybox_image, command=HTTPD)])
    drv = ServiceDriver(CLIENT)
    addr = Address("fg_service", "forged")
    attrs = drv.create(ctx, addr, service_config(cluster, td, 2))
    # Every container carries the hash of its revision's container: read counts them all.
    expected = definition_hashes(td)["web"]
    assert {c["Labels"][L.CONFIG_HASH] for c in owned(docker_client, ctx)} == {expected}
    live = drv.read(ctx, {addr: attrs})[addr]
    assert live is not None and live["running_count"] == 2 and live["tasks"] == attrs["tasks"]

    victim = attrs["tasks"][0]["id"]
    row = next(c for c in owned(docker_client, ctx) if c["Labels"][L.TASK_ID] == victim)
    labels = {**row["Labels"], L.CONFIG_HASH: L.config_hash({"command": ["sleep", "60"]})}
    docker_client.api.remove_container(row["Id"], force=True)
    docker_client.containers.run(busybox_image, ["sleep", "60"], name=row["Names"][0][1:],
                                 labels=labels, network=cluster["network_name"], detach=True,
                                 init=True)
    (forged,) = [t for t in list_live_tasks(ctx, docker_client) if t.task_id == victim]
    assert forged.running and forged.task_definition == td["arn"]

    live = drv.read(ctx, {addr: attrs})[addr]
    assert live is not None and live["running_count"] == 1
    assert victim not in {t["id"] for t in live["tasks"]}
    assert get_schema("fg_service").needs_repair(live) == \
        "running_count is 1 but desired_count is 2"

    repaired = drv.update(ctx, addr, live, service_config(cluster, td, 2))
    assert repaired["running_count"] == 2 and victim not in {t["id"] for t in repaired["tasks"]}
    assert {c["Labels"][L.TASK_ID] for c in owned(docker_client, ctx)} == \
        {t["id"] for t in repaired["tasks"]}


def test_uptime_parses_dockers_status() -> None:
    assert uptime("Up Less than a second") == 0.0
    assert uptime("Up 1 second") == 1.0
    assert uptime("Up 7 seconds (healthy)") == 7.0
    assert uptime("Up About a minute") == 60.0
    assert uptime("Up 3 hours (Paused)") == 3 * 3600.0
    assert uptime("Exited (1) 2 seconds ago") is None
    assert uptime("Created") is None


def test_read_leaves_a_starting_task_alone(ctx: FleetContext, busybox_image: str,
                                           docker_client: docker.DockerClient) -> None:
    """A refresh during an apply must not touch the apply's tasks: here one task's second
    container is still `created`, another task's only container is `created`."""
    cluster = make_cluster(ctx)
    _, td = make_taskdef(ctx, "web", [container("web", busybox_image, command=HTTPD),
                                      container("side", busybox_image,
                                                command=["sleep", "300"])])
    _, td1 = make_taskdef(ctx, "one", [container("one", busybox_image, command=HTTPD)])
    drv = ServiceDriver(CLIENT)
    addr = Address("fg_service", "web")
    info = cluster_info(CLIENT, cluster)
    # Task A: as launch_task leaves it between starting the first container and the second.
    a = Launch(str(addr), KIND_SERVICE, info, "web", td, "i-0")
    first = _create_container(docker_client, ctx, a, 0, td["container"][0], None)
    docker_client.api.start(first)
    owner = container_name(info.name, "web", a.task_id, "web")
    second = _create_container(docker_client, ctx, a, 1, td["container"][1], owner)
    # Task B: a single-container task between create and start.
    b = Launch(str(addr), KIND_SERVICE, info, "web", td1, "i-1")
    only = _create_container(docker_client, ctx, b, 0, td1["container"][0], None)

    def states() -> dict[str, str]:
        return {c["Id"]: c["State"] for c in owned(docker_client, ctx)}

    before = states()
    assert before == {first: "running", second: "created", only: "created"}
    attrs = service_config(cluster, td, 2)
    live = drv.read(ctx, {addr: attrs})[addr]
    assert live is not None and live["running_count"] == 0
    assert states() == before  # nothing stopped, nothing removed

    # The task can still finish starting, as the apply that launched it goes on to do.
    docker_client.api.start(second)
    docker_client.api.start(only)
    assert set(states().values()) == {"running"}

    drv.delete(ctx, addr, attrs, replacing=False)
    assert owned(docker_client, ctx) == []


def test_host_port_is_published_on_loopback(ctx: FleetContext, busybox_image: str,
                                            free_port: int,
                                            docker_client: docker.DockerClient) -> None:
    cluster = make_cluster(ctx)
    _, td = make_taskdef(ctx, "pub", [container(
        "web", busybox_image, command=HTTPD, health_check=HEALTH,
        port_mapping=[{"container_port": 8080, "host_port": free_port, "protocol": "tcp"}])])
    drv = ServiceDriver(CLIENT)
    addr = Address("fg_service", "pub")
    attrs = drv.create(ctx, addr, service_config(cluster, td, 1))
    assert attrs["running_count"] == 1
    c = owned(docker_client, ctx)[0]
    info = docker_client.api.inspect_container(c["Id"])
    assert list(info["Config"]["ExposedPorts"]) == ["8080/tcp"]
    assert info["HostConfig"]["PortBindings"]["8080/tcp"] == [
        {"HostIp": "127.0.0.1", "HostPort": str(free_port)}]
    assert http_get("127.0.0.1", free_port) == 200
    drv.delete(ctx, addr, attrs, replacing=False)
    assert owned(docker_client, ctx) == []


def test_counted_services_get_distinct_default_names() -> None:
    from fgform.fleet.docker.service import service_name

    assert service_name(Address("fg_service", "web"), {"name": None}) == "web"
    assert service_name(Address("fg_service", "web", 0), {"name": None}) == "web-0"
    assert service_name(Address("fg_service", "web", "a b"), {"name": None}) == "web-a-b"
    assert service_name(Address("fg_service", "web", 1), {"name": "x"}) == "x"
