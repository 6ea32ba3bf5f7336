"""Where a state file lives (`-state`, the local backend's path, the workspace), and the
folder it lives in: created on first use, with a `.gitignore` when it is fgform's own
`state/` (state holds every attribute of every resource, secrets included)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from fgform.errors import FgformError
from fgform.safefile import create_private

STATE_SUFFIX = ".fgstate.json"
BACKUP_SUFFIX = ".backup"
STATE_DIR = "state"
DEFAULT_WORKSPACE = "default"

_WORKSPACE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

# Written into a `state/` folder that fgform creates itself: state holds every attribute of
# every resource, secrets included, and has no business in version control.
_GITIGNORE = """\
# Written by fgform: state files hold secrets and machine-specific ids; keep them out of git.
*.fgstate.json
*.fgstate.json.backup
*.fgstate.json.lock
*.fgstate.json.fleet
.*.tmp
"""


def default_state_path(
    config_dir: str | os.PathLike[str],
    workspace: str = DEFAULT_WORKSPACE,
    override: str | os.PathLike[str] | None = None,
    backend_path: str | os.PathLike[str] | None = None,
) -> Path:
    """The state file a command uses, by precedence.

    1. `override` (the `-state PATH` flag): used as given; a relative path is taken relative
       to `config_dir`, which is the working directory after `-chdir`, as in Terraform.
       The workspace does not change an explicit file.
    2. `backend_path` (`backend "local" { path = "..." }`): relative to `config_dir`. The
       default workspace uses it as is; workspace W uses `<dir>/<file>.d/W/<file>` beside it,
       the layout of Terraform's local backend (`terraform.tfstate.d/W/terraform.tfstate`).
    3. Otherwise `<config_dir>/state/<workspace>.fgstate.json`.
    """
    base = Path(config_dir)
    if override is not None and str(override) != "":
        return _absolute(base, Path(override))
    check_workspace_name(workspace)
    if backend_path is not None and str(backend_path) != "":
        p = _absolute(base, Path(backend_path))
        if workspace == DEFAULT_WORKSPACE:
            return p
        return p.parent / f"{p.name}.d" / workspace / p.name
    return _absolute(base, Path(STATE_DIR) / f"{workspace}{STATE_SUFFIX}")


def _absolute(base: Path, p: Path) -> Path:
    p = p.expanduser()
    p = p if p.is_absolute() else (base / p).absolute()
    if not p.name:
        # `-state=/`: the root directory has no name to put the lock and backup beside.
        raise FgformError(f"the state file path {p} is a directory, not a file",
                          hint="The state is a file: give the path of one (my.fgstate.json), not a directory.")
    return p


def check_workspace_name(workspace: str) -> None:
    """Raise a clear error unless `workspace` may name a workspace (it becomes part of a
    file name)."""
    # The workspace name becomes part of a file name: keep path separators and ".." out.
    if not _WORKSPACE_NAME.match(workspace) or ".." in workspace:
        raise FgformError(
            f"The workspace name {workspace!r} is not allowed.",
            hint="Workspace names use letters, digits, '-', '_' and '.', and start with a "
                 "letter or digit.",
        )


def ensure_state_dir(directory: Path) -> None:
    """Create the state file's directory if needed; a new `state/` gets a `.gitignore`.

    Called by both the lock and the store: commands take the lock before the first write,
    so whichever comes first creates the folder.
    """
    if directory.is_dir():
        return
    directory.mkdir(parents=True, exist_ok=True)
    if directory.name == STATE_DIR:
        try:
            fd = create_private(directory / ".gitignore", 0o644)
        except OSError:
            return  # another process wrote it first, or the folder is read-only
        try:
            os.write(fd, _GITIGNORE.encode())
        finally:
            os.close(fd)
