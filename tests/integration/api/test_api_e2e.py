"""The issue's "Done when", over REAL HTTP against the real fleet: every ECS action's happy
path and documented errors through boto3, the aws CLI, SigV4 (an expired date; the other
signature failures are test_server.py's), policies on the real actions (allow, explicit
deny, implicit deny, wildcard resources, `ecs:cluster` conditions) agreeing with `fgform
api-key simulate`, and the audit log those calls left. One applied configuration and one
`fgform serve` for the whole module (e2e_fixtures.py); the tests run in file order and
each leaves the fleet as it found it (the configured service `web` at one task).

State, plan, concurrency and shutdown: test_api_e2e_state.py."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
from typing import Any

import pytest
from fixtures.fgcli import BASE_IMAGE, Fleet

from .conftest import ApiServer, launch
from .e2e_fixtures import PREFIX, admin, fails, fleet, server
from .services_fixtures import running, wait_until

pytestmark = pytest.mark.docker
__all__ = ["admin", "fleet", "server"]  # the module fixtures, imported for pytest

SECRET_VALUE = "hunter2-e2e-secret"


@pytest.fixture(scope="module")
def ecs(server: ApiServer, admin: tuple[str, str]) -> Any:
    return server.boto3(*admin)


def _api_taskdef(family: str, message: str) -> dict[str, Any]:
    return {"family": family, "cpu": "64", "memory": "32", "networkMode": "awsvpc",
            "requiresCompatibilities": ["FARGATE"],
            "containerDefinitions": [{
                "name": "app", "image": BASE_IMAGE, "essential": True,
                "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
                "environment": [{"name": "DB_PASSWORD", "value": SECRET_VALUE},
                                {"name": "MESSAGE", "value": message}]}]}


# -- task definitions and clusters ---------------------------------------------------------------
def test_task_definitions_and_clusters(fleet: Fleet, ecs: Any) -> None:
    name = fleet.name
    fam = f"{name}-api"
    got = ecs.register_task_definition(**_api_taskdef(fam, "v1"))["taskDefinition"]
    assert got["taskDefinitionArn"] == f"{PREFIX}task-definition/{fam}:1"
    assert got["status"] == "ACTIVE" and got["revision"] == 1
    env = {e["name"]: e["value"] for e in got["containerDefinitions"][0]["environment"]}
    assert env["MESSAGE"] == "v1" and env["DB_PASSWORD"] != SECRET_VALUE  # sensitive
    # A family the API made is recorded where plan shows it "not in configuration".
    assert f'fg_task_definition.ecs["{fam}"]' in fleet.resources()

    desc = ecs.describe_task_definition(taskDefinition=f"{fam}:1")["taskDefinition"]
    assert desc["taskDefinitionArn"] == f"{PREFIX}task-definition/{fam}:1"
    assert desc["containerDefinitions"][0]["image"] == BASE_IMAGE
    desc = ecs.describe_task_definition(taskDefinition=fam)["taskDefinition"]
    assert desc["revision"] == 1
    listed = ecs.list_task_definitions(familyPrefix=name)["taskDefinitionArns"]
    assert listed == [f"{PREFIX}task-definition/{fam}:1",
                      f"{PREFIX}task-definition/{name}-job:1",
                      f"{PREFIX}task-definition/{name}-web:1"]
    # Deregister: an extra family, so the rest of the module keeps its revisions.
    tmp = ecs.register_task_definition(**_api_taskdef(f"{name}-tmp", "x"))["taskDefinition"]
    out = ecs.deregister_task_definition(taskDefinition=tmp["taskDefinitionArn"])
    assert out["taskDefinition"]["status"] == "INACTIVE"
    assert ecs.list_task_definitions(familyPrefix=f"{name}-tmp")["taskDefinitionArns"] == []
    assert ecs.list_task_definitions(familyPrefix=f"{name}-tmp", status="INACTIVE")[
        "taskDefinitionArns"] == [f"{PREFIX}task-definition/{name}-tmp:1"]
    # Errors: unknown family (ClientException), deregister without a revision.
    code, message, status = fails(ecs.describe_task_definition, taskDefinition="nope-family")
    assert (code, status) == ("ClientException", 400), message
    code, _, _ = fails(ecs.deregister_task_definition, taskDefinition=fam)
    assert code == "InvalidParameterException"
    code, message, _ = fails(ecs.register_task_definition, family=f"{name}-bad",
                             containerDefinitions=[])
    assert code in ("ClientException", "InvalidParameterException"), message

    # Clusters.
    arns = ecs.list_clusters()["clusterArns"]
    assert f"{PREFIX}cluster/{name}" in arns
    out = ecs.describe_clusters(clusters=[name, "nope"])
    [cluster] = out["clusters"]
    assert cluster["clusterArn"] == f"{PREFIX}cluster/{name}"
    assert cluster["clusterName"] == name and cluster["status"] == "ACTIVE"
    assert cluster["registeredContainerInstancesCount"] == 2
    assert cluster["activeServicesCount"] == 1 and cluster["runningTasksCount"] >= 1
    assert out["failures"] == [{"arn": f"{PREFIX}cluster/nope", "reason": "MISSING"}]


# -- tasks -------------------------------------------------------------------------------------
def test_tasks(fleet: Fleet, ecs: Any) -> None:
    name = fleet.name
    out = ecs.run_task(cluster=name, taskDefinition=f"{name}-job", startedBy="e2e")
    assert out["failures"] == []
    [task] = out["tasks"]
    arn = task["taskArn"]
    assert arn.startswith(f"{PREFIX}task/{name}/")

    def stopped() -> Any:
        [t] = ecs.describe_tasks(cluster=name, tasks=[arn])["tasks"]
        return t if t["lastStatus"] == "STOPPED" else None

    done = wait_until(stopped, 30, "the job stopped")
    assert done["containers"][0]["exitCode"] == 3
    assert done["stopCode"] == "EssentialContainerExited"
    assert arn in ecs.list_tasks(cluster=name, desiredStatus="STOPPED", startedBy="e2e")[
        "taskArns"]
    assert arn not in ecs.list_tasks(cluster=name)["taskArns"]
    [web_task] = ecs.list_tasks(cluster=name, serviceName="web")["taskArns"]
    [t] = ecs.describe_tasks(cluster=name, tasks=[web_task])["tasks"]
    assert t["group"] == "service:web" and t["lastStatus"] == "RUNNING"

    # StopTask of a one-off task still running (its command overridden to sleep).
    out = ecs.run_task(cluster=name, taskDefinition=f"{name}-job:1", overrides={
        "containerOverrides": [{"name": "job", "command": ["busybox", "sleep", "60"]}]})
    arn = out["tasks"][0]["taskArn"]
    got = ecs.stop_task(cluster=name, task=arn, reason="e2e stop")["task"]
    assert got["desiredStatus"] == "STOPPED"
    [t] = ecs.describe_tasks(cluster=name, tasks=[arn])["tasks"]
    assert (t["lastStatus"], t["stopCode"], t["stoppedReason"]) == (
        "STOPPED", "UserInitiated", "e2e stop")

    # Errors.
    assert fails(ecs.run_task, cluster="nope", taskDefinition=f"{name}-job")[:2] == (
        "ClusterNotFoundException", "Cluster not found.")
    code, message, status = fails(ecs.run_task, cluster=name, taskDefinition="nope-family")
    assert (code, status) == ("ClientException", 400), message
    code, _, _ = fails(ecs.run_task, cluster=name, taskDefinition=f"{name}-job", count=11)
    assert code == "InvalidParameterException"
    assert fails(ecs.stop_task, cluster=name, task="0" * 32)[:2] == (
        "InvalidParameterException", "The referenced task was not found.")
    code, _, _ = fails(ecs.list_tasks, cluster=name, serviceName="ghost")
    assert code == "ServiceNotFoundException"
    out = ecs.describe_tasks(cluster=name, tasks=["a" * 32])
    assert out["tasks"] == [] and out["failures"][0]["reason"] == "MISSING"


# -- services ----------------------------------------------------------------------------------
def _describe(ecs: Any, cluster: str, *names: str) -> dict[str, Any]:
    return ecs.describe_services(cluster=cluster, services=list(names))


def test_services(fleet: Fleet, ecs: Any) -> None:
    name = fleet.name
    fam = f"{name}-api"
    got = ecs.create_service(cluster=name, serviceName="api1", taskDefinition=f"{fam}:1",
                             desiredCount=2, launchType="FARGATE")["service"]
    assert got["serviceArn"] == f"{PREFIX}service/{name}/api1"
    assert got["desiredCount"] == 2 and got["status"] == "ACTIVE"
    assert f'fg_service.ecs["{name}/api1"]' in fleet.resources()
    wait_until(lambda: len(running(fleet, "api1")) == 2, desc="2 tasks of api1")
    svc = _describe(ecs, name, "api1")["services"][0]
    assert svc["runningCount"] == 2
    assert [(d["status"], d["taskDefinition"]) for d in svc["deployments"]] == [
        ("PRIMARY", f"{PREFIX}task-definition/{fam}:1")]
    assert svc["events"] and svc["events"][0]["message"].startswith("(service api1)")

    # Its errors.
    assert fails(ecs.create_service, cluster=name, serviceName="api1",
                 taskDefinition=fam, desiredCount=1)[:2] == (
        "InvalidParameterException", "Creation of service was not idempotent.")
    assert fails(ecs.create_service, cluster="nope", serviceName="x", taskDefinition=fam,
                 desiredCount=1)[:2] == ("ClusterNotFoundException", "Cluster not found.")
    assert fails(ecs.create_service, cluster=name, serviceName="x",
                 taskDefinition="nope-family", desiredCount=1)[:2] == (
        "ClientException", "TaskDefinition not found.")
    assert fails(ecs.update_service, cluster=name, service="ghost", desiredCount=1)[:2] == (
        "ServiceNotFoundException", "Service not found.")
    assert fails(ecs.delete_service, cluster=name, service="api1")[:2] == (
        "InvalidParameterException",
        "The service cannot be stopped while it is scaled above 0.")
    code, _, status = fails(ecs.describe_services, cluster="nope", services=["api1"])
    assert (code, status) == ("ClusterNotFoundException", 400)

    # ListServices, paged.
    assert ecs.list_services(cluster=name)["serviceArns"] == [
        f"{PREFIX}service/{name}/api1", f"{PREFIX}service/{name}/web"]
    first = ecs.list_services(cluster=name, maxResults=1)
    assert first["serviceArns"] == [f"{PREFIX}service/{name}/api1"] and first["nextToken"]

    # Scale up, then down.
    ecs.update_service(cluster=name, service="api1", desiredCount=3)
    wait_until(lambda: len(running(fleet, "api1")) == 3, desc="3 tasks of api1")
    ecs.update_service(cluster=name, service=f"{PREFIX}service/{name}/api1", desiredCount=1)
    wait_until(lambda: len(running(fleet, "api1")) == 1, desc="1 task of api1")
    assert _describe(ecs, name, "api1")["services"][0]["desiredCount"] == 1
    got = ecs.update_service(cluster=name, service="api1", deploymentConfiguration={
        "minimumHealthyPercent": 50, "maximumPercent": 200})["service"]
    svc = _describe(ecs, name, "api1")["services"][0]
    for shape in (got, svc):
        conf = shape["deploymentConfiguration"]
        assert (conf["minimumHealthyPercent"], conf["maximumPercent"]) == (50, 200), conf
    code, _, _ = fails(ecs.update_service, cluster=name, service="api1",
                       deploymentConfiguration={"minimumHealthyPercent": 300,
                                                "maximumPercent": 100})
    assert code == "InvalidParameterException"

    # A new revision: a rolling deployment (new tasks start before the old ones stop, so
    # DescribeServices sees both revisions' deployments while it rolls).
    import threading

    seen: list[list[tuple[str, str]]] = []
    result: dict[str, Any] = {}

    def update() -> None:
        result["out"] = ecs.update_service(cluster=name, service="api1",
                                           taskDefinition=f"{fam}:2")

    # (fgform keeps one ACTIVE revision per family: registering 2 makes 1 INACTIVE, where
    # ECS keeps both ACTIVE; the service runs on with 1 until updated.)
    rev2 = ecs.register_task_definition(**_api_taskdef(fam, "v2"))["taskDefinition"]
    assert rev2["revision"] == 2
    before = {t["task_id"] for t in running(fleet, "api1")}
    thread = threading.Thread(target=update)
    thread.start()
    while thread.is_alive() or not seen:
        deps = _describe(ecs, name, "api1")["services"][0]["deployments"]
        seen.append([(d["status"], d["taskDefinition"].rsplit(":", 1)[1]) for d in deps])
        if not thread.is_alive() and len(seen) > 1:
            break
    thread.join()
    assert result["out"]["service"]["taskDefinition"] == f"{PREFIX}task-definition/{fam}:2"
    wait_until(lambda: (r := running(fleet, "api1")) and all(
        t["revision"] == f"{fam}:2" for t in r) and not before & {t["task_id"] for t in r},
        desc="api1 on revision 2 only")
    final = _describe(ecs, name, "api1")["services"][0]["deployments"]
    assert [(d["status"], d["taskDefinition"], d["rolloutState"]) for d in final] == [
        ("PRIMARY", f"{PREFIX}task-definition/{fam}:2", "COMPLETED")]
    assert any(len(s) == 2 for s in seen), seen  # both revisions while rolling

    # forceNewDeployment: a new task of the same revision.
    before = {t["task_id"] for t in running(fleet, "api1")}
    got = ecs.update_service(cluster=name, service="api1", forceNewDeployment=True)["service"]
    assert got["taskDefinition"] == f"{PREFIX}task-definition/{fam}:2"
    wait_until(lambda: (r := running(fleet, "api1")) and len(r) == 1
               and not before & {t["task_id"] for t in r}, desc="a new task of api1")
    events = [e["message"] for e in _describe(ecs, name, "api1")["services"][0]["events"]]
    assert len(events) >= 3, events

    # Delete (forced: it is scaled above 0).
    got = ecs.delete_service(cluster=name, service="api1", force=True)["service"]
    assert got["status"] == "DRAINING"
    assert running(fleet, "api1") == []
    out = _describe(ecs, name, "api1")
    assert out["services"] == [] and out["failures"][0]["reason"] == "MISSING"
    assert f'fg_service.ecs["{name}/api1"]' not in fleet.resources()


def test_unsupported_actions_are_invalid_action(server: ApiServer, admin: tuple[str, str],
                                                ecs: Any) -> None:
    code, message, status = fails(ecs.create_cluster, clusterName="e2e-new")
    assert (code, status) == ("InvalidAction", 400)
    assert message == "The action CreateCluster is not valid for this web service."
    status, _, body = server.call("MakeMeASandwich", {}, *admin)
    assert (status, body["__type"]) == (400, "InvalidAction")
    assert all(r["status"] < 500 for r in server.audit())


# -- the aws CLI -----------------------------------------------------------------------------
def test_aws_cli(fleet: Fleet, server: ApiServer, admin: tuple[str, str]) -> None:
    name = fleet.name
    rc, out, err = server.aws(["list-clusters"], *admin)
    assert rc == 0, err
    assert f"{PREFIX}cluster/{name}" in json.loads(out)["clusterArns"]

    taskdef = _api_taskdef(f"{name}-cli", "from the CLI")
    path = fleet.dir / "taskdef.json"
    path.write_text(json.dumps(taskdef))
    rc, out, err = server.aws(["register-task-definition", "--cli-input-json",
                               f"file://{path}"], *admin)
    assert rc == 0, err
    assert json.loads(out)["taskDefinition"]["taskDefinitionArn"] == \
        f"{PREFIX}task-definition/{name}-cli:1"

    # A key that may only describe and update the one service (the examples/api policy).
    web_arn = f"{PREFIX}service/{name}/web"
    limited = server.key("cli-limited", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["ecs:Describe*", "ecs:UpdateService"],
         "Resource": web_arn}]})
    rc, out, err = server.aws(["update-service", "--cluster", name, "--service", "web",
                               "--desired-count", "2"], *limited)
    assert rc == 0, err
    assert json.loads(out)["service"]["desiredCount"] == 2
    assert len(running(fleet, "web")) == 2  # the configured service waits for its tasks
    rc, out, err = server.aws(["describe-services", "--cluster", name, "--services", "web"],
                              *limited)
    assert rc == 0, err
    [svc] = json.loads(out)["services"]
    assert (svc["desiredCount"], svc["runningCount"]) == (2, 2)
    rc, out, err = server.aws(["run-task", "--cluster", name, "--task-definition",
                               f"{name}-job"], *limited)
    assert rc in (254, 255), (rc, out, err)
    assert "AccessDeniedException" in err and "ecs:RunTask" in err, err
    rc, _, err = server.aws(["update-service", "--cluster", name, "--service", "web",
                             "--desired-count", "1"], *limited)
    assert rc == 0, err
    assert len(running(fleet, "web")) == 1


# -- SigV4 -------------------------------------------------------------------------------------
def test_sigv4_good_key_and_an_expired_date(fleet: Fleet, server: ApiServer,
                                            admin: tuple[str, str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A wrong secret, an unknown key and another region are test_server.py's; here: a good
    key on a real action, and a request signed 16 minutes ago (outside AWS's 15)."""
    import botocore.auth

    ecs = server.boto3(*admin)
    assert ecs.list_clusters()["clusterArns"]
    real = botocore.auth.get_current_datetime
    monkeypatch.setattr(botocore.auth, "get_current_datetime",
                        lambda: real() - dt.timedelta(minutes=16))
    code, message, status = fails(ecs.list_clusters)
    assert (code, status) == ("InvalidSignatureException", 400)
    assert message.startswith("Signature expired: "), message
    assert admin[1] not in message
    # 14 minutes is inside the window.
    monkeypatch.setattr(botocore.auth, "get_current_datetime",
                        lambda: real() - dt.timedelta(minutes=14))
    assert ecs.list_clusters()["clusterArns"]
    rec = [r for r in server.audit() if r["result"] == "InvalidSignatureException"][-1]
    assert rec["key"] is None and rec["decision"] == "unauthenticated"


