"""The applier tells every driver's delete whether the object is being replaced (a registry
keeps its data volume for its successor) or the instance destroyed; and the workflow acts on
the fleet it is given. No Docker: the in-memory fleet of tests/helpers/fakefleet.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from fgform import workflow
from fgform.addresses import parse_address
from fgform.apply.executor import apply_plan
from fgform.errors import DockerUnavailableError
from fgform.fleet.driver import FleetContext
from fgform.plan.model import Action, Plan, PlanMode, ResourceChange
from fgform.state.model import InstanceState, StateFile

from helpers.fakefleet import FakeFleet

REG = parse_address("fg_registry.main")
NEW = {"port": 5000, "bind_address": "127.0.0.1", "image": None}


def _state(deposed: str = "", current: bool = True) -> StateFile:
    st = StateFile(lineage="l")
    if current:
        st.set(REG, InstanceState(None, {**NEW, "id": "reg-old", "volume": "v"}))
    if deposed:
        st.set_deposed(REG, deposed, {**NEW, "id": "reg-deposed", "volume": "v"})
    return st


def _deletes(change: ResourceChange, state: StateFile,
             mode: PlanMode = PlanMode.NORMAL) -> list[tuple[str, bool]]:
    fleet = FakeFleet()
    result = apply_plan(Plan([change], state, mode=mode), state, fleet.drivers,
                        FleetContext(lineage="l"), lambda _st: None)
    assert result.ok, result.errors
    return fleet.deletes


def _change(action: Action, **kw) -> ResourceChange:  # type: ignore[no-untyped-def]
    before = {**NEW, "id": "reg-old", "volume": "v"}
    after = None if action is Action.DELETE else dict(NEW)
    return ResourceChange(REG, action, before=before, after=after, **kw)


@pytest.mark.parametrize("action, mode, replacing", [
    (Action.DELETE_THEN_CREATE, PlanMode.NORMAL, True),
    (Action.CREATE_THEN_DELETE, PlanMode.NORMAL, True),  # the deposed old object goes
    (Action.DELETE, PlanMode.NORMAL, False),  # removed from the configuration
    (Action.DELETE, PlanMode.DESTROY, False),
])
def test_delete_says_whether_it_replaces(action: Action, mode: PlanMode,
                                         replacing: bool) -> None:
    change = _change(action, create_before_destroy=action is Action.CREATE_THEN_DELETE)
    assert _deletes(change, _state(), mode) == [("fg_registry.main", replacing)]


@pytest.mark.parametrize("mode, current, replacing", [
    (PlanMode.NORMAL, True, True),  # a left-over old object: its successor is current
    (PlanMode.DESTROY, False, False),  # nothing is left using the data
])
def test_a_deposed_object_keeps_the_data_while_the_instance_lives(
        mode: PlanMode, current: bool, replacing: bool) -> None:
    change = _change(Action.DELETE)
    change.deposed = "ab12cd34"
    assert _deletes(change, _state("ab12cd34", current), mode) == [
        ("fg_registry.main", replacing)]


CONFIG = 'resource "fg_target_group" "web" { port = 80 }\n'


def test_plan_and_apply_act_on_the_fleet_passed_in(tmp_path: Path) -> None:
    (tmp_path / "main.hcl").write_text(CONFIG)
    wd = workflow.open_working_dir(tmp_path)
    fleet = FakeFleet()
    plan = workflow.make_plan(wd, fleet)
    assert [(str(c.address), c.action) for c in plan.changes] == [
        ("fg_target_group.web", Action.CREATE)]
    outcome = workflow.apply(wd, fleet, plan)
    assert outcome.result.ok, outcome.result.errors
    (key, attrs), = fleet.objects.items()
    assert key[1:] == ("fg_target_group", attrs["id"]) and attrs["port"] == 80
    # Refresh reads the same fleet: one look for the whole type, and nothing to change.
    looks = fleet.looks
    again = workflow.make_plan(wd, fleet)
    assert fleet.looks == looks + 1 and not again.has_changes
    # Deleted outside fgform: refresh sees it gone and the plan makes it again.
    fleet.objects.clear()
    assert [c.action for c in workflow.make_plan(wd, fleet).changes] == [Action.CREATE]


def test_apply_refuses_before_anything_changes_when_the_fleet_is_unreachable(
        tmp_path: Path) -> None:
    (tmp_path / "main.hcl").write_text(
        'resource "fg_cluster" "main" { cidr_block = "10.10.0.0/24" }\n')
    wd = workflow.open_working_dir(tmp_path)
    fleet = FakeFleet(reachable=False)
    plan = workflow.make_plan(wd, fleet)
    with pytest.raises(DockerUnavailableError):
        workflow.apply(wd, fleet, plan)
    assert fleet.objects == {} and wd.store.read() is None
