"""render/json_plan.py against the shapes of Terraform 1.11's own JSON (a checked-in sample
made with `terraform plan -out p && terraform show -json p` on terraform_data resources)."""

from __future__ import annotations

import json
from pathlib import Path

from fgform.addresses import Address
from fgform.plan.model import Action, Plan, ResourceChange
from fgform.render.json_plan import (
    omit_unknowns,
    plan_json,
    sensitive_as_bool,
    state_json,
    unknown_as_bool,
)
from fgform.values import UNKNOWN

from helpers.plan_fixtures import cached_plan as plan_case

FIX = Path(__file__).parent / "fixtures" / "plan"
TF_PLAN = json.loads((FIX / "terraform_1.11_plan.json").read_text())
TF_STATE = json.loads((FIX / "terraform_1.11_state.json").read_text())


def _plan(case: str) -> dict:
    return plan_json(plan_case(FIX / case))


def test_top_level_keys_match_terraform() -> None:
    ours = _plan("drift")
    # Terraform's relevant_attributes is an optimisation hint we do not produce.
    assert set(TF_PLAN) - {"relevant_attributes"} <= set(ours)
    assert ours["format_version"] == TF_PLAN["format_version"] == "1.2"
    assert set(ours) - set(TF_PLAN) == {"resource_drift"} or "resource_drift" in TF_PLAN


def test_resource_change_shapes_match_terraform() -> None:
    ours = _plan("replace_force_new")
    tf_by_action = {tuple(rc["change"]["actions"]): rc for rc in TF_PLAN["resource_changes"]}
    our_by_action = {tuple(rc["change"]["actions"]): rc for rc in ours["resource_changes"]}
    for actions in [("update",), ("delete", "create")]:
        tf, us = tf_by_action[actions], our_by_action[actions]
        tf_keys = set(tf) - {"index"}  # index only on counted instances, as ours
        assert tf_keys == set(us) - {"index"}, actions
        assert set(tf["change"]) == set(us["change"]), actions
    rc = our_by_action[("delete", "create")]
    assert rc["action_reason"] == "replace_because_cannot_update"
    assert all(isinstance(p, list) for p in rc["change"]["replace_paths"])
    assert rc["mode"] == "managed" and rc["provider_name"] == "fgform"


def test_delete_change_matches_terraform() -> None:
    tf = next(rc for rc in TF_PLAN["resource_changes"] if rc["change"]["actions"] == ["delete"])
    us = next(rc for rc in _plan("deletes")["resource_changes"]
              if rc["change"]["actions"] == ["delete"])
    assert set(tf) == set(us) - {"index"}
    assert us["change"]["after"] is None and us["change"]["after_sensitive"] is False
    assert us["change"]["after_unknown"] == tf["change"]["after_unknown"] == {}


def test_output_changes_match_terraform() -> None:
    ours = _plan("image_rebuild_propagates")["output_changes"]["task_definition"]
    tf = TF_PLAN["output_changes"]["o"]  # also an update to an unknown value
    assert set(ours) == set(tf) and "after" not in ours and ours["after_unknown"] is True


def test_prior_state_and_state_json_match_terraform() -> None:
    ours = _plan("noop")["prior_state"]
    assert set(ours) == set(TF_PLAN["prior_state"])
    tf_res = TF_PLAN["prior_state"]["values"]["root_module"]["resources"]
    our_res = ours["values"]["root_module"]["resources"]
    assert set(tf_res[0]) <= set(our_res[0]) | {"depends_on"}
    with_deps = next(r for r in our_res if r.get("depends_on"))
    tf_with_deps = next(r for r in tf_res if r.get("depends_on"))
    assert set(with_deps) - {"index"} == set(tf_with_deps) - {"index"}
    assert set(ours["values"]["outputs"]["url"]) == set(
        TF_PLAN["prior_state"]["values"]["outputs"]["o"])
    from fgform.state.model import StateFile
    st = StateFile.from_dict(json.loads((FIX / "noop" / "state.json").read_text()))
    sj = state_json(st)
    assert set(sj) == set(TF_STATE) and sj["format_version"] == TF_STATE["format_version"]


def test_configuration_shape() -> None:
    conf = _plan("create")["configuration"]
    assert set(conf) == set(TF_PLAN["configuration"])
    res = {r["address"]: r for r in conf["root_module"]["resources"]}
    tf_res = TF_PLAN["configuration"]["root_module"]["resources"][0]
    assert set(tf_res) == set(res["fg_registry.main"])
    img = res["fg_image.web"]["expressions"]
    assert img["registry"] == {"references": ["fg_registry.main.id", "fg_registry.main"]}
    assert img["repository"] == {"constant_value": "web"}
    assert conf["root_module"]["variables"]["api_key"] == {"default": "s3cr3t",
                                                           "sensitive": True}


def test_unknown_and_sensitive_helpers_follow_terraform() -> None:
    v = {"a": UNKNOWN, "b": [1, UNKNOWN], "c": {"d": 1}, "e": None}
    assert omit_unknowns(v) == {"b": [1, None], "c": {"d": 1}, "e": None}
    assert unknown_as_bool(v) == {"a": True, "b": [False, True], "c": {}}
    assert sensitive_as_bool({"x": {"s": 1, "t": 2}, "l": [1]}, [("x", "s")]) == {
        "x": {"s": True}, "l": [False]}


def test_sensitive_values_flagged() -> None:
    ours = _plan("update_in_place")
    td = next(rc for rc in ours["resource_changes"]
              if rc["address"] == "fg_task_definition.web")
    assert td["change"]["after_sensitive"]["container"][0]["environment"] == {"API_KEY": True}
    assert ours["output_changes"]["key"]["after_sensitive"] is True


def test_minimal_plan_without_state() -> None:
    p = Plan([ResourceChange(Address("fg_cluster", "c"), Action.CREATE, after={"id": UNKNOWN})],
             None, timestamp="t")
    out = plan_json(p)
    assert "prior_state" not in out and out["applyable"] and out["complete"]
    assert out["resource_changes"][0]["change"]["before_sensitive"] is False
