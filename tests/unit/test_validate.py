"""Validation over fixture folders: each folder is a configuration and its expected
diagnostics (`expected.txt`). Adding a case means adding a folder.

A folder may hold `args.txt` (one `-var k=v` or `-var-file F` per line) and `env.json`
(environment variables). Regenerate the golden files with FGFORM_UPDATE_GOLDEN=1, then
review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from fgform.config.loader import load_config
from fgform.config.validate import validate_config
from fgform.errors import Diagnostic

FIXTURES = Path(__file__).parent / "fixtures" / "validate"
CASES = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir())


def render(diags: list[Diagnostic], root: Path) -> str:
    """Diagnostics as golden text: `Error: summary`, then `file:line` and any hint."""
    lines = []
    for d in diags:
        lines.append(f"{d.severity.value.capitalize()}: {d.summary}")
        if d.range is not None:
            name = d.range.filename
            try:
                name = str(Path(name).resolve().relative_to(root.resolve()))
            except ValueError:
                pass
            lines.append(f"  {name}:{d.range.start_line}")
        if d.hint:
            lines.append(f"  hint: {d.hint}")
    return "\n".join(lines) + "\n" if lines else ""


def run_case(case_dir: Path) -> list[Diagnostic]:
    """Load and validate a fixture folder the way `fgform validate` does."""
    var_args: list[tuple[str, str]] = []
    args = case_dir / "args.txt"
    if args.exists():
        for line in args.read_text().splitlines():
            if line.strip():
                flag, _, value = line.strip().partition(" ")
                if flag == "-var-file":
                    value = str(case_dir / value)
                var_args.append((flag.lstrip("-"), value))
    env_file = case_dir / "env.json"
    env = json.loads(env_file.read_text()) if env_file.exists() else {}
    config, diags = load_config(case_dir, use_cache=False)
    return list(diags) + validate_config(config, var_args=var_args, env=env, cwd=str(case_dir))


@pytest.mark.parametrize("case", CASES)
def test_validate_fixture(case: str) -> None:
    case_dir = FIXTURES / case
    got = render(run_case(case_dir), case_dir)
    expected_file = case_dir / "expected.txt"
    if os.environ.get("FGFORM_UPDATE_GOLDEN"):
        expected_file.write_text(got)
    assert got == expected_file.read_text()


def test_every_problem_has_a_place() -> None:
    """Validation errors point at the user's file and line (the CLI prints them)."""
    for case in CASES:
        for d in run_case(FIXTURES / case):
            assert d.range is not None, (case, d.summary)
            assert d.range.start_line >= 1
