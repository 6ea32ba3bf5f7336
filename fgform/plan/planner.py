"""plan_changes: refresh, walk the configuration, decide each instance, plan deletes and outputs.

The steps follow Terraform's plan walk:
(a) refresh: each prior instance's attributes are replaced by the live snapshot (plain data
    from the drivers' `read()`, keyed by address; None = deleted outside fgform); what
    differs is recorded as drift;
(b) the configuration is walked in dependency order (`graph.walk`); each instance is decided
    (`decide.decide`) and its planned value (UNKNOWN where only apply can tell) is what later
    expressions see, so unknowns propagate: a rebuilt image has an unknown digest, the task
    definition naming it changes and gets an unknown revision, the service then updates;
(c) instances in state but not in the configuration are deleted, with the reason;
(d) root outputs are compared with the state's.
Modes: normal, destroy (everything deleted) and refresh-only (drift only). `-target` limits
the plan to the targets and what they depend on; `-replace` forces replacement.

Pure apart from reading the configuration directory (plan_time hooks): Docker is never
touched here; the CLI gathers the live snapshot.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import textwrap
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fgform.addresses import Address, AddressError, format_module, parse_address
from fgform.config.ast import Literal, Node, Object, Reference, Template, Tuple
from fgform.config.expr import references
from fgform.config.model import Body, Config, Lifecycle, Resource
from fgform.config.schema import BlockSchema, ResourceSchema, get_schema
from fgform.errors import Diagnostic, DiagnosticsError, FgformError, Severity
from fgform.plan import diff as _diff
from fgform.plan.decide import Decision, PreventDestroyError, decide, prevent_destroy_error
from fgform.plan.model import (
    Action,
    ActionReason,
    OutputChange,
    Plan,
    PlanMode,
    ResourceChange,
)
from fgform.state.model import InstanceState, OutputState, ResourceState, StateFile
from fgform.values import UNKNOWN, Path, Sensitive, contains_unknown, copy_value, unmark

if TYPE_CHECKING:
    from fgform.graph import Graph

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


# -- sensitive paths ----------------------------------------------------------------------


def schema_sensitive_paths(schema: ResourceSchema | None, value: Any) -> list[Path]:
    """Paths of attributes the schema marks sensitive, within a concrete value."""
    if schema is None or not isinstance(value, dict):
        return []
    return _block_sensitive(schema.body, value, ())


def _block_sensitive(block: BlockSchema, value: dict[str, Any], path: Path) -> list[Path]:
    out: list[Path] = [(*path, a.name) for a in block.attributes
                       if a.sensitive and value.get(a.name) is not None]
    for b in block.blocks:
        v = value.get(b.name)
        if isinstance(v, dict):
            out += _block_sensitive(b, v, (*path, b.name))
        elif isinstance(v, list):
            for i, el in enumerate(v):
                if isinstance(el, dict):
                    out += _block_sensitive(b, el, (*path, b.name, i))
    return out


def _merge_paths(*groups: list[Path] | list[list[str | int]]) -> list[Path]:
    seen: list[Path] = []
    for g in groups:
        for p in g:
            t = tuple(p)
            if t not in seen:
                seen.append(t)
    return sorted(seen, key=lambda p: tuple(str(x) for x in p))


def remark(value: Any, paths: list[Path]) -> Any:
    """Put Sensitive marks back at `paths`, so dependents of a sensitive attribute stay
    sensitive."""
    if not paths:
        return value
    if () in paths:
        return Sensitive(value)
    if isinstance(value, dict):
        return {k: remark(v, [p[1:] for p in paths if p and p[0] == k])
                for k, v in value.items()}
    if isinstance(value, list):
        return [remark(v, [p[1:] for p in paths if p and p[0] == i])
                for i, v in enumerate(value)]
    return value


# -- targets ------------------------------------------------------------------------------


def _matches(addr: Address, target: str) -> bool:
    """`fg_service.web` matches all its instances, `module.m` everything inside."""
    s = str(addr)
    return s == target or s.startswith(target + "[") or s.startswith(target + ".")


def _config_id(addr: Address) -> str:
    """The graph's node id of an instance's resource: `module.a.fg_service.web`."""
    mods = "".join(f"module.{s.name}." for s in addr.module)
    return f"{mods}{addr.type}.{addr.name}"


def _target_closure(g: Graph, targets: list[str]) -> dict[str, set[str | None]]:
    """What the targets depend on, transitively: config-level resource id -> the module
    instances (`module.m["a"]`) whose instances are included, None meaning all of them.

    The targets themselves are not in it (`_matches` decides for them, keys included), and a
    dependency in the target's own module stays in the target's module instance: targeting
    `module.svc["a"]` or `fg_x.y[1]` plans nothing of `module.svc["b"]` or `fg_x.y[0]`.
    """
    from fgform.graph import resource_dependencies

    memo: dict[str, set[str]] = {}
    todo: list[tuple[str, str | None, str]] = []  # (node id, module instance, module config)
    for t in targets:
        tid = _strip_keys(t)
        inst_module, conf_module = _module_of_target(t)
        for nid, node in g.nodes.items():
            if node.kind == "resource" and (nid == tid or nid.startswith(tid + ".")):
                todo.extend((d, inst_module, conf_module)
                            for d in resource_dependencies(g, nid, memo))
    out: dict[str, set[str | None]] = {}
    seen: set[tuple[str, str | None]] = set()
    while todo:
        nid, inst_module, conf_module = todo.pop()
        scope = inst_module if conf_module and nid.startswith(conf_module + ".") else None
        if (nid, scope) in seen:
            continue
        seen.add((nid, scope))
        out.setdefault(nid, set()).add(scope)
        todo.extend((d, inst_module, conf_module) for d in resource_dependencies(g, nid, memo))
    return out


def _module_of_target(target: str) -> tuple[str | None, str]:
    """The module instance a target lives in (`module.m["a"]`) and its config path
    (`module.m`); (None, "") for the root module."""
    try:
        a = parse_address(target)
        if not a.module:
            return None, ""
        return a.module_address, "".join(f"module.{m.name}." for m in a.module)[:-1]
    except AddressError:
        return (target if target.startswith("module.") else None), _strip_keys(target)


def _strip_keys(target: str) -> str:
    try:
        a = parse_address(target)
        return _config_id(Address(a.type, a.name, None, a.module))
    except AddressError:
        # a module target: module.a[0].module.b -> module.a.module.b
        import re
        return re.sub(r"\[[^\]]*\]", "", target)


# -- the plan -------------------------------------------------------------------------------


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- state access -------------------------------------------------------------------------
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


class _StateIndex:
    """`StateFile.get` for many lookups: one pass over the state instead of one per lookup
    (a plan of 1,000 resources made a million comparisons). Same answers as `get` as long
    as the state is not changed, including for the first of two resources of one address."""

    def __init__(self, state: StateFile | None) -> None:
        self.state = state
        self.by_key: dict[tuple[Any, ...], InstanceState] = {}
        self.duplicates = False
        if state is None:
            return
        seen: set[tuple[str, str, str]] = set()
        for r in state.resources:
            rk = (r.module, r.type, r.name)
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
        return self.by_key.get((format_module(addr.module), addr.type, addr.name, addr.key))


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
    index = _StateIndex(refreshed)
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
        sens = _merge_paths(inst.sensitive_paths,
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
    before_sens = _merge_paths(prior.sensitive_paths if prior else [],
                               schema_sensitive_paths(schema, before)) if before else []
    after = d.planned
    after_sens = _merge_paths(after_sensitive, schema_sensitive_paths(schema, after)) \
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


def plan_changes(config: Config, variables: dict[str, Any], prior_state: StateFile | None,
              live: dict[str, dict[str, Any] | None] | None,
              options: PlanOptions | None = None) -> Plan:
    """Plan the changes that bring the fleet to the configuration.

    Raises DiagnosticsError when the configuration cannot be evaluated, and FgformError
    (PreventDestroyError) when the plan would destroy a prevent_destroy resource.
    """
    options = options or PlanOptions()
    refreshed, drift = refresh_state(prior_state, live if options.refresh else None)
    plan = Plan(
        changes=[], prior_state=refreshed, mode=options.mode, drift=drift,
        variables=dict(variables), config_hash=options.config_hash,
        targets=list(options.targets), timestamp=options.timestamp or _now(),
        state_lineage=prior_state.lineage if prior_state else None,
        state_serial=prior_state.serial if prior_state else None,
        configuration=configuration_json(config),
    )
    if options.targets:
        plan.warnings.append(TARGET_WARNING)
    if options.mode is PlanMode.REFRESH_ONLY:
        return plan
    if options.mode is PlanMode.DESTROY:
        _plan_destroy(plan, config, refreshed, options)
        return plan
    _plan_normal(plan, config, variables, refreshed, options)
    return plan


def _plan_destroy(plan: Plan, config: Config, state: StateFile | None,
                  options: PlanOptions) -> None:
    """Everything in state is deleted (with -target: the targets and what depends on them)."""
    if state is None:
        return
    index = _StateIndex(state)
    chosen = set(state.addresses())
    if options.targets:
        chosen = {a for a in chosen if any(_matches(a, t) for t in options.targets)}
        # dependents of a destroyed object must go first, so they are destroyed too
        grew = True
        while grew:
            grew = False
            for a in state.addresses():
                if a in chosen:
                    continue
                inst = index.get(a)
                assert inst is not None
                if any(_matches(c, dep) or _config_id(c) == dep
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
    from fgform.graph import build_graph, validate_resolver, walk

    graph = build_graph(config)
    closure = _target_closure(graph, options.targets) if options.targets else None
    forced_cbd = forced_create_before_destroy(graph)
    replace = set(options.replace)
    errors: list[Diagnostic] = []
    changes: dict[Address, ResourceChange] = {}
    index = _StateIndex(state)

    def targeted(addr: Address) -> bool:
        if closure is None:
            return True
        if any(_matches(addr, t) for t in options.targets):
            return True
        scopes = closure.get(_config_id(addr))
        if scopes is None:
            return False
        return None in scopes or any(addr.module_address == m or
                                     addr.module_address.startswith(m + ".") for m in scopes
                                     if m is not None)

    def on_resource(addr: Address, res: Resource, decoded: dict[str, Any],
                    deps: list[str]) -> Any:
        schema = get_schema(res.type)
        prior = index.get(addr)
        if not targeted(addr):
            # Not part of this plan: dependents see what state says (or, for an object not
            # created yet, its configuration with computed attributes unknown).
            if prior is not None:
                return remark(copy_value(prior.attributes), [tuple(p) for p in
                                                             prior.sensitive_paths])
            return validate_resolver(addr, res, decoded, deps)
        desired, sens = unmark(decoded)
        lifecycle = res.lifecycle
        if not lifecycle.create_before_destroy and _config_id(addr) in forced_cbd:
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

    # (c) deletes: instances in state the configuration no longer has.
    module_instances = {""} | set(result.module_outputs)
    if state is not None:
        for addr in state.addresses():
            if addr in result.configs or addr in changes:
                continue
            if closure is not None and not any(_matches(addr, t) for t in options.targets):
                continue
            inst = index.get(addr)
            assert inst is not None
            reason, res = _delete_reason(config, addr, result, module_instances)
            lifecycle = res.lifecycle if res is not None else None
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
        if targets and addr not in chosen and not any(_matches(addr, t) for t in targets):
            continue
        _, res = _find_config(config, addr)
        d = Decision(Action.DELETE, ActionReason.NONE,
                     diffs=_diff.diff_attributes(attrs, None, get_schema(addr.type)))
        old = InstanceState(addr.key, attrs, inst.sensitive_paths, inst.dependencies)
        rc = _change(addr, d, old, [], inst.dependencies, res.lifecycle if res else None)
        rc.deposed = key
        out.append(rc)
    return out


def forced_create_before_destroy(g: Graph) -> set[str]:
    """Config ids of the resources create_before_destroy is forced onto: everything a
    resource with create_before_destroy depends on, transitively (Terraform's
    ForcedCBDTransformer). Otherwise a dependency replaced destroy-first would have to be
    destroyed before its CBD dependent's old object lets go of it, and its new object
    created before the dependent's new one: a cycle in the apply order."""
    from fgform.graph import resource_dependencies

    memo: dict[str, set[str]] = {}
    todo = [nid for nid, node in g.nodes.items() if node.kind == "resource"
            and node.obj.lifecycle.create_before_destroy]
    forced: set[str] = set()
    while todo:
        nid = todo.pop()
        for dep in resource_dependencies(g, nid, memo):
            if dep not in forced:
                forced.add(dep)
                todo.append(dep)
    return forced


