"""`fgform nodes` against real engines: the 3-node Swarm's nodes with their capacity and
this state's tasks placed on them, and the local backend's capacity instances."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from docker.errors import APIError, NotFound
from docker.types import ContainerSpec, EndpointSpec, Resources, ServiceMode, TaskTemplate

from fgform.addresses import Address
from fgform.fleet.docker import labels as L
from fgform.fleet.docker.cluster import ClusterDriver
from fgform.fleet.docker.launch import Launch, launch_tasks, remove_containers
from fgform.fleet.docker.live_tasks import KIND_SERVICE
from fgform.fleet.docker.placement import cluster_info
from fgform.fleet.driver import FleetContext
from fgform.fleet.swarm.fleet import EngineFleet
from fgform.fleet.swarm.removal import remove_service
from swarm.images import swarm_image

from helpers.subnets import free_subnet

__all__ = ["swarm_image"]  # the fixture, imported for pytest

pytestmark = pytest.mark.docker


def test_swarm_nodes_are_listed_ready_and_active(swarm: docker.DockerClient,
                                                 ctx: FleetContext) -> None:
    rows = EngineFleet(swarm).list_nodes(ctx, [("main", {"engine": "swarm"})])
    assert len(rows) == len(swarm.nodes.list()) >= 3
    hosts = sorted(n.attrs["Description"]["Hostname"] for n in swarm.nodes.list())
    assert sorted(r.instance for r in rows) == hosts
    for r in rows:
        assert (r.cluster, r.engine, r.state, r.availability) == ("main", "swarm", "ready",
                                                                  "active")
        assert r.cpu > 0 and r.memory > 0 and r.role in ("manager", "worker")
        assert r.tasks == 0  # nothing of this fresh lineage runs
    assert sum(r.role == "manager" for r in rows) >= 1


@pytest.fixture
def overlay(swarm: docker.DockerClient, ctx: FleetContext) -> Iterator[str]:
    name = f"nodes-n-{uuid.uuid4().hex[:8]}"
    swarm.api.create_network(name, driver="overlay", attachable=True,
                             labels=L.base_labels(ctx, "fg_cluster.main", kind="cluster"))
    try:
        yield name
    finally:
        for s in swarm.api.services(filters={"label": f"{L.LINEAGE}={ctx.lineage}"}):
            remove_service(swarm, s["ID"], time.monotonic() + 30)
        for _ in range(60):
            try:
                swarm.api.remove_network(name)
                break
            except NotFound:
                break
            except APIError:
                time.sleep(0.5)


def test_swarm_placed_tasks_are_counted_per_node(swarm: docker.DockerClient,
                                                 ctx: FleetContext, overlay: str,
                                                 swarm_image: dict[str, Any]) -> None:
    # A service as the Swarm service driver labels one: lineage on the service (which its
    # tasks inherit for the list filter), the cluster on its containers.
    labels = L.base_labels(ctx, "fg_service.web", kind="service", **{L.CLUSTER: "main"})
    spec = ContainerSpec(swarm_image["uri"], args=["busybox", "sleep", "300"], labels=labels)
    template = TaskTemplate(spec, networks=[overlay],
                            resources=Resources(cpu_reservation=250_000_000,
                                                mem_reservation=32 * 1024 * 1024))
    swarm.api.create_service(template, name=f"nodes-n-{ctx.lineage[-8:]}", labels=labels,
                             mode=ServiceMode("replicated", replicas=3),
                             endpoint_spec=EndpointSpec(mode="dnsrr"))
    fleet = EngineFleet(swarm)
    deadline = time.monotonic() + 90
    while True:
        rows = fleet.list_nodes(ctx, [("main", {"engine": "swarm"}),
                                      ("other", {"engine": "swarm"})])
        main = [r for r in rows if r.cluster == "main"]
        if sum(r.tasks for r in main) == 3 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert sum(r.tasks for r in main) == 3
    assert sum(r.cpu_reserved for r in main) == 3 * 256  # 0.25 core = 256 CPU units
    assert sum(r.memory_reserved for r in main) == 3 * 32
    by_node = {t["NodeID"] for t in swarm.api.tasks(filters={
        "label": f"{L.LINEAGE}={ctx.lineage}", "desired-state": "running"})}
    assert {r.node_id for r in main if r.tasks} == by_node
    # The other cluster lists the same nodes, with none of main's tasks.
    assert {r.instance for r in rows if r.cluster == "other"} == {r.instance for r in main}
    assert sum(r.tasks for r in rows if r.cluster == "other") == 0


def test_local_capacity_instances(docker_client: docker.DockerClient, ctx: FleetContext,
                                  busybox_image: str) -> None:
    """The local backend: the capacity block's instances, ready and active, with the task
    launched on one of them counted there."""
    cidr = free_subnet(docker_client, 27, "10.151.0.0/16")  # a pool no other test uses
    attrs = ClusterDriver(docker_client).create(ctx, Address("fg_cluster", "loc"), {
        "name": None, "cidr_block": cidr, "placement_strategy": "spread",
        "capacity": {"instance_count": 2, "instance_cpu": 512, "instance_memory": 256}})
    td = {"family": "t", "arn": "t:1", "cpu": 128, "memory": 64, "container": [
        {"name": "c", "image": busybox_image, "essential": True,
         "command": ["busybox", "sleep", "60"], "stop_timeout": 1, "port_mapping": []}]}
    cluster = cluster_info(docker_client, attrs)
    ok, errors = launch_tasks(docker_client, ctx, [Launch(
        "fg_service.t", KIND_SERVICE, cluster, "t", td, "i-1")])
    try:
        assert errors == []
        rows = EngineFleet(docker_client).list_nodes(ctx, [(cluster.name, attrs)])
        assert [(r.instance, r.engine, r.role, r.state, r.availability, r.cpu, r.memory,
                 r.tasks, r.cpu_reserved, r.memory_reserved) for r in rows] == [
            ("i-0", "docker", "instance", "ready", "active", 512, 256, 0, 0, 0),
            ("i-1", "docker", "instance", "ready", "active", 512, 256, 1, 128, 64)]
    finally:
        remove_containers(docker_client, [(cid, 1) for ln in ok for cid in ln.container_ids])


def test_cli_nodes_on_a_swarm_cluster(swarm: docker.DockerClient, ctx: FleetContext,
                                      tmp_path: Path) -> None:
    """`fgform nodes` with the fleet the command line builds, for a state whose cluster
    has engine "swarm": one row per node, then -json."""
    import io
    import json

    from fgform.addresses import parse_address
    from fgform.cli import Environment
    from fgform.cli.app import run
    from fgform.state.model import InstanceState, StateFile
    from fgform.state.store import StateStore

    st = StateFile(lineage=ctx.lineage)
    st.set(parse_address("fg_cluster.main"), InstanceState(None, {
        "id": "main", "name": "main", "engine": "swarm", "network_name": "unused"}))
    StateStore(tmp_path / "state.json").write(st)

    def cli(*argv: str) -> str:
        env = Environment(stdin=io.StringIO(""), stdout=io.StringIO(), stderr=io.StringIO(),
                          environ={"TERM": "xterm"}, cwd=tmp_path)
        assert run([*argv, "-state", "state.json"], env) == 0, env.stderr.getvalue()
        return env.stdout.getvalue()

    lines = cli("nodes").splitlines()
    hosts = sorted(n.attrs["Description"]["Hostname"] for n in swarm.nodes.list())
    assert len(lines) == 1 + len(hosts)
    assert [line.split()[:6] for line in lines[1:]] == [
        ["main", h, "swarm", next(n.attrs["Spec"]["Role"] for n in swarm.nodes.list()
                                  if n.attrs["Description"]["Hostname"] == h),
         "ready", "active"] for h in hosts]
    data = json.loads(cli("nodes", "main", "-json"))
    assert sorted(r["instance"] for r in data) == hosts
    assert all(r["cpu"] > 0 and r["memory"] > 0 for r in data)
