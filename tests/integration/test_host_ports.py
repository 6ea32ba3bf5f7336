"""Host ports as a per-instance resource, against the real engine: instance i-K publishes on
127.0.0.(K+1), two tasks that publish one host port never share an instance, and a task no
instance can take is refused before anything starts (RESOURCE:PORTS)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from fixtures.fgcli import Fleet, clean_up, ensure_base_image

from fgform.addresses import Address
from fgform.fleet.capacity import InsufficientCapacityError
from fgform.fleet.docker.client import LazyClient
from fgform.fleet.docker.placement import cluster_info, placement_usage
from fgform.fleet.docker.runtask import run_task
from fgform.fleet.docker.service import ServiceDriver
from fgform.fleet.driver import FleetContext

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


def web(ctx: FleetContext, image: str, family: str, port: int) -> dict[str, Any]:
    pub = [{"container_port": 8080, "host_port": port, "protocol": "tcp"}]
    return make_taskdef(ctx, family, [container("web", image, command=HTTPD,
                                                health_check=HEALTH, port_mapping=pub)])[1]


def bindings(client: docker.DockerClient, ctx: FleetContext) -> dict[str, str]:
    """instance -> the host address:port its task's container is bound to."""
    out = {}
    for c in owned(client, ctx):
        info = client.api.inspect_container(c["Id"])
        bind = info["HostConfig"]["PortBindings"]["8080/tcp"][0]
        out[info["Config"]["Labels"]["fgform.instance"]] = f"{bind['HostIp']}:{bind['HostPort']}"
    return out


def test_scale_out_places_one_task_per_instance(ctx: FleetContext, busybox_image: str,
                                                free_port: int,
                                                docker_client: docker.DockerClient) -> None:
    # binpack would put all three on i-0 (room for eight by cpu and memory): the port
    # sends each to its own instance, and each answers on its instance's address.
    cluster = make_cluster(ctx, count=3, cpu=2048, memory=1024, strategy="binpack")
    td = web(ctx, busybox_image, "pub", free_port)
    drv = ServiceDriver(CLIENT)
    addr = Address("fg_service", "pub")
    a1 = drv.create(ctx, addr, service_config(cluster, td, 1))
    assert [t["instance"] for t in a1["tasks"]] == ["i-0"]
    a3 = drv.update(ctx, addr, a1, service_config(cluster, td, 3))
    assert sorted(t["instance"] for t in a3["tasks"]) == ["i-0", "i-1", "i-2"]
    assert bindings(docker_client, ctx) == {
        "i-0": f"127.0.0.1:{free_port}", "i-1": f"127.0.0.2:{free_port}",
        "i-2": f"127.0.0.3:{free_port}"}
    for k in (1, 2, 3):
        assert http_get(f"127.0.0.{k}", free_port) == 200

    # A fourth task has nowhere to go: refused before anything starts, naming who holds
    # the port on each instance.
    before = sorted(c["Id"] for c in owned(docker_client, ctx))
    with pytest.raises(InsufficientCapacityError) as info:
        drv.update(ctx, addr, a3, service_config(cluster, td, 4))
    err = info.value
    assert err.resource == "RESOURCE:PORTS"
    held = "; ".join(f"{free_port} on {t['instance']} by service pub (task {t['id']})"
                     for t in sorted(a3["tasks"], key=lambda t: t["instance"]))
    assert str(err) == (f"Unable to place 1 task(s) of pub:1 (cpu 256, memory 128, host "
                        f"port(s) {free_port}): no instance has host port(s) {free_port} "
                        f"free (RESOURCE:PORTS); in use: {held}")
    assert "the cluster has 3 instance(s), 0 with the port(s) free" in err.hint
    assert sorted(c["Id"] for c in owned(docker_client, ctx)) == before

    # One-off tasks are placed the same way: nothing starts.
    with pytest.raises(InsufficientCapacityError, match="RESOURCE:PORTS"):
        run_task(CLIENT, ctx, cluster, td, count=1, timeout=30)
    assert sorted(c["Id"] for c in owned(docker_client, ctx)) == before

    drv.delete(ctx, addr, a3, replacing=False)
    assert owned(docker_client, ctx) == []


