"""plan_changes: refresh, walk the configuration, decide each instance, plan deletes and outputs.

The steps follow Terraform's plan walk:
(a) refresh: each prior instance's attributes are replaced by the live snapshot (plain data
    from the drivers' `read()`, keyed by address; None = deleted outside fgform); what
    differs is recorded as drift;
(b) the configuration is walked in dependency order (`config.evaluate.walk`); each instance is decided
    (`decide.decide`) and its planned value (UNKNOWN where only apply can tell) is what later
    expressions see, so unknowns propagate: a rebuilt image has an unknown digest, the task
    definition naming it changes and gets an unknown revision, the service then updates;
(c) instances in state but not in the configuration are deleted, with the reason;
(d) root outputs are compared with the state's.
Before (a), `moved` blocks (and Terraform's implied count moves) move objects in the prior
state (`plan/moves.py`) and `import` blocks' objects join it (`PlanOptions.imports`); in (c)
an instance a `removed { lifecycle { destroy = false } }` names is forgotten (FORGET), not
deleted; after (d) `check` blocks are evaluated (`plan/checks.py`).
Modes: normal, destroy (everything deleted) and refresh-only (drift only). `-target` limits
the plan to the targets and what they depend on; `-replace` forces replacement.

Pure apart from reading the configuration directory (plan_time hooks): Docker is never
touched here; the CLI gathers the live snapshot.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from dataclasses import dataclass, field
from typing import Any

from fgform.addresses import Address, format_module
from fgform.config.evaluate import validate_resolver, walk
from fgform.config.expand import ExpansionMode, mode_of
from fgform.config.fn_time import set_plan_timestamp
from fgform.config.model import Config, Lifecycle, Resource
from fgform.config.schema import get_schema
from fgform.errors import Diagnostic, DiagnosticsError, FgformError, Severity
from fgform.graph import Graph, build_graph
from fgform.plan import diff as _diff
from fgform.plan.checks import evaluate_checks, has_checks
from fgform.plan.configuration import configuration_json
from fgform.plan.daemon import with_daemon_count
from fgform.plan.data import DataPlanner, DataReader, forget_all
from fgform.plan.decide import (
    Decision,
    PreventDestroyError,
    decide,
    prevent_destroy_error,
    upgrade_prior,
)
from fgform.plan.model import (
    Action,
    ActionReason,
    OutputChange,
    Plan,
    PlanMode,
    ResourceChange,
)
from fgform.plan.moves import apply_moves, removed_blocks, removed_match
from fgform.plan.refresh import StateIndex, refresh_state
from fgform.plan.replacements import (
    downgrade_create_before_destroy,
    forced_create_before_destroy,
    incomplete_replace_warnings,
)
from fgform.plan.sensitive import merge_paths, remark, schema_sensitive_paths
from fgform.plan.targets import config_id, matches_target, target_closure
from fgform.state.model import InstanceState, StateFile
from fgform.values import UNKNOWN, Path, contains_unknown, copy_value, unmark

TARGET_WARNING = (
    "Resource targeting is in effect\n"
    "You are creating a plan with the -target option, which means that the result of this\n"
    "plan may not represent all of the changes requested by the current configuration.\n"
    "\n"
    "The -target option is not for routine use, and is provided only for exceptional\n"
    "situations such as recovering from errors or mistakes, or when fgform specifically\n"
    "suggests to use it as part of an error message."
)


@dataclass(slots=True)
class PlanOptions:
    """The plan command's options."""

    mode: PlanMode = PlanMode.NORMAL
    targets: list[str] = field(default_factory=list)
    replace: list[str] = field(default_factory=list)
    refresh: bool = True
    config_dir: str = "."
    timestamp: str | None = None  # fixed by tests; now (UTC) otherwise
    config_hash: str = ""
    # The configuration's graph when the caller has built it already (validation did).
    graph: Graph | None = None
    # Reads a data source (address, type, arguments) -> attributes; the workflow makes it
    # from the fleet. None: data resources keep what state holds, else are read at apply.
    read_data: DataReader | None = None
    # `import` blocks' objects as the drivers read them (workflow.read_imports): instance
    # address -> (the import id, the object's attributes). Normal plans only.
    imports: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)


FORGET_WARNING = (
    "Some objects will no longer be managed by fgform\n"
    "If you apply this plan, fgform will discard its tracking information for\n"
    "the following objects, but it will not delete them:\n"
    "{lines}\n"
    "\n"
    "After applying this plan, fgform will no longer manage these objects. You\n"
    "will need to import them into fgform to manage them again."
)


