"""Shared by every test: fgform's parse cache goes to a temporary directory, never the real
`~/.cache/fgform` (set in the environment, so CLI subprocesses inherit it too)."""

from __future__ import annotations

import os
from collections.abc import Iterator

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
    if not report.failed:
        return
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr)
    first = (text.strip().splitlines() or [""])[0][:300]
    os.write(2, f"\nFAILED {report.nodeid} ({report.when}): {first}{_where(report)}\n".encode())


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
