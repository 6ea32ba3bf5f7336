"""Apply a plan: a dependency-ordered, parallel walk that writes state after every step.

Entry point::

    apply_plan(plan, state, drivers, ctx, save_state, parallelism=10, hooks=None,
               cancel=None, abort=None, resolve=None, keep_going=False,
               progress_interval=10.0) -> ApplyResult

The operation graph
-------------------
Each planned change becomes one or two operations (NOOP and READ become none):

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

import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

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
from fgform.config.schema import AttrSchema, BlockSchema, get_schema
from fgform.errors import FgformError
from fgform.fleet.driver import Driver, FleetContext
from fgform.plan.model import Action, Plan, PlanMode, ResourceChange
from fgform.state.model import InstanceState, StateFile
from fgform.values import UNKNOWN, Path, contains_unknown

Resolver = Callable[[Address, dict[str, Any], StateFile], dict[str, Any]]
SaveState = Callable[[StateFile], None]

__all__ = [
    "ApplyResult",
    "PartialApplyError",
    "Resolver",
    "SaveState",
    "UnresolvedValueError",
    "apply_plan",
    "build_operations",
]


_PARTIAL = (PartialApplyError,)


class UnresolvedValueError(FgformError):
    """A planned value was still unknown when its resource was to be applied."""


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

    @property
    def ok(self) -> bool:
        return not self.errors and not self.cancelled and not self.aborted and not self.skipped


# -- the operation graph ------------------------------------------------------------------
@dataclass(slots=True)
class Operation:
    """One driver call to make: `action` is CREATE, UPDATE or DELETE."""

    key: str  # unique: "apply ADDR", "destroy ADDR" or "destroy-deposed ADDR"
    change: ResourceChange
    action: Action
    deposed: bool = False
    order: int = 0  # position for a deterministic start order among ready operations
    waits_for: set[str] = field(default_factory=set)
    # The deposed object's key when the plan names it (a leftover deposed object); for a
    # CREATE_THEN_DELETE replacement it is made when the apply operation deposes the object.
    deposed_key: str = ""

    @property
    def address(self) -> Address:
        return self.change.address


def _depends_on(dep: str, addr: Address) -> bool:
    """Does the dependency string `dep` (a resource, an instance or a module address) cover
    the instance `addr`?"""
    text = str(addr)
    if dep == text or dep == str(addr.resource):
        return True
    # `module.m` covers everything inside module.m and each of its instances (module.m[0]).
    return dep.startswith("module.") and (
        text.startswith(dep + ".") or text.startswith(dep + "["))


def build_operations(plan: Plan, state: StateFile) -> dict[str, Operation]:
    """The operations for `plan` with their `waits_for` edges; raises on a cycle."""
    ops: dict[str, Operation] = {}
    applies: dict[Address, Operation] = {}
    # (address, deposed key): "" for the current object or a replacement's deposed one
    destroys: dict[tuple[Address, str], Operation] = {}
    n = 0
    for change in plan.changes:
        a = change.action
        if a in (Action.NOOP, Action.READ):
            continue
        addr = change.address
        if change.deposed:
            # A deposed object left by an earlier apply: only ever destroyed.
            key = f"destroy-deposed {addr} {change.deposed}"
            destroys[(addr, change.deposed)] = ops[key] = Operation(
                key, change, Action.DELETE, True, n, deposed_key=change.deposed)
            n += 1
            continue
        if a in (Action.DELETE, Action.DELETE_THEN_CREATE, Action.CREATE_THEN_DELETE):
            deposed = a is Action.CREATE_THEN_DELETE
            key = f"{'destroy-deposed' if deposed else 'destroy'} {addr}"
            destroys[(addr, "")] = ops[key] = Operation(key, change, Action.DELETE, deposed, n)
            n += 1
        if a is not Action.DELETE:
            kind = Action.UPDATE if a is Action.UPDATE else Action.CREATE
            key = f"apply {addr}"
            applies[addr] = ops[key] = Operation(key, change, kind, False, n)
            n += 1
        if a is Action.DELETE_THEN_CREATE:
            applies[addr].waits_for.add(destroys[(addr, "")].key)
        elif a is Action.CREATE_THEN_DELETE:
            destroys[(addr, "")].waits_for.add(applies[addr].key)
    for (addr, dkey), op in destroys.items():
        if dkey and addr in applies:
            # The instance's new object first, as in a create_before_destroy replacement.
            op.waits_for.add(applies[addr].key)
        current = destroys.get((addr, ""))
        if dkey and current is not None and current.change.action is Action.DELETE:
            # The whole instance goes: its current object last (it may take shared data
            # with it, such as a registry's volume).
            current.waits_for.add(op.key)

    def old_deps(addr: Address, change: ResourceChange) -> list[str]:
        # The old object's dependencies are the ones recorded in state; a plain DELETE's
        # change carries them too (the planner copies them), so take both.
        inst = state.instance(addr)
        deps = list(inst.dependencies) if inst is not None else []
        if change.action is Action.DELETE:
            deps += change.dependencies
        return deps

    for addr, op in applies.items():
        for dep in op.change.dependencies:
            for other, other_op in applies.items():
                if other != addr and _depends_on(dep, other):
                    op.waits_for.add(other_op.key)
    for (addr, _), op in destroys.items():
        # Reverse edges: what this old object depended on is destroyed after it.
        for dep in old_deps(addr, op.change):
            for (other, _), other_op in destroys.items():
                if other != addr and _depends_on(dep, other):
                    other_op.waits_for.add(op.key)
    for (addr, _), op in destroys.items():
        if op.change.action is Action.DELETE_THEN_CREATE:
            continue
        # Dependents (old or new) move off this object before it goes.
        for other, other_op in applies.items():
            if other == addr:
                continue
            deps = list(other_op.change.dependencies) + old_deps(other, other_op.change)
            if any(_depends_on(d, addr) for d in deps):
                op.waits_for.add(other_op.key)
    _check_cycles(ops)
    return ops


def _check_cycles(ops: dict[str, Operation]) -> None:
    # Kahn's algorithm: whatever cannot be ordered is on (or behind) a cycle.
    remaining = {k: set(op.waits_for) for k, op in ops.items()}
    progress = True
    while remaining and progress:
        free = [k for k, w in remaining.items() if not (w & remaining.keys())]
        progress = bool(free)
        for k in free:
            del remaining[k]
    if remaining:
        raise FgformError(
            "cycle in the apply order: " + ", ".join(sorted(remaining)),
            hint="a resource replaced with create_before_destroy needs it on the resources "
                 "it depends on too")


# -- unknown values -----------------------------------------------------------------------
def _unknown_config_paths(type_name: str, value: dict[str, Any]) -> list[Path]:
    """Paths holding UNKNOWN that are not computed attributes (per the type's schema; for a
    type without a schema only `id` counts as computed)."""
    schema = get_schema(type_name)
    out: list[Path] = []

    def walk(v: Any, path: Path, block: BlockSchema | None, attr: AttrSchema | None) -> None:
        if attr is not None and attr.computed:
            return  # the driver computes it: unknown is expected
        if v is UNKNOWN:
            out.append(path)
        elif isinstance(v, dict):
            for k, item in v.items():
                sub_attr = block.attr(k) if block is not None else None
                sub_block = block.block(k) if block is not None else None
                if block is None and k == "id" and not path:
                    continue
                if sub_block is not None:
                    walk_block(item, (*path, k), sub_block)
                else:
                    walk(item, (*path, k), None, sub_attr)
        elif isinstance(v, (list, tuple)):
            for i, item in enumerate(v):
                walk(item, (*path, i), None, attr)

    def walk_block(v: Any, path: Path, block: BlockSchema) -> None:
        if v is UNKNOWN:
            out.append(path)
        elif isinstance(v, dict):
            walk(v, path, block, None)
        elif isinstance(v, (list, tuple)):
            for i, item in enumerate(v):
                walk_block(item, (*path, i), block)

    if schema is not None:
        walk(value, (), schema.body, None)
    else:
        walk(value, (), None, None)
    return out


def _format_path(path: Path) -> str:
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text


# -- the walk -----------------------------------------------------------------------------
@dataclass(slots=True)
class _Done:
    op: Operation
    elapsed: float
    attrs: dict[str, Any] | None
    error: BaseException | None


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


class _Walk:
    """The state of one `apply_plan` call; `run` is the coordinator loop."""

    def __init__(self, plan: Plan, state: StateFile, drivers: Mapping[str, Driver],
                 ctx: FleetContext, save_state: SaveState, parallelism: int,
                 hooks: ApplyHooks, cancel: threading.Event, abort: threading.Event,
                 resolve: Resolver | None, keep_going: bool, progress_interval: float) -> None:
        self.plan = plan
        self.state = state
        self.drivers = drivers
        self.ctx = ctx
        self.save_state = save_state
        self.parallelism = max(1, parallelism)
        self.hooks = hooks
        self.cancel = cancel
        self.abort = abort
        self.resolve = resolve
        self.keep_going = keep_going
        self.progress_interval = progress_interval
        self.lock = threading.Lock()  # guards state, ctx.resources, save_state, `closed`
        self.closed = False  # set on abort: late results are no longer written
        self.done_q: queue.Queue[_Done] = queue.Queue()
        self.ops = build_operations(plan, state)
        self.errors: list[ApplyError] = []
        self.skipped: list[SkippedChange] = []
        # Deposed keys made by this run's CREATE_THEN_DELETE applies, by address (read by
        # their destroy-deposed operations, which wait for them).
        self.deposed_keys: dict[Address, str] = {}
        self.counts = {Action.CREATE: 0, Action.UPDATE: 0, Action.DELETE: 0}

    # -- worker side --------------------------------------------------------------------
    def _perform(self, op: Operation) -> dict[str, Any] | None:
        """Make the driver call and record its result; runs in a worker thread."""
        change, addr = op.change, op.address
        driver = self.drivers.get(addr.type)
        if driver is None:
            raise FgformError(f"no driver for resource type {addr.type!r}")
        if op.action is Action.DELETE and op.deposed:
            self._destroy_deposed(op, driver)
            return None
        if op.action is Action.DELETE:
            prior = change.before
            if prior is None:
                inst = self.state.get(addr)
                prior = inst.attributes if inst is not None else {}
            try:
                # Data a new object reuses outlives a replacement, never a delete or destroy.
                driver.delete(self.ctx, addr, prior, replacing=change.action.is_replace)
            except _PARTIAL as exc:
                self._record(op, exc.attrs)
                raise
            self._record(op, None)
            return None
        planned = self._planned(op)
        # create_before_destroy: the old object becomes deposed (and is saved so) before
        # its successor exists, so that no moment leaves it out of state.
        deposed_key = self._depose(op) if change.action is Action.CREATE_THEN_DELETE else None
        try:
            if op.action is Action.CREATE:
                attrs = driver.create(self.ctx, addr, planned)
            else:
                attrs = driver.update(self.ctx, addr, change.before or {}, planned)
        except BaseException as exc:
            made = None
            if isinstance(exc, _PARTIAL):
                # A half-made new object is tainted so the next plan replaces it; a half-done
                # update leaves an object that is still the instance, just not fully updated.
                made = exc.attrs
                self._record(op, made, tainted=op.action is Action.CREATE)
            if deposed_key is not None and made is None:
                # No new object: the old one is the instance's current object again. (With
                # one, the old object stays deposed for the next plan to destroy.)
                self._restore_deposed(op, deposed_key)
            raise
        self._record(op, attrs)
        return attrs

    def _destroy_deposed(self, op: Operation, driver: Driver) -> None:
        """Delete a deposed object and forget it (its key: from the plan, or made by this
        run's apply of the same instance)."""
        addr, change = op.address, op.change
        key = self._deposed_key(op)
        with self.lock:
            inst = self.state.instance(addr)
            prior = inst.deposed.get(key) if inst is not None and key else None
            has_current = self.state.get(addr) is not None
        if prior is None:  # not in state (no current object to depose): what the plan says
            prior = change.before or {}
        try:
            # Data is shared with the instance's current object: it goes only when the whole
            # instance is destroyed and nothing else is left using it.
            driver.delete(self.ctx, addr, prior,
                          replacing=not (self.plan.mode is PlanMode.DESTROY and not has_current))
        except _PARTIAL as exc:
            if key:
                self._record_deposed(addr, key, exc.attrs)
            raise
        if key:
            self._record_deposed(addr, key, None)

    def _deposed_key(self, op: Operation) -> str:
        return op.deposed_key or (self.deposed_keys.get(op.address, "") if op.deposed else "")

    def _depose(self, op: Operation) -> str | None:
        """Move the instance's current object to its deposed objects and save; return the
        new deposed key (None: no current object in state, nothing to depose)."""
        addr = op.address
        with self.lock:
            if self.closed:
                raise FgformError(f"{addr}: apply was interrupted before the replacement")
            key = self.state.depose(addr)
            if key is None:
                return None
            try:
                self.save_state(self.state)
            except Exception as exc:
                self.state.restore_deposed(addr, key)
                raise FgformError(
                    f"saving the state failed before replacing {addr}: {exc}",
                    hint="nothing was created; the old object is still the current one"
                ) from exc
            self.deposed_keys[addr] = key
            return key

    def _restore_deposed(self, op: Operation, key: str) -> None:
        """The create of a replacement failed and left nothing: the deposed object becomes
        the current one again (if no new object was recorded meanwhile)."""
        addr = op.address
        with self.lock:
            if self.closed or not self.state.restore_deposed(addr, key):
                return
            self.deposed_keys.pop(addr, None)
            inst = self.state.get(addr)
            if inst is not None and inst.attributes is not None:
                self.ctx.resources[str(addr)] = inst.attributes
            try:
                self.save_state(self.state)
            except Exception:  # noqa: BLE001 - the create's own error is what is reported
                # The file still says "deposed, no current object": also true to the fleet
                # (the next plan creates a new object and destroys the old one), and the
                # next save writes the restored state anyway.
                pass

    def _record_deposed(self, addr: Address, key: str, attrs: dict[str, Any] | None) -> None:
        """A deposed object was deleted (attrs None) or partly deleted: record and save."""
        with self.lock:
            if self.closed:
                return
            if attrs is None:
                self.state.remove_deposed(addr, key)
            else:
                self.state.set_deposed(addr, key, attrs)
            self._save()

    def _planned(self, op: Operation) -> dict[str, Any]:
        after = dict(op.change.after or {})
        # Ask the resolver whenever anything is unknown, not only non-computed attributes:
        # an optional+computed attribute may still reference another resource's result.
        if self.resolve is not None and contains_unknown(after):
            with self.lock:
                after = self.resolve(op.address, after, self.state)
        missing = _unknown_config_paths(op.address.type, after)
        if missing:
            names = ", ".join(_format_path(p) for p in missing)
            raise UnresolvedValueError(
                f"{op.address}: {names} still unknown at apply time",
                hint="these values depend on other resources' results; the apply needs a "
                     "resolver to fill them in (a bug in fgform if you see this)")
        return after

    def _record(self, op: Operation, attrs: dict[str, Any] | None,
                tainted: bool = False) -> None:
        """Write one result into state and save it, serialised across workers."""
        addr, change = op.address, op.change
        with self.lock:
            if self.closed:
                return
            if attrs is None:
                self.state.remove(addr, keep_deposed=True)
                self.ctx.resources.pop(str(addr), None)
            else:
                self.state.set(addr, InstanceState(
                    index_key=addr.key,
                    attributes=attrs,
                    sensitive_paths=[list(p) for p in change.after_sensitive],
                    dependencies=sorted(set(change.dependencies)),
                    status="tainted" if tainted else "ready",
                    create_before_destroy=change.create_before_destroy,
                ))
                self.ctx.resources[str(addr)] = attrs
            self._save()

    def _save(self) -> None:
        """save_state, with the lock held."""
        try:
            self.save_state(self.state)
        except Exception as exc:
            # The fleet changed but the disk does not say so: the user must know.
            raise FgformError(f"the operation succeeded but saving the state failed: {exc}",
                              hint="the object exists but the state file may not list "
                                   "it; the next save (after the next operation) retries"
                              ) from exc

    def _worker(self, op: Operation) -> None:
        start = time.monotonic()
        attrs: dict[str, Any] | None = None
        error: BaseException | None = None
        try:
            attrs = self._perform(op)
        except BaseException as exc:  # noqa: BLE001 - every failure is reported, not raised
            error = exc
        self.done_q.put(_Done(op, time.monotonic() - start, attrs, error))

    # -- coordinator side ---------------------------------------------------------------
    def run(self) -> ApplyResult:
        with self.lock:
            for a in self.state.addresses():
                inst = self.state.get(a)
                if inst is not None:
                    self.ctx.resources.setdefault(str(a), inst.attributes)
        waiting = {k: set(op.waits_for) for k, op in self.ops.items()}
        dependents: dict[str, list[str]] = {k: [] for k in self.ops}
        for k, op in self.ops.items():
            for w in op.waits_for:
                dependents[w].append(k)
        ready = sorted((k for k, w in waiting.items() if not w), key=lambda k: self.ops[k].order)
        running: dict[str, tuple[float, float]] = {}  # key -> (start, next progress time)
        finished: set[str] = set()
        stop_reason = ""
        cancelled = aborted = False

        while True:
            if self.abort.is_set():
                aborted = True
                break
            if self.cancel.is_set() and not stop_reason:
                cancelled = True
                stop_reason = "apply was cancelled"
            while ready and len(running) < self.parallelism and not stop_reason:
                key = ready.pop(0)
                op = self.ops[key]
                del waiting[key]
                id_key, id_value = ("", "")
                if op.action is not Action.CREATE:
                    id_key, id_value = _object_id(op.change.before, or_name=True)
                self.hooks.pre_apply(ApplyStarted(op.address, op.action, id_key, id_value,
                                                  op.deposed, self._deposed_key(op)))
                now = time.monotonic()
                running[key] = (now, now + self.progress_interval)
                threading.Thread(target=self._worker, args=(op,), daemon=True,
                                 name=f"fgform-apply {key}").start()
            if not running:
                break
            try:
                done = self.done_q.get(timeout=min(0.05, self.progress_interval))
            except queue.Empty:
                self._progress(running)
                continue
            key = done.op.key
            del running[key]
            finished.add(key)
            op = done.op
            if done.error is None:
                self.counts[op.action] += 1
                id_key, id_value = _object_id(done.attrs, or_name=False)
                self.hooks.post_apply(ApplyFinished(op.address, op.action, done.elapsed,
                                                    id_key, id_value, None, op.deposed,
                                                    self._deposed_key(op)))
                for d in dependents[key]:
                    if d in waiting:
                        waiting[d].discard(key)
                        if not waiting[d]:
                            ready.append(d)
                ready.sort(key=lambda k: self.ops[k].order)
            else:
                self.hooks.post_apply(ApplyFinished(op.address, op.action, done.elapsed,
                                                    error=done.error, deposed=op.deposed,
                                                    deposed_key=self._deposed_key(op)))
                self._fail(op, done.error)
                self._skip_dependents(key, dependents, waiting, ready)
                if not self.keep_going and not stop_reason:
                    stop_reason = "apply stopped after an error"
            self._progress(running)

        interrupted: list[Address] = []
        if aborted:
            with self.lock:
                # Results that come in later are dropped: the caller is about to let go
                # of the state; the state as last saved is complete up to this point.
                self.closed = True
            interrupted = [self.ops[k].address for k in sorted(running,
                                                               key=lambda k: self.ops[k].order)]
            stop_reason = "apply was interrupted"
        for key in sorted(waiting, key=lambda k: self.ops[k].order):
            if key in running:
                continue
            op = self.ops[key]
            self.skipped.append(SkippedChange(op.address, op.action, stop_reason or "not reached",
                                              op.deposed, self._deposed_key(op)))
        return ApplyResult(
            added=self.counts[Action.CREATE],
            changed=self.counts[Action.UPDATE],
            destroyed=self.counts[Action.DELETE],
            errors=self.errors,
            state=self.state,
            skipped=self.skipped,
            interrupted=interrupted,
            cancelled=cancelled,
            aborted=aborted,
            destroy_mode=self.plan.mode is PlanMode.DESTROY,
        )

    def _fail(self, op: Operation, error: BaseException) -> None:
        message = getattr(error, "message", None) or str(error) or type(error).__name__
        verb = {Action.CREATE: "creating", Action.UPDATE: "updating",
                Action.DELETE: "destroying"}[op.action]
        what = str(op.address)
        message = without_address(message, what)
        if op.deposed:
            key = self._deposed_key(op)
            what += f" (deposed object {key})" if key else " (deposed object)"
        self.errors.append(ApplyError(op.address, op.action, f"{verb} {what}: {message}",
                                      error, getattr(error, "hint", "") or ""))

    def _skip_dependents(self, key: str, dependents: dict[str, list[str]],
                         waiting: dict[str, set[str]], ready: list[str]) -> None:
        """Skip everything that (transitively) waits for `key`, naming the root cause."""
        root = self.ops[key]
        reason = f"{root.address} failed"
        stack = list(dependents[key])
        while stack:
            k = stack.pop()
            if k not in waiting:
                continue  # already skipped, running or done
            del waiting[k]
            if k in ready:
                ready.remove(k)
            op = self.ops[k]
            self.skipped.append(SkippedChange(op.address, op.action, reason, op.deposed,
                                              self._deposed_key(op)))
            stack.extend(dependents[k])

    def _progress(self, running: dict[str, tuple[float, float]]) -> None:
        now = time.monotonic()
        for key, (start, due) in list(running.items()):
            if now >= due:
                op = self.ops[key]
                id_key, id_value = ("", "")
                if op.action is not Action.CREATE:
                    id_key, id_value = _object_id(op.change.before, or_name=True)
                self.hooks.still_running(ApplyProgress(op.address, op.action, now - start,
                                                       id_key, id_value, op.deposed,
                                                       self._deposed_key(op)))
                running[key] = (start, due + self.progress_interval)


def apply_plan(plan: Plan, state: StateFile, drivers: Mapping[str, Driver], ctx: FleetContext,
               save_state: SaveState, parallelism: int = 10, hooks: ApplyHooks | None = None,
               cancel: threading.Event | None = None, abort: threading.Event | None = None,
               resolve: Resolver | None = None, keep_going: bool = False,
               progress_interval: float = 10.0) -> ApplyResult:
    """Carry out `plan` on the fleet, updating `state` in place and saving it after each
    operation; see the module docstring for ordering, failures, cancel/abort and `resolve`.

    Raises `FgformError` only before anything has run (a cycle in the plan); every failure
    during the walk is returned in `ApplyResult.errors`.
    """
    walk = _Walk(plan, state, drivers, ctx, save_state, parallelism, hooks or NullHooks(),
                 cancel or threading.Event(), abort or threading.Event(), resolve, keep_going,
                 progress_interval)
    return walk.run()
