#!/usr/bin/env python3
"""Print how often fgform agrees with Terraform 1.11 on the differential corpus, per class
(tests/differential): `python3 scripts/differential_report.py [-v]` (`-v` lists every
disagreement and why). Needs no Terraform: it compares with the recorded values."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from differential.report import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
