"""The rolling-deployment planner on plain counts: limits, order of steps, stalls."""

from __future__ import annotations

import pytest

from fgform.deployment import (
    Counts,
    breaker,
    failure_threshold,
    healthy_floor,
    next_step,
    running_ceiling,
    settings,
    stalls,
)


def test_rounding_follows_ecs() -> None:
    assert healthy_floor(3, 50) == 2  # rounded up
    assert running_ceiling(3, 150) == 4  # rounded down
    assert healthy_floor(3, 33.3) == 1
    assert healthy_floor(10, 10.1) == 2  # exact decimal, not the float nearest to it
    assert running_ceiling(4, 125) == 5


def simulate(desired: int, lo: float, hi: float, room: int | None = None
             ) -> list[tuple[int, int]]:
    """Run a deployment where every started task turns healthy before the next step;
    check both limits at every moment; return (running, healthy) after each change."""
    c = Counts(desired, old_healthy=desired)
    seen = [(c.running, c.healthy)]
    for _ in range(100):
        step = next_step(c, lo, hi, room)
        assert not step.stuck, step.reason
        if step.done:
            return seen
        assert not step.wait  # nothing is left pending in this simulation
        c = Counts(desired, c.old_healthy - step.stop_healthy, c.old_unhealthy - step.stop_unhealthy,
                   c.new_healthy, c.new_pending)
        seen.append((c.running, c.healthy))
        c = Counts(desired, c.old_healthy, c.old_unhealthy, c.new_healthy, step.start)
        seen.append((c.running, c.healthy))
        assert c.running <= running_ceiling(desired, hi)
        c = Counts(desired, c.old_healthy, c.old_unhealthy, c.new_healthy + c.new_pending, 0)
        seen.append((c.running, c.healthy))
    raise AssertionError("no steady state after 100 steps")


@pytest.mark.parametrize(("desired", "lo", "hi"), [
    (4, 100, 200), (4, 50, 100), (4, 50, 150), (4, 75, 125), (4, 0, 100), (1, 0, 100),
    (1, 100, 200), (3, 50, 150), (10, 90, 110), (7, 100, 120),
])
def test_every_moment_within_both_limits(desired: int, lo: float, hi: float) -> None:
    samples = simulate(desired, lo, hi)
    floor, ceiling = healthy_floor(desired, lo), running_ceiling(desired, hi)
    assert all(running <= ceiling for running, _ in samples), samples
    assert all(healthy >= floor for _, healthy in samples), samples
    assert samples[-1] == (desired, desired)


def test_default_limits_start_all_new_then_stop_all_old() -> None:
    step = next_step(Counts(4, old_healthy=4))
    assert (step.start, step.stop) == (4, 0)
    assert next_step(Counts(4, old_healthy=4, new_pending=4)).wait
    step = next_step(Counts(4, old_healthy=4, new_healthy=4))
    assert (step.start, step.stop_healthy) == (0, 4)
    assert next_step(Counts(4, new_healthy=4)).done


def test_half_healthy_no_surge_stops_before_starting() -> None:
    step = next_step(Counts(4, old_healthy=4), 50, 100)
    assert (step.stop_healthy, step.start) == (2, 2)


def test_unhealthy_old_tasks_always_stop() -> None:
    step = next_step(Counts(2, old_healthy=0, old_unhealthy=2), 100, 100)
    assert (step.stop_unhealthy, step.start) == (2, 2)


def test_pending_tasks_count_against_the_ceiling() -> None:
    step = next_step(Counts(4, old_healthy=4, new_pending=1), 100, 125)
    assert step.wait and step.start == 0


def test_resume_never_exceeds_the_ceiling() -> None:
    # An interrupted deployment left 4 old and 2 new healthy tasks at 100/150 (ceiling 6).
    c = Counts(4, old_healthy=4, new_healthy=2)
    step = next_step(c, 100, 150)
    assert (step.stop_healthy, step.start) == (2, 2)
    assert c.running - step.stop + step.start <= 6


def test_no_room_on_the_fleet_stops_first_only_when_the_floor_allows() -> None:
    # One instance, full: with 50 % one old task may stop to make room ...
    step = next_step(Counts(2, old_healthy=2), 50, 200, room=0)
    assert (step.stop_healthy, step.start) == (1, 0)
    # ... with 100 % none may: the roll cannot place and says so.
    step = next_step(Counts(2, old_healthy=2), 100, 200, room=0)
    assert step.stuck and "no room" in step.reason


@pytest.mark.parametrize(("desired", "lo", "hi", "stuck"), [
    (4, 100, 100, True), (1, 50, 150, True), (2, 50, 150, False), (0, 100, 100, False),
    (1, 0, 100, False), (3, 100, 133, True), (3, 100, 134, False), (3, 100, 133.0, True),
    (3, 100, 140, False),
])
def test_stalls(desired: int, lo: float, hi: float, stuck: bool) -> None:
    assert stalls(desired, lo, hi) is stuck
    step = next_step(Counts(desired, old_healthy=desired), lo, hi)
    assert step.stuck is stuck
    if stuck:
        assert "no task may start or stop" in step.reason


def test_settings_defaults() -> None:
    assert settings({}) == (100, 200)
    assert settings({"deployment": {"minimum_healthy_percent": 50, "maximum_percent": None}}) \
        == (50, 200)


@pytest.mark.parametrize(("desired", "threshold"), [
    (0, 3), (1, 3), (4, 3), (6, 3), (7, 4), (10, 5), (400, 200), (1000, 200)])
def test_failure_threshold_is_ecs(desired: int, threshold: int) -> None:
    assert failure_threshold(desired) == threshold


def test_breaker_settings() -> None:
    assert breaker({}) == (False, False)
    assert breaker({"deployment": {"circuit_breaker": None}}) == (False, False)
    on = {"deployment": {"circuit_breaker": {"enable": True, "rollback": True}}}
    assert breaker(on) == (True, True)
    # Rollback is part of the breaker: without enable it does nothing.
    off = {"deployment": {"circuit_breaker": {"enable": False, "rollback": True}}}
    assert breaker(off) == (False, False)
