"""`check` blocks: each assertion evaluated against the planned values (after plan) or the
state (after apply). A failed assertion is a warning, never an error, as in Terraform.

The root module's check blocks are evaluated by one limited walk (`only` their
expressions): each condition and error message becomes a hidden root output of a copy of
the configuration, so they see exactly what outputs see (variables, locals, resources,
module outputs) without a second evaluator.
"""

from __future__ import annotations

import os
from typing import Any

from fgform.config.evaluate import ResourceCallback, walk
from fgform.config.meta_blocks import CHECK_OUTPUT_PREFIX, check_probe
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
    """The root module's check blocks, by name, each "pass", "fail" or "unknown" (a
    condition known only after apply). `on_resource` gives each resource instance's value
    (the planned one, or state's)."""
    checks = config.module.checks
    if not checks:
        return []
    probe, names = check_probe(config)
    result = walk(probe, variables, on_resource, graph=build_graph(probe), cwd=config_dir,
                  only=[f"output.{n}" for n in names])
    out: list[CheckResult] = []
    for cname, check in sorted(checks.items()):
        problems: list[CheckProblem] = []
        status = "pass"
        for i, a in enumerate(check.asserts):
            cond, _ = unmark(result.outputs.get(f"{_PREFIX}{cname}.{i}.c", UNKNOWN))
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
            msg, _ = unmark(result.outputs.get(f"{_PREFIX}{cname}.{i}.m"))
            where.message = msg if isinstance(msg, str) and not contains_unknown(msg) else \
                "(error message not known)"
            problems.append(where)
            status = "fail"
        out.append(CheckResult(cname, status, problems))
    return out


def _path(config_dir: str, filename: str) -> str:
    return filename if os.path.isabs(filename) else os.path.join(config_dir, filename)


__all__ = ["evaluate_checks"]
