"""The dependency graph of a whole configuration, and the walk that evaluates it.

Nodes are per *configuration* object, across modules: variables, locals, outputs, resources
and module calls, named as Terraform names them (`var.x`, `local.y`, `output.z`,
`fg_service.web`, `module.m`, and inside a module `module.m.fg_service.web`). An edge
`a -> b` means "a depends on b". Edges come from the static references of each expression
(`references.references`) and from `depends_on`.

Module boundaries: a child module's variable depends on its module call node and on what
the call's input expression references in the caller; a caller's reference to
`module.m.out` depends on the child's `output.out` node. Every child node without
dependencies of its own depends on the call node, so nothing in a module is evaluated
before the module's instances (`count`/`for_each` on the call) are known.

`walk` evaluates the graph in dependency order and expands instances on the way; the
planner passes an `on_resource` callback that turns each instance's decoded configuration
into its planned value, which later expressions then see. Validation passes
`validate_resolver`, which makes every computed attribute unknown.
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from fgform.addresses import Address, Key, ModulePath, ModuleStep, format_module
from fgform.config import functions, types
from fgform.config.ast import Node, Reference
from fgform.config.decode import check_structure, decode_body
from fgform.config.expr import EvalContext, EvalError, evaluate, type_name
from fgform.config.limits import MAX_VALUE_ELEMENTS, element_count
from fgform.config.model import (
    Body,
    Config,
    Local,
    ModuleCall,
    Output,
    Resource,
    Variable,
)
from fgform.config.references import references
from fgform.config.schema import SCHEMAS, get_schema
from fgform.errors import Diagnostic, Severity, SourceRange
from fgform.suggest import did_you_mean
from fgform.values import UNKNOWN, Sensitive, SetValue, mark_sensitive, unmark

# Root names that are not references to graph nodes.
_NO_NODE_ROOTS = {"each", "count", "path", "self", "terraform"}


# -- the graph ----------------------------------------------------------------------------
@dataclass(slots=True)
class GraphNode:
    """One configuration object: a variable, local, output, resource or module call."""

    id: str  # "module.a.fg_service.web", "var.x", "module.a.output.y", "module.a"
    kind: str  # "variable" | "local" | "output" | "resource" | "module"
    path: tuple[str, ...]  # call names of the module that holds it; () is the root
    name: str  # variable/local/output/call name, or "TYPE.NAME" for a resource
    obj: Variable | Local | Output | Resource | ModuleCall
    range: SourceRange | None = None


@dataclass(slots=True)
class Graph:
    """Nodes by id and, for each node, the ids it depends on."""

    nodes: dict[str, GraphNode] = field(default_factory=dict)
    deps: dict[str, set[str]] = field(default_factory=dict)
    # Reference problems found while building (undeclared names, bad attributes, ...).
    diagnostics: list[Diagnostic] = field(default_factory=list)
    configs: dict[tuple[str, ...], Config] = field(default_factory=dict)

    def add_edge(self, src: str, dst: str) -> None:
        """Record that `src` depends on `dst`."""
        self.deps.setdefault(src, set()).add(dst)

    def dependents(self) -> dict[str, set[str]]:
        """The reverse edges: for each node, the nodes that depend on it."""
        rev: dict[str, set[str]] = {n: set() for n in self.nodes}
        for src, dsts in self.deps.items():
            for d in dsts:
                rev.setdefault(d, set()).add(src)
        return rev


def module_prefix(path: Iterable[str]) -> str:
    """`module.a.module.b.` for the config path ("a", "b"); "" for the root."""
    return "".join(f"module.{n}." for n in path)


def body_expressions(body: Body) -> list[Node]:
    """Every expression in a body and its nested blocks, in source order."""
    out = [a.expr for a in body.attributes.values()]
    for b in body.blocks:
        out.extend(body_expressions(b.body))
    return out


def resource_expressions(res: Resource) -> list[Node]:
    """The expressions a resource's value depends on: its body, count and for_each."""
    out = body_expressions(res.body)
    out.extend(n for n in (res.count, res.for_each) if n is not None)
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
        g.nodes[f"{pre}var.{v.name}"] = GraphNode(f"{pre}var.{v.name}", "variable", path,
                                                  v.name, v, v.range)
    for loc in m.locals.values():
        g.nodes[f"{pre}local.{loc.name}"] = GraphNode(f"{pre}local.{loc.name}", "local", path,
                                                      loc.name, loc, loc.range)
    for o in m.outputs.values():
        g.nodes[f"{pre}output.{o.name}"] = GraphNode(f"{pre}output.{o.name}", "output", path,
                                                     o.name, o, o.range)
    for key, r in m.resources.items():
        g.nodes[f"{pre}{key}"] = GraphNode(f"{pre}{key}", "resource", path, key, r, r.range)
    for name, call in m.module_calls.items():
        g.nodes[f"{pre}module.{name}"] = GraphNode(f"{pre}module.{name}", "module", path, name,
                                                   call, call.range)
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
    for key, r in m.resources.items():
        nid = f"{pre}{key}"
        scope = _Scope(path, r.count is not None, r.for_each is not None)
        _add_ref_edges(g, nid, [*body_expressions(r.body)], scope)
        _add_ref_edges(g, nid, [n for n in (r.count, r.for_each) if n is not None],
                       _Scope(path))
        _add_depends_on(g, nid, r.depends_on, path)
        _check_resource_static(g, r)
    for name, call in m.module_calls.items():
        nid = f"{pre}module.{name}"
        _add_ref_edges(g, nid, [n for n in (call.count, call.for_each) if n is not None],
                       _Scope(path))
        _add_depends_on(g, nid, call.depends_on, path)
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
            if node.path == cpath and (node.kind == "variable" or not g.deps.get(nid2)):
                g.add_edge(nid2, nid)