# -- the plan -------------------------------------------------------------------------------


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _find_config(config: Config, addr: Address) -> tuple[Config | None, Resource | None]:
    cfg: Config | None = config
    for step in addr.module:
        cfg = cfg.children.get(step.name) if cfg is not None else None
    if cfg is None:
        return None, None
    return cfg, cfg.module.resources.get(f"{addr.type}.{addr.name}")


def _change(addr: Address, d: Decision, prior: InstanceState | None,
            after_sensitive: list[Path], deps: list[str],
            lifecycle: Lifecycle | None) -> ResourceChange:
    schema = get_schema(addr.type)
    before = prior.attributes if prior is not None else None
    before_sens = merge_paths(prior.sensitive_paths if prior else [],
                               schema_sensitive_paths(schema, before)) if before else []
    after = d.planned
    after_sens = merge_paths(after_sensitive, schema_sensitive_paths(schema, after)) \
        if after is not None else []
    return ResourceChange(
        address=addr, action=d.action, reason=d.reason,
        before=copy_value(before), after=after,
        before_sensitive=before_sens, after_sensitive=after_sens,
        replace_paths=[tuple(p) for p in d.replace_paths], diffs=d.diffs,
        dependencies=sorted(deps),
        create_before_destroy=bool(lifecycle and lifecycle.create_before_destroy),
        prevent_destroy=bool(lifecycle and lifecycle.prevent_destroy), repair=d.repair,
    )


def plan_instance(addr: Address, prior: InstanceState | None, desired: dict[str, Any] | None,
                  *, sensitive: list[Path] | None = None, dependencies: list[str] | None = None,
                  lifecycle: Lifecycle | None = None, config_dir: str = ".",
                  repair: str | None = None) -> ResourceChange:
    """One instance planned on its own, as `plan_changes` plans each of the configuration's:
    the decision (action, replacement by the schema's force_new, the planned value with
    computed attributes unknown) and its change. `desired` is configuration-shaped (every
    attribute present, defaults applied; None deletes); `sensitive` the paths of it that are
    sensitive; `repair` a reason to update even when nothing changed. The API's writes
    (fgform/api/transact.py) plan their one change with it."""
    schema = get_schema(addr.type)
    d = decide(prior, desired, schema, lifecycle, address=str(addr), config_dir=config_dir,
               repair=repair)
    return _change(addr, d, prior, list(sensitive or []), list(dependencies or []), lifecycle)


def plan_changes(config: Config, variables: dict[str, Any], prior_state: StateFile | None,
              live: dict[str, dict[str, Any] | None] | None,
              options: PlanOptions | None = None) -> Plan:
    """Plan the changes that bring the fleet to the configuration.

    Raises DiagnosticsError when the configuration cannot be evaluated, and FgformError
    (PreventDestroyError) when the plan would destroy a prevent_destroy resource.
    """
    options = options or PlanOptions()
    # moved blocks first: the objects move to their new addresses, and so does what the
    # fleet reported for them; refresh and the plan then see only the new addresses.
    moves = apply_moves(config, prior_state)
    if moves.moved and live is not None:
        live = dict(live)
        for new, old in moves.moved.items():
            if str(old) in live:
                live[str(new)] = live.pop(str(old))
    refreshed, drift = refresh_state(moves.state, live if options.refresh else None)
    imported: dict[Address, str] = {}
    if options.imports and options.mode is PlanMode.NORMAL:
        refreshed, imported = _adopt(refreshed, options.imports)
    plan = Plan(
        changes=[], prior_state=refreshed, mode=options.mode, drift=drift,
        variables=dict(variables), config_hash=options.config_hash,
        targets=list(options.targets), timestamp=options.timestamp or _now(),
        state_lineage=prior_state.lineage if prior_state else None,
        state_serial=prior_state.serial if prior_state else None,
        configuration=configuration_json(config),
    )
    set_plan_timestamp(plan.timestamp)  # plantimestamp() is the plan's time, as in Terraform
    if options.targets:
        plan.warnings.append(TARGET_WARNING)
    plan.warnings += moves.warnings
    if options.mode is PlanMode.REFRESH_ONLY:
        return plan
    if options.mode is PlanMode.DESTROY:
        _plan_destroy(plan, config, refreshed, options)
        _mark_moves_and_imports(plan, moves.moved, {}, config)
        return plan
    _plan_normal(plan, config, variables, refreshed, options)
    _mark_moves_and_imports(plan, moves.moved, imported, config)
    return plan


