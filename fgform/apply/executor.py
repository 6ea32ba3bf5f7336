"""Apply a plan: a dependency-ordered, parallel walk that writes state after every step.

Entry point::

    apply_plan(plan, state, drivers, ctx, save_state, parallelism=10, hooks=None,
               cancel=None, abort=None, resolve=None, keep_going=False,
               progress_interval=10.0) -> ApplyResult

The operation graph
-------------------
Each planned change becomes one or two operations (NOOP becomes none; READ, a data resource
read deferred to apply, one):

- CREATE / UPDATE: one *apply* operation; DELETE: one *destroy* operation.
- DELETE_THEN_CREATE: destroy, then apply.
- CREATE_THEN_DELETE: apply (the new object), then destroy the *deposed* old object, and only
  after every dependent's apply, so dependents have moved to the new object first.
- DELETE of a deposed object (`change.deposed` holds its key: left in state by an earlier
  apply that was interrupted or failed): one *destroy-deposed* operation, after the apply of
  the same instance if there is one (as in a create_before_destroy replacement), before the
  destroy of the instance's current object if that is deleted too.

Edges (an instance depends on every instance of a resource named in its `dependencies`):

- apply(X) waits for apply(D) for each dependency D of X's new configuration;
- destroy(D) waits for destroy(X) for each X whose old object depended on D (teardown runs
  the edges in reverse, as docker-compose's `parallel.py` and Terraform's destroy edges do);
- destroy(D) of a plain DELETE or of a deposed object waits for apply(X) of each X that
  depended on D (X must stop using D before D goes). Not for DELETE_THEN_CREATE: there
  apply(X) waits for D's new object, which waits for destroy(D), so the edge would be a cycle.

A cycle (which the planner should have prevented, e.g. by forcing create_before_destroy onto
dependencies) is reported as an `FgformError` before anything runs.

Unknown values: the `resolve` interface
---------------------------------------
A planned `after` may hold `values.UNKNOWN` where it references a value computed by another
resource during this apply (a service's `cluster = fg_cluster.main.id` when the cluster is new).
Before calling a driver, the executor calls::

    resolve(address: Address, after: dict, state: StateFile) -> dict

which returns `after` with those values filled in. `state` holds every object applied so far
in this run (and everything from before it). It is called whenever `after` holds any UNKNOWN
(it may return computed ones unchanged), with the state lock held so that it sees a
consistent state; it must be quick and must not call `save_state`. The planner side provides
it (it re-evaluates the resource's config expressions against `state`).

Unknowns may remain in *computed* attributes (per `config/schema.py`, e.g. `id`, or the
`recomputed_on_update` ones): the driver computes those. An unknown anywhere else after
resolving (or when no resolver is given) fails that instance with a clear error and the
driver is not called.

State
-----
After each finished operation the executor updates `state` (create/update:
`state.set(addr, InstanceState(...))`; delete: `state.remove(addr, keep_deposed=True)`),
mirrors the attributes into `ctx.resources` (so drivers can look up what they need), and calls
`save_state(state)`, all under one lock: writes are serialised and each save shows a complete
state. A crash at any moment therefore loses at most the operation that was running.

A driver that fails half-way raises `PartialApplyError(message, attrs)`: the attrs are recorded
(a partially created instance as `tainted`) and the operation counts as failed.

Deposed objects (Terraform's): a CREATE_THEN_DELETE replacement first moves the current object
to the instance's deposed objects under a new random key (`state.depose`) and saves, then
creates the new object and records it as current, and its destroy-deposed operation deletes
the deposed object and forgets it (`state.remove_deposed`), saving after each step. So state
names the old object at every moment: killed between the create and the delete, the state
holds the new object as current and the old one as deposed, and the next plan destroys it
(`# fg_x.y (deposed object ab12cd34) will be destroyed`). If the create fails and leaves
nothing, the deposed object becomes current again (Terraform's "maybe restore deposed");
a `PartialApplyError` with attrs records the new object as current and `tainted` while the
old one stays deposed, as Terraform does: the next plan replaces the tainted object and
destroys the deposed one.

Failure, cancel and abort
-------------------------
- An operation fails: its dependents (transitively) are skipped and reported with the root
  cause; the root cause is in `errors` once. With `keep_going=False` (the default) nothing
  new starts after the first failure; with `keep_going=True` independent branches go on
  (Terraform's behaviour). Running operations always finish and are recorded.
- `cancel` set (first Ctrl-C): nothing new starts; running operations finish and are saved.
- `abort` set (second Ctrl-C): `apply_plan` returns at once with state as last saved; the
  running operations are listed in `ApplyResult.interrupted` and whatever they do later is
  NOT written to state (the caller is about to release the state lock and exit). Workers are
  daemon threads, so they do not hold up interpreter exit.

Hooks are called only from the thread that called `apply_plan`. The CLI should install a
SIGINT handler that sets `cancel` on the first Ctrl-C and `abort` on the second, rather than
letting KeyboardInterrupt unwind through `apply_plan` (which would leave no result behind,
though every finished operation is already saved).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fgform import dag
from fgform.addresses import Address, without_address
from fgform.apply.events import (
    ApplyError,
    ApplyFinished,
    ApplyHooks,
    ApplyProgress,
    ApplyStarted,
    NullHooks,
    PartialApplyError,
    SkippedChange,
)
from fgform.apply.operations import Operation, build_operations
from fgform.apply.steps import DataRead, Resolver, SaveState, StepRunner, UnresolvedValueError
from fgform.fleet.driver import Driver, FleetContext
from fgform.plan.model import Action, Plan, PlanMode
from fgform.state.model import StateFile

__all__ = [
    "ApplyResult",
    "PartialApplyError",
    "Resolver",
    "SaveState",
    "UnresolvedValueError",
    "apply_plan",
    "build_operations",
]


@dataclass(slots=True)
class ApplyResult:
    """What an apply did. `added`/`changed`/`destroyed` count finished operations the way the
    summary line does (a replacement adds one and destroys one)."""

    added: int
    changed: int
    destroyed: int
    errors: list[ApplyError]
    state: StateFile
    skipped: list[SkippedChange] = field(default_factory=list)
    interrupted: list[Address] = field(default_factory=list)  # running when aborted
    cancelled: bool = False
    aborted: bool = False
    destroy_mode: bool = False
    imported: int = 0  # objects `import` blocks adopted
    forgotten: int = 0  # objects `removed` blocks dropped from state (left on the fleet)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.cancelled and not self.aborted and not self.skipped



def _object_id(attrs: Mapping[str, Any] | None, or_name: bool) -> tuple[str, str]:
    """Terraform's ObjectValueID / ObjectValueIDOrName: ("id", value) or ("", "")."""
    if not attrs:
        return "", ""
    keys = ("id", "name") if or_name else ("id",)
    for k in keys:
        v = attrs.get(k)
        if isinstance(v, str) and v:
            return k, v
    return "", ""



