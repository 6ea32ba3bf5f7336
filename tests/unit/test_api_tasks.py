"""The ECS task actions on plain data: task shapes, id/ARN parsing, ListTasks pagination and
filters, RunTask's resolution of clusters, task definitions and overrides, and the errors,
over a state file and the in-memory fleet (tests/helpers/fakefleet.py)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from fgform import workflow
from fgform.addresses import parse_address
from fgform.api import ecs_tasks, handlers  # noqa: F401 - registers the actions
from fgform.api.actions import ACTIONS, ApiContext
from fgform.api.arns import Identity
from fgform.api.errors import ApiError
from fgform.fleet.docker import labels as L
from fgform.fleet.docker.live_tasks import CONTAINER, KIND_RUN_TASK, group_tasks
from fgform.fleet.docker.oneoff import _epoch, record, stopped_for
from fgform.fleet.fleet import Fleet, TaskContainer, TaskRecord
from fgform.state.model import InstanceState, StateFile
from fgform.state.paths import ensure_state_dir
from fgform.state.store import StateStore

from helpers.fakefleet import FakeFleet

P = "arn:aws:ecs:us-east-1:000000000000:"

JOB = {"family": "job", "revision": 2, "arn": "job:2", "id": "job:2", "cpu": 256,
       "memory": 128, "container": [
           {"name": "main", "image": "busybox", "command": ["true"],
            "environment": {"A": "1"}, "essential": True},
           {"name": "side", "image": "busybox", "essential": False}],
       "revisions": [{"family": "job", "revision": 1, "arn": "job:1", "status": "INACTIVE",
                      "cpu": 256, "memory": 128, "container": []}]}


def write_state(tmp: Path, resources: dict[str, dict[str, Any]]) -> StateFile:
    st = StateFile(lineage="lin-1")
    for address, attrs in resources.items():
        addr = parse_address(address)
        st.set(addr, InstanceState(index_key=addr.key, attributes=attrs))
    path = workflow.state_only(tmp, None, "default")
    ensure_state_dir(path.parent)
    StateStore(path).write(st)
    return st


@pytest.fixture
def api(tmp_path: Path) -> ApiContext:
    write_state(tmp_path, {
        "fg_cluster.main": {"id": "default", "name": "default", "network_name": "fgform-d"},
        "fg_cluster.other": {"id": "other", "name": "other"},
        "fg_cluster.sw": {"id": "sw", "name": "sw", "engine": "swarm"},
        "fg_task_definition.job": JOB,
        "fg_service.web": {"id": "default/web", "name": "web", "cluster": "default",
                           "task_definition": "job:2", "desired_count": 1},
    })
    return ApiContext(dir=tmp_path, fleet=FakeFleet())


def call(ctx: ApiContext, name: str, **params: Any) -> dict[str, Any]:
    return ACTIONS[name].handler(ctx, params)


def error(ctx: ApiContext, name: str, **params: Any) -> ApiError:
    with pytest.raises(ApiError) as err:
        call(ctx, name, **params)
    return err.value


def test_the_fake_fleet_is_still_a_fleet() -> None:
    assert isinstance(FakeFleet(), Fleet)


def test_task_shape_of_a_stopped_one_off_task() -> None:
    rec = TaskRecord(
        task_id="a" * 32, cluster="default", service="", task_definition="job:2",
        status="STOPPED", desired="STOPPED", cpu=256, memory=128, started_by="ci",
        created_at=10.0, started_at=11.0, stopped_at=12.5, stop_code="EssentialContainerExited",
        containers=(TaskContainer("main", "STOPPED", exit_code=3,
                                  bindings=(("127.0.0.1", 8080, 80, "tcp"),)),))
    shape = ecs_tasks.task_shape(rec, Identity())
    assert shape["taskArn"] == f"{P}task/default/{'a' * 32}"
    assert shape["clusterArn"] == f"{P}cluster/default"
    assert shape["taskDefinitionArn"] == f"{P}task-definition/job:2"
    assert shape["group"] == "family:job"
    assert (shape["lastStatus"], shape["desiredStatus"], shape["healthStatus"]) == \
        ("STOPPED", "STOPPED", "UNKNOWN")
    assert (shape["cpu"], shape["memory"], shape["launchType"]) == ("256", "128", "FARGATE")
    assert (shape["createdAt"], shape["startedAt"], shape["stoppedAt"]) == (10.0, 11.0, 12.5)
    assert shape["stopCode"] == "EssentialContainerExited"
    assert shape["stoppedReason"] == "Essential container in task exited"
    assert shape["startedBy"] == "ci"
    [c] = shape["containers"]
    assert (c["name"], c["lastStatus"], c["exitCode"]) == ("main", "STOPPED", 3)
    assert c["networkBindings"] == [{"bindIP": "127.0.0.1", "containerPort": 80,
                                     "hostPort": 8080, "protocol": "tcp"}]
    stopped_by_user = ecs_tasks.task_shape(rec, Identity(), "done")
    assert (stopped_by_user["stopCode"], stopped_by_user["stoppedReason"]) == \
        ("UserInitiated", "done")


def test_task_shape_of_a_running_service_task() -> None:
    rec = TaskRecord(task_id="1234abcd", cluster="default", service="web",
                     task_definition="job:2", status="RUNNING", health="HEALTHY",
                     containers=(TaskContainer("main", "RUNNING", exit_code=None),))
    shape = ecs_tasks.task_shape(rec, Identity("eu-west-1", "123456789012"))
    assert shape["group"] == "service:web"
    assert shape["taskArn"] == "arn:aws:ecs:eu-west-1:123456789012:task/default/1234abcd"
    assert "stopCode" not in shape and "stoppedAt" not in shape and "startedBy" not in shape
    assert "exitCode" not in shape["containers"][0]
    assert shape["healthStatus"] == "HEALTHY"


def _exited_task(started: str, finished: str) -> TaskRecord:
    cid = "c" * 64
    row = {"Id": cid, "Names": ["/t-job"], "State": "exited",
           "Status": "Exited (3) 1 second ago",
           "Labels": {L.TASK_ID: "a" * 32, L.KIND: KIND_RUN_TASK, CONTAINER: "job",
                      "fgform.created": "2026-12-03T06:00:00+00:00"}}
    (task,) = group_tasks([row])
    return record(task, {}, {cid: (_epoch(started), _epoch(finished))})


def test_a_task_never_stops_before_it_starts() -> None:
    # Docker stamps StartedAt after the runtime reports the start: a process that exits at
    # once can finish "before" it started (CI saw FinishedAt 0.5 ms before StartedAt).
    rec = _exited_task("2026-12-03T06:00:01.711097Z", "2026-12-03T06:00:01.710550Z")
    assert rec.stopped_at is not None and rec.started_at is not None
    assert rec.stopped_at >= rec.started_at
    later = _exited_task("2026-12-03T06:00:01.5Z", "2026-12-03T06:00:04.25Z")
    assert (later.started_at, later.stopped_at) == (_epoch("2026-12-03T06:00:01.5Z"),
                                                   _epoch("2026-12-03T06:00:04.25Z"))


def test_docker_times_and_exited_status() -> None:
    assert _epoch("2026-12-03T06:00:00.123456789Z") == pytest.approx(1796277600.123456)
    assert _epoch("0001-01-01T00:00:00Z") is None
    assert _epoch("") is None
    assert stopped_for("Exited (3) 5 seconds ago") == 5
    assert stopped_for("Exited (0) About an hour ago") == 3600
    assert stopped_for("Exited (0) 2 hours ago") == 7200
    assert stopped_for("Exited (137) Less than a second ago") == 0
    assert stopped_for("Up 3 seconds") is None


def test_run_task_resolves_and_applies_overrides(api: ApiContext) -> None:
    out = call(api, "RunTask", taskDefinition=f"{P}task-definition/job:2", count=2,
               startedBy="me", overrides={"containerOverrides": [
                   {"name": "main", "command": ["sh", "-c", "exit 3"],
                    "environment": [{"name": "B", "value": "2"}]}], "memory": "256"})
    assert out["failures"] == []
    assert len(out["tasks"]) == 2
    assert all(t["taskArn"].startswith(f"{P}task/default/") for t in out["tasks"])
    run = api.fleet.runs[0]
    main = run["taskdef"]["container"][0]
    assert main["command"] == ["sh", "-c", "exit 3"]
    assert main["environment"] == {"A": "1", "B": "2"}
    assert run["taskdef"]["memory"] == 256
    assert JOB["container"][0]["command"] == ["true"]  # the state's copy is untouched
    assert run["started_by"] == "me"


def test_run_task_failures_are_reported(api: ApiContext) -> None:
    api.fleet.fail_next = [("RESOURCE:MEMORY", "no room")]
    out = call(api, "RunTask", taskDefinition="job", count=2)
    assert len(out["tasks"]) == 1
    assert out["failures"] == [{"arn": f"{P}cluster/default", "reason": "RESOURCE:MEMORY",
                                "detail": "no room"}]


@pytest.mark.parametrize(("params", "code", "message"), [
    ({"cluster": "nope", "taskDefinition": "job"}, "ClusterNotFoundException",
     "Cluster not found."),
    ({"taskDefinition": "nope"}, "ClientException", "TaskDefinition not found."),
    ({"taskDefinition": "job:7"}, "ClientException", "TaskDefinition not found."),
    ({"taskDefinition": "job:1"}, "ClientException", "TaskDefinition is inactive"),
    ({}, "InvalidParameterException", "taskDefinition can not be blank."),
    ({"taskDefinition": "job", "count": 0}, "InvalidParameterException",
     "count must be between 1 and 10."),
    ({"taskDefinition": "job", "count": 11}, "InvalidParameterException",
     "count must be between 1 and 10."),
    ({"taskDefinition": "job", "count": "2"}, "InvalidParameterException",
     "count must be between 1 and 10."),
    ({"taskDefinition": "job", "overrides": {"containerOverrides": [{"name": "x"}]}},
     "InvalidParameterException",
     "Override for container named x is not a container in the TaskDefinition."),
])
def test_run_task_errors(api: ApiContext, params: dict[str, Any], code: str,
                         message: str) -> None:
    err = error(api, "RunTask", **params)
    assert (err.code, err.message) == (code, message)
    assert api.fleet.runs == []


def test_run_task_on_a_swarm_cluster_is_refused_clearly(api: ApiContext) -> None:
    err = error(api, "RunTask", cluster=f"{P}cluster/sw", taskDefinition="job")
    assert err.code == "ClientException" and "Swarm" in err.message


def test_describe_tasks_in_order_with_missing(api: ApiContext) -> None:
    arns = [t["taskArn"] for t in call(api, "RunTask", taskDefinition="job", count=2)["tasks"]]
    ids = [a.rsplit("/", 1)[1] for a in arns]
    other = f"{P}task/other/{ids[0]}"  # another cluster's ARN: not this cluster's task
    out = call(api, "DescribeTasks", tasks=[ids[1], arns[0], "f" * 32, other])
    assert [t["taskArn"] for t in out["tasks"]] == [arns[1], arns[0]]
    assert out["failures"] == [{"arn": f"{P}task/default/{'f' * 32}", "reason": "MISSING"},
                               {"arn": other, "reason": "MISSING"}]
    assert error(api, "DescribeTasks", tasks=[]).code == "InvalidParameterException"
    assert error(api, "DescribeTasks", cluster="nope", tasks=["x"]).code == \
        "ClusterNotFoundException"


def test_list_tasks_pages_and_filters(api: ApiContext) -> None:
    arns = sorted(t["taskArn"] for t in
                  call(api, "RunTask", taskDefinition="job", count=5, startedBy="a")["tasks"])
    call(api, "RunTask", taskDefinition="job", startedBy="b")
    assert len(call(api, "ListTasks")["taskArns"]) == 6
    assert call(api, "ListTasks", startedBy="a")["taskArns"] == arns
    assert call(api, "ListTasks", family="job", startedBy="a")["taskArns"] == arns
    assert call(api, "ListTasks", family="other")["taskArns"] == []
    assert call(api, "ListTasks", serviceName="web")["taskArns"] == []
    assert call(api, "ListTasks", cluster="other")["taskArns"] == []
    looks = api.fleet.looks
    pages, token = [], None
    while True:
        page = call(api, "ListTasks", startedBy="a", maxResults=2,
                    **({"nextToken": token} if token else {}))
        pages.append(page["taskArns"])
        token = page.get("nextToken")
        if token is None:
            break
    assert pages == [arns[0:2], arns[2:4], arns[4:5]]
    assert api.fleet.looks - looks == 3  # one look at the fleet per request
    for bad in ({"nextToken": "garbage!"}, {"maxResults": 0}, {"maxResults": 101},
                {"desiredStatus": "DONE"}):
        assert error(api, "ListTasks", **bad).code == "InvalidParameterException"
    assert error(api, "ListTasks", serviceName="nope").code == "ServiceNotFoundException"


def test_stop_task_keeps_a_one_off_task_as_stopped(api: ApiContext) -> None:
    [arn] = [t["taskArn"] for t in call(api, "RunTask", taskDefinition="job")["tasks"]]
    out = call(api, "StopTask", task=arn, reason="enough")
    assert out["task"]["desiredStatus"] == "STOPPED"
    assert out["task"]["stoppedReason"] == "enough"
    [task] = call(api, "DescribeTasks", tasks=[arn])["tasks"]
    assert (task["lastStatus"], task["stopCode"], task["stoppedReason"]) == \
        ("STOPPED", "UserInitiated", "enough")
    assert call(api, "ListTasks")["taskArns"] == []
    assert call(api, "ListTasks", desiredStatus="STOPPED")["taskArns"] == [arn]
    again = call(api, "StopTask", task=arn, reason="other")["task"]
    assert again["stoppedReason"] == "enough"  # stopped once, for its first reason
    err = error(api, "StopTask", task="0" * 32)
    assert (err.code, err.message) == ("InvalidParameterException",
                                       "The referenced task was not found.")
    # Past the retention, the next ListTasks sweeps it.
    api.task_retention = 0.0  # type: ignore[attr-defined]
    assert call(api, "ListTasks", desiredStatus="STOPPED")["taskArns"] == []
    assert api.fleet.tasks == {}


def test_authorization_targets(api: ApiContext) -> None:
    run = ACTIONS["RunTask"].targets(api, {"cluster": "other", "taskDefinition": "job"})
    assert [(t.resource, t.cluster) for t in run] == [
        (f"{P}task-definition/job:2", f"{P}cluster/other")]
    unknown = ACTIONS["RunTask"].targets(api, {"taskDefinition": "nope:3"})
    assert unknown[0].resource == f"{P}task-definition/nope:3"
    desc = ACTIONS["DescribeTasks"].targets(api, {"tasks": ["abc", f"{P}task/x/def"]})
    assert [(t.resource, t.cluster) for t in desc] == [
        (f"{P}task/default/abc", f"{P}cluster/default"),
        (f"{P}task/x/def", f"{P}cluster/default")]
    stop = ACTIONS["StopTask"].targets(api, {"cluster": "other", "task": "abc"})
    assert [t.resource for t in stop] == [f"{P}task/other/abc"]
    assert [(t.resource, t.cluster) for t in ACTIONS["ListTasks"].targets(api, {})] == [
        ("*", f"{P}cluster/default")]
    assert ACTIONS["RunTask"].writes and ACTIONS["StopTask"].writes
    assert not ACTIONS["DescribeTasks"].writes and not ACTIONS["ListTasks"].writes


def test_responses_are_in_ecs_model_shapes(api: ApiContext) -> None:
    import botocore.session

    from helpers.ecs_model import conforms

    model = botocore.session.get_session().get_service_model("ecs")

    def check(action: str, **params: Any) -> dict[str, Any]:
        out = call(api, action, **params)
        assert conforms(out, model.operation_model(action).output_shape, action) == []
        return out

    api.fleet.fail_next = [("RESOURCE:CPU", "no room")]
    arns = [t["taskArn"] for t in check("RunTask", taskDefinition="job", count=3)["tasks"]]
    check("StopTask", task=arns[0], reason="r")
    check("DescribeTasks", tasks=[*arns, "nope"])
    check("ListTasks", desiredStatus="STOPPED")
    check("ListTasks", maxResults=1)
    stopped = TaskRecord(
        task_id="c" * 32, cluster="default", service="", task_definition="job:2",
        status="STOPPED", desired="STOPPED", health="UNHEALTHY", created_at=1.0,
        started_at=2.0, stopped_at=3.0, stop_code="EssentialContainerExited",
        containers=(TaskContainer("main", "STOPPED", exit_code=1, health="UNHEALTHY",
                                  bindings=(("0.0.0.0", 1, 2, "udp"),)),))
    assert conforms({"tasks": [ecs_tasks.task_shape(stopped, Identity())]},
                    model.operation_model("DescribeTasks").output_shape) == []


def test_shared_calls_share_one_call_and_are_never_older_than_the_request() -> None:
    import threading

    from fgform.fleet.shared_calls import SharedCalls

    shared = SharedCalls()
    calls: list[int] = []
    gate = threading.Event()
    inside = threading.Event()

    def fetch() -> int:
        calls.append(len(calls) + 1)
        inside.set()
        gate.wait(5)
        return len(calls)

    results: dict[str, int] = {}
    first = threading.Thread(target=lambda: results.setdefault("first", shared.get("k", fetch)))
    first.start()
    assert inside.wait(5)
    # Arriving while call 1 runs: both must get call 2 (started after they asked).
    later = [threading.Thread(target=lambda n=n: results.setdefault(f"l{n}",
                                                                     shared.get("k", fetch)))
             for n in range(5)]
    for t in later:
        t.start()
    time.sleep(0.1)
    gate.set()
    first.join(5)
    for t in later:
        t.join(5)
    assert results["first"] == 1
    assert {results[f"l{n}"] for n in range(5)} == {2}
    assert calls == [1, 2]

    def boom() -> int:
        raise RuntimeError("engine down")

    with pytest.raises(RuntimeError):
        shared.get("k", boom)
    assert shared.get("k", lambda: 7) == 7
