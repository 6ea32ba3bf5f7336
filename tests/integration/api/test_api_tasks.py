"""The ECS task actions (RunTask, StopTask, DescribeTasks, ListTasks) against the real engine:
the handlers called with an `ApiContext` on a configuration directory applied with the real
CLI, one-off tasks as real containers, and nothing left behind after `destroy`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import docker
import pytest
from fixtures.fgcli import Fleet, clean_up, ensure_base_image

from fgform.api import ecs_tasks
from fgform.api.actions import ApiContext
from fgform.api.errors import ApiError
from fgform.fleet.swarm.fleet import EngineFleet

from .services_fixtures import call

pytestmark = pytest.mark.docker

CONFIG = """
resource "fg_cluster" "main" {
  name       = "$name"
  cidr_block = "$cidr"

  capacity {
    instance_count  = 1
    instance_cpu    = 1024
    instance_memory = 512
  }
}

resource "fg_task_definition" "job" {
  family = "$name-job"
  cpu    = 128
  memory = 64

  container "job" {
    image        = "$base_image"
    command      = ["busybox", "sh", "-c", "echo hi $$WHO; exit 3"]
    environment  = { WHO = "world" }
    stop_timeout = 1
  }
}

resource "fg_task_definition" "big" {
  family = "$name-big"
  cpu    = 128
  memory = 400

  container "big" {
    image        = "$base_image"
    command      = ["busybox", "sleep", "30"]
    stop_timeout = 1
  }
}

resource "fg_task_definition" "web" {
  family = "$name-web"
  cpu    = 128
  memory = 64

  container "web" {
    image        = "$base_image"
    stop_timeout = 1
  }
}

resource "fg_task_definition" "pair" {
  family = "$name-pair"
  cpu    = 128
  memory = 64

  container "main" {
    image        = "$base_image"
    command      = ["busybox", "sh", "-c", "sleep 0.5; exit 4"]
    stop_timeout = 1
  }

  container "side" {
    image        = "$base_image"
    command      = ["busybox", "sleep", "60"]
    essential    = false
    stop_timeout = 1
  }
}

