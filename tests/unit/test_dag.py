"""fgform.dag on plain data: components, order, closure, DOT and the parallel walk."""

from __future__ import annotations

import graphlib
import threading
import time

import pytest

from fgform import dag


def test_strongly_connected_finds_every_component_once() -> None:
    deps = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a", "d"}, "e": set()}
    comps = sorted(sorted(c) for c in dag.strongly_connected(deps))
    assert comps == [["a", "b", "c"], ["d"], ["e"]]
    assert sorted(sorted(c) for c in dag.cycles(deps)) == [["a", "b", "c"], ["d"]]


def test_strongly_connected_lists_dependencies_first() -> None:
    deps = {"top": {"mid"}, "mid": {"low"}, "low": set()}
    assert dag.strongly_connected(deps) == [["low"], ["mid"], ["top"]]


def test_a_chain_deeper_than_the_recursion_limit() -> None:
    n = 20_000
    deps = {i: {i + 1} if i + 1 < n else set() for i in range(n)}
    assert dag.cycles(deps) == []
    assert dag.topological_order(deps)[0] == n - 1
    deps[n - 1] = {0}
    assert [len(c) for c in dag.cycles(deps)] == [n]


def test_edges_to_unknown_nodes_are_ignored() -> None:
    deps = {"a": {"gone"}, "b": {"a"}}
    assert dag.topological_order(deps) == ["a", "b"]
    assert dag.cycles(deps) == []
    assert dag.closure(deps, ["b", "gone"]) == {"a", "b"}


def test_topological_order_breaks_ties_by_key() -> None:
    deps = {"d": {"b", "c"}, "c": {"a"}, "b": {"a"}, "a": set()}
    assert dag.topological_order(deps) == ["a", "b", "c", "d"]
    assert dag.topological_order(deps, key=lambda n: -ord(n)) == ["a", "c", "b", "d"]
    assert dag.reverse_topological_order(deps) == ["d", "c", "b", "a"]


def test_topological_order_leaves_out_cycles_and_what_is_behind_them() -> None:
    deps = {"a": set(), "b": {"c", "a"}, "c": {"b"}, "d": {"b"}, "e": {"a"}}
    assert dag.topological_order(deps) == ["a", "e"]
    assert dag.unordered(deps) == {"b", "c", "d"}


def test_closure_both_ways() -> None:
    deps = {"app": {"db", "net"}, "db": {"net"}, "net": set(), "web": {"app"}, "x": set()}
    assert dag.closure(deps, ["app"]) == {"app", "db", "net"}
    assert dag.reverse_closure(deps, ["db"]) == {"db", "app", "web"}
    assert dag.dependents(deps) == {"app": ["web"], "db": ["app"], "net": ["app", "db"],
                                    "web": [], "x": []}


def test_to_dot() -> None:
    text = dag.to_dot([("a", {"label": "a", "shape": "box"}), ("b", {})], [("a", "b")],
                      graph_attrs={"compound": "true"}, subgraph="root")
    assert text == ('digraph {\n\tcompound = "true"\n\tsubgraph "root" {\n'
                    '\t\t"a" [label = "a", shape = "box"]\n\t\t"b"\n\t\t"a" -> "b"\n\t}\n}\n')
    assert dag.to_dot([("a", {})], []) == 'digraph {\n\t"a"\n}\n'


def test_scheduler_hands_out_ready_nodes_by_key_and_withdraws_dependents_of_a_failure() -> None:
    deps = {"a": set(), "b": set(), "c": {"a"}, "d": {"c"}, "e": {"b"}}
    s = dag.Scheduler(deps)
    assert s.has_ready()
    assert s.take() == "a"
    assert s.take() == "b"
    assert not s.has_ready()
    s.done("a")
    assert s.take() == "c"
    assert s.fail("c") == ["d"]
    s.done("b")
    assert s.take() == "e"
    assert not s.has_ready()
    assert list(s.pending) == []


def test_a_cycle_is_refused_before_anything_runs() -> None:
    ran: list[str] = []
    with pytest.raises(graphlib.CycleError):
        dag.run_parallel({"a": {"b"}, "b": {"a"}, "c": set()}, ran.append, workers=2)
    assert ran == []