def test_two_services_with_the_same_host_port(ctx: FleetContext, busybox_image: str,
                                              free_port: int,
                                              docker_client: docker.DockerClient) -> None:
    cluster = make_cluster(ctx, count=2, cpu=2048, memory=1024, strategy="binpack")
    other = make_cluster(ctx, count=2, cpu=2048, memory=1024)
    drv = ServiceDriver(CLIENT)
    a_addr, b_addr, c_addr = (Address("fg_service", n) for n in ("a", "b", "c"))
    a = drv.create(ctx, a_addr, service_config(cluster, web(ctx, busybox_image, "a",
                                                            free_port), 1))
    b = drv.create(ctx, b_addr, service_config(cluster, web(ctx, busybox_image, "b",
                                                            free_port), 1))
    assert [t["instance"] for t in a["tasks"] + b["tasks"]] == ["i-0", "i-1"]
    assert http_get("127.0.0.1", free_port) == 200 and http_get("127.0.0.2", free_port) == 200

    # Another cluster's instances publish on the same addresses: no room there either.
    before = sorted(c["Id"] for c in owned(docker_client, ctx))
    with pytest.raises(InsufficientCapacityError) as info:
        drv.create(ctx, c_addr, service_config(other, web(ctx, busybox_image, "c", free_port),
                                               1))
    assert f"in use: {free_port} on i-0 by service a (task {a['tasks'][0]['id']}); " \
           f"{free_port} on i-1 by service b (task {b['tasks'][0]['id']})" in str(info.value)
    assert sorted(c["Id"] for c in owned(docker_client, ctx)) == before

    drv.delete(ctx, a_addr, a, replacing=False)
    drv.delete(ctx, b_addr, b, replacing=False)
    assert owned(docker_client, ctx) == []


def test_a_port_held_outside_fgform_is_skipped(ctx: FleetContext, busybox_image: str,
                                               free_port: int,
                                               docker_client: docker.DockerClient) -> None:
    """A port some other process of the machine listens on (not a container) is taken on
    that address: the task goes to the next instance."""
    import socket

    cluster = make_cluster(ctx, count=2, cpu=2048, memory=1024)
    td = web(ctx, busybox_image, "pub", free_port)
    usage = placement_usage(ctx, docker_client, cluster_info(CLIENT, cluster), td)
    assert all(not u.ports for u in usage.values())
    with socket.socket() as s:
        s.bind(("127.0.0.1", free_port))
        s.listen()
        usage = placement_usage(ctx, docker_client, cluster_info(CLIENT, cluster), td)
        assert usage["i-0"].ports == {str(free_port): "a process outside Docker"}
        assert not usage["i-1"].ports
        drv = ServiceDriver(CLIENT)
        addr = Address("fg_service", "pub")
        attrs = drv.create(ctx, addr, service_config(cluster, td, 1))
        assert [t["instance"] for t in attrs["tasks"]] == ["i-1"]
        assert http_get("127.0.0.2", free_port) == 200
    drv.delete(ctx, addr, attrs, replacing=False)
    assert owned(docker_client, ctx) == []


# -- through the CLI: state and plan after a refusal ---------------------------------------
SERVICE = """
resource "fg_task_definition" "app" {
  family = "$name-app"
  cpu    = 128
  memory = 64

  container "app" {
    image        = "$base_image"
    stop_timeout = 1
    health_check {
      command  = $health
      interval = 1
    }
    port_mapping {
      container_port = 8080
      host_port      = $host_port
    }
  }
}

resource "fg_cluster" "main" {
  name       = "$name"
  cidr_block = "$cidr"

  capacity {
    instance_count  = $instances
    instance_cpu    = 1024
    instance_memory = 512
  }
}

resource "fg_service" "app" {
  name                 = "app"
  cluster              = fg_cluster.main.id
  task_definition      = fg_task_definition.app.arn
  desired_count        = $count
  steady_state_timeout = 30
}
"""


