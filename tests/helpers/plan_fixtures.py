"""Planning the fixture folders under tests/unit/fixtures/plan/ (see test_plan_fixtures)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from fgform.config.loader import load_config
from fgform.config.variables import resolve_variables
from fgform.errors import Severity
from fgform.plan.model import PlanMode
from fgform.plan.planner import PlanOptions, plan_changes
from fgform.state.model import StateFile

FIXTURES = Path(__file__).parents[1] / "unit" / "fixtures" / "plan"


def _load_state(case: Path) -> StateFile | None:
    p = case / "state.json"
    return StateFile.from_dict(json.loads(p.read_text())) if p.exists() else None


def plan_case(case: Path):
    """Plan one fixture folder exactly as the test does."""
    opts = json.loads((case / "options.json").read_text()) \
        if (case / "options.json").exists() else {}
    cdir = case / "config"
    config, diags = load_config(cdir, use_cache=False)
    assert not [d for d in diags if d.severity is Severity.ERROR], diags
    var_args = [("var", f"{k}={v}") for k, v in opts.get("vars", {}).items()]
    variables, diags = resolve_variables(config.module, cdir, var_args, env={})
    assert not [d for d in diags if d.severity is Severity.ERROR], diags
    live = json.loads((case / "live.json").read_text()) \
        if (case / "live.json").exists() else None
    options = PlanOptions(
        mode=PlanMode(opts.get("mode", "normal")), targets=opts.get("targets", []),
        replace=opts.get("replace", []), refresh=opts.get("refresh", True),
        config_dir=str(cdir), timestamp="2026-01-01T00:00:00Z", config_hash="fixture",
    )
    return plan_changes(config, variables, _load_state(case), live, options)


_CACHE: dict[Path, Any] = {}


def cached_plan(case: Path):
    """plan_case, computed once per test session (a deep copy: callers may change it)."""
    if case not in _CACHE:
        _CACHE[case] = plan_case(case)
    return copy.deepcopy(_CACHE[case])

