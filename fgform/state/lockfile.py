"""Lock files: an exclusive `flock` on a file beside the state, and a record in the file
naming its holder (Terraform's lock info), for the messages of those who wait and for
`force-unlock`.

The lock is the `flock`, not the file: the kernel drops it when its holder exits, however it
exits (kill -9 included), so a lock is never left held by a process that is gone. A holder
removes the file as it lets go. A waiter that opened the file just before then gets the
`flock` of a file that no longer has the name; it notices (the name leads elsewhere) and
tries again on whatever is there now, so all holders lock the one file the name leads to.

A record left in the file by a holder that exited without letting go (killed, crashed) is
what the next holder finds when it takes the lock: `HeldLock.previous` says whose it was.
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
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from fgform import __version__
from fgform.errors import StateLockedError
from fgform.jsonenc import decode_json
from fgform.safefile import MAX_PID, write_all

# A record longer than this is not lock info (a real one is ~250 bytes): not read whole.
_MAX_RECORD = 64 * 1024
_OPEN_FLAGS = (getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
               | getattr(os, "O_NONBLOCK", 0))  # a FIFO planted there must not hang the open


@dataclass(slots=True)
class LockInfo:
    """Who holds a lock, as recorded in the lock file (Terraform's field names)."""

    ID: str
    Operation: str
    Who: str
    Pid: int
    Created: str
    Path: str
    Version: str = __version__

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
        # Shown to people as the holder's process: a value no process can have means the
        # file is damaged, and the record is not believed.
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
class HeldLock:
    """A lock this process holds: an open descriptor with an exclusive `flock`. Release it
    with `release()`, by leaving a `with` block, or by exiting.

    `previous` is what the file held when the lock was taken: None for a fresh (or empty)
    file, the record of a holder that exited without letting go, or why that record could
    not be read.
    """

    path: Path
    fd: int
    info: LockInfo
    previous: LockInfo | str | None = None
    released: bool = False

    def release(self) -> bool:
        """Let go: remove the file if its name still leads to ours, then unlock. Returns
        whether it did (after a `force-unlock` the name may lead to a successor's lock,
        which is left alone)."""
        if self.released:
            return False
        self.released = True
        try:
            ours = same_file(self.fd, self.path)
            if ours:
                with contextlib.suppress(OSError):
                    os.unlink(self.path)  # left behind, it is reused: the lock is the flock
            return ours
        finally:
            os.close(self.fd)  # the only descriptor of this open file: closing it unlocks

    def __enter__(self) -> HeldLock:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def who() -> str:
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry in some containers; any name beats failing
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def new_info(state_path: Path, operation: str) -> LockInfo:
    """A record for a lock this process is about to take."""
    return LockInfo(
        ID=str(uuid.uuid4()),
        Operation=operation,
        Who=who(),
        Pid=os.getpid(),
        Created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        Path=str(state_path),
    )


def try_lock(path: Path, info: LockInfo, what: str) -> HeldLock | None:
    """Take the lock at `path` and record `info` in it, if nobody holds it; None if somebody
    does. `what` names the lock in errors ("state lock")."""
    while True:
        fd = open_lock_file(path, what, create=True)
        assert fd is not None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        if same_file(fd, path):
            break
        os.close(fd)  # its holder removed it as we opened it: lock the one there now
    try:
        previous = _parse(os.pread(fd, _MAX_RECORD, 0))
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        write_all(fd, info.to_json().encode(), fsync=False)
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(fd)
        raise
    return HeldLock(path, fd, info, previous)


def is_held(path: Path, what: str) -> bool:
    """Whether some process holds the lock at `path` now.

    Finding out means taking a shared `flock` for a moment, so this is asked only where a
    lock file exists (a released lock has none); an acquirer that meets the probe waits a
    moment rather than fail at once (`acquire`).
    """
    fd = open_lock_file(path, what, create=False)
    if fd is None:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def read_record(path: Path) -> LockInfo | str | None:
    """The record in the lock file at `path`: its info, why it cannot be read, or None when
    there is no file (or it is empty: its holder has not written it yet)."""
    try:
        fd = os.open(path, os.O_RDONLY | _OPEN_FLAGS)
    except FileNotFoundError:
        return None
    except OSError as e:
        return _why(e)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return "it is a directory" if stat.S_ISDIR(os.fstat(fd).st_mode) else \
                "it is not a regular file"
        return _parse(os.pread(fd, _MAX_RECORD, 0))
    except OSError as e:
        return _why(e)
    finally:
        os.close(fd)


def read_info(path: Path) -> LockInfo | None:
    """The holder's info recorded at `path`, or None (no file, empty, or unreadable)."""
    got = read_record(path)
    return got if isinstance(got, LockInfo) else None


def open_lock_file(path: Path, what: str, *, create: bool) -> int | None:
    """The lock file, opened for reading and writing its record: created 0600 if missing and
    `create` (else None), never through a symbolic link, and only if it is a regular file."""
    flags = os.O_RDWR | _OPEN_FLAGS | (os.O_CREAT if create else 0)
    try:
        fd = os.open(path, flags, 0o600)
    except FileNotFoundError:
        if create:
            raise
        return None
    except OSError as e:
        raise _unusable(path, what, _why(e)) from e
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise _unusable(path, what, "it is not a regular file")
    return fd


def _unusable(path: Path, what: str, why: str) -> StateLockedError:
    err = StateLockedError(
        f"Error acquiring the {what}\n\nThe lock file {path} exists but cannot be read "
        f"({why}), so its holder is unknown.",
        hint=f"If no fgform command is running on this state, delete {path}.")
    err.why = why  # type: ignore[attr-defined]
    return err


def same_file(fd: int, path: Path) -> bool:
    """Whether `path` still names the file open as `fd`."""
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    here = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (here.st_dev, here.st_ino)


def _parse(raw: bytes) -> LockInfo | str | None:
    if not raw:
        return None
    try:
        return LockInfo.from_json(raw.decode("utf-8"))
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


def _why(e: OSError) -> str:
    if e.errno == errno.ELOOP:
        return "it is a symbolic link"
    if e.errno == errno.EISDIR:
        return "it is a directory"
    return e.strerror or str(e)
