"""The ECS task definition actions on fg_task_definition (fgform/api/ecs_taskdefs.py):
the mapping both ways, revisions, deregistration, pagination, ECS's errors. Task
definitions never touch Docker: the real driver on the in-memory fleet."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import pytest

from fgform.addresses import parse_address
from fgform.api import ecs_taskdefs as td
from fgform.api.actions import ApiContext
from fgform.api.arns import Identity
from fgform.api.errors import ApiError
from fgform.api.handlers import actions
from fgform.api.transact import state_path
from fgform.fleet.docker.task_definition import TaskDefinitionDriver
from fgform.state.model import InstanceState, StateFile
from fgform.state.store import StateStore
from fgform.values import SENSITIVE_TEXT, Sensitive

from helpers.ecs_model import conforms
from helpers.fakefleet import FakeFleet

ARN = "arn:aws:ecs:us-east-1:000000000000:task-definition/"
WEB = parse_address('fg_task_definition.ecs["web"]')


def make_ctx(tmp_path: Path) -> ApiContext:
    fleet = FakeFleet()
    fleet._drivers["fg_task_definition"] = TaskDefinitionDriver()
    return ApiContext(dir=tmp_path, fleet=fleet, lock_timeout=30)


def call(ctx: ApiContext, name: str, params: dict[str, Any]) -> dict[str, Any]:
    return actions.ACTIONS[name].handler(ctx, params)


def fails(ctx: ApiContext, name: str, params: dict[str, Any]) -> ApiError:
    with pytest.raises(ApiError) as e:
        call(ctx, name, params)
    return e.value


def web(image: str = "nginx:1.27", **extra: Any) -> dict[str, Any]:
    return {"family": "web", "cpu": "256", "memory": "512", "networkMode": "awsvpc",
            "requiresCompatibilities": ["FARGATE"],
            "executionRoleArn": "arn:aws:iam::000000000000:role/ecsTaskExecutionRole",
            "containerDefinitions": [{
                "name": "app", "image": image, "essential": True, "cpu": 128, "memory": 256,
                "memoryReservation": 128,
                "portMappings": [{"containerPort": 80, "hostPort": 80, "protocol": "tcp"}],
                "environment": [{"name": "MODE", "value": "prod"}],
                "command": ["nginx", "-g", "daemon off;"],
                "healthCheck": {"command": ["CMD-SHELL", "true"], "interval": 10,
                                "timeout": 3, "retries": 2, "startPeriod": 5},
                "logConfiguration": {"logDriver": "awslogs", "options": {}},
            }], **extra}


def stored(ctx: ApiContext, addr=WEB) -> InstanceState:
    st = StateStore(state_path(ctx)).read()
    assert st is not None
    inst = st.get(addr)
    assert inst is not None
    return inst


def test_register_maps_container_definitions_onto_the_resource(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    out = call(ctx, "RegisterTaskDefinition", web())["taskDefinition"]
    assert out["taskDefinitionArn"] == ARN + "web:1"
    assert (out["family"], out["revision"], out["status"]) == ("web", 1, "ACTIVE")
    assert (out["cpu"], out["memory"], out["networkMode"]) == ("256", "512", "awsvpc")
    attrs = stored(ctx).attributes
    assert attrs["arn"] == "web:1" and attrs["cpu"] == 256 and attrs["memory"] == 512
    c = attrs["container"][0]
    assert c["name"] == "app" and c["image"] == "nginx:1.27" and c["essential"] is True
    assert c["port_mapping"] == [{"container_port": 80, "host_port": None, "protocol": "tcp"}]
    assert c["environment"] == {"MODE": "prod"} and c["command"][0] == "nginx"
    assert c["health_check"] == {"command": ["CMD-SHELL", "true"], "interval": 10,
                                 "timeout": 3, "retries": 2, "start_period": 5}
    assert c["stop_timeout"] == 10  # fgform's default
    # Back in ECS's shape: what was sent (minus what is ignored).
    cd = out["containerDefinitions"][0]
    assert cd["portMappings"] == [{"containerPort": 80, "hostPort": 80, "protocol": "tcp"}]
    assert cd["environment"] == [{"name": "MODE", "value": "prod"}]
    assert cd["healthCheck"] == web()["containerDefinitions"][0]["healthCheck"]
    assert (cd["cpu"], cd["memory"], cd["essential"]) == (128, 256, True)
    assert "logConfiguration" not in cd and "memoryReservation" not in cd


def test_describe_then_register_round_trips(tmp_path: Path) -> None:
    """A describe's output (as `aws ecs register-task-definition --cli-input-json` users
    feed back) registers the same definition again."""
    ctx = make_ctx(tmp_path)
    first = call(ctx, "RegisterTaskDefinition", web())["taskDefinition"]
    again = {k: v for k, v in first.items() if k in (
        "family", "containerDefinitions", "cpu", "memory", "networkMode", "volumes",
        "placementConstraints", "requiresCompatibilities")}
    second = call(ctx, "RegisterTaskDefinition", again)["taskDefinition"]
    assert second["revision"] == 2
    strip = {"taskDefinitionArn", "revision"}
    assert {k: v for k, v in first.items() if k not in strip} == \
        {k: v for k, v in second.items() if k not in strip}
    old = stored(ctx).attributes["revisions"][0]
    assert {k: v for k, v in old.items() if k not in ("arn", "id", "revision", "status")} == \
        {k: v for k, v in stored(ctx).attributes.items()
         if k not in ("arn", "id", "revision", "revisions")}


def test_every_register_is_a_new_revision_and_the_old_one_inactive(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    for _ in range(3):
        call(ctx, "RegisterTaskDefinition", web())
    d = call(ctx, "DescribeTaskDefinition", {"taskDefinition": "web"})["taskDefinition"]
    assert d["revision"] == 3 and d["status"] == "ACTIVE"
    old = call(ctx, "DescribeTaskDefinition", {"taskDefinition": ARN + "web:1"})
    assert old["taskDefinition"]["status"] == "INACTIVE"
    assert old["taskDefinition"]["containerDefinitions"][0]["image"] == "nginx:1.27"
    assert call(ctx, "DescribeTaskDefinition",
                {"taskDefinition": "web:2", "include": ["TAGS"]})["tags"] == []


def test_describe_errors_as_ecs(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    e = fails(ctx, "DescribeTaskDefinition", {"taskDefinition": "nope"})
    assert (e.code, e.message) == ("ClientException", "Unable to describe task definition.")
    call(ctx, "RegisterTaskDefinition", web())
    assert fails(ctx, "DescribeTaskDefinition", {"taskDefinition": "web:7"}).message == \
        "Unable to describe task definition."
    assert fails(ctx, "DescribeTaskDefinition", {"taskDefinition": "web:x"}).code == \
        "ClientException"
    assert fails(ctx, "DescribeTaskDefinition", {}).code == "InvalidParameterException"
    assert fails(ctx, "DescribeTaskDefinition",
                 {"taskDefinition": "web", "include": ["NOPE"]}).code == \
        "InvalidParameterException"


@pytest.mark.parametrize("change, words", [
    ({"family": "bad family"}, "Family must be"),
    ({"containerDefinitions": []}, "Container list cannot be empty"),
    ({"cpu": "lots"}, "Invalid 'cpu' setting"),
    ({"memory": "1"}, "memory"),  # below fgform's minimum
    ({"networkMode": "host"}, "networkMode 'host' is not supported"),
    ({"volumes": [{"name": "data"}]}, "volumes is not supported"),
    ({"bogus": 1}, "Unknown parameter bogus"),
    ({"requiresCompatibilities": ["WINDOWS"]}, "requiresCompatibilities"),
    ({"runtimePlatform": {"operatingSystemFamily": "WINDOWS_SERVER_2022_CORE"}},
     "fgform runs Linux containers"),
])
def test_register_refuses_what_it_cannot_honour(tmp_path: Path, change, words) -> None:
    ctx = make_ctx(tmp_path)
    e = fails(ctx, "RegisterTaskDefinition", {**web(), **change})
    assert e.code == "InvalidParameterException" and words in e.message
    assert not state_path(ctx).exists()


@pytest.mark.parametrize("container, words", [
    ({"name": "app"}, "Container.image should not be null or empty"),
    ({"image": "x"}, "Container.name should not be null or empty"),
    ({"name": "a", "image": "x", "secrets": [{"name": "A", "valueFrom": "arn:x"}]},
     "containerDefinitions[0].secrets is not supported"),
    ({"name": "a", "image": "x", "mountPoints": [{"sourceVolume": "v"}]}, "mountPoints"),
    ({"name": "a", "image": "x", "portMappings": [{"containerPort": 0}]}, "container_port"),
    ({"name": "a", "image": "x", "environment": [{"name": "A"}, {"name": "A"}]},
     "duplicate environment variable"),
    ({"name": "a", "image": "x", "environment": {"A": "b"}}, "name/value pairs"),
    ({"name": "a", "image": "x", "command": "ls"}, "command must be a list"),
    ({"name": "a", "image": "x", "essential": "yes"}, "essential must be"),
    ({"name": "a", "image": "x", "cpu": 1.5}, "cpu must be a whole number"),
    ({"name": "a", "image": "x", "environment": [{"name": "P", "value": SENSITIVE_TEXT}]},
     "placeholder"),
])
def test_register_refuses_bad_containers(tmp_path: Path, container, words) -> None:
    ctx = make_ctx(tmp_path)
    e = fails(ctx, "RegisterTaskDefinition", {"family": "f", "containerDefinitions":
                                              [container]})
    assert e.code == "InvalidParameterException" and words in e.message, e.message


def test_empty_unsupported_fields_are_accepted(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    c = {"name": "a", "image": "x", "mountPoints": [], "volumesFrom": [],
         "systemControls": [], "privileged": False}
    out = call(ctx, "RegisterTaskDefinition", {"family": "f", "volumes": [],
                                               "containerDefinitions": [c]})
    assert out["taskDefinition"]["revision"] == 1


def test_task_sizes_as_ecs_writes_them() -> None:
    assert td.task_size("1 vCPU", "cpu") == 1024
    assert td.task_size("0.25 vCPU", "cpu") == 256
    assert td.task_size("2 GB", "memory") == 2048 and td.task_size("512", "memory") == 512
    assert td.task_size(1024, "cpu") == 1024
    with pytest.raises(ApiError):
        td.task_size("1 GB", "cpu")
    with pytest.raises(ApiError):
        td.task_size("0.3 vcpu", "cpu")  # not a whole number of units


def test_secret_looking_and_previously_sensitive_variables_stay_sensitive(
        tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    body = web()
    body["containerDefinitions"][0]["environment"] = [
        {"name": "DB_PASSWORD", "value": "hunter2-secret"}, {"name": "MODE", "value": "p"}]
    out = call(ctx, "RegisterTaskDefinition", body)["taskDefinition"]
    env = out["containerDefinitions"][0]["environment"]
    assert env == [{"name": "DB_PASSWORD", "value": SENSITIVE_TEXT},
                   {"name": "MODE", "value": "p"}]
    inst = stored(ctx)
    assert ["container", 0, "environment", "DB_PASSWORD"] in inst.sensitive_paths
    # The placeholder a describe shows keeps the value when fed back.
    call(ctx, "RegisterTaskDefinition", {**body, "containerDefinitions": [
        {**body["containerDefinitions"][0], "environment": env, "image": "nginx:2"}]})
    inst = stored(ctx)
    assert inst.attributes["container"][0]["environment"]["DB_PASSWORD"] == "hunter2-secret"
    assert inst.attributes["revision"] == 2
    described = call(ctx, "DescribeTaskDefinition", {"taskDefinition": "web:1"})
    assert "hunter2-secret" not in repr(described)


def test_a_variable_the_configuration_marked_sensitive_stays_so() -> None:
    inst = InstanceState(WEB.key, {"family": "web", "container": [
        {"name": "app", "environment": {"PLAIN_NAME": "v"}}]},
        sensitive_paths=[["container", 0, "environment", "PLAIN_NAME"]])
    assert td.sensitive_env(inst) == {"app": frozenset({"PLAIN_NAME"})}
    got = td.definition_from_request(
        {"family": "web", "containerDefinitions": [
            {"name": "app", "image": "x", "environment": [{"name": "PLAIN_NAME",
                                                           "value": "w"}]}]}, inst)
    assert got["container"][0]["environment"]["PLAIN_NAME"] == Sensitive("w")


def test_list_task_definitions_filters_sorts_and_pages(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    for fam in ("web", "api", "web", "worker", "web"):
        call(ctx, "RegisterTaskDefinition", {**web(), "family": fam})
    active = call(ctx, "ListTaskDefinitions", {})["taskDefinitionArns"]
    assert active == [ARN + "api:1", ARN + "web:3", ARN + "worker:1"]
    inactive = call(ctx, "ListTaskDefinitions", {"status": "INACTIVE"})["taskDefinitionArns"]
    assert inactive == [ARN + "web:1", ARN + "web:2"]
    assert call(ctx, "ListTaskDefinitions", {"familyPrefix": "w", "sort": "DESC"})[
        "taskDefinitionArns"] == [ARN + "worker:1", ARN + "web:3"]
    seen, token, pages = [], None, 0
    while True:
        params: dict[str, Any] = {"maxResults": 1, "status": "INACTIVE"}
        if token:
            params["nextToken"] = token
        out = call(ctx, "ListTaskDefinitions", params)
        seen += out["taskDefinitionArns"]
        pages += 1
        token = out.get("nextToken")
        if token is None:
            break
    assert seen == inactive and pages == 2
    for bad in ({"maxResults": 0}, {"maxResults": 101}, {"status": "GONE"}, {"sort": "UP"},
                {"nextToken": "garbage!"}):
        assert fails(ctx, "ListTaskDefinitions", bad).code == "InvalidParameterException"
    other = call(ctx, "ListTaskDefinitions", {"maxResults": 1})["nextToken"]
    assert fails(ctx, "ListClusters", {"nextToken": other}).code == "InvalidParameterException"


def test_deregister_current_and_earlier_revisions(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    call(ctx, "RegisterTaskDefinition", web())
    call(ctx, "RegisterTaskDefinition", web("nginx:2"))
    old = call(ctx, "DeregisterTaskDefinition", {"taskDefinition": "web:1"})["taskDefinition"]
    assert old["status"] == "INACTIVE" and old["revision"] == 1
    serial = StateStore(state_path(ctx)).read().serial
    cur = call(ctx, "DeregisterTaskDefinition", {"taskDefinition": ARN + "web:2"})
    assert cur["taskDefinition"]["status"] == "INACTIVE"
    st = StateStore(state_path(ctx)).read()
    assert st.serial == serial + 1
    # Still describable, INACTIVE; no ACTIVE revision is left for the family alone.
    d = call(ctx, "DescribeTaskDefinition", {"taskDefinition": "web:2"})["taskDefinition"]
    assert d["status"] == "INACTIVE" and d["containerDefinitions"][0]["image"] == "nginx:2"
    assert fails(ctx, "DescribeTaskDefinition", {"taskDefinition": "web"}).code == \
        "ClientException"
    assert call(ctx, "ListTaskDefinitions", {})["taskDefinitionArns"] == []
    assert call(ctx, "ListTaskDefinitions", {"status": "INACTIVE"})[
        "taskDefinitionArns"] == [ARN + "web:1", ARN + "web:2"]
    with pytest.raises(ApiError, match="TaskDefinition is inactive"):
        td.usable_revision(st, "web:2")
    # Deregistering again changes nothing; a new revision is ACTIVE and numbered on.
    call(ctx, "DeregisterTaskDefinition", {"taskDefinition": "web:2"})
    assert StateStore(state_path(ctx)).read().serial == serial + 1
    new = call(ctx, "RegisterTaskDefinition", web("nginx:3"))["taskDefinition"]
    assert (new["revision"], new["status"]) == (3, "ACTIVE")
    history = stored(ctx).attributes["revisions"]
    assert [h["revision"] for h in history] == [1, 2]  # web:2 once, not twice
    assert td.usable_revision(StateStore(state_path(ctx)).read(), "web").revision == 3


def test_deregister_errors(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    assert fails(ctx, "DeregisterTaskDefinition", {"taskDefinition": "web:1"}).message == \
        "Unable to describe task definition."
    call(ctx, "RegisterTaskDefinition", web())
    assert fails(ctx, "DeregisterTaskDefinition", {"taskDefinition": "web"}).code == \
        "InvalidParameterException"


def test_targets_are_task_definition_arns(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    spec = actions.ACTIONS
    assert [t.resource for t in spec["RegisterTaskDefinition"].targets(ctx, web())] == ["*"]
    assert [t.resource for t in spec["ListTaskDefinitions"].targets(ctx, {})] == ["*"]
    assert spec["RegisterTaskDefinition"].writes and spec["DeregisterTaskDefinition"].writes
    desc = spec["DescribeTaskDefinition"].targets
    assert [t.resource for t in desc(ctx, {"taskDefinition": "web:4"})] == [ARN + "web:4"]
    assert [t.resource for t in desc(ctx, {"taskDefinition": "web"})] == [ARN + "web:*"]
    call(ctx, "RegisterTaskDefinition", web())
    assert [t.resource for t in desc(ctx, {"taskDefinition": "web"})] == [ARN + "web:1"]
    assert [t.resource for t in spec["DeregisterTaskDefinition"].targets(
        ctx, {"taskDefinition": ARN + "web:1"})] == [ARN + "web:1"]


def test_a_family_the_configuration_has_is_updated_at_its_address(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    mine = parse_address("fg_task_definition.web")
    attrs = {"family": "web", "cpu": 256, "memory": 512, "placement_constraints": [],
             "container": [{"name": "app", "image": "nginx:1", "essential": True,
                            "command": None, "entry_point": None, "environment": {},
                            "working_directory": None, "user": None, "stop_timeout": 10,
                            "cpu": None, "memory": None, "port_mapping": [],
                            "health_check": None}],
             "id": "web:4", "arn": "web:4", "revision": 4, "revisions": []}
    st = StateFile()
    st.set(mine, InstanceState(None, attrs, dependencies=["fg_cluster.main"]))
    StateStore(state_path(ctx)).write(st)
    out = call(ctx, "RegisterTaskDefinition", web("nginx:2"))["taskDefinition"]
    assert out["revision"] == 5
    after = StateStore(state_path(ctx)).read()
    assert after.get(WEB) is None and after.lineage == st.lineage
    inst = after.get(mine)
    assert inst.attributes["arn"] == "web:5" and inst.dependencies == ["fg_cluster.main"]


def test_shape_of_an_identity_of_its_own() -> None:
    ident = Identity(region="eu-west-1", account="123456789012")
    shape = td.taskdef_shape(ident, {"family": "f", "revision": 2, "cpu": 512,
                                     "memory": 1024, "container": []})
    assert shape["taskDefinitionArn"] == \
        "arn:aws:ecs:eu-west-1:123456789012:task-definition/f:2"
    assert (shape["cpu"], shape["memory"]) == ("512", "1024")
    assert td.taskdef_arn(ident, "f:2") == shape["taskDefinitionArn"]


def test_twenty_concurrent_registrations_get_twenty_revisions(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    got: list[int] = []
    errors: list[BaseException] = []

    def register(i: int) -> None:
        try:
            out = call(ctx, "RegisterTaskDefinition", web(f"nginx:{i}"))
            got.append(out["taskDefinition"]["revision"])
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=register, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sorted(got) == list(range(1, 21))
    attrs = stored(ctx).attributes
    assert attrs["revision"] == 20 and len(attrs["revisions"]) == 19
    images = {h["container"][0]["image"] for h in attrs["revisions"]} | \
        {attrs["container"][0]["image"]}
    assert images == {f"nginx:{i}" for i in range(20)}  # every request's own definition


CONFIG = """
resource "fg_task_definition" "web" {
  family = "web"
  container "app" {
    image = "nginx:1"
  }
}
"""


def test_api_revisions_show_in_the_next_plan(tmp_path: Path) -> None:
    """A revision registered for the configuration's family is a change the next plan
    undoes; a family the API made is "not in configuration"; the real command line."""
    import io

    from fgform.cli import Environment, run

    (tmp_path / "main.tf").write_text(CONFIG)
    ctx = make_ctx(tmp_path)

    def fgform(*args: str) -> tuple[int, str]:
        out, err = io.StringIO(), io.StringIO()
        env = Environment(stdin=io.StringIO(""), stdout=out, stderr=err,
                          environ={"NO_COLOR": "1"}, cwd=tmp_path, fleet=ctx.fleet)
        code = run(list(args), env)
        assert "Traceback" not in out.getvalue() + err.getvalue()
        return code, out.getvalue() + err.getvalue()

    code, out = fgform("apply", "-auto-approve")
    assert code == 0, out
    code, out = fgform("plan", "-detailed-exitcode")
    assert code == 0, out
    call(ctx, "RegisterTaskDefinition", {"family": "web", "containerDefinitions": [
        {"name": "app", "image": "nginx:2",
         "environment": [{"name": "DB_PASSWORD", "value": "pw-0123456789"}]}]})
    call(ctx, "RegisterTaskDefinition", {"family": "api", "containerDefinitions": [
        {"name": "app", "image": "httpd:2"}]})
    code, out = fgform("plan", "-detailed-exitcode")
    assert code == 2, out
    assert "pw-0123456789" not in out and "(sensitive value)" in out
    assert "# fg_task_definition.web will be updated in-place" in out
    assert re.search(r'~ image +\= "nginx:2" -> "nginx:1"', out), out
    assert re.search(r'- "DB_PASSWORD" = \(sensitive value\)', out), out
    assert '# fg_task_definition.ecs["api"] will be destroyed' in out
    assert '(because fg_task_definition.ecs["api"] is not in configuration)' in out
    # Applying the configuration undoes the API's change: a new revision of its own.
    code, out = fgform("apply", "-auto-approve")
    assert code == 0, out
    d = call(ctx, "DescribeTaskDefinition", {"taskDefinition": "web"})["taskDefinition"]
    assert (d["revision"], d["containerDefinitions"][0]["image"]) == (3, "nginx:1")
    assert fails(ctx, "DescribeTaskDefinition", {"taskDefinition": "api"}).code == \
        "ClientException"


def test_redacted_request_for_the_audit_log(tmp_path: Path) -> None:
    body = web()
    body["containerDefinitions"][0]["environment"] = [
        {"name": "API_TOKEN", "value": "tok-123456"}, {"name": "CONFIGURED", "value": "c-999"},
        {"name": "MODE", "value": "prod"}]
    inst = InstanceState(WEB.key, {"family": "web", "revision": 1, "container": [
        {"name": "app", "environment": {"CONFIGURED": "old"}}]},
        sensitive_paths=[["container", 0, "environment", "CONFIGURED"]])
    st = StateFile()
    st.set(WEB, inst)
    out = td.redacted_request(st, body)
    env = out["containerDefinitions"][0]["environment"]
    assert env == [{"name": "API_TOKEN", "value": SENSITIVE_TEXT},
                   {"name": "CONFIGURED", "value": SENSITIVE_TEXT},
                   {"name": "MODE", "value": "prod"}]
    assert body["containerDefinitions"][0]["environment"][0]["value"] == "tok-123456"
    assert td.redacted_request(None, {"family": 1}) == {"family": 1}
    assert td.redacted_request(None, body)["containerDefinitions"][0]["environment"][1][
        "value"] == "c-999"  # no state: only names say what is secret


def test_requests_and_responses_fit_the_ecs_model(tmp_path: Path) -> None:
    """botocore's own model of ECS: the requests these tests send are valid ECS requests,
    and every response fits ECS's output shapes (names, types, enums)."""
    import botocore.session
    from botocore.validate import ParamValidator

    model = botocore.session.get_session().get_service_model("ecs")
    ctx = make_ctx(tmp_path)

    def check(name: str, params: dict[str, Any]) -> dict[str, Any]:
        op = model.operation_model(name)
        report = ParamValidator().validate(params, op.input_shape)
        assert not report.has_errors(), report.generate_report()
        out = call(ctx, name, params)
        assert conforms(out, op.output_shape) == []
        return out

    check("RegisterTaskDefinition", web())
    check("RegisterTaskDefinition", {**web("nginx:2"), "placementConstraints": [
        {"type": "memberOf", "expression": "attribute:zone == a"}],
        "tags": [{"key": "team", "value": "a"}]})
    check("DescribeTaskDefinition", {"taskDefinition": "web", "include": ["TAGS"]})
    check("DescribeTaskDefinition", {"taskDefinition": "web:1"})
    check("ListTaskDefinitions", {"maxResults": 1})
    check("ListTaskDefinitions", {"status": "INACTIVE", "sort": "DESC"})
    check("DeregisterTaskDefinition", {"taskDefinition": "web:2"})
    check("DescribeClusters", {"clusters": ["default"]})
    check("ListClusters", {})


