"""The ECS service actions' plain-data side: parameters mapped onto fg_service attributes,
the `service` shape with its deployments and events, ListServices' paging, finding services,
clusters, task definitions and target groups in state, and the authorization targets."""

from __future__ import annotations

from typing import Any

import pytest

from fgform.addresses import Address
from fgform.api import ecs_service_shapes as S
from fgform.api.actions import ApiContext, Target
from fgform.api.arns import Identity, cluster_param
from fgform.api.ecs_services import (
    _create_targets,
    _describe_targets,
    _list_targets,
    _one_service_targets,
    resolve_taskdef,
)
from fgform.api.errors import ApiError
from fgform.state.model import InstanceState, StateFile

ID = Identity()
PREFIX = "arn:aws:ecs:us-east-1:000000000000:"


def _state() -> StateFile:
    st = StateFile()

    def put(addr: Address, attrs: dict[str, Any]) -> None:
        st.set(addr, InstanceState(addr.key, attrs))

    put(Address("fg_cluster", "main"), {"id": "prod", "name": "prod"})
    put(Address("fg_target_group", "web"), {"id": "web-tg", "port": 8080})
    put(Address("fg_task_definition", "web"), {
        "family": "web", "arn": "web:3", "revision": 3,
        "container": [{"name": "app", "port_mapping": [{"container_port": 8080}]}],
        "revisions": [{"family": "web", "arn": "web:2", "revision": 2, "container": []}]})
    put(Address("fg_service", "web"), {"name": "web", "cluster": "prod", "id": "prod/web",
                                       "task_definition": "web:3", "desired_count": 2})
    put(S.api_address("prod", "api"), {"name": "api", "cluster": "prod",
                                       "task_definition": "web:2", "desired_count": 1})
    return st


# -- finding things ------------------------------------------------------------------------------
def test_cluster_param_default_name_and_arn() -> None:
    assert cluster_param({}) == "default"
    assert cluster_param({"cluster": "prod"}) == "prod"
    assert cluster_param({"cluster": f"{PREFIX}cluster/prod"}) == "prod"
    with pytest.raises(ApiError) as err:
        cluster_param({"cluster": 3})
    assert err.value.code == "InvalidParameterException"


def test_clusters_and_services_by_name_or_arn() -> None:
    st = _state()
    assert S.find_cluster(st, "prod") is not None and S.find_cluster(st, "x") is None
    with pytest.raises(ApiError) as err:
        S.require_cluster(st, "x")
    assert (err.value.code, err.value.message) == ("ClusterNotFoundException",
                                                   "Cluster not found.")
    assert S.find_service(st, "prod", "web")[0] == Address("fg_service", "web")
    assert S.find_service(st, "prod", f"{PREFIX}service/prod/api")[0] == \
        Address("fg_service", "ecs", "prod/api")
    assert S.find_service(st, "other", "web") is None
    assert [S.service_name(a, v) for a, v in S.services_of(st, "prod")] == ["api", "web"]


def test_service_name_rules() -> None:
    assert S.service_name(Address("fg_service", "x"), {"id": "c/real"}) == "real"
    assert S.service_name(Address("fg_service", "x"), {"name": "n"}) == "n"
    assert S.service_name(Address("fg_service", "x", 2), {}) == "x-2"


def test_task_definitions_by_family_revision_or_arn() -> None:
    st = _state()
    assert resolve_taskdef(st, "web")[0] == "web:3"
    assert resolve_taskdef(st, "web:3")[0] == "web:3"
    assert resolve_taskdef(st, f"{PREFIX}task-definition/web:3")[1]["family"] == "web"
    for bad in ("web:9", "nope", f"{PREFIX}task-definition/nope:1"):
        with pytest.raises(ApiError) as err:
            resolve_taskdef(st, bad)
        assert (err.value.code, err.value.message) == ("ClientException",
                                                       "TaskDefinition not found.")
    # fgform keeps older revisions INACTIVE (docs/api.md): no new deployment of them.
    with pytest.raises(ApiError) as err:
        resolve_taskdef(st, "web:2")
    assert (err.value.code, err.value.message) == ("ClientException",
                                                   "TaskDefinition is inactive")
    with pytest.raises(ApiError) as err:
        resolve_taskdef(st, None)
    assert err.value.code == "InvalidParameterException"
    assert S.taskdef_arn(ID, "web:3") == f"{PREFIX}task-definition/web:3"


