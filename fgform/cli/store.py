"""The state a command works on: its store, and the locks a command takes on it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from fgform.cli.environment import Environment
from fgform.cli.options import duration
from fgform.errors import FgformError


def state_store(env: Environment, state_path: str | None):
    """The store of the configuration directory's state, or of -state PATH."""
    from fgform import workflow
    from fgform.state.store import StateStore

    return StateStore(workflow.state_only(env.dir, state_path, env.workspace))


def read_state(env: Environment, state_path: str | None):
    """The state, for a command that needs one: an error when there is none yet."""
    st = state_store(env, state_path).read()
    if st is None:
        raise FgformError("No state file was found: apply the configuration first.")
    return st


def take_lock(env: Environment, store, operation: str, lock_timeout: str):
    """Take the state lock; say so when it was taken over from a dead process (a killed
    apply), since that process may have left work half-done."""
    held = store.lock(operation, duration(lock_timeout))
    for warning in held.warnings:
        env.err(f"Warning: {warning}\n")
    return held


@contextlib.contextmanager
def fleet_writer(env: Environment, store, lock_timeout: str) -> Iterator[None]:
    """The state lock and the fleet lock, for a command that changes the fleet (apply,
    destroy), held until it ends (`fgform.state.store.writer_locks`: a reconcile pass in
    progress is waited for, saying so)."""
    from fgform.state.store import writer_locks

    def waiting(holder) -> None:
        env.err(f"Waiting for {holder.summary()} to finish acting on the fleet "
                "before changing it...")

    def warn(warning: str) -> None:
        env.err(f"Warning: {warning}\n")

    timeout = duration(lock_timeout)
    # writer_locks' own patience with a reconcile pass: max(timeout, RECONCILE_PASS_WAIT).
    with writer_locks(store, "OperationTypeApply", timeout, on_wait=waiting,
                      on_warning=warn):
        yield
