"""The bad-input corpus: every folder under tests/corpus/<category>/<case> is one bad input
(a broken configuration, a corrupt state, plan or lock file, a CLI misuse, a planted file),
run through the CLI's real boundary (`fgform.cli.run`, what the `fgform` script calls) and
compared with its golden messages.

A case folder holds the configuration files and, beside them, these (none of them copied
into the working directory the command runs in):

- `command.txt`: the command line after `fgform -chdir=DIR` (default `validate`);
- `expected_stderr.txt`: the exact standard error (required);
- `expected_exit.txt`: the exit code (default 1);
- `expected_stdout.txt`: the exact standard output (default: stdout must be empty when
  the exit code is not 0, and is not compared otherwise);
- `env.txt`: `NAME=VALUE` lines added to the environment (`FGFORM_VAR_*`, ...);
- `secrets.txt`: one string a line that must appear nowhere in stdout or stderr.

Symlinks in a case (dangling, looping) are copied as links. Every case also checks that
no traceback and no "internal error" reaches the user, that the temporary directory is
never named, and that the command finishes within a bound (a hang is a failure).
Regenerate the goldens with FGFORM_REGEN=1 and review the diff.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
from pathlib import Path

import pytest
from click.testing import CliRunner

from fgform.cli import run

CORPUS = Path(__file__).parent.parent / "corpus"
META = {"command.txt", "expected_stderr.txt", "expected_exit.txt", "expected_stdout.txt",
        "env.txt", "secrets.txt"}
CASES = sorted(f"{cat.name}/{case.name}"
               for cat in CORPUS.iterdir() if cat.is_dir()
               for case in cat.iterdir() if case.is_dir())
REGEN = os.environ.get("FGFORM_REGEN") == "1"
HANG_SECONDS = 60


class _Boundary:
    """Lets CliRunner drive `run(argv)`, the whole error boundary, not just the click group."""

    name = "fgform"

    def main(self, args, prog_name=None, **_):
        raise SystemExit(run(list(args)))


class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang(f"the command did not finish within {HANG_SECONDS} s")


def _read(case: Path, name: str) -> str | None:
    f = case / name
    return f.read_text() if f.exists() else None


def _env(case: Path, cache: Path) -> dict[str, str]:
    env = {"NO_COLOR": "1", "XDG_CACHE_HOME": str(cache)}
    for line in (_read(case, "env.txt") or "").splitlines():
        if line.strip():
            name, _, value = line.partition("=")
            env[name] = value
    return env


@pytest.mark.parametrize("case", CASES)
def test_corpus_case(case: str, tmp_path: Path) -> None:
    src = CORPUS / case
    work = tmp_path / "cfg"
    shutil.copytree(src, work, symlinks=True, ignore=lambda d, names: [
        n for n in names if d == str(src) and n in META])
    command = shlex.split(_read(src, "command.txt") or "validate")
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(HANG_SECONDS)
    try:
        result = CliRunner().invoke(_Boundary(), [f"-chdir={work}", *command],
                                    env=_env(src, tmp_path / "cache"))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    if isinstance(result.exception, _Hang):
        pytest.fail(str(result.exception))
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        result.exception
    out, err = result.stdout, result.stderr
    assert "Traceback" not in out + err
    assert "internal error" not in (out + err).lower()
    assert str(tmp_path) not in out + err, "a message names the temporary directory"
    for secret in (_read(src, "secrets.txt") or "").splitlines():
        if secret:
            assert secret not in out + err, f"secret {secret!r} was printed"
    if REGEN:
        (src / "expected_stderr.txt").write_text(err)
        if result.exit_code != 1 or (src / "expected_exit.txt").exists():
            (src / "expected_exit.txt").write_text(f"{result.exit_code}\n")
        if (src / "expected_stdout.txt").exists():
            (src / "expected_stdout.txt").write_text(out)
    exit_code = int((_read(src, "expected_exit.txt") or "1").strip())
    assert result.exit_code == exit_code, err
    want_out = _read(src, "expected_stdout.txt")
    if want_out is not None:
        assert out == want_out
    elif exit_code != 0:
        assert out == ""
    assert err == _read(src, "expected_stderr.txt")


def test_every_case_has_a_golden() -> None:
    assert CASES
    missing = [c for c in CASES if not (CORPUS / c / "expected_stderr.txt").exists()]
    assert not missing or REGEN, f"run with FGFORM_REGEN=1 to create: {missing}"
