"""The operation graph of an apply: each planned change as one or two driver calls, with
the edges that order them (see `fgform.apply.executor` for the rules)."""

from __future__ import annotations

from dataclasses import dataclass, field

from fgform import dag
from fgform.addresses import Address
from fgform.errors import FgformError
from fgform.plan.model import Action, Plan, ResourceChange
from fgform.state.model import StateFile


@dataclass(slots=True)
class Operation:
    """One driver call to make: `action` is CREATE, UPDATE or DELETE (or READ: a data
    resource read during apply)."""

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
        if a is Action.FORGET:
            continue  # state only (apply_plan), no driver call
        addr = change.address
        if a is Action.NOOP or (a is Action.READ and not addr.is_data):
            continue
        if a is Action.READ:
            # A data resource read deferred to apply: ordered like a create (after what it
            # depends on, before its dependents).
            key = f"read {addr}"
            applies[addr] = ops[key] = Operation(key, change, Action.READ, False, n)
            n += 1
            continue
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
    # Whatever no order can place is on (or behind) a cycle.
    remaining = dag.unordered({k: op.waits_for for k, op in ops.items()})
    if remaining:
        raise FgformError(
            "cycle in the apply order: " + ", ".join(sorted(remaining)),
            hint="a resource replaced with create_before_destroy needs it on the resources "
                 "it depends on too")