# -- run_parallel -----------------------------------------------------------------------------
def _walk(deps: dict, fail: set | None = None, **kw):
    events: list[tuple] = []
    lock = threading.Lock()

    def work(n: str) -> str:
        with lock:
            events.append(("run", n))
        if n in (fail or ()):
            raise RuntimeError(f"{n} broke")
        return n.upper()

    report = dag.run_parallel(
        deps, work, workers=kw.pop("workers", 4),
        on_start=lambda n: events.append(("start", n)),
        on_finish=lambda n, s, r, e: events.append(("finish", n, r, None if e is None else
                                                    str(e))),
        on_skip=lambda n, why: events.append(("skip", n, why)), **kw)
    return report, events


def test_run_parallel_runs_each_node_after_its_dependencies() -> None:
    deps = {"net": set(), "db": {"net"}, "app": {"db", "net"}, "web": {"app"}}
    report, events = _walk(deps)
    finished = [e[1] for e in events if e[0] == "finish"]
    assert finished == ["net", "db", "app", "web"]
    assert ("finish", "web", "WEB", None) in events
    assert report.stopped is None and not report.aborted and report.not_reached == []


def test_run_parallel_skips_dependents_of_a_failure_and_stops() -> None:
    deps = {"a": set(), "b": {"a"}, "c": {"b"}, "z": {"a"}}
    report, events = _walk(deps, fail={"a"})
    assert ("finish", "a", None, "a broke") in events
    # Depth first from the last dependent, each right after the failure is reported.
    assert events[-3:] == [("skip", "z", "a"), ("skip", "b", "a"), ("skip", "c", "a")]
    assert report.stopped is dag.Stop.FAILED
    assert report.not_reached == []


def test_run_parallel_without_keep_going_starts_nothing_after_a_failure() -> None:
    deps = {"a": set(), "b": set(), "c": set()}
    report, events = _walk(deps, fail={"a"}, workers=1)
    assert [e[1] for e in events if e[0] == "start"] == ["a"]
    assert report.stopped is dag.Stop.FAILED and report.not_reached == ["b", "c"]


def test_run_parallel_with_keep_going_runs_independent_branches() -> None:
    deps = {"a": set(), "b": {"a"}, "c": set()}
    report, events = _walk(deps, fail={"a"}, workers=1, keep_going=True)
    assert [e[1] for e in events if e[0] == "start"] == ["a", "c"]
    assert ("skip", "b", "a") in events
    assert report.stopped is None and report.not_reached == []


def test_run_parallel_bounds_the_workers() -> None:
    busy, most = 0, 0
    lock = threading.Lock()

    def work(n: int) -> None:
        nonlocal busy, most
        with lock:
            busy += 1
            most = max(most, busy)
        time.sleep(0.02)
        with lock:
            busy -= 1

    dag.run_parallel({i: set() for i in range(12)}, work, workers=3)
    assert most == 3


def test_run_parallel_honours_cancel() -> None:
    cancel = threading.Event()

    def work(n: str) -> None:
        cancel.set()

    started: list[str] = []
    report = dag.run_parallel({"a": set(), "b": {"a"}, "c": set()}, work, workers=1,
                              cancel=cancel, on_start=started.append)
    assert started == ["a"]
    assert report.stopped is dag.Stop.CANCELLED and report.not_reached == ["b", "c"]


def test_run_parallel_returns_at_once_on_abort() -> None:
    abort, release = threading.Event(), threading.Event()

    def work(n: str) -> None:
        if n == "slow":
            abort.set()
            release.wait(5)

    report = dag.run_parallel({"slow": set(), "later": {"slow"}}, work, workers=2,
                              abort=abort)
    release.set()
    assert report.aborted and report.interrupted == ["slow"]
    assert report.not_reached == ["later"]


def test_run_parallel_ticks_while_waiting() -> None:
    ticks: list[dict] = []
    dag.run_parallel({"a": set()}, lambda n: time.sleep(0.05), workers=1, poll=0.01,
                     on_tick=lambda running: ticks.append(dict(running)))
    assert any("a" in t for t in ticks)
    assert ticks[-1] == {}


@pytest.mark.parametrize("key", [None, lambda n: -n])
def test_run_parallel_starts_ready_nodes_by_key(key) -> None:
    started: list[int] = []
    dag.run_parallel({i: set() for i in range(5)}, lambda n: None, workers=1, key=key,
                     on_start=started.append)
    assert started == ([0, 1, 2, 3, 4] if key is None else [4, 3, 2, 1, 0])