def test_a_moved_block_adopts_an_api_family(tmp_path: Path) -> None:
    """`moved { from = fg_task_definition.ecs["api"] to = fg_task_definition.api }` with a
    matching resource block: the plan moves it and changes nothing."""
    import io

    from fgform.cli import Environment, run

    ctx = make_ctx(tmp_path)
    call(ctx, "RegisterTaskDefinition", {"family": "api", "containerDefinitions": [
        {"name": "app", "image": "httpd:2", "portMappings": [{"containerPort": 8080}]}]})
    (tmp_path / "main.tf").write_text("""
resource "fg_task_definition" "api" {
  family = "api"
  container "app" {
    image = "httpd:2"
    port_mapping {
      container_port = 8080
    }
  }
}
moved {
  from = fg_task_definition.ecs["api"]
  to   = fg_task_definition.api
}
""")
    out, err = io.StringIO(), io.StringIO()
    env = Environment(stdin=io.StringIO(""), stdout=out, stderr=err,
                      environ={"NO_COLOR": "1"}, cwd=tmp_path, fleet=ctx.fleet)
    assert run(["plan"], env) == 0, err.getvalue()
    text = out.getvalue()
    assert '# fg_task_definition.ecs["api"] has moved to fg_task_definition.api' in text
    assert "Plan: 0 to add, 0 to change, 0 to destroy." in text