def _adopt(state: StateFile | None, imports: dict[str, tuple[str, dict[str, Any]]]
           ) -> tuple[StateFile, dict[Address, str]]:
    """The refreshed state with each imported object in it (a new state when there was
    none), and the import ids by address. An address state already holds is not imported
    again: Terraform skips such an import block."""
    from fgform.addresses import parse_address

    state = state if state is not None else StateFile()
    done: dict[Address, str] = {}
    for text, (ident, attrs) in sorted(imports.items()):
        addr = parse_address(text)
        if state.get(addr) is not None:
            continue
        state.set(addr, InstanceState(addr.key, copy_value(attrs)))
        done[addr] = ident
    return state, done


def _mark_moves_and_imports(plan: Plan, moved: dict[Address, Address],
                            imported: dict[Address, str], config: Config) -> None:
    """previous_address and importing on the changes; the forget warning."""
    by_addr = {rc.address: rc for rc in plan.changes if not rc.deposed}
    for new, old in moved.items():
        rc = by_addr.get(new)
        if rc is not None:
            rc.previous_address = old
    missing = []
    for addr, ident in imported.items():
        rc = by_addr.get(addr)
        if rc is None or rc.action is Action.DELETE or rc.action is Action.FORGET:
            missing.append(addr)
            continue
        rc.importing_id = ident
    if missing:
        raise DiagnosticsError([Diagnostic.error(
            "Configuration for import target does not exist",
            f"The configuration for the given import target {addr} does not exist. fgform "
            "does not generate configuration: make sure the target resource instance exists "
            "within your configuration.", _import_range(config, addr)) for addr in missing])
    forgotten = [rc for rc in plan.changes if rc.action is Action.FORGET]
    if forgotten:
        plan.warnings.append(FORGET_WARNING.format(
            lines="\n".join(f" - {rc.address}" for rc in forgotten)))


def _import_range(config: Config, addr: Address) -> Any:
    for imp in config.module.imports:
        if imp.to == addr:
            return imp.to_range
    return None


def _plan_destroy(plan: Plan, config: Config, state: StateFile | None,
                  options: PlanOptions) -> None:
    """Everything in state is deleted (with -target: the targets and what depends on them)."""
    if state is None:
        return
    forget_all(state)  # data resources are not destroyed: they leave the state
    index = StateIndex(state)
    chosen = set(state.addresses())
    if options.targets:
        chosen = {a for a in chosen if any(matches_target(a, t) for t in options.targets)}
        # dependents of a destroyed object must go first, so they are destroyed too
        grew = True
        while grew:
            grew = False
            for a in state.addresses():
                if a in chosen:
                    continue
                inst = index.get(a)
                assert inst is not None
                if any(matches_target(c, dep) or config_id(c) == dep
                       for dep in inst.dependencies for c in chosen):
                    chosen.add(a)
                    grew = True
    errors: list[Diagnostic] = []
    for addr in sorted(chosen):
        inst = index.get(addr)
        assert inst is not None
        _, res = _find_config(config, addr)
        if res is not None and res.lifecycle.prevent_destroy:
            errors.append(_planning_error(prevent_destroy_error(str(addr)), addr, res))
            continue
        d = Decision(Action.DELETE, ActionReason.NONE,
                     diffs=_diff.diff_attributes(inst.attributes, None, get_schema(addr.type)))
        plan.changes.append(_change(addr, d, inst, [], inst.dependencies,
                                    res.lifecycle if res else None))
    _raise_all(errors)
    plan.changes += _deposed_changes(config, state, options.targets, chosen)
    plan.changes.sort(key=_change_order)
    if not options.targets:
        for name, out in sorted(state.outputs.items()):
            plan.output_changes.append(OutputChange(name, Action.DELETE, out.value, None,
                                                    out.sensitive))


def _raise_all(errors: list[Diagnostic]) -> None:
    if errors:
        raise DiagnosticsError(errors)


def _planning_error(exc: FgformError, addr: Address, res: Resource | None) -> Diagnostic:
    """A decision's error as a diagnostic at the configuration that caused it: for
    prevent_destroy, the resource's lifecycle block, in Terraform's words."""
    if not isinstance(exc, PreventDestroyError):
        return Diagnostic.error(exc.message, hint=exc.hint,
                                range=res.range if res is not None else None)
    where = None if res is None else res.lifecycle.range or res.range
    return Diagnostic.error(
        "Instance cannot be destroyed",
        f"Resource {addr} has lifecycle.prevent_destroy set, but the plan calls for this "
        "resource to be destroyed.", where, exc.hint)