def test_target_group_arns_round_trip() -> None:
    st = _state()
    arn = S.target_group_arn(ID, "web-tg")
    assert arn.startswith("arn:aws:elasticloadbalancing:us-east-1:000000000000:"
                          "targetgroup/web-tg/") and len(arn.rsplit("/", 1)[1]) == 16
    assert S.find_target_group(st, arn) == "web-tg"
    assert S.find_target_group(st, "web-tg") == "web-tg"
    for bad in ("nope", "arn:aws:elasticloadbalancing:r:a:loadbalancer/app/x/1"):
        with pytest.raises(ApiError) as err:
            S.find_target_group(st, bad)
        assert err.value.code == "InvalidParameterException"


# -- parameters -> attributes ---------------------------------------------------------------------
def _create(**params: Any) -> dict[str, Any]:
    base = {"serviceName": "svc", "desiredCount": 2}
    return S.create_attrs({**base, **params}, "prod", "web:3", [])


def test_create_attrs_maps_ecs_parameters() -> None:
    got = _create(schedulingStrategy="REPLICA", healthCheckGracePeriodSeconds=30,
                  deploymentConfiguration={"minimumHealthyPercent": 50, "maximumPercent": 150,
                                           "deploymentCircuitBreaker": {"enable": True,
                                                                        "rollback": True}},
                  placementConstraints=[{"type": "distinctInstance"}],
                  placementStrategy=[{"type": "spread", "field": "instanceId"}],
                  launchType="FARGATE", networkConfiguration={}, tags=[])
    assert got == {
        "name": "svc", "cluster": "prod", "task_definition": "web:3", "desired_count": 2,
        "scheduling_strategy": "REPLICA", "health_check_grace_period": 30,
        "wait_for_steady_state": False, "steady_state_timeout": 300,
        "placement_constraints": [{"type": "distinctInstance", "expression": None}],
        "placement_strategy": [{"type": "spread", "field": "instanceId"}],
        "load_balancer": [],
        "deployment": {"minimum_healthy_percent": 50, "maximum_percent": 150,
                       "circuit_breaker": {"enable": True, "rollback": True}},
    }
    assert _create()["deployment"] is None
    daemon = _create(schedulingStrategy="DAEMON", desiredCount=None)
    assert daemon["desired_count"] == 0
    assert daemon["deployment"] == {"minimum_healthy_percent": 0, "maximum_percent": 100,
                                    "circuit_breaker": None}  # ECS's DAEMON defaults
    assert _create(schedulingStrategy="DAEMON", desiredCount=None, deploymentConfiguration={
        "maximumPercent": 200})["deployment"]["minimum_healthy_percent"] == 0


@pytest.mark.parametrize(("params", "words"), [
    ({"serviceName": ""}, "serviceName is required"),
    ({"serviceName": "bad name"}, "serviceName"),
    ({"desiredCount": None}, "desiredCount is required"),
    ({"desiredCount": -1}, "desiredCount"),
    ({"desiredCount": "2"}, "desiredCount must be an integer"),
    ({"schedulingStrategy": "SOMETIMES"}, "schedulingStrategy"),
    ({"schedulingStrategy": "DAEMON"}, "does not support a desired count"),
    ({"deploymentConfiguration": {"maximumPercent": 500}}, "maximumPercent"),
    ({"deploymentConfiguration": {"deploymentCircuitBreaker": {"enable": True}}},
     "deploymentCircuitBreaker"),
    ({"placementStrategy": [{"type": "pack"}]}, "placementStrategy.type"),
])
def test_create_attrs_errors(params: dict[str, Any], words: str) -> None:
    with pytest.raises(ApiError) as err:
        _create(**params)
    assert err.value.code == "InvalidParameterException"
    assert words in err.value.message


def test_load_balancers_checked_against_state_and_task_definition() -> None:
    st = _state()
    td = st.get(Address("fg_task_definition", "web")).attributes
    lb = {"targetGroupArn": S.target_group_arn(ID, "web-tg"), "containerName": "app",
          "containerPort": 8080}
    assert S.load_balancer_blocks(st, {"loadBalancers": [lb]}, td) == [
        {"target_group": "web-tg", "container_name": "app", "container_port": 8080}]
    for change, words in (({"containerName": "db"}, "The container db does not exist"),
                          ({"containerPort": 9}, "did not have a container port 9"),
                          ({"targetGroupArn": "gone"}, "gone")):
        with pytest.raises(ApiError) as err:
            S.load_balancer_blocks(st, {"loadBalancers": [{**lb, **change}]}, td)
        assert words in err.value.message


