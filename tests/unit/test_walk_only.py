"""`analysis.walk(..., only=..., graph=...)`: a walk limited to some resources (and what they
depend on) gives those resources exactly what a whole walk gives them.

Apply's resolver re-evaluates one instance after each step; walking the whole configuration
each time made apply quadratic. Over every graph fixture without a cycle: each resource
walked alone has the same decoded configs, dependencies and values as in the full walk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fgform import analysis, graph
from fgform.addresses import Address
from fgform.config import depgraph
from fgform.config.loader import load_config
from fgform.config.model import Resource
from fgform.config.schema import get_schema

FIXTURES = Path(__file__).parent / "fixtures" / "graph"
CASES = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir())


def _acyclic(case: str) -> bool:
    config, _ = load_config(FIXTURES / case, use_cache=False)
    return not depgraph.find_cycles(graph.build_graph(config))


# A cycle stops the whole walk, so there is nothing to compare in those fixtures.
ACYCLIC = [c for c in CASES if _acyclic(c)]


def known_resolver(addr: Address, res: Resource, config: dict[str, Any],
                   deps: list[str]) -> dict[str, Any]:
    """A planner stand-in: every computed attribute known, named after the instance."""
    out = dict(config)
    schema = get_schema(res.type)
    assert schema is not None
    for a in schema.body.attributes:
        if a.computed and out.get(a.name) is None:
            out[a.name] = f"{a.name}:{addr}"
    return out


@pytest.mark.parametrize("case", ACYCLIC)
def test_walk_only_matches_the_full_walk(case: str) -> None:
    case_dir = FIXTURES / case
    config, diags = load_config(case_dir, use_cache=False)
    assert not diags
    g = graph.build_graph(config)
    full = analysis.walk(config, {}, known_resolver, cwd=str(case_dir))
    assert full.order, "the fixture has resource instances"
    for addr in full.order:
        part = analysis.walk(config, {}, known_resolver, cwd=str(case_dir), graph=g, only=[addr])
        assert part.configs[addr] == full.configs[addr]
        assert part.values[addr] == full.values[addr]
        assert part.dependencies[addr] == full.dependencies[addr]
        assert part.instance_dependencies[addr] == full.instance_dependencies[addr]
        assert set(part.order) <= set(full.order)


@pytest.mark.parametrize("case", ACYCLIC)
def test_walk_only_outputs(case: str) -> None:
    case_dir = FIXTURES / case
    config, _ = load_config(case_dir, use_cache=False)
    full = analysis.walk(config, {}, known_resolver, cwd=str(case_dir))
    part = analysis.walk(config, {}, known_resolver, cwd=str(case_dir),
                      only=[f"output.{n}" for n in config.module.outputs])
    assert part.outputs == full.outputs


def test_walk_only_nothing_walks_nothing() -> None:
    case_dir = Path(FIXTURES / CASES[0])
    config, _ = load_config(case_dir, use_cache=False)
    result = analysis.walk(config, {}, known_resolver, cwd=str(case_dir), only=[])
    assert result.order == [] and result.configs == {}