def downgrade_create_before_destroy(changes: dict[Address, ResourceChange],
                                    g: Graph) -> list[str]:
    """Turn create-first replacements destroy-first where create-first cannot work, in place;
    returns a warning for each.

    (1) A type whose new object shares its Docker identity with the old one
    (`create_before_destroy_supported` False): deleting the deposed old object would delete
    the new one. (2) Then, to a fixpoint, a create-first replacement that depends
    (transitively) on a destroy-first one: the destroy-first dependency waits for the
    dependent's old object to go, which (create-first) waits for its new object, which waits
    for the dependency's new object, which waits for its destroy: a cycle in the apply order.
    """
    from fgform.graph import resource_dependencies

    memo: dict[str, set[str]] = {}
    closure: dict[str, set[str]] = {}

    def deps_of(cid: str) -> set[str]:
        if cid not in closure:
            closure[cid] = set()  # guards against cycles
            out: set[str] = set()
            for d in resource_dependencies(g, cid, memo) if cid in g.nodes else ():
                out |= {d} | deps_of(d)
            closure[cid] = out
        return closure[cid]

    warnings: list[str] = []
    destroy_first: set[str] = set()  # config ids with a destroy-first replacement
    for addr, rc in sorted(changes.items()):
        schema = get_schema(addr.type)
        if schema is None or schema.create_before_destroy_supported:
            if rc.action is Action.DELETE_THEN_CREATE:
                destroy_first.add(_config_id(addr))
            continue
        if rc.action is Action.CREATE_THEN_DELETE:
            rc.action = Action.DELETE_THEN_CREATE
            warnings.append(_warning(
                f"create_before_destroy is not possible for {addr}",
                f"{addr} must be replaced, and create_before_destroy is in effect for it "
                f"(set in its lifecycle, or forced by a dependent that has it), but a new "
                f"{addr.type} {schema.create_before_destroy_conflict}: deleting the old "
                f"object would delete the new one too.",
                "It will be destroyed first and then created (-/+) instead."))
        # Never recorded as create-first: a later replacement must not be either.
        rc.create_before_destroy = False
        if rc.action is Action.DELETE_THEN_CREATE:
            destroy_first.add(_config_id(addr))
    grew = True
    while grew:
        grew = False
        for addr, rc in sorted(changes.items()):
            if rc.action is not Action.CREATE_THEN_DELETE:
                continue
            blockers = sorted(deps_of(_config_id(addr)) & destroy_first)
            if not blockers:
                continue
            rc.action = Action.DELETE_THEN_CREATE
            rc.create_before_destroy = False
            destroy_first.add(_config_id(addr))
            grew = True
            warnings.append(_warning(
                f"create_before_destroy is not possible for {addr}",
                f"{addr} must be replaced, and create_before_destroy is in effect for it, "
                f"but it depends on {', '.join(blockers)}, which must be destroyed before "
                f"it is created again: replacing {addr} create-first would make a cycle in "
                f"the apply order.",
                "It will be destroyed first and then created (-/+) instead."))
    return warnings