# -- policies on the real actions ----------------------------------------------------------
def _simulate(server: ApiServer, key: str, action: str, resource: str,
              *flags: str) -> str:
    res = server.fgform("api-key", "simulate", key, action, resource, "-json", *flags)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)["decision"]


def test_policies(fleet: Fleet, server: ApiServer) -> None:
    name = fleet.name
    cluster_arn = f"{PREFIX}cluster/{name}"
    web_arn = f"{PREFIX}service/{name}/web"
    ghost_arn = f"{PREFIX}service/{name}/ghost"

    # Allow: Describe* and UpdateService on one service; everything else implicitly denied.
    scoped = server.boto3(*server.key("scoped", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["ecs:Describe*", "ecs:UpdateService"],
         "Resource": web_arn}]}))
    assert scoped.describe_services(cluster=name, services=["web"])["services"]
    assert scoped.update_service(cluster=name, service="web",
                                 desiredCount=1)["service"]["desiredCount"] == 1
    code, message, status = fails(scoped.update_service, cluster=name, service="ghost",
                                  desiredCount=1)
    assert (code, status) == ("AccessDeniedException", 400)
    assert message == (f"User: arn:aws:iam::000000000000:user/scoped is not authorized to "
                       f"perform: ecs:UpdateService on resource: {ghost_arn} because no "
                       f"identity-based policy allows the ecs:UpdateService action"), message
    code, message, _ = fails(scoped.list_clusters)
    assert code == "AccessDeniedException" and "ecs:ListClusters" in message
    assert _simulate(server, "scoped", "ecs:UpdateService", web_arn) == "allowed"
    assert _simulate(server, "scoped", "ecs:UpdateService", ghost_arn) == "implicitDeny"
    assert _simulate(server, "scoped", "ecs:ListClusters", "*") == "implicitDeny"

    # An explicit deny beats an allow.
    denied = server.boto3(*server.key("denied", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ecs:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "ecs:UpdateService", "Resource": web_arn}]}))
    code, message, _ = fails(denied.update_service, cluster=name, service="web",
                             desiredCount=1)
    assert code == "AccessDeniedException"
    assert message.endswith(f"perform: ecs:UpdateService on resource: {web_arn} with an "
                            "explicit deny in an identity-based policy"), message
    assert denied.describe_services(cluster=name, services=["web"])["services"]
    assert _simulate(server, "denied", "ecs:UpdateService", web_arn) == "explicitDeny"
    assert _simulate(server, "denied", "ecs:DescribeServices", web_arn) == "allowed"

    # A wildcard resource: every service of the cluster, no other cluster's (denied before
    # the handler: AccessDenied, not ClusterNotFound).
    wild = server.boto3(*server.key("wild", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["ecs:DescribeServices", "ecs:UpdateService"],
         "Resource": f"{PREFIX}service/{name}/*"}]}))
    assert wild.update_service(cluster=name, service="web", desiredCount=1)
    assert fails(wild.update_service, cluster=name, service="ghost",
                 desiredCount=1)[0] == "ServiceNotFoundException"  # allowed, then not found
    code, message, _ = fails(wild.describe_services, cluster="other", services=["web"])
    assert code == "AccessDeniedException" and f"{PREFIX}service/other/web" in message
    assert _simulate(server, "wild", "ecs:UpdateService", ghost_arn) == "allowed"
    assert _simulate(server, "wild", "ecs:UpdateService",
                     f"{PREFIX}service/other/web") == "implicitDeny"

    # Conditions on ecs:cluster: StringEquals and ArnLike.
    cond = server.boto3(*server.key("cond", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ecs:ListServices", "Resource": "*",
         "Condition": {"StringEquals": {"ecs:cluster": cluster_arn}}},
        {"Effect": "Allow", "Action": "ecs:ListTasks", "Resource": "*",
         "Condition": {"ArnLike": {"ecs:cluster": f"arn:aws:ecs:*:*:cluster/{name}*"}}}]}))
    assert f"{PREFIX}service/{name}/web" in cond.list_services(cluster=name)["serviceArns"]
    assert cond.list_tasks(cluster=name)["taskArns"]
    for op in (cond.list_services, cond.list_tasks):
        code, message, _ = fails(op, cluster="unknown-cluster")
        assert code == "AccessDeniedException", message
        assert "on resource: *" in message
    code, _, _ = fails(cond.list_services)  # the default cluster: another cluster
    assert code == "AccessDeniedException"
    assert _simulate(server, "cond", "ecs:ListServices", "*", "-cluster",
                     cluster_arn) == "allowed"
    assert _simulate(server, "cond", "ecs:ListServices", "*", "-cluster",
                     f"{PREFIX}cluster/unknown-cluster") == "implicitDeny"
    assert _simulate(server, "cond", "ecs:ListTasks", "*", "-cluster",
                     cluster_arn) == "allowed"

    # NotAction, NotResource and StringLike.
    other = server.boto3(*server.key("other", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "NotAction": ["ecs:RunTask", "ecs:Delete*"], "Resource": "*"},
        {"Effect": "Deny", "Action": "ecs:DescribeServices", "NotResource": ghost_arn},
        {"Effect": "Deny", "Action": "ecs:ListTasks", "Resource": "*",
         "Condition": {"StringLike": {"ecs:cluster": f"*:cluster/{name}"}}}]}))
    assert other.list_clusters()["clusterArns"]
    code, message, _ = fails(other.run_task, cluster=name, taskDefinition=f"{name}-job")
    assert code == "AccessDeniedException" and "because no identity-based policy allows" \
        in message, message
    assert fails(other.delete_service, cluster=name, service="web")[0] == \
        "AccessDeniedException"
    assert other.describe_services(cluster=name, services=["ghost"])["failures"]
    code, message, _ = fails(other.describe_services, cluster=name, services=["web"])
    assert code == "AccessDeniedException" and "explicit deny" in message, message
    assert fails(other.list_tasks, cluster=name)[0] == "AccessDeniedException"
    assert fails(other.list_tasks, cluster="unknown-cluster")[0] == \
        "ClusterNotFoundException"  # not denied there: the handler answers
    assert _simulate(server, "other", "ecs:RunTask", "*") == "implicitDeny"
    assert _simulate(server, "other", "ecs:DescribeServices", web_arn) == "explicitDeny"
    assert _simulate(server, "other", "ecs:ListTasks", "*", "-cluster",
                     cluster_arn) == "explicitDeny"

    # What the server decided, as the audit log records it, is what simulate said.
    decisions = {(r["key"]["name"], r["action"], r["decision"])
                 for r in server.audit() if r["key"]}
    for expected in [("scoped", "UpdateService", "allow"),
                     ("scoped", "UpdateService", "implicit-deny"),
                     ("denied", "UpdateService", "explicit-deny"),
                     ("wild", "DescribeServices", "implicit-deny"),
                     ("cond", "ListServices", "allow"),
                     ("cond", "ListTasks", "implicit-deny")]:
        assert expected in decisions, (expected, decisions)
    assert len(running(fleet, "web")) == 1


