"""plan/decide.py: the action, its reason and the planned value for one instance."""

from __future__ import annotations

import pytest

from fgform.config.model import Lifecycle
from fgform.config.schema import SCHEMAS
from fgform.plan.decide import PreventDestroyError, apply_ignore_changes, decide
from fgform.plan.model import Action, ActionReason
from fgform.state.model import InstanceState, InstanceStatus
from fgform.values import UNKNOWN

SVC = SCHEMAS["fg_service"]
REG = SCHEMAS["fg_registry"]
TD = SCHEMAS["fg_task_definition"]


def svc(**kw) -> dict:
    base = {"name": None, "cluster": "c1", "task_definition": "web:1", "desired_count": 2,
            "health_check_grace_period": 0, "wait_for_steady_state": True,
            "steady_state_timeout": 300, "load_balancer": [], "deployment": None}
    return base | kw


def svc_state(**kw) -> InstanceState:
    return InstanceState(None, svc(id="s-1", running_count=2, tasks=[]) | kw)


def test_create_makes_computed_unknown() -> None:
    d = decide(None, svc(), SVC, Lifecycle())
    assert d.action is Action.CREATE and d.reason is ActionReason.NONE
    assert d.planned["id"] is UNKNOWN and d.planned["running_count"] is UNKNOWN
    assert d.planned["desired_count"] == 2


def test_noop_keeps_prior_value() -> None:
    d = decide(svc_state(), svc(), SVC, Lifecycle())
    assert d.action is Action.NOOP and d.planned["id"] == "s-1" and d.diffs == []


def test_update_keeps_computed_except_recomputed_on_update() -> None:
    d = decide(svc_state(), svc(desired_count=3), SVC, Lifecycle())
    assert d.action is Action.UPDATE
    assert d.planned["id"] == "s-1"
    assert d.planned["running_count"] is UNKNOWN and d.planned["tasks"] is UNKNOWN


def test_force_new_replaces_and_create_before_destroy() -> None:
    prior = svc_state()
    d = decide(prior, svc(cluster="c2"), SVC, Lifecycle(), False)
    assert (d.action, d.reason, d.replace_paths) == (
        Action.DELETE_THEN_CREATE, ActionReason.REPLACE_BECAUSE_CANNOT_UPDATE, [["cluster"]])
    d = decide(prior, svc(cluster="c2"), SVC, Lifecycle(create_before_destroy=True))
    assert d.action is Action.CREATE_THEN_DELETE
    assert d.planned["id"] is UNKNOWN  # a new object


def test_unknown_force_new_value_replaces() -> None:
    d = decide(svc_state(), svc(cluster=UNKNOWN), SVC, Lifecycle())
    assert d.action is Action.DELETE_THEN_CREATE


def test_tainted_and_requested() -> None:
    tainted = svc_state()
    tainted.status = InstanceStatus.TAINTED
    assert decide(tainted, svc(), SVC, None).reason is ActionReason.REPLACE_BECAUSE_TAINTED
    d = decide(svc_state(), svc(), SVC, None, replace_requested=True)
    assert (d.action, d.reason, d.replace_paths) == (
        Action.DELETE_THEN_CREATE, ActionReason.REPLACE_BY_REQUEST, [])


def test_delete_with_reason() -> None:
    d = decide(svc_state(), None, SVC, None,
               delete_reason=ActionReason.DELETE_BECAUSE_COUNT_INDEX)
    assert (d.action, d.reason, d.planned) == (Action.DELETE,
                                               ActionReason.DELETE_BECAUSE_COUNT_INDEX, None)


def test_prevent_destroy_names_the_resource() -> None:
    with pytest.raises(PreventDestroyError, match="fg_service.web"):
        decide(svc_state(), None, SVC, Lifecycle(prevent_destroy=True), address="fg_service.web")
    with pytest.raises(PreventDestroyError, match="fg_service.web"):
        decide(svc_state(), svc(cluster="c2"), SVC, Lifecycle(prevent_destroy=True),
               address="fg_service.web")
    # an in-place update is fine
    assert decide(svc_state(), svc(desired_count=5), SVC,
                  Lifecycle(prevent_destroy=True)).action is Action.UPDATE


