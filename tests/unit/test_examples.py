"""The shipped examples and modules: each validates cleanly and is formatted canonically,
by `fgform fmt` and, where terraform is installed, by `terraform fmt` too.

Everything runs on a copy, so neither fmt nor the parse cache touches the repository.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from fgform.cli import run

REPO = Path(__file__).resolve().parents[2]
ROOTS = ("examples", "modules")
CONFIG_SUFFIXES = (".tf", ".hcl")


class _Boundary:
    """Lets CliRunner drive `run(argv)`, the whole error boundary, not just the click group."""

    name = "fgform"

    def main(self, args, prog_name=None, **_):
        raise SystemExit(run(list(args)))


def _config_dirs() -> list[str]:
    """Every directory under examples/ and modules/ holding configuration files (directories
    without any, such as examples/ci, are not configurations)."""
    found = []
    for root in ROOTS:
        for d in sorted((REPO / root).rglob("*")):
            if not d.is_dir() or any(p.startswith(".") for p in d.relative_to(REPO).parts):
                continue
            if any(f.suffix in CONFIG_SUFFIXES and f.is_file() for f in d.iterdir()):
                found.append(str(d.relative_to(REPO)))
    return found


CONFIG_DIRS = _config_dirs()


def _copy(tmp_path: Path) -> Path:
    dst = tmp_path / "repo"
    for root in ROOTS:
        shutil.copytree(REPO / root, dst / root,
                        ignore=shutil.ignore_patterns(".fgform", ".terraform*"))
    return dst


def fg(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(_Boundary(), list(args), env={"NO_COLOR": "1"})
    return r.exit_code, r.stdout, r.stderr


def test_found_the_examples() -> None:
    assert "examples/hello" in CONFIG_DIRS
    assert "modules/web-service" in CONFIG_DIRS
    assert "examples/ci" not in CONFIG_DIRS


@pytest.mark.parametrize("rel", CONFIG_DIRS)
def test_validates_cleanly(rel: str, tmp_path: Path) -> None:
    repo = _copy(tmp_path)
    code, out, err = fg(f"-chdir={repo / rel}", "validate")
    assert (code, err) == (0, ""), err
    assert out == "Success! The configuration is valid.\n"


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".fgform" not in p.parts}


def test_fgform_fmt_leaves_them_unchanged(tmp_path: Path) -> None:
    repo = _copy(tmp_path)
    before = _snapshot(repo)
    for root in ROOTS:
        code, out, err = fg(f"-chdir={repo / root}", "fmt", "-check", "-recursive")
        assert (code, out, err) == (0, "", ""), f"{root}: not canonical:\n{out}{err}"
        # and writing changes nothing either
        code, out, err = fg(f"-chdir={repo / root}", "fmt", "-recursive")
        assert (code, out) == (0, ""), err
    assert _snapshot(repo) == before


TERRAFORM = shutil.which("terraform") or (
    "/usr/local/bin/terraform" if os.access("/usr/local/bin/terraform", os.X_OK) else None)


def test_terraform_fmt_agrees(tmp_path: Path) -> None:
    # Terraform ships on this kind of machine; it is the oracle, so its absence is a failure.
    assert TERRAFORM, "terraform must be on PATH: it is the oracle fmt is checked against"
    repo = _copy(tmp_path)
    rc = tmp_path / "terraformrc"
    rc.write_text("disable_checkpoint = true\n")
    env = {**os.environ, "TF_CLI_CONFIG_FILE": str(rc), "CHECKPOINT_DISABLE": "1",
           "TF_IN_AUTOMATION": "1"}
    for root in ROOTS:
        p = subprocess.run([TERRAFORM, "fmt", "-check", "-recursive", "-no-color"],
                           cwd=repo / root, capture_output=True, text=True, env=env,
                           timeout=60)
        assert p.returncode == 0, f"terraform fmt disagrees in {root}:\n{p.stdout}{p.stderr}"
