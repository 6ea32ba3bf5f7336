"""The commands that read and change the state: output, state list/show/pull/rm/mv,
force-unlock."""

from __future__ import annotations

import click

from fgform.cli.command import command, group
from fgform.cli.environment import Environment, pass_env
from fgform.cli.options import lock_timeout_option, opt, state_option
from fgform.cli.store import state_store, take_lock
from fgform.errors import FgformError


@command()
@click.argument("name", required=False)
@opt("json", "as_json", is_flag=True)
@opt("raw", is_flag=True)
@state_option
@pass_env
def output(env: Environment, name: str | None, as_json: bool, raw: bool, state_path) -> None:
    """Print output values from the state."""
    from fgform.render.state_hcl import outputs
    from fgform.state.model import StateFile

    state = state_store(env, state_path).read() or StateFile()
    text = outputs(state, name, json=as_json, raw=raw)
    if not text and not name:
        env.err("Warning: No outputs found")
        return
    env.out(text, nl=not raw and not text.endswith("\n"))


@group()
def state() -> None:
    """Inspect and change the state."""


@state.command("list")
@click.argument("addresses", nargs=-1)
@state_option
@pass_env
def state_list_cmd(env: Environment, addresses, state_path) -> None:
    """List resources in the state."""
    from fgform.state.surgery import state_list

    st = state_store(env, state_path).read()
    if st is None:
        return
    for a in state_list(st, list(addresses) or None):
        env.out(a)


@state.command("show")
@click.argument("address")
@state_option
@pass_env
def state_show_cmd(env: Environment, address: str, state_path) -> None:
    """Show one resource instance's attributes."""
    from fgform.render.state_hcl import state_show

    st = state_store(env, state_path).read()
    if st is None:
        raise FgformError("No state file was found!")
    env.out(state_show(st, address))


@state.command("pull")
@state_option
@pass_env
def state_pull_cmd(env: Environment, state_path) -> None:
    """Print the state file."""
    from fgform.state.surgery import state_pull

    st = state_store(env, state_path).read()
    if st is not None:
        env.out(state_pull(st), nl=False)


@state.command("rm")
@click.argument("addresses", nargs=-1, required=True)
@state_option
@lock_timeout_option
@pass_env
def state_rm_cmd(env: Environment, addresses, state_path, lock_timeout) -> None:
    """Forget resources without destroying them."""
    from fgform.state.surgery import state_rm

    store = state_store(env, state_path)
    with take_lock(env, store, "OperationTypeStateRm", lock_timeout):
        st = store.read()
        if st is None:
            raise FgformError("No state file was found!")
        removed = state_rm(st, list(addresses))
        store.write(st)
    for a in removed:
        env.out(f"Removed {a}")
    env.out(f"Successfully removed {len(removed)} resource instance(s).")


@state.command("mv")
@click.argument("source")
@click.argument("destination")
@state_option
@lock_timeout_option
@pass_env
def state_mv_cmd(env: Environment, source: str, destination: str, state_path,
                 lock_timeout) -> None:
    """Rename a resource in the state."""
    from fgform.state.surgery import state_mv

    store = state_store(env, state_path)
    with take_lock(env, store, "OperationTypeStateMv", lock_timeout):
        st = store.read()
        if st is None:
            raise FgformError("No state file was found!")
        moved = state_mv(st, source, destination)
        store.write(st)
    for a, b in moved:
        env.out(f'Move "{a}" to "{b}"')
    env.out(f"Successfully moved {len(moved)} object(s).")


@command("force-unlock")
@click.argument("lock_id")
@opt("force", is_flag=True, help="Don't ask for confirmation.")
@state_option
@pass_env
def force_unlock_cmd(env: Environment, lock_id: str, force: bool, state_path) -> None:
    """Remove a lock left behind, by its ID."""
    from fgform.state.lock import force_unlock

    path = state_store(env, state_path).path
    if not force:
        env.out(f"Do you really want to force-unlock?\n  fgform will remove the lock {lock_id}."
                "\n  Only 'yes' will be accepted to confirm.\n")
        if env.ask("  Enter a value").strip() != "yes":
            raise FgformError("force-unlock cancelled.")
    force_unlock(path, lock_id)
    env.out("fgform state has been successfully unlocked!")


COMMANDS = (output, state, force_unlock_cmd)
