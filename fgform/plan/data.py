"""Data resources in a plan, with Terraform's lifecycle: a data resource is read during plan
when its arguments are known and nothing it depends on has changes pending; its result goes
into the plan's refreshed state (so apply writes it to the state file) and is what later
expressions see. Otherwise its read is planned (`<= read`, reason config unknown or
dependency pending) and done during apply, its computed attributes unknown until then.

The read itself is the caller's (`PlanOptions.read_data`, which the workflow makes from the
fleet): the planner never touches Docker.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fgform.addresses import Address
from fgform.config.model import Resource
from fgform.config.schema import schema_for
from fgform.errors import Diagnostic, FgformError
from fgform.plan.model import Action, ActionReason, ResourceChange
from fgform.plan.sensitive import remark
from fgform.plan.targets import config_id
from fgform.state.model import InstanceState, StateFile
from fgform.values import UNKNOWN, contains_unknown, copy_value, unmark

# (address, type, arguments) -> the data source's attributes (arguments and computed ones).
DataReader = Callable[[Address, str, dict[str, Any]], dict[str, Any]]


def unknown_result(res: Resource, args: dict[str, Any]) -> dict[str, Any]:
    """The arguments with every computed attribute unknown: a read not done yet."""
    schema = schema_for("data", res.type)
    out = dict(args)
    if schema is not None:
        for a in schema.body.attributes:
            if a.computed and out.get(a.name) is None:
                out[a.name] = UNKNOWN
    return out


class DataPlanner:
    """Plans the data resources of one plan walk; `state` is the plan's refreshed state
    (made when there was none and a data resource is read)."""

    def __init__(self, state: StateFile | None, read_data: DataReader | None,
                 changes: dict[Address, ResourceChange], errors: list[Diagnostic]) -> None:
        self.state = state
        self.read_data = read_data
        self.changes = changes
        self.errors = errors
        self.seen: set[Address] = set()

    def _pending(self, deps: list[str]) -> bool:
        """Does anything this data resource depends on have changes planned?"""
        wanted = set(deps)
        return any(rc.action is not Action.NOOP and config_id(a) in wanted
                   for a, rc in self.changes.items())

    def plan(self, addr: Address, res: Resource, decoded: dict[str, Any],
             deps: list[str]) -> Any:
        """The value later expressions see for one data resource instance."""
        self.seen.add(addr)
        args, sens = unmark(decoded)
        reason = None
        if contains_unknown(args):
            reason = ActionReason.READ_BECAUSE_CONFIG_UNKNOWN
        elif self._pending(deps):
            reason = ActionReason.READ_BECAUSE_DEPENDENCY_PENDING
        elif self.read_data is None:
            # No fleet to read from (a plan made without one): what state holds, if any.
            prior = self.state.get(addr) if self.state is not None else None
            if prior is not None:
                return copy_value(prior.attributes)
            reason = ActionReason.READ_BECAUSE_CONFIG_UNKNOWN
        if reason is not None:
            after = unknown_result(res, args)
            self.changes[addr] = ResourceChange(
                address=addr, action=Action.READ, reason=reason, before=None, after=after,
                after_sensitive=[tuple(p) for p in sens], dependencies=sorted(deps))
            return remark(after, [tuple(p) for p in sens])
        assert self.read_data is not None
        try:
            attrs = self.read_data(addr, res.type, args)
        except FgformError as exc:
            self.errors.append(Diagnostic.error(
                f"Failed to read {addr}", exc.message, res.range, exc.hint))
            return unknown_result(res, args)
        if self.state is None:
            self.state = StateFile()
        self.state.set(addr, InstanceState(addr.key, attrs,
                                           sensitive_paths=[list(p) for p in sens],
                                           dependencies=sorted(deps)))
        return remark(copy_value(attrs), [tuple(p) for p in sens])

    def forget_unconfigured(self) -> None:
        """Data resources in state that the configuration no longer has (or were not
        read this time: another instance key) leave the refreshed state, without a planned
        change, as in Terraform."""
        if self.state is None:
            return
        for addr in self.state.addresses():
            if addr.is_data and addr not in self.seen:
                self.state.remove(addr)


def forget_all(state: StateFile | None) -> None:
    """Every data resource out of `state` (a destroy plan: nothing is read)."""
    if state is None:
        return
    for addr in state.addresses():
        if addr.is_data:
            state.remove(addr)
