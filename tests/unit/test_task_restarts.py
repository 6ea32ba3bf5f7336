"""Restart policies of task containers and how restarts count (pure; no Docker)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fgform.fleet.docker import labels as L
from fgform.fleet.docker.launch import container_config
from fgform.fleet.docker.live_tasks import CONTAINER, KIND_RUN_TASK, RESTART_POLICY, group_tasks
from fgform.fleet.docker.restarts import (
    CRASH_LOOP_WINDOW,
    crash_looping,
    is_crash_looping,
    restart_note,
    restart_policy,
    restarted_since,
)


def _spec(name: str, essential: bool = True) -> dict[str, Any]:
    return {"name": name, "image": "busybox:1", "essential": essential,
            "command": ["sleep", "9"]}


def _td(*specs: dict[str, Any]) -> dict[str, Any]:
    return {"family": "web", "cpu": 256, "memory": 128, "container": list(specs),
            "arn": "web:1"}


def test_a_service_task_restarts_its_essential_container_whatever_its_exit_code() -> None:
    assert restart_policy(_td(_spec("web")), 0) == "unless-stopped"


def test_a_sidecar_restarts_only_after_a_failure() -> None:
    td = _td(_spec("web"), _spec("log", essential=False), _spec("auth"))
    assert [restart_policy(td, i) for i in range(3)] == ["no", "on-failure",
                                                           "unless-stopped"]


def test_the_namespace_owner_of_a_task_of_several_containers_is_never_restarted() -> None:
    # Restarted in place it would get a new network namespace and cut the others off.
    td = _td(_spec("web"), _spec("side"))
    assert restart_policy(td, 0) == "no" and restart_policy(td, 1) == "unless-stopped"


def test_a_one_off_task_never_restarts() -> None:
    td = _td(_spec("job"), _spec("side", essential=False))
    assert [restart_policy(td, i, KIND_RUN_TASK) for i in range(2)] == ["no", "no"]


def test_the_restart_policy_is_part_of_the_config_hash() -> None:
    td = _td(_spec("job"))
    service = container_config(td, 0, td["container"][0])
    one_off = container_config(td, 0, td["container"][0], kind=KIND_RUN_TASK)
    assert service["restart_policy"] == "unless-stopped" and one_off["restart_policy"] == "no"
    assert L.config_hash(service) != L.config_hash(one_off)


def _row(state: str, status: str, **labels: str) -> dict[str, Any]:
    return {"Id": "c" * 64, "Names": ["/t-web"], "State": state, "Status": status,
            "Labels": {L.TASK_ID: "3f2a1b0c", CONTAINER: "web", **labels}}


def test_the_list_view_shows_a_container_waiting_out_its_restart_delay() -> None:
    (task,) = group_tasks([_row("restarting", "Restarting (7) 2 seconds ago",
                                  **{RESTART_POLICY: "unless-stopped"})])
    assert task.restarting and not task.running and not task.stopped
    assert task.exit_code == 7
    assert task.containers[0].restart_policy == "unless-stopped"
    assert task.restarts is None  # the list call does not count restarts


def test_a_restart_during_a_wait_counts_as_a_crash() -> None:
    since = datetime(2026, 12, 2, 12, 0, 0, tzinfo=UTC)
    after = (since + timedelta(seconds=3)).isoformat().replace("+00:00", "Z")
    before = (since - timedelta(seconds=30)).isoformat().replace("+00:00", "Z")
    assert restarted_since(1, after, since.timestamp())
    # Restarted before the wait began (an earlier crash, mended): not this deployment's.
    assert not restarted_since(2, before, since.timestamp())
    assert not restarted_since(0, after, since.timestamp())
    # Docker's own nanosecond timestamps parse.
    assert restarted_since(1, "2026-12-02T12:00:03.123456789Z", since.timestamp())
    assert restarted_since(1, "garbage", since.timestamp())
    assert restarted_since(1, before, None)


def test_a_crash_loop_is_repeated_restarts_of_a_container_that_cannot_stay_up() -> None:
    assert not crash_looping(1, 0.5)  # one crash: the restart policy mends it
    assert crash_looping(2, 0.5)
    assert crash_looping(2, None)  # waiting out Docker's restart delay
    assert not crash_looping(5, CRASH_LOOP_WINDOW)  # up long enough since
    assert not crash_looping(None, None)


def test_restarts_are_described_for_the_events() -> None:
    (task,) = group_tasks([_row("restarting", "Restarting (7) 1 second ago")])
    task.containers[0].restart_count = 3
    assert is_crash_looping(task)
    assert restart_note(task) == ("its container web was restarted 3 times by its restart "
                                    "policy (last exit code 7)")
    assert task.restarts == 3