def incomplete_replace_warnings(replace: list[str], expansions: dict[Address, Any],
                                instances: list[Address]) -> list[str]:
    """`-replace` of a resource that has count or for_each, or of one inside a module call
    that has, without an instance key, matches no instance: as Terraform does, say so and
    list the addresses that were perhaps meant, instead of a plan that silently replaces
    nothing."""
    from fgform.addresses import parse_address

    exact = set(instances)
    warnings = []
    for text in replace:
        addr = parse_address(text)
        if addr in exact:
            continue
        options = sorted({a for a in instances if _completes(addr, a)})
        exp = expansions.get(addr)
        if not options and (addr.key is not None or exp is None or exp.mode == "single"):
            continue  # names nothing that exists: not a missing key
        lines = [_warning(
            "Incompletely-matched force-replace resource instance",
            f"Your force-replace request for {addr} doesn't match any resource instances "
            "because it lacks an instance key.")]
        if options:
            lines += ["", textwrap.fill("To force replacement of particular instances, use "
                                        "one or more of the following options instead:", 76)]
            lines += [f"  -replace={json.dumps(str(a))}" for a in options]
        warnings.append("\n".join(lines))
    return warnings


def _completes(partial: Address, instance: Address) -> bool:
    """Whether `instance` is `partial` with the instance keys it lacks filled in (the
    resource's own, a module call's or both)."""
    if (partial.type, partial.name) != (instance.type, instance.name) or len(
            partial.module) != len(instance.module):
        return False
    if partial.key is not None and partial.key != instance.key:
        return False
    return all(p.name == i.name and (p.key is None or p.key == i.key)
               for p, i in zip(partial.module, instance.module, strict=True))


