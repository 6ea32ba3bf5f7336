"""Building the dependency graph of a whole configuration (`build_graph`).

The graph (`config.depgraph.Graph`) has one node per *configuration* object, across
modules: variables, locals, outputs, resources and module calls (`var.x`, `local.y`,
`output.z`, `fg_service.web`, `module.m`, and inside a module `module.m.fg_service.web`).
An edge `a -> b` means "a depends on b". Edges come from the static references of each
expression (`expr.references`) and from `depends_on`; a reference that names nothing
becomes a diagnostic instead.

Module boundaries: a child module's variable depends on its module call node and on what
the call's input expression references in the caller; a caller's reference to
`module.m.out` depends on the child's `output.out` node. Every child node without
dependencies of its own depends on the call node, so nothing in a module is evaluated
before the module's instances (`count`/`for_each` on the call) are known.
"""

from __future__ import annotations

from typing import Any

from fgform.config.ast import Node, Reference
from fgform.config.blocks_terraform import check_provider_configured
from fgform.config.depgraph import Graph, GraphNode, NodeKind, module_prefix
from fgform.config.dynamic import bound_references
from fgform.config.meta_blocks import CHECK_OUTPUT_PREFIX
from fgform.config.model import Body, Config, Module, Resource
from fgform.config.references import references
from fgform.config.schema import DATA_SCHEMAS, SCHEMAS, get_schema, schema_for
from fgform.errors import Diagnostic, SourceRange
from fgform.suggest import did_you_mean

__all__ = ["Graph", "GraphNode", "build_graph"]

# Root names that are not references to graph nodes.
_NO_NODE_ROOTS = {"each", "count", "path", "self", "terraform", "fgform"}


def body_expressions(body: Body) -> list[Node]:
    """Every expression in a body and its nested blocks, in source order."""
    out = [a.expr for a in body.attributes.values()]
    for b in body.blocks:
        out.extend(body_expressions(b.body))
    return out



def build_graph(config: Config) -> Graph:
    """Build the dependency graph of a configuration and all the modules it calls.

    Unresolvable references become diagnostics in `graph.diagnostics` (and no edge).
    """
    g = Graph()
    _add_module_nodes(g, config, ())
    _add_module_edges(g, config, ())
    return g


def _add_module_nodes(g: Graph, config: Config, path: tuple[str, ...]) -> None:
    g.configs[path] = config
    pre = module_prefix(path)
    m = config.module
    for v in m.variables.values():
        g.nodes[f"{pre}var.{v.name}"] = GraphNode(f"{pre}var.{v.name}", NodeKind.VARIABLE, path,
                                                  v.name, v, v.range)
    for loc in m.locals.values():
        g.nodes[f"{pre}local.{loc.name}"] = GraphNode(f"{pre}local.{loc.name}", NodeKind.LOCAL,
                                                      path, loc.name, loc, loc.range)
    for o in m.outputs.values():
        g.nodes[f"{pre}output.{o.name}"] = GraphNode(f"{pre}output.{o.name}", NodeKind.OUTPUT, path,
                                                     o.name, o, o.range)
    for key, r in [*m.resources.items(), *m.data_resources.items()]:
        g.nodes[f"{pre}{key}"] = GraphNode(f"{pre}{key}", NodeKind.RESOURCE, path, key, r, r.range)
    for name, call in m.module_calls.items():
        g.nodes[f"{pre}module.{name}"] = GraphNode(f"{pre}module.{name}", NodeKind.MODULE,
                                                   path, name, call, call.range)
        child = config.children.get(name)
        if child is not None:
            _add_module_nodes(g, child, (*path, name))
    for nid in list(g.nodes):
        g.deps.setdefault(nid, set())


def _module_description(path: tuple[str, ...]) -> str:
    return "the root module" if not path else f"module.{'.module.'.join(path)}"


class _Scope:
    """What a reference may name where it appears: its module, and the each/count context."""

    def __init__(self, path: tuple[str, ...], has_count: bool = False,
                 has_for_each: bool = False) -> None:
        self.path = path
        self.has_count = has_count
        self.has_for_each = has_for_each