# Why what was never started was not reached, by why the walk stopped starting work.
_STOP_REASONS = {dag.Stop.CANCELLED: "apply was cancelled",
                 dag.Stop.FAILED: "apply stopped after an error",
                 None: "not reached"}


class _ApplyRun:
    """The coordinator's side of one `apply_plan` call: the hooks, and what the result
    counts. Its methods are `dag.run_parallel`'s callbacks, all on the calling thread."""

    def __init__(self, ops: dict[str, Operation], steps: StepRunner, hooks: ApplyHooks,
                 progress_interval: float) -> None:
        self.ops = ops
        self.steps = steps
        self.hooks = hooks
        self.progress_interval = progress_interval
        self.errors: list[ApplyError] = []
        self.skipped: list[SkippedChange] = []
        self.counts = {Action.CREATE: 0, Action.UPDATE: 0, Action.DELETE: 0, Action.READ: 0}
        self.due: dict[str, float] = {}  # running operation -> its next progress report

    def order(self, key: str) -> int:
        return self.ops[key].order

    def started(self, key: str) -> None:
        op = self.ops[key]
        id_key, id_value = ("", "")
        if op.action is not Action.CREATE:
            id_key, id_value = _object_id(op.change.before, or_name=True)
        self.hooks.pre_apply(ApplyStarted(op.address, op.action, id_key, id_value,
                                          op.deposed, self.steps.deposed_key(op)))

    def finished(self, key: str, elapsed: float, attrs: Any, error: BaseException | None
                 ) -> None:
        op = self.ops[key]
        self.due.pop(key, None)
        if error is None:
            self.counts[op.action] += 1
            id_key, id_value = _object_id(attrs, or_name=False)
            self.hooks.post_apply(ApplyFinished(op.address, op.action, elapsed,
                                                id_key, id_value, None, op.deposed,
                                                self.steps.deposed_key(op)))
        else:
            self.hooks.post_apply(ApplyFinished(op.address, op.action, elapsed,
                                                error=error, deposed=op.deposed,
                                                deposed_key=self.steps.deposed_key(op)))
            self._fail(op, error)

    def _fail(self, op: Operation, error: BaseException) -> None:
        message = getattr(error, "message", None) or str(error) or type(error).__name__
        verb = {Action.CREATE: "creating", Action.UPDATE: "updating",
                Action.DELETE: "destroying", Action.READ: "reading"}[op.action]
        what = str(op.address)
        message = without_address(message, what)
        if op.deposed:
            key = self.steps.deposed_key(op)
            what += f" (deposed object {key})" if key else " (deposed object)"
        self.errors.append(ApplyError(op.address, op.action, f"{verb} {what}: {message}",
                                      error, getattr(error, "hint", "") or ""))

    def skip(self, key: str, reason: str) -> None:
        op = self.ops[key]
        self.skipped.append(SkippedChange(op.address, op.action, reason, op.deposed,
                                          self.steps.deposed_key(op)))

    def skipped_for(self, key: str, failed: str) -> None:
        """`key` is skipped because `failed` failed: the root cause is named."""
        self.skip(key, f"{self.ops[failed].address} failed")

    def tick(self, running: Mapping[str, float]) -> None:
        """A still-running report for each operation every `progress_interval` seconds."""
        now = time.monotonic()
        for key, start in running.items():
            due = self.due.get(key, start + self.progress_interval)
            if now >= due:
                op = self.ops[key]
                id_key, id_value = ("", "")
                if op.action is not Action.CREATE:
                    id_key, id_value = _object_id(op.change.before, or_name=True)
                self.hooks.still_running(ApplyProgress(op.address, op.action, now - start,
                                                       id_key, id_value, op.deposed,
                                                       self.steps.deposed_key(op)))
                due += self.progress_interval
            self.due[key] = due


