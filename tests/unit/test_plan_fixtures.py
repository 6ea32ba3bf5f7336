"""Planner fixtures: each folder under fixtures/plan/<case>/ holds

- `config/`: the configuration (HCL, may call modules under it),
- `state.json`: the prior state (absent = no state), `live.json`: the live snapshot
  (optional; address -> attributes or null),
- `options.json` (optional): {"mode", "targets", "replace", "refresh", "vars"},
- `expected_plan.json` (the JSON render) and `expected_plan.txt` (the terminal text, no
  colour), or `expected_error.txt` when planning must fail.

Regenerate the expectations with `FGFORM_REGEN=1 pytest tests/unit/test_plan_fixtures.py`
(review the diff!). `PYTHONPATH=tests python tests/unit/test_plan_fixtures.py fake-state
DIR` writes a
`state.json` for DIR as if its configuration had been applied (fake computed values), the
starting point for a new case.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from fgform.addresses import parse_address
from fgform.errors import FgformError
from fgform.plan.model import Action
from fgform.render.json_plan import plan_json
from fgform.render.text import render_plan
from fgform.state.model import InstanceState, OutputState, StateFile
from fgform.values import UNKNOWN

from helpers.plan_fixtures import FIXTURES, plan_case

REGEN = os.environ.get("FGFORM_REGEN") == "1"
CASES = sorted(p.name for p in FIXTURES.iterdir() if (p / "config").is_dir()) \
    if FIXTURES.is_dir() else []


def _dump(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


@pytest.mark.parametrize("case", CASES)
def test_plan_fixture(case: str) -> None:
    folder = FIXTURES / case
    err_file = folder / "expected_error.txt"
    if err_file.exists() or (REGEN and (folder / "expect_error").exists()):
        with pytest.raises(FgformError) as info:
            plan_case(folder)
        got = info.value.message + "\n"
        if REGEN:
            err_file.write_text(got)
        assert got == err_file.read_text()
        return
    plan = plan_case(folder)
    got_json = _dump(plan_json(plan))
    got_text = render_plan(plan, color=False)
    if REGEN:
        (folder / "expected_plan.json").write_text(got_json)
        (folder / "expected_plan.txt").write_text(got_text)
    assert json.loads(got_json) == json.loads((folder / "expected_plan.json").read_text())
    assert got_text == (folder / "expected_plan.txt").read_text()
    # determinism: changes sorted by address, and the same plan twice renders the same
    addrs = [c.address for c in plan.changes]
    assert addrs == sorted(addrs)
    assert render_plan(plan_case(folder)) == got_text


# -- making a starting state ------------------------------------------------------------------


def _fake(name: str, addr: str, planned: dict[str, Any]) -> Any:
    """A deterministic stand-in for a computed value apply would produce."""
    h = hashlib.sha256(addr.encode()).hexdigest()
    family = planned.get("family")
    return {
        "id": f"{addr.split('.')[0]}-{h[:8]}",
        "arn": f"{family}:1",
        "revision": 1,
        "revisions": [],
        "digest": f"sha256:{h}",
        "endpoint": "127.0.0.1:5000",
        "volume": f"fgform-registry-{h[:6]}",
        "network_name": f"fgform-{h[:6]}",
        "running_count": planned.get("desired_count", 1),
        "tasks": [],
        "dns_name": f"lb-{h[:6]}.fgform.local",
        "endpoints": ["http://127.0.0.1:8080"],
    }.get(name, "pending")


def _fill(value: Any, addr: str, planned: dict[str, Any], name: str = "") -> Any:
    if value is UNKNOWN:
        return _fake(name, addr, planned)
    if isinstance(value, dict):
        return {k: _fill(v, addr, planned, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, addr, planned, name) for v in value]
    return value


def fake_apply(case: Path) -> StateFile:
    """Plan and 'apply' repeatedly until nothing changes; write case/state.json."""
    state = StateFile(lineage="00000000-0000-4000-8000-000000000000", serial=0)
    (case / "state.json").write_text(_dump(state.to_dict()))
    for _ in range(8):
        plan = plan_case(case)
        changed = False
        for rc in plan.changes:
            if rc.action is Action.NOOP:
                continue
            changed = True
            if rc.after is None:
                state.remove(rc.address)
                continue
            after = _fill(rc.after, str(rc.address), rc.after)
            if after.get("uri") == "pending" and "repository" in after:
                after["uri"] = f"127.0.0.1:5000/{after['repository']}@{after['digest']}"
            state.set(rc.address, InstanceState(
                rc.address.key, after, [list(p) for p in rc.after_sensitive],
                rc.dependencies))
        for oc in plan.output_changes:
            if oc.action is Action.DELETE:
                state.outputs.pop(oc.name, None)
            elif oc.action is not Action.NOOP:
                changed = True
                state.outputs[oc.name] = OutputState(_fill(oc.after, "output", {}),
                                                     oc.sensitive)
        state.serial += 1
        (case / "state.json").write_text(_dump(state.to_dict()))
        if not changed:
            break
    return state


def test_fake_state_helper_is_importable() -> None:
    # The helper lives here so fixtures can be rebuilt; make sure it stays wired.
    assert callable(fake_apply) and parse_address("fg_service.web").name == "web"


if __name__ == "__main__":  # pragma: no cover - a developer tool
    if len(sys.argv) == 3 and sys.argv[1] == "fake-state":
        fake_apply(Path(sys.argv[2]))
    else:
        print(__doc__)
