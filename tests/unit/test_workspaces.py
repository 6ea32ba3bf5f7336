"""`fgform workspace new|select|list|show|delete` and `fgform.workspace`, through the CLI's
real boundary: a state per workspace, the selection kept beside the configuration, and the
refusals `terraform workspace` makes (texts recorded from Terraform 1.11, "Terraform"
reworded as "fgform"). No Docker: outputs-only configurations and the state commands."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from helpers.cli import fails, fg

CONFIG = """\
output "w" { value = fgform.workspace }
output "t" { value = "${terraform.workspace}-main" }
"""


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    (tmp_path / "main.tf").write_text(CONFIG)
    return tmp_path


def run(cfg: Path, *args: str, env: dict | None = None):
    return fg(f"-chdir={cfg}", *args, env=env)


def outputs(cfg: Path, env: dict | None = None) -> dict:
    r = run(cfg, "output", "-json", env=env)
    assert r.exit_code == 0, r.stderr
    return {k: v["value"] for k, v in json.loads(r.stdout or "{}").items()}


def test_new_select_list_show_and_a_state_each(cfg: Path) -> None:
    assert run(cfg, "workspace", "show").stdout == "default\n"
    r = run(cfg, "workspace", "new", "dev")
    assert r.exit_code == 0
    assert r.stdout.startswith('Created and switched to workspace "dev"!\n')
    assert run(cfg, "workspace", "show").stdout == "dev\n"
    assert run(cfg, "workspace", "list").stdout == "  default\n* dev\n\n"

    assert run(cfg, "apply", "-auto-approve").exit_code == 0
    assert outputs(cfg) == {"w": "dev", "t": "dev-main"}
    assert (cfg / "state" / "dev.fgstate.json").is_file()

    r = run(cfg, "workspace", "select", "default")
    assert (r.exit_code, r.stdout) == (0, 'Switched to workspace "default".\n')
    assert outputs(cfg) == {}  # the default workspace's state has not been applied
    assert run(cfg, "apply", "-auto-approve").exit_code == 0
    assert outputs(cfg) == {"w": "default", "t": "default-main"}
    assert run(cfg, "workspace", "list").stdout == "* default\n  dev\n\n"


def test_environment_variable_overrides_the_selection(cfg: Path) -> None:
    env = {"FGFORM_WORKSPACE": "ci"}
    assert run(cfg, "workspace", "show", env=env).stdout == "ci\n"
    assert run(cfg, "apply", "-auto-approve", env=env).exit_code == 0
    assert outputs(cfg, env) == {"w": "ci", "t": "ci-main"}
    assert (cfg / "state" / "ci.fgstate.json").is_file()
    err = fails(run(cfg, "workspace", "select", "default", env=env))
    assert "overridden using the FGFORM_WORKSPACE environment variable" in err
    assert run(cfg, "workspace", "show").stdout == "default\n"


def test_refusals(cfg: Path) -> None:
    err = fails(run(cfg, "workspace", "select", "nope"))
    assert err.startswith('Error: Workspace "nope" doesn\'t exist.')
    assert '"-or-create" flag' in err
    assert run(cfg, "workspace", "new", "dev").exit_code == 0
    assert fails(run(cfg, "workspace", "new", "dev")).startswith(
        'Error: Workspace "dev" already exists')
    err = fails(run(cfg, "workspace", "delete", "dev"))
    assert 'Workspace "dev" is your active workspace.' in err
    for bad in ("a/b", "..", "_x", ".hidden", ""):
        err = fails(run(cfg, "workspace", "new", bad))
        assert "is not allowed" in err
    assert not (cfg / "state" / "a").exists()
    assert fails(run(cfg, "workspace", "delete", "default"))


def test_select_or_create(cfg: Path) -> None:
    r = run(cfg, "workspace", "select", "-or-create", "qa")
    assert r.exit_code == 0 and 'switched to workspace "qa"' in r.stdout
    assert run(cfg, "workspace", "show").stdout == "qa\n"


def test_delete_refuses_a_workspace_that_tracks_resources_unless_forced(cfg: Path) -> None:
    (cfg / "main.tf").write_text(CONFIG + 'resource "fg_cluster" "main" {\n'
                                 '  name = "c-${fgform.workspace}"\n}\n')
    assert run(cfg, "workspace", "new", "dev").exit_code == 0
    # Record a cluster in dev's state without a fleet: state surgery through `state`
    # commands needs an applied state, so write what an apply would have recorded.
    from fgform.addresses import parse_address
    from fgform.state.model import InstanceState
    from fgform.state.store import StateStore

    store = StateStore(cfg / "state" / "dev.fgstate.json")
    st = store.read()
    st.set(parse_address("fg_cluster.main"), InstanceState(None, {"name": "c-dev"}))
    store.write(st)
    assert run(cfg, "workspace", "select", "default").exit_code == 0

    err = fails(run(cfg, "workspace", "delete", "dev"))
    assert "Workspace is not empty" in err and "  - fg_cluster.main" in err
    assert (cfg / "state" / "dev.fgstate.json").is_file()

    r = run(cfg, "workspace", "delete", "-force", "dev")
    assert (r.exit_code, r.stdout) == (0, 'Deleted workspace "dev"!\n')
    assert 'WARNING: "dev" was non-empty.' in r.stderr
    assert not (cfg / "state" / "dev.fgstate.json").exists()
    assert run(cfg, "workspace", "list").stdout == "* default\n\n"


def test_backend_path_workspaces_live_beside_it(cfg: Path) -> None:
    (cfg / "backend.tf").write_text(
        'terraform {\n  backend "local" {\n    path = "my.fgstate.json"\n  }\n}\n')
    assert run(cfg, "workspace", "new", "dev").exit_code == 0
    assert run(cfg, "apply", "-auto-approve").exit_code == 0
    assert (cfg / "my.fgstate.json.d" / "dev" / "my.fgstate.json").is_file()
    assert run(cfg, "workspace", "list").stdout == "  default\n* dev\n\n"
    assert outputs(cfg) == {"w": "dev", "t": "dev-main"}


def test_a_planted_selection_cannot_escape_or_follow_a_link(cfg: Path, tmp_path_factory) -> None:
    (cfg / ".fgform").mkdir()
    (cfg / ".fgform" / "environment").write_text("../../etc")
    assert "is not allowed" in fails(run(cfg, "plan"))
    os.unlink(cfg / ".fgform" / "environment")
    outside = tmp_path_factory.mktemp("outside") / "ws"
    outside.write_text("dev")
    os.symlink(outside, cfg / ".fgform" / "environment")
    fails(run(cfg, "workspace", "show"))
    # Selecting replaces the link with a file of its own; the link's target is untouched.
    assert run(cfg, "workspace", "new", "qa").exit_code == 0
    assert outside.read_text() == "dev"
    assert not (cfg / ".fgform" / "environment").is_symlink()
