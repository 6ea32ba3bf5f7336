"""`fgform workspace new|select|list|show|delete`: named states of one configuration, as
`terraform workspace` manages them for the local backend."""

from __future__ import annotations

import click

from fgform.cli.command import group
from fgform.cli.environment import Environment, pass_env
from fgform.cli.options import lock_timeout_option, opt
from fgform.cli.store import take_lock
from fgform.errors import FgformError

_NEW_TEXT = ("You're now on a new, empty workspace. Workspaces isolate their state,\n"
             'so if you run "fgform plan" fgform will not see any existing state\n'
             "for this configuration.")


def _backend(env: Environment) -> str | None:
    from fgform import workflow

    return workflow.backend_path(env.dir)


def _no_override(env: Environment) -> None:
    from fgform.state.workspaces import ENV_VAR, overridden

    if overridden(env.environ):
        raise FgformError(
            f"The selected workspace is currently overridden using the {ENV_VAR} "
            "environment variable.",
            hint="To select a new workspace, either update this environment variable or "
                 "unset it and then run this command again.")


def _missing(name: str) -> FgformError:
    return FgformError(f'Workspace "{name}" doesn\'t exist.',
                       hint='You can create this workspace with the "new" subcommand or '
                            'include the "-or-create" flag with the "select" subcommand.')


def _create(env: Environment, name: str) -> None:
    from fgform.state.model import StateFile
    from fgform.state.store import StateStore
    from fgform.state.workspaces import list_workspaces, select, workspace_state_path

    backend = _backend(env)
    if name in list_workspaces(env.dir, backend):
        raise FgformError(f'Workspace "{name}" already exists')
    store = StateStore(workspace_state_path(env.dir, name, backend))
    store.write(StateFile())
    select(env.dir, name)
    env.out(f'Created and switched to workspace "{name}"!\n\n{_NEW_TEXT}')


@group()
def workspace() -> None:
    """Create, select, list and delete workspaces (one state each)."""


@workspace.command("new")
@click.argument("name")
@pass_env
def workspace_new(env: Environment, name: str) -> None:
    """Create a workspace and select it."""
    from fgform.state.paths import check_workspace_name

    _no_override(env)
    check_workspace_name(name)
    _create(env, name)


@workspace.command("select")
@click.argument("name")
@opt("or-create", "or_create", is_flag=True,
     help="Create the workspace if it does not exist.")
@pass_env
def workspace_select(env: Environment, name: str, or_create: bool) -> None:
    """Select a workspace."""
    from fgform.state.paths import check_workspace_name
    from fgform.state.workspaces import list_workspaces, select

    _no_override(env)
    check_workspace_name(name)
    if name not in list_workspaces(env.dir, _backend(env)):
        if not or_create:
            raise _missing(name)
        _create(env, name)
        return
    select(env.dir, name)
    env.out(f'Switched to workspace "{name}".')


@workspace.command("list")
@pass_env
def workspace_list(env: Environment) -> None:
    """List the workspaces; the selected one is marked with *."""
    from fgform.state.workspaces import list_workspaces

    current = env.workspace
    names = list_workspaces(env.dir, _backend(env))
    if current not in names:
        names.append(current)
    for name in names:
        env.out(f"{'*' if name == current else ' '} {name}")
    env.out()


@workspace.command("show")
@pass_env
def workspace_show(env: Environment) -> None:
    """Print the selected workspace's name."""
    env.out(env.workspace)


@workspace.command("delete")
@click.argument("name")
@opt("force", is_flag=True,
     help="Delete the workspace even when its state still tracks resources (they stay "
          "on the fleet, no longer managed).")
@lock_timeout_option
@pass_env
def workspace_delete(env: Environment, name: str, force: bool, lock_timeout: str) -> None:
    """Delete a workspace and its state."""
    from fgform.state.paths import DEFAULT_WORKSPACE, check_workspace_name
    from fgform.state.store import StateStore
    from fgform.state.workspaces import forget_state, list_workspaces, workspace_state_path

    check_workspace_name(name)
    backend = _backend(env)
    if name not in list_workspaces(env.dir, backend):
        raise _missing(name)
    if name == env.workspace:
        raise FgformError(f'Workspace "{name}" is your active workspace.',
                          hint="You cannot delete the currently active workspace. Please "
                               "switch to another workspace and try again.")
    if name == DEFAULT_WORKSPACE:
        raise FgformError('The "default" workspace cannot be deleted.')
    store = StateStore(workspace_state_path(env.dir, name, backend))
    held = take_lock(env, store, "OperationTypeInvalid", lock_timeout)
    try:
        state = store.read()
        tracked = [str(a) for a in state.addresses()] if state is not None else []
        if tracked and not force:
            listing = "\n".join(f"  - {a}" for a in tracked)
            raise FgformError(
                "Workspace is not empty",
                hint=f'Workspace "{name}" is currently tracking the following resource '
                     f"instances:\n{listing}\n\nDeleting this workspace would cause fgform "
                     "to lose track of any associated fleet objects, which would then "
                     "require you to delete them manually outside of fgform. You should "
                     "destroy these objects with fgform before deleting the workspace.\n\n"
                     "If you want to delete this workspace anyway, and have fgform forget "
                     "about these managed objects, use the -force option to disable this "
                     "safety check.")
        forget_state(env.dir, name, backend)
    finally:
        held.release()
    env.out(f'Deleted workspace "{name}"!')
    if tracked:
        env.err(f'WARNING: "{name}" was non-empty.\nThe resources managed by the deleted '
                "workspace may still exist,\nbut are no longer manageable by fgform since "
                "the state has been deleted.")


COMMANDS = (workspace,)
