"""-lock-timeout durations, read as Terraform reads them (Go's time.ParseDuration).

Accepted and refused values recorded from Terraform 1.11: `terraform plan
-lock-timeout=VALUE` exits 0 for the first list; for the second it exits 1 with "Failed to
parse command-line flags: invalid value ... for flag -lock-timeout: parse error".
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fgform.cli.options import parse_seconds
from tests.helpers.cli import fails, fg


@pytest.mark.parametrize("text, seconds", [
    ("0", 0.0), ("10s", 10.0), (".5s", 0.5), ("1.s", 1.0), ("+2s", 2.0), ("1us", 1e-6),
    ("500ms", 0.5), ("5m", 300.0), ("1h2m3s", 3723.0), ("1.5s", 1.5),
    ("-1s", 0.0),  # Terraform takes it; a negative wait is no wait
])
def test_terraform_durations(text: str, seconds: float) -> None:
    assert parse_seconds(text) == pytest.approx(seconds)


REFUSED = ["abc", "10", "", "10x", "1S", " 1s", "inf", "1e3s", ".s", "1h 2m", "9999999999h"]


@pytest.mark.parametrize("text", REFUSED)
def test_what_terraform_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_seconds(text)


@pytest.mark.parametrize("text", ["abc", "10", "1S"])
def test_a_bad_lock_timeout_is_a_usage_error(text: str, tmp_path: Path) -> None:
    """Exit 1 as Terraform, before anything is read, naming the flag and the value."""
    (tmp_path / "main.tf").write_text('output "o" {\n  value = 1\n}\n')
    for cmd in (["plan", "-refresh=false"], ["apply", "-auto-approve"], ["state", "rm"]):
        err = fails(fg(f"-chdir={tmp_path}", *cmd, f"-lock-timeout={text}", "x.y"
                       if cmd[0] == "state" else "-no-color"))
        assert f'Invalid value for -lock-timeout: "{text}" is not a duration' in err
