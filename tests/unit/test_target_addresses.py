"""A -target or -replace that is no address is an error, not a silently empty plan."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fgform.errors import FgformError
from fgform.workflow import check_addresses


@pytest.mark.parametrize("good", ["fg_service.web", "fg_service.web[0]",
                                  'fg_service.web["a"]', "module.m", 'module.m["a"]',
                                  'module.m["a"].module.n.fg_service.web[2]'])
def test_valid_targets(good: str) -> None:
    check_addresses([good], [])


@pytest.mark.parametrize("bad", ["nope", "x[", "fg_service.web[0].id", "module", "module.m[",
                                 "fg_service"])
def test_invalid_targets(bad: str) -> None:
    with pytest.raises(FgformError, match="Invalid target address"):
        check_addresses([bad], [])


def test_replace_needs_a_resource_address() -> None:
    check_addresses([], ["fg_service.web[0]"])
    with pytest.raises(FgformError, match="Invalid replace address 'module.m'"):
        check_addresses([], ["module.m"])


def test_plan_with_a_bad_target_exits_1(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('resource "fg_target_group" "x" {}\n')
    p = subprocess.run([sys.executable, "-m", "fgform", f"-chdir={tmp_path}", "plan",
                        "-refresh=false", "-target=nope"], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 1
    assert p.stderr.startswith("Error: Invalid target address 'nope'")
    assert "Traceback" not in p.stderr
