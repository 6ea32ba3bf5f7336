"""The ECS service actions on the real fleet: handlers called directly with an ApiContext on
a configuration applied with the real CLI (the HTTP path is tests/integration/api's server
tests). CreateService, scaling, a rolling update, forceNewDeployment, DeleteService,
DescribeServices' deployments and events, ListServices' paging, the documented errors,
drift in `plan`, and concurrent updates that lose nothing."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import docker
import pytest
from fixtures.fgcli import Fleet

from fgform.api.actions import ApiContext
from fgform.fleet.docker.fleet import DockerFleet

from .services_fixtures import applied, call, error_of, running, wait_until, write_config

pytestmark = pytest.mark.docker

PREFIX = "arn:aws:ecs:us-east-1:000000000000:"


@pytest.fixture
def fleet(docker_client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Fleet]:
    with applied(docker_client, tmp_path_factory.mktemp("api-services")) as f:
        yield f


@pytest.fixture
def api(fleet: Fleet, docker_client: docker.DockerClient) -> ApiContext:
    return ApiContext(dir=fleet.dir, fleet=DockerFleet(docker_client), lock_timeout=300.0)


def _state(fleet: Fleet) -> dict[str, Any]:
    st = fleet.state()
    assert st is not None
    return st


def _describe(api: ApiContext, fleet: Fleet, *names: str) -> dict[str, Any]:
    return call(api, "DescribeServices", cluster=fleet.name, services=list(names))


def test_create_scale_update_redeploy_delete(fleet: Fleet, api: ApiContext) -> None:
    name = fleet.name
    tg_arn = f"arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/{name}-tg/" \
             "0123456789abcdef"
    got = call(api, "CreateService", cluster=name, serviceName="api1",
               taskDefinition=f"{name}-web", desiredCount=2,
               loadBalancers=[{"targetGroupArn": tg_arn, "containerName": "web",
                               "containerPort": 8080}],
               deploymentConfiguration={"minimumHealthyPercent": 50, "maximumPercent": 200},
               launchType="FARGATE", tags=[{"key": "team", "value": "a"}])["service"]
    assert got["serviceArn"] == f"{PREFIX}service/{name}/api1"
    assert got["clusterArn"] == f"{PREFIX}cluster/{name}"
    assert got["taskDefinition"] == f"{PREFIX}task-definition/{name}-web:1"
    assert got["desiredCount"] == 2 and got["status"] == "ACTIVE"
    assert got["loadBalancers"][0]["targetGroupArn"].startswith(
        f"arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/{name}-tg/")
    assert got["deploymentConfiguration"]["minimumHealthyPercent"] == 50

    # Recorded at the API's address, with what configuration would hold.
    res = fleet.resources()
    attrs = res[f'fg_service.ecs["{name}/api1"]']["attributes"]
    assert attrs["cluster"] == name and attrs["task_definition"] == f"{name}-web:1"
    assert attrs["load_balancer"][0]["target_group"] == f"{name}-tg"
    assert attrs["wait_for_steady_state"] is False
    wait_until(lambda: len(running(fleet, "api1")) == 2, desc="2 tasks of api1")

    # The documented errors.
    err = error_of(api, "CreateService", cluster=name, serviceName="api1",
                   taskDefinition=f"{name}-web", desiredCount=1)
    assert (err.code, err.message) == ("InvalidParameterException",
                                       "Creation of service was not idempotent.")
    err = error_of(api, "CreateService", cluster=name, serviceName="web",
                   taskDefinition=f"{name}-web", desiredCount=1)
    assert err.code == "InvalidParameterException"  # the configured one has that name
    err = error_of(api, "CreateService", cluster="nope", serviceName="x",
                   taskDefinition=f"{name}-web", desiredCount=1)
    assert (err.code, err.message) == ("ClusterNotFoundException", "Cluster not found.")
    err = error_of(api, "CreateService", cluster=name, serviceName="x",
                   taskDefinition="missing-family", desiredCount=1)
    assert (err.code, err.message) == ("ClientException", "TaskDefinition not found.")
    err = error_of(api, "CreateService", cluster=name, serviceName="x",
                   taskDefinition=f"{name}-web", desiredCount=1,
                   loadBalancers=[{"targetGroupArn": "nope", "containerName": "web",
                                   "containerPort": 8080}])
    assert err.code == "InvalidParameterException" and "nope" in err.message
    err = error_of(api, "UpdateService", cluster=name, service="ghost", desiredCount=1)
    assert (err.code, err.message) == ("ServiceNotFoundException", "Service not found.")
    err = error_of(api, "UpdateService", cluster=name, service="api1", desiredCount=-1)
    assert err.code == "InvalidParameterException"
    assert f'fg_service.ecs["{name}/x"]' not in fleet.resources()
    # More than the cluster holds: refused before a task starts, the driver's reason told.
    err = error_of(api, "CreateService", cluster=name, serviceName="big",
                   taskDefinition=f"{name}-web", desiredCount=500)
    assert err.code == "ClientException" and "Unable to place 500 task(s)" in err.message, \
        err.message
    assert f'fg_service.ecs["{name}/big"]' not in fleet.resources()

    # Describe: found ones and a MISSING failure; counts from the fleet.
    out = _describe(api, fleet, "api1", f"{PREFIX}service/{name}/web", "ghost")
    assert [s["serviceName"] for s in out["services"]] == ["api1", "web"]
    assert out["failures"] == [{"arn": f"{PREFIX}service/{name}/ghost", "reason": "MISSING"}]
    api1 = out["services"][0]
    assert api1["runningCount"] == 2
    assert [(d["status"], d["taskDefinition"], d["runningCount"])
            for d in api1["deployments"]] == [("PRIMARY", f"{PREFIX}task-definition/"
                                               f"{name}-web:1", 2)]
    assert api1["events"] and api1["events"][0]["message"].startswith("(service api1)")
    times = [e["createdAt"] for e in api1["events"]]
    assert times == sorted(times, reverse=True)  # newest first
    web = out["services"][1]
    assert web["runningCount"] == 1
    assert any(e["message"] == "(service web) has reached a steady state."
               for e in web["events"])

    # ListServices, paged.
    first = call(api, "ListServices", cluster=name, maxResults=1)
    assert first["serviceArns"] == [f"{PREFIX}service/{name}/api1"] and first["nextToken"]
    second = call(api, "ListServices", cluster=name, maxResults=1,
                  nextToken=first["nextToken"])
    assert second == {"serviceArns": [f"{PREFIX}service/{name}/web"]}
    assert call(api, "ListServices", cluster=name, launchType="EC2") == {"serviceArns": []}

    # Scale up and down: the tasks follow.
    call(api, "UpdateService", cluster=name, service="api1", desiredCount=3)
    wait_until(lambda: len(running(fleet, "api1")) == 3, desc="3 tasks of api1")
    call(api, "UpdateService", cluster=name, service=f"{PREFIX}service/{name}/api1",
         desiredCount=1)
    wait_until(lambda: len(running(fleet, "api1")) == 1, desc="1 task of api1")
    # Placement and load balancers are replaced when given.
    got = call(api, "UpdateService", cluster=name, service="api1",
               placementConstraints=[{"type": "distinctInstance"}], loadBalancers=[])["service"]
    assert got["placementConstraints"] == [{"type": "distinctInstance"}]
    assert got["loadBalancers"] == []
    attrs = fleet.resources()[f'fg_service.ecs["{name}/api1"]']["attributes"]
    assert attrs["load_balancer"] == [] and attrs["desired_count"] == 1

    # A new revision (registered by a targeted apply: a whole apply would destroy api1,
    # which is not in the configuration), rolled onto by the API.
    fleet.ok("apply", "-auto-approve", "-target=fg_task_definition.web", "-var", "message=v2")
    before = {t["task_id"] for t in running(fleet, "api1")}
    got = call(api, "UpdateService", cluster=name, service="api1",
               taskDefinition=f"{PREFIX}task-definition/{name}-web:2")["service"]
    assert got["taskDefinition"] == f"{PREFIX}task-definition/{name}-web:2"
    rows = wait_until(lambda: [t for t in running(fleet, "api1")
                               if t["revision"] == f"{name}-web:2"], desc="revision 2")
    assert not before & {t["task_id"] for t in rows}
    wait_until(lambda: all(t["revision"] == f"{name}-web:2"
                           for t in running(fleet, "api1")), desc="old tasks gone")

    # forceNewDeployment: new tasks of the same revision.
    before = {t["task_id"] for t in running(fleet, "api1")}
    got = call(api, "UpdateService", cluster=name, service="api1",
               forceNewDeployment=True)["service"]
    assert got["taskDefinition"] == f"{PREFIX}task-definition/{name}-web:2"
    after = wait_until(lambda: {t["task_id"] for t in running(fleet, "api1")} - before,
                       desc="a new task")
    assert len(after) == 1
    wait_until(lambda: not before & {t["task_id"] for t in running(fleet, "api1")},
               desc="the old task gone")
    dep = _describe(api, fleet, "api1")["services"][0]["deployments"]
    assert [(d["status"], d["rolloutState"]) for d in dep] == [("PRIMARY", "COMPLETED")]

    # Delete: refused while scaled above 0, unless forced.
    err = error_of(api, "DeleteService", cluster=name, service="api1")
    assert (err.code, err.message) == ("InvalidParameterException", "The service cannot be "
                                       "stopped while it is scaled above 0.")
    got = call(api, "DeleteService", cluster=name, service="api1", force=True)["service"]
    assert got["status"] == "DRAINING"
    assert running(fleet, "api1") == []
    assert f'fg_service.ecs["{name}/api1"]' not in fleet.resources()
    out = _describe(api, fleet, "api1")
    assert out["services"] == [] and out["failures"][0]["reason"] == "MISSING"
    # web still runs revision 1: the plan rolls it, and only it.
    plan = fleet.ok("plan", "-var", "message=v2").out
    assert "fg_service.web" in plan and "fg_service.ecs" not in plan, plan


def test_update_desired_count_is_drift_unless_ignored(fleet: Fleet, api: ApiContext) -> None:
    name = fleet.name
    call(api, "UpdateService", cluster=name, service="web", desiredCount=2)
    wait_until(lambda: len(running(fleet, "web")) == 2, desc="2 tasks of web")
    attrs = fleet.resources()["fg_service.web"]["attributes"]  # changed at its own address
    assert attrs["desired_count"] == 2
    assert not any(a.startswith("fg_service.ecs") for a in fleet.resources())

    plan = fleet.run("plan", "-detailed-exitcode")
    assert plan.code == 2, str(plan)
    assert "fg_service.web" in plan.out and "desired_count" in plan.out, plan.out
    assert "2 -> 1" in " ".join(plan.out.split()), plan.out

    write_config(fleet, ignore_count=True)
    plan = fleet.run("plan", "-detailed-exitcode")
    assert plan.code == 0, str(plan)
    assert "No changes." in plan.out

    # forceNewDeployment on the configured service: new tasks (its own wait_for_steady_state
    # holds the request until they are healthy), and the trigger is drift that replaces
    # nothing.
    before = {t["task_id"] for t in running(fleet, "web")}
    call(api, "UpdateService", cluster=name, service="web", forceNewDeployment=True)
    now = {t["task_id"] for t in running(fleet, "web")}
    assert len(now) == 2 and not now & before
    plan = fleet.run("plan", "-detailed-exitcode")
    assert plan.code == 2, str(plan)
    assert "- force_new_deployment" in plan.out and "-> null" in plan.out, plan.out
    assert "~ desired_count" not in plan.out, plan.out


def test_concurrent_updates_lose_nothing(fleet: Fleet, api: ApiContext,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """20 UpdateService calls from threads, alternating two services, each setting a
    (desiredCount, healthCheckGracePeriodSeconds) pair no other call sets: every call
    succeeds; each service ends with the pair of the LAST call applied to it (the order
    their edits ran in, under the locks), so no write of one service reverted the
    other's and none mixed; its tasks follow it, and `plan` agrees."""
    from fgform.api import ecs_services

    name = fleet.name
    write_config(fleet, ignore_count=True)
    call(api, "CreateService", cluster=name, serviceName="api2",
         taskDefinition=f"{name}-web", desiredCount=1)
    serial0 = _state(fleet)["serial"]
    pairs: dict[str, set[tuple[int, int]]] = {"web": set(), "api2": set()}
    errors: list[BaseException] = []
    # The order the edits ran in: each runs under the state lock, so this is the order
    # the writes were made in (instrumentation only: the real transaction runs).
    applied: list[tuple[str, int, int]] = []
    real = ecs_services.transaction

    def recording(ctx: ApiContext, edit: Any, *, operation: str) -> Any:
        def wrapped(state: Any) -> Any:
            addr, desired = edit(state)
            if operation == "UpdateService":
                applied.append((str(addr), desired["desired_count"],
                                desired["health_check_grace_period"]))
            return addr, desired
        return real(ctx, wrapped, operation=operation)

    monkeypatch.setattr(ecs_services, "transaction", recording)

    def update(i: int) -> None:
        service = ("web", "api2")[i % 2]
        count, grace = i % 3, 100 + i
        pairs[service].add((count, grace))
        try:
            call(api, "UpdateService", cluster=name, service=service, desiredCount=count,
                 healthCheckGracePeriodSeconds=grace)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=update, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    assert not errors, errors
    assert len(applied) == 20
    last = {addr: (count, grace) for addr, count, grace in applied}
    res = fleet.resources()
    final = {}
    for service, addr in (("web", "fg_service.web"),
                          ("api2", f'fg_service.ecs["{name}/api2"]')):
        attrs = res[addr]["attributes"]
        pair = (attrs["desired_count"], attrs["health_check_grace_period"])
        assert pair in pairs[service], (service, pair)
        assert pair == last[addr], (service, pair, applied)
        final[service] = pair[0]
        wait_until(lambda s=service, c=pair[0]: len(running(fleet, s)) == c,
                   desc=f"{pair[0]} tasks of {service}")
    # Every call was a change applied on its own (one state write at least each).
    assert _state(fleet)["serial"] - serial0 >= 20
    described = {s["serviceName"]: s["desiredCount"]
                 for s in _describe(api, fleet, "web", "api2")["services"]}
    assert described == final
    plan = fleet.run("plan", "-detailed-exitcode")
    # web ignores desired_count (its grace period is drift); the API-made service is not in
    # the configuration.
    assert plan.code == 2, str(plan)
    assert f'fg_service.ecs["{name}/api2"]' in plan.out, plan.out
    assert "~ health_check_grace_period" in plan.out and "~ desired_count" not in plan.out, \
        plan.out
    call(api, "DeleteService", cluster=name, service="api2", force=True)
    assert json.loads(json.dumps(fleet.state()))  # still a whole state file


