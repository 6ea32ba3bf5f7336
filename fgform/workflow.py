"""The use cases behind the commands: config -> graph -> plan -> apply -> state.

The CLI calls these; they return data (diagnostics, plans, results) and never print. The
fleet that refresh reads and apply changes is passed in (the CLI builds it once).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fgform.addresses import Address
from fgform.config.depgraph import Graph
from fgform.config.model import Config
from fgform.errors import Diagnostic, DiagnosticsError, FgformError, Severity
from fgform.fleet.driver import FleetContext
from fgform.fleet.fleet import Fleet
from fgform.plan.model import PlanMode
from fgform.state.model import OutputState, StateFile
from fgform.state.store import StateStore
from fgform.values import contains_unknown, cty_type, unmark

VarArgs = Sequence[tuple[str, str]]


def load(dir: Path) -> tuple[Config, list[Diagnostic]]:
    """Load the configuration of a directory; loader errors come back as diagnostics."""
    from fgform.config.loader import load_config

    if not has_configuration(dir):
        raise FgformError(
            f"no configuration files in {dir}",
            hint="fgform reads every *.hcl and *.tf file of the directory; use -chdir=DIR "
                 "to point at another one.")
    return load_config(dir)


def has_configuration(dir: Path) -> bool:
    """Whether `dir` holds a configuration file (`*.tf`, `*.hcl`)."""
    return any(dir.glob("*.tf")) or any(dir.glob("*.hcl"))


def validate(dir: Path, var_args: VarArgs = ()) -> list[Diagnostic]:
    """Every problem with the configuration in `dir`, errors and warnings.

    As `terraform validate`: the configuration is checked for whatever values its
    variables will be given, so a variable nobody set is unknown, not an error (plan and
    apply report it), and so is a count or for_each that depends on it."""
    from fgform.analysis import validate_config

    config, diags = load(dir)
    if any(d.severity is Severity.ERROR for d in diags):
        return diags
    return diags + validate_config(config, var_args=list(var_args), cwd=str(dir),
                                   validating=True)


def graph_dot(dir: Path, var_args: VarArgs = ()) -> str:
    """The dependency graph of the configuration in DOT."""
    from fgform.config.depgraph import to_dot
    from fgform.graph import build_graph

    config, diags = load(dir)
    _raise(diags)
    return to_dot(build_graph(config))


def _raise(diags: list[Diagnostic]) -> None:
    if any(d.severity is Severity.ERROR for d in diags):
        raise DiagnosticsError(diags)


# -- the working directory: config, variables, state -------------------------------------------
@dataclass
class WorkingDir:
    """A loaded, validated configuration directory with its variables and state store."""

    dir: Path
    config: Config
    variables: dict[str, Any]
    state_path: Path
    warnings: list[Diagnostic]
    # The configuration's dependency graph, built once by open_working_dir for validation,
    # planning and applying alike (None: not built yet).
    graph: Graph | None = None
    # One store for the whole command: it remembers what it last wrote, which keeps
    # apply's write-after-every-step cheap.
    store: StateStore = field(init=False)

    def __post_init__(self) -> None:
        self.store = StateStore(self.state_path)


def open_working_dir(dir: Path, var_args: VarArgs = (), state_override: str | None = None,
                     check: bool = True, require_values: bool = True,
                     workspace: str = "default") -> WorkingDir:
    """Load and validate the configuration; raise DiagnosticsError on any error.

    With `require_values` False a variable without a value is no error (applying a saved
    plan: the plan's variables replace the directory's)."""
    from fgform.analysis import validate_config
    from fgform.config.variables import resolve_variables
    from fgform.state.paths import default_state_path

    config, diags = load(dir)
    _raise(diags)
    config.workspace = workspace
    variables, vdiags = resolve_variables(config.module, dir, list(var_args),
                                          require_values=require_values)
    diags += vdiags
    _raise(diags)
    graph = None
    if check:
        from fgform.graph import build_graph

        graph = build_graph(config)
        diags += validate_config(config, variables, cwd=str(dir), graph=graph)
        _raise(diags)
    backend = (config.module.backend or {}).get("path")
    path = default_state_path(dir, workspace, override=state_override, backend_path=backend)
    return WorkingDir(dir, config, variables, path, [d for d in diags], graph)


def backend_path(dir: Path) -> str | None:
    """The local backend's `path` of a directory's configuration, if it sets one (None when
    the configuration cannot be read: state commands work on a broken configuration)."""
    if any(dir.glob("*.tf")) or any(dir.glob("*.hcl")):
        try:
            from fgform.config.loader import load_module

            module, _ = load_module(dir)
            return (module.backend or {}).get("path")
        except FgformError:
            return None
    return None


def state_only(dir: Path, state_override: str | None = None,
               workspace: str = "default") -> Path:
    """The state path of a directory without validating its configuration (state commands
    must work even when the configuration is broken)."""
    from fgform.state.paths import default_state_path

    backend = backend_path(dir)
    return default_state_path(dir, workspace, override=state_override, backend_path=backend)


# -- refresh ---------------------------------------------------------------------------------
def fleet_context(config_dir: Path, state: StateFile, log=None) -> FleetContext:
    """The FleetContext drivers get: lineage labels, config dir, resources by address."""
    ctx = FleetContext(lineage=state.lineage, config_dir=str(config_dir))
    if log is not None:
        ctx.log = log
    for addr in state.addresses():
        inst = state.get(addr)
        if inst is not None:
            ctx.resources[str(addr)] = inst.attributes
            if inst.labelled_as is not None:
                ctx.labels[str(addr)] = inst.labelled_as
    # Deposed objects of a moved instance carry its label too (even with no current object).
    for addr, _key, _attrs, inst in state.deposed_objects():
        if inst.labelled_as is not None:
            ctx.labels[str(addr)] = inst.labelled_as
    return ctx


def read_live(fleet: Fleet, dir: Path, state: StateFile | None
              ) -> dict[str, dict[str, Any] | None]:
    """Refresh: what the fleet holds now for every instance in state, one driver call per
    resource type."""
    if state is None or not state.resources:
        return {}
    all_drivers = fleet.drivers
    ctx = fleet_context(dir, state)
    by_type: dict[str, dict[Address, dict[str, Any]]] = {}
    for addr in state.addresses():
        inst = state.get(addr)
        if inst is not None and not addr.is_data:  # data resources are read again by plan
            by_type.setdefault(addr.type, {})[addr] = inst.attributes
    live: dict[str, dict[str, Any] | None] = {}
    for type_name, items in sorted(by_type.items()):
        driver = all_drivers.get(type_name)
        if driver is None:
            for addr, attrs in items.items():
                live[str(addr)] = attrs
            continue
        for addr, attrs in driver.read(ctx, items).items():
            live[str(addr)] = attrs
    return live


# -- plan ------------------------------------------------------------------------------------
def check_addresses(targets: Sequence[str], replace: Sequence[str]) -> None:
    """`-target` takes a resource, an instance or a module (`module.m["a"]`); `-replace` an
    instance or a resource. Anything else is an error, not an empty plan."""
    from fgform.addresses import AddressError, parse_address

    for flag, values in (("-target", targets), ("-replace", replace)):
        for text in values:
            try:
                parse_address(text)
                continue
            except AddressError:
                pass
            module_only = flag == "-target" and text.startswith("module.")
            if module_only:
                try:  # module.m["a"].module.n: parse it as the module path of a resource
                    parse_address(f"{text}.t.n")
                    continue
                except AddressError:
                    pass
            what = ("a resource, resource instance or module address" if flag == "-target"
                    else "a resource instance address")
            raise FgformError(f"Invalid {flag[1:]} address {text!r}: {what} is required",
                              hint='For example fg_service.web, fg_service.web[0], '
                                   'module.m["a"].fg_service.web' +
                                   (" or module.m" if flag == "-target" else "") + ".")


def make_plan(wd: WorkingDir, fleet: Fleet, *, mode: PlanMode = PlanMode.NORMAL,
              targets: Sequence[str] = (), replace: Sequence[str] = (), refresh: bool = True,
              log: Callable[[str], None] | None = None):
    """Plan against the state on disk and (unless refresh is off) the live fleet. `log`
    gets Terraform's progress lines of the data sources read while planning."""
    from fgform.plan.planfile import config_hash
    from fgform.plan.planner import PlanOptions, plan_changes

    check_addresses(targets, replace)
    prior = wd.store.read()
    live = read_live(fleet, wd.dir, prior) if refresh else None
    base = prior
    if base is None and wd.config.module.imports and mode is PlanMode.NORMAL:
        base = StateFile()  # the lineage the imported objects are read for and kept in
    imports = read_imports(fleet, wd, base) if mode is PlanMode.NORMAL else {}
    options = PlanOptions(mode=mode, targets=list(targets), replace=list(replace),
                          refresh=refresh, config_dir=str(wd.dir),
                          config_hash=config_hash(wd.dir, wd.config), graph=wd.graph,
                          read_data=data_reader(fleet, wd.dir, prior, log), imports=imports)
    plan = plan_changes(wd.config, wd.variables, base, live, options)
    plan.state_lineage = prior.lineage if prior else None
    plan.state_serial = prior.serial if prior else None
    return plan


