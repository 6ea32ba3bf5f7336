"""Request members of the wrong JSON type, checked against botocore's ECS model before any
action runs (plain data, no server)."""

from __future__ import annotations

from typing import Any

import pytest

from fgform.api import handlers  # noqa: F401 - registers the actions
from fgform.api.actions import ACTIONS
from fgform.api.ecs_model import ecs_model, type_problem


def _taskdef(**container: Any) -> dict[str, Any]:
    return {"family": "web", "containerDefinitions": [
        {"name": "web", "image": "busybox", "cpu": 128, "essential": True,
         "environment": [{"name": "A", "value": "1"}], **container}]}


@pytest.mark.parametrize(("action", "params"), [
    ("ListClusters", {}),
    ("ListClusters", {"maxResults": 10, "nextToken": "t"}),
    ("RunTask", {"taskDefinition": "job", "count": 2, "startedBy": "ci",
                 "overrides": {"containerOverrides": [{"name": "job", "command": ["x"]}]}}),
    ("RegisterTaskDefinition", _taskdef()),
    # Members the model does not know are ignored (as AWS does); null is an absent member.
    ("DescribeClusters", {"clusters": ["a"], "somethingNew": 7}),
    ("UpdateService", {"service": "web", "desiredCount": None}),
    ("CreateService", {"serviceName": "web", "deploymentConfiguration": {
        "maximumPercent": 200, "deploymentCircuitBreaker": {"enable": True,
                                                           "rollback": False}}}),
])
def test_well_typed_requests_pass(action: str, params: dict[str, Any]) -> None:
    assert type_problem(action, params) is None


@pytest.mark.parametrize(("action", "params", "message"), [
    ("RunTask", {"taskDefinition": "job", "group": 7},
     "RunTask: group must be a string, not a number."),
    ("RunTask", {"taskDefinition": "job", "count": "2"},
     "RunTask: count must be an integer, not a string."),
    ("RunTask", {"taskDefinition": "job", "count": True},
     "RunTask: count must be an integer, not a boolean."),
    ("UpdateService", {"service": "web", "forceNewDeployment": "yes"},
     "UpdateService: forceNewDeployment must be true or false, not a string."),
    ("DescribeClusters", {"clusters": "a"},
     "DescribeClusters: clusters must be a list, not a string."),
    ("DescribeClusters", {"clusters": ["a", {"b": 1}]},
     "DescribeClusters: clusters[1] must be a string, not an object."),
    ("RunTask", {"taskDefinition": "job", "overrides": [{}]},
     "RunTask: overrides must be an object, not a list."),
    ("RegisterTaskDefinition", _taskdef(cpu=1.5),
     "RegisterTaskDefinition: containerDefinitions[0].cpu must be an integer, not a number."),
    ("RegisterTaskDefinition", _taskdef(dockerLabels={"a": 1}),
     "RegisterTaskDefinition: containerDefinitions[0].dockerLabels.a must be a string, "
     "not a number."),
])
def test_a_member_of_the_wrong_type_is_named(action: str, params: dict[str, Any],
                                             message: str) -> None:
    assert type_problem(action, params) == message


def test_the_value_itself_is_never_in_the_message() -> None:
    # An environment value is often a secret: the message names where, never what.
    problem = type_problem("RegisterTaskDefinition",
                           _taskdef(environment=[{"name": "TOKEN", "value": 918273645}]))
    assert problem == ("RegisterTaskDefinition: containerDefinitions[0].environment[0].value "
                       "must be a string, not a number.")
    assert "918273645" not in problem


def test_every_served_action_is_in_the_model_and_others_are_not_checked() -> None:
    assert set(ACTIONS) <= set(ecs_model().operation_names)
    assert type_problem("TestSleep", {"seconds": "x"}) is None