def _plan_normal(plan: Plan, config: Config, variables: dict[str, Any],
                 state: StateFile | None, options: PlanOptions) -> None:
    graph = options.graph if options.graph is not None else build_graph(config)
    closure = target_closure(graph, options.targets) if options.targets else None
    forced_cbd = forced_create_before_destroy(graph)
    replace = set(options.replace)
    errors: list[Diagnostic] = []
    changes: dict[Address, ResourceChange] = {}
    index = StateIndex(state)
    data = DataPlanner(state, options.read_data, changes, errors)

    def targeted(addr: Address) -> bool:
        if closure is None:
            return True
        if any(matches_target(addr, t) for t in options.targets):
            return True
        scopes = closure.get(config_id(addr))
        if scopes is None:
            return False
        return None in scopes or any(addr.module_address == m or
                                     addr.module_address.startswith(m + ".") for m in scopes
                                     if m is not None)

    def on_resource(addr: Address, res: Resource, decoded: dict[str, Any],
                    deps: list[str]) -> Any:
        schema = get_schema(res.type)
        prior = upgrade_prior(index.get(addr), schema) if res.mode != "data" else \
            index.get(addr)
        if res.mode == "data":
            if targeted(addr):
                return data.plan(addr, res, decoded, deps)
            data.seen.add(addr)  # not part of this plan: dependents see what state says
            if prior is not None:
                return copy_value(prior.attributes)
            return validate_resolver(addr, res, decoded, deps)
        if not targeted(addr):
            # Not part of this plan: dependents see what state says (or, for an object not
            # created yet, its configuration with computed attributes unknown).
            if prior is not None:
                return remark(copy_value(prior.attributes), [tuple(p) for p in
                                                             prior.sensitive_paths])
            return validate_resolver(addr, res, decoded, deps)
        desired, sens = unmark(decoded)
        if res.type == "fg_service" and isinstance(desired, dict):
            desired = with_daemon_count(desired, deps, changes,
                                        prior.attributes if prior is not None else None)
        lifecycle = res.lifecycle
        if not lifecycle.create_before_destroy and config_id(addr) in forced_cbd:
            # A dependent has create_before_destroy: so must this (a replacement is +/-).
            lifecycle = dataclasses.replace(lifecycle, create_before_destroy=True)
        try:
            d = decide(prior, desired, schema, lifecycle, str(addr) in replace,
                       address=str(addr), config_dir=options.config_dir)
        except FgformError as exc:
            # Reported after the walk, with every other such error.
            errors.append(_planning_error(exc, addr, res))
            return validate_resolver(addr, res, decoded, deps)
        rc = _change(addr, d, prior, sens, deps, lifecycle)
        changes[addr] = rc
        return remark(d.planned, rc.after_sensitive)

    result = walk(config, variables, on_resource, cwd=options.config_dir, graph=graph)
    errs = [d for d in result.diagnostics if d.severity is Severity.ERROR]
    if errs:
        raise DiagnosticsError(result.diagnostics)
    final_vars = result.variables.get("")
    if final_vars:
        plan.variables = dict(final_vars)
    data.forget_unconfigured()
    if state is None and data.state is not None:
        state = plan.prior_state = data.state  # the first state: data read during plan

    # (c) deletes: instances in state the configuration no longer has.
    module_instances = {""} | set(result.module_outputs)
    removed = removed_blocks(config)
    if state is not None:
        for addr in state.addresses():
            if addr in result.configs or addr in changes or addr.is_data:
                continue
            if closure is not None and not any(matches_target(addr, t) for t in options.targets):
                continue
            inst = index.get(addr)
            assert inst is not None
            reason, res = _delete_reason(config, addr, result, module_instances)
            lifecycle = res.lifecycle if res is not None else None
            rm = removed_match(removed, addr)
            if rm is not None and not rm.destroy:
                # removed { lifecycle { destroy = false } }: out of state, left on the fleet
                changes[addr] = _change(addr, Decision(Action.FORGET, reason, diffs=[]),
                                        inst, [], inst.dependencies, None)
                continue
            try:
                d = decide(inst, None, get_schema(addr.type), lifecycle, False,
                           address=str(addr), delete_reason=reason)
            except FgformError as exc:
                errors.append(_planning_error(exc, addr, res))
                continue
            changes[addr] = _change(addr, d, inst, [], inst.dependencies, lifecycle)
    _raise_all(errors)
    plan.warnings += incomplete_replace_warnings(options.replace, result.expansions,
                                                 list(result.configs) + list(changes))
    plan.warnings += downgrade_create_before_destroy(changes, graph)
    plan.changes = [changes[a] for a in sorted(changes)]
    if state is not None:
        plan.changes += _deposed_changes(config, state, options.targets, set())
        plan.changes.sort(key=_change_order)
    plan.output_changes = _output_changes(config, result.outputs, state)
    if has_checks(config):
        plan.checks = evaluate_checks(config, variables, _planned_values(changes, state),
                                      options.config_dir)


