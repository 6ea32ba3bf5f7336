"""Workspaces: named states of one configuration directory, as Terraform's local backend
keeps them. Which one is selected (`FGFORM_WORKSPACE`, else `.fgform/environment` in the
configuration directory, else "default"), which exist, and selecting, creating and deleting
them. A workspace's state file is wherever `paths.default_state_path` puts it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from fgform.errors import FgformError
from fgform.safefile import read_regular, refuse_symlink, replace_file
from fgform.state.paths import (
    DEFAULT_WORKSPACE,
    STATE_DIR,
    STATE_SUFFIX,
    check_workspace_name,
    default_state_path,
)

ENV_VAR = "FGFORM_WORKSPACE"
# Beside the configuration, as Terraform keeps `.terraform/environment`.
SELECTION_DIR = ".fgform"
SELECTION_FILE = "environment"


def selection_path(config_dir: Path) -> Path:
    """The file that records the selected workspace of a configuration directory."""
    return config_dir / SELECTION_DIR / SELECTION_FILE


def overridden(environ: Mapping[str, str]) -> bool:
    """Whether FGFORM_WORKSPACE chooses the workspace (select and new may not change it)."""
    return bool(environ.get(ENV_VAR))


def selected_workspace(config_dir: Path, environ: Mapping[str, str]) -> str:
    """The workspace a command in `config_dir` uses."""
    name = environ.get(ENV_VAR) or ""
    if not name:
        path = selection_path(config_dir)
        if path.exists() or path.is_symlink():
            try:
                name = read_regular(path, nofollow=True)[0].decode().strip()
            except (OSError, UnicodeDecodeError) as exc:
                raise FgformError(f"cannot read the selected workspace from {path}: {exc}",
                                  hint="Select a workspace again: fgform workspace select "
                                       "NAME.") from exc
    name = name or DEFAULT_WORKSPACE
    check_workspace_name(name)
    return name


def workspace_state_path(config_dir: Path, name: str, backend_path: str | None) -> Path:
    """The state file of workspace `name`."""
    return default_state_path(config_dir, workspace=name, backend_path=backend_path)


def list_workspaces(config_dir: Path, backend_path: str | None) -> list[str]:
    """Every workspace with a state file, and "default" always; sorted, "default" first."""
    names = {DEFAULT_WORKSPACE}
    if backend_path:
        default = workspace_state_path(config_dir, DEFAULT_WORKSPACE, backend_path)
        folder = default.parent / f"{default.name}.d"
        if folder.is_dir():
            names.update(p.name for p in folder.iterdir()
                         if (p / default.name).is_file() and not p.is_symlink())
    else:
        folder = config_dir / STATE_DIR
        if folder.is_dir():
            names.update(p.name[:-len(STATE_SUFFIX)] for p in folder.iterdir()
                         if p.name.endswith(STATE_SUFFIX) and p.is_file()
                         and not p.is_symlink())
    return sorted(names, key=lambda n: (n != DEFAULT_WORKSPACE, n))


def select(config_dir: Path, name: str) -> None:
    """Record `name` as the selected workspace (written by rename, never through a
    symlink)."""
    check_workspace_name(name)
    folder = config_dir / SELECTION_DIR
    refuse_symlink(folder, "the workspace selection folder")
    folder.mkdir(mode=0o755, exist_ok=True)
    replace_file(selection_path(config_dir), name.encode(), mode=0o644)


def forget_state(config_dir: Path, name: str, backend_path: str | None) -> None:
    """Remove workspace `name`'s state file and its backup (and the workspace's own folder
    under a backend path, when it is left empty)."""
    path = workspace_state_path(config_dir, name, backend_path)
    for p in (path, path.with_name(path.name + ".backup")):
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass
    if backend_path:
        try:
            path.parent.rmdir()
        except OSError:
            pass
