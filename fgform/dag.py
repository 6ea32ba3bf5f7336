"""A directed acyclic graph over hashable nodes, and the parallel walk that runs one.

A graph is a mapping `deps`: each node -> the nodes it depends on (an edge `a -> b` means
"a depends on b", so b comes first). Edges to a node that is not a key are ignored, so a
caller may restrict a graph by restricting its keys. Nodes are taken in the mapping's order
wherever an order is not otherwise given, so every result is deterministic.

What it offers: strongly connected components and cycles, topological order (ties broken
by a key) and its reverse, transitive closure both ways, Graphviz DOT, and `run_parallel`:
a dependency-ordered walk on worker threads that skips what depends on a failure and stops
starting work on cancel (the apply executor's walk). Nothing here knows fgform's objects.
"""

from __future__ import annotations

import heapq
import queue
import threading
import time
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from graphlib import TopologicalSorter
from typing import Any, Generic, TypeVar

N = TypeVar("N", bound=Hashable)
R = TypeVar("R")

Deps = Mapping[N, Collection[N]]

__all__ = [
    "Deps",
    "RunReport",
    "Scheduler",
    "Stop",
    "closure",
    "cycles",
    "dependents",
    "reverse_closure",
    "reverse_topological_order",
    "run_parallel",
    "strongly_connected",
    "to_dot",
    "topological_order",
    "unordered",
]


def dependents(deps: Deps[N]) -> dict[N, list[N]]:
    """The reverse edges: for each node, the nodes that depend on it, in `deps` order."""
    rev: dict[N, list[N]] = {n: [] for n in deps}
    for src, dsts in deps.items():
        for d in dsts:
            if d in rev:
                rev[d].append(src)
    return rev


def strongly_connected(deps: Deps[N]) -> list[list[N]]:
    """Tarjan's strongly connected components, each listed once (iterative, so a graph
    thousands of nodes deep needs no recursion). Components come out dependencies first."""
    index: dict[N, int] = {}
    low: dict[N, int] = {}
    on_stack: set[N] = set()
    stack: list[N] = []
    out: list[list[N]] = []
    counter = 0
    for start in deps:
        if start in index:
            continue
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        work: list[tuple[N, Any]] = [(start, iter(deps[start]))]
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in deps:
                    continue
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(deps[w])))
                    advanced = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
            if low[v] == index[v]:
                comp: list[N] = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(comp)
    return out


def cycles(deps: Deps[N]) -> list[list[N]]:
    """The components that are cycles: two or more nodes, or one that depends on itself."""
    return [c for c in strongly_connected(deps) if len(c) > 1 or c[0] in deps[c[0]]]


def topological_order(deps: Deps[N], key: Callable[[N], Any] | None = None) -> list[N]:
    """Every node after all it depends on; among the nodes free to go next, the least by
    `key` (by the node itself when None) comes first. Nodes on a cycle, or depending on one,
    are left out (see `unordered`)."""
    pending = {n: sum(1 for d in set(deps[n]) if d in deps) for n in deps}
    rev = dependents({n: set(ds) for n, ds in deps.items()})
    k: Callable[[N], Any] = key if key is not None else (lambda n: n)
    ready = [(k(n), i, n) for i, n in enumerate(deps) if pending[n] == 0]
    heapq.heapify(ready)
    seq = len(pending)
    out: list[N] = []
    while ready:
        _, _, n = heapq.heappop(ready)
        out.append(n)
        for m in rev[n]:
            pending[m] -= 1
            if pending[m] == 0:
                heapq.heappush(ready, (k(m), seq, m))
                seq += 1
    return out


def reverse_topological_order(deps: Deps[N], key: Callable[[N], Any] | None = None
                              ) -> list[N]:
    """The order to tear down in: dependents before what they depend on."""
    return list(reversed(topological_order(deps, key)))


def unordered(deps: Deps[N]) -> set[N]:
    """The nodes no topological order can place: on a cycle, or depending on one."""
    return set(deps) - set(topological_order(deps, key=_no_key))


def _no_key(_n: object) -> int:
    return 0