def test_update_attrs_changes_only_what_is_given() -> None:
    prior = {"name": "web", "desired_count": 2, "task_definition": "web:2",
             "health_check_grace_period": 0,
             "deployment": {"minimum_healthy_percent": 50, "maximum_percent": 200,
                            "circuit_breaker": None}}
    assert S.update_attrs(prior, {}, None, "T") == prior
    got = S.update_attrs(prior, {"desiredCount": 5, "forceNewDeployment": True,
                                 "deploymentConfiguration": {"maximumPercent": 150}},
                         "web:3", "2026-01-01T00:00:00.000000+00:00")
    assert got["desired_count"] == 5 and got["task_definition"] == "web:3"
    assert got["deployment"] == {"minimum_healthy_percent": 50, "maximum_percent": 150,
                                 "circuit_breaker": None}
    assert got["force_new_deployment"] == "2026-01-01T00:00:00.000000+00:00"
    assert "force_new_deployment" not in S.update_attrs(prior, {"forceNewDeployment": False},
                                                        None, "T")
    with pytest.raises(ApiError):
        S.update_attrs(dict(prior, scheduling_strategy="DAEMON"), {"desiredCount": 1}, None,
                       "T")


# -- attributes -> the service shape --------------------------------------------------------------
def _events(n: int) -> list[dict[str, str]]:
    return [{"at": f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}Z",
             "message": f"(service web) event {i}"} for i in range(n)]


def test_events_newest_first_at_most_100_with_stable_ids() -> None:
    got = S.events_shape("arn", {"events": _events(120)})
    assert len(got) == 100
    assert got[0]["message"] == "(service web) event 119"
    assert got[0]["createdAt"] > got[-1]["createdAt"]
    assert got == S.events_shape("arn", {"events": _events(120)})
    assert len({e["id"] for e in got}) == 100


def test_service_shape_with_live_counts_and_deployments() -> None:
    attrs = {"name": "web", "cluster": "prod", "id": "prod/web", "task_definition": "web:3",
             "desired_count": 2, "scheduling_strategy": "REPLICA",
             "health_check_grace_period": 5,
             "load_balancer": [{"target_group": "web-tg", "container_name": "app",
                                "container_port": 8080}],
             "deployment": None, "events": _events(2),
             "deployments": [{"status": "PRIMARY", "task_definition": "web:3",
                              "desired_count": 2, "rollout_state": "COMPLETED"}]}
    live = {"running_count": 2, "tasks": [{"task_definition": "web:3"},
                                          {"task_definition": "web:2"}]}
    got = S.service_shape(ID, Address("fg_service", "web"), attrs, live)
    assert got["serviceArn"] == f"{PREFIX}service/prod/web"
    assert got["clusterArn"] == f"{PREFIX}cluster/prod"
    assert got["taskDefinition"] == f"{PREFIX}task-definition/web:3"
    assert (got["desiredCount"], got["runningCount"], got["pendingCount"]) == (2, 2, 0)
    assert got["launchType"] == "FARGATE" and got["status"] == "ACTIVE"
    assert got["deploymentConfiguration"] == {
        "deploymentCircuitBreaker": {"enable": False, "rollback": False},
        "maximumPercent": 200, "minimumHealthyPercent": 100}
    assert got["loadBalancers"] == [{"targetGroupArn": S.target_group_arn(ID, "web-tg"),
                                     "containerName": "app", "containerPort": 8080}]
    # One task of the new revision runs and one of the old: the deployment is in progress.
    assert [(d["status"], d["taskDefinition"].rsplit("/", 1)[1], d["runningCount"],
             d["rolloutState"]) for d in got["deployments"]] == [
        ("PRIMARY", "web:3", 1, "IN_PROGRESS"), ("ACTIVE", "web:2", 1, "COMPLETED")]
    assert got["deployments"][0]["id"].startswith("ecs-svc/")
    assert got["events"][0]["message"] == "(service web) event 1"
    assert got["createdAt"] == got["events"][-1]["createdAt"]

    done = S.service_shape(ID, Address("fg_service", "web"), attrs,
                           {"running_count": 2, "tasks": [{"task_definition": "web:3"}] * 2})
    assert [d["rolloutState"] for d in done["deployments"]] == ["COMPLETED"]


def test_update_not_reported_yet_is_a_new_primary_deployment() -> None:
    attrs = {"cluster": "prod", "name": "web", "task_definition": "web:4", "desired_count": 1,
             "deployments": [{"status": "PRIMARY", "task_definition": "web:3",
                              "rollout_state": "COMPLETED"}]}
    got = S.deployments_shape(ID, "arn", attrs, {"tasks": [{"task_definition": "web:3"}]})
    assert [(d["status"], d["taskDefinition"].rsplit("/", 1)[1], d["rolloutState"])
            for d in got] == [("PRIMARY", "web:4", "IN_PROGRESS"),
                              ("ACTIVE", "web:3", "COMPLETED")]


