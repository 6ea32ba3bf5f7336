"""The apply executor: ordering, failures, parallelism, state saves, cancel/abort, unknowns.

Drivers here are plain objects recording their calls; no Docker.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from fgform.addresses import Address, parse_address
from fgform.apply.events import (
    ApplyFinished,
    ApplyProgress,
    ApplyStarted,
    PartialApplyError,
)
from fgform.apply.executor import UnresolvedValueError, apply_plan, build_operations
from fgform.errors import FgformError
from fgform.plan.model import Action, Plan, PlanMode
from fgform.state.model import InstanceStatus, StateFile
from fgform.values import UNKNOWN

from helpers.apply_world import RecordingHooks, World, before, ch, state_with

C, U, D = Action.CREATE, Action.UPDATE, Action.DELETE


# -- ordering -------------------------------------------------------------------------------
def test_creates_run_dependencies_first() -> None:
    w = World()
    plan = Plan([
        ch("t_svc.web", C, ("t_td.web", "t_cluster.main")),
        ch("t_td.web", C),
        ch("t_cluster.main", C),
        ch("t_lb.front", C, ("t_cluster.main",)),
    ], None)
    r = w.apply(plan)
    assert not r.errors and r.ok
    order = w.order()
    assert before(order, "t_td.web", "t_svc.web")
    assert before(order, "t_cluster.main", "t_svc.web")
    assert before(order, "t_cluster.main", "t_lb.front")
    assert (r.added, r.changed, r.destroyed) == (4, 0, 0)


def test_dependency_on_a_resource_covers_every_instance() -> None:
    w = World()
    plan = Plan([ch("t_b.x", C, ("t_a.n",))] + [ch(f"t_a.n[{i}]", C) for i in range(3)]
                + [ch('module.m.t_c.y["k"]', C, ("module.m",)),
                   ch("module.m.t_d.z", C)], None)
    w.apply(plan)
    order = w.order()
    assert order[-1] == "t_b.x" or all(before(order, f"t_a.n[{i}]", "t_b.x") for i in range(3))
    assert all(before(order, f"t_a.n[{i}]", "t_b.x") for i in range(3))


def test_module_dependency_covers_the_module() -> None:
    ops = build_operations(Plan([ch("t_x.after", C, ("module.m",)), ch("module.m.t_d.z", C),
                                 ch("module.mm.t_d.z", C)], None), StateFile())
    assert ops["apply t_x.after"].waits_for == {"apply module.m.t_d.z"}


def test_deletes_run_in_reverse_dependency_order_from_state() -> None:
    # The DELETE changes carry no dependencies: the state's recorded ones order them.
    st = state_with(("t_cluster.main", ()), ("t_td.web", ()),
                    ("t_svc.web", ("t_cluster.main", "t_td.web")),
                    ("t_lb.front", ("t_cluster.main",)))
    w = World()
    plan = Plan([ch(a, D) for a in ("t_cluster.main", "t_lb.front", "t_svc.web", "t_td.web")],
                st, mode=PlanMode.DESTROY)
    r = w.apply(plan, st)
    order = w.order()
    assert before(order, "t_svc.web", "t_cluster.main")
    assert before(order, "t_svc.web", "t_td.web")
    assert before(order, "t_lb.front", "t_cluster.main")
    assert r.destroyed == 4 and r.destroy_mode
    assert r.state.addresses() == []


def test_delete_waits_for_dependents_update() -> None:
    # t_svc.web stops using t_old.x: it must be updated before t_old.x goes.
    st = state_with(("t_old.x", ()), ("t_svc.web", ("t_old.x",)))
    w = World()
    w.apply(Plan([ch("t_old.x", D), ch("t_svc.web", U)], st), st)
    assert w.log == [("update", "t_svc.web"), ("delete", "t_old.x")]


def test_delete_then_create() -> None:
    st = state_with(("t_a.x", ()), ("t_b.y", ("t_a.x",)))
    w = World()
    r = w.apply(Plan([ch("t_a.x", Action.DELETE_THEN_CREATE), ch("t_b.y", U, ("t_a.x",))], st),
                st)
    assert w.log == [("delete", "t_a.x"), ("create", "t_a.x"), ("update", "t_b.y")]
    assert (r.added, r.changed, r.destroyed) == (1, 1, 1)
    assert r.state.get(parse_address("t_a.x")).attributes["id"] == "x-new"


def test_create_before_destroy_order() -> None:
    st = state_with(("t_a.x", ()), ("t_b.y", ("t_a.x",)), ("t_c.z", ("t_b.y",)))
    w = World()
    hooks = RecordingHooks()
    r = w.apply(Plan([
        ch("t_a.x", Action.CREATE_THEN_DELETE, cbd=True),
        ch("t_b.y", U, ("t_a.x",)),
        ch("t_c.z", U, ("t_b.y",)),
    ], st), st, hooks=hooks)
    # The old object goes only after its direct dependents moved to the new one; t_c.z
    # (which never used t_a.x) is free to run either side of that.
    log = [e for e in w.log if e != ("update", "t_c.z")]
    assert log == [("create", "t_a.x"), ("update", "t_b.y"), ("delete", "t_a.x")]
    assert before(w.log, ("update", "t_b.y"), ("update", "t_c.z"))
    # The state keeps the new object: deleting the deposed one must not remove it.
    inst = r.state.get(parse_address("t_a.x"))
    assert inst is not None and inst.attributes["id"] == "x-new" and inst.create_before_destroy
    deposed = [e for e in hooks.events if isinstance(e, ApplyStarted) and e.deposed]
    assert [(str(e.address), e.action, e.id_value) for e in deposed] == [("t_a.x", D, "x")]


def test_noop_and_read_are_skipped() -> None:
    w = World()
    r = w.apply(Plan([ch("t_a.x", Action.NOOP), ch("t_b.y", Action.READ)], None))
    assert w.log == [] and w.saves == [] and r.ok


def test_cycle_is_reported_before_anything_runs() -> None:
    w = World()
    with pytest.raises(FgformError, match="cycle"):
        w.apply(Plan([ch("t_a.x", C, ("t_b.y",)), ch("t_b.y", C, ("t_a.x",))], None))
    assert w.log == []


# -- failures -------------------------------------------------------------------------------
def test_failure_skips_dependents_and_independent_branches_complete() -> None:
    w = World(fail={"t_a.x": RuntimeError("port 80 is taken")})
    plan = Plan([
        ch("t_a.x", C), ch("t_b.y", C, ("t_a.x",)), ch("t_c.z", C, ("t_b.y",)),
        ch("t_i.one", C), ch("t_i.two", C, ("t_i.one",)),
    ], None)
    r = w.apply(plan, keep_going=True)
    assert set(w.order()) == {"t_a.x", "t_i.one", "t_i.two"}
    assert [(str(e.address), e.message) for e in r.errors] == [
        ("t_a.x", "creating t_a.x: port 80 is taken")]
    assert sorted((str(s.address), s.reason) for s in r.skipped) == [
        ("t_b.y", "t_a.x failed"), ("t_c.z", "t_a.x failed")]
    assert r.added == 2 and not r.ok
    assert sorted(str(a) for a in r.state.addresses()) == ["t_i.one", "t_i.two"]


def test_failure_stops_new_work_but_running_operations_finish() -> None:
    # t_slow is running when t_a fails: it finishes and is saved; t_later never starts.
    started = threading.Event()
    w = World()
    plan = Plan([ch("t_slow.s", C), ch("t_a.x", C), ch("t_later.l", C, ("t_slow.s",)),
                 ch("t_b.y", C, ("t_a.x",))], None)
    for c in plan.changes:
        w.driver(c.address.type)
    w.drivers["t_slow"].on_call = {"t_slow.s": lambda: (started.set(), time.sleep(0.2))}
    w.drivers["t_a"].fail = {"t_a.x": FgformError("boom", hint="try again")}
    w.drivers["t_a"].on_call = {"t_a.x": lambda: started.wait(1)}
    r = w.apply(plan)
    assert set(w.order()) == {"t_slow.s", "t_a.x"}
    assert [str(a) for a in r.state.addresses()] == ["t_slow.s"]
    assert len(r.errors) == 1 and r.errors[0].hint == "try again"
    assert {(str(s.address), s.reason) for s in r.skipped} == {
        ("t_b.y", "t_a.x failed"), ("t_later.l", "apply stopped after an error")}


def test_partial_apply_attrs_are_recorded_as_tainted() -> None:
    err = PartialApplyError("container started but never became healthy",
                            {"id": "half", "name": "x"})
    w = World(fail={"t_a.x": err})
    r = w.apply(Plan([ch("t_a.x", C)], None))
    inst = r.state.get(parse_address("t_a.x"))
    assert inst is not None and inst.attributes == {"id": "half", "name": "x"}
    assert inst.status is InstanceStatus.TAINTED
    assert len(r.errors) == 1 and r.errors[0].error is err
    assert w.saves[-1]["resources"][0]["instances"][0]["status"] == "tainted"


def test_missing_driver_is_an_error_for_that_instance() -> None:
    w = World()
    r = apply_plan(Plan([ch("t_nope.x", C)], None), StateFile(), {}, w.ctx, w.save)
    assert "no driver for resource type 't_nope'" in r.errors[0].message


def test_save_failure_is_reported() -> None:
    w = World()

    def broken(_state: StateFile) -> None:
        raise OSError("disk full")

    w.driver("t_a")
    r = apply_plan(Plan([ch("t_a.x", C)], None), StateFile(), w.drivers, w.ctx, broken)
    assert "saving the state failed: disk full" in r.errors[0].message


# -- parallelism ----------------------------------------------------------------------------
def test_parallelism_cap() -> None:
    lock = threading.Lock()
    now = {"running": 0, "max": 0}

    def enter() -> None:
        with lock:
            now["running"] += 1
            now["max"] = max(now["max"], now["running"])
        time.sleep(0.05)
        with lock:
            now["running"] -= 1

    w = World()
    plan = Plan([ch(f"t_a.n[{i}]", C) for i in range(9)], None)
    w.driver("t_a").on_call = {f"t_a.n[{i}]": enter for i in range(9)}
    r = w.apply(plan, parallelism=3)
    assert r.added == 9
    assert now["max"] == 3


# -- state ------------------------------------------------------------------------------------
def test_state_is_saved_after_every_operation() -> None:
    st = state_with(("t_old.x", ()))
    w = World()
    plan = Plan([ch("t_a.x", C), ch("t_b.y", C, ("t_a.x",)), ch("t_old.x", D)], st)
    w.apply(plan, st, parallelism=1)

    def addrs(saved: dict[str, Any]) -> list[str]:
        return [f"{r['type']}.{r['name']}" for r in saved["resources"]]

    # Ready operations start in plan order: a, then b (ready once a is done), then old.
    assert [addrs(s) for s in w.saves] == [
        ["t_a.x", "t_old.x"], ["t_a.x", "t_b.y", "t_old.x"], ["t_a.x", "t_b.y"]]
    b = w.saves[-1]["resources"][1]["instances"][0]
    assert b["dependencies"] == ["t_a.x"] and b["attributes"]["id"] == "y-new"


def test_sensitive_paths_and_ctx_resources_are_recorded() -> None:
    w = World()
    c = ch("t_a.x", C, after={"name": "x", "password": "s3"})
    c.after_sensitive = [("password",)]
    st = state_with(("t_keep.k", ()))
    r = w.apply(Plan([c, ch("t_keep.k", D)], st), st)
    assert r.state.get(parse_address("t_a.x")).sensitive_paths == [["password"]]
    assert w.ctx.resources["t_a.x"]["id"] == "x-new"
    assert "t_keep.k" not in w.ctx.resources


# -- unknown values -------------------------------------------------------------------------
def _service_plan() -> Plan:
    return Plan([
        ch("fg_cluster.main", C, after={"name": "main", "id": UNKNOWN}),
        ch("fg_service.web", C, ("fg_cluster.main",),
           after={"name": "web", "cluster": UNKNOWN, "id": UNKNOWN, "tasks": UNKNOWN}),
    ], None)


def test_resolver_fills_unknowns_from_state() -> None:
    w = World()
    calls: list[str] = []

    def resolve(addr: Address, after: dict[str, Any], state: StateFile) -> dict[str, Any]:
        calls.append(str(addr))
        if addr.type == "fg_cluster":
            return after  # only its computed id is unknown
        cluster = state.get(parse_address("fg_cluster.main"))
        return {**after, "cluster": cluster.attributes["id"]}

    r = w.apply(_service_plan(), resolve=resolve)
    assert r.ok
    # Computed unknowns (the service's `tasks`) stay for the driver to fill in.
    assert calls == ["fg_cluster.main", "fg_service.web"]
    planned = w.drivers["fg_service"].planned["fg_service.web"]
    assert planned["cluster"] == "main-new" and planned["tasks"] is UNKNOWN


def test_unresolved_unknown_fails_clearly_without_calling_the_driver() -> None:
    w = World()
    r = w.apply(_service_plan())
    assert w.order() == ["fg_cluster.main"]
    assert isinstance(r.errors[0].error, UnresolvedValueError)
    assert r.errors[0].message == (
        "creating fg_service.web: cluster still unknown at apply time")


@pytest.mark.parametrize(("raised", "shown"), [
    # The circuit breaker's message (fleet/docker/service.py), as the driver raises it.
    ("fg_service.web: deployment of web:2 failed: 3 task(s) failed to start or become "
     "healthy (circuit breaker threshold 3); rolled back to web:1.",
     "Error: updating fg_service.web: deployment of web:2 failed: 3 task(s) failed to start "
     "or become healthy (circuit breaker threshold 3); rolled back to web:1."),
    ("fg_service.web did not reach a steady state: 1 of 2 task(s) running",
     "Error: updating fg_service.web: did not reach a steady state: 1 of 2 task(s) running"),
    # Another resource named in the message, or the address only further in, stays.
    ("fg_service.web2: boom", "Error: updating fg_service.web: fg_service.web2: boom"),
    ("port of fg_service.web taken", "Error: updating fg_service.web: port of "
                                     "fg_service.web taken"),
])
def test_error_message_names_the_address_once(raised: str, shown: str) -> None:
    from fgform.render.progress import TextProgress

    w = World(fail={"fg_service.web": PartialApplyError(raised, attrs={"id": "web"})})
    r = w.apply(Plan([ch("fg_service.web", U)], state_with(("fg_service.web", ()))))
    lines: list[str] = []
    TextProgress(lines.append).finish(r)
    assert shown in lines, lines


# -- cancel, abort, progress --------------------------------------------------------------
def test_cancel_stops_new_work() -> None:
    cancel = threading.Event()
    w = World()
    plan = Plan([ch(f"t_a.n[{i}]", C) for i in range(5)], None)
    w.driver("t_a").on_call = {"t_a.n[0]": cancel.set}
    r = w.apply(plan, parallelism=1, cancel=cancel)
    assert w.order() == ["t_a.n[0]"]
    assert r.cancelled and r.added == 1 and not r.errors
    assert [s.reason for s in r.skipped] == ["apply was cancelled"] * 4
    assert len(w.saves) == 1  # the running operation finished and was saved


def test_abort_returns_without_waiting_and_drops_late_results() -> None:
    abort = threading.Event()
    release = threading.Event()
    w = World()
    plan = Plan([ch("t_slow.s", C), ch("t_a.x", C), ch("t_b.y", C, ("t_a.x",))], None)
    for c in plan.changes:
        w.driver(c.address.type)
    w.drivers["t_slow"].on_call = {"t_slow.s": lambda: release.wait(2)}
    w.drivers["t_a"].on_call = {"t_a.x": abort.set}
    t0 = time.monotonic()
    r = w.apply(plan, abort=abort)
    assert time.monotonic() - t0 < 1
    assert r.aborted and [str(a) for a in r.interrupted] == ["t_slow.s"]
    assert [str(s.address) for s in r.skipped] == ["t_b.y"]
    saves = len(w.saves)
    release.set()
    time.sleep(0.1)
    assert len(w.saves) == saves  # the late result was not written
    assert "t_slow.s" not in [str(a) for a in r.state.addresses()]


def test_hooks_see_start_progress_and_finish() -> None:
    w = World(delay=0.3)
    hooks = RecordingHooks()
    st = state_with(("t_b.y", ()))
    w.apply(Plan([ch("t_a.x", C), ch("t_b.y", U)], st), st, hooks=hooks, parallelism=1,
            progress_interval=0.05)
    kinds = [(type(e).__name__, str(e.address)) for e in hooks.events]
    assert kinds[0] == ("ApplyStarted", "t_a.x")
    assert ("ApplyFinished", "t_a.x") in kinds
    progress = [e for e in hooks.events if isinstance(e, ApplyProgress)]
    assert len([e for e in progress if str(e.address) == "t_a.x"]) >= 2
    upd = next(e for e in hooks.events if isinstance(e, ApplyStarted) and e.action is U)
    assert (upd.id_key, upd.id_value) == ("id", "y")
    fin = [e for e in hooks.events if isinstance(e, ApplyFinished)]
    assert [(str(e.address), e.id_value, e.error) for e in fin] == [
        ("t_a.x", "x-new", None), ("t_b.y", "y", None)]


def test_with_a_real_state_store(tmp_path) -> None:
    from fgform.state.store import StateStore

    store = StateStore(tmp_path / "default.fgstate.json")
    w = World()
    w.driver("t_a")
    st = StateFile(lineage="test")
    r = apply_plan(Plan([ch("t_a.x", C), ch("t_a.y", C, ("t_a.x",))], None), st, w.drivers,
                   w.ctx, store.write)
    assert r.ok
    on_disk = store.read()
    assert on_disk is not None and [str(a) for a in on_disk.addresses()] == ["t_a.x", "t_a.y"]
    assert on_disk.serial == 2  # one write per operation