def _warning(summary: str, *paragraphs: str) -> str:
    """A plan warning: the summary line, then the paragraphs wrapped as Terraform wraps."""
    return "\n".join([summary] + [textwrap.fill(p, 76) for p in paragraphs])


def _delete_reason(config: Config, addr: Address, result: Any, module_instances: set[str]
                   ) -> tuple[ActionReason, Resource | None]:
    cfg, res = _find_config(config, addr)
    if cfg is None or (addr.module and format_module(addr.module) not in module_instances):
        return ActionReason.DELETE_BECAUSE_NO_MODULE, None
    if res is None:
        return ActionReason.DELETE_BECAUSE_NO_RESOURCE_CONFIG, None
    exp = result.expansions.get(Address(addr.type, addr.name, None, addr.module))
    mode = exp.mode if exp is not None else (
        "count" if res.count is not None else "for_each" if res.for_each is not None
        else "single")
    if mode == "count" and isinstance(addr.key, int):
        return ActionReason.DELETE_BECAUSE_COUNT_INDEX, res
    if mode == "for_each" and isinstance(addr.key, str):
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


# -- Terraform's JSON `configuration` section ------------------------------------------------

_NOT_CONSTANT = object()


def _constant(node: Node | None) -> Any:
    """The value of an expression made of literals only, else _NOT_CONSTANT."""
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Template) and all(isinstance(p, str) for p in node.parts):
        return "".join(node.parts)  # type: ignore[arg-type]
    if isinstance(node, Tuple):
        items = [_constant(n) for n in node.items]
        return _NOT_CONSTANT if any(i is _NOT_CONSTANT for i in items) else items
    if isinstance(node, Object):
        out: dict[str, Any] = {}
        for k, v in node.items:
            kc, vc = _constant(k), _constant(v)
            if kc is _NOT_CONSTANT or vc is _NOT_CONSTANT or not isinstance(kc, str):
                return _NOT_CONSTANT
            out[kc] = vc
        return out
    return _NOT_CONSTANT


