"""A configuration analysed as a whole: its dependency graph built, then evaluated, then
validated. The front door above `graph` (which builds) and `config` (which evaluates and
checks, given a graph), for callers that hold only a `Config`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fgform.addresses import Address
from fgform.config.depgraph import Graph
from fgform.config.evaluate import ResourceCallback, WalkResult, validate_resolver
from fgform.config.evaluate import walk as walk_graph
from fgform.config.meta_blocks import check_meta_blocks, check_probe, has_checks
from fgform.config.model import Config
from fgform.config.validate import check_walk, finish_diagnostics
from fgform.config.variables import resolve_variables
from fgform.errors import Diagnostic, SourceRange
from fgform.graph import build_graph


def walk(config: Config, variables: dict[str, Any],
         on_resource: ResourceCallback = validate_resolver, *,
         cwd: str | None = None, graph: Graph | None = None,
         only: Iterable[Address | str] | None = None,
         validating: bool = False, applying: bool = False) -> WalkResult:
    """`config.evaluate.walk` (see there), building the graph when none is given."""
    return walk_graph(config, variables, on_resource,
                      graph=graph if graph is not None else build_graph(config), cwd=cwd,
                      only=only, validating=validating, applying=applying)


def validate_config(config: Config, variables: Mapping[str, Any] | None = None, *,
                    var_args: Sequence[tuple[str, str]] = (),
                    env: Mapping[str, str] | None = None,
                    cwd: str | None = None, validating: bool = False,
                    graph: Graph | None = None) -> list[Diagnostic]:
    """Every problem in a loaded configuration, errors and warnings, sorted by place.

    `variables` are the root module's final values (from `resolve_variables`); when None
    they are resolved here from defaults, `var_args` (("var", "k=v") / ("var-file", path)),
    `env` and the variables files of the configuration directory, and their problems are
    reported too.

    `validating` is the `validate` command's mode, `terraform validate`'s: the configuration
    is checked for whatever values its variables will be given, so a root variable nobody
    set is unknown (not an error), and so is a count or for_each not known yet (one
    representative instance is checked; plan reports it when it must know them all).
    Without it (before a plan), a variable must have a value and every count and for_each
    must be known. `graph` is the configuration's graph when the caller has built it (to
    plan with it afterwards).
    """
    diags: list[Diagnostic] = []
    if variables is None:
        values, vdiags = resolve_variables(config.module, config.module.dir, var_args, env,
                                           require_values=not validating)
        diags.extend(vdiags)
    else:
        values = dict(variables)
    result = walk(config, values, validate_resolver, cwd=cwd, validating=validating,
                  graph=graph)
    diags.extend(result.diagnostics)
    diags.extend(check_walk(config, result, cwd))
    diags.extend(check_meta_blocks(config))  # moved, removed, import blocks
    if has_checks(config):
        # check blocks' references (in every module), as the graph checks outputs'
        probe, node_ids = check_probe(config)
        pgraph = build_graph(probe)
        ranges = {pgraph.nodes[n].obj.expr.range for n in node_ids}  # type: ignore[union-attr]
        diags.extend(d for d in pgraph.diagnostics
                     if d.range is not None and any(_inside(d.range, r) for r in ranges))
    return finish_diagnostics(diags, values)


def _inside(inner: SourceRange, outer: SourceRange) -> bool:
    """Whether `inner` lies within `outer` (same file, from its first line to its last)."""
    return inner.filename == outer.filename and outer.start_line <= inner.start_line <= max(
        outer.end_line, outer.start_line)
