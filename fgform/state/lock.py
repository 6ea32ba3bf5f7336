"""The state lock: one writer at a time per state file, across processes.

Every command that writes state holds `<state path>.lock` for its whole run. The lock file
holds JSON describing the holder (Terraform's lock info):

    {"ID": "<uuid4>", "Operation": "apply", "Who": "user@host", "Pid": 1234,
     "Created": "2026-11-29T07:30:00.123456Z", "Path": "/abs/state/default.fgstate.json",
     "Version": "0.1.0"}

Taking the lock is a single atomic "create if absent": the holder's info is written to a
private temporary file first and then hard-linked to the lock name, which fails if the name
exists - the same guarantee as O_CREAT|O_EXCL, with the bonus that nobody can ever see a
lock file that is empty or half-written. Where hard links are not supported, the lock file
is created with O_CREAT|O_EXCL directly.

A lock whose holder was a process on this host that no longer exists is stale: the next
acquirer takes it over and reports that in `StateLock.warnings`. Anything else (another
host, a live pid) has to be waited for, or removed by `force_unlock` with its ID.

The service scheduler (`reconcile`) acts on the fleet for seconds at a time but writes state
for milliseconds, so it holds the state lock only to write. What keeps it and an apply from
acting on the fleet at once is a second lock, the fleet lock: an advisory `flock` on
`<state path>.fleet` (which holds the holder's info, and is removed on release), held by
whoever changes the fleet (an apply or destroy for its whole run, a reconcile pass while it
acts) and released by the kernel when its holder dies, so it is never stale. Lock order: nobody blocks on the fleet lock while holding the state lock.
An apply takes the state lock, then only *tries* the fleet lock; if a pass holds it, the
apply lets go of the state lock (the pass must still write its results), waits for the
fleet lock, then takes the state lock again. A pass takes the fleet lock, then the state
lock for each write. So no two processes ever wait on each other.

A state lock held by a reconcile is about to be released, so `acquire` waits for one up to
RECONCILE_GRACE seconds even with a timeout of 0: a `plan` beside `reconcile -watch` never
fails for a lock it would have had a moment later.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import getpass
import json
import os
import socket
import stat
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from fgform import __version__
from fgform.errors import FgformError, StateLockedError
from fgform.jsonenc import decode_json
from fgform.safefile import read_regular, write_all, write_new
from fgform.state.store import MAX_PID, ensure_state_dir, pid_alive

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
# A lock file that is unreadable for longer than this is reported, not waited on: the
# O_EXCL fallback writes its content right after creating it.
_UNREADABLE_GRACE = 0.5


@dataclass(slots=True)
class LockInfo:
    """Who holds a lock, as stored in the lock file (Terraform's field names)."""

    ID: str
    Operation: str
    Who: str
    Pid: int
    Created: str
    Path: str
    Version: str = __version__

    @property
    def host(self) -> str:
        return self.Who.rpartition("@")[2]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> LockInfo:
        d = decode_json(text)
        if not isinstance(d, dict):
            raise ValueError("the lock info is not a JSON object")
        if not isinstance(d.get("ID"), str) or not d["ID"]:
            raise ValueError("the lock info has no ID")
        pid = d.get("Pid", 0)
        # A pid that no process can have would make the lock look stale (and be taken over)
        # or crash the liveness probe: the file is damaged, and a person must look at it.
        if isinstance(pid, bool) or not isinstance(pid, int) or not 0 <= pid <= MAX_PID:
            shown = json.dumps(pid)
            raise ValueError(f"its Pid {shown if len(shown) <= 30 else shown[:26] + '...'} "
                             "is not a process id")
        return cls(
            ID=d["ID"],
            Operation=str(d.get("Operation", "")),
            Who=str(d.get("Who", "")),
            Pid=pid,
            Created=str(d.get("Created", "")),
            Path=str(d.get("Path", "")),
            Version=str(d.get("Version", "")),
        )

    def summary(self) -> str:
        """One line naming the holder: `OperationTypeApply by alice@laptop (pid 4242)`."""
        return f"{self.Operation or 'an operation'} by {self.Who or '?'} (pid {self.Pid})"

    def describe(self) -> str:
        """The "Lock Info" block of Terraform's message."""
        rows = [("ID", self.ID), ("Path", self.Path), ("Operation", self.Operation),
                ("Who", self.Who), ("Pid", str(self.Pid)), ("Version", self.Version),
                ("Created", self.Created)]
        return "Lock Info:\n" + "\n".join(f"  {k + ':':<11}{v}" for k, v in rows)


@dataclass(slots=True)
class StateLock:
    """A lock this process holds. Release it with `release()` or by leaving a `with` block."""

    lock_path: Path
    info: LockInfo
    warnings: list[str] = field(default_factory=list)
    released: bool = False

    def release(self) -> bool:
        """Remove the lock file if it is still ours; return whether it was.

        It may not be: someone may have force-unlocked it and taken it since. Removing their
        lock would let a third writer in, so a foreign lock is left alone.
        """
        if self.released:
            return False
        self.released = True
        current = _read_info(self.lock_path)
        if current is None or current.ID != self.info.ID:
            return False
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.lock_path)
        return True

    def __enter__(self) -> StateLock:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def lock_path_for(state_path: str | os.PathLike[str]) -> Path:
    p = Path(state_path)
    return p.with_name(p.name + LOCK_SUFFIX)


