"""fgform/fleet/swarm/removal.py: a Swarm service is removed only once its task list has
settled (Engine 20.10's manager dies when a task it is about to mark REMOVE was deleted in
between). The waiting logic, on scripted task lists and a fake clock."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from docker.errors import NotFound

from fgform.fleet.swarm import removal


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class Api:
    """`client.api` answering `tasks` from a script (one answer per call, the last one
    repeated), and recording when `remove_service` came."""

    def __init__(self, clock: Clock, script: list[list[str] | None]) -> None:
        self.clock = clock
        self.script = script
        self.calls = 0
        self.removed_at: float | None = None
        self.seen_at_removal: list[str] | None = None

    def _answer(self) -> list[str] | None:
        answer = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        return answer

    def tasks(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        assert filters == {"service": "svc1"}
        ids = self._answer()
        if ids is None:
            raise NotFound("service svc1 not found")
        return [{"ID": i} for i in ids]

    def remove_service(self, service_id: str) -> None:
        assert service_id == "svc1"
        self.removed_at = self.clock.now
        if self.script[-1] is None:
            raise NotFound("service svc1 not found")


class Client:
    def __init__(self, api: Api) -> None:
        self.api = api


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    c = Clock()
    monkeypatch.setattr(removal.time, "monotonic", c.monotonic)
    monkeypatch.setattr(removal.time, "sleep", c.sleep)
    yield c


def remove(clock: Clock, script: list[list[str] | None], wait: float = 30.0) -> Api:
    api = Api(clock, script)
    removal.remove_service(Client(api), "svc1", clock.now + wait)  # type: ignore[arg-type]
    return api


def test_a_service_without_tasks_is_removed_at_once(clock: Clock) -> None:
    api = remove(clock, [[]])
    assert api.removed_at == 100.0
    assert api.calls == 1


def test_removal_waits_for_the_task_list_to_stay_the_same(clock: Clock) -> None:
    # The reaper deletes a, then c; then nothing changes.
    script: list[list[str] | None] = [["a", "b", "c", "d"], ["b", "c", "d"], ["b", "c", "d"],
                                      ["b", "d"], ["b", "d"]]
    api = remove(clock, script)
    last_change = 100.0 + 3 * removal.POLL  # the fourth look saw c gone
    assert api.removed_at is not None
    assert api.removed_at >= last_change + removal.SETTLE
    assert api.removed_at < last_change + removal.SETTLE + 2 * removal.POLL


def test_a_list_that_empties_is_removed_when_it_is_empty(clock: Clock) -> None:
    api = remove(clock, [["a", "b"], ["b"], []])
    assert api.removed_at == 100.0 + 2 * removal.POLL


def test_tasks_that_never_settle_are_removed_at_the_deadline(clock: Clock) -> None:
    churn: list[list[str] | None] = [[f"t{i}"] for i in range(1000)]
    api = remove(clock, churn, wait=5.0)
    assert api.removed_at is not None
    assert 105.0 <= api.removed_at < 105.0 + 2 * removal.POLL


def test_a_service_removed_meanwhile_is_not_an_error(clock: Clock) -> None:
    api = remove(clock, [["a"], None])
    assert api.removed_at == 100.0 + removal.POLL