def test_a_secret_stays_sensitive_once_its_revision_is_history(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    body = {"family": "web", "containerDefinitions": [
        {"name": "app", "image": "nginx:1",
         "environment": [{"name": "DB_PASSWORD", "value": "pw-0123456789"}]}]}
    call(ctx, "RegisterTaskDefinition", body)
    call(ctx, "RegisterTaskDefinition", body)
    inst = stored(ctx)
    assert ["revisions", 0, "container", 0, "environment", "DB_PASSWORD"] in \
        inst.sensitive_paths
    assert ["container", 0, "environment", "DB_PASSWORD"] in inst.sensitive_paths


def test_the_real_fleet_registers_without_a_docker_engine(tmp_path: Path,
                                                          monkeypatch) -> None:
    """Task definitions are state only: the fleet `fgform serve` uses (the local engine's)
    registers, describes and deregisters them with no engine to reach."""
    from fgform.fleet.swarm.fleet import EngineFleet

    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    ctx = ApiContext(dir=tmp_path, fleet=EngineFleet(), lock_timeout=5)
    assert call(ctx, "RegisterTaskDefinition", web())["taskDefinition"]["revision"] == 1
    assert call(ctx, "RegisterTaskDefinition", web())["taskDefinition"]["revision"] == 2
    assert call(ctx, "DeregisterTaskDefinition", {"taskDefinition": "web:2"})[
        "taskDefinition"]["status"] == "INACTIVE"