# -- the audit log --------------------------------------------------------------------------
ACTIONS = ["RegisterTaskDefinition", "DescribeTaskDefinition", "ListTaskDefinitions",
           "DeregisterTaskDefinition", "DescribeClusters", "ListClusters", "RunTask",
           "StopTask", "DescribeTasks", "ListTasks", "CreateService", "UpdateService",
           "DescribeServices", "ListServices", "DeleteService"]


def test_audit_log(fleet: Fleet, server: ApiServer, admin: tuple[str, str]) -> None:
    assert stat.S_IMODE(os.stat(server.audit_path).st_mode) == 0o600
    res = server.fgform("api-log", "-json")
    assert res.returncode == 0, res.stderr
    records = [json.loads(line) for line in res.stdout.splitlines()]
    assert records == server.audit()
    raw = server.audit_path.read_text()
    assert SECRET_VALUE not in raw and admin[1] not in raw
    by_action: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        by_action.setdefault(r["action"], []).append(r)
        assert r["status"] < 500, r
        assert isinstance(r["duration_ms"], (int, float)) and r["duration_ms"] >= 0, r
        # (an unknown action is answered before authorization: no decision)
        assert r["decision"] in ("allow", "explicit-deny", "implicit-deny",
                                 "unauthenticated") or (r["decision"] is None and
                                                        r["result"] == "InvalidAction"), r
    for action in ACTIONS:
        ok = [r for r in by_action.get(action, []) if r["result"] == "ok"]
        assert ok, f"no successful {action} in the audit log"
        r = ok[0]
        assert r["key"]["name"] and r["key"]["access_key_id"], r
        assert r["decision"] == "allow" and r["status"] == 200 and r["resources"], r
    name = fleet.name
    update = [r for r in by_action["UpdateService"] if r["result"] == "ok"][0]
    assert update["resources"] == [f"{PREFIX}service/{name}/api1"]
    errors = {r["result"] for r in records}
    assert {"ClusterNotFoundException", "ServiceNotFoundException",
            "InvalidParameterException", "ClientException", "AccessDeniedException",
            "InvalidAction", "InvalidSignatureException"} <= errors, errors
    # Environment values of registered task definitions are redacted.
    for r in by_action["RegisterTaskDefinition"]:
        for c in r["params"].get("containerDefinitions") or []:
            for e in c.get("environment") or []:
                assert e["value"] == "(redacted)", r
    # The text form names the same.
    text = server.fgform("api-log").stdout
    assert "RegisterTaskDefinition" in text and "explicit-deny" in text


