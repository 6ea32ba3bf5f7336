"""Destroy forgets what refresh found gone; `apply PLANFILE` without variable values; plan
takes the state lock; reconcile works from state alone. No Docker needed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from fgform import workflow
from fgform.addresses import parse_address
from fgform.cli import Environment, run
from fgform.fleet.fleet import Fleet
from fgform.state.model import InstanceState, StateFile
from fgform.state.store import StateStore

from helpers.cli import NO_DOCKER, fails, fg
from helpers.fakefleet import FakeFleet

A, B = parse_address("fg_target_group.a"), parse_address("fg_target_group.b")


def _tg(name: str) -> dict[str, Any]:
    return {"deregistration_delay": 5, "health_check": None, "id": f"tg-{name}", "name": None,
            "port": 80, "protocol": "HTTP"}


def test_forget_gone_drops_only_what_refresh_found_deleted() -> None:
    st = StateFile(lineage="l")
    st.set(A, InstanceState(None, _tg("a")))
    st.set(B, InstanceState(None, _tg("b"), deposed={"ab12cd34": {"id": "tg-b-old"}}))
    refreshed = StateFile(lineage="l")
    refreshed.set(B, InstanceState(None, None, deposed={"ab12cd34": {"id": "tg-b-old"}}))
    st2 = StateFile.from_dict(st.to_dict())
    assert workflow.forget_gone(st2, refreshed) == [A, B]
    assert st2.addresses() == [] and [k for _, k, _, _ in st2.deposed_objects()] == [
        "ab12cd34"]
    keep = StateFile.from_dict(st.to_dict())
    assert workflow.forget_gone(keep, StateFile.from_dict(st.to_dict())) == []
    assert keep.addresses() == [A, B]


def test_destroy_forgets_a_resource_deleted_outside(tmp_path: Path) -> None:
    from fgform.plan.model import PlanMode
    from fgform.plan.planner import PlanOptions, plan_changes

    (tmp_path / "main.hcl").write_text('resource "fg_target_group" "a" {}\n'
                                       'resource "fg_target_group" "b" {}\n')
    wd = workflow.open_working_dir(tmp_path)
    st = StateFile(lineage="l")
    st.set(A, InstanceState(None, _tg("a")))
    st.set(B, InstanceState(None, _tg("b")))
    wd.store.write(st)
    plan = plan_changes(wd.config, wd.variables, wd.store.read(),
                     {"fg_target_group.a": None, "fg_target_group.b": _tg("b")},
                     PlanOptions(mode=PlanMode.DESTROY, config_dir=str(tmp_path)))
    assert [str(c.address) for c in plan.changes] == ["fg_target_group.b"]
    fleet = FakeFleet()
    outcome = workflow.apply(wd, fleet, plan)
    assert outcome.result.ok, outcome.result.errors
    assert fleet.deletes == [("fg_target_group.b", False)]
    final = wd.store.read()
    assert final is not None and final.addresses() == []


VAR_CONFIG = """
variable "need" { type = string }
output "got" { value = var.need }
"""


def test_apply_saved_plan_needs_no_variable_values(tmp_path: Path) -> None:
    (tmp_path / "main.hcl").write_text(VAR_CONFIG)
    r = fg(f"-chdir={tmp_path}", "plan", "-var", "need=hello", "-out", "p.plan")
    assert r.exit_code == 0, r.output
    r = fg(f"-chdir={tmp_path}", "apply", "p.plan")
    assert r.exit_code == 0, (r.stdout, r.stderr)
    assert 'got = "hello"' in r.stdout
    st = StateStore(workflow.state_only(tmp_path)).read()
    assert st is not None and st.outputs["got"].value == "hello"


def test_plan_takes_the_state_lock(tmp_path: Path) -> None:
    (tmp_path / "main.hcl").write_text('output "x" { value = 1 }\n')
    wd = workflow.open_working_dir(tmp_path)
    with wd.store.lock("OperationTypeApply"):
        err = fails(fg(f"-chdir={tmp_path}", "plan", "-lock-timeout", "0.2s"))
        assert "lock" in err.lower()
    r = fg(f"-chdir={tmp_path}", "plan")
    assert r.exit_code == 0, r.stderr
    with wd.store.lock("OperationTypeApply"):  # released after the plan
        pass


# -- reconcile ----------------------------------------------------------------------------
SVC = parse_address("fg_service.web")


class FakeServiceDriver:
    type_name = "fg_service"

    def __init__(self, running: int, fail: bool = False) -> None:
        self.running, self.fail, self.calls = running, fail, []

    def read(self, ctx, items):  # type: ignore[no-untyped-def]
        return {a: {**attrs, "running_count": self.running} for a, attrs in items.items()}

    def remove_orphans(self, ctx, services):  # type: ignore[no-untyped-def]
        return []

    def reconcile(self, ctx, addr, attrs):  # type: ignore[no-untyped-def]
        self.calls.append((str(addr), attrs["task_definition"]))
        if self.fail:
            raise RuntimeError("engine said no")
        return {**attrs, "running_count": attrs["desired_count"]}


@pytest.fixture
def svc_dir(tmp_path: Path) -> Path:
    # The configuration asks for another revision: reconcile must not apply it.
    (tmp_path / "main.hcl").write_text('output "x" { value = 1 }\n')
    path = workflow.state_only(tmp_path)
    st = StateFile(lineage="l")
    st.set(SVC, InstanceState(None, {"id": "main/web", "cluster": "c", "desired_count": 3,
                                     "running_count": 3, "task_definition": "web:1"}))
    StateStore(path).write(st)
    return tmp_path


def reconcile(svc_dir: Path, fleet: Fleet) -> Result:
    """`fgform reconcile` through the CLI's whole error boundary, on `fleet`."""
    class Boundary:
        name = "fgform"

        def main(self, args, prog_name=None, **_):  # type: ignore[no-untyped-def]
            env = Environment.from_process(list(args))
            env.fleet = fleet
            raise SystemExit(run(list(args), env=env))

    return CliRunner().invoke(Boundary(), [f"-chdir={svc_dir}", "reconcile"], env=NO_DOCKER)


def test_reconcile_restores_from_state(svc_dir: Path) -> None:
    drv = FakeServiceDriver(running=1)
    fleet = FakeFleet(scheduler=drv)
    r = reconcile(svc_dir, fleet)
    assert r.exit_code == 0, r.stderr
    assert drv.calls == [("fg_service.web", "web:1")]
    assert "fg_service.web: restored 2 task(s) (3/3 running)" in r.stdout
    st = StateStore(workflow.state_only(svc_dir)).read()
    assert st is not None and st.get(SVC).attributes["running_count"] == 3
    drv.running = 3
    r = reconcile(svc_dir, fleet)
    assert "fg_service.web: at desired count (3/3 running)" in r.stdout


def test_reconcile_exits_1_on_failure(svc_dir: Path) -> None:
    r = reconcile(svc_dir, FakeFleet(scheduler=FakeServiceDriver(running=1, fail=True)))
    assert r.exit_code == 1
    assert "fg_service.web: engine said no" in r.stderr