def data_reader(fleet: Fleet, dir: Path, state: StateFile | None,
                log: Callable[[str], None] | None = None):
    """`PlanOptions.read_data` on `fleet`: data sources see what `state` holds (a task
    definition family's revisions, the registries' endpoints). `log` gets Terraform's
    lines: `data.fg_image.app: Reading...`, `...: Read complete after 0s [id=...]`."""
    from fgform.render.progress import format_duration, truncate_id

    made: list[FleetContext] = []  # built at the first read: most plans read nothing

    def read(addr: Address, type_name: str, args: dict[str, Any]) -> dict[str, Any]:
        if not made:
            made.append(fleet_context(dir, state if state is not None else StateFile()))
        if log is not None:
            log(f"{addr}: Reading...")
        start = time.monotonic()
        attrs = fleet.read_data(made[0], type_name, args)
        if log is not None:
            ident = attrs.get("id")
            suffix = f" [id={truncate_id(str(ident))}]" if ident else ""
            log(f"{addr}: Read complete after "
                f"{format_duration(time.monotonic() - start)}{suffix}")
        return attrs

    return read


IMPORTABLE = ("fg_cluster: the Docker network's name or ID; fg_registry: the registry "
              "container's name or ID")


def read_imports(fleet: Fleet, wd: WorkingDir, state: StateFile | None
                 ) -> dict[str, tuple[str, dict[str, Any]]]:
    """The objects the root module's `import` blocks adopt, as their drivers read them:
    address -> (id, attributes). A target that state already holds is skipped (Terraform
    does the same); a type no driver can import, or an id naming nothing, is an error."""
    from fgform.config import functions
    from fgform.config.context import EvalContext, EvalError
    from fgform.config.expr import evaluate

    blocks = wd.config.module.imports
    if not blocks:
        return {}
    errors: list[Diagnostic] = []
    wanted = []
    for imp in blocks:
        if state is not None and state.get(imp.to) is not None:
            continue
        try:
            ident, _ = unmark(evaluate(imp.id, EvalContext(variables=dict(wd.variables),
                                                           functions=functions.call)))
        except EvalError as exc:
            errors.append(Diagnostic.error(exc.summary, exc.message, exc.range or imp.range))
            continue
        if not isinstance(ident, str) or not ident:
            errors.append(Diagnostic.error(
                "Invalid import id", "The import ID must be a non-empty string.",
                imp.id.range))
            continue
        driver = fleet.drivers.get(imp.to.type)
        if getattr(driver, "import_object", None) is None:
            errors.append(Diagnostic.error(
                "Resource type cannot be imported",
                f"fgform cannot import {imp.to.type} resources: no driver can read an existing "
                f"object of this type. Importable types ({IMPORTABLE}).", imp.range))
            continue
        wanted.append((imp, ident, driver))
    _raise(errors)
    if not wanted:
        return {}
    fleet.require({imp.to.type for imp, _, _ in wanted})
    ctx = fleet_context(wd.dir, state if state is not None else StateFile())
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for imp, ident, driver in wanted:
        attrs = driver.import_object(ctx, imp.to, ident)
        if attrs is None:
            errors.append(Diagnostic.error(
                "Cannot import non-existent remote object",
                f'While attempting to import an existing object to "{imp.to}", fgform found '
                f"that no object exists with the given id {ident!r}. Only pre-existing objects "
                "can be imported; check that the id is correct, or remove the import block "
                "and let apply create a new object for this resource.", imp.range))
            continue
        out[str(imp.to)] = (ident, attrs)
    _raise(errors)
    return out