def _reference_strings(refs: list[Reference]) -> list[str]:
    """Terraform lists a reference and the object that contains it:
    `fg_image.web.uri` gives ["fg_image.web.uri", "fg_image.web"]."""
    out: list[str] = []

    def add(s: str) -> None:
        if s not in out:
            out.append(s)

    for ref in refs:
        parts = ref.parts
        add(str(ref))
        root = parts[0]
        if root in ("var", "local", "count", "each", "path", "self", "terraform"):
            continue
        if root == "module" and len(parts) >= 2:
            add(str(Reference(parts[:2], ref.range)))
            continue
        if len(parts) >= 3 and isinstance(parts[2], int):
            add(str(Reference(parts[:3], ref.range)))
        if len(parts) >= 2:
            add(str(Reference(parts[:2], ref.range)))
    return out


def expression_json(node: Node | None) -> dict[str, Any]:
    if node is None:
        return {}
    refs = references(node)
    if refs:
        return {"references": _reference_strings(refs)}
    c = _constant(node)
    return {} if c is _NOT_CONSTANT else {"constant_value": c}


def _body_expressions(body: Body) -> dict[str, Any]:
    out: dict[str, Any] = {name: expression_json(a.expr)
                           for name, a in sorted(body.attributes.items())}
    for b in body.blocks:
        inner = _body_expressions(b.body)
        out.setdefault(b.type, []).append(inner)
    return out


