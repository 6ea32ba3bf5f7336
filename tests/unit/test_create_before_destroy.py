"""create_before_destroy: deposed objects in state, and CBD forced onto dependencies.

Drivers are plain callables recording their calls (test_executor's FakeDriver); a "crash" is
an abort (the executor returns at once with the state as last saved, and drops whatever the
running operation does afterwards), which is what a kill -9 leaves on disk.
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any

import pytest

from fgform.addresses import Address, parse_address
from fgform.apply.events import ApplyFinished, ApplyStarted, PartialApplyError
from fgform.apply.executor import ApplyResult, apply_plan, build_operations
from fgform.config.loader import load_config
from fgform.config.variables import resolve_variables
from fgform.errors import FgformError, Severity
from fgform.graph import build_graph
from fgform.plan.model import Action, ActionReason, Plan, PlanMode
from fgform.plan.planner import PlanOptions, plan_changes
from fgform.plan.replacements import forced_create_before_destroy
from fgform.render.json_plan import plan_json
from fgform.render.progress import TextProgress
from fgform.render.text import render_plan
from fgform.state.model import InstanceState, InstanceStatus, StateFile
from fgform.values import UNKNOWN

from helpers.apply_world import FakeDriver, RecordingHooks, World, before, ch, state_with
from helpers.plan_fixtures import FIXTURES, plan_case

C, U, D = Action.CREATE, Action.UPDATE, Action.DELETE
CTD, DTC = Action.CREATE_THEN_DELETE, Action.DELETE_THEN_CREATE
X = parse_address("t_a.x")


def _fill(value: Any, prefix: str, name: str = "") -> Any:
    if value is UNKNOWN:
        return f"{prefix}-{name}"
    if isinstance(value, dict):
        return {k: _fill(v, prefix, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, prefix, name) for v in value]
    return value


class FillDriver(FakeDriver):
    """FakeDriver whose new objects have every computed value filled in."""

    def create(self, ctx, addr, planned):  # type: ignore[no-untyped-def]
        return _fill(super().create(ctx, addr, planned), f"{addr.name}-new")


class FillWorld(World):
    def driver(self, type_name: str) -> FakeDriver:
        if type_name not in self.drivers:
            self.drivers[type_name] = FillDriver(type_name, self.log, self.lock,
                                                 **self.driver_kw)
        return self.drivers[type_name]


def crash_on(world: World, verb: str, addr: str, abort: threading.Event,
             release: threading.Event) -> None:
    """When `verb` is called on `addr`: abort the apply (as a kill would end it) and hold the
    driver call until `release`, so nothing it does later reaches the state."""

    def hook() -> None:
        if world.log[-1] == (verb, addr):
            abort.set()
            release.wait(5)

    world.on_call[addr] = hook


def ids(saved: dict[str, Any], addr: str) -> tuple[Any, list[Any]]:
    """(current id or None, deposed ids) of `addr` in a saved state dict."""
    st = StateFile.from_dict(saved)
    a = parse_address(addr)
    inst = st.instance(a)
    if inst is None:
        return None, []
    cur = inst.attributes["id"] if inst.attributes is not None else None
    return cur, sorted(v["id"] for v in inst.deposed.values())


def _world(**kw: Any) -> World:
    w = FillWorld(**kw)
    w.on_call = {}
    w.driver_kw["on_call"] = w.on_call
    return w


# -- the executor: deposing, crashes, failures ----------------------------------------------
def test_replacement_deposes_the_old_object_before_creating_the_new_one() -> None:
    st = state_with(("t_a.x", ()))
    w = _world()
    r = w.apply(Plan([ch("t_a.x", CTD, cbd=True)], st), st)
    assert r.ok and w.log == [("create", "t_a.x"), ("delete", "t_a.x")]
    # Every save names the old object: deposed (no current) -> new current + old deposed ->
    # only the new one.
    assert [ids(s, "t_a.x") for s in w.saves] == [
        (None, ["x"]), ("x-new", ["x"]), ("x-new", [])]
    assert r.state.get(X).attributes["id"] == "x-new" and not r.state.get(X).deposed
    # Terraform's form of deposed key: 8 hex digits.
    key = next(iter(StateFile.from_dict(w.saves[0]).instance(X).deposed))
    assert len(key) == 8 and int(key, 16) >= 0


def test_crash_after_the_create_leaves_new_current_and_old_deposed() -> None:
    st = state_with(("t_a.x", ()), ("t_b.y", ("t_a.x",)))
    abort, release = threading.Event(), threading.Event()
    w = _world()
    crash_on(w, "delete", "t_a.x", abort, release)
    try:
        r = w.apply(Plan([ch("t_a.x", CTD, cbd=True), ch("t_b.y", U, ("t_a.x",))], st), st,
                    abort=abort)
    finally:
        release.set()
    assert r.aborted and r.interrupted == [X]
    assert ids(w.saves[-1], "t_a.x") == ("x-new", ["x"])
    assert ids(w.saves[-1], "t_b.y")[0] == "y"


def test_crash_before_the_new_object_exists_leaves_only_the_deposed_one() -> None:
    st = state_with(("t_a.x", ()))
    abort, release = threading.Event(), threading.Event()
    w = _world()
    crash_on(w, "create", "t_a.x", abort, release)
    try:
        r = w.apply(Plan([ch("t_a.x", CTD, cbd=True)], st), st, abort=abort)
    finally:
        release.set()
    assert r.aborted
    saved = StateFile.from_dict(w.saves[-1])
    assert saved.get(X) is None and saved.addresses() == []
    assert [(str(a), v["id"]) for a, _, v, _ in saved.deposed_objects()] == [("t_a.x", "x")]


def test_failed_create_without_an_object_restores_the_old_one() -> None:
    for error in (RuntimeError("no capacity"), PartialApplyError("half", None)):
        st = state_with(("t_a.x", ()))
        w = _world(fail={"t_a.x": error})
        r = w.apply(Plan([ch("t_a.x", CTD, cbd=True)], st), st)
        assert not r.ok and [s.action for s in r.skipped] == [D]
        assert w.log == [("create", "t_a.x")]
        # Deposed while the create ran, current again after it failed (Terraform's
        # "maybe restore deposed"): nothing to clean up.
        assert ids(w.saves[0], "t_a.x") == (None, ["x"])
        assert ids(w.saves[-1], "t_a.x") == ("x", [])
        assert r.state.get(X).attributes == {"id": "x"} and not r.state.get(X).deposed


def test_partial_create_is_tainted_current_and_the_old_object_stays_deposed() -> None:
    st = state_with(("t_a.x", ()))
    w = _world(fail={"t_a.x": PartialApplyError("half made", {"id": "x-half"})})
    r = w.apply(Plan([ch("t_a.x", CTD, cbd=True)], st), st)
    assert not r.ok and "creating t_a.x: half made" in r.errors[0].message
    assert [(str(s.address), s.action, s.deposed) for s in r.skipped] == [("t_a.x", D, True)]
    inst = r.state.get(X)
    assert inst.attributes == {"id": "x-half"} and inst.status is InstanceStatus.TAINTED
    assert list(inst.deposed.values()) == [{"id": "x"}]
    assert ids(w.saves[-1], "t_a.x") == ("x-half", ["x"])


def test_deposed_object_in_the_plan_is_destroyed_and_forgotten() -> None:
    st = state_with(("t_a.x", ()))
    st.get(X).deposed["ab12cd34"] = {"id": "x-old"}
    w = _world()
    hooks = RecordingHooks()
    change = ch("t_a.x", D, before={"id": "x-old"})
    change.deposed = "ab12cd34"
    r = w.apply(Plan([change], st), st, hooks=hooks)
    assert r.ok and r.destroyed == 1 and w.log == [("delete", "t_a.x")]
    inst = r.state.get(X)
    assert inst.attributes == {"id": "x"} and inst.deposed == {}
    started = [e for e in hooks.events if isinstance(e, ApplyStarted)]
    assert [(e.deposed, e.deposed_key, e.id_value) for e in started] == [
        (True, "ab12cd34", "x-old")]
    lines: list[str] = []
    printer = TextProgress(lines.append)
    for e in hooks.events:
        if isinstance(e, ApplyStarted):
            printer.pre_apply(e)
        elif isinstance(e, ApplyFinished):
            printer.post_apply(e)
    assert lines[0] == "t_a.x (deposed object ab12cd34): Destroying... [id=x-old]"
    assert lines[1].startswith("t_a.x (deposed object ab12cd34): Destruction complete after")


def test_deposed_only_instance_goes_once_its_deposed_object_is_deleted() -> None:
    st = StateFile(lineage="test")
    st.set_deposed(X, "ab12cd34", {"id": "x-old"})
    change = ch("t_a.x", D, before={"id": "x-old"})
    change.deposed = "ab12cd34"
    w = _world()
    r = w.apply(Plan([change], st, mode=PlanMode.DESTROY), st)
    assert r.ok and r.state.resources == []


def test_destroying_an_instance_takes_its_deposed_objects_first() -> None:
    st = state_with(("t_a.x", ()))
    st.get(X).deposed["ab12cd34"] = {"id": "x-old"}
    leftover = ch("t_a.x", D, before={"id": "x-old"})
    leftover.deposed = "ab12cd34"
    ops = build_operations(Plan([ch("t_a.x", D), leftover], st, mode=PlanMode.DESTROY), st)
    assert ops["destroy t_a.x"].waits_for == {"destroy-deposed t_a.x ab12cd34"}


def test_failed_deposed_delete_keeps_it_and_the_error_names_the_key() -> None:
    st = state_with(("t_a.x", ()))
    st.get(X).deposed["ab12cd34"] = {"id": "x-old"}
    change = ch("t_a.x", D, before={"id": "x-old"})
    change.deposed = "ab12cd34"
    w = _world(fail={"t_a.x": RuntimeError("busy")})
    r = w.apply(Plan([change], st), st)
    assert r.errors[0].message == "destroying t_a.x (deposed object ab12cd34): busy"
    assert r.state.get(X).deposed == {"ab12cd34": {"id": "x-old"}}


def test_leftover_deposed_delete_waits_for_the_instances_new_object() -> None:
    st = state_with(("t_a.x", ()))
    st.get(X).deposed["ab12cd34"] = {"id": "x-old"}
    st.get(X).status = InstanceStatus.TAINTED
    leftover = ch("t_a.x", D, before={"id": "x-old"})
    leftover.deposed = "ab12cd34"
    plan = Plan([ch("t_a.x", CTD, cbd=True), leftover], st)
    ops = build_operations(plan, st)
    assert ops["destroy-deposed t_a.x ab12cd34"].waits_for == {"apply t_a.x"}
    w = _world()
    r = w.apply(plan, st)
    assert r.ok and w.log[0] == ("create", "t_a.x") and len(w.log) == 3
    inst = r.state.get(X)
    assert inst.attributes["id"] == "x-new" and inst.deposed == {}


# -- plan -> crash -> plan -> apply, with the real planner ----------------------------------
# (A load balancer: a cluster cannot be replaced create-first, see the downgrade tests.)
CLUSTER_CBD = """
resource "fg_load_balancer" "main" {
  cluster      = "cl-1"
  bind_address = "127.0.0.2"
  listener {
    port = 8080
    fixed_response {}
  }

  lifecycle {
    create_before_destroy = true
  }
}
"""
MAIN = parse_address("fg_load_balancer.main")
CLUSTER = parse_address("fg_cluster.main")


def _old_cluster_state() -> StateFile:
    st = StateFile(lineage="00000000-0000-4000-8000-000000000000", serial=3)
    st.set(MAIN, InstanceState(None, {
        "bind_address": "127.0.0.1", "cluster": "cl-1", "dns_name": "lb-old.fgform.local",
        "endpoints": ["http://127.0.0.1:8080"], "id": "cl-old", "name": None,
        "listener": [{"port": 8080, "default_target_group": None, "rule": [],
                      "fixed_response": {"status_code": 404, "body": "",
                                         "content_type": "text/plain"}}]},
        create_before_destroy=True))
    return st


def _plan(cdir: Path, state: StateFile, mode: PlanMode = PlanMode.NORMAL) -> Plan:
    config, diags = load_config(cdir, use_cache=False)
    assert not [d for d in diags if d.severity is Severity.ERROR], diags
    variables, _ = resolve_variables(config.module, cdir, [], env={})
    return plan_changes(config, variables, state, None,
                     PlanOptions(mode=mode, config_dir=str(cdir),
                                 timestamp="2026-01-01T00:00:00Z"))


def _apply(w: World, plan: Plan, state: StateFile, **kw: Any) -> ApplyResult:
    for c in plan.changes:
        w.driver(c.address.type)
    return apply_plan(plan, state, w.drivers, w.ctx, w.save, **kw)


@pytest.fixture
def cluster_dir(tmp_path: Path) -> Path:
    (tmp_path / "main.hcl").write_text(CLUSTER_CBD)
    return tmp_path


def test_next_plan_destroys_what_a_crash_left_deposed(cluster_dir: Path) -> None:
    plan = _plan(cluster_dir, _old_cluster_state())
    assert [c.action for c in plan.changes] == [CTD]
    abort, release = threading.Event(), threading.Event()
    w = _world()
    crash_on(w, "delete", "fg_load_balancer.main", abort, release)
    try:
        r = _apply(w, plan, plan.prior_state, abort=abort)
    finally:
        release.set()
    assert r.aborted
    crashed = StateFile.from_dict(w.saves[-1])  # what a kill -9 leaves on disk
    assert ids(w.saves[-1], "fg_load_balancer.main") == ("main-new", ["cl-old"])
    key = next(iter(crashed.instance(MAIN).deposed))

    again = _plan(cluster_dir, crashed)
    assert [(c.action, c.deposed) for c in again.changes] == [(Action.NOOP, ""), (D, key)]
    assert again.changes[1].before["id"] == "cl-old"
    text = render_plan(again)
    assert f"  # fg_load_balancer.main (deposed object {key}) will be destroyed\n" \
           "  # (left over from a partially-failed replacement of this instance)\n" in text
    assert "Plan: 0 to add, 0 to change, 1 to destroy." in text
    rc = plan_json(again)["resource_changes"]
    assert [(c["address"], c.get("deposed"), c["change"]["actions"]) for c in rc] == [
        ("fg_load_balancer.main", None, ["no-op"]), ("fg_load_balancer.main", key, ["delete"])]

    # A destroy plan destroys it too.
    destroy = _plan(cluster_dir, crashed, PlanMode.DESTROY)
    assert [(c.action, c.deposed) for c in destroy.changes] == [(D, ""), (D, key)]

    w2 = _world()
    r2 = _apply(w2, again, again.prior_state)
    assert r2.ok and w2.log == [("delete", "fg_load_balancer.main")]
    final = StateFile.from_dict(w2.saves[-1])
    assert final.get(MAIN).attributes["id"] == "main-new" and final.deposed_objects() == []
    assert _plan(cluster_dir, final).changes[0].action is Action.NOOP


def test_partial_failure_then_the_next_plan_replaces_the_tainted_and_drops_the_deposed(
        cluster_dir: Path) -> None:
    plan = _plan(cluster_dir, _old_cluster_state())
    w = _world(fail={"fg_load_balancer.main": PartialApplyError("network made, not labelled",
                                                          {"id": "cl-half"})})
    r = _apply(w, plan, plan.prior_state)
    assert not r.ok
    after = StateFile.from_dict(w.saves[-1])
    assert after.get(MAIN).status is InstanceStatus.TAINTED
    assert ids(w.saves[-1], "fg_load_balancer.main") == ("cl-half", ["cl-old"])
    key = next(iter(after.instance(MAIN).deposed))

    again = _plan(cluster_dir, after)
    assert [(c.action, c.reason, c.deposed) for c in again.changes] == [
        (CTD, ActionReason.REPLACE_BECAUSE_TAINTED, ""), (D, ActionReason.NONE, key)]
    w2 = _world()
    r2 = _apply(w2, again, again.prior_state)
    assert r2.ok and (r2.added, r2.destroyed) == (1, 2)
    assert w2.log[0] == ("create", "fg_load_balancer.main")
    final = StateFile.from_dict(w2.saves[-1])
    assert final.get(MAIN).attributes["id"] == "main-new" and final.deposed_objects() == []


def test_refresh_keeps_deposed_objects_of_an_instance_deleted_outside(cluster_dir: Path
                                                                       ) -> None:
    st = _old_cluster_state()
    st.get(MAIN).deposed["ab12cd34"] = {"id": "cl-older"}
    config, _ = load_config(cluster_dir, use_cache=False)
    plan = plan_changes(config, {}, st, {"fg_load_balancer.main": None},
                     PlanOptions(config_dir=str(cluster_dir), timestamp="x"))
    assert [(c.action, c.deposed) for c in plan.changes] == [(C, ""), (D, "ab12cd34")]
    assert plan.prior_state.instance(MAIN).deposed == {"ab12cd34": {"id": "cl-older"}}


# -- create_before_destroy forced onto dependencies -------------------------------------------
def test_cbd_is_forced_onto_everything_a_cbd_resource_depends_on(tmp_path: Path) -> None:
    (tmp_path / "main.hcl").write_text("""
