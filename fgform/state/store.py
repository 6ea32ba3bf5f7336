"""Reading and writing the state file: atomically, with a backup, and without needless churn.

The on-disk format is `StateFile.to_dict()` as JSON with two-space indentation and sorted
keys, so that two versions of a state diff line by line (`state/README.md` at the top of the
repository describes the layout; `fgform/state/schema.json` is its JSON Schema, and every
file read is checked against it before use).

A write never leaves a half-written state file behind, whatever moment the process dies at:
the new content goes to a fresh 0600 temporary file in the same directory (never a name that
exists, never through a symlink: `fgform.safefile`), is fsynced, and is renamed over the old
file (rename is atomic within one file system); the directory is then fsynced so that the
rename itself survives a power cut. The version being replaced is kept as `<path>.backup`,
a 0600 copy. A state path that is itself a symlink is refused.

Writers are expected to hold the state lock (`fgform.state.lock`); `StateStore.lock()` is a
shortcut for it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import marshal
import operator
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fgform.errors import FgformError
from fgform.jsonenc import decode_json, encode_json
from fgform.safefile import pid_alive, read_regular, refuse_symlink, staged
from fgform.schemacheck import Schema, SchemaError, packaged
from fgform.state.lock import (
    LockInfo,
    StateLock,
    acquire,
    acquire_fleet_lock,
    try_fleet_lock,
)
from fgform.state.model import STATE_VERSION, InstanceState, ResourceState, StateFile
from fgform.state.paths import BACKUP_SUFFIX, ensure_state_dir

FILE_MODE = 0o600

# Temporary files carry the writer's pid so that leftovers of a killed writer can be told
# apart from the file another live process is writing right now.
_TMP_NAME = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[0-9a-f]+\.tmp$")


# -- serialisation ---------------------------------------------------------------------------

def dumps_state(state: StateFile) -> str:
    """The state as the exact text `StateStore.write` puts on disk (ends with a newline)."""
    return _encode(state, state.serial, {})[0].decode("utf-8")


def _encode(state: StateFile, serial: int, cache: dict[bytes, bytes]
            ) -> tuple[bytes, dict[bytes, bytes]]:
    """The file's bytes for `state` with `serial` in place of its own, cheaply for apply.

    Apply writes state after every step and each step changes one resource, so a write must
    not cost the whole state's encoding: each resource's text is kept in `cache` under its
    `_resource_key` and only new or changed resources are encoded (through
    `StateFile.to_dict`, so the format stays the model's). Returns the bytes and the cache
    for the next write (only the current resources, so it never grows).
    """
    state._sort()  # resources and instances in canonical order, as to_dict() has them
    head = encode_json(dataclasses.replace(state, serial=serial, resources=[]).to_dict())
    if not state.resources:
        return head + b"\n", {}
    new_cache: dict[bytes, bytes] = {}
    parts = []
    for r in state.resources:
        key = _resource_key(r)
        frag = cache.get(key) if key is not None else None
        if frag is None:
            entry = dataclasses.replace(state, outputs={}, resources=[r]).to_dict()
            # Indented for its place in the list: JSON text has no newline but between tokens.
            frag = encode_json(entry["resources"][0]).replace(b"\n", b"\n    ")
        if key is not None:
            new_cache[key] = frag
        parts.append(frag)
    # Only top-level keys sit two spaces in: the empty list is the head's own.
    marker = b'\n  "resources": []'
    at = head.index(marker)
    return b"".join((head[:at], b'\n  "resources": [\n    ', b",\n    ".join(parts),
                     b"\n  ]", head[at + len(marker):], b"\n")), new_cache


def _resource_key(r: ResourceState) -> bytes | None:
    """An exact fingerprint of a resource: equal keys mean equal `to_dict()` entries.

    marshal (C, ~3x faster than compact JSON) keeps the exact type of every value (True is
    not 1, 1 is not 1.0) and refuses anything but plain built-in types: a subclass or an
    object gives no key, and such a resource is simply encoded afresh. Every field of the
    resource and of each instance goes in, so a new field can never be left out of the key.
    """
    try:
        return marshal.dumps((_resource_fields(r), list(map(_instance_fields, r.instances))), 2)
    except ValueError:  # unmarshallable value, or nested too deep
        return None


# Each returns a tuple of the fields' values (one C call per object).
_resource_fields = operator.attrgetter(
    *(f.name for f in dataclasses.fields(ResourceState) if f.name != "instances"))
_instance_plain = operator.attrgetter(
    *(f.name for f in dataclasses.fields(InstanceState) if f.name != "status"))


def _instance_fields(i: InstanceState) -> tuple[Any, ...]:
    # The status is an enum, which marshal refuses: its value goes in instead (without it
    # no resource would ever have a key, and every write would encode the whole state).
    return (_instance_plain(i), i.status.value)


def _set_serial(data: bytes, serial: int) -> bytes:
    """Replace the top-level serial in encoded state (cheaper than encoding again).

    Only top-level keys sit two spaces in, and `serial` sorts after the big `resources`
    list, so the last such line is found quickly from the end.
    """
    marker = b'\n  "serial": '
    start = data.rindex(marker) + len(marker)
    end = start
    while data[end:end + 1].isdigit():
        end += 1
    return b"%s%d%s" % (data[:start], serial, data[end:])


def state_schema() -> Schema:
    """The state file's JSON Schema (`fgform/state/schema.json`, shipped with the package)."""
    return packaged("fgform.state", "schema.json")


def _shown(value: Any) -> str:
    # Quoted short, for messages about the file's structure (no attribute values).
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:36] + "..."