def _add_module_edges(g: Graph, config: Config, path: tuple[str, ...]) -> None:
    pre = module_prefix(path)
    m = config.module
    for loc in m.locals.values():
        _add_ref_edges(g, f"{pre}local.{loc.name}", [loc.expr], _Scope(path))
    for o in m.outputs.values():
        nid = f"{pre}output.{o.name}"
        _add_ref_edges(g, nid, [o.expr], _Scope(path))
        _add_depends_on(g, nid, o.depends_on, path)
    for key, r in [*m.resources.items(), *m.data_resources.items()]:
        nid = f"{pre}{key}"
        scope = _Scope(path, r.count is not None, r.for_each is not None)
        # (A dynamic block's iterator is no reference: `bound_references` leaves it out.)
        _add_edges(g, nid, bound_references(r.body), scope)
        _add_ref_edges(g, nid, [n for n in (r.count, r.for_each) if n is not None],
                       _Scope(path))
        _add_depends_on(g, nid, r.depends_on, path)
        _check_resource_static(g, r, m)
    for name, call in m.module_calls.items():
        nid = f"{pre}module.{name}"
        _add_ref_edges(g, nid, [n for n in (call.count, call.for_each) if n is not None],
                       _Scope(path))
        _add_depends_on(g, nid, call.depends_on, path)
        for given in sorted(set(call.providers.values())):
            problem = check_provider_configured(m, given)
            if problem is not None:
                g.diagnostics.append(Diagnostic.error("Provider configuration not present",
                                                      problem, call.providers_range))
        if call.count is not None and call.for_each is not None:
            g.diagnostics.append(_count_and_for_each(call.range))
        child = config.children.get(name)
        if child is None:
            continue
        cpath = (*path, name)
        cpre = module_prefix(cpath)
        scope = _Scope(path, call.count is not None, call.for_each is not None)
        for vname, attr in call.inputs.items():
            if vname not in child.module.variables:
                g.diagnostics.append(Diagnostic.error(
                    "Unsupported argument",
                    f'An argument named "{vname}" is not expected here: module "{name}" '
                    f'declares no variable "{vname}".', attr.name_range or attr.range,
                    did_you_mean(vname, sorted(child.module.variables))))
                continue
            _add_ref_edges(g, f"{cpre}var.{vname}", [attr.expr], scope)
        for vname, var in child.module.variables.items():
            if vname not in call.inputs and not var.has_default:
                g.diagnostics.append(Diagnostic.error(
                    "Missing required argument",
                    f'The argument "{vname}" is required, but no definition was found.',
                    call.range, f'module "{name}" declares variable "{vname}" without a '
                    "default"))
        _add_module_edges(g, child, cpath)
        # Nothing in the child may run before the call's instances are known.
        for nid2, node in g.nodes.items():
            if node.path == cpath and (node.kind is NodeKind.VARIABLE or not g.deps.get(nid2)):
                g.add_edge(nid2, nid)


def _count_and_for_each(range: SourceRange | None) -> Diagnostic:
    return Diagnostic.error(
        'Invalid combination of "count" and "for_each"',
        'The "count" and "for_each" meta-arguments are mutually-exclusive, only one should '
        "be used to be explicit about the number of resources to be created.", range)


def _check_resource_static(g: Graph, r: Resource, m: Module) -> None:
    # (count together with for_each on a resource is the loader's to report.)
    problem = check_provider_configured(m, r.provider)
    if problem is not None:
        g.diagnostics.append(Diagnostic.error("Provider configuration not present", problem,
                                              r.provider_range or r.range))
    if r.mode == "data":
        if schema_for("data", r.type) is None:
            g.diagnostics.append(Diagnostic.error(
                "Invalid data source",
                f'fgform has no data source "{r.type}" (it has: '
                f'{", ".join(sorted(DATA_SCHEMAS))}).', r.range,
                did_you_mean(r.type, sorted(DATA_SCHEMAS))))
        return
    if get_schema(r.type) is None:
        g.diagnostics.append(Diagnostic.error(
            "Invalid resource type",
            f'fgform does not support resource type "{r.type}".', r.range,
            did_you_mean(r.type, sorted(SCHEMAS))))


