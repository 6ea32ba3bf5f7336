"""The import contracts of `.importlinter` (layers, docker only in fleet/docker/, plan/ free
of docker, click and jinja2, no cycles) hold: run as pytest runs, so a change that breaks
one fails here with import-linter's report as well as in scripts/test.sh."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_import_contracts_hold() -> None:
    exe = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    proc = subprocess.run([exe, "--no-cache"], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "4 kept, 0 broken" in proc.stdout
