"""The Swarm run-task and nodes on plain data: the job's task template from a task
definition, log lines read with details, exit codes, node facts (no engine)."""

from __future__ import annotations

import pytest

from fgform.errors import FgformError
from fgform.fleet.driver import FleetContext
from fgform.fleet.swarm.nodes import cpu_units, mib, node_facts
from fgform.fleet.swarm.runtask import (
    _exit_code,
    _split_details,
    job_mode,
    job_template,
    run_swarm_task,
)

CTX = FleetContext(lineage="lin-1234567890")
CLUSTER = {"id": "main", "name": "main", "engine": "swarm", "network_name": "fg-net"}
TD = {"family": "job", "arn": "job:3", "cpu": 256, "memory": 128, "container": [{
    "name": "job", "image": "127.0.0.1:5000/app@sha256:ab", "essential": True,
    "command": ["run", "--all"], "entry_point": None, "environment": {"B": "2", "A": "1"},
    "working_directory": "/srv", "user": "app", "stop_timeout": 3}]}


def test_template_from_the_task_definition() -> None:
    template, labels = job_template(CTX, CLUSTER, TD, ["other", "cmd"], {"C": "3"},
                                    ["node.role==worker"])
    spec = template["ContainerSpec"]
    assert spec["Image"] == "127.0.0.1:5000/app@sha256:ab"
    assert spec["Args"] == ["other", "cmd"] and spec.get("Command") is None  # image's entrypoint
    assert spec["Env"] == ["A=1", "B=2", "C=3"]
    assert (spec["Dir"], spec["User"], spec["StopGracePeriod"]) == ("/srv", "app", 3 * 10**9)
    assert template["RestartPolicy"]["Condition"] == "none"
    assert template["Resources"]["Reservations"] == {"NanoCPUs": 250_000_000,
                                                     "MemoryBytes": 128 * 1024 * 1024}
    assert template["Resources"]["Limits"] == {"NanoCPUs": 250_000_000,
                                               "MemoryBytes": 128 * 1024 * 1024}
    assert template["Networks"] == [{"Target": "fg-net"}]
    assert template["Placement"] == {"Constraints": ["node.role==worker"]}
    assert labels["fgform.lineage"] == CTX.lineage and labels["fgform.kind"] == "run-task"
    assert labels["fgform.task-definition"] == "job:3" and labels["fgform.cluster"] == "main"
    assert spec["Labels"] == labels


def test_task_definition_placement_constraints() -> None:
    td = {**TD, "placement_constraints": [
        {"type": "memberOf", "expression": "attribute:zone == a"},
        {"type": "distinctInstance", "expression": None}]}
    template = job_template(CTX, CLUSTER, td, constraints=["node.role==worker"])[0]
    assert template["Placement"] == {
        "Constraints": ["node.labels.zone==a", "node.role==worker"], "MaxReplicas": 1}
    regex = {**TD, "placement_constraints": [
        {"type": "memberOf", "expression": "attribute:zone =~ a.*"}]}
    with pytest.raises(FgformError, match="regular expression"):
        job_template(CTX, CLUSTER, regex)


def test_entry_point_is_swarm_s_command() -> None:
    td = {**TD, "container": [{**TD["container"][0], "entry_point": ["/bin/sh", "-c"],
                               "command": ["echo hi"]}]}
    spec = job_template(CTX, CLUSTER, td)[0]["ContainerSpec"]
    assert (spec["Command"], spec["Args"]) == (["/bin/sh", "-c"], ["echo hi"])


def test_each_task_runs_once() -> None:
    assert job_mode(3) == {"replicated": {"Replicas": 3}}


@pytest.mark.parametrize(("task", "code"), [
    ({"Status": {"State": "complete", "ContainerStatus": {"ExitCode": 0}}}, 0),
    ({"Status": {"State": "failed", "ContainerStatus": {"ExitCode": 42}}}, 42),
    ({"Status": {"State": "complete"}}, 0),
    ({"Status": {"State": "shutdown"}}, 137),
])
def test_exit_codes(task: dict, code: int) -> None:
    assert _exit_code(task) == code


def test_log_lines_with_details() -> None:
    line = ("com.docker.swarm.node.id=n1,com.docker.swarm.service.id=s1,"
            "com.docker.swarm.task.id=t1 hello world")
    assert _split_details(line) == ("t1", "hello world")
    assert _split_details("no details here") == ("", "no details here")


def test_refused_before_any_call() -> None:
    two = {**TD, "container": [TD["container"][0], {**TD["container"][0], "name": "side"}]}
    with pytest.raises(FgformError, match="exactly one container"):
        run_swarm_task(None, CTX, CLUSTER, two)  # type: ignore[arg-type]
    with pytest.raises(FgformError, match="no network_name"):
        run_swarm_task(None, CTX, {"id": "main"}, TD)  # type: ignore[arg-type]
    with pytest.raises(FgformError, match="count of at least 1"):
        run_swarm_task(None, CTX, CLUSTER, TD, count=0)  # type: ignore[arg-type]


def test_node_facts() -> None:
    node = {"ID": "n1", "Description": {"Hostname": "vm", "Resources": {
        "NanoCPUs": 2_000_000_000, "MemoryBytes": 25275973632}},
        "Spec": {"Role": "manager", "Availability": "drain", "Labels": {"zone": "a"}},
        "Status": {"State": "ready"}}
    assert node_facts(node) == {"id": "n1", "hostname": "vm", "role": "manager",
                                "state": "ready", "availability": "drain", "cpu": 2048,
                                "memory": 24105, "attributes": {"zone": "a"}}
    assert (cpu_units(500_000_000), mib(64 * 1024 * 1024)) == (512, 64)
