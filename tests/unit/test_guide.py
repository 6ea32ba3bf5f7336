"""docs/guide.md is the user's reference for the command line: every command and
subcommand the CLI offers must be in it, so a new command cannot ship undocumented."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

GUIDE = Path(__file__).parents[2] / "docs" / "guide.md"


def _commands(*group: str) -> list[str]:
    out = subprocess.run([sys.executable, "-m", "fgform", *group, "-help"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    section = out.split("Commands:", 1)[1]
    return [m.group(1) for m in re.finditer(r"^  (\S+)\s", section, re.M)]


def _documented(text: str, command: str) -> bool:
    return re.search(rf"`fgform {re.escape(command)}[ `]", text) is not None


def test_every_command_is_in_the_guide() -> None:
    text = GUIDE.read_text()
    top = _commands()
    assert {"plan", "apply", "state", "tasks"} <= set(top)
    missing = []
    for name in top:
        if name in ("state", "lb"):
            missing += [f"{name} {sub}" for sub in _commands(name)
                        if not _documented(text, f"{name} {sub}")]
        elif not _documented(text, name):
            missing.append(name)
    assert missing == []


def test_the_readme_points_at_the_guide() -> None:
    readme = (GUIDE.parents[1] / "README.md").read_text()
    assert "docs/guide.md" in readme
    assert "../shared" not in readme
    for doc in GUIDE.parent.glob("*.md"):
        assert "../shared" not in doc.read_text(), doc.name


def test_every_function_is_in_the_guide() -> None:
    from fgform.config.functions import FUNCTIONS

    listed = set(GUIDE.read_text().split("### Functions", 1)[1].split("Regular expressions")[0]
                 .replace("`", " ").split())
    assert sorted(set(FUNCTIONS) - listed) == []