def _add_depends_on(g: Graph, nid: str, refs: list[Reference], path: tuple[str, ...]) -> None:
    for ref in refs:
        target = _resolve(g, ref, _Scope(path), in_depends_on=True)
        for t in target:
            g.add_edge(nid, t)


def _add_ref_edges(g: Graph, nid: str, exprs: list[Node], scope: _Scope) -> None:
    for expr in exprs:
        _add_edges(g, nid, references(expr), scope)


def _add_edges(g: Graph, nid: str, refs: list[Reference], scope: _Scope) -> None:
    for ref in refs:
        for t in _resolve(g, ref, scope):
            g.add_edge(nid, t)


def _resolve(g: Graph, ref: Reference, scope: _Scope, in_depends_on: bool = False) -> list[str]:
    """The node ids a reference depends on; records a diagnostic when it names nothing."""
    parts = ref.parts
    path = scope.path
    pre = module_prefix(path)
    module = g.configs[path].module
    root = parts[0] if parts else ""
    diags = g.diagnostics

    def invalid(summary: str, detail: str, hint: str = "") -> list[str]:
        diags.append(Diagnostic.error(summary, detail, ref.range, hint))
        return []

    if root in _NO_NODE_ROOTS:
        if in_depends_on:
            return invalid("Invalid depends_on reference",
                           "References in depends_on must be to a whole object (a resource, "
                           "module or variable), without further attribute access.")
        if root == "count" and not scope.has_count and parts[1:2] == ("index",):
            return invalid('Reference to "count" in non-counted context',
                           'The "count" object can only be used in "module" and "resource" '
                           'blocks, and only when the "count" argument is set.')
        if root == "each" and not scope.has_for_each:
            return invalid('Reference to "each" in context without for_each',
                           'The "each" object can be used only in "module" or "resource" '
                           'blocks, and only when the "for_each" argument is set.')
        return []
    if root in ("var", "local"):
        if len(parts) < 2 or not isinstance(parts[1], str):
            return invalid("Invalid reference",
                           f'The "{root}" object cannot be accessed directly. Instead, access '
                           f"one of its attributes.")
        name = parts[1]
        if root == "var":
            if name not in module.variables:
                return invalid("Reference to undeclared input variable",
                               f'An input variable with the name "{name}" has not been '
                               f"declared in {_module_description(path)}. This variable can be "
                               f'declared with a variable "{name}" {{}} block.',
                               did_you_mean(name, sorted(module.variables)))
            return [f"{pre}var.{name}"]
        if name not in module.locals:
            return invalid("Reference to undeclared local value",
                           f'A local value with the name "{name}" has not been declared in '
                           f"{_module_description(path)}.",
                           did_you_mean(name, sorted(module.locals)))
        return [f"{pre}local.{name}"]
    if root == "module":
        if len(parts) < 2 or not isinstance(parts[1], str):
            return invalid("Invalid reference",
                           'The "module" object cannot be accessed directly. Instead, access '
                           "one of its attributes.")
        name = parts[1]
        call = module.module_calls.get(name)
        if call is None:
            return invalid("Reference to undeclared module",
                           f'No module call named "{name}" is declared in '
                           f"{_module_description(path)}.",
                           did_you_mean(name, sorted(module.module_calls)))
        rest = list(parts[2:])
        if rest and (isinstance(rest[0], int) or (call.for_each is not None)):
            if isinstance(rest[0], int) and call.count is None:
                return invalid("Unexpected module instance key",
                               f'Because module.{name} does not have "count" or "for_each" '
                               "set, references to it must not include an index key.")
            rest = rest[1:]
        child = g.configs.get((*path, name))
        call_id = f"{pre}module.{name}"
        if child is None:
            return [call_id]
        cpre = module_prefix((*path, name))
        if rest and not in_depends_on:
            out = rest[0]
            if not isinstance(out, str) or out not in child.module.outputs:
                return invalid("Unsupported attribute",
                               f'This object does not have an attribute named "{out}": '
                               f'module "{name}" declares no output "{out}".',
                               did_you_mean(str(out), sorted(child.module.outputs)))
            return [f"{cpre}output.{out}"]
        # (not a child's check assertions: config/meta_blocks.py check_probe)
        return [call_id, *(f"{cpre}output.{o}" for o in child.module.outputs
                           if not o.startswith(CHECK_OUTPUT_PREFIX))]
    if root == "data":
        return _resolve_data(g, ref, path, in_depends_on, invalid)
    # A resource: TYPE.NAME...
    if len(parts) < 2 or not isinstance(parts[1], str):
        return invalid("Invalid reference",
                       f'A reference to a resource type must be followed by at least one '
                       f'attribute access, specifying the resource name ("{root}" is not a '
                       "known object).")
    key = f"{root}.{parts[1]}"
    res = module.resources.get(key)
    if res is None:
        same_type = sorted(k for k in module.resources if k.startswith(f"{root}."))
        hint = did_you_mean(key, same_type or sorted(module.resources))
        if not hint and root not in SCHEMAS:
            hint = did_you_mean(str(root), sorted(SCHEMAS))
        return invalid("Reference to undeclared resource",
                       f'A resource "{root}" "{parts[1]}" has not been declared in '
                       f"{_module_description(path)}.", hint)
    if not in_depends_on:
        _check_resource_attribute(g, ref, res)
    return [f"{pre}{key}"]