def closure(deps: Deps[N], roots: Iterable[N]) -> set[N]:
    """`roots` (those in the graph) and everything they depend on, transitively."""
    return _reach(deps, roots)


def reverse_closure(deps: Deps[N], roots: Iterable[N]) -> set[N]:
    """`roots` (those in the graph) and everything that depends on them, transitively."""
    return _reach(dependents(deps), roots)


def _reach(edges: Mapping[N, Collection[N]], roots: Iterable[N]) -> set[N]:
    seen: set[N] = set()
    todo = [r for r in roots if r in edges]
    while todo:
        n = todo.pop()
        if n in seen:
            continue
        seen.add(n)
        todo.extend(d for d in edges[n] if d in edges and d not in seen)
    return seen


def to_dot(nodes: Iterable[tuple[str, Mapping[str, str]]], edges: Iterable[tuple[str, str]],
           *, graph_attrs: Mapping[str, str] | None = None, subgraph: str | None = None
           ) -> str:
    """Graphviz DOT: the nodes (id, attributes) then the edges, in the order given (the
    caller sorts them for a stable output); inside one named subgraph when `subgraph`."""
    lines = ["digraph {"]
    lines += [f'\t{k} = "{v}"' for k, v in (graph_attrs or {}).items()]
    indent = "\t"
    if subgraph is not None:
        lines.append(f'\tsubgraph "{subgraph}" {{')
        indent = "\t\t"
    for n, attrs in nodes:
        inner = ", ".join(f'{k} = "{v}"' for k, v in attrs.items())
        lines.append(f'{indent}"{n}" [{inner}]' if inner else f'{indent}"{n}"')
    lines += [f'{indent}"{a}" -> "{b}"' for a, b in edges]
    if subgraph is not None:
        lines.append("\t}")
    lines.append("}")
    return "\n".join(lines) + "\n"


# -- the parallel walk ----------------------------------------------------------------------
class Scheduler(Generic[N]):
    """Which nodes of an acyclic graph may start: those whose dependencies all finished.

    `take` hands out the least ready node by `key` (the node's position in `deps` when
    None); `done` releases its dependents; `fail` withdraws everything that depends on a
    node, transitively. A graph with a cycle raises `graphlib.CycleError` (naming one
    cycle); `unordered` names every node a cycle holds up.
    """

    def __init__(self, deps: Deps[N], key: Callable[[N], Any] | None = None) -> None:
        position = {n: i for i, n in enumerate(deps)}
        self.sort_key: Callable[[N], Any] = key if key is not None else position.__getitem__
        self._dependents = dependents(deps)
        self._sorter: TopologicalSorter[N] = TopologicalSorter()
        for n, ds in deps.items():
            self._sorter.add(n, *(d for d in ds if d in deps))
        self._sorter.prepare()
        # Neither started nor withdrawn (ready ones included), in `deps` order.
        self.pending: dict[N, None] = dict.fromkeys(deps)
        self._ready: list[tuple[Any, int, N]] = []
        self._seq = 0  # ties in `key` go first come, first served
        self._release(self._sorter.get_ready())

    def _release(self, nodes: Iterable[N]) -> None:
        for n in nodes:
            if n in self.pending:
                heapq.heappush(self._ready, (self.sort_key(n), self._seq, n))
                self._seq += 1

    def has_ready(self) -> bool:
        """Whether a node may start now."""
        while self._ready and self._ready[0][2] not in self.pending:
            heapq.heappop(self._ready)
        return bool(self._ready)

    def take(self) -> N:
        """The next node to start (call `has_ready` first)."""
        while True:
            _, _, n = heapq.heappop(self._ready)
            if n in self.pending:
                del self.pending[n]
                return n

    def done(self, node: N) -> None:
        """`node` finished: what waited only for it becomes ready."""
        self._sorter.done(node)
        self._release(self._sorter.get_ready())

    def fail(self, node: N) -> list[N]:
        """`node` failed: withdraw every pending node that depends on it, transitively, and
        return them (depth first from the last dependent, as found)."""
        out: list[N] = []
        stack = list(self._dependents[node])
        while stack:
            n = stack.pop()
            if n not in self.pending:
                continue  # already withdrawn, running or done
            del self.pending[n]
            out.append(n)
            stack.extend(self._dependents[n])
        return out