# -- malformed parameters ------------------------------------------------------------------
# Values of the wrong type for any member (an int where a list or string is expected, a
# string where a list or structure is, and so on).
WRONG: list[Any] = [7, "x", [{}], {"a": 1}, True]


def test_malformed_parameters_are_never_a_server_error(fleet: Fleet,
                                                       admin: tuple[str, str]) -> None:
    """Every action, each member of its input (botocore's ECS model) set to values of the
    wrong type, the rest valid: a SerializationException naming the member, as AWS's front
    end answers; where only what is inside the value is wrong (a list of the wrong items),
    still an ECS client error or an answer, never a 500. The valid rest is chosen so that
    a request that gets through does little (a service at 0 tasks, a task not found)."""
    from botocore.session import get_session

    model = get_session().get_service_model("ecs")
    # A server of its own without the rate limit (a few hundred requests in a row).
    server = launch(fleet.dir, "-listen", "127.0.0.1:0", "-rate-limit", "0")
    try:
        server.wait_listening()
        _malformed(fleet, server, admin, model)
    finally:
        assert server.stop() == 0, server.text


def _fits(shape: Any, value: Any) -> bool:
    """Whether `value`'s own JSON type is the member's (what is inside is not looked at)."""
    if isinstance(value, bool):
        return shape.type_name == "boolean"
    return isinstance(value, {"structure": dict, "map": dict, "list": list, "string": str,
                              "blob": str, "integer": int, "long": int,
                              "double": (int, float), "float": (int, float),
                              "timestamp": (int, float, str)}.get(shape.type_name, object))