def _resolve_data(g: Graph, ref: Reference, path: tuple[str, ...], in_depends_on: bool,
                  invalid: Any) -> list[str]:
    """`data.TYPE.NAME...`: the data resource's node id."""
    parts = ref.parts
    module = g.configs[path].module
    if len(parts) < 3 or not all(isinstance(p, str) for p in parts[1:3]):
        return invalid("Invalid data resource reference",
                       "A data resource reference must give the type and name of a data "
                       "resource: data.TYPE.NAME.")
    key = f"data.{parts[1]}.{parts[2]}"
    res = module.data_resources.get(key)
    if res is None:
        return invalid("Reference to undeclared resource",
                       f'A data resource "{parts[1]}" "{parts[2]}" has not been declared in '
                       f"{_module_description(path)}.",
                       did_you_mean(key, sorted(module.data_resources)))
    if not in_depends_on:
        _check_resource_attribute(g, ref, res)
    return [f"{module_prefix(path)}{key}"]


def _check_resource_attribute(g: Graph, ref: Reference, res: Resource) -> None:
    """References into a resource: instance keys that match its repetition, and attribute
    names its schema has."""
    data = res.mode == "data"
    rest = list(ref.parts[3:] if data else ref.parts[2:])
    addr = f"data.{res.type}.{res.name}" if data else f"{res.type}.{res.name}"
    if res.count is not None:
        if rest and isinstance(rest[0], str):
            g.diagnostics.append(Diagnostic.error(
                "Missing resource instance key",
                f'Because {addr} has "count" set, its attributes must be accessed on '
                f"specific instances. For example, to correlate with indices of a referring "
                f"resource, use: {addr}[count.index]", ref.range))
            return
        rest = rest[1:]
    elif res.for_each is not None:
        if rest and isinstance(rest[0], int):
            g.diagnostics.append(Diagnostic.error(
                "Invalid resource instance key",
                f'{addr} has "for_each" set: its instances are keyed by string, not by '
                "number.", ref.range))
            return
        rest = rest[1:]
    elif rest and isinstance(rest[0], int):
        g.diagnostics.append(Diagnostic.error(
            "Unexpected resource instance key",
            f'Because {addr} does not have "count" or "for_each" set, references to it must '
            "not include an index key. Remove the bracketed index to refer to the single "
            "instance of this resource.", ref.range))
        return
    schema = schema_for(res.mode, res.type)
    if schema is None or not rest or not isinstance(rest[0], str):
        return
    name = rest[0]
    if schema.attr(name) is None and schema.block(name) is None:
        names = [a.name for a in schema.body.attributes] + [b.name for b in schema.body.blocks]
        g.diagnostics.append(Diagnostic.error(
            "Unsupported attribute",
            f'This object has no argument, nested block, or exported attribute named '
            f'"{name}" ({res.type} has: {", ".join(names)}).', ref.range,
            did_you_mean(name, names)))