def test_daemon_service_and_its_forced_redeployment(fleet: Fleet, api: ApiContext) -> None:
    """A DAEMON service: one task on each instance; forceNewDeployment replaces each, new
    ones first at 100/200 (distinctInstance counts the old tasks as old, so the new ones
    find room beside them)."""
    name = fleet.name
    got = call(api, "CreateService", cluster=name, serviceName="d1",
               taskDefinition=f"{name}-web", schedulingStrategy="DAEMON",
               deploymentConfiguration={"minimumHealthyPercent": 100,
                                        "maximumPercent": 200})["service"]
    assert got["schedulingStrategy"] == "DAEMON" and got["desiredCount"] == 2
    rows = wait_until(lambda: (r := running(fleet, "d1")) and len(r) == 2 and r,
                      desc="a task per instance")
    assert sorted(r["instance"] for r in rows) == ["i-0", "i-1"]
    before = {r["task_id"] for r in rows}
    call(api, "UpdateService", cluster=name, service="d1", forceNewDeployment=True)
    rows = wait_until(lambda: (r := running(fleet, "d1")) and len(r) == 2
                      and not before & {t["task_id"] for t in r} and r,
                      desc="two new tasks")
    assert sorted(r["instance"] for r in rows) == ["i-0", "i-1"]
    err = error_of(api, "UpdateService", cluster=name, service="d1", desiredCount=3)
    assert err.code == "InvalidParameterException"
    call(api, "DeleteService", cluster=name, service="d1", force=True)
    assert running(fleet, "d1") == []