def _count_and_for_each(range: SourceRange | None) -> Diagnostic:
    return Diagnostic.error(
        'Invalid combination of "count" and "for_each"',
        'The "count" and "for_each" meta-arguments are mutually-exclusive, only one should '
        "be used to be explicit about the number of resources to be created.", range)


def _check_resource_static(g: Graph, r: Resource) -> None:
    # (count together with for_each on a resource is the loader's to report.)
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
        for ref in references(expr):
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
        return [call_id, *(f"{cpre}output.{o}" for o in child.module.outputs)]
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


def _check_resource_attribute(g: Graph, ref: Reference, res: Resource) -> None:
    """References into a resource: instance keys that match its repetition, and attribute
    names its schema has."""
    rest = list(ref.parts[2:])
    addr = f"{res.type}.{res.name}"
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
    schema = get_schema(res.type)
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


# -- cycles and order -----------------------------------------------------------------------
def strongly_connected(g: Graph) -> list[list[str]]:
    """Tarjan's strongly connected components (iterative: configs may be deep)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for start in sorted(g.nodes):
        if start in index:
            continue
        work: list[tuple[str, Iterable[str]]] = []
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        work.append((start, iter(sorted(g.deps.get(start, ())))))
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in g.nodes:
                    continue
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(g.deps.get(w, ())))))
                    advanced = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
            if low[v] == index[v]:
                comp: list[str] = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(sorted(comp))
    return out


def find_cycles(g: Graph) -> list[list[str]]:
    """Every cycle as the sorted ids of its nodes (a self-reference is a cycle of one)."""
    cycles = [c for c in strongly_connected(g)
              if len(c) > 1 or c[0] in g.deps.get(c[0], ())]
    return sorted(cycles)


def cycle_diagnostics(g: Graph) -> list[Diagnostic]:
    """One "Cycle: a, b, c" error per cycle, pointing at its first member."""
    out = []
    for cyc in find_cycles(g):
        first = g.nodes[cyc[0]]
        if len(cyc) == 1:
            out.append(Diagnostic.error(
                "Self-referential block",
                f"Configuration for {cyc[0]} may not refer to itself.", first.range))
        else:
            out.append(Diagnostic.error(
                "Cycle: " + ", ".join(cyc),
                "These objects depend on each other, so none of them can be evaluated "
                "first. Break the cycle by removing one of the references.", first.range))
    return out


def topological_order(g: Graph) -> list[str]:
    """Node ids with every node after all it depends on; ties broken by id, so the order is
    deterministic. Nodes in cycles are left out (check `find_cycles` first)."""
    pending = {n: len([d for d in g.deps.get(n, ()) if d in g.nodes]) for n in g.nodes}
    rev = g.dependents()
    ready = [n for n, c in pending.items() if c == 0]
    heapq.heapify(ready)
    out: list[str] = []
    while ready:
        n = heapq.heappop(ready)
        out.append(n)
        for m in rev.get(n, ()):
            pending[m] -= 1
            if pending[m] == 0:
                heapq.heappush(ready, m)
    return out


def reverse_topological_order(g: Graph) -> list[str]:
    """The order to destroy in: dependents before what they depend on."""
    return list(reversed(topological_order(g)))


def resource_dependencies(g: Graph, nid: str, _memo: dict[str, set[str]] | None = None
                          ) -> set[str]:
    """The resource node ids a node depends on, directly or through variables, locals,
    outputs and module calls (not through other resources: they carry their own)."""
    memo = _memo if _memo is not None else {}
    if nid in memo:
        return memo[nid]
    memo[nid] = set()  # guards against cycles
    out: set[str] = set()
    for d in g.deps.get(nid, ()):
        node = g.nodes.get(d)
        if node is None:
            continue
        if node.kind == "resource":
            out.add(d)
        else:
            out |= resource_dependencies(g, d, memo)
    memo[nid] = out
    return out


def to_dot(g: Graph, *, resources_only: bool = False) -> str:
    """The graph in Graphviz DOT, sorted so the output is stable (for `fgform graph`).

    With `resources_only`, only resources are shown, joined by their dependencies through
    variables, locals and modules (like `terraform graph` since 1.7).
    """
    lines = ["digraph {", '\tcompound = "true"', '\tnewrank = "true"', '\tsubgraph "root" {']
    ids = sorted(n for n, node in g.nodes.items()
                 if not resources_only or node.kind == "resource")
    for n in ids:
        shape = "box" if g.nodes[n].kind == "resource" else "note" \
            if g.nodes[n].kind in ("variable", "output") else "ellipse"
        lines.append(f'\t\t"{n}" [label = "{n}", shape = "{shape}"]')
    memo: dict[str, set[str]] = {}
    for n in ids:
        targets = resource_dependencies(g, n, memo) if resources_only else g.deps.get(n, ())
        for d in sorted(targets):
            if d in g.nodes:
                lines.append(f'\t\t"{n}" -> "{d}"')
    lines += ["\t}", "}"]
    return "\n".join(lines) + "\n"


def _as_declared(var: Variable, value: Any) -> Any:
    """A root variable's value converted to its declared type again: values read back from
    a saved plan are plain JSON, where a set is a list (and for_each takes sets only)."""
    if var.type is None:
        return value
    try:
        return types.convert(value, types.parse_type(var.type))
    except (types.TypeSyntaxError, types.TypeMismatch, EvalError):
        return value  # reported where the value was resolved


# -- instance expansion ---------------------------------------------------------------------
# The most instances one resource or module call may have (docs/language.md, "Limits"): a
# count of 10**9 would otherwise build a billion-node graph before anything else is checked.
MAX_INSTANCES = 10_000


def _too_many(meta: str, n: int | None) -> str:
    """`n` is None when the number must not be shown (a sensitive count)."""
    makes = "it makes more instances" if n is None else f"it makes {n} instances, more"
    return (f'The given "{meta}" argument value is unsuitable: {makes} '
            f"than fgform's limit of {MAX_INSTANCES} for one resource or module block.")


@dataclass(slots=True)
class Expansion:
    """How a resource or module call repeats: mode "single", "count" or "for_each"; `keys`
    are the instance keys (None for single); `each_values` maps for_each keys to values.

    `unknown`: the count or for_each is not known yet (only when validating): `keys` is then
    one representative instance, key None, whose count.index or each.key/each.value are
    unknown, and the resource's or module's value is unknown as a whole."""

    mode: str
    keys: list[Key]
    each_values: dict[str, Any] = field(default_factory=dict)
    unknown: bool = False


def expand(obj: Resource | ModuleCall, ctx: EvalContext, diags: list[Diagnostic],
           validating: bool = False) -> Expansion | None:
    """Evaluate count/for_each into instance keys; None (and a diagnostic) when invalid.

    A count or for_each that is not known yet is an error ("cannot be determined until
    apply") unless `validating`: as `terraform validate`, validation then checks one
    representative instance (an `Expansion` with `unknown` set) and leaves the rest to plan.
    """
    if obj.count is not None:
        return _expand_count(obj.count, ctx, diags, validating)
    if obj.for_each is not None:
        return _expand_for_each(obj.for_each, ctx, diags, validating)
    return Expansion("single", [None])


def _evaluate_meta(node: Node, ctx: EvalContext, diags: list[Diagnostic]) -> tuple[bool, Any]:
    """Evaluate a count or for_each expression; an error becomes a diagnostic."""
    try:
        return True, evaluate(node, ctx)
    except EvalError as exc:
        diags.append(Diagnostic.error(exc.summary, exc.message, exc.range or node.range,
                                      exc.hint))
        return False, None


def _expand_count(node: Node, ctx: EvalContext, diags: list[Diagnostic],
                  validating: bool = False) -> Expansion | None:
    def bad(detail: str) -> None:
        diags.append(Diagnostic.error("Invalid count argument", detail, node.range))

    ok, raw = _evaluate_meta(node, ctx, diags)
    if not ok:
        return None
    value, marked = unmark(raw)
    sensitive = bool(marked)
    if value is UNKNOWN:
        if validating:
            return Expansion("count", [None], unknown=True)
        bad('The "count" value depends on resource attributes that cannot be determined '
            "until apply, so fgform cannot predict how many instances will be created. To "
            "work around this, use the -target argument to first apply only the resources "
            "that the count depends on.")
        return None
    if value is None:
        bad('The given "count" argument value is null. An integer is required.')
        return None
    try:
        # `raw` keeps its Sensitive mark, so that the mismatch does not quote a secret.
        n, _ = unmark(types.convert(raw, types.NUMBER))
    except types.TypeMismatch as exc:
        bad(f'The given "count" argument value is unsuitable: {exc.message}.')
        return None
    # A sensitive count is not quoted, however wrong: the message would show the secret.
    got = "" if sensitive else f", got {n}"
    if isinstance(n, float) and not n.is_integer():
        bad(f'The given "count" argument value is unsuitable: value must be a whole number'
            f"{got}.")
        return None
    n = int(n)
    if n < 0:
        bad('The given "count" argument value is unsuitable: must be greater than or equal '
            f"to zero{got}.")
        return None
    if n > MAX_INSTANCES:
        bad(_too_many("count", None if sensitive else n))
        return None
    return Expansion("count", list(range(n)))


def _expand_for_each(node: Node, ctx: EvalContext, diags: list[Diagnostic],
                     validating: bool = False) -> Expansion | None:
    def bad(detail: str) -> None:
        diags.append(Diagnostic.error("Invalid for_each argument", detail, node.range))

    ok, raw = _evaluate_meta(node, ctx, diags)
    if not ok:
        return None
    if isinstance(raw, Sensitive):
        bad("Sensitive values, or values derived from sensitive values, cannot be used as "
            "for_each arguments: the instance keys would show in plan output.")
        return None
    if raw is None:
        bad('The given "for_each" argument value is unsuitable: the given "for_each" '
            "argument value is null. A map, or set of strings is allowed.")
        return None
    unknown_msg = ('The "for_each" map includes keys or set values that are derived from '
                   "resource attributes that cannot be determined until apply, so fgform "
                   "cannot determine the full set of keys that will identify the instances "
                   "of this resource.")
    if raw is UNKNOWN:
        if validating:
            return Expansion("for_each", [None], unknown=True)
        bad(unknown_msg)
        return None
    if isinstance(raw, (dict, SetValue)) and len(raw) > MAX_INSTANCES:
        bad(_too_many("for_each", len(raw)))
        return None
    if isinstance(raw, dict):
        keys = sorted(raw)
        return Expansion("for_each", list(keys), {k: raw[k] for k in keys})
    if isinstance(raw, (list, tuple)) and not isinstance(raw, SetValue):
        # A list may hold duplicates and its order is its identity: Terraform wants the
        # keys spelled out as a set (or a map), so a reordered list never renames instances.
        diags.append(Diagnostic.error(
            "Invalid for_each argument",
            'The given "for_each" argument value is unsuitable: the "for_each" argument must '
            "be a map, or set of strings, and you have provided a value of type "
            f"{type_name(raw)}.", node.range,
            "Convert a list of strings to a set with toset(): for_each = toset(...)."))
        return None
    if isinstance(raw, SetValue):
        items = [unmark(v)[0] for v in raw]
        if any(v is UNKNOWN for v in items):
            if validating:
                return Expansion("for_each", [None], unknown=True)
            bad(unknown_msg)
            return None
        if any(v is None for v in items):
            bad('The given "for_each" argument value is unsuitable: "for_each" sets must '
                "not contain null values.")
            return None
        if not all(isinstance(v, str) for v in items):
            bad('The given "for_each" argument value is unsuitable: "for_each" supports maps '
                "and sets of strings, but you have provided a set containing type "
                f"{type_name(next(v for v in items if not isinstance(v, str)))}.")
            return None
        keys = sorted(set(items))
        return Expansion("for_each", list(keys), {k: k for k in keys})
    bad('The given "for_each" argument value is unsuitable: the "for_each" argument must be a '
        f"map, or set of strings, and you have provided a value of type "
        f"{type_name(raw)}.")
    return None


# -- the walk -----------------------------------------------------------------------------
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
    # Resource node ids whose bodies were checked against their schema (validation checks
    # the rest: resources in modules with no instances, or a walk stopped by a cycle).
    structure_checked: set[str] = field(default_factory=set)

    @property
    def has_errors(self) -> bool:
        """Whether any diagnostic is an error (the plan must stop)."""
        return any(d.severity is Severity.ERROR for d in self.diagnostics)


def validate_resolver(addr: Address, resource: Resource, config: dict[str, Any],
                      deps: list[str]) -> dict[str, Any]:
    """An on_resource for validation: the decoded config with every computed attribute
    unknown, as a plan of a fresh create would show it."""
    schema = get_schema(resource.type)
    out = dict(config)
    if schema is not None:
        for a in schema.body.attributes:
            if a.computed and out.get(a.name) is None:
                out[a.name] = UNKNOWN
    return out


class _Walker:
    def __init__(self, config: Config, variables: dict[str, Any],
                 on_resource: ResourceCallback, finalize_variable: Callable | None,
                 cwd: str | None, graph: Graph | None = None,
                 only: Iterable[Address | str] | None = None, validating: bool = False
                 ) -> None:
        self.config = config
        self.validating = validating
        self.root_vars = variables
        self.on_resource = on_resource
        self.finalize_variable = finalize_variable
        self.cwd = cwd or os.getcwd()
        self.graph = graph if graph is not None else build_graph(config)
        # With `only`, the nodes those resources need (themselves included); else None.
        self.closure = None if only is None else dependency_closure(
            self.graph, (a if isinstance(a, str) else _config_node_id(a) for a in only))
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
                           path_cwd=self.cwd, functions=functions.call, **kw)

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
                getattr(self, f"visit_{node.kind}")(node, mi)
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
        for mis in self.instances.values():
            for mi in mis:
                if mi.path:
                    self.result.module_outputs[format_module(mi.path)] = mi.outputs
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
            if exp.mode == "count":
                child.count_index = UNKNOWN  # type: ignore[assignment]
            else:
                child.has_each, child.each_key, child.each_value = True, UNKNOWN, UNKNOWN
            bucket.append(child)
            mi.modules[call.name] = UNKNOWN
            return
        holder: Any = {} if exp.mode == "for_each" else [] if exp.mode == "count" else None
        for key in exp.keys:
            child = ModuleInstance((*mi.path, ModuleStep(call.name, key)), child_cfg, mi)
            if exp.mode == "count":
                child.count_index = key  # type: ignore[assignment]
                holder.append(child.outputs)
            elif exp.mode == "for_each":
                child.has_each, child.each_key = True, key
                child.each_value = exp.each_values[key]  # type: ignore[index]
                holder[key] = child.outputs
            else:
                holder = child.outputs  # filled in place as its outputs are evaluated
            bucket.append(child)
        mi.modules[call.name] = holder

    def visit_resource(self, node: GraphNode, mi: ModuleInstance) -> None:
        res: Resource = node.obj  # type: ignore[assignment]
        schema = get_schema(res.type)
        by_type = mi.resources.setdefault(res.type, {})
        raddr = Address(res.type, res.name, None, mi.path)
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
            addr = Address(res.type, res.name, key, mi.path)
            kw: dict[str, Any] = {}
            if exp.unknown and exp.mode == "count":  # validating: a representative instance
                kw["count_index"] = UNKNOWN
            elif exp.unknown:
                kw.update(has_each=True, each_key=UNKNOWN, each_value=UNKNOWN)
            elif exp.mode == "count":
                kw["count_index"] = key
            elif exp.mode == "for_each":
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
            values[key] = value
        if exp.unknown:
            by_type[res.name] = UNKNOWN  # how many instances is not known
        elif exp.mode == "single":
            by_type[res.name] = values.get(None, UNKNOWN)
        elif exp.mode == "count":
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
         cwd: str | None = None, graph: Graph | None = None,
         only: Iterable[Address | str] | None = None,
         validating: bool = False) -> WalkResult:
    """Evaluate a configuration in dependency order.

    `variables` holds the root module's final variable values (from
    `variables.resolve_variables`). For each resource instance, its body is decoded and
    `on_resource(address, resource, decoded_config, dependencies)` is called; what it returns
    is the instance's value for every later expression (`fg_service.web.id`). Instances whose
    config has errors are not passed to `on_resource` and are UNKNOWN to later expressions.
    Stops before evaluating anything when the graph has a cycle.

    `graph` is `build_graph(config)` when the caller already has it (walking one
    configuration many times). `only` limits the walk to the resources of these addresses
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
    from fgform.config.variables import finalize_variable  # variables imports nothing here

    return _Walker(config, variables, on_resource, finalize_variable, cwd, graph, only,
                   validating).run()


def _config_node_id(addr: Address) -> str:
    """The graph node id of an instance's resource block: `module.a.fg_service.web`."""
    return f"{module_prefix(s.name for s in addr.module)}{addr.type}.{addr.name}"


def dependency_closure(g: Graph, ids: Iterable[str]) -> set[str]:
    """The given node ids (those in the graph) and every node they depend on, transitively."""
    seen: set[str] = set()
    todo = [i for i in ids if i in g.nodes]
    while todo:
        nid = todo.pop()
        if nid in seen:
            continue
        seen.add(nid)
        todo.extend(d for d in g.deps.get(nid, ()) if d in g.nodes and d not in seen)
    return seen


def subgraph(g: Graph, ids: set[str]) -> Graph:
    """The graph restricted to `ids` (edges leaving it dropped; no diagnostics)."""
    keep = sorted(n for n in ids if n in g.nodes)
    return Graph(nodes={n: g.nodes[n] for n in keep},
                 deps={n: {d for d in g.deps.get(n, ()) if d in ids} for n in keep},
                 configs=g.configs)
