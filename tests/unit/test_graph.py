"""The dependency graph (built by `graph`, read through `config.depgraph`) and the
evaluation walk (`config.evaluate`), over fixture folders (configuration + `expected.txt`
holding the cycles, topological order, expanded instances with their dependencies, outputs
and DOT). Adding a case means adding a folder; FGFORM_UPDATE_GOLDEN=1 regenerates."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from fgform import graph
from fgform.addresses import Address, ModuleStep
from fgform.config import depgraph
from fgform.config.evaluate import validate_resolver, walk
from fgform.config.expand import ExpansionMode
from fgform.config.loader import load_config
from fgform.config.model import Resource
from fgform.config.schema import get_schema
from fgform.values import UNKNOWN

FIXTURES = Path(__file__).parent / "fixtures" / "graph"
CASES = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir())


def known_resolver(addr: Address, res: Resource, config: dict[str, Any],
                   deps: list[str]) -> dict[str, Any]:
    """A planner stand-in: every computed attribute known, named after the instance."""
    out = dict(config)
    schema = get_schema(res.type)
    assert schema is not None
    for a in schema.body.attributes:
        if a.computed and out.get(a.name) is None:
            value = f"{a.name}:{addr}"
            out[a.name] = [value] if a.type.startswith("list") else value
    return out


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=lambda v: "UNKNOWN" if v is UNKNOWN
                      else repr(v))


def describe(case_dir: Path) -> str:
    config, diags = load_config(case_dir, use_cache=False)
    assert not diags, diags
    g = graph.build_graph(config)
    lines = ["## cycles"]
    lines += [", ".join(c) for c in depgraph.find_cycles(g)]
    lines += ["## order"]
    lines += depgraph.topological_order(g)
    result = walk(config, {}, known_resolver, graph=g, cwd=str(case_dir))
    lines += ["## diagnostics"]
    lines += [f"{d.summary} ({Path(d.range.filename).name}:{d.range.start_line})"
              if d.range else d.summary for d in result.diagnostics]
    lines += ["## instances"]
    for addr in result.order:
        deps = ", ".join(str(a) for a in result.instance_dependencies[addr])
        lines.append(f"{addr} <- [{deps}]")
    lines += ["## outputs"]
    lines += [f"{k} = {_json(v)}" for k, v in sorted(result.outputs.items())]
    lines += [f"{m}.{k} = {_json(v)}" for m, outs in sorted(result.module_outputs.items())
              for k, v in sorted(outs.items())]
    lines += ["## dot", depgraph.to_dot(g, resources_only=True)]
    return "\n".join(lines)


@pytest.mark.parametrize("case", CASES)
def test_graph_fixture(case: str) -> None:
    case_dir = FIXTURES / case
    got = describe(case_dir)
    expected_file = case_dir / "expected.txt"
    if os.environ.get("FGFORM_UPDATE_GOLDEN"):
        expected_file.write_text(got)
    assert got == expected_file.read_text()


def _graph(edges: dict[str, list[str]]) -> depgraph.Graph:
    g = depgraph.Graph()
    for n in set(edges) | {d for ds in edges.values() for d in ds}:
        g.nodes[n] = depgraph.GraphNode(n, depgraph.NodeKind.LOCAL, (), n, None)  # type: ignore[arg-type]
        g.deps[n] = set(edges.get(n, ()))
    return g


def test_topological_order_puts_dependencies_first_and_breaks_ties_by_name() -> None:
    g = _graph({"c": ["a"], "b": ["a"], "d": ["b", "c"], "a": []})
    assert depgraph.topological_order(g) == ["a", "b", "c", "d"]
    assert depgraph.reverse_topological_order(g) == ["d", "c", "b", "a"]


def test_cycles_name_every_member_and_self_loops() -> None:
    g = _graph({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["d"], "e": ["a"]})
    assert depgraph.find_cycles(g) == [["a", "b", "c"], ["d"]]
    summaries = [d.summary for d in depgraph.cycle_diagnostics(g)]
    assert summaries == ["Cycle: a, b, c", "Self-referential block"]


def test_long_chain_needs_no_recursion() -> None:
    n = 3000
    g = _graph({f"n{i:05}": [f"n{i + 1:05}"] for i in range(n)})
    assert depgraph.find_cycles(g) == []
    assert depgraph.topological_order(g)[0] == f"n{n:05}"


def test_full_dot_is_sorted_and_quoted() -> None:
    config, _ = load_config(FIXTURES / "depends_on", use_cache=False)
    dot = depgraph.to_dot(graph.build_graph(config))
    assert dot.startswith("digraph {\n")
    assert '\t\t"module.child.var.input"' not in dot
    assert '\t\t"module.child.fg_target_group.inner" -> "module.child"\n' in dot
    assert '\t\t"output.child" -> "module.child.output.name"\n' in dot
    edges = [line for line in dot.splitlines() if "->" in line]
    assert edges == sorted(edges)


def test_instance_addresses_render_like_terraform() -> None:
    addr = Address("fg_service", "web", "a", (ModuleStep("m", 0),))
    assert str(addr) == 'module.m[0].fg_service.web["a"]'
    assert str(Address("fg_service", "web", 0)) == "fg_service.web[0]"


def test_walk_passes_decoded_config_and_dependencies_to_the_callback() -> None:
    config, _ = load_config(FIXTURES / "basic", use_cache=False)
    seen: dict[str, tuple[dict, list[str]]] = {}

    def on_resource(addr: Address, res: Resource, cfg: dict, deps: list[str]) -> Any:
        seen[str(addr)] = (cfg, deps)
        return validate_resolver(addr, res, cfg, deps)

    result = walk(config, {"replicas": 5}, on_resource, graph=graph.build_graph(config))
    cfg, deps = seen["fg_service.web"]
    assert cfg["desired_count"] == 5
    assert cfg["cluster"] is UNKNOWN  # fg_cluster.main.id is known only after apply
    assert cfg["deployment"] is None and cfg["wait_for_steady_state"] is True
    assert deps == ["fg_cluster.main", "fg_target_group.web", "fg_task_definition.web"]
    assert result.expansions[Address("fg_service", "web")].mode is ExpansionMode.SINGLE
    assert result.outputs["url"] is UNKNOWN
