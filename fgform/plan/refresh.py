"""Refresh: the prior state with each instance's attributes replaced by what the fleet
reports, and the drift that reveals. Plain data in and out: drivers are never called here."""

from __future__ import annotations

import dataclasses
from typing import Any

from fgform.addresses import Address, format_module
from fgform.config.schema import get_schema
from fgform.plan import diff as _diff
from fgform.plan.model import Action, ResourceChange
from fgform.plan.sensitive import merge_paths, schema_sensitive_paths
from fgform.state.model import InstanceState, OutputState, ResourceState, StateFile
from fgform.values import copy_value

_STATE_CLASSES = (StateFile, ResourceState, InstanceState, OutputState)
_FIELDS: dict[type, tuple[str, ...]] = {}


def copy_state(obj: Any) -> Any:
    """`copy.deepcopy` of a StateFile (or any value inside one), several times faster: the
    state's dataclasses are rebuilt field by field and their values copied as plain data."""
    cls = type(obj)
    if cls in _STATE_CLASSES:
        names = _FIELDS.get(cls)
        if names is None:
            names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))
        return cls(**{n: copy_state(getattr(obj, n)) for n in names})
    if cls is list:
        return [copy_state(v) for v in obj]
    if cls is dict:
        return {k: copy_state(v) for k, v in obj.items()}
    return copy_value(obj)


class StateIndex:
    """`StateFile.get` for many lookups: one pass over the state instead of one per lookup
    (a plan of 1,000 resources made a million comparisons). Same answers as `get` as long
    as the state is not changed, including for the first of two resources of one address."""

    def __init__(self, state: StateFile | None) -> None:
        self.state = state
        self.by_key: dict[tuple[Any, ...], InstanceState] = {}
        self.duplicates = False
        if state is None:
            return
        seen: set[tuple[str, str, str, str]] = set()
        for r in state.resources:
            rk = (r.module, r.type, r.name, r.mode)
            if rk in seen:
                self.duplicates = True  # only the first counts, as in StateFile.get
                continue
            seen.add(rk)
            for inst in r.instances:
                if inst.attributes is not None:  # deposed objects only: get() sees nothing
                    self.by_key.setdefault((*rk, inst.index_key), inst)

    def get(self, addr: Address) -> InstanceState | None:
        if self.state is None:
            return None
        return self.by_key.get((format_module(addr.module), addr.type, addr.name, addr.mode,
                                addr.key))


def refresh_state(prior: StateFile | None, live: dict[str, dict[str, Any] | None] | None
                  ) -> tuple[StateFile | None, list[ResourceChange]]:
    """The refreshed state and the drift it revealed (update and delete drift).

    Deposed objects are not refreshed: drivers find objects by their address label, which a
    deposed object shares with its successor, so they are taken to exist as recorded (the
    plan deletes them, and deleting an object that is already gone succeeds)."""
    if prior is None:
        return None, []
    refreshed = copy_state(prior)
    drift: list[ResourceChange] = []
    if not live:
        return refreshed, drift
    index = StateIndex(refreshed)
    # Removing an instance can make a duplicate resource entry the first one: then only
    # StateFile.get itself gives the same answers.
    lookup = refreshed.get if index.duplicates else index.get
    for addr in prior.addresses():
        key = str(addr)
        if key not in live:
            continue  # no driver answered for it: keep what state says
        inst = lookup(addr)
        assert inst is not None
        schema = get_schema(addr.type)
        sens = merge_paths(inst.sensitive_paths,
                            schema_sensitive_paths(schema, inst.attributes))
        observed = live[key]
        if observed is None:
            drift.append(ResourceChange(addr, Action.DELETE, before=inst.attributes,
                                        after=None, before_sensitive=sens,
                                        diffs=_diff.diff_attributes(inst.attributes, None,
                                                                    schema)))
            refreshed.remove(addr, keep_deposed=True)
            continue
        # Drivers report what they read; attributes they do not read keep their state value.
        new = {**inst.attributes, **copy_value(observed)}
        diffs = _diff.diff_attributes(inst.attributes, new, schema)
        if diffs:
            drift.append(ResourceChange(addr, Action.UPDATE, before=inst.attributes,
                                        after=new, before_sensitive=sens,
                                        after_sensitive=sens, diffs=diffs))
            inst.attributes = new
    drift.sort(key=lambda c: c.address.sort_key())
    return refreshed, drift
