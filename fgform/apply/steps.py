"""One apply step: a driver call for one operation, and its result written into state.

`StepRunner.perform(op)` runs on a worker thread; everything it writes (state, the fleet
context's resource mirror, the saved file) goes through one lock, so saves are serialised
and each shows a complete state. See `fgform.apply.executor` for deposed objects, partial
failures and the `resolve` interface.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from fgform.addresses import Address
from fgform.apply.events import PartialApplyError
from fgform.apply.operations import Operation
from fgform.config.schema import AttrSchema, BlockSchema, get_schema, schema_for
from fgform.errors import FgformError
from fgform.fleet.driver import Driver, FleetContext
from fgform.plan.model import Action, Plan, PlanMode
from fgform.plan.sensitive import merge_paths, schema_sensitive_paths
from fgform.state.model import InstanceState, InstanceStatus, StateFile
from fgform.values import UNKNOWN, Path, contains_unknown

Resolver = Callable[[Address, dict[str, Any], StateFile], dict[str, Any]]
# Reads a data source during apply: (fleet context, type, arguments) -> its attributes.
DataRead = Callable[[FleetContext, str, dict[str, Any]], dict[str, Any]]
SaveState = Callable[[StateFile], None]

_PARTIAL = (PartialApplyError,)


class UnresolvedValueError(FgformError):
    """A planned value was still unknown when its resource was to be applied."""


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



# -- the step -----------------------------------------------------------------------------
class StepRunner:
    """Performs operations against the drivers and records each result in `state`."""

    def __init__(self, plan: Plan, state: StateFile, drivers: Mapping[str, Driver],
                 ctx: FleetContext, save_state: SaveState, resolve: Resolver | None,
                 read_data: DataRead | None = None) -> None:
        self.plan = plan
        self.state = state
        self.drivers = drivers
        self.ctx = ctx
        self.save_state = save_state
        self.resolve = resolve
        self.read_data = read_data
        self.lock = threading.Lock()  # guards state, ctx.resources, save_state, `closed`
        self.closed = False  # set on abort: late results are no longer written
        # Deposed keys made by this run's CREATE_THEN_DELETE applies, by address (read by
        # their destroy-deposed operations, which wait for them).
        self.deposed_keys: dict[Address, str] = {}

    def mirror_state(self) -> None:
        """Show drivers every object state holds (`ctx.resources`), before the first step."""
        with self.lock:
            for a in self.state.addresses():
                inst = self.state.get(a)
                if inst is not None:
                    self.ctx.resources.setdefault(str(a), inst.attributes)

    def close(self) -> None:
        """Write nothing more: the caller is about to let go of the state (abort)."""
        with self.lock:
            self.closed = True

    def perform(self, op: Operation) -> dict[str, Any] | None:
        """Make the driver call and record its result; runs in a worker thread."""
        change, addr = op.change, op.address
        if op.action is Action.READ:
            attrs = self._read(op)
            self._record(op, attrs)
            return attrs
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

    def _read(self, op: Operation) -> dict[str, Any]:
        """A data resource read deferred to apply: its arguments resolved from what this
        apply made, then read from the fleet."""
        after = dict(op.change.after or {})
        if self.resolve is not None and contains_unknown(after):
            with self.lock:
                after = self.resolve(op.address, after, self.state)
        schema = schema_for("data", op.address.type)
        args = {k: v for k, v in after.items()
                if schema is None or (a := schema.attr(k)) is None or not a.computed}
        missing = [k for k, v in sorted(args.items()) if contains_unknown(v)]
        if missing:
            raise UnresolvedValueError(
                f"{op.address}: {', '.join(missing)} still unknown at apply time",
                hint="these values depend on other resources' results (a bug in fgform if "
                     "you see this)")
        if self.read_data is None:
            raise FgformError(f"{op.address}: no fleet to read the data source from")
        return self.read_data(self.ctx, op.address.type, args)

    def _destroy_deposed(self, op: Operation, driver: Driver) -> None:
        """Delete a deposed object and forget it (its key: from the plan, or made by this
        run's apply of the same instance)."""
        addr, change = op.address, op.change
        key = self.deposed_key(op)
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

    def deposed_key(self, op: Operation) -> str:
        """The key of the deposed object `op` concerns ("" when none is known)."""
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
                    # The schema's, of what the driver returned too: a task definition's
                    # history is known only now (plan/sensitive.py).
                    sensitive_paths=[list(p) for p in merge_paths(
                        change.after_sensitive,
                        schema_sensitive_paths(get_schema(addr.type), attrs))],
                    dependencies=sorted(set(change.dependencies)),
                    status=InstanceStatus.TAINTED if tainted else InstanceStatus.READY,
                    create_before_destroy=change.create_before_destroy,
                    labelled_as=self.ctx.labels.get(str(addr)),
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