# -- the store -------------------------------------------------------------------------------

@dataclass(slots=True)
class _DiskVersion:
    """What this store last saw on disk, so that the next write need not re-read it."""

    signature: tuple[int, ...]  # (device, inode, size, mtime): any other writer changes it
    data: bytes
    serial: int
    lineage: str
    canonical: bool  # written by us: equal content means equal bytes


def _signature(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class StateStore:
    """One state file on disk. Not thread-safe; cross-process safety comes from the lock.

    Keep one store for a command's whole run: it remembers the version it last read or
    wrote, which makes repeated writes (apply writes after every step) cheap.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._disk: _DiskVersion | None = None
        self._fragments: dict[bytes, bytes] = {}

    @property
    def backup_path(self) -> Path:
        return self.path.with_name(self.path.name + BACKUP_SUFFIX)

    def __repr__(self) -> str:
        return f"StateStore({str(self.path)!r})"

    def lock(self, operation: str, timeout: float = 0.0) -> StateLock:
        """Take the state lock for `operation`; use as `with store.lock("apply", 5):`.

        Refuses a state path that is a symbolic link before anything starts: a write would
        have to either follow it or replace it (forking the state in two), and finding out
        at the first write of an apply would be too late.
        """
        refuse_symlink(self.path, "state file")
        return acquire(self.path, operation, timeout)

    # -- read ------------------------------------------------------------------------------
    def read(self) -> StateFile | None:
        """The state on disk, or None when there is no state file yet."""
        loaded = self._load()
        if loaded is None:
            return None
        data, _ = loaded
        try:
            return StateFile.from_dict(data)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise self._corrupt(f"unexpected content ({type(e).__name__}: {e})") from e

    def _load(self) -> tuple[dict[str, Any], _DiskVersion] | None:
        """Parse the file; remember it as the version on disk."""
        try:
            raw, st = read_regular(self.path)
            sig = _signature(st)
        except FileNotFoundError:
            self._disk = None
            return None
        except IsADirectoryError as e:
            raise self._corrupt("it is a directory") from e
        except OSError as e:
            raise self._corrupt(e.strerror or str(e)) from e
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            line = raw[:e.start].count(b"\n") + 1
            raise self._corrupt(f"it is not valid UTF-8 (line {line}, byte {e.start + 1})") \
                from e
        try:
            data = decode_json(text)
        except ValueError as e:  # JSONDecodeError
            raise self._corrupt(f"it is not valid JSON ({e})") from e
        except RecursionError as e:
            raise self._corrupt("it is not a state file: its JSON is nested too deeply") from e
        if not isinstance(data, dict) or "lineage" not in data or "serial" not in data:
            raise self._corrupt("it is not an fgform state file (no lineage or serial)")
        version = data.get("version")
        if version is None:
            raise self._corrupt(f"it has no format version (this fgform writes version "
                                f"{STATE_VERSION})")
        if isinstance(version, bool) or not isinstance(version, int):
            raise self._corrupt(f"its format version {_shown(version)} is not a whole number "
                                f"(this fgform writes version {STATE_VERSION})")
        if version > STATE_VERSION:
            raise FgformError(
                f"state file {self.path} has format version {version!r}, newer than this "
                f"fgform understands ({STATE_VERSION})",
                hint=f"It was written by fgform {data.get('fgform_version', '?')}; "
                     "upgrade fgform to use it.",
            )
        try:
            state_schema().check(data)
        except SchemaError as e:
            raise self._corrupt(f"unexpected content at {e}") from e
        serial = int(data["serial"])
        self._disk = _DiskVersion(sig, raw, serial, str(data["lineage"]), canonical=False)
        return data, self._disk

    def _corrupt(self, why: str) -> FgformError:
        backup = self.backup_path
        if backup.exists():
            hint = (f"The previous version is in {backup}. If this file is damaged, inspect "
                    f"the backup and copy it over {self.path.name} to restore it.")
        else:
            hint = f"No backup ({backup.name}) exists; repair the file by hand."
        return FgformError(f"cannot read state file {self.path}: {why}", hint=hint)

    def _current(self) -> tuple[_DiskVersion | None, dict[str, Any] | None]:
        """The version on disk: from memory if the file is the one last seen, else parsed."""
        try:
            sig = _signature(os.stat(self.path))
        except FileNotFoundError:
            return None, None
        except OSError:
            sig = ()
        if self._disk is not None and self._disk.signature == sig:
            return self._disk, None
        try:
            loaded = self._load()
        except FgformError as e:
            # The damaged file would become the backup and push out the last good copy.
            raise FgformError(
                f"refusing to overwrite state file {self.path}: "
                f"{e.message.split(': ', 1)[-1]}",
                hint=e.hint,
            ) from e
        return (None, None) if loaded is None else (loaded[1], loaded[0])

    # -- write -----------------------------------------------------------------------------
    def write(self, state: StateFile, *, allow_lineage_change: bool = False) -> bool:
        """Write `state` if its content differs from the file's; return whether it wrote.

        Content is compared ignoring `serial`. On a change, `serial` becomes one more than
        the larger of the file's and `state`'s, and `state.serial` is updated to match. The
        lineage must match the file's (a different lineage means a different
        infrastructure: overwriting it would orphan every resource it tracks) unless
        `allow_lineage_change` is set.
        """
        refuse_symlink(self.path, "state file")
        lineage = str(state.lineage)
        disk, disk_data = self._current()
        if disk is not None:
            if disk.lineage != lineage and not allow_lineage_change:
                raise FgformError(
                    f"refusing to overwrite state file {self.path}: it belongs to lineage "
                    f"{disk.lineage!r}, the state being written to {lineage!r}",
                    hint="Two different states are pointed at one file. Check -state, the "
                         "backend path and the workspace.",
                )
            data, self._fragments = _encode(state, disk.serial, self._fragments)
            if data == disk.data or (not disk.canonical and self._same(disk, disk_data, state)):
                state.serial = disk.serial
                return False
            serial = max(disk.serial, state.serial) + 1
            data = _set_serial(data, serial)
        else:
            # The first write: serial 1 for a new state; a state carried over from elsewhere
            # keeps counting from its own serial.
            serial = state.serial + 1
            data, self._fragments = _encode(state, serial, self._fragments)
        sig = self._write_atomically(data, backup=None if disk is None else disk.data)
        state.serial = serial
        self._disk = _DiskVersion(sig, data, serial, lineage, canonical=True)
        return True

    @staticmethod
    def _same(disk: _DiskVersion, data: dict[str, Any] | None, state: StateFile) -> bool:
        # The file was not written by this store (or by hand): compare values, not text.
        old = data if data is not None else decode_json(disk.data.decode("utf-8"))
        new = state.to_dict()
        new["serial"] = disk.serial
        return bool(old == new)

    def _write_atomically(self, data: bytes, *, backup: bytes | None) -> tuple[int, ...]:
        """Replace the state file with `data`; `backup` (the content being replaced) goes
        to `<path>.backup` first."""
        directory = self.path.parent
        ensure_state_dir(directory)
        self._remove_dead_temps()
        with staged(self.path, data, FILE_MODE) as st:
            if backup is not None:
                self._write_backup(backup)
        _fsync_dir(directory)
        return _signature(st)

    def _write_backup(self, old: bytes) -> None:
        """Make `<path>.backup` a 0600 copy of `old`, without a moment where it is missing.

        A copy, not a hard link: a link would keep the old file's mode, which may be looser
        than 0600 (a state file made by hand, or by an older fgform). The copy is written
        under a fresh name and renamed over the backup, so a symlink planted at the backup's
        name is replaced, never followed.
        """
        # Not fsynced: apply writes state after every step, and an fsync per backup would
        # add ~3 ms to each. The state file itself is fsynced (and so is the directory) right
        # after; a power cut can at worst cost the backup.
        with staged(self.backup_path, old, FILE_MODE, fsync=False):
            pass

    def _remove_dead_temps(self) -> None:
        # A writer killed mid-write leaves its temporary file; sweep the ones whose writer is
        # gone so that they do not pile up (a live writer's file is left alone).
        try:
            names = os.listdir(self.path.parent)
        except OSError:
            return
        ours = {self.path.name, self.backup_path.name}
        for name in names:
            m = _TMP_NAME.match(name)
            if m and m.group("name") in ours and not pid_alive(int(m.group("pid"))):
                with contextlib.suppress(OSError):
                    os.unlink(self.path.parent / name)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # some platforms cannot open a directory; the rename is still atomic
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# The longest a writer waits for a reconcile pass that acts on the fleet, whatever its
# -lock-timeout: a pass ends when the tasks it started are healthy, within each service's
# steady_state_timeout (300 s by default).
RECONCILE_PASS_WAIT = 600.0


@contextlib.contextmanager
def writer_locks(store: StateStore, operation: str, timeout: float, *,
                 patience: float | None = None,
                 on_wait: Callable[[LockInfo], None] | None = None,
                 on_warning: Callable[[str], None] | None = None) -> Iterator[None]:
    """The state lock and the fleet lock, for whatever changes the fleet (apply, destroy,
    the API's writes), held until the block ends; StateLockedError naming the holder when
    either is still held after `timeout` seconds (the fleet lock: `patience` seconds while
    a reconcile pass holds it, RECONCILE_PASS_WAIT or `timeout` if longer by default).

    A reconcile pass in progress is waited for (`on_wait` is told whom): the state lock is
    let go meanwhile, since the pass takes it to record what it did before it lets go of the
    fleet (waiting while holding it would deadlock), and taken again once the fleet is ours.
    `on_warning` gets the warning of a state lock taken over from a dead holder.
    """
    def take() -> StateLock:
        got = store.lock(operation, timeout)
        for warning in got.warnings:
            if on_warning is not None:
                on_warning(warning)
        return got

    held = take()
    fleet: Any = None
    try:
        fleet = try_fleet_lock(store.path, operation)
        if fleet is None:
            held.release()
            wait = max(timeout, RECONCILE_PASS_WAIT) if patience is None else patience
            fleet = acquire_fleet_lock(store.path, operation, timeout, patience=wait,
                                       on_wait=on_wait)
            held = take()
        yield
    finally:
        if fleet is not None:
            fleet.release()
        held.release()