resource "fg_registry" "main" { port = 5001 }
resource "fg_image" "web" {
  registry   = fg_registry.main.id
  repository = "web"
  context    = "."
}
resource "fg_task_definition" "web" {
  family = "web"
  cpu    = 256
  memory = 128
  container "web" { image = fg_image.web.uri }
  lifecycle { create_before_destroy = true }
}
resource "fg_cluster" "main" { cidr_block = "10.99.0.0/24" }
""")
    config, _ = load_config(tmp_path, use_cache=False)
    assert forced_create_before_destroy(build_graph(config)) == {
        "fg_image.web", "fg_registry.main"}


def test_without_forcing_the_apply_order_has_a_cycle() -> None:
    # A (CBD) depends on B; B replaced destroy-first: what the planner must not produce.
    st = state_with(("t_b.b", ()), ("t_a.a", ("t_b.b",)))
    with pytest.raises(FgformError, match="cycle"):
        build_operations(Plan([ch("t_a.a", CTD, ("t_b.b",), cbd=True),
                               ch("t_b.b", DTC)], st), st)


TG = parse_address("fg_target_group.web")
LB = parse_address("fg_load_balancer.front")


def test_forced_cbd_plan_applies_in_order_without_a_cycle() -> None:
    plan = plan_case(FIXTURES / "create_before_destroy_forced")
    actions = {str(c.address): (c.action, c.create_before_destroy) for c in plan.changes}
    assert actions == {"fg_target_group.web": (CTD, True),  # forced: no lifecycle of its own
                       "fg_load_balancer.front": (CTD, True),
                       "fg_cluster.main": (Action.NOOP, False)}  # no create-first for clusters
    assert plan.warnings == []
    build_operations(plan, plan.prior_state)  # no cycle

    def resolve(addr: Address, after: dict[str, Any], state: StateFile) -> dict[str, Any]:
        if addr.type == "fg_load_balancer":
            listener = [{**lst, "default_target_group": state.get(TG).attributes["id"]}
                        for lst in after["listener"]]
            after = {**after, "listener": listener}
        return after

    w = _world()
    r = _apply(w, plan, plan.prior_state, resolve=resolve)
    assert r.ok, r.errors
    log = w.log
    # New objects dependencies first, old ones dependents first.
    assert log == [("create", "fg_target_group.web"), ("create", "fg_load_balancer.front"),
                   ("delete", "fg_load_balancer.front"), ("delete", "fg_target_group.web")]
    # The new load balancer was made on the new target group (resolved from state).
    assert w.drivers["fg_load_balancer"].planned["fg_load_balancer.front"]["listener"][0][
        "default_target_group"] == "web-new"
    final = r.state
    assert final.deposed_objects() == []
    assert final.get(TG).create_before_destroy  # recorded, as Terraform does


def test_cbd_is_downgraded_for_types_sharing_their_docker_identity() -> None:
    # fg_cluster.main is replaced with create_before_destroy forced onto it (its dependent
    # fg_load_balancer.front has it), but a new cluster would take the old network's name:
    # destroy-first, with a warning; and so the load balancer too, or the order has a cycle.
    plan = plan_case(FIXTURES / "create_before_destroy_downgraded")
    actions = {str(c.address): (c.action, c.create_before_destroy) for c in plan.changes}
    assert actions == {"fg_cluster.main": (DTC, False),
                       "fg_load_balancer.front": (DTC, False),
                       "fg_target_group.web": (Action.NOOP, True)}
    assert [w.split("\n", 1)[0] for w in plan.warnings] == [
        "create_before_destroy is not possible for fg_cluster.main",
        "create_before_destroy is not possible for fg_load_balancer.front"]
    assert "cycle" in plan.warnings[1]
    build_operations(plan, plan.prior_state)  # no cycle

    def resolve(addr: Address, after: dict[str, Any], state: StateFile) -> dict[str, Any]:
        if addr.type == "fg_load_balancer" and after.get("cluster") is UNKNOWN:
            after = {**after, "cluster": state.get(CLUSTER).attributes["id"]}
        return after

    w = _world()
    r = _apply(w, plan, plan.prior_state, resolve=resolve)
    assert r.ok, r.errors
    # Old objects dependents first, then new ones dependencies first; never both networks.
    assert w.log == [("delete", "fg_load_balancer.front"), ("delete", "fg_cluster.main"),
                     ("create", "fg_cluster.main"), ("create", "fg_load_balancer.front")]
    assert w.drivers["fg_load_balancer"].planned["fg_load_balancer.front"]["cluster"] == \
        "main-new"
    assert r.state.deposed_objects() == []
    assert not r.state.get(CLUSTER).create_before_destroy


def test_downgrade_reaches_transitive_cbd_dependents() -> None:
    # c (CBD, a type without create-first) <- b (CBD) <- a (CBD, through noop m): all three
    # must go destroy-first; then the executor orders them without a cycle.
    from fgform.config.depgraph import Graph, GraphNode, NodeKind
    from fgform.plan.model import ResourceChange
    from fgform.plan.replacements import downgrade_create_before_destroy

    g = Graph()
    for nid, deps in (("fg_service.c", ()), ("fg_task_definition.b", ("fg_service.c",)),
                      ("fg_target_group.m", ("fg_task_definition.b",)),
                      ("fg_target_group.a", ("fg_target_group.m",))):
        g.nodes[nid] = GraphNode(nid, NodeKind.RESOURCE, (), nid, None)  # type: ignore[arg-type]
        g.deps[nid] = set(deps)
    st = state_with(("fg_service.c", ()), ("fg_task_definition.b", ("fg_service.c",)),
                    ("fg_target_group.m", ("fg_task_definition.b",)),
                    ("fg_target_group.a", ("fg_target_group.m",)))
    changes = {parse_address(a): ch(a, act, deps, cbd=True) for a, act, deps in (
        ("fg_service.c", CTD, ()), ("fg_task_definition.b", CTD, ("fg_service.c",)),
        ("fg_target_group.m", Action.NOOP, ("fg_task_definition.b",)),
        ("fg_target_group.a", CTD, ("fg_target_group.m",)))}
    assert all(isinstance(c, ResourceChange) for c in changes.values())
    with pytest.raises(FgformError, match="cycle"):  # c alone downgraded: a cycle
        bad = {a: dataclasses.replace(c) for a, c in changes.items()}
        bad[parse_address("fg_service.c")].action = DTC
        build_operations(Plan(list(bad.values()), st), st)
    warnings = downgrade_create_before_destroy(changes, g)
    assert len(warnings) == 3
    assert {str(a): c.action for a, c in changes.items()} == {
        "fg_service.c": DTC, "fg_task_definition.b": DTC,
        "fg_target_group.m": Action.NOOP, "fg_target_group.a": DTC}
    plan = Plan(list(changes.values()), st)
    build_operations(plan, st)  # no cycle
    w = _world()
    r = _apply(w, plan, st)
    assert r.ok, r.errors
    log = w.log
    assert sorted(log) == sorted((v, a) for v in ("create", "delete") for a in (
        "fg_service.c", "fg_task_definition.b", "fg_target_group.a"))
    for x, y in ((("delete", "fg_task_definition.b"), ("delete", "fg_service.c")),
                 (("delete", "fg_service.c"), ("create", "fg_service.c")),
                 (("create", "fg_service.c"), ("create", "fg_task_definition.b")),
                 (("delete", "fg_target_group.a"), ("create", "fg_target_group.a"))):
        assert before(log, x, y), (x, y, log)