# -- apply -----------------------------------------------------------------------------------
def _resolver(wd: WorkingDir):
    """Re-evaluate a resource's configuration once what it depends on is known.

    The plan holds UNKNOWN where a value comes from something not yet applied (an image's
    digest); by the time the executor reaches the dependent, those are in state.
    """
    from fgform.analysis import walk
    from fgform.graph import build_graph

    # once per apply, not once per resolved instance
    graph = wd.graph if wd.graph is not None else build_graph(wd.config)

    def resolve(addr: Address, after: dict[str, Any], state: StateFile) -> dict[str, Any]:
        def on_resource(a: Address, resource, config: dict[str, Any], deps):
            inst = state.get(a)
            if inst is not None and a != addr:
                return inst.attributes
            from fgform.config.evaluate import validate_resolver

            return validate_resolver(a, resource, config, deps)

        # Only what this instance depends on: a whole walk per step made apply quadratic.
        result = walk(wd.config, wd.variables, on_resource, cwd=str(wd.dir), graph=graph,
                      only=[addr])
        config = result.configs.get(addr)
        if config is None:
            return after
        merged = dict(after)
        for k, v in config.items():
            plain, _ = unmark(v)
            if not contains_unknown(plain):
                merged[k] = plain
        return merged

    return resolve


def compute_outputs(wd: WorkingDir, state: StateFile) -> dict[str, OutputState]:
    """Root outputs from the configuration and what state now holds."""
    from fgform.analysis import walk
    from fgform.config.evaluate import validate_resolver
    from fgform.values import Sensitive

    def on_resource(a: Address, resource, config, deps):
        inst = state.get(a)
        return inst.attributes if inst is not None else validate_resolver(a, resource, config,
                                                                            deps)

    result = walk(wd.config, wd.variables, on_resource, cwd=str(wd.dir),
                  only=[f"output.{name}" for name in wd.config.module.outputs],
                  applying=True)
    out: dict[str, OutputState] = {}
    for name, value in sorted(result.outputs.items()):
        declared = wd.config.module.outputs.get(name)
        sensitive = isinstance(value, Sensitive) or bool(declared and declared.sensitive)
        plain, paths = unmark(value)
        if contains_unknown(plain):
            continue
        out[name] = OutputState(plain, sensitive or bool(paths), cty_type(plain))
    return out


