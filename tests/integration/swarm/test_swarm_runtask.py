"""run-task on a real 3-node Swarm: a Swarm job on the cluster's overlay network, its exit
code and logs returned, the job removed; and an image pushed once to fgform's registry
pulled by digest on a worker node.

The overlay network is made here (attachable, labelled with the test's lineage) rather
than by the fg_cluster driver, so these tests need only the swarm.
"""

from __future__ import annotations

import io
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from docker.errors import APIError, NotFound

from fgform.addresses import Address
from fgform.errors import FgformError
from fgform.fleet.capacity import InsufficientCapacityError
from fgform.fleet.docker import labels as L
from fgform.fleet.docker.task_definition import TaskDefinitionDriver
from fgform.fleet.driver import FleetContext
from fgform.fleet.swarm.fleet import EngineFleet
from fgform.fleet.swarm.removal import remove_service
from fgform.fleet.swarm.runtask import run_swarm_task
from swarm.images import swarm_image, worker_leftovers

__all__ = ["swarm_image"]  # the fixture, imported for pytest

pytestmark = pytest.mark.docker


def remove_services(client: docker.DockerClient, lineage: str) -> None:
    for s in client.api.services(filters={"label": f"{L.LINEAGE}={lineage}"}):
        remove_service(client, s["ID"], time.monotonic() + 30)


def remove_network(client: docker.DockerClient, name: str) -> None:
    """An overlay network stays in use until Swarm has removed the tasks on it (seconds
    after their service is gone): retry."""
    for _ in range(60):
        try:
            client.api.remove_network(name)
            return
        except NotFound:
            return
        except APIError:
            time.sleep(0.5)
    raise AssertionError(f"network {name} still in use")


@pytest.fixture
def swarm_cluster(swarm: docker.DockerClient, ctx: FleetContext) -> Iterator[dict[str, Any]]:
    """A cluster's state attributes as the Swarm cluster driver records them: engine
    "swarm" and an attachable overlay network."""
    name = f"nodes-rt-{uuid.uuid4().hex[:8]}"
    swarm.api.create_network(name, driver="overlay", attachable=True,
                             labels=L.base_labels(ctx, "fg_cluster.rt", kind="cluster"))
    try:
        yield {"id": "rt", "name": "rt", "engine": "swarm", "network_name": name}
    finally:
        remove_services(swarm, ctx.lineage)
        remove_network(swarm, name)


def taskdef(ctx: FleetContext, image: str, script: str, **extra: Any) -> dict[str, Any]:
    spec = {"name": "job", "image": image, "essential": True,
            "command": ["busybox", "sh", "-c", script], "environment": {"WHO": "world"},
            "stop_timeout": 1, "port_mapping": [], "health_check": None}
    td = {"family": "job", "cpu": 128, "memory": 64, "container": [spec]}
    td.update(extra)
    return TaskDefinitionDriver().create(ctx, Address("fg_task_definition", "job"), td)


def services_of(client: docker.DockerClient, ctx: FleetContext) -> list[Any]:
    return client.api.services(filters={"label": f"{L.LINEAGE}={ctx.lineage}"})


@pytest.mark.parametrize("code", [0, 3, 42])
def test_exit_code_logs_and_cleanup(code: int, ctx: FleetContext, swarm: docker.DockerClient,
                                    swarm_cluster: dict[str, Any],
                                    swarm_image: dict[str, Any]) -> None:
    lines: list[str] = []
    td = taskdef(ctx, swarm_image["uri"], f"echo hello $WHO; echo to-stderr >&2; exit {code}")
    # Through the fleet, as `fgform run-task` calls it: the cluster's engine picks Swarm.
    assert EngineFleet(swarm).run_task(ctx, swarm_cluster, td, on_log=lines.append) == code
    assert sorted(lines) == ["hello world", "to-stderr"]
    assert services_of(swarm, ctx) == []


