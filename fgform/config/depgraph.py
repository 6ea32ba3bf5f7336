"""The dependency graph of a configuration as data, and the questions asked of it.

Nodes are per *configuration* object, across modules: variables, locals, outputs, resources
and module calls, named as Terraform names them (`var.x`, `local.y`, `output.z`,
`fg_service.web`, `module.m`, and inside a module `module.m.fg_service.web`). An edge
`a -> b` means "a depends on b". `fgform.graph.build_graph` builds one from a `Config`; the
evaluation walk (`config.evaluate`) and the planner read it through the functions here,
which leave the graph algorithms to `fgform.dag`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

from fgform import dag
from fgform.addresses import Address
from fgform.config.model import Config, Local, ModuleCall, Output, Resource, Variable
from fgform.errors import Diagnostic, SourceRange


class NodeKind(Enum):
    """What a graph node stands for; the value names the walk's visitor (`visit_<value>`)."""

    VARIABLE = "variable"
    LOCAL = "local"
    OUTPUT = "output"
    RESOURCE = "resource"
    MODULE = "module"


@dataclass(slots=True)
class GraphNode:
    """One configuration object: a variable, local, output, resource or module call."""

    id: str  # "module.a.fg_service.web", "var.x", "module.a.output.y", "module.a"
    kind: NodeKind
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

    def edges(self) -> dict[str, set[str]]:
        """`deps` for every node, as `fgform.dag` takes a graph."""
        return {n: self.deps.get(n, set()) for n in self.nodes}


def module_prefix(path: Iterable[str]) -> str:
    """`module.a.module.b.` for the config path ("a", "b"); "" for the root."""
    return "".join(f"module.{n}." for n in path)


def resource_node_id(addr: Address) -> str:
    """The graph node id of an instance's resource block: `module.a.fg_service.web`."""
    data = "data." if addr.mode == "data" else ""
    return f"{module_prefix(s.name for s in addr.module)}{data}{addr.type}.{addr.name}"


# -- cycles and order -----------------------------------------------------------------------
def find_cycles(g: Graph) -> list[list[str]]:
    """Every cycle as the sorted ids of its nodes (a self-reference is a cycle of one)."""
    return sorted(sorted(c) for c in dag.cycles(g.edges()))


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
    return dag.topological_order(g.edges())


def reverse_topological_order(g: Graph) -> list[str]:
    """The order to destroy in: dependents before what they depend on."""
    return dag.reverse_topological_order(g.edges())


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
        if node.kind is NodeKind.RESOURCE:
            out.add(d)
        else:
            out |= resource_dependencies(g, d, memo)
    memo[nid] = out
    return out



def dependency_closure(g: Graph, ids: Iterable[str]) -> set[str]:
    """The given node ids (those in the graph) and every node they depend on, transitively."""
    return dag.closure(g.edges(), ids)


def subgraph(g: Graph, ids: set[str]) -> Graph:
    """The graph restricted to `ids` (edges leaving it dropped; no diagnostics)."""
    keep = sorted(n for n in ids if n in g.nodes)
    return Graph(nodes={n: g.nodes[n] for n in keep},
                 deps={n: {d for d in g.deps.get(n, ()) if d in ids} for n in keep},
                 configs=g.configs)


def to_dot(g: Graph, *, resources_only: bool = False) -> str:
    """The graph in Graphviz DOT, sorted so the output is stable (for `fgform graph`).

    With `resources_only`, only resources are shown, joined by their dependencies through
    variables, locals and modules (like `terraform graph` since 1.7).
    """
    ids = sorted(n for n, node in g.nodes.items()
                 if not resources_only or node.kind is NodeKind.RESOURCE)
    shapes = {NodeKind.RESOURCE: "box", NodeKind.VARIABLE: "note", NodeKind.OUTPUT: "note"}
    memo: dict[str, set[str]] = {}
    edges = []
    for n in ids:
        targets = resource_dependencies(g, n, memo) if resources_only else g.deps.get(n, ())
        edges += [(n, d) for d in sorted(targets) if d in g.nodes]
    return dag.to_dot([(n, {"label": n, "shape": shapes.get(g.nodes[n].kind, "ellipse")})
                       for n in ids], edges,
                      graph_attrs={"compound": "true", "newrank": "true"}, subgraph="root")