def _module_json(config: Config) -> dict[str, Any]:
    m = config.module
    out: dict[str, Any] = {}
    if m.outputs:
        outputs: dict[str, Any] = {}
        for name, o in sorted(m.outputs.items()):
            entry: dict[str, Any] = {}
            if o.sensitive:
                entry["sensitive"] = True
            entry["expression"] = expression_json(o.expr)
            if o.description:
                entry["description"] = o.description
            if o.depends_on:
                entry["depends_on"] = [str(r) for r in o.depends_on]
            outputs[name] = entry
        out["outputs"] = outputs
    resources = []
    for _, r in sorted(m.resources.items()):
        entry = {"address": f"{r.type}.{r.name}", "mode": "managed", "type": r.type,
                 "name": r.name, "provider_config_key": "fgform",
                 "expressions": _body_expressions(r.body), "schema_version": 0}
        if r.count is not None:
            entry["count_expression"] = expression_json(r.count)
        if r.for_each is not None:
            entry["for_each_expression"] = expression_json(r.for_each)
        if r.depends_on:
            entry["depends_on"] = [str(d) for d in r.depends_on]
        resources.append(entry)
    if resources:
        out["resources"] = resources
    if m.module_calls:
        calls: dict[str, Any] = {}
        for name, call in sorted(m.module_calls.items()):
            centry: dict[str, Any] = {
                "source": call.source,
                "expressions": {k: expression_json(a.expr)
                                for k, a in sorted(call.inputs.items())},
            }
            if call.count is not None:
                centry["count_expression"] = expression_json(call.count)
            if call.for_each is not None:
                centry["for_each_expression"] = expression_json(call.for_each)
            child = config.children.get(name)
            centry["module"] = _module_json(child) if child is not None else {}
            if call.depends_on:
                centry["depends_on"] = [str(d) for d in call.depends_on]
            calls[name] = centry
        out["module_calls"] = calls
    if m.variables:
        variables: dict[str, Any] = {}
        for name, v in sorted(m.variables.items()):
            ventry: dict[str, Any] = {}
            if v.has_default:
                c = _constant(v.default) if v.default is not None else None
                if c is not _NOT_CONSTANT:
                    ventry["default"] = c
            if v.description:
                ventry["description"] = v.description
            if v.sensitive:
                ventry["sensitive"] = True
            variables[name] = ventry
        out["variables"] = variables
    return out


def configuration_json(config: Config) -> dict[str, Any]:
    """Terraform's JSON `configuration`: provider config and the module tree, with each
    expression's references or constant value."""
    return {
        "provider_config": {"fgform": {"name": "fgform", "full_name": "fgform"}},
        "root_module": _module_json(config),
    }


__all__ = ["PlanOptions", "plan_changes", "refresh_state", "configuration_json",
           "forced_create_before_destroy", "downgrade_create_before_destroy",
           "schema_sensitive_paths", "TARGET_WARNING", "UNKNOWN"]