def console_context(wd: WorkingDir, state: StateFile | None) -> Any:
    """What `fgform console` evaluates in (an `EvalContext`): the root module's variables,
    locals and module outputs, with each resource instance as state holds it (its
    sensitive attributes marked), or, not in state yet, known after apply."""
    from fgform.analysis import walk
    from fgform.config.evaluate import validate_resolver
    from fgform.plan.sensitive import remark

    def on_resource(a: Address, resource, config, deps):
        inst = state.get(a) if state is not None else None
        if inst is None:
            return validate_resolver(a, resource, config, deps)
        return remark(inst.attributes, [tuple(p) for p in inst.sensitive_paths])

    result = walk(wd.config, wd.variables, on_resource, cwd=str(wd.dir))
    return result.root_context


def bare_console_context(dir: Path) -> Any:
    """What `fgform console` evaluates in where there is no configuration: the functions
    and `path.*` only."""
    from fgform.config.context import EvalContext
    from fgform.config.functions import call

    return EvalContext(functions=call, path_module=".", path_root=".", path_cwd=str(dir))


CONSOLE_INPUT = "<console-input>"


def console_evaluate(ctx: Any, text: str) -> Any:
    """One `fgform console` expression evaluated in `ctx` (from `console_context`);
    DiagnosticsError when it does not parse or cannot be evaluated."""
    from fgform.config.expr import EvalError, evaluate
    from fgform.config.hcl import parse_text

    body, diags = parse_text(f"__x = {text}\n", CONSOLE_INPUT, col_shift=(1, -6))
    if diags:
        raise DiagnosticsError(diags)
    attr = body.attributes.get("__x")
    if attr is None or len(body.attributes) != 1 or body.blocks:
        raise DiagnosticsError([Diagnostic.error(
            "Invalid expression", "Expected one expression.",
            None if attr is None else attr.expr.range)])
    try:
        return evaluate(attr.expr, ctx)
    except EvalError as exc:
        raise DiagnosticsError([Diagnostic.error(exc.summary, exc.message,
                                                 exc.range or attr.expr.range,
                                                 exc.hint)]) from None


def check_after_apply(wd: WorkingDir, state: StateFile) -> list:
    """Every module's check blocks evaluated against the state an apply left
    (plan/checks.py): failed assertions are warnings to print, never errors."""
    from fgform.config.evaluate import validate_resolver
    from fgform.plan.checks import evaluate_checks, has_checks

    if not has_checks(wd.config):
        return []

    def on_resource(a: Address, resource, config, deps):
        inst = state.get(a)
        return inst.attributes if inst is not None else validate_resolver(a, resource, config,
                                                                            deps)

    return evaluate_checks(wd.config, wd.variables, on_resource, str(wd.dir))


def known_secrets(wd: WorkingDir, plan) -> frozenset[str]:
    """Every sensitive value this run knows (variables, the planned changes' sensitive
    attributes before and after, the prior state's): what apply's progress lines and the
    drivers' error messages are scrubbed of before they reach a terminal."""
    from fgform.values import sensitive_strings, strings_at

    found = sensitive_strings(wd.variables) | sensitive_strings(plan.variables)
    for rc in [*plan.changes, *plan.drift]:
        found |= strings_at(rc.before, rc.before_sensitive)
        found |= strings_at(rc.after, rc.after_sensitive)
    for oc in plan.output_changes:
        if oc.sensitive:
            found |= strings_at({"v": oc.before, "w": oc.after}, [("v",), ("w",)])
    if plan.prior_state is not None:
        found |= state_secrets(plan.prior_state)
    return frozenset(found)