@pytest.fixture
def fleets(docker_client: docker.DockerClient, tmp_path: Path) -> Iterator[list[Fleet]]:
    ensure_base_image(docker_client)
    made: list[Fleet] = []
    try:
        yield made
    finally:
        clean_up(docker_client, made)


def test_cli_refuses_a_scale_out_no_instance_has_the_port_for(
        fleets: list[Fleet], docker_client: docker.DockerClient, tmp_path: Path,
        free_port: int) -> None:
    port = free_port
    other = Fleet(tmp_path / "other", docker_client)
    mine = Fleet(tmp_path / "mine", docker_client)
    fleets.extend([other, mine])
    # Another project on this machine holds the port on 127.0.0.1 (i-0 of every cluster).
    other.write(SERVICE, host_port=port, instances=1, count=1)
    other.ok("apply", "-auto-approve")
    held_by = other.resources()["fg_service.app"]["attributes"]["tasks"][0]["id"]

    # Plan knows the schema, not the fleet: too many tasks for the instances is refused
    # there, before any apply.
    mine.write(SERVICE, host_port=port, instances=2, count=3)
    res = mine.fails("plan")
    assert "Error: Too many tasks for a host port" in res.flat_err, res.err
    assert f"fg_service.app runs 3 task(s) that publish host port {port}, but " \
           "fg_cluster.main has 2 instance(s)" in res.flat_err, res.err

    # One task: i-0's address is taken, so it goes to i-1.
    mine.write(SERVICE, host_port=port, instances=2, count=1)
    mine.ok("apply", "-auto-approve")
    first = mine.resources()["fg_service.app"]["attributes"]
    assert [t["instance"] for t in first["tasks"]] == ["i-1"]
    assert http_get("127.0.0.2", port) == 200

    # Two: the plan allows it (two instances), the fleet does not. Nothing starts, state is
    # what it was, and the next plan still shows the change.
    mine.write(SERVICE, host_port=port, instances=2, count=2)
    serial = mine.state()["serial"]
    res = mine.fails("apply", "-auto-approve")
    assert "Error: updating fg_service.app: Unable to place 1 task(s) of " \
           f"{mine.name}-app:1 (cpu 128, memory 64, host port(s) {port}): no instance has " \
           f"host port(s) {port} free (RESOURCE:PORTS); in use: {port} on i-0 by service app " \
           f"(task {held_by}); {port} on i-1 by service app (task {first['tasks'][0]['id']})" \
           in res.flat_err, res.err
    assert "drop host_port and reach the tasks through a load balancer" in res.flat_err, res.err
    # `fgform tasks` shows where the task publishes.
    assert [(t["task_id"], t["instance"], t["ports"]) for t in mine.tasks()] == [
        (first["tasks"][0]["id"], "i-1", f"127.0.0.2:{port}->8080/tcp")]
    after = mine.resources()["fg_service.app"]["attributes"]
    assert after["desired_count"] == 1 and after["tasks"] == first["tasks"]
    assert mine.state()["serial"] in (serial, serial + 1)
    plan = mine.run("plan", "-detailed-exitcode")
    assert plan.code == 2, str(plan)
    assert "desired_count" in plan.out and "1 -> 2" in plan.flat_out, plan.out

    # Once the other project is gone, the same apply places the second task on i-0.
    other.ok("destroy", "-auto-approve")
    mine.ok("apply", "-auto-approve")
    done = mine.resources()["fg_service.app"]["attributes"]
    assert sorted(t["instance"] for t in done["tasks"]) == ["i-0", "i-1"]
    assert http_get("127.0.0.1", port) == 200 and http_get("127.0.0.2", port) == 200
    mine.ok("destroy", "-auto-approve")
    mine.assert_nothing_left()
    other.assert_nothing_left()