def test_ignore_changes_keeps_prior_values() -> None:
    lc = Lifecycle(ignore_changes=["desired_count"])
    d = decide(svc_state(), svc(desired_count=9), SVC, lc)
    assert d.action is Action.NOOP
    assert apply_ignore_changes({"a": 1, "b": 2}, {"a": 5, "b": 6},
                                Lifecycle(ignore_changes=["all"])) == {"a": 1, "b": 2}


def test_needs_repair_plans_an_update() -> None:
    d = decide(svc_state(running_count=1), svc(), SVC, Lifecycle())
    assert d.action is Action.UPDATE
    assert d.repair == "running_count is 1 but desired_count is 2"
    assert [x.path for x in d.diffs] == [("running_count",), ("targets",), ("tasks",)]


def test_a_target_missing_from_its_load_balancer_plans_a_repair() -> None:
    lb = [{"target_group": "tg-web", "container_name": "web", "container_port": 8080}]
    tasks = [{"id": "t1", "address": "10.0.0.2"}, {"id": "t2", "address": "10.0.0.3"}]
    registered = [{"target_group": "tg-web", "id": "t1", "address": "10.0.0.2", "port": 8080},
                  {"target_group": "tg-web", "id": "t2", "address": "10.0.0.3", "port": 8080}]
    ok = svc_state(load_balancer=lb, tasks=tasks, targets=registered)
    assert decide(ok, svc(load_balancer=lb), SVC, Lifecycle()).action is Action.NOOP
    d = decide(svc_state(load_balancer=lb, tasks=tasks, targets=registered[:1]),
               svc(load_balancer=lb), SVC, Lifecycle())
    assert d.action is Action.UPDATE
    assert d.repair == "task t2 is not registered in target group tg-web"


def test_task_definition_update_gets_new_revision() -> None:
    prior = InstanceState(None, {"family": "web", "cpu": 256, "memory": 512, "id": "web",
                                 "revision": 1, "arn": "web:1", "revisions": [],
                                 "container": [{"name": "web", "image": "a"}]})
    d = decide(prior, {"family": "web", "cpu": 256, "memory": 512,
                       "container": [{"name": "web", "image": UNKNOWN}]}, TD, Lifecycle())
    assert d.action is Action.UPDATE
    assert d.planned["arn"] is UNKNOWN and d.planned["revision"] is UNKNOWN


def test_registry_port_change_replaces() -> None:
    prior = InstanceState(None, {"port": 5000, "bind_address": "127.0.0.1", "image": None,
                                 "id": "r", "endpoint": "127.0.0.1:5000", "volume": "v"})
    d = decide(prior, {"port": 5001, "bind_address": "127.0.0.1", "image": None}, REG, None)
    assert d.action is Action.DELETE_THEN_CREATE and d.replace_paths == [["port"]]


def test_load_balancer_endpoints_are_known_at_plan_time() -> None:
    lb_schema = SCHEMAS["fg_load_balancer"]
    cfg = {"name": None, "cluster": "c1", "bind_address": "0.0.0.0", "image": None,
           "listener": [{"port": 8080}, {"port": 9090}]}
    d = decide(None, cfg, lb_schema, Lifecycle())
    assert d.planned["endpoints"] == ["http://127.0.0.1:8080", "http://127.0.0.1:9090"]
    assert d.planned["id"] is UNKNOWN
    prior = InstanceState(None, {**d.planned, "id": "lb", "dns_name": "lb"})
    moved = decide(prior, {**cfg, "listener": [{"port": 8081}, {"port": 9090}]}, lb_schema,
                   Lifecycle())
    assert moved.action is Action.UPDATE
    assert moved.planned["endpoints"] == ["http://127.0.0.1:8081", "http://127.0.0.1:9090"]
    unknown = decide(None, {**cfg, "listener": [{"port": UNKNOWN}]}, lb_schema, Lifecycle())
    assert unknown.planned["endpoints"] is UNKNOWN
