"""Golden error messages: each folder under fixtures/cli is a broken configuration, run
through the CLI's real boundary (`fgform.cli.run`, what the `fgform` script calls) and
compared with `expected_stderr.txt`.

A folder may hold `command.txt` (the command line after `fgform -chdir=DIR`, default
`validate`). Every case exits 1 with nothing on stdout. Each case is copied to a temporary
directory first, so the goldens also prove that file names are shown relative to the
configuration directory. Regenerate with FGFORM_REGEN=1 and review the diff.
"""

from __future__ import annotations

import os
import shlex
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from fgform.cli import run

FIXTURES = Path(__file__).parent / "fixtures" / "cli"
CASES = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir() and not p.name.startswith("."))
REGEN = os.environ.get("FGFORM_REGEN") == "1"


class _Boundary:
    """Lets CliRunner drive `run(argv)`, the whole error boundary, not just the click group."""

    name = "fgform"

    def main(self, args, prog_name=None, **_):
        raise SystemExit(run(list(args)))


def _command(case_dir: Path) -> list[str]:
    f = case_dir / "command.txt"
    return shlex.split(f.read_text()) if f.exists() else ["validate"]


@pytest.mark.parametrize("case", CASES)
def test_validate_golden(case: str, tmp_path: Path) -> None:
    src = FIXTURES / case
    work = tmp_path / case
    shutil.copytree(src, work, ignore=shutil.ignore_patterns(
        "expected_stderr.txt", "command.txt", ".fgform"))
    result = CliRunner().invoke(_Boundary(), [f"-chdir={work}", *_command(src)],
                                env={"NO_COLOR": "1"})
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert str(tmp_path) not in result.stderr, "a message names the temporary directory"
    golden = src / "expected_stderr.txt"
    if REGEN:
        golden.write_text(result.stderr)
    assert result.stdout == ""
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ")
    assert result.stderr == golden.read_text()


def test_every_case_has_a_golden() -> None:
    assert CASES
    missing = [c for c in CASES if not (FIXTURES / c / "expected_stderr.txt").exists()]
    assert not missing or REGEN, f"run with FGFORM_REGEN=1 to create: {missing}"