def apply_plan(plan: Plan, state: StateFile, drivers: Mapping[str, Driver], ctx: FleetContext,
               save_state: SaveState, parallelism: int = 10, hooks: ApplyHooks | None = None,
               cancel: threading.Event | None = None, abort: threading.Event | None = None,
               resolve: Resolver | None = None, keep_going: bool = False,
               progress_interval: float = 10.0,
               read_data: DataRead | None = None) -> ApplyResult:
    """Carry out `plan` on the fleet, updating `state` in place and saving it after each
    operation; see the module docstring for ordering, failures, cancel/abort and `resolve`.

    Raises `FgformError` only before anything has run (a cycle in the plan); every failure
    during the walk is returned in `ApplyResult.errors`.
    """
    ops = build_operations(plan, state)
    imported, forgotten = _imports_and_forgets(plan, state, ctx, save_state, hooks)
    steps = StepRunner(plan, state, drivers, ctx, save_state, resolve, read_data)
    run = _ApplyRun(ops, steps, hooks or NullHooks(), progress_interval)
    steps.mirror_state()
    report = dag.run_parallel(
        {k: op.waits_for for k, op in ops.items()}, lambda k: steps.perform(ops[k]),
        workers=parallelism, key=run.order, cancel=cancel, abort=abort,
        keep_going=keep_going, poll=min(0.05, progress_interval), on_start=run.started,
        on_finish=run.finished, on_skip=run.skipped_for, on_tick=run.tick,
        thread_name=lambda k: f"fgform-apply {k}")
    if report.aborted:
        # Results that come in later are dropped: the caller is about to let go of the
        # state; the state as last saved is complete up to this point.
        steps.close()
    reason = "apply was interrupted" if report.aborted else _STOP_REASONS[report.stopped]
    for key in report.not_reached:
        run.skip(key, reason)
    return ApplyResult(
        added=run.counts[Action.CREATE],
        changed=run.counts[Action.UPDATE],
        destroyed=run.counts[Action.DELETE],
        errors=run.errors,
        state=state,
        skipped=run.skipped,
        interrupted=[ops[k].address for k in report.interrupted],
        cancelled=report.stopped is dag.Stop.CANCELLED,
        aborted=report.aborted,
        destroy_mode=plan.mode is PlanMode.DESTROY,
        imported=imported,
        forgotten=forgotten,
    )


def _imports_and_forgets(plan: Plan, state: StateFile, ctx: FleetContext,
                         save_state: SaveState, hooks: ApplyHooks | None) -> tuple[int, int]:
    """Before any driver call: the objects the plan imports are already in `state` (the
    plan's refreshed state holds them) and are reported as imported (a hook's optional
    `imported(address, id)`); FORGET changes drop their instance from state, the fleet left
    alone. Returns (imported, forgotten)."""
    report = getattr(hooks, "imported", None)
    imported = 0
    for change in plan.changes:
        if change.importing_id is not None and state.get(change.address) is not None:
            imported += 1
            if report is not None:
                report(change.address, change.importing_id)
    forgotten = [c.address for c in plan.changes if c.action is Action.FORGET]
    for addr in forgotten:
        state.remove(addr)
        ctx.resources.pop(str(addr), None)
    if forgotten:
        save_state(state)
    return imported, len(forgotten)