def who() -> str:
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry in some containers; any name beats failing
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def acquire(state_path: str | os.PathLike[str], operation: str,
            timeout: float = 0.0) -> StateLock:
    """Take the lock of `state_path` for `operation`, waiting up to `timeout` seconds.

    Raises StateLockedError, naming the holder, when the lock is still held at the deadline.
    Takes over a stale lock (holder dead, same host) and says so in the returned warnings.
    A lock held by a reconcile is waited for at least RECONCILE_GRACE seconds.
    """
    state_path = Path(state_path).absolute()
    lock_path = lock_path_for(state_path)
    ensure_state_dir(lock_path.parent)
    info = _new_info(state_path, operation)
    started = time.monotonic()
    deadline = started + max(0.0, timeout)
    delay = _POLL_FIRST
    warnings: list[str] = []
    unreadable_since: float | None = None
    while True:
        until = deadline
        if _try_create(lock_path, info):
            return StateLock(lock_path, info, warnings)
        holder = _read_info(lock_path)
        now = time.monotonic()
        if holder is not None:
            unreadable_since = None
            if _is_stale(holder) and _remove_if_same(lock_path, holder.ID):
                warnings.append(
                    f"Took over a stale state lock: {holder.Operation!r} by {holder.Who} "
                    f"(pid {holder.Pid}, created {holder.Created}, ID {holder.ID}); that "
                    "process no longer exists. It may have stopped part-way through an apply; "
                    "`fgform plan` shows what is left to do."
                )
                continue  # retry at once; another acquirer may still win the race
            until = _deadline_for(holder, started, deadline)
            if now >= until:
                raise _locked_error(holder)
        elif os.path.lexists(lock_path):  # a dangling symlink too: it blocks the link
            # Being created by the O_EXCL fallback (content follows), or garbage.
            unreadable_since = unreadable_since or now
            if now >= deadline and now - unreadable_since >= _UNREADABLE_GRACE:
                raise StateLockedError(
                    f"Error acquiring the state lock\n\nThe lock file {lock_path} exists "
                    f"but cannot be read ({_unreadable_why(lock_path)}), so its holder is "
                    "unknown.",
                    hint=f"If no fgform command is running on this state, delete {lock_path}.",
                )
        else:
            continue  # released between our attempt and the read: try again at once
        time.sleep(min(delay, max(until - now, _POLL_FIRST)))
        delay = min(delay * 2, _POLL_MAX)


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
        "holder is gone for good (killed on another machine), remove the lock with\n"
        f"`fgform force-unlock {holder.ID}`.",
    )
    err.lock_info = holder  # type: ignore[attr-defined]
    return err