def test_override_env_count_and_labels(ctx: FleetContext, swarm: docker.DockerClient,
                                       swarm_cluster: dict[str, Any],
                                       swarm_image: dict[str, Any]) -> None:
    lines: list[str] = []
    seen: list[dict[str, Any]] = []
    td = taskdef(ctx, swarm_image["uri"], "echo never")

    def watch(line: str) -> None:
        lines.append(line)
        seen.extend(services_of(swarm, ctx))  # the job, while it runs

    code = run_swarm_task(swarm, ctx, swarm_cluster, td, count=3,
                          override_command=["busybox", "sh", "-c",
                                            "echo bye $WHO; sleep 1; exit $((RANDOM % 2 + 5))"],
                          env={"WHO": "moon"}, on_log=watch)
    assert code in (5, 6)  # the highest of the three tasks' codes
    # One line per task, each prefixed with its own task's id.
    assert len(lines) == 3 and all(line.endswith(" | bye moon") for line in lines)
    assert len({line.split(" | ")[0] for line in lines}) == 3
    labels = seen[0]["Spec"]["Labels"]
    assert labels[L.LINEAGE] == ctx.lineage and labels[L.KIND] == "run-task"
    assert labels[L.TASK_DEFINITION] == "job:1" and labels[L.CLUSTER] == "rt"
    assert seen[0]["Spec"]["TaskTemplate"]["RestartPolicy"]["Condition"] == "none"
    nets = [n["Target"] for n in seen[0]["Spec"]["TaskTemplate"]["Networks"]]
    assert nets == [swarm.networks.get(swarm_cluster["network_name"]).id]
    res = seen[0]["Spec"]["TaskTemplate"]["Resources"]["Reservations"]
    assert res == {"NanoCPUs": 125_000_000, "MemoryBytes": 64 * 1024 * 1024}
    assert services_of(swarm, ctx) == []
    assert worker_leftovers(swarm, ctx) == {}


def test_worker_pulls_the_registry_image_by_digest(ctx: FleetContext,
                                                   swarm: docker.DockerClient,
                                                   swarm_cluster: dict[str, Any],
                                                   swarm_image: dict[str, Any]) -> None:
    """Images on every node: the image is pushed once (to the registry on the manager) and
    a task placed on a worker pulls it by digest."""
    assert "@sha256:" in swarm_image["uri"] and swarm_image["uri"].startswith("127.0.0.1:")
    lines: list[str] = []
    td = taskdef(ctx, swarm_image["uri"], "cat /www/index.html; echo on $(hostname)")
    code = run_swarm_task(swarm, ctx, swarm_cluster, td, count=2, on_log=lines.append,
                          constraints=["node.role==worker"])
    assert code == 0
    assert sorted(line.split(" | ", 1)[1] for line in lines if " | ok" in line) == ["ok", "ok"]
    # The worker engines hold the image under its digest now.
    workers = [n for n in swarm.nodes.list() if n.attrs["Spec"]["Role"] == "worker"]
    assert workers
    pulled = []
    for node in workers:
        host = node.attrs["Description"]["Hostname"]
        out = swarm.containers.get(host).exec_run(
            ["docker", "image", "inspect", "--format", "{{json .RepoDigests}}",
             swarm_image["uri"]])
        pulled.append(out.exit_code == 0 and swarm_image["digest"] in out.output.decode())
    assert any(pulled), "no worker node pulled the image by digest"


def test_timeout_removes_the_job(ctx: FleetContext, swarm: docker.DockerClient,
                                 swarm_cluster: dict[str, Any],
                                 swarm_image: dict[str, Any]) -> None:
    td = taskdef(ctx, swarm_image["uri"], "sleep 60")
    with pytest.raises(FgformError, match="longer than 3 s"):
        run_swarm_task(swarm, ctx, swarm_cluster, td, timeout=3,
                       constraints=["node.role==worker"])
    assert services_of(swarm, ctx) == []
    # The running task is stopped and removed on its node, not left behind.
    assert worker_leftovers(swarm, ctx) == {}


def test_no_node_large_enough_is_refused(ctx: FleetContext, swarm: docker.DockerClient,
                                         swarm_cluster: dict[str, Any],
                                         swarm_image: dict[str, Any]) -> None:
    td = taskdef(ctx, swarm_image["uri"], "true", memory=100 * 1024 * 1024)  # 100 TiB
    with pytest.raises(InsufficientCapacityError, match="no suitable node"):
        run_swarm_task(swarm, ctx, swarm_cluster, td, timeout=30)
    assert services_of(swarm, ctx) == []


