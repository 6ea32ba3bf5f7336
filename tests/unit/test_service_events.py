"""A service's event log and deployments (pure), the plan's repair reason for a failed
deployment, and `fgform events` / `fgform tasks` reading them from state."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from fgform.addresses import parse_address
from fgform.config.schema import get_schema
from fgform.fleet import events as EV
from fgform.state.model import InstanceState, StateFile
from fgform.state.paths import default_state_path
from fgform.state.store import StateStore

from helpers.cli import Boundary as _Boundary


def test_event_log_is_bounded_newest_last() -> None:
    log = EV.EventLog("web", [{"at": "t", "message": "old"}, "junk"])
    for i in range(EV.LIMIT + 5):
        log.add(f"event {i}")
    out = log.to_attr()
    assert len(out) == EV.LIMIT
    assert out[-1]["message"] == f"(service web) event {EV.LIMIT + 4}"
    assert out[0]["message"] == "(service web) event 5"
    assert out[-1]["at"].endswith("Z")


def test_tasks_phrase() -> None:
    assert EV.tasks_phrase(["3f2a", "9e8d"]) == "2 tasks: (task 3f2a) (task 9e8d)"
    assert EV.tasks_phrase(["3f2a"]) == "1 task: (task 3f2a)"


def task(rev: str) -> dict[str, str]:
    return {"id": "x", "task_definition": rev}


def test_deployments_completed() -> None:
    deps = EV.deployments([task("web:2")] * 2, 2, "web:2", EV.COMPLETED)
    assert deps == [{"status": "PRIMARY", "task_definition": "web:2", "desired_count": 2,
                     "pending_count": 0, "running_count": 2, "failed_tasks": 0,
                     "rollout_state": "COMPLETED", "rollout_state_reason": ""}]


def test_deployments_rolled_back() -> None:
    deps = EV.deployments([task("web:1")] * 2, 2, "web:1", EV.COMPLETED, failed=3,
                          reason="tasks failed", failed_revision="web:2")
    assert [(d["status"], d["task_definition"], d["rollout_state"], d["failed_tasks"])
            for d in deps] == [("PRIMARY", "web:1", "COMPLETED", 0),
                               ("INACTIVE", "web:2", "FAILED", 3)]


def test_deployments_stopped_where_it_is() -> None:
    deps = EV.deployments([task("web:1"), task("web:2")], 2, "web:2", EV.FAILED, failed=3,
                          reason="r", failed_revision="web:2")
    assert [(d["status"], d["task_definition"], d["running_count"], d["rollout_state"])
            for d in deps] == [("PRIMARY", "web:2", 1, "FAILED"),
                               ("ACTIVE", "web:1", 1, "COMPLETED")]


def test_plan_flags_a_failed_deployment() -> None:
    repair = get_schema("fg_service").needs_repair
    assert repair is not None
    ok = {"running_count": 2, "desired_count": 2, "tasks": [], "targets": [],
          "deployments": EV.deployments([task("web:2")] * 2, 2, "web:2", EV.COMPLETED)}
    assert repair(ok) is None
    bad = dict(ok, deployments=EV.deployments([task("web:1")] * 2, 2, "web:1", EV.COMPLETED,
                                              3, "tasks failed to start or become healthy",
                                              "web:2"))
    assert repair(bad) == ("its last deployment (web:2) failed: tasks failed to start or "
                           "become healthy")


def _state(tmp_path: Path) -> Path:
    st = StateFile(lineage="6f1c0b6e-1f2d-4d9e-9a51-2f0c3d8e7a10", serial=1)
    st.set(parse_address("fg_service.web"), InstanceState(None, {
        "id": "main/web", "name": None, "desired_count": 2, "task_definition": "web:1",
        "events": [{"at": "2026-01-01T00:00:00Z", "message": "(service web) has started 2 "
                    "tasks: (task a) (task b)."},
                   {"at": "2026-01-01T00:00:09Z", "message": "(service web) deployment "
                    "failed: tasks failed to become healthy; rolling back to web:1"}],
        "deployments": EV.deployments([task("web:1")] * 2, 2, "web:1", EV.COMPLETED, 3,
                                      "tasks failed", "web:2")}))
    StateStore(default_state_path(str(tmp_path))).write(st)
    return tmp_path


def fg(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(_Boundary(), list(args), env={"NO_COLOR": "1"})
    return r.exit_code, r.stdout, r.stderr


def test_events_command_lists_the_log_newest_last(tmp_path: Path) -> None:
    d = _state(tmp_path)
    for name in ("web", "fg_service.web", "main/web"):
        code, out, _ = fg(f"-chdir={d}", "events", name)
        assert code == 0
        assert out.splitlines() == [
            "2026-01-01T00:00:00Z  (service web) has started 2 tasks: (task a) (task b).",
            "2026-01-01T00:00:09Z  (service web) deployment failed: tasks failed to become "
            "healthy; rolling back to web:1"]
    code, _, err = fg(f"-chdir={d}", "events", "api")
    assert code == 1
    assert err.startswith("Error: no service named 'api' in the state")
    assert "fg_service.web" in err
