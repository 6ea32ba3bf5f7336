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
"""

from __future__ import annotations

import contextlib
import errno
import getpass
import json
import os
import socket
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from fgform import __version__
from fgform.errors import FgformError, StateLockedError
from fgform.jsonenc import decode_json
from fgform.safefile import read_regular, write_new
from fgform.state.store import MAX_PID, ensure_state_dir, pid_alive

LOCK_SUFFIX = ".lock"

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
    """
    state_path = Path(state_path).absolute()
    lock_path = lock_path_for(state_path)
    ensure_state_dir(lock_path.parent)
    info = LockInfo(
        ID=str(uuid.uuid4()),
        Operation=operation,
        Who=who(),
        Pid=os.getpid(),
        Created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        Path=str(state_path),
    )
    deadline = time.monotonic() + max(0.0, timeout)
    delay = _POLL_FIRST
    warnings: list[str] = []
    unreadable_since: float | None = None
    while True:
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
            if now >= deadline:
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
        time.sleep(min(delay, max(deadline - now, _POLL_FIRST)))
        delay = min(delay * 2, _POLL_MAX)


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


# -- internals -------------------------------------------------------------------------------

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
