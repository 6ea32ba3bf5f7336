"""The apply executor's test world: drivers that record their calls (no Docker), plan
changes and prior states built from addresses."""

from __future__ import annotations

import threading
import time
from typing import Any

from fgform.addresses import Address, parse_address
from fgform.apply.events import ApplyFinished, ApplyProgress, ApplyStarted
from fgform.apply.executor import ApplyResult, apply_plan
from fgform.fleet.driver import FleetContext
from fgform.plan.model import Action, Plan, ResourceChange
from fgform.state.model import InstanceState, StateFile


class FakeDriver:
    """Records (verb, address) in a shared log; per-address delays, failures and hooks."""

    def __init__(self, type_name: str, log: list[tuple[str, str]], lock: threading.Lock,
                 delay: float = 0.0, fail: dict[str, BaseException] | None = None,
                 on_call: dict[str, Any] | None = None) -> None:
        self.type_name = type_name
        self.log = log
        self.lock = lock
        self.delay = delay
        self.fail = fail or {}
        self.on_call = on_call or {}
        self.planned: dict[str, dict[str, Any]] = {}

    def _call(self, verb: str, addr: Address) -> None:
        with self.lock:
            self.log.append((verb, str(addr)))
        hook = self.on_call.get(str(addr))
        if hook is not None:
            hook()
        if self.delay:
            time.sleep(self.delay)
        if str(addr) in self.fail:
            raise self.fail[str(addr)]

    def read(self, ctx, items):  # pragma: no cover - not used by the executor
        return {}

    def create(self, ctx: FleetContext, addr: Address, planned: dict[str, Any]) -> dict[str, Any]:
        self.planned[str(addr)] = planned
        self._call("create", addr)
        return {**planned, "id": addr.name + "-new"}

    def update(self, ctx: FleetContext, addr: Address, prior: dict[str, Any],
               planned: dict[str, Any]) -> dict[str, Any]:
        self.planned[str(addr)] = planned
        self._call("update", addr)
        return {**planned, "id": prior.get("id", addr.name)}

    def delete(self, ctx: FleetContext, addr: Address, prior: dict[str, Any], *,
               replacing: bool) -> None:
        self._call("delete", addr)


class World:
    """A log, drivers for the types t_a..t_z, a recording save_state and a context."""

    def __init__(self, **driver_kw: Any) -> None:
        self.log: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.saves: list[dict[str, Any]] = []
        self.drivers: dict[str, Any] = {}
        self.driver_kw = driver_kw
        self.ctx = FleetContext(lineage="test")

    def driver(self, type_name: str) -> FakeDriver:
        if type_name not in self.drivers:
            self.drivers[type_name] = FakeDriver(type_name, self.log, self.lock,
                                                 **self.driver_kw)
        return self.drivers[type_name]

    def save(self, state: StateFile) -> None:
        # A copy: the executor keeps mutating the same StateFile.
        self.saves.append(state.to_dict())

    def apply(self, plan: Plan, state: StateFile | None = None, **kw: Any) -> ApplyResult:
        state = state or StateFile(lineage="test")
        for c in plan.changes:
            self.driver(c.address.type)
        return apply_plan(plan, state, self.drivers, self.ctx, self.save, **kw)

    def order(self, verb: str | None = None) -> list[str]:
        return [a for v, a in self.log if verb is None or v == verb]


def ch(addr: str, action: Action, deps: tuple[str, ...] = (), *, before: dict | None = None,
       after: dict | None = None, cbd: bool = False) -> ResourceChange:
    """A planned change of `addr` with dependencies `deps` (before/after filled in)."""
    a = parse_address(addr)
    if before is None and action is not Action.CREATE:
        before = {"id": a.name}
    if after is None and action is not Action.DELETE:
        after = {"name": a.name}
    return ResourceChange(a, action, before=before, after=after, dependencies=list(deps),
                          create_before_destroy=cbd)


def state_with(*items: tuple[str, tuple[str, ...]]) -> StateFile:
    """A state holding each (address, dependencies) pair."""
    st = StateFile(lineage="test")
    for addr, deps in items:
        a = parse_address(addr)
        st.set(a, InstanceState(a.key, {"id": a.name}, dependencies=list(deps)))
    return st


def before(order: list[Any], x: Any, y: Any) -> bool:
    """Does `x` come before `y` in `order`?"""
    return order.index(x) < order.index(y)


class RecordingHooks:
    """Hooks that keep every event in order; what a test checks the executor reported."""

    def __init__(self) -> None:
        self.events: list[ApplyStarted | ApplyProgress | ApplyFinished] = []

    def pre_apply(self, event: ApplyStarted) -> None:
        self.events.append(event)

    def still_running(self, event: ApplyProgress) -> None:
        self.events.append(event)

    def post_apply(self, event: ApplyFinished) -> None:
        self.events.append(event)
