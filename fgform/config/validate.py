"""Every problem in a configuration, reported at once: the checks after the evaluation walk.

The checks come from three places, so `plan` and `validate` can never disagree:

- the graph (`graph.build_graph`): undeclared variables, locals, resources, modules and
  module outputs; attributes a resource type does not have; module arguments; cycles;
- the walk (`config.evaluate.walk` with `validate_resolver`): each resource instance decoded
  by its schema (unknown or missing arguments and blocks, types, ranges, enums), count and
  for_each values, variable values and their validation rules;
- checks across resources, run by `check_walk` from the `checks_*` modules: reference
  attributes naming the wrong resource type (`cluster = fg_task_definition.x.arn`), a
  service's `load_balancer` naming a container or port its task definition does not have,
  host ports, listener rules, build contexts; and calls to unknown functions anywhere,
  evaluated or not (`checks_functions`).

`fgform.analysis.validate_config` runs the three. The loader's own diagnostics (syntax,
duplicate blocks and arguments) are not repeated: the caller reports `load_config`'s
diagnostics first, then these.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fgform.config.checks_functions import check_unknown_functions
from fgform.config.checks_images import check_image_contexts
from fgform.config.checks_listeners import check_host_ports, check_listener_rules
from fgform.config.checks_placement import check_placement
from fgform.config.checks_references import (
    check_ignore_changes,
    check_reference_attributes,
    check_target_group_owners,
)
from fgform.config.checks_services import (
    check_deployment_limits,
    check_load_balancers,
    check_service_host_ports,
)
from fgform.config.decode import check_structure
from fgform.config.depgraph import NodeKind
from fgform.config.evaluate import WalkResult
from fgform.config.functions import FUNCTIONS
from fgform.config.model import Config, Resource
from fgform.config.schema import schema_for
from fgform.config.variables import check_declaration
from fgform.errors import Diagnostic, Severity, redact
from fgform.values import sensitive_strings


def check_walk(config: Config, result: WalkResult, cwd: str | None = None
               ) -> list[Diagnostic]:
    """What a validation walk of `config` (`result`) does not report itself: the structure
    of resources it did not reach, variable declarations, and the checks across resources.
    Build contexts are taken from `cwd` (the configuration directory when None)."""
    diags: list[Diagnostic] = []
    for node in result.graph.nodes.values():
        if node.kind is not NodeKind.RESOURCE or node.id in result.structure_checked:
            continue
        res: Resource = node.obj  # type: ignore[assignment]
        schema = schema_for(res.mode, res.type)
        if schema is not None:
            diags.extend(check_structure(res.body, schema.body, res.range))

    for path, cfg in result.graph.configs.items():
        for var in cfg.module.variables.values():
            diags.extend(check_declaration(var))
        diags.extend(check_unknown_functions(cfg.module, FUNCTIONS))
        for res in cfg.module.resources.values():
            diags.extend(check_reference_attributes(res, cfg, path))
            diags.extend(check_ignore_changes(res))
    # The checks across resources are about managed resources: data resources have other
    # schemas (data "fg_image" has no build context).
    configs = {a: c for a, c in result.configs.items() if not a.is_data}
    diags.extend(check_load_balancers(configs, result.resources))
    diags.extend(check_host_ports(configs, result.resources))
    diags.extend(check_deployment_limits(configs, result.resources))
    diags.extend(check_service_host_ports(configs, result.resources))
    diags.extend(check_placement(configs, result.resources))
    diags.extend(check_listener_rules(configs, result.resources))
    diags.extend(check_target_group_owners(result.graph.configs))
    diags.extend(check_image_contexts(configs, result.resources,
                                      cwd or str(config.module.dir)))
    return diags


def finish_diagnostics(diags: list[Diagnostic], values: Mapping[str, Any]) -> list[Diagnostic]:
    """Diagnostics ready to show: one per problem and place, sorted by place, and with the
    sensitive variable values among `values` redacted."""
    # Conversion and lookup errors quote the offending value; a sensitive one must not reach
    # a terminal or a CI log that way.
    return sort_diagnostics(redact(_dedupe(_one_per_call(diags)), sensitive_strings(values)))


def _one_per_call(diags: list[Diagnostic]) -> list[Diagnostic]:
    """Without the static "Call to unknown function" errors (checks_functions) of calls
    evaluation reported too in other words ("Invalid validation condition")."""
    def key(d: Diagnostic) -> tuple:
        r = d.range
        return (d.detail, None if r is None else (r.filename, r.start_line, r.start_col))
    others = {key(d) for d in diags if d.summary != "Call to unknown function"}
    return [d for d in diags if d.summary != "Call to unknown function" or key(d) not in others]


def sort_diagnostics(diags: list[Diagnostic]) -> list[Diagnostic]:
    """Errors before warnings, then by file, line and column (stable for equal places)."""
    def key(d: Diagnostic) -> tuple:
        r = d.range
        place = ("", 0, 0) if r is None else (r.filename, r.start_line, r.start_col)
        return (d.severity is not Severity.ERROR, *place)
    return sorted(diags, key=key)


def _dedupe(diags: list[Diagnostic]) -> list[Diagnostic]:
    seen: set[tuple] = set()
    out = []
    for d in diags:
        r = d.range
        k = (d.severity, d.summary, d.detail,
             None if r is None else (r.filename, r.start_line, r.start_col))
        if k not in seen:
            seen.add(k)
            out.append(d)
    return out