resource "fg_service" "web" {
  name                 = "web"
  cluster              = fg_cluster.main.id
  task_definition      = fg_task_definition.web.arn
  desired_count        = 1
  steady_state_timeout = 60
}
"""


@pytest.fixture(scope="module")
def fleet(docker_client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Fleet]:
    ensure_base_image(docker_client)
    f = Fleet(tmp_path_factory.mktemp("api-tasks"), docker_client)
    f.write(CONFIG)
    f.ok("apply", "-auto-approve")
    try:
        yield f
    finally:
        f.run("destroy", "-auto-approve")
        clean_up(docker_client, [f])


@pytest.fixture
def api(fleet: Fleet) -> ApiContext:
    return ApiContext(dir=fleet.dir, fleet=EngineFleet())


def wait_stopped(ctx: ApiContext, cluster: str, arns: list[str], timeout: float = 20
                 ) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        got = call(ctx, "DescribeTasks", cluster=cluster, tasks=arns)["tasks"]
        if all(t["lastStatus"] == "STOPPED" for t in got) or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


def test_run_task_returns_at_once_and_describe_shows_the_exit_code(fleet: Fleet,
                                                                    api: ApiContext) -> None:
    out = call(api, "RunTask", cluster=fleet.name, taskDefinition=f"{fleet.name}-job",
               startedBy="ci-job")
    assert out["failures"] == []
    [task] = out["tasks"]
    assert task["lastStatus"] in ("PENDING", "RUNNING", "STOPPED")
    assert task["taskArn"].startswith(f"arn:aws:ecs:us-east-1:000000000000:task/{fleet.name}/")
    tid = task["taskArn"].rsplit("/", 1)[1]
    assert len(tid) == 32 and all(c in "0123456789abcdef" for c in tid)
    assert task["taskDefinitionArn"] == \
        f"arn:aws:ecs:us-east-1:000000000000:task-definition/{fleet.name}-job:1"
    assert task["group"] == f"family:{fleet.name}-job"
    assert task["startedBy"] == "ci-job"
    assert (task["cpu"], task["memory"], task["launchType"]) == ("128", "64", "FARGATE")
    [done] = wait_stopped(api, fleet.name, [task["taskArn"]])
    assert done["lastStatus"] == done["desiredStatus"] == "STOPPED"
    assert done["stopCode"] == "EssentialContainerExited"
    assert done["containers"][0]["exitCode"] == 3
    assert done["stoppedAt"] >= done["startedAt"] >= done["createdAt"] - 1
    # Listed as stopped, not running; by family and by who started it.
    stopped = call(api, "ListTasks", cluster=fleet.name, desiredStatus="STOPPED",
                   family=f"{fleet.name}-job", startedBy="ci-job")["taskArns"]
    assert task["taskArn"] in stopped
    running = call(api, "ListTasks", cluster=fleet.name)["taskArns"]
    assert task["taskArn"] not in running


def test_count_and_overrides(fleet: Fleet, api: ApiContext) -> None:
    out = call(api, "RunTask", cluster=fleet.name, taskDefinition=f"{fleet.name}-job:1",
               count=2, overrides={"containerOverrides": [{
                   "name": "job", "command": ["busybox", "sh", "-c", 'exit "$CODE"'],
                   "environment": [{"name": "CODE", "value": "7"}]}]})
    arns = [t["taskArn"] for t in out["tasks"]]
    assert len(set(arns)) == 2 and out["failures"] == []
    done = wait_stopped(api, fleet.name, arns)
    assert [t["containers"][0]["exitCode"] for t in done] == [7, 7]


def test_list_tasks_by_service_and_pagination(fleet: Fleet, api: ApiContext) -> None:
    svc = call(api, "ListTasks", cluster=fleet.name, serviceName="web")["taskArns"]
    assert len(svc) == 1
    [task] = call(api, "DescribeTasks", cluster=fleet.name, tasks=svc)["tasks"]
    assert task["group"] == "service:web" and task["lastStatus"] == "RUNNING"
    with pytest.raises(ApiError) as err:
        call(api, "ListTasks", cluster=fleet.name, serviceName="nope")
    assert err.value.code == "ServiceNotFoundException"
    # Pages of one, in ARN order, covering the whole list.
    everything = call(api, "ListTasks", cluster=fleet.name, desiredStatus="STOPPED")["taskArns"]
    pages: list[str] = []
    token = None
    while True:
        page = call(api, "ListTasks", cluster=fleet.name, desiredStatus="STOPPED",
                    maxResults=1, **({"nextToken": token} if token else {}))
        pages += page["taskArns"]
        token = page.get("nextToken")
        if not token:
            break
    assert pages == everything == sorted(everything)


def test_stop_a_one_off_task(fleet: Fleet, api: ApiContext) -> None:
    out = call(api, "RunTask", cluster=fleet.name, taskDefinition=f"{fleet.name}-big")
    arn = out["tasks"][0]["taskArn"]
    stopped = call(api, "StopTask", cluster=fleet.name, task=arn, reason="no longer needed")
    assert stopped["task"]["desiredStatus"] == "STOPPED"
    [task] = call(api, "DescribeTasks", cluster=fleet.name, tasks=[arn])["tasks"]
    assert task["lastStatus"] == "STOPPED"
    assert (task["stopCode"], task["stoppedReason"]) == ("UserInitiated", "no longer needed")
    with pytest.raises(ApiError) as err:
        call(api, "StopTask", cluster=fleet.name, task="0" * 32)
    assert (err.value.code, err.value.message) == ("InvalidParameterException",
                                                   "The referenced task was not found.")


def test_stop_a_service_task_and_the_scheduler_replaces_it(fleet: Fleet,
                                                          api: ApiContext) -> None:
    [arn] = call(api, "ListTasks", cluster=fleet.name, serviceName="web")["taskArns"]
    out = call(api, "StopTask", cluster=fleet.name, task=arn)
    assert out["task"]["desiredStatus"] == "STOPPED"
    assert call(api, "ListTasks", cluster=fleet.name, serviceName="web")["taskArns"] == []
    fleet.ok("reconcile")
    after = call(api, "ListTasks", cluster=fleet.name, serviceName="web")["taskArns"]
    assert len(after) == 1 and after != [arn]


def test_describe_failures_and_errors(fleet: Fleet, api: ApiContext) -> None:
    missing = f"arn:aws:ecs:us-east-1:000000000000:task/{fleet.name}/{'a' * 32}"
    out = call(api, "DescribeTasks", cluster=fleet.name, tasks=[missing, "b" * 32])
    assert out["tasks"] == []
    assert out["failures"] == [
        {"arn": missing, "reason": "MISSING"},
        {"arn": f"arn:aws:ecs:us-east-1:000000000000:task/{fleet.name}/{'b' * 32}",
         "reason": "MISSING"}]
    cases = [
        ({"cluster": "nope", "taskDefinition": f"{fleet.name}-job"}, "ClusterNotFoundException"),
        ({"cluster": fleet.name, "taskDefinition": "nope"}, "ClientException"),
        ({"cluster": fleet.name, "taskDefinition": f"{fleet.name}-job:9"}, "ClientException"),
        ({"cluster": fleet.name, "taskDefinition": f"{fleet.name}-job", "count": 11},
         "InvalidParameterException"),
        ({"cluster": fleet.name, "taskDefinition": f"{fleet.name}-job", "count": 0},
         "InvalidParameterException"),
    ]
    for params, code in cases:
        with pytest.raises(ApiError) as err:
            call(api, "RunTask", **params)
        assert err.value.code == code, params


def test_capacity_exhausted_is_a_failure(fleet: Fleet, api: ApiContext) -> None:
    # 512 MiB: the service holds 64, one big task 400; the second does not fit.
    out = call(api, "RunTask", cluster=fleet.name, taskDefinition=f"{fleet.name}-big",
               count=2)
    assert len(out["tasks"]) == 1
    assert [f["reason"] for f in out["failures"]] == ["RESOURCE:MEMORY"]
    call(api, "StopTask", cluster=fleet.name, task=out["tasks"][0]["taskArn"])


def test_a_sidecar_stops_with_its_essential_container(fleet: Fleet, api: ApiContext) -> None:
    out = call(api, "RunTask", cluster=fleet.name, taskDefinition=f"{fleet.name}-pair")
    arn = out["tasks"][0]["taskArn"]
    assert [c["name"] for c in out["tasks"][0]["containers"]] == ["main", "side"]
    [task] = wait_stopped(api, fleet.name, [arn])
    assert task["containers"][0]["exitCode"] == 4
    # The DescribeTasks that saw it stopped stopped the sidecar too.
    [task] = call(api, "DescribeTasks", cluster=fleet.name, tasks=[arn])["tasks"]
    assert [c["lastStatus"] for c in task["containers"]] == ["STOPPED", "STOPPED"]


def test_stopped_tasks_are_swept_and_destroy_leaves_nothing(fleet: Fleet,
                                                            api: ApiContext) -> None:
    out = call(api, "RunTask", cluster=fleet.name, taskDefinition=f"{fleet.name}-job")
    arn = out["tasks"][0]["taskArn"]
    wait_stopped(api, fleet.name, [arn])
    # Shorter than the retention: still there; past it (0 s): swept on the next ListTasks.
    assert arn in call(api, "ListTasks", cluster=fleet.name, desiredStatus="STOPPED")["taskArns"]
    api.task_retention = 0.0  # type: ignore[attr-defined]
    assert call(api, "ListTasks", cluster=fleet.name, desiredStatus="STOPPED")["taskArns"] == []
    assert fleet.containers(kind="run-task") == []
    # A kept stopped task (and a running one) go with the cluster on destroy.
    del api.task_retention  # type: ignore[attr-defined]
    job = call(api, "RunTask", cluster=fleet.name, taskDefinition=f"{fleet.name}-job")
    wait_stopped(api, fleet.name, [job["tasks"][0]["taskArn"]])
    big = call(api, "RunTask", cluster=fleet.name, taskDefinition=f"{fleet.name}-big")
    assert big["failures"] == []
    assert len(fleet.containers(kind="run-task")) == 2
    fleet.ok("destroy", "-auto-approve")
    fleet.assert_nothing_left()
    assert ecs_tasks.RETENTION == 3600.0