def _planned_values(changes: dict[Address, ResourceChange], state: StateFile | None) -> Any:
    """An on_resource giving each instance its planned value (state's when it is not part
    of the plan): what check blocks are evaluated against after a plan."""
    def value(addr: Address, res: Resource, decoded: dict[str, Any], deps: list[str]) -> Any:
        rc = changes.get(addr)
        if rc is not None and rc.after is not None:
            return remark(rc.after, rc.after_sensitive)
        inst = state.get(addr) if state is not None and rc is None else None
        if inst is not None:
            return remark(copy_value(inst.attributes), [tuple(p) for p in inst.sensitive_paths])
        return validate_resolver(addr, res, decoded, deps)
    return value


def _change_order(rc: ResourceChange) -> tuple[Any, str]:
    """Changes by address; an instance's current object before its deposed ones."""
    return rc.address.sort_key(), rc.deposed


def _deposed_changes(config: Config, state: StateFile, targets: list[str],
                     chosen: set[Address]) -> list[ResourceChange]:
    """A DELETE for every deposed object in state (with -target: of the instances a target
    matches, or that `chosen` holds). prevent_destroy does not stop it, as in Terraform: the
    replacement that deposed the object was checked when it was planned, and the object's
    successor exists already."""
    out: list[ResourceChange] = []
    for addr, key, attrs, inst in state.deposed_objects():
        if targets and addr not in chosen and not any(matches_target(addr, t) for t in targets):
            continue
        _, res = _find_config(config, addr)
        d = Decision(Action.DELETE, ActionReason.NONE,
                     diffs=_diff.diff_attributes(attrs, None, get_schema(addr.type)))
        old = InstanceState(addr.key, attrs, inst.sensitive_paths, inst.dependencies)
        rc = _change(addr, d, old, [], inst.dependencies, res.lifecycle if res else None)
        rc.deposed = key
        out.append(rc)
    return out


def _delete_reason(config: Config, addr: Address, result: Any, module_instances: set[str]
                   ) -> tuple[ActionReason, Resource | None]:
    cfg, res = _find_config(config, addr)
    if cfg is None or (addr.module and format_module(addr.module) not in module_instances):
        return ActionReason.DELETE_BECAUSE_NO_MODULE, None
    if res is None:
        return ActionReason.DELETE_BECAUSE_NO_RESOURCE_CONFIG, None
    exp = result.expansions.get(addr.resource)
    mode = exp.mode if exp is not None else mode_of(res)
    if mode is ExpansionMode.COUNT and isinstance(addr.key, int):
        return ActionReason.DELETE_BECAUSE_COUNT_INDEX, res
    if mode is ExpansionMode.FOR_EACH and isinstance(addr.key, str):
        return ActionReason.DELETE_BECAUSE_EACH_KEY, res
    return ActionReason.DELETE_BECAUSE_WRONG_REPETITION, res


def _output_changes(config: Config, outputs: dict[str, Any], state: StateFile | None
                    ) -> list[OutputChange]:
    prior = state.outputs if state is not None else {}
    out: list[OutputChange] = []
    for name in sorted(set(config.module.outputs) | set(prior)):
        decl = config.module.outputs.get(name)
        if decl is None:
            p = prior[name]
            out.append(OutputChange(name, Action.DELETE, p.value, None, p.sensitive))
            continue
        raw = outputs.get(name, UNKNOWN)
        value, paths = unmark(raw)
        sensitive = decl.sensitive or bool(paths)
        if name not in prior:
            out.append(OutputChange(name, Action.CREATE, None, value, sensitive))
            continue
        p = prior[name]
        same = not contains_unknown(value) and value == p.value and sensitive == p.sensitive
        out.append(OutputChange(name, Action.NOOP if same else Action.UPDATE, p.value, value,
                                sensitive or p.sensitive))
    return out


__all__ = ["PlanOptions", "plan_changes", "plan_instance", "TARGET_WARNING"]
