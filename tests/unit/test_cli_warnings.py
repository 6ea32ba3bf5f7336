"""Warnings found while loading reach the user on plan, not only on validate."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_plan_prints_a_variables_file_warning(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('variable "x" {\n  default = 1\n}\n')
    (tmp_path / "terraform.fgvars").write_text("y = 2\n")
    p = subprocess.run([sys.executable, "-m", "fgform", f"-chdir={tmp_path}", "plan",
                        "-refresh=false"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "Warning: Value for undeclared variable" in p.stderr
    assert "terraform.fgvars line 1" in p.stderr
    assert "No changes." in p.stdout
