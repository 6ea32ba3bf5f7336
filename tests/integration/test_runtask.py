"""RunTask against the real Docker engine: exit codes, logs, clean-up, capacity."""

from __future__ import annotations

import uuid
from typing import Any

import docker
import pytest

from fgform.addresses import Address
from fgform.errors import FgformError
from fgform.fleet.capacity import InsufficientCapacityError
from fgform.fleet.docker.client import LazyClient
from fgform.fleet.docker.cluster import ClusterDriver
from fgform.fleet.docker.labels import label_filter
from fgform.fleet.docker.runtask import run_task
from fgform.fleet.docker.task_definition import TaskDefinitionDriver
from fgform.fleet.driver import FleetContext

from helpers.subnets import free_subnet

# Connects on first use, at test time (the docker_client fixture reports a missing engine).
CLIENT = LazyClient()
CLUSTER = ClusterDriver(CLIENT)

pytestmark = pytest.mark.docker


@pytest.fixture
def cluster(ctx: FleetContext) -> dict[str, Any]:
    name = f"r{uuid.uuid4().hex[:8]}"
    cidr = free_subnet(CLIENT, 27, "10.150.0.0/16")  # a pool no other test file uses
    return CLUSTER.create(ctx, Address("fg_cluster", name), {
        "name": None, "cidr_block": cidr, "placement_strategy": "spread",
        "capacity": {"instance_count": 2, "instance_cpu": 512, "instance_memory": 256}})


def taskdef(ctx: FleetContext, image: str, script: str, memory: int = 64,
            **extra: Any) -> dict[str, Any]:
    spec = {"name": "job", "image": image, "essential": True,
            "command": ["busybox", "sh", "-c", script], "environment": {"WHO": "world"},
            "stop_timeout": 1, "port_mapping": [], "health_check": None}
    spec.update(extra)
    return TaskDefinitionDriver().create(ctx, Address("fg_task_definition", "job"), {
        "family": "job", "cpu": 128, "memory": memory, "container": [spec]})


def leftovers(client: docker.DockerClient, ctx: FleetContext) -> list[Any]:
    return client.api.containers(all=True, filters=label_filter(ctx))


def test_exit_zero_and_logs(ctx: FleetContext, cluster: dict[str, Any], busybox_image: str,
                            docker_client: docker.DockerClient) -> None:
    lines: list[str] = []
    td = taskdef(ctx, busybox_image, "echo hello $WHO; echo to-stderr >&2")
    assert run_task(CLIENT, ctx, cluster, td, on_log=lines.append) == 0
    assert sorted(lines) == ["hello world", "to-stderr"]
    assert leftovers(docker_client, ctx) == []


def test_exit_code_and_overrides(ctx: FleetContext, cluster: dict[str, Any],
                                 busybox_image: str, docker_client: docker.DockerClient) -> None:
    lines: list[str] = []
    td = taskdef(ctx, busybox_image, "echo never")
    code = run_task(CLIENT, ctx, cluster, td, override_command=["busybox", "sh", "-c",
                                                        "echo bye $WHO; exit 3"],
                    env={"WHO": "moon"}, on_log=lines.append)
    assert code == 3
    assert lines == ["bye moon"]
    assert leftovers(docker_client, ctx) == []


def test_several_tasks_prefix_logs_and_report_highest_code(
        ctx: FleetContext, cluster: dict[str, Any], busybox_image: str) -> None:
    lines: list[str] = []
    # The hostname is the task id: each line must carry its own task's prefix.
    td = taskdef(ctx, busybox_image, "echo from $(hostname); exit 2")
    assert run_task(CLIENT, ctx, cluster, td, count=2, on_log=lines.append) == 2
    assert len(lines) == 2
    for line in lines:
        prefix, _, text = line.partition(" | ")
        assert text == f"from {prefix}"


def test_timeout_removes_the_task(ctx: FleetContext, cluster: dict[str, Any],
                                  busybox_image: str,
                                  docker_client: docker.DockerClient) -> None:
    # The same clean-up path as Ctrl-C (a `finally`): nothing outlives run_task.
    td = taskdef(ctx, busybox_image, "echo started; exec busybox sleep 30")
    with pytest.raises(FgformError, match="longer than 1 s"):
        run_task(CLIENT, ctx, cluster, td, timeout=1)
    assert leftovers(docker_client, ctx) == []


def test_refused_when_the_fleet_is_full(ctx: FleetContext, cluster: dict[str, Any],
                                        busybox_image: str,
                                        docker_client: docker.DockerClient) -> None:
    td = taskdef(ctx, busybox_image, "true", memory=200)
    with pytest.raises(InsufficientCapacityError, match="Unable to place 3 task"):
        run_task(CLIENT, ctx, cluster, td, count=3)
    assert leftovers(docker_client, ctx) == []
