"""fg_task_definition: a family of immutable, numbered revisions, kept in state only.

A task definition has no Docker object, as in ECS it is only a registered document. Each
change registers a new revision; the previous one is appended to `revisions` (status
INACTIVE) so services still running it can be resolved by `family:revision` until they move.
"""

from __future__ import annotations

from typing import Any

from fgform.addresses import Address
from fgform.errors import FgformError
from fgform.fleet.driver import FleetContext
from fgform.values import is_unknown

# Computed attributes: never part of a revision's own definition.
_COMPUTED = ("id", "revision", "arn", "revisions")


def definition_of(attrs: dict[str, Any]) -> dict[str, Any]:
    """The revision's full definition: every attribute except the revision history."""
    return {k: v for k, v in attrs.items() if k != "revisions"}


def _known_list(value: Any) -> list[dict[str, Any]]:
    return list(value) if isinstance(value, list) else []


def _max_revision(attrs: dict[str, Any]) -> int:
    """The highest revision recorded in `attrs` (its own and its history); 0 when none."""
    revs = [r.get("revision") for r in _known_list(attrs.get("revisions"))]
    own = attrs.get("revision")
    if isinstance(own, int) and not is_unknown(own):
        revs.append(own)
    return max((r for r in revs if isinstance(r, int)), default=0)


def resolve(ctx: FleetContext, arn: str) -> dict[str, Any]:
    """The definition whose `family:revision` is `arn`: a current one or an INACTIVE one.

    Looks through `ctx.resources` (everything in state or applied this run).
    """
    for attrs in ctx.resources.values():
        if not isinstance(attrs, dict) or "family" not in attrs or "container" not in attrs:
            continue
        if attrs.get("arn") == arn:
            return definition_of(attrs)
        for old in _known_list(attrs.get("revisions")):
            if isinstance(old, dict) and old.get("arn") == arn:
                return old
    raise FgformError(
        f"task definition {arn!r} is not known: no fg_task_definition in this configuration "
        "or state has that family:revision",
        hint="Reference the task definition's arn attribute (fg_task_definition.NAME.arn).",
    )


class TaskDefinitionDriver:
    """Registers revisions in state; never touches Docker."""

    type_name = "fg_task_definition"

    def read(self, ctx: FleetContext, items: dict[Address, dict[str, Any]]
             ) -> dict[Address, dict[str, Any] | None]:
        # Nothing live to compare with: what state holds is the truth.
        return {addr: dict(attrs) for addr, attrs in items.items()}

    def create(self, ctx: FleetContext, addr: Address, planned: dict[str, Any]) -> dict[str, Any]:
        # A replaced definition (e.g. its family changed) may carry history in `planned`:
        # numbering continues after it, as ECS never reuses a revision number in a family.
        history = [r for r in _known_list(planned.get("revisions")) if isinstance(r, dict)]
        revision = _max_revision({"revisions": history}) + 1
        return self._register(planned, revision, history)

    def update(self, ctx: FleetContext, addr: Address, prior: dict[str, Any],
               planned: dict[str, Any]) -> dict[str, Any]:
        history = [r for r in _known_list(prior.get("revisions")) if isinstance(r, dict)]
        # Not again when the history has it already: a revision deregistered while current
        # (the API's DeregisterTaskDefinition) is recorded there as INACTIVE.
        if prior.get("arn") and not is_unknown(prior.get("arn")) and \
                not any(r.get("revision") == prior.get("revision") for r in history):
            old = definition_of(prior)
            old["status"] = "INACTIVE"
            history.append(old)
        revision = _max_revision(prior) + 1
        return self._register(planned, revision, history)

    def delete(self, ctx: FleetContext, addr: Address, prior: dict[str, Any], *,
               replacing: bool) -> None:
        return None

    @staticmethod
    def _register(planned: dict[str, Any], revision: int,
                  history: list[dict[str, Any]]) -> dict[str, Any]:
        attrs = {k: v for k, v in planned.items() if k not in _COMPUTED}
        arn = f"{attrs['family']}:{revision}"
        attrs.update(id=arn, arn=arn, revision=revision,
                     revisions=sorted(history, key=lambda r: r.get("revision", 0)))
        return attrs