def force_unlock(state_path: str | os.PathLike[str], lock_id: str) -> LockInfo:
    """Remove the lock of `state_path` if its ID is `lock_id`; return what was removed."""
    lock_path = lock_path_for(Path(state_path).absolute())
    holder = _read_info(lock_path)
    if holder is None:
        if lock_path.exists() or lock_path.is_symlink():
            raise FgformError(
                f"Failed to unlock state: the lock file {lock_path} cannot be read "
                f"({_unreadable_why(lock_path)})",
                hint=f"If no fgform command is running on this state, delete {lock_path}.",
            )
        raise FgformError(f"Failed to unlock state: no lock is held on {state_path}")
    if holder.ID != lock_id:
        raise FgformError(
            f"Failed to unlock state: lock ID {lock_id!r} does not match the existing lock\n\n"
            f"{holder.describe()}",
            hint="Pass the ID shown in the 'Error acquiring the state lock' message.",
        )
    if not _remove_if_same(lock_path, holder.ID):
        raise FgformError(f"Failed to unlock state: the lock on {state_path} changed meanwhile")
    return holder


def read_lock(state_path: str | os.PathLike[str]) -> LockInfo | None:
    """Who holds the lock of `state_path` now, if anyone (None also for an unreadable file)."""
    return _read_info(lock_path_for(Path(state_path).absolute()))


# -- the fleet lock ---------------------------------------------------------------------------

# Waiters for the fleet lock poll faster than for the state lock: the lock is free the moment
# a pass ends, and an apply waiting for it should win it before the scheduler's next pass.
_FLEET_POLL_MAX = 0.05


def fleet_lock_path(state_path: str | os.PathLike[str]) -> Path:
    p = Path(state_path)
    return p.with_name(p.name + FLEET_SUFFIX)


@dataclass(slots=True)
class FleetLock:
    """The fleet lock this process holds: an open descriptor with an exclusive `flock`.
    Release it with `release()` or by leaving a `with` block (or by exiting)."""

    path: Path
    fd: int
    info: LockInfo
    released: bool = False

    def release(self) -> None:
        """Remove the file and unlock it (a waiter that opened the old file finds it gone
        once it gets the lock, and tries again on a fresh one)."""
        if self.released:
            return
        self.released = True
        try:
            if _same_file(self.fd, self.path):
                os.unlink(self.path)
        except OSError:
            pass  # left behind, it is reused: the lock is the flock, not the file
        finally:
            os.close(self.fd)  # the only descriptor of this open file: closing it unlocks

    def __enter__(self) -> FleetLock:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


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
    while True:
        fd = _open_fleet(path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        if _same_file(fd, path):
            break
        os.close(fd)  # its holder removed it as we opened it: lock the one there now
    try:
        info = _new_info(state_path, operation)
        # Who holds it, for the messages of those who wait (the lock itself is the flock).
        os.ftruncate(fd, 0)
        write_all(fd, info.to_json().encode(), fsync=False)
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(fd)
        raise
    return FleetLock(path, fd, info)


def fleet_lock_holder(state_path: str | os.PathLike[str]) -> LockInfo | None:
    """Who holds the fleet lock, when a `try_fleet_lock` just failed; None when the holder
    has not written its info yet (or has just let go)."""
    return _read_info(fleet_lock_path(Path(state_path).absolute()))


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
    if holder is not None and holder.Operation not in _PASS_BESIDE and not _is_stale(holder):
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
        if got.key != told and on_wait is not None:
            on_wait(got)
            told = got.key
        now = time.monotonic()
        if now >= deadline:
            if got.acting or got.holder is None:
                raise _fleet_busy_error(got.holder, Path(state_path))
            raise _locked_error(got.holder)
        time.sleep(min(delay, max(deadline - now, _POLL_FIRST)))
        delay = min(delay * 2, _POLL_MAX)


def _same_file(fd: int, path: Path) -> bool:
    """Whether `path` still names the file open as `fd`."""
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    here = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (here.st_dev, here.st_ino)


def _open_fleet(path: Path) -> int:
    """The fleet lock file, opened for writing its holder's info: created 0600 if missing,
    never through a symbolic link, and only if it is a regular file."""
    flags = (os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
             | getattr(os, "O_NONBLOCK", 0))  # a FIFO planted there must not hang the open
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as e:
        why = "it is a symbolic link" if e.errno == errno.ELOOP else e.strerror or str(e)
        raise FgformError(f"cannot open the fleet lock file {path}: {why}",
                          hint=f"If no fgform command is running on this state, delete {path}."
                          ) from e
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise FgformError(f"cannot open the fleet lock file {path}: it is not a regular file",
                          hint=f"If no fgform command is running on this state, delete {path}.")
    return fd


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


# -- internals -------------------------------------------------------------------------------

def _new_info(state_path: Path, operation: str) -> LockInfo:
    return LockInfo(
        ID=str(uuid.uuid4()),
        Operation=operation,
        Who=who(),
        Pid=os.getpid(),
        Created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        Path=str(state_path),
    )


def _try_create(lock_path: Path, info: LockInfo) -> bool:
    data = info.to_json().encode()
    tmp = lock_path.with_name(f".{lock_path.name}.{os.getpid()}.{info.ID[:8]}.tmp")
    try:
        write_new(tmp, data)
        try:
            os.link(tmp, lock_path)
            return True
        except FileExistsError:
            return False
        except OSError as e:
            if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS):
                raise
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    return _try_create_excl(lock_path, data)


