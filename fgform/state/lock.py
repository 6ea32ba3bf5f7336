"""The two locks of a state, and the order they are taken in.

Every command that writes state holds the **state lock**, `<state path>.lock`, for its whole
run; a command that changes the fleet (an apply or destroy for its whole run, a reconcile
pass while it acts) also holds the **fleet lock**, `<state path>.fleet`. Both are a `flock`
on their file (`fgform.state.lockfile`), released by the kernel when the holder exits, and
the file records the holder (Terraform's lock info):

    {"ID": "<uuid4>", "Operation": "apply", "Who": "user@host", "Pid": 1234,
     "Created": "2026-11-29T07:30:00.123456Z", "Path": "/abs/state/default.fgstate.json",
     "Version": "0.1.0"}

A state lock whose holder exited without letting go (killed, crashed) is simply free: the
next command takes it and warns, naming the old holder, since it may have stopped part-way
through an apply. `force_unlock` with the lock's ID removes a record left that way, or
breaks a lock a live process holds (as Terraform's force-unlock: the process keeps running,
no longer excluding anybody, and its release leaves its successor's lock alone).

The service scheduler (`reconcile`) acts on the fleet for seconds at a time but writes state
for milliseconds, so it holds the state lock only to write; the fleet lock keeps it and an
apply from acting on the fleet at once. Lock order: nobody blocks on the fleet lock while
holding the state lock. An apply takes the state lock, then only *tries* the fleet lock; if
a pass holds it, the apply lets go of the state lock (the pass must still write its
results), waits for the fleet lock, then takes the state lock again. A pass takes the fleet
lock, then the state lock for each write. So no two processes ever wait on each other.

A state lock held by a reconcile is about to be released, so `acquire` waits for one up to
RECONCILE_GRACE seconds even with a timeout of 0: a `plan` beside `reconcile -watch` never
fails for a lock it would have had a moment later.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from fgform.errors import FgformError, StateLockedError
from fgform.state.lockfile import (
    HeldLock,
    LockInfo,
    is_held,
    new_info,
    open_lock_file,
    read_info,
    read_record,
    same_file,
    try_lock,
)
from fgform.state.paths import ensure_state_dir

__all__ = ["LockInfo", "StateLock", "FleetLock", "Busy", "acquire", "force_unlock",
           "read_lock", "try_fleet_lock", "acquire_fleet_lock", "fleet_lock_holder",
           "try_begin_pass", "begin_pass", "lock_path_for", "fleet_lock_path"]

LOCK_SUFFIX = ".lock"
FLEET_SUFFIX = ".fleet"

RECONCILE = "OperationTypeReconcile"
# Operations a reconcile pass may start beside: they never change the fleet (a plan only
# reads it; another reconcile's state write is about to end and its fleet lock is what
# counts).
_PASS_BESIDE = frozenset({"OperationTypePlan", RECONCILE})
# How long anyone waits for a state lock a reconcile holds, whatever its -lock-timeout: the
# scheduler holds it only to write a service's record (milliseconds).
RECONCILE_GRACE = 5.0

# Polling starts fast (a short apply in another terminal often finishes within a second) and
# backs off so that a long wait does not spin.
_POLL_FIRST = 0.02
_POLL_MAX = 0.25
# A holder writes its record right after taking the lock: a lock held without a readable
# record is waited for this long before it is reported as such.
_UNREADABLE_GRACE = 0.5
# Even with a timeout of 0, a busy lock is tried again for this long: `read_lock` probes it
# by taking a shared flock for a moment, which must not make an acquirer fail.
_PROBE_GRACE = 0.05
# Waiters for the fleet lock poll faster than for the state lock: the lock is free the moment
# a pass ends, and an apply waiting for it should win it before the scheduler's next pass.
_FLEET_POLL_MAX = 0.05


# -- the state lock ---------------------------------------------------------------------------

@dataclass(slots=True)
class StateLock(HeldLock):
    """The state lock this process holds; `warnings` says whose lock it took over."""

    warnings: list[str] = field(default_factory=list)

    @property
    def lock_path(self) -> Path:
        return self.path


def lock_path_for(state_path: str | os.PathLike[str]) -> Path:
    p = Path(state_path)
    return p.with_name(p.name + LOCK_SUFFIX)


def acquire(state_path: str | os.PathLike[str], operation: str,
            timeout: float = 0.0) -> StateLock:
    """Take the lock of `state_path` for `operation`, waiting up to `timeout` seconds.

    Raises StateLockedError, naming the holder, when the lock is still held at the deadline.
    A lock left by a holder that exited without letting go is taken, with a warning naming
    it. A lock held by a reconcile is waited for at least RECONCILE_GRACE seconds.
    """
    state_path = Path(state_path).absolute()
    lock_path = lock_path_for(state_path)
    ensure_state_dir(lock_path.parent)
    info = new_info(state_path, operation)
    started = time.monotonic()
    deadline = max(started + max(0.0, timeout), started + _PROBE_GRACE)
    delay = _POLL_FIRST
    unreadable_since: float | None = None
    while True:
        held = try_lock(lock_path, info, "state lock")
        if held is not None:
            return StateLock(held.path, held.fd, info, held.previous,
                             warnings=_taken_over(held.previous))
        record = read_record(lock_path)
        now = time.monotonic()
        if isinstance(record, LockInfo):
            unreadable_since = None
            until = _deadline_for(record, started, deadline)
            if now >= until:
                raise _locked_error(record)
        elif not os.path.lexists(lock_path):
            continue  # released between our attempt and the read: try again at once
        else:
            # Its holder is writing the record now, or wrote a damaged one.
            unreadable_since = unreadable_since or now
            until = max(deadline, unreadable_since + _UNREADABLE_GRACE)
            if now >= until:
                why = record or "it is empty"
                raise StateLockedError(
                    f"Error acquiring the state lock\n\nThe lock file {lock_path} is held, "
                    f"but its record cannot be read ({why}), so its holder is unknown.",
                    hint=f"Wait for the fgform command holding it to end; if it hangs, "
                         f"stop it, or delete {lock_path} to break its lock.",
                )
        time.sleep(min(delay, max(until - now, _POLL_FIRST)))
        delay = min(delay * 2, _POLL_MAX)


def _taken_over(previous: LockInfo | str | None) -> list[str]:
    """The warning for a lock whose last holder exited without letting go."""
    if previous is None:
        return []
    if isinstance(previous, LockInfo):
        who = (f": {previous.Operation!r} by {previous.Who} (pid {previous.Pid}, created "
               f"{previous.Created}, ID {previous.ID}); that process")
    else:
        who = f" whose record cannot be read ({previous}); the process that held it"
    return [f"Took over a stale state lock{who} ended without releasing it. It may have "
            "stopped part-way through an apply; `fgform plan` shows what is left to do."]


def _deadline_for(holder: LockInfo, started: float, deadline: float) -> float:
    """When to stop waiting for `holder`: a reconcile writes for milliseconds, so its lock
    is worth a short wait even when the caller asked for none."""
    if holder.Operation == RECONCILE:
        return max(deadline, started + RECONCILE_GRACE)
    return deadline


def _locked_error(holder: LockInfo) -> StateLockedError:
    err = StateLockedError(
        "Error acquiring the state lock\n\n"
        "Error message: the state is locked by another process\n"
        f"{holder.describe()}\n\n"
        "fgform acquires a state lock to protect the state from being written\n"
        "by multiple users at the same time. Please resolve the issue above and try\n"
        "again: wait for the other command to finish, or raise -lock-timeout. If the\n"
        "holder hangs and cannot be stopped, break its lock with\n"
        f"`fgform force-unlock {holder.ID}`.",
    )
    err.lock_info = holder  # type: ignore[attr-defined]
    return err


def force_unlock(state_path: str | os.PathLike[str], lock_id: str) -> LockInfo:
    """Remove the lock of `state_path` if its ID is `lock_id`; return the record removed.

    A record left by a holder that is gone is simply removed. A lock a live process holds
    is broken: its file goes, so the next command locks a new one while the old holder
    runs on (as Terraform's force-unlock, for a holder that hangs).
    """
    lock_path = lock_path_for(Path(state_path).absolute())
    try:
        fd = open_lock_file(lock_path, "state lock", create=False)
    except StateLockedError as e:
        raise FgformError(f"Failed to unlock state: the lock file {lock_path} cannot be read "
                          f"({getattr(e, 'why', e.message)})", hint=e.hint) from e
    if fd is None:
        raise FgformError(f"Failed to unlock state: no lock is held on {state_path}")
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pass  # held by a live process: broken below if the ID matches
        holder = read_record(lock_path)
        if holder is None:
            raise FgformError(f"Failed to unlock state: no lock is held on {state_path}")
        if not isinstance(holder, LockInfo):
            raise FgformError(
                f"Failed to unlock state: the lock file {lock_path} cannot be read "
                f"({holder})",
                hint=f"If no fgform command is running on this state, delete {lock_path}.",
            )
        if holder.ID != lock_id:
            raise FgformError(
                f"Failed to unlock state: lock ID {lock_id!r} does not match the existing "
                f"lock\n\n{holder.describe()}",
                hint="Pass the ID shown in the 'Error acquiring the state lock' message.",
            )
        if not same_file(fd, lock_path):
            raise FgformError(
                f"Failed to unlock state: the lock on {state_path} changed meanwhile")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock_path)
        return holder
    finally:
        os.close(fd)


def read_lock(state_path: str | os.PathLike[str]) -> LockInfo | None:
    """Who holds the lock of `state_path` now, if anyone (None also while its record cannot
    be read)."""
    lock_path = lock_path_for(Path(state_path).absolute())
    try:
        if not is_held(lock_path, "state lock"):
            return None
    except StateLockedError:
        return None  # not a lock file anybody could hold
    return read_info(lock_path)


# -- the fleet lock ---------------------------------------------------------------------------

class FleetLock(HeldLock):
    """The fleet lock this process holds."""

    __slots__ = ()


def fleet_lock_path(state_path: str | os.PathLike[str]) -> Path:
    p = Path(state_path)
    return p.with_name(p.name + FLEET_SUFFIX)


@dataclass(frozen=True, slots=True)
class Busy:
    """Why a reconcile pass may not start now: who holds the state lock (an apply...), or
    who acts on the fleet (`acting`; holder None while it has not said who it is yet)."""

    holder: LockInfo | None
    acting: bool

    @property
    def key(self) -> str:
        """The same for one process, whichever of its locks it is found holding."""
        return f"{self.holder.Who}/{self.holder.Pid}" if self.holder is not None else "?"

    def summary(self) -> str:
        if self.holder is not None:
            return self.holder.summary()
        return "another fgform process acting on the fleet"


def try_fleet_lock(state_path: str | os.PathLike[str], operation: str) -> FleetLock | None:
    """Take the fleet lock of `state_path` for `operation` if nobody holds it; None if
    somebody does (`fleet_lock_holder` then says who)."""
    state_path = Path(state_path).absolute()
    path = fleet_lock_path(state_path)
    ensure_state_dir(path.parent)
    held = try_lock(path, new_info(state_path, operation), "fleet lock")
    return None if held is None else FleetLock(held.path, held.fd, held.info, held.previous)


def fleet_lock_holder(state_path: str | os.PathLike[str]) -> LockInfo | None:
    """Who holds the fleet lock, when a `try_fleet_lock` just failed; None when the holder
    has not written its info yet (or has just let go)."""
    return read_info(fleet_lock_path(Path(state_path).absolute()))


def acquire_fleet_lock(state_path: str | os.PathLike[str], operation: str, timeout: float,
                       *, patience: float = 0.0,
                       on_wait: Callable[[LockInfo], None] | None = None) -> FleetLock:
    """Take the fleet lock, waiting up to `timeout` seconds, or up to `patience` seconds
    while its holder is a reconcile pass (or has not said who it is yet): an apply waits for
    the pass in progress whatever its -lock-timeout.

    `on_wait` is called once for each holder waited for. Raises StateLockedError naming the
    holder at the deadline.
    """
    started = time.monotonic()
    delay = _POLL_FIRST
    told: str | None = None
    while True:
        got = try_fleet_lock(state_path, operation)
        if got is not None:
            return got
        holder = fleet_lock_holder(state_path)
        if holder is not None and holder.ID != told and on_wait is not None:
            on_wait(holder)
            told = holder.ID
        # A holder that has not written its info yet is about to: waited for as either.
        limit = timeout if holder is not None and holder.Operation != RECONCILE else \
            patience if holder is not None else max(timeout, patience)
        now = time.monotonic()
        if now - started >= limit:
            raise _fleet_busy_error(holder, Path(state_path))
        time.sleep(min(delay, max(started + limit - now, _POLL_FIRST)))
        delay = min(delay * 2, _FLEET_POLL_MAX)


def try_begin_pass(state_path: str | os.PathLike[str]) -> FleetLock | Busy:
    """The fleet lock for a reconcile pass, unless another operation that changes the fleet
    holds the state lock (an apply: the pass waits for it rather than act on a fleet it is
    changing) or holds the fleet lock. A plan, a reconcile's write or a dead holder's lock
    is no reason to wait."""
    holder = read_lock(state_path)
    if holder is not None and holder.Operation not in _PASS_BESIDE:
        return Busy(holder, acting=False)
    got = try_fleet_lock(state_path, RECONCILE)
    if got is None:
        return Busy(fleet_lock_holder(state_path), acting=True)
    return got


def begin_pass(state_path: str | os.PathLike[str], timeout: float,
               on_wait: Callable[[Busy], None] | None = None) -> FleetLock:
    """`try_begin_pass` until it succeeds, waiting up to `timeout` seconds; `on_wait` is
    called once for each holder waited for. Raises StateLockedError naming the holder."""
    deadline = time.monotonic() + max(0.0, timeout)
    delay = _POLL_FIRST
    told: str | None = None
    while True:
        got = try_begin_pass(state_path)
        if isinstance(got, FleetLock):
            return got
        # A holder not named yet (its record is written just after its flock is taken, and
        # emptied just before it is let go) is told once it is, as acquire_fleet_lock does:
        # otherwise one holder is reported twice, once as "?".
        if got.holder is not None and got.key != told and on_wait is not None:
            on_wait(got)
            told = got.key
        now = time.monotonic()
        if now >= deadline:
            if got.acting or got.holder is None:
                raise _fleet_busy_error(got.holder, Path(state_path))
            raise _locked_error(got.holder)
        time.sleep(min(delay, max(deadline - now, _POLL_FIRST)))
        delay = min(delay * 2, _POLL_MAX)


def _fleet_busy_error(holder: LockInfo | None, state_path: Path) -> StateLockedError:
    info = holder.describe() if holder is not None else \
        "Lock Info:\n  (its holder has not recorded who it is yet)"
    err = StateLockedError(
        "Error acquiring the fleet lock\n\n"
        "Error message: another fgform process is changing the fleet of this state\n"
        f"{info}\n\n"
        "One fgform process at a time starts and stops the tasks of a state: an apply or\n"
        "destroy for its whole run, a reconcile pass while it replaces tasks. Wait for it\n"
        "to finish, or raise -lock-timeout. The lock goes when its holder exits, so it is\n"
        f"never left behind ({fleet_lock_path(state_path.absolute())}).",
    )
    err.lock_info = holder  # type: ignore[attr-defined]
    return err
