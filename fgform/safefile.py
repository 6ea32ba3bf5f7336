"""Writing files that may hold secrets: fresh, private, replaced atomically, never through a
symbolic link.

State files, their backups, saved plans and the lock hold (or sit beside) every attribute
of every resource, secrets included. A writer that opened an existing name could be made to
write through a link planted there (into another user's file, or out of the directory), or
to reuse a file whose looser mode lets others read it. So every such file is created under
a fresh name with O_CREAT|O_EXCL|O_NOFOLLOW, given its mode exactly (the umask only narrows
the mode O_CREAT gets), written, fsynced, and renamed over the target: rename replaces a
link at the target name, it never writes through it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from fgform.errors import FgformError

PRIVATE_MODE = 0o600
# The largest pid any supported system hands out (Linux's pid_max ceiling is 2**22); a
# larger "pid" in a temporary file's name or a lock record is garbage, not a process.
MAX_PID = 2**31 - 1
# O_NOFOLLOW: a symlink at the name fails the open (ELOOP) instead of being followed;
# O_EXCL already refuses any existing name, links included, but says nothing about why.
CREATE_FLAGS = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
                | getattr(os, "O_CLOEXEC", 0))


def create_private(path: str | os.PathLike[str], mode: int = PRIVATE_MODE) -> int:
    """Create `path`, which must not exist (not even as a link), with exactly `mode`;
    return the open descriptor (write-only)."""
    fd = os.open(path, CREATE_FLAGS, mode)
    try:
        os.fchmod(fd, mode)
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_all(fd: int, data: bytes, *, fsync: bool = True) -> None:
    """Write all of `data` to `fd` (os.write may write less than asked) and fsync it."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    if fsync:
        os.fsync(fd)


def write_new(path: str | os.PathLike[str], data: bytes, mode: int = PRIVATE_MODE, *,
              fsync: bool = True) -> os.stat_result:
    """Create `path` (which must not exist, not even as a link) with exactly `mode`, holding
    `data`; return its stat. A failed write removes the half-written file."""
    fd = create_private(path, mode)
    try:
        try:
            write_all(fd, data, fsync=fsync)
            return os.fstat(fd)
        finally:
            os.close(fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise


def fresh_name(target: str | os.PathLike[str]) -> Path:
    """An unguessable temporary name beside `target`; the pid in it lets a sweep tell a dead
    writer's leftover from a live writer's file."""
    target = Path(target)
    return target.with_name(f".{target.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host (signal 0 probes, sends nothing):
    a sweep of `fresh_name` leftovers spares the files of live writers."""
    if not 0 < pid <= MAX_PID:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, it belongs to someone else
    except OSError:
        return False
    return True


def replace_file(target: str | os.PathLike[str], data: bytes,
                 mode: int = PRIVATE_MODE) -> os.stat_result:
    """Atomically make `target` a new file holding `data` with exactly `mode`.

    The content goes to a fresh temporary name in the target's directory (`fresh_name`,
    created O_EXCL|O_NOFOLLOW: a name nobody could have planted) and is renamed over `target`. A
    symlink at `target` is replaced, not followed: callers that must not lose a user's link
    call `refuse_symlink` first. Returns the new file's stat.
    """
    target = Path(target)
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        pass
    else:
        # Renaming over a device, FIFO or socket would replace it (as root, `-out=/dev/null`
        # would leave every other program a regular file for /dev/null).
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
            raise OSError(errno.EINVAL, "it exists and is not a regular file",
                          os.fspath(target))
    with staged(target, data, mode) as st:
        pass
    return st


@contextlib.contextmanager
def staged(target: str | os.PathLike[str], data: bytes, mode: int = PRIVATE_MODE, *,
           fsync: bool = True) -> Iterator[os.stat_result]:
    """`data` in a fresh temporary file beside `target` (`fresh_name`, `write_new`), renamed
    over `target` when the block ends; removed instead when the block raises, so a caller
    can do more work (a backup) between writing and renaming. Yields the file's stat."""
    tmp = fresh_name(target)
    st = write_new(tmp, data, mode, fsync=fsync)
    try:
        yield st
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_regular(path: str | os.PathLike[str], *, nofollow: bool = False,
                 offset: int = 0) -> tuple[bytes, os.stat_result]:
    """The bytes of the regular file at `path` (from `offset` on) and its stat.

    Opened non-blocking and checked with fstat before reading: a FIFO planted at a state
    or plan file's name would otherwise hang the command, a device could stream forever.
    A directory raises IsADirectoryError, anything else but a regular file OSError(EINVAL);
    with `nofollow`, a symlink raises OSError(ELOOP).
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    if nofollow:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), os.fspath(path))
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", os.fspath(path))
        with os.fdopen(os.dup(fd), "rb") as f:
            if offset:
                f.seek(offset)
            return f.read(), st
    finally:
        os.close(fd)


def refuse_symlink(path: str | os.PathLike[str], what: str) -> None:
    """Raise a clear error when `path` is a symbolic link (dangling or not).

    Used where replacing the link would silently split what the user set up (a state file
    linked elsewhere would fork into two) and writing through it is what must never happen.
    """
    p = Path(path)
    if not p.is_symlink():
        return
    try:
        to = f" (to {os.readlink(p)})"
    except OSError:
        to = ""
    raise FgformError(
        f"refusing to write {what} {p}: it is a symbolic link{to}, and fgform never writes "
        "through a link",
        hint="Remove the link, or point fgform at the file it links to.",
    )