def test_unpullable_image_is_an_error(ctx: FleetContext, swarm: docker.DockerClient,
                                      swarm_cluster: dict[str, Any]) -> None:
    td = taskdef(ctx, "127.0.0.1:5999/nodes/absent:latest", "true")
    with pytest.raises(FgformError, match="rejected"):
        run_swarm_task(swarm, ctx, swarm_cluster, td, timeout=60)
    assert services_of(swarm, ctx) == []


def test_several_containers_are_refused(ctx: FleetContext, swarm: docker.DockerClient,
                                        swarm_cluster: dict[str, Any]) -> None:
    td = taskdef(ctx, "x", "true")
    td["container"] = [td["container"][0], {**td["container"][0], "name": "side"}]
    with pytest.raises(FgformError, match="exactly one container"):
        run_swarm_task(swarm, ctx, swarm_cluster, td)




def test_cli_run_task_exits_with_the_task_s_code(ctx: FleetContext, tmp_path: Path,
                                                 swarm: docker.DockerClient,
                                                 swarm_cluster: dict[str, Any],
                                                 swarm_image: dict[str, Any]) -> None:
    """`fgform run-task` through the fleet the command line builds: a state whose cluster
    has engine "swarm" runs the task on the swarm, and the command exits with its code."""
    from fgform.addresses import parse_address
    from fgform.cli import Environment
    from fgform.cli.app import run
    from fgform.state.model import InstanceState, StateFile
    from fgform.state.store import StateStore

    st = StateFile(lineage=ctx.lineage)
    st.set(parse_address("fg_cluster.rt"), InstanceState(None, swarm_cluster))
    st.set(parse_address("fg_task_definition.job"), InstanceState(
        None, taskdef(ctx, swarm_image["uri"], "echo from the cli; exit 42")))
    StateStore(tmp_path / "state.json").write(st)
    env = Environment(stdin=io.StringIO(""), stdout=io.StringIO(), stderr=io.StringIO(),
                      environ={"TERM": "xterm", **({"DOCKER_HOST": os.environ["DOCKER_HOST"]}
                                                  if "DOCKER_HOST" in os.environ else {})},
                      cwd=tmp_path)
    assert run(["run-task", "job", "-state", "state.json"], env) == 42, env.stderr.getvalue()
    assert env.stdout.getvalue() == "from the cli\n"
    assert services_of(swarm, ctx) == []


def test_member_of_constraint_places_the_task(ctx: FleetContext, swarm: docker.DockerClient,
                                              swarm_cluster: dict[str, Any],
                                              swarm_image: dict[str, Any]) -> None:
    """The task definition's memberOf constraint (ECS's query language) is honoured: the
    task runs on the one node it admits; one no node satisfies is refused, not pending."""
    node = next(n for n in swarm.nodes.list() if n.attrs["Spec"]["Role"] == "worker")
    host = node.attrs["Description"]["Hostname"]
    where: set[str] = set()

    def watch(_line: str) -> None:
        where.update(t.get("NodeID", "") for t in swarm.api.tasks(
            filters={"label": f"{L.LINEAGE}={ctx.lineage}"}))

    td = taskdef(ctx, swarm_image["uri"], "echo placed", placement_constraints=[
        {"type": "memberOf", "expression": f"attribute:ecs.instance-id == {host}"}])
    assert run_swarm_task(swarm, ctx, swarm_cluster, td, count=2, on_log=watch) == 0
    assert where == {node.id}
    nowhere = taskdef(ctx, swarm_image["uri"], "true", placement_constraints=[
        {"type": "memberOf", "expression": "attribute:zone == nowhere"}])
    with pytest.raises(InsufficientCapacityError, match="no suitable node"):
        run_swarm_task(swarm, ctx, swarm_cluster, nowhere, timeout=30)
    assert services_of(swarm, ctx) == []
