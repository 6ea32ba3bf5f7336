"""Pure decisions: given an instance's prior (refreshed) state and its desired value, which
action, why, and what the planned object value is.

No I/O apart from the schema's `plan_time` hook (which reads files of the configuration
directory, never Docker). Everything here works on plain data so it can be tested by hand.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from fgform.config.model import Lifecycle
from fgform.config.schema import ResourceSchema
from fgform.errors import FgformError
from fgform.plan import diff as _diff
from fgform.plan.model import Action, ActionReason, AttributeDiff
from fgform.state.model import InstanceState, InstanceStatus
from fgform.values import UNKNOWN, copy_value


class PreventDestroyError(FgformError):
    """The plan would destroy an instance whose lifecycle has prevent_destroy set."""




def prevent_destroy_error(address: str) -> PreventDestroyError:
    """Terraform's wording, so users recognise it."""
    return PreventDestroyError(
        f"Instance cannot be destroyed: resource {address} has lifecycle.prevent_destroy "
        "set, but the plan calls for this resource to be destroyed.",
        hint="To avoid this error and continue with the plan, either disable "
             "lifecycle.prevent_destroy or reduce the scope of the plan using the -target "
             "flag.",
    )


@dataclass(slots=True)
class Decision:
    """The outcome for one instance."""

    action: Action
    reason: ActionReason = ActionReason.NONE
    replace_paths: list[list[str | int]] = field(default_factory=list)
    planned: dict[str, Any] | None = None  # the planned object value (UNKNOWN where pending)
    diffs: list[AttributeDiff] = field(default_factory=list)
    repair: str | None = None  # why an unchanged configuration still needs an update


def _computed_only(schema: ResourceSchema | None) -> set[str]:
    if schema is None:
        return set()
    return {a.name for a in schema.body.attributes if a.computed and not a.optional}


def apply_ignore_changes(prior: dict[str, Any] | None, desired: dict[str, Any],
                         lifecycle: Lifecycle | None) -> dict[str, Any]:
    """`ignore_changes` attributes keep their prior value (all of them with ["all"])."""
    if prior is None or lifecycle is None or not lifecycle.ignore_changes:
        return desired
    names = lifecycle.ignore_changes
    if "all" in names:
        names = [k for k in desired if k in prior]
    out = dict(desired)
    for name in names:
        top = name.split(".")[0].split("[")[0]  # only top-level names are honoured for now
        if top in prior:
            out[top] = copy_value(prior[top])
    return out


def _upgrade(attrs: dict[str, Any], body: Any) -> dict[str, Any]:
    """Prior attributes written before the schema had some attribute or block: the missing
    ones read as their default (an empty block list, no single block), as a provider's state
    upgrade does, so an added optional setting (placement_constraints) shows no change."""
    out = dict(attrs)
    for a in body.attributes:
        if a.name not in out and not a.computed:
            out[a.name] = copy_value(a.default)
    for b in body.blocks:
        if b.name not in out:
            out[b.name] = None if b.single else []
        elif b.single and isinstance(out[b.name], dict):
            out[b.name] = _upgrade(out[b.name], b)
        elif isinstance(out[b.name], list):
            out[b.name] = [_upgrade(e, b) if isinstance(e, dict) else e for e in out[b.name]]
    return out


def upgrade_prior(prior: InstanceState | None, schema: ResourceSchema | None
                  ) -> InstanceState | None:
    """`prior` with the attributes and blocks its schema has gained since it was written
    set to their defaults (see `_upgrade`); the same object when none is missing."""
    if prior is None or schema is None:
        return prior
    upgraded = _upgrade(prior.attributes, schema.body)
    return prior if upgraded == prior.attributes else \
        dataclasses.replace(prior, attributes=upgraded)


def _with_plan_time(value: dict[str, Any], schema: ResourceSchema | None,
                    config_dir: str) -> dict[str, Any]:
    if schema is None or schema.plan_time is None:
        return value
    known = schema.plan_time(value, config_dir)
    return {**value, **known} if known else value


