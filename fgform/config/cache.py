"""The parse cache: each configuration file's parsed Body and diagnostics, kept as plain JSON.

Parsing costs milliseconds per block, so the loader keeps each file's result between runs.
The cache lives in the user's own cache directory (`$XDG_CACHE_HOME/fgform`, else
`~/.cache/fgform`), never beside the configuration: whoever writes a configuration (a pull
request under review) could plant files there, and nothing fgform reads may run code. An
entry is data only, JSON rebuilt into the AST's own classes with every field's type
checked, so a planted, truncated, stale or foreign entry is at worst a miss. The directory
is used only if it is a real directory (not a symlink) owned by the current user and not
writable by group or others. `FGFORM_NO_CACHE=1` turns the cache off.
"""


from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from fgform.config.cache_codec import FORMAT, Entry, Unencodable, decode, encode

# Entries unused this long are removed when the cache is next written; a hit refreshes an
# entry's time when it is older than TOUCH_AFTER.
PRUNE_AFTER = 30 * 24 * 3600
TOUCH_AFTER = 24 * 3600




def cache_dir(environ: Mapping[str, str] = os.environ) -> Path | None:
    """The checked cache directory, created 0700 if missing, or None when the cache is off
    (`FGFORM_NO_CACHE`) or the directory is unsafe to use (a symlink, not a directory,
    another user's, writable by group or others) or cannot be made."""
    if environ.get("FGFORM_NO_CACHE", "") not in ("", "0"):
        return None
    base = environ.get("XDG_CACHE_HOME", "")
    try:
        # The XDG spec says a relative XDG_CACHE_HOME is invalid and must be ignored.
        root = Path(base) if os.path.isabs(base) else Path.home() / ".cache"
        d = root / "fgform"
        if not root.is_dir():
            root.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            os.mkdir(d, 0o700)
        except FileExistsError:
            pass
        st = os.lstat(d)
    except (OSError, RuntimeError):  # RuntimeError: Path.home() with no home directory
        return None
    if not _private_dir(st):
        return None
    return d


def _private_dir(st: os.stat_result) -> bool:
    return (stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid()
            and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH))


def entry_key(data: bytes, filename: str, versions: tuple[str, ...]) -> str:
    """The name of a file's entry: a hash of its bytes, its name (every range carries it)
    and the versions of everything that shapes the result."""
    h = hashlib.sha256()
    for part in (data, filename.encode("utf-8", "surrogatepass"), FORMAT.encode(),
                 *(v.encode() for v in versions)):
        h.update(part)
        h.update(b"\x00")
    return h.hexdigest()


class ParseCache:
    """Entries in one checked directory (see `cache_dir`); reads and writes never raise."""

    def __init__(self, dir: Path) -> None:
        self.dir = dir
        self._pruned = False

    @classmethod
    def open(cls, environ: Mapping[str, str] = os.environ) -> ParseCache | None:
        """The user's cache, or None when it is off or unsafe."""
        d = cache_dir(environ)
        return cls(d) if d is not None else None

    def _path(self, key: str) -> Path:
        return self.dir / f"{key}.json"

    def get(self, key: str, filename: str) -> Entry | None:
        """The entry stored under `key` for `filename`, or None for a missing, unreadable or
        invalid one."""
        try:
            fd = os.open(self._path(key), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
                         | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid():
                return None
            with os.fdopen(fd, "rb", closefd=False) as fh:
                raw = fh.read()
            if st.st_mtime < time.time() - TOUCH_AFTER:
                os.utime(fd)  # in use: keep it from being pruned (at most a write a day)
        except OSError:
            return None
        finally:
            os.close(fd)
        try:
            return decode(raw, key, filename)
        except Exception:  # planted, truncated, stale: a miss, whatever the bytes are
            return None

    def put(self, key: str, filename: str, value: Entry) -> None:
        """Store `value` under `key`: written to a fresh 0600 file, then renamed into place,
        so readers see the old entry or the whole new one. Failures are ignored."""
        try:
            data = encode(value, key, filename)
        except (Unencodable, RecursionError, ValueError, TypeError):
            return
        self.put_encoded(key, data)

    def put_encoded(self, key: str, data: bytes) -> None:
        """Store an entry already encoded (`cache_codec.encode`) under `key`, as `put`."""
        try:
            fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".tmp-", suffix=".json")
        except OSError:
            return
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, self._path(key))
        except OSError:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        if not self._pruned:
            self._pruned = True
            self.prune()

    def prune(self, now: float | None = None) -> None:
        """Remove entries (and temporary files of interrupted writes) unused for
        PRUNE_AFTER seconds: the cache is shared by every configuration the user has, and
        each edit of a file adds an entry. Runs once per process that writes, which parses
        anyway (milliseconds per block), so the scan is lost in that."""
        limit = (time.time() if now is None else now) - PRUNE_AFTER
        try:
            with os.scandir(self.dir) as it:
                old = [e.path for e in it if e.name.endswith(".json")
                       and e.is_file(follow_symlinks=False)
                       and e.stat(follow_symlinks=False).st_mtime < limit]
        except OSError:
            return
        for path in old:
            with contextlib.suppress(OSError):  # another process may have removed it
                os.unlink(path)