def _malformed(fleet: Fleet, server: ApiServer, admin: tuple[str, str], model: Any) -> None:
    name = fleet.name
    admin_ecs = server.boto3(*admin)
    admin_ecs.register_task_definition(**_api_taskdef(f"{name}-probe", "p"))
    admin_ecs.create_service(cluster=name, serviceName="probe",
                             taskDefinition=f"{name}-probe", desiredCount=0)
    valid: dict[str, dict[str, Any]] = {
        "RegisterTaskDefinition": _api_taskdef(f"{name}-probe", "p"),
        "DescribeTaskDefinition": {"taskDefinition": f"{name}-probe"},
        "ListTaskDefinitions": {},
        "DeregisterTaskDefinition": {"taskDefinition": f"{name}-nothing:1"},
        "DescribeClusters": {"clusters": [name]},
        "ListClusters": {},
        "RunTask": {"cluster": name, "taskDefinition": f"{name}-job", "count": 1},
        "StopTask": {"cluster": name, "task": "a" * 32},
        "DescribeTasks": {"cluster": name, "tasks": ["a" * 32]},
        "ListTasks": {"cluster": name},
        # The service exists: after the checks, "not idempotent" (nothing made).
        "CreateService": {"cluster": name, "serviceName": "probe",
                          "taskDefinition": f"{name}-probe", "desiredCount": 0},
        "UpdateService": {"cluster": name, "service": "probe", "desiredCount": 0},
        "DescribeServices": {"cluster": name, "services": ["probe"]},
        "ListServices": {"cluster": name},
        "DeleteService": {"cluster": name, "service": "ghost"},
    }
    assert set(valid) == set(ACTIONS)
    bad = []
    for action, params in valid.items():
        members = model.operation_model(action).input_shape.members
        for member in members:
            if action == "RunTask" and member in ("cluster", "taskDefinition", "count"):
                continue  # the rest valid, each of these wrong starts nothing
            for value in WRONG:
                status, _, body = server.call(action, {**params, member: value}, *admin)
                if not _fits(members[member], value):
                    # Refused before the action runs (a RunTask starts nothing).
                    if status != 400 or body.get("__type") != "SerializationException" \
                            or f"{action}: {member}" not in body.get("message", ""):
                        bad.append((action, member, value, status, body))
                elif status >= 500 or not isinstance(body, dict) or (
                        status != 200 and "__type" not in body) or (
                        body.get("__type") == "ThrottlingException"):
                    bad.append((action, member, value, status, body))
    for member in ("cluster", "taskDefinition", "count"):
        # (7 is a valid count; family "x" exists: RegisterTaskDefinition's family "x" made it)
        for value in [v for v in WRONG if (member, v) not in (("count", 7),
                                                              ("taskDefinition", "x"))]:
            status, _, body = server.call("RunTask", {**valid["RunTask"], member: value},
                                          *admin)
            if status != 400 or "__type" not in body:
                bad.append(("RunTask", member, value, status, body))
    admin_ecs.delete_service(cluster=name, service="probe", force=True)
    assert not bad, "\n".join(map(repr, bad))
