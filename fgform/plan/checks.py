"""`check` blocks: each assertion evaluated against the planned values (after plan) or the
state (after apply). A failed assertion is a warning, never an error, as in Terraform.

All modules' check blocks are evaluated by one limited walk (`only` their expressions):
each condition and error message becomes a hidden output of its module in a copy of the
configuration, so they see exactly what outputs see (variables, locals, resources, module
outputs) in every instance of the module, without a second evaluator.
"""

from __future__ import annotations

import os
from typing import Any

from fgform.addresses import ModuleStep, format_module, parse_address
from fgform.config.evaluate import ResourceCallback, walk
from fgform.config.meta_blocks import CHECK_OUTPUT_PREFIX, check_probe, has_checks
from fgform.config.model import Config
from fgform.graph import build_graph
from fgform.plan.model import CheckProblem, CheckResult
from fgform.values import UNKNOWN, contains_unknown, unmark

_PREFIX = CHECK_OUTPUT_PREFIX


def _where(config_dir: str, filename: str) -> str:
    try:
        rel = os.path.relpath(filename, config_dir)
    except ValueError:
        return filename
    return filename if rel.startswith("..") else rel


def _source_line(path: str, line: int) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for i, text in enumerate(f, 1):
                if i == line:
                    return text.rstrip("\n")
    except OSError:
        pass
    return ""


def evaluate_checks(config: Config, variables: dict[str, Any],
                    on_resource: ResourceCallback, config_dir: str) -> list[CheckResult]:
    """Every module's check blocks, one result per block and module instance, each "pass",
    "fail" or "unknown" (a condition known only after apply); in the order of Terraform's
    JSON (`check.NAME` first, then by module: `module.m.check.NAME` before
    `module.m.module.n.check.NAME`, instances by address). A check block in a module with
    no instances is one result with `no_instances`. `on_resource` gives each resource
    instance's value (the planned one, or state's)."""
    if not has_checks(config):
        return []
    probe, node_ids = check_probe(config)
    result = walk(probe, variables, on_resource, graph=build_graph(probe), cwd=config_dir,
                  only=node_ids)
    # module instance address -> its hidden outputs, by the module's call path
    by_path: dict[tuple[str, ...], list[tuple[str, dict[str, Any]]]] = {
        (): [("", result.outputs)]}
    for text, outputs in result.module_outputs.items():
        steps = parse_address(f"{text}.t.n").module
        by_path.setdefault(tuple(s.name for s in steps), []).append((text, outputs))
    out: list[tuple[str, str, CheckResult]] = []
    for cfg in _configs(config):
        static = format_module(tuple(ModuleStep(n) for n in cfg.path))
        for cname, check in cfg.module.checks.items():
            display = f"{static}.check.{cname}" if static else f"check.{cname}"
            instances = by_path.get(tuple(cfg.path), [])
            if not instances:
                out.append((display, "", CheckResult(cname, "pass", module=static,
                                                     no_instances=True)))
            for text, outputs in instances:
                out.append((display, f"{text}.check.{cname}" if text else display,
                            _result(cname, check, outputs, config_dir, text)))
    # Terraform sorts both by the text of the address
    return [r for _, _, r in sorted(out, key=lambda t: (t[0], t[1]))]


def _configs(config: Config) -> list[Config]:
    out = [config]
    for name in sorted(config.children):
        out += _configs(config.children[name])
    return out


def _result(cname: str, check: Any, outputs: dict[str, Any], config_dir: str,
            module: str) -> CheckResult:
    """One check block's result in one module instance, from its hidden outputs."""
    problems: list[CheckProblem] = []
    status = "pass"
    for i, a in enumerate(check.asserts):
        cond, _ = unmark(outputs.get(f"{_PREFIX}{cname}.{i}.c", UNKNOWN))
        where = CheckProblem("", _where(config_dir, a.range.filename), a.range.start_line,
                             _source_line(_path(config_dir, a.range.filename),
                                          a.range.start_line))
        # UNKNOWN too when the condition could not be evaluated (an error in it)
        if cond is UNKNOWN or contains_unknown(cond):
            where.unknown = True
            where.message = ("The condition could not be evaluated at this time, a result "
                             "will be known\nwhen this plan is applied.")
            problems.append(where)
            status = "unknown" if status == "pass" else status
            continue
        if cond is True:
            continue
        msg, marks = unmark(outputs.get(f"{_PREFIX}{cname}.{i}.m"))
        where.message = msg if isinstance(msg, str) and not contains_unknown(msg) else \
            "(error message not known)"
        if marks:
            # Terraform never shows a message made from sensitive values
            where.message = ("This check failed, but has an invalid error message as "
                             "described in the other\naccompanying messages.")
            mrange = a.error_message.range
            where.message_line = mrange.start_line
            where.message_source = _source_line(_path(config_dir, mrange.filename),
                                                mrange.start_line)
        problems.append(where)
        status = "fail"
    return CheckResult(cname, status, problems, module=module)


def _path(config_dir: str, filename: str) -> str:
    return filename if os.path.isabs(filename) else os.path.join(config_dir, filename)


__all__ = ["evaluate_checks", "has_checks"]
