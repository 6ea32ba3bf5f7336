"""plan/planfile.py: saved plans round-trip losslessly and go stale when they should."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fgform.plan.planfile import (
    PlanFileError,
    StalePlanError,
    check_stale,
    config_hash,
    decode_value,
    encode_value,
    load_plan,
    save_plan,
)
from fgform.render.json_plan import plan_json
from fgform.render.text import render_plan
from fgform.state.model import StateFile
from fgform.values import UNKNOWN, Sensitive

from helpers.plan_fixtures import cached_plan as plan_case

FIX = Path(__file__).parent / "fixtures" / "plan"


def test_unknown_is_encoded_losslessly() -> None:
    v = {"a": UNKNOWN, "b": [1, UNKNOWN, {"c": UNKNOWN}],
         "tricky": {"__fgform_unknown__": True}}
    enc = encode_value(v)
    assert decode_value(json.loads(json.dumps(enc))) == v


@pytest.mark.parametrize("case", ["replace_force_new", "drift", "destroy", "create",
                                  "deposed_objects"])
def test_round_trip(tmp_path: Path, case: str) -> None:
    plan = plan_case(FIX / case)
    plan.variables["api_key"] = Sensitive("s3cr3t")
    path = tmp_path / "plan.fgplan"
    save_plan(plan, path)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    data = json.loads(path.read_text())
    assert data["variables"]["api_key"]["sensitive"] is True
    loaded = load_plan(path)
    assert plan_json(loaded) == plan_json(plan)
    assert render_plan(loaded) == render_plan(plan)
    assert loaded.changes == plan.changes
    assert isinstance(loaded.variables["api_key"], Sensitive)
    # Without its diffs (show -json): the same JSON, the diffs still checked.
    light = load_plan(path, diffs=False)
    assert plan_json(light) == plan_json(plan)
    assert all(not c.diffs for c in light.changes + light.drift)
    assert [c.address for c in light.changes] == [c.address for c in plan.changes]
    diffs = [d for c in data["changes"] for d in c.get("diffs", [])]
    if diffs:
        diffs[0]["kind"] = "bogus"
        path.write_text(json.dumps(data))
        with pytest.raises(PlanFileError, match="kind"):
            load_plan(path, diffs=False)


def _state(serial: int = 4, lineage: str = "L1") -> StateFile:
    return StateFile(lineage=lineage, serial=serial)


def _plan_against(state: StateFile | None):
    plan = plan_case(FIX / "noop")
    plan.state_lineage = state.lineage if state else None
    plan.state_serial = state.serial if state else None
    plan.config_hash = "H"
    return plan


def test_fresh_plan_passes() -> None:
    check_stale(_plan_against(_state()), _state(), "H")
    check_stale(_plan_against(None), None, "H")


def test_serial_moved() -> None:
    with pytest.raises(StalePlanError, match=r"state was changed since the plan was made "
                                             r"\(serial 4 -> 5\)"):
        check_stale(_plan_against(_state(4)), _state(5), "H")


def test_lineage_changed() -> None:
    with pytest.raises(StalePlanError, match="different state"):
        check_stale(_plan_against(_state(4, "L1")), _state(4, "L2"), "H")


def test_config_changed() -> None:
    with pytest.raises(StalePlanError, match="configuration was changed"):
        check_stale(_plan_against(_state()), _state(), "other")


def test_plan_without_state_refuses_once_a_state_exists() -> None:
    # Terraform issue 24078: two plans made before the first apply must not both apply.
    with pytest.raises(StalePlanError, match="no state"):
        check_stale(_plan_against(None), _state(1), "H")


def test_state_removed() -> None:
    with pytest.raises(StalePlanError, match="no longer exists"):
        check_stale(_plan_against(_state()), None, "H")


def test_config_hash_covers_config_and_modules(tmp_path: Path) -> None:
    (tmp_path / "main.hcl").write_text('resource "fg_cluster" "a" {}\n')
    (tmp_path / "modules" / "m").mkdir(parents=True)
    (tmp_path / "modules" / "m" / "main.tf").write_text("")
    (tmp_path / ".fgform").mkdir()
    h1 = config_hash(tmp_path)
    (tmp_path / ".fgform" / "cache.hcl").write_text("x")  # caches are not configuration
    (tmp_path / "notes.txt").write_text("x")
    assert config_hash(tmp_path) == h1
    (tmp_path / "modules" / "m" / "main.tf").write_text("# edit\n")
    h2 = config_hash(tmp_path)
    assert h2 != h1
    (tmp_path / "prod.fgvars").write_text("replicas = 3\n")
    assert config_hash(tmp_path) != h2


def test_not_a_plan_file(tmp_path: Path) -> None:
    p = tmp_path / "x"
    p.write_text("{}")
    with pytest.raises(PlanFileError):
        load_plan(p)