def decide(prior: InstanceState | None, desired: dict[str, Any] | None,
           schema: ResourceSchema | None, lifecycle: Lifecycle | None = None,
           replace_requested: bool = False, *, address: str = "",
           delete_reason: ActionReason = ActionReason.DELETE_BECAUSE_NO_RESOURCE_CONFIG,
           config_dir: str = ".", repair: str | None = None) -> Decision:
    """Decide one instance.

    `desired` is the decoded configuration (plain values, sensitive marks stripped, may hold
    UNKNOWN); computed-only attributes in it are ignored. `prior` holds the refreshed
    attributes. Raises PreventDestroyError when a delete or replacement meets
    lifecycle.prevent_destroy. `repair`: a reason to update the object even when nothing
    changed (the API's RegisterTaskDefinition registers a new revision of an unchanged
    definition, as ECS does), besides the schema's own `needs_repair`.
    """
    computed = _computed_only(schema)
    prior = upgrade_prior(prior, schema)
    if desired is not None and schema is not None:
        desired = _upgrade(desired, schema.body)
    cbd = bool(lifecycle and lifecycle.create_before_destroy)
    replace_action = Action.CREATE_THEN_DELETE if cbd else Action.DELETE_THEN_CREATE

    if desired is None:
        if prior is None:
            return Decision(Action.NOOP)
        if lifecycle is not None and lifecycle.prevent_destroy:
            raise prevent_destroy_error(address)
        return Decision(Action.DELETE, delete_reason, planned=None,
                        diffs=_diff.diff_attributes(prior.attributes, None, schema))

    config = {k: v for k, v in desired.items() if k not in computed}

    if prior is None:
        planned = _new_object(config, schema, config_dir)
        return Decision(Action.CREATE, planned=planned,
                        diffs=_diff.diff_attributes(None, planned, schema))

    config = apply_ignore_changes(prior.attributes, config, lifecycle)
    # The planned value of an in-place update: config + prior computed values.
    kept = {k: v for k, v in prior.attributes.items() if k in computed}
    candidate = _with_plan_time({**kept, **config}, schema, config_dir)
    diffs = _diff.diff_attributes(prior.attributes, candidate, schema)
    # Plan-time computed attributes (context_sha256) count as configuration: they are
    # derived from files the user edits.
    from_files = _plan_time_keys(schema, candidate, kept)
    changed = [d for d in diffs
               if d.path and (d.path[0] not in computed or d.path[0] in from_files)]

    reason = ActionReason.NONE
    if prior.status is InstanceStatus.TAINTED:
        reason = ActionReason.REPLACE_BECAUSE_TAINTED
    elif replace_requested:
        reason = ActionReason.REPLACE_BY_REQUEST
    elif any(d.forces_replacement for d in changed):
        reason = ActionReason.REPLACE_BECAUSE_CANNOT_UPDATE

    if reason is not ActionReason.NONE:
        if lifecycle is not None and lifecycle.prevent_destroy:
            raise prevent_destroy_error(address)
        planned = _new_object(config, schema, config_dir)
        all_diffs = _diff.diff_attributes(prior.attributes, planned, schema)
        paths = (_diff.replace_paths(all_diffs, planned, prior.attributes, schema)
                 if reason is ActionReason.REPLACE_BECAUSE_CANNOT_UPDATE else [])
        return Decision(replace_action, reason, paths, planned, all_diffs)

    repair = repair or (schema.needs_repair(prior.attributes)
                        if (schema and schema.needs_repair) else None)
    if not changed and repair is None:
        return Decision(Action.NOOP, planned=copy_value(prior.attributes), diffs=[])

    planned = dict(candidate)
    for name in (schema.recomputed_on_update if schema else ()):
        planned[name] = UNKNOWN
    return Decision(Action.UPDATE, planned=planned, repair=repair,
                    diffs=_diff.diff_attributes(prior.attributes, planned, schema))


def _plan_time_keys(schema: ResourceSchema | None, candidate: dict[str, Any],
                    kept: dict[str, Any]) -> set[str]:
    """Computed attributes whose value comes from the plan_time hook."""
    if schema is None or schema.plan_time is None:
        return set()
    return {a.name for a in schema.body.attributes
            if a.computed and not a.optional and a.name in candidate
            and (a.name not in kept or candidate[a.name] != kept[a.name])}


def _new_object(config: dict[str, Any], schema: ResourceSchema | None,
                config_dir: str) -> dict[str, Any]:
    """A new object: configuration plus every computed attribute UNKNOWN, except those the
    schema can compute at plan time."""
    planned = dict(config)
    if schema is not None:
        for a in schema.body.attributes:
            if a.computed and (not a.optional or planned.get(a.name) is None):
                planned[a.name] = UNKNOWN
    return _with_plan_time(planned, schema, config_dir)