def state_secrets(state: StateFile) -> frozenset[str]:
    """The sensitive values a state holds (attributes at their sensitive paths, sensitive
    outputs): what a command working from the state alone scrubs its messages of."""
    from fgform.values import strings_at

    found: set[str] = set()
    for _addr, inst in state.sorted_instances():
        if inst is not None:
            found |= strings_at(inst.attributes, inst.sensitive_paths)
    for out in state.outputs.values():
        if out.sensitive:
            found |= strings_at({"v": out.value}, [("v",)])
    return frozenset(found)


def forget_gone(state: StateFile, refreshed: StateFile) -> list[Address]:
    """Drop from `state` the current objects that `refreshed` (the plan's refreshed state)
    no longer has: refresh found them deleted outside fgform. Deposed objects stay. Returns
    the addresses forgotten."""
    gone = [a for a in state.addresses()
            if (r := refreshed.instance(a)) is None or r.attributes is None]
    for addr in gone:
        state.remove(addr, keep_deposed=True)
    return gone


@dataclass
class ApplyOutcome:
    result: Any  # fgform.apply.executor.ApplyResult
    state: StateFile


def apply(wd: WorkingDir, fleet: Fleet, plan, *, hooks=None, parallelism: int = 10,
          cancel: threading.Event | None = None, abort: threading.Event | None = None,
          progress_interval: float = 10.0) -> ApplyOutcome:
    """Carry out a plan on the fleet, writing state after every finished operation.

    The caller holds the state lock and the fleet lock (`fgform.state.lock`), so neither
    another apply nor a reconcile pass acts on the fleet meanwhile.
    """
    from fgform.apply.executor import apply_plan
    from fgform.plan.model import Action

    store = wd.store
    all_drivers = fleet.drivers
    # Refuse before touching anything, rather than half-way through the walk.
    missing = sorted({c.address.type for c in plan.changes
                      if c.action not in (Action.NOOP, Action.READ)
                      and c.address.type not in all_drivers})
    if missing:
        raise FgformError(
            f"this version of fgform cannot apply {', '.join(missing)} resources yet",
            hint="Plan and validate them as usual; to apply the rest now, use -target with "
                 "the other resources.")
    state = store.read()
    # An unreachable fleet fails once, here, not once per resource half-way through.
    fleet.require({c.address.type for c in plan.changes
                   if c.action not in (Action.NOOP, Action.READ)})
    if state is None:
        state = StateFile()
        if plan.prior_state is not None and plan.prior_state.lineage:
            state.lineage = plan.prior_state.lineage
        elif plan.state_lineage:
            state.lineage = plan.state_lineage
        # Every Docker object is labelled (and the registry named) with the lineage: it must
        # be on disk before the first object exists, or a crash before the first state write
        # leaves objects of a lineage the next run never learns (and can neither adopt nor
        # clean up).
        store.write(state)
    if plan.mode is PlanMode.REFRESH_ONLY or plan.prior_state is not None and \
            plan.mode is not PlanMode.DESTROY:
        # Refresh results (drift accepted into state) count as part of the plan.
        if plan.prior_state is not None:
            state.resources = plan.prior_state.resources
    elif plan.mode is PlanMode.DESTROY and plan.prior_state is not None:
        # The plan's addresses are after its moved blocks: make the same moves here.
        for rc in plan.changes:
            if rc.previous_address is not None:
                moved = state.remove(rc.previous_address)
                if moved is not None:
                    moved.relabel(rc.previous_address, rc.address)
                    state.set(rc.address, moved)
        # Nothing is planned for what refresh found deleted outside fgform: forget it here,
        # or it stays in state for ever. Everything else stays as recorded.
        forget_gone(state, plan.prior_state)
    ctx = fleet_context(wd.dir, state)
    result = apply_plan(plan, state, all_drivers, ctx, store.write, parallelism=parallelism,
                        hooks=hooks, cancel=cancel, abort=abort, resolve=_resolver(wd),
                        progress_interval=progress_interval, read_data=fleet.read_data)
    state = result.state
    if plan.mode is PlanMode.DESTROY:
        state.outputs = {} if not state.resources else state.outputs
    else:
        state.outputs = compute_outputs(wd, state)
    store.write(state)
    return ApplyOutcome(result, state)