def _try_create_excl(lock_path: Path, data: bytes) -> bool:
    try:
        write_new(lock_path, data)
    except FileExistsError:
        return False
    return True


def _read_info(lock_path: Path) -> LockInfo | None:
    try:
        return LockInfo.from_json(_read_text(lock_path))
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return None


def _read_text(lock_path: Path) -> str:
    # O_NOFOLLOW: a symlink at the lock's name is not a lock anyone here took; reading
    # through it would let a planted link decide who holds the lock.
    return read_regular(lock_path, nofollow=True)[0].decode("utf-8")


def _unreadable_why(lock_path: Path) -> str:
    """Why `_read_info` found no lock info in the file, for the error message."""
    if lock_path.is_symlink():
        return "it is a symbolic link"
    try:
        LockInfo.from_json(_read_text(lock_path))
    except IsADirectoryError:
        return "it is a directory"
    except OSError as e:
        return e.strerror or str(e)
    except UnicodeDecodeError:
        return "it is not UTF-8 text"
    except json.JSONDecodeError:
        return "it is not JSON"
    except RecursionError:
        return "its JSON is nested too deeply"
    except ValueError as e:
        return str(e)
    except (KeyError, TypeError):
        return "it is not lock information"
    return "it changed while being read"


def _is_stale(holder: LockInfo) -> bool:
    # Only a holder on this host can be checked; a pid on another machine sharing the file
    # system says nothing here.
    return holder.host == socket.gethostname() and not pid_alive(holder.Pid)


def _remove_if_same(lock_path: Path, lock_id: str) -> bool:
    """Remove the lock file only if it still holds `lock_id`.

    Two processes may find the same stale lock; if both simply unlinked it, the slower one
    could delete the lock the faster one has just taken. So the file is first renamed aside
    (atomic: exactly one process gets any given file) and checked there; a lock that turns
    out to be someone else's is linked back.
    """
    aside = lock_path.with_name(f".{lock_path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.old")
    try:
        os.rename(lock_path, aside)
    except FileNotFoundError:
        return False
    try:
        got = _read_info(aside)
        if got is not None and got.ID == lock_id:
            return True
        with contextlib.suppress(FileExistsError):
            os.link(aside, lock_path)
        return False
    finally:
        with contextlib.suppress(OSError):
            os.unlink(aside)