class Stop(Enum):
    """Why a walk stopped starting work before the end."""

    CANCELLED = "cancelled"
    FAILED = "failed"


@dataclass(slots=True)
class RunReport(Generic[N]):
    """How a `run_parallel` walk ended."""

    stopped: Stop | None = None  # the first reason no new work started; None: it did not stop
    aborted: bool = False
    interrupted: list[N] = field(default_factory=list)  # running when aborted, by key
    not_reached: list[N] = field(default_factory=list)  # never started nor skipped, by key


@dataclass(slots=True)
class _Finished(Generic[N]):
    node: N
    elapsed: float
    result: Any
    error: BaseException | None


def run_parallel(deps: Deps[N], work: Callable[[N], Any], *, workers: int,
                 key: Callable[[N], Any] | None = None,
                 cancel: threading.Event | None = None, abort: threading.Event | None = None,
                 keep_going: bool = False, poll: float = 0.05,
                 on_start: Callable[[N], None] | None = None,
                 on_finish: Callable[[N, float, Any, BaseException | None], None] | None = None,
                 on_skip: Callable[[N, N], None] | None = None,
                 on_tick: Callable[[Mapping[N, float]], None] | None = None,
                 thread_name: Callable[[N], str] = str) -> RunReport[N]:
    """Run `work(node)` for every node of an acyclic graph, each after all it depends on, on
    at most `workers` daemon threads at once; the least ready node by `key` starts first.

    Callbacks run on the calling thread only: `on_start(node)` just before a node starts;
    `on_finish(node, seconds, result, error)` when it ends (`error` is what `work` raised,
    any exception); `on_skip(node, failed)` for each node withdrawn because `failed` failed,
    right after that failure's `on_finish`; `on_tick(running)` (node -> monotonic start)
    after each finish and every `poll` seconds while waiting.

    After a failure nothing new starts unless `keep_going`; after `cancel` is set nothing
    new starts; running nodes finish either way. After `abort` is set the walk returns at
    once, listing what still runs (the daemon threads go on, their results unheard).
    A graph with a cycle raises `graphlib.CycleError` before anything starts.
    """
    workers = max(1, workers)
    cancel = cancel or threading.Event()
    abort = abort or threading.Event()
    sched = Scheduler(deps, key)
    sort_key = sched.sort_key
    finished_q: queue.Queue[_Finished[N]] = queue.Queue()
    running: dict[N, float] = {}
    report: RunReport[N] = RunReport()

    def worker(node: N, start: float) -> None:
        result: Any = None
        error: BaseException | None = None
        try:
            result = work(node)
        except BaseException as exc:  # noqa: BLE001 - every failure is reported, not raised
            error = exc
        finished_q.put(_Finished(node, time.monotonic() - start, result, error))

    while True:
        if abort.is_set():
            report.aborted = True
            break
        if cancel.is_set() and report.stopped is None:
            report.stopped = Stop.CANCELLED
        while sched.has_ready() and len(running) < workers and report.stopped is None:
            node = sched.take()
            if on_start is not None:
                on_start(node)
            running[node] = start = time.monotonic()
            threading.Thread(target=worker, args=(node, start), daemon=True,
                             name=thread_name(node)).start()
        if not running:
            break
        try:
            done = finished_q.get(timeout=poll)
        except queue.Empty:
            if on_tick is not None:
                on_tick(running)
            continue
        del running[done.node]
        if on_finish is not None:
            on_finish(done.node, done.elapsed, done.result, done.error)
        if done.error is None:
            sched.done(done.node)
        else:
            for n in sched.fail(done.node):
                if on_skip is not None:
                    on_skip(n, done.node)
            if not keep_going and report.stopped is None:
                report.stopped = Stop.FAILED
        if on_tick is not None:
            on_tick(running)

    if report.aborted:
        report.interrupted = sorted(running, key=sort_key)
    report.not_reached = sorted((n for n in sched.pending if n not in running), key=sort_key)
    return report
