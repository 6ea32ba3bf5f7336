"""Shared by every test: fgform's parse cache goes to a temporary directory, never the real
`~/.cache/fgform` (set in the environment, so CLI subprocesses inherit it too)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_parse_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    old = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))
    yield
    if old is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = old


# Per-test ceilings (pytest-timeout): a hung test fails with its stack instead of running
# into CI's overall limit, which shows nothing of where it hung. Generous: they catch hangs,
# they do not measure speed.
UNIT_TIMEOUT = 180
INTEGRATION_TIMEOUT = 900


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("timeout") is None:
            limit = INTEGRATION_TIMEOUT if "integration" in item.path.parts else UNIT_TIMEOUT
            item.add_marker(pytest.mark.timeout(limit))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Name a failure the moment it happens, on one line, not only in the final summary:
    CI shows the head of the output, and a run cut short never reaches the summary."""
    if not report.failed or os.environ.get("PYTEST_XDIST_WORKER"):
        return  # a pytest-xdist worker's reports reach the controller, which tells them
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr)
    first = (text.strip().splitlines() or [""])[0][:300]
    os.write(2, f"\nFAILED {report.nodeid} ({report.when}): {first}{_where(report)}\n".encode())
    if not _engine_death_told and _ENGINE_GONE in text:
        _tell_engine_death()


# When the engine dies mid-run every later test fails the same way; what killed it is in
# dockerd's log (scripts/setup.sh writes it), which CI does not keep: its last panic is
# printed once, beside the first failure that could not reach the engine.
DOCKERD_LOG = Path("/var/log/dockerd.log")
_ENGINE_GONE = "Cannot reach the Docker engine"
_engine_death_told = False


def _tell_engine_death() -> None:
    global _engine_death_told
    _engine_death_told = True
    try:
        with DOCKERD_LOG.open("rb") as f:
            f.seek(max(0, DOCKERD_LOG.stat().st_size - 2_000_000))
            lines = f.read().decode(errors="replace").splitlines()
    except OSError as exc:
        os.write(2, f"(the engine is gone; {DOCKERD_LOG} cannot be read: {exc})\n".encode())
        return
    starts = [i for i, line in enumerate(lines)
              if line.startswith(("panic:", "fatal error:"))]
    # From the line before the panic: the last with a time.
    shown = lines[max(0, starts[-1] - 1):starts[-1] + 12] if starts else lines[-12:]
    what = "its last panic" if starts else "its last lines (no panic in them)"
    os.write(2, (f"The Docker engine stopped answering; {DOCKERD_LOG}, {what}:\n"
                 + "\n".join(f"  {line}" for line in shown) + "\n").encode())


def _where(report: pytest.TestReport) -> str:
    """' at' the innermost test-suite line and the innermost line of all (for a timeout:
    what the test was waiting in)."""
    entries = getattr(getattr(report.longrepr, "reprtraceback", None), "reprentries", None)
    locs = [f"{loc.path}:{loc.lineno}" for e in entries or ()
            if (loc := getattr(e, "reprfileloc", None)) is not None]
    if not locs:
        return ""
    ours = [loc for loc in locs if "tests/" in loc]
    shown = dict.fromkeys([*(ours[-1:]), locs[-1]])
    return " at " + " <- ".join(reversed(shown))
