"""The evaluation walk: a configuration evaluated in dependency order, instances expanded
on the way.

`walk` visits the nodes of the configuration's dependency graph (`config.depgraph`, built
by `fgform.graph.build_graph`) in topological order, once per instance of the module that
holds each; resources and module calls are expanded by their count/for_each
(`config.expand`). The planner passes an `on_resource` callback that turns each instance's
decoded configuration into its planned value, which later expressions then see. Validation
passes `validate_resolver`, which makes every computed attribute unknown.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from fgform.addresses import Address, Key, ModulePath, ModuleStep, format_module
from fgform.config import functions, types
from fgform.config.ast import Node
from fgform.config.decode import check_structure, decode_body, schema_type
from fgform.config.depgraph import (
    Graph,
    GraphNode,
    cycle_diagnostics,
    dependency_closure,
    resource_dependencies,
    resource_node_id,
    subgraph,
    topological_order,
)
from fgform.config.expand import Expansion, ExpansionMode, expand
from fgform.config.expr import EvalContext, EvalError, evaluate
from fgform.config.limits import MAX_VALUE_ELEMENTS, element_count
from fgform.config.meta_blocks import CHECK_OUTPUT_PREFIX
from fgform.config.model import Config, Local, ModuleCall, Output, Resource, Variable
from fgform.config.references import references
from fgform.config.schema import schema_for
from fgform.config.variables import finalize_variable
from fgform.errors import Diagnostic, Severity, SourceRange
from fgform.values import UNKNOWN, ListValue, Sensitive, mark_sensitive, typed_value, unmark


def _as_declared(var: Variable, value: Any) -> Any:
    """A root variable's value converted to its declared type again: values read back from
    a saved plan are plain JSON, where a set is a list (and for_each takes sets only)."""
    if var.type is None:
        return value
    try:
        return types.convert(value, types.parse_type(var.type))
    except (types.TypeSyntaxError, types.TypeMismatch, EvalError):
        return value  # reported where the value was resolved


ResourceCallback = Callable[[Address, Resource, dict[str, Any], list[str]], Any]


@dataclass(slots=True)
class ModuleInstance:
    """One instance of a module (`module.m[0]`): the values its expressions see."""

    path: ModulePath
    config: Config
    parent: ModuleInstance | None = None
    # The call instance's each/count, for evaluating the call's inputs in the parent.
    each_key: Any = None
    each_value: Any = None
    has_each: bool = False
    count_index: int | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    modules: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    # A child's check assertions (config/meta_blocks.py check_probe): kept out of `outputs`,
    # which is the `module.NAME` object the parent sees.
    hidden: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class WalkResult:
    """Everything a walk learnt, per resource instance and per module instance."""

    graph: Graph
    # Instance address -> the decoded configuration (schema defaults filled in).
    configs: dict[Address, dict[str, Any]] = field(default_factory=dict)
    # Instance address -> what on_resource returned for it.
    values: dict[Address, Any] = field(default_factory=dict)
    resources: dict[Address, Resource] = field(default_factory=dict)
    # Instance address -> config-level addresses of the resources it depends on
    # ("module.m.fg_cluster.main"), as state records them.
    dependencies: dict[Address, list[str]] = field(default_factory=dict)
    # Instance address -> the instance addresses it depends on (for the executor).
    instance_dependencies: dict[Address, list[Address]] = field(default_factory=dict)
    # Resource address (key None, with module instance path) -> its expansion.
    expansions: dict[Address, Expansion] = field(default_factory=dict)
    order: list[Address] = field(default_factory=list)  # instances in evaluation order
    outputs: dict[str, Any] = field(default_factory=dict)  # root outputs (may be Sensitive)
    module_outputs: dict[str, dict[str, Any]] = field(default_factory=dict)  # "module.m[0]"
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)  # by module instance
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # What an expression in the root module sees once the walk is done (`fgform console`).
    root_context: EvalContext | None = None
    # Resource node ids whose bodies were checked against their schema (validation checks
    # the rest: resources in modules with no instances, or a walk stopped by a cycle).
    structure_checked: set[str] = field(default_factory=set)


def validate_resolver(addr: Address, resource: Resource, config: dict[str, Any],
                      deps: list[str]) -> dict[str, Any]:
    """An on_resource for validation: the decoded config with every computed attribute
    unknown, as a plan of a fresh create would show it."""
    schema = schema_for(resource.mode, resource.type)
    out = dict(config)
    if schema is not None:
        for a in schema.body.attributes:
            if a.computed and out.get(a.name) is None:
                out[a.name] = UNKNOWN
    return out


def _typed_attributes(value: Any, body: Any) -> Any:
    """An instance's attributes as expressions see them: a list, set or map attribute read
    from state (plain JSON) is a list, set or map again, as its schema type says, so that
    `fg_x.a.tags == var.tags` compares as it does before the state is written."""
    if not isinstance(value, dict):
        return value
    out = dict(value)
    for a in body.attributes:
        v = out.get(a.name)
        if isinstance(v, (list, dict)) and type(v) in (list, dict):
            out[a.name] = typed_value(v, types.type_json(schema_type(a.type)))
    for b in body.blocks:  # nested blocks: a dict when single, else a list of them
        v = out.get(b.name)
        if type(v) is dict:
            out[b.name] = _typed_attributes(v, b)
        elif type(v) is list:
            # A repeatable block is a list of objects, as a provider's block list is.
            out[b.name] = ListValue([_typed_attributes(e, b) for e in v], _block_type(b))
    return out


_BLOCK_TYPES: dict[int, Any] = {}  # by id: the schema tables are constants, never freed


def _block_type(body: Any) -> Any:
    """A block's object type in Terraform's JSON form, from its schema."""
    t = _BLOCK_TYPES.get(id(body))
    if t is None:
        attrs: dict[str, Any] = {a.name: types.type_json(schema_type(a.type))
                                 for a in body.attributes}
        for b in body.blocks:
            attrs[b.name] = _block_type(b) if b.single else ["list", _block_type(b)]
        t = _BLOCK_TYPES[id(body)] = ["object", dict(sorted(attrs.items()))]
    return t


class Evaluator:
    """One walk: the module instances and values found so far; `run` visits the graph's
    nodes in dependency order, each once per instance of the module that holds it."""

    def __init__(self, config: Config, variables: dict[str, Any],
                 on_resource: ResourceCallback, finalize_variable: Callable | None,
                 cwd: str | None, graph: Graph,
                 only: Iterable[Address | str] | None = None, validating: bool = False
                 ) -> None:
        self.config = config
        self.validating = validating
        self.applying = False
        self.root_vars = variables
        self.on_resource = on_resource
        self.finalize_variable = finalize_variable
        self.cwd = cwd or os.getcwd()
        self.graph = graph
        # With `only`, the nodes those resources need (themselves included); else None.
        self.closure = None if only is None else dependency_closure(
            self.graph, (a if isinstance(a, str) else resource_node_id(a) for a in only))
        self.result = WalkResult(self.graph)
        self.diags: list[Diagnostic] = []
        self.instances: dict[tuple[str, ...], list[ModuleInstance]] = {
            (): [ModuleInstance((), config)]}
        self.resource_instances: dict[str, list[Address]] = {}
        self.dep_memo: dict[str, set[str]] = {}
        self.root_dir = str(config.module.dir)

    # -- contexts --
    def ctx(self, mi: ModuleInstance, **kw: Any) -> EvalContext:
        mdir = str(mi.config.module.dir)
        rel = os.path.relpath(mdir, self.root_dir) if mi.path else "."
        return EvalContext(variables=mi.variables, locals=mi.locals, resources=mi.resources,
                           modules=mi.modules, path_module=rel, path_root=".",
                           path_cwd=self.cwd, workspace=self.config.workspace,
                           applying=self.applying, functions=functions.call, **kw)

    def call_ctx(self, child: ModuleInstance) -> EvalContext:
        assert child.parent is not None
        return self.ctx(child.parent, each_key=child.each_key, each_value=child.each_value,
                        has_each=child.has_each, count_index=child.count_index)

    def eval(self, node: Node, ctx: EvalContext, where: SourceRange | None = None) -> Any:
        try:
            value = evaluate(node, ctx)
        except EvalError as exc:
            self.diags.append(Diagnostic.error(exc.summary, exc.message,
                                               exc.range or where or node.range, exc.hint))
            return UNKNOWN
        if isinstance(value, (list, dict, Sensitive)) and element_count(
                value) > MAX_VALUE_ELEMENTS:
            self.diags.append(Diagnostic.error(
                "Value too large", f"This value holds more than {MAX_VALUE_ELEMENTS} values, "
                "counting nested ones each time they appear: fgform's limit for one value.",
                where or node.range))
            return UNKNOWN
        return value

    # -- the walk --
    def run(self) -> WalkResult:
        self.diags.extend(self.graph.diagnostics)
        # A cycle outside the closure cannot reach it: the closure is closed under `deps`.
        g = self.graph if self.closure is None else subgraph(self.graph, self.closure)
        cycles = cycle_diagnostics(g)
        if cycles:
            self.diags.extend(cycles)
            return self.finish()
        for nid in topological_order(g):
            node = self.graph.nodes[nid]
            for mi in list(self.instances.get(node.path, ())):
                getattr(self, f"visit_{node.kind.value}")(node, mi)
        return self.finish()

    def finish(self) -> WalkResult:
        graph_places = {(d.range.filename, d.range.start_line)
                        for d in self.graph.diagnostics if d.range is not None}
        seen: set[tuple] = set()
        for i, d in enumerate(self.diags):
            r = d.range
            place = None if r is None else (r.filename, r.start_line)
            # A bad reference found while building the graph also fails to evaluate: keep
            # the graph's (more precise) diagnostic only.
            if i >= len(self.graph.diagnostics) and place in graph_places:
                continue
            # One diagnostic per problem and place, however many instances found it.
            k = (d.severity, d.summary, d.detail, place)
            if k not in seen:
                seen.add(k)
                self.result.diagnostics.append(d)
        root = self.instances[()][0]
        self.result.outputs = root.outputs
        self.result.root_context = self.ctx(root)
        for mis in self.instances.values():
            for mi in mis:
                if mi.path:
                    self.result.module_outputs[format_module(mi.path)] = \
                        {**mi.outputs, **mi.hidden} if mi.hidden else mi.outputs
                self.result.variables[format_module(mi.path)] = mi.variables
        return self.result

    def default(self, var: Variable, mi: ModuleInstance) -> Any:
        """A variable's default value; unknown when it refers to anything, which validation
        reports as "Variables not allowed" (a default is a constant)."""
        if var.default is None:
            return None
        if references(var.default):
            return UNKNOWN
        return self.eval(var.default, self.ctx(mi))

    def visit_variable(self, node: GraphNode, mi: ModuleInstance) -> None:
        var: Variable = node.obj  # type: ignore[assignment]
        if not mi.path:
            if var.name in self.root_vars:
                mi.variables[var.name] = _as_declared(var, self.root_vars[var.name])
                return
            raw = self.default(var, mi) if var.has_default else UNKNOWN
        else:
            call = mi.parent.config.module.module_calls[mi.path[-1].name]  # type: ignore
            attr = call.inputs.get(var.name)
            if attr is not None:
                raw = self.eval(attr.expr, self.call_ctx(mi), attr.range)
            elif var.has_default:
                raw = self.default(var, mi)
            else:
                raw = UNKNOWN  # reported by build_graph as a missing argument
        if self.finalize_variable is not None:
            value, diags = self.finalize_variable(var, raw, attr_range(mi, var))
            self.diags.extend(diags)
        else:
            value = mark_sensitive(raw) if var.sensitive else raw
        mi.variables[var.name] = value

    def visit_local(self, node: GraphNode, mi: ModuleInstance) -> None:
        loc: Local = node.obj  # type: ignore[assignment]
        mi.locals[loc.name] = self.eval(loc.expr, self.ctx(mi))

    def visit_output(self, node: GraphNode, mi: ModuleInstance) -> None:
        out: Output = node.obj  # type: ignore[assignment]
        value = self.eval(out.expr, self.ctx(mi))
        if mi.path and out.name.startswith(CHECK_OUTPUT_PREFIX):
            mi.hidden[out.name] = value
            return
        if out.sensitive:
            value = mark_sensitive(value)
        elif _has_sensitive(value) and not mi.path:
            self.diags.append(Diagnostic.error(
                "Output refers to sensitive values",
                "To reduce the risk of accidentally exporting sensitive data that was "
                "intended to be only internal, fgform requires that any root module output "
                "containing sensitive data be explicitly marked as sensitive, to confirm "
                "your intent.", out.range, 'Add "sensitive = true" to the output block.'))
        mi.outputs[out.name] = value

    def visit_module(self, node: GraphNode, mi: ModuleInstance) -> None:
        call: ModuleCall = node.obj  # type: ignore[assignment]
        child_cfg = mi.config.children.get(call.name)
        exp = expand(call, self.ctx(mi), self.diags, self.validating)
        if child_cfg is None:
            mi.modules[call.name] = UNKNOWN
            return
        cpath = (*node.path, call.name)
        bucket = self.instances.setdefault(cpath, [])
        if exp is None:
            mi.modules[call.name] = UNKNOWN
            return
        if exp.unknown:
            # Validating: one representative instance, its count.index or each unknown.
            child = ModuleInstance((*mi.path, ModuleStep(call.name, None)), child_cfg, mi)
            if exp.mode is ExpansionMode.COUNT:
                child.count_index = UNKNOWN  # type: ignore[assignment]
            else:
                child.has_each, child.each_key, child.each_value = True, UNKNOWN, UNKNOWN
            bucket.append(child)
            mi.modules[call.name] = UNKNOWN
            return
        holder: Any = {} if exp.mode is ExpansionMode.FOR_EACH else [] if exp.mode is ExpansionMode.COUNT else None
        for key in exp.keys:
            child = ModuleInstance((*mi.path, ModuleStep(call.name, key)), child_cfg, mi)
            if exp.mode is ExpansionMode.COUNT:
                child.count_index = key  # type: ignore[assignment]
                holder.append(child.outputs)
            elif exp.mode is ExpansionMode.FOR_EACH:
                child.has_each, child.each_key = True, key
                child.each_value = exp.each_values[key]  # type: ignore[index]
                holder[key] = child.outputs
            else:
                holder = child.outputs  # filled in place as its outputs are evaluated
            bucket.append(child)
        mi.modules[call.name] = holder

    def visit_resource(self, node: GraphNode, mi: ModuleInstance) -> None:
        res: Resource = node.obj  # type: ignore[assignment]
        schema = schema_for(res.mode, res.type)
        # `data.TYPE.NAME` reads mi.resources["data"][TYPE][NAME] (config/names.py resolves
        # `data.TYPE` as it does a resource type).
        types = mi.resources.setdefault("data", {}) if res.mode == "data" else mi.resources
        by_type = types.setdefault(res.type, {})
        raddr = Address(res.type, res.name, None, mi.path, res.mode)
        if schema is not None and mi is self.instances[node.path][0]:
            # Structure does not depend on the instance: check once per resource block.
            self.diags.extend(check_structure(res.body, schema.body, res.range))
            self.result.structure_checked.add(node.id)
        exp = expand(res, self.ctx(mi), self.diags, self.validating)
        if exp is None:
            by_type[res.name] = UNKNOWN
            return
        self.result.expansions[raddr] = exp
        deps = sorted(resource_dependencies(self.graph, node.id, self.dep_memo))
        inst_deps = sorted(a for d in deps for a in self.resource_instances.get(d, ())
                           if _related(mi.path, node.path, a.module, self.graph.nodes[d].path))
        values: dict[Key, Any] = {}
        for key in exp.keys:
            addr = Address(res.type, res.name, key, mi.path, res.mode)
            kw: dict[str, Any] = {}
            if exp.unknown and exp.mode is ExpansionMode.COUNT:  # validating: a representative instance
                kw["count_index"] = UNKNOWN
            elif exp.unknown:
                kw.update(has_each=True, each_key=UNKNOWN, each_value=UNKNOWN)
            elif exp.mode is ExpansionMode.COUNT:
                kw["count_index"] = key
            elif exp.mode is ExpansionMode.FOR_EACH:
                kw.update(has_each=True, each_key=key, each_value=exp.each_values[key])
            ctx = self.ctx(mi, **kw)
            if schema is None:
                values[key] = UNKNOWN
                continue
            decoded, diags = decode_body(res.body, schema.body, ctx, res.range,
                                         structure=False)
            self.diags.extend(diags)
            self.result.configs[addr] = decoded
            self.result.resources[addr] = res
            self.result.dependencies[addr] = deps
            self.result.instance_dependencies[addr] = inst_deps
            self.result.order.append(addr)
            self.resource_instances.setdefault(node.id, []).append(addr)
            if any(d.severity is Severity.ERROR for d in diags):
                values[key] = UNKNOWN
                continue
            value = self.on_resource(addr, res, decoded, deps)
            self.result.values[addr] = value
            values[key] = _typed_attributes(value, schema.body)
        if exp.unknown:
            by_type[res.name] = UNKNOWN  # how many instances is not known
        elif exp.mode is ExpansionMode.SINGLE:
            by_type[res.name] = values.get(None, UNKNOWN)
        elif exp.mode is ExpansionMode.COUNT:
            by_type[res.name] = [values[k] for k in exp.keys]
        else:
            by_type[res.name] = {k: values[k] for k in exp.keys}


def _related(path: ModulePath, cpath: tuple[str, ...], other: ModulePath,
             other_cpath: tuple[str, ...]) -> bool:
    """Whether an instance in module instance `other` can be what one in `path` depends on:
    they agree on every module instance step their configuration paths share (the same
    `module.app[0]`, not its sibling `module.app[1]`)."""
    common = 0
    for a, b in zip(cpath, other_cpath, strict=False):
        if a != b:
            break
        common += 1
    return path[:common] == other[:common]


def attr_range(mi: ModuleInstance, var: Variable) -> SourceRange:
    """Where a variable's value comes from: the module call's argument, else its block."""
    if mi.parent is not None:
        call = mi.parent.config.module.module_calls.get(mi.path[-1].name)
        if call is not None and var.name in call.inputs:
            return call.inputs[var.name].range
    return var.range


def _has_sensitive(value: Any) -> bool:
    return bool(unmark(value)[1])


def walk(config: Config, variables: dict[str, Any],
         on_resource: ResourceCallback = validate_resolver, *,
         graph: Graph, cwd: str | None = None,
         only: Iterable[Address | str] | None = None,
         validating: bool = False, applying: bool = False) -> WalkResult:
    """Evaluate a configuration in dependency order.

    `variables` holds the root module's final variable values (from
    `variables.resolve_variables`). For each resource instance, its body is decoded and
    `on_resource(address, resource, decoded_config, dependencies)` is called; what it returns
    is the instance's value for every later expression (`fg_service.web.id`). Instances whose
    config has errors are not passed to `on_resource` and are UNKNOWN to later expressions.
    Stops before evaluating anything when the graph has a cycle.

    `graph` is `fgform.graph.build_graph(config)` (built once by the caller, who may walk
    one configuration many times; `fgform.analysis.walk` builds it). `only` limits the walk to the resources of these addresses
    (instance keys are ignored: every instance of the resource is evaluated), or the graph
    nodes of these ids (`"output.url"`), and what they depend on, transitively: their entries
    in the result are the same as a full walk's, at the cost of their dependencies instead
    of the whole configuration (apply's resolver re-evaluates one resource after each step).
    Cycles are then only looked for there.

    `validating` (the `validate` command): a count or for_each that is not known yet (it
    depends on an unset variable or on a computed attribute) is not an error: one
    representative instance is checked, with count.index or each.key/each.value unknown,
    and the resource or module call is unknown to later expressions. A plan walk
    (`validating` false) reports it as "Invalid count argument" / "Invalid for_each
    argument", since plan must know every instance.
    """
    evaluator = Evaluator(config, variables, on_resource, finalize_variable, cwd, graph, only,
                          validating)
    evaluator.applying = applying
    return evaluator.run()
