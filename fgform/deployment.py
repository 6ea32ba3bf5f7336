"""The rolling-deployment planner: pure arithmetic on task counts, no Docker.

A deployment replaces the tasks of one revision (old) with tasks of another (new) under two
limits, as ECS does:

- at least `minimum_healthy_percent` of `desired_count` tasks are healthy at every moment
  (rounded up: 50 % of 3 tasks is 2);
- at most `maximum_percent` of `desired_count` tasks run at every moment, pending ones
  included (rounded down: 150 % of 3 tasks is 4).

`next_step` looks at the counts as they are now and says how many old tasks may stop and how
many new ones may start; the service driver carries the step out, waits for the new tasks to
become healthy (and registered), and asks again. The driver decides *which* old tasks stop
(unhealthy ones first, then the oldest); the planner only counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from fgform import numbers

DEFAULT_MINIMUM_HEALTHY_PERCENT = 100
DEFAULT_MAXIMUM_PERCENT = 200


def _fraction(value: float | int) -> Fraction:
    # Through str: 33.3 % must mean 333/1000, not the binary float nearest to it.
    return Fraction(str(value))


def healthy_floor(desired: int, minimum_healthy_percent: float) -> int:
    """The fewest healthy tasks a deployment keeps: ceil(desired x min% / 100)."""
    return math.ceil(desired * _fraction(minimum_healthy_percent) / 100)


def running_ceiling(desired: int, maximum_percent: float) -> int:
    """The most tasks (pending included) a deployment runs: floor(desired x max% / 100)."""
    return math.floor(desired * _fraction(maximum_percent) / 100)


def stalls(desired: int, minimum_healthy_percent: float, maximum_percent: float) -> bool:
    """Whether these limits allow no step at all from `desired` healthy old tasks: no room to
    start a new task and none may stop (e.g. 100 % / 100 %, or 1 task at 50 % / 150 %)."""
    if desired <= 0:
        return False
    return running_ceiling(desired, maximum_percent) <= healthy_floor(
        desired, minimum_healthy_percent)


@dataclass(frozen=True, slots=True)
class Counts:
    """The tasks of one service at one moment of a deployment."""

    desired: int
    old_healthy: int = 0  # running tasks of other revisions that count as healthy
    old_unhealthy: int = 0  # running tasks of other revisions that do not
    new_healthy: int = 0  # tasks of the deployment's revision, healthy and registered
    new_pending: int = 0  # tasks of the deployment's revision not (yet) healthy

    @property
    def old(self) -> int:
        return self.old_healthy + self.old_unhealthy

    @property
    def running(self) -> int:
        return self.old + self.new_healthy + self.new_pending

    @property
    def healthy(self) -> int:
        return self.old_healthy + self.new_healthy


@dataclass(frozen=True, slots=True)
class Step:
    """What to do now. `stop_unhealthy` and `stop_healthy` old tasks stop (drained first),
    then `start` new tasks start. `done`: the deployment reached steady state; `wait`: nothing
    may change until a pending task turns healthy (or fails); `stuck`: nothing may change and
    nothing is pending, so the limits (or the fleet) allow no progress, said in `reason`."""

    start: int = 0
    stop_unhealthy: int = 0
    stop_healthy: int = 0
    done: bool = False
    wait: bool = False
    stuck: bool = False
    reason: str = ""

    @property
    def stop(self) -> int:
        return self.stop_unhealthy + self.stop_healthy


def next_step(counts: Counts, minimum_healthy_percent: float = DEFAULT_MINIMUM_HEALTHY_PERCENT,
              maximum_percent: float = DEFAULT_MAXIMUM_PERCENT, room: int | None = None
              ) -> Step:
    """The next step of a deployment from `counts`, within both percentages.

    `room` is how many more tasks of the new revision the fleet can place (None: unlimited);
    a step never starts more than that. Old tasks that are not healthy hold no part of the
    healthy floor, so they always may stop (they still count against the ceiling until then).
    """
    desired = counts.desired
    floor = healthy_floor(desired, minimum_healthy_percent)
    ceiling = running_ceiling(desired, maximum_percent)
    new_total = counts.new_healthy + counts.new_pending
    if counts.old == 0 and counts.new_healthy >= desired and counts.new_pending == 0:
        return Step(done=True)

    stop_unhealthy = counts.old_unhealthy
    # Healthy old tasks may stop while the healthy count stays at or above the floor; and
    # once enough new tasks are healthy, every old one goes.
    spare = counts.healthy - floor
    stop_healthy = max(0, min(counts.old_healthy, spare))
    if counts.new_healthy >= desired:
        stop_healthy = counts.old_healthy

    running_after = counts.running - stop_unhealthy - stop_healthy
    wanted = max(0, min(desired - new_total, ceiling - running_after))
    start = wanted if room is None else min(wanted, max(0, room))

    if start or stop_unhealthy or stop_healthy:
        return Step(start=start, stop_unhealthy=stop_unhealthy, stop_healthy=stop_healthy)
    if counts.new_pending:
        return Step(wait=True)
    if wanted:
        return Step(stuck=True, reason=(
            f"the fleet has no room for another task, and no old task may stop first: "
            f"{counts.healthy} healthy, minimum_healthy_percent "
            f"{_pct(minimum_healthy_percent)} keeps {floor}"))
    return Step(stuck=True, reason=(
        f"with desired_count {desired}, minimum_healthy_percent {_pct(minimum_healthy_percent)}"
        f" keeps {floor} healthy task(s) and maximum_percent {_pct(maximum_percent)} allows "
        f"{ceiling} running: no task may start or stop"))


def _pct(value: float | int) -> str:
    return numbers.to_string(value)  # as Terraform prints numbers (fgform/numbers.py)


def settings(attrs: dict[str, Any]) -> tuple[float, float]:
    """(minimum_healthy_percent, maximum_percent) of a service's attributes, defaults
    applied."""
    block = attrs.get("deployment") or {}
    if isinstance(block, list):  # tolerate the list form of a single block
        block = block[0] if block else {}
    lo = block.get("minimum_healthy_percent")
    hi = block.get("maximum_percent")
    return (DEFAULT_MINIMUM_HEALTHY_PERCENT if lo is None else float(lo),
            DEFAULT_MAXIMUM_PERCENT if hi is None else float(hi))


def failure_threshold(desired: int) -> int:
    """Failed new tasks that trip the circuit breaker, ECS's rule:
    max(3, min(200, ceil(desired_count / 2)))."""
    return max(3, min(200, math.ceil(desired / 2)))


def breaker(attrs: dict[str, Any]) -> tuple[bool, bool]:
    """(enable, rollback) of a service's `deployment.circuit_breaker`; off when unset."""
    block = attrs.get("deployment") or {}
    if isinstance(block, list):
        block = block[0] if block else {}
    cb = block.get("circuit_breaker") or {}
    if isinstance(cb, list):
        cb = cb[0] if cb else {}
    return bool(cb.get("enable")), bool(cb.get("enable") and cb.get("rollback"))