# -- paging --------------------------------------------------------------------------------------
def test_pages_are_sorted_and_tokens_resume() -> None:
    arns = [f"a{i:02d}" for i in range(25)][::-1]
    first = S.page(arns, {})
    assert first["serviceArns"] == [f"a{i:02d}" for i in range(10)]
    second = S.page(arns, {"nextToken": first["nextToken"], "maxResults": 100})
    assert second == {"serviceArns": [f"a{i:02d}" for i in range(10, 25)]}
    for bad in ({"maxResults": 0}, {"maxResults": 101}, {"nextToken": "garbage!"}):
        with pytest.raises(ApiError) as err:
            S.page(arns, bad)
        assert err.value.code == "InvalidParameterException"


# -- authorization targets -----------------------------------------------------------------------
def test_targets_name_the_service_and_its_cluster() -> None:
    ctx = ApiContext(dir=None, fleet=None)  # type: ignore[arg-type]
    cluster = f"{PREFIX}cluster/prod"
    assert _create_targets(ctx, {"cluster": "prod", "serviceName": "x"}) == [
        Target(f"{PREFIX}service/prod/x", cluster)]
    assert _one_service_targets(ctx, {"service": f"{PREFIX}service/prod/web"}) == [
        Target(f"{PREFIX}service/prod/web", cluster)]
    assert _one_service_targets(ctx, {"service": "web"}) == [
        Target(f"{PREFIX}service/default/web", f"{PREFIX}cluster/default")]
    assert _describe_targets(ctx, {"cluster": "prod", "services": ["a", "b"]}) == [
        Target(f"{PREFIX}service/prod/a", cluster), Target(f"{PREFIX}service/prod/b", cluster)]
    assert _list_targets(ctx, {"cluster": cluster}) == [Target("*", cluster)]


def test_shapes_fit_the_ecs_model() -> None:
    """botocore's own model of ECS: the service shape fits DescribeServices' output (names,
    types, enums), and the parameters these tests map are valid CreateService input."""
    import botocore.session
    from botocore.validate import ParamValidator

    from helpers.ecs_model import conforms as _conforms

    model = botocore.session.get_session().get_service_model("ecs")
    create = {"cluster": "prod", "serviceName": "svc", "taskDefinition": "web:3",
              "desiredCount": 2, "launchType": "FARGATE", "schedulingStrategy": "REPLICA",
              "healthCheckGracePeriodSeconds": 30,
              "loadBalancers": [{"targetGroupArn": S.target_group_arn(ID, "web-tg"),
                                 "containerName": "app", "containerPort": 8080}],
              "deploymentConfiguration": {"minimumHealthyPercent": 50, "maximumPercent": 150,
                                          "deploymentCircuitBreaker": {"enable": True,
                                                                       "rollback": True}},
              "placementConstraints": [{"type": "distinctInstance"}],
              "placementStrategy": [{"type": "spread", "field": "instanceId"}]}
    report = ParamValidator().validate(create, model.operation_model("CreateService")
                                       .input_shape)
    assert not report.has_errors(), report.generate_report()
    report = ParamValidator().validate(
        {"cluster": "prod", "service": "svc", "desiredCount": 1, "taskDefinition": "web",
         "forceNewDeployment": True}, model.operation_model("UpdateService").input_shape)
    assert not report.has_errors(), report.generate_report()

    attrs = dict(S.create_attrs(create, "prod", "web:3", [
        {"target_group": "web-tg", "container_name": "app", "container_port": 8080}]),
        id="prod/svc", events=_events(3),
        deployments=[{"status": "PRIMARY", "task_definition": "web:3", "desired_count": 2,
                      "rollout_state": "FAILED", "rollout_state_reason": "boom",
                      "failed_tasks": 3}])
    shape = S.service_shape(ID, S.api_address("prod", "svc"), attrs,
                            {"running_count": 1, "tasks": [{"task_definition": "web:2"}]})
    body = {"services": [dict(shape, tags=[])],
            "failures": [{"arn": f"{PREFIX}service/prod/x", "reason": "MISSING"}]}
    assert _conforms(body, model.operation_model("DescribeServices").output_shape) == []
    for op in ("CreateService", "UpdateService", "DeleteService"):
        assert _conforms({"service": shape}, model.operation_model(op).output_shape) == []
    assert _conforms(S.page(["a", "b"], {"maxResults": 1}),
                     model.operation_model("ListServices").output_shape) == []
