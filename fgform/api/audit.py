"""The API server's audit log: one JSON line per request, appended to
`<config dir>/.fgform/api-audit.log` (0600, never through a symbolic link), and read back
by `fgform api-log`.

A line says who (key name and access key id, or null when the request was not
authenticated), from where, what (action, the resources' ARNs, the request's parameters),
the authorization decision, the result (`ok` or the error code), the HTTP status and how
long it took. Parameters are redacted before they are written: every container
environment value (`environment[].value`) and every secret reference (`secrets[].valueFrom`)
anywhere in the request becomes "(redacted)". All environment values are redacted, not
only those a task definition marks sensitive, since the API request does not say which
are.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fgform.errors import FgformError
from fgform.safefile import PRIVATE_MODE, write_all

AUDIT_DIR = ".fgform"
AUDIT_FILE = "api-audit.log"
REDACTED = "(redacted)"

# Every way a request may carry a container's environment or secrets: containerDefinitions
# (RegisterTaskDefinition) and overrides.containerOverrides (RunTask) both use these names.
_LIST_FIELDS = {"environment": "value", "secrets": "valueFrom"}

# O_NONBLOCK: a FIFO planted at the log's name fails the open instead of hanging the
# server before the regular-file check (no effect on a regular file).
_OPEN_FLAGS = (os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
               | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0))


def audit_path(config_dir: Path) -> Path:
    """Where the audit log of a configuration directory is."""
    return config_dir / AUDIT_DIR / AUDIT_FILE


def now_rfc3339() -> str:
    """The current time, RFC 3339 in UTC with milliseconds (`2026-01-02T03:04:05.678Z`)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def redact(value: Any) -> Any:
    """A copy of request parameters with every environment value and secret reference
    replaced by "(redacted)" (at any depth)."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            field = _LIST_FIELDS.get(k)
            if field is not None and isinstance(v, list):
                out[k] = [_redact_entry(e, field) for e in v]
            else:
                out[k] = redact(v)
        return out
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def _redact_entry(entry: Any, field: str) -> Any:
    if isinstance(entry, dict):
        return {k: (REDACTED if k == field else redact(v)) for k, v in entry.items()}
    # Not ECS's shape (a string, a number): redact it whole rather than guess.
    return REDACTED


class AuditLog:
    """The append-only audit log of one server. Lines are written whole, each with one
    write() under a lock, so requests served on several threads never interleave."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._fd = open_log(path)

    def write(self, record: dict[str, Any]) -> None:
        """Append one request's record as a JSON line."""
        data = (json.dumps(record, separators=(",", ":"), sort_keys=False,
                           ensure_ascii=False, default=str) + "\n").encode("utf-8")
        with self._lock:
            write_all(self._fd, data, fsync=False)

    def close(self) -> None:
        """Close the log (the server is stopping)."""
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


def open_log(path: Path) -> int:
    """Open (creating it 0600 if needed) the audit log for appending. Refuses a symbolic
    link, anything but a regular file, a file of another user, and a file others may read
    (a log of who did what, with the requests' parameters, is private)."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, _OPEN_FLAGS, PRIVATE_MODE)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise FgformError(f"refusing to open the audit log {path}: it is a symbolic "
                              "link, and fgform never writes through a link") from None
        raise FgformError(f"cannot open the audit log {path}: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise FgformError(f"refusing to use the audit log {path}: not a regular file")
        if st.st_uid != os.geteuid():
            raise FgformError(f"refusing to use the audit log {path}: it belongs to another "
                              f"user (uid {st.st_uid})")
        if st.st_mode & 0o077:
            raise FgformError(
                f"refusing to use the audit log {path}: its mode "
                f"{stat.S_IMODE(st.st_mode):04o} lets other users read it",
                hint=f"Make it private (chmod 600 {path}) and start the server again.")
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_records(path: Path) -> list[dict[str, Any]]:
    """Every record of the log, in the order written (a line that is not JSON, such as a
    line cut short by a crash, is skipped)."""
    return list(_parse(path.read_bytes()))


def _parse(data: bytes) -> Iterator[dict[str, Any]]:
    for line in data.splitlines():
        rec = parse_line(line)
        if rec is not None:
            yield rec


def parse_line(line: bytes) -> dict[str, Any] | None:
    """One line's record, or None for a line that is not one (cut short by a crash)."""
    try:
        rec = json.loads(line)
    except ValueError:
        return None
    return rec if isinstance(rec, dict) else None


def format_record(rec: dict[str, Any]) -> str:
    """One record as a line of `fgform api-log`: time, status, result, decision, key,
    source, action, resources, duration."""
    key = rec.get("key") or {}
    who = key.get("name") or key.get("access_key_id") or "-"
    resources = ",".join(rec.get("resources") or []) or "-"
    duration = rec.get("duration_ms")
    took = f"{duration}ms" if duration is not None else "-"
    return "  ".join([
        str(rec.get("time", "-")), str(rec.get("status", "-")),
        f"{rec.get('result') or '-':<28}", f"{rec.get('decision') or '-':<15}",
        f"{who:<16}", str(rec.get("source") or "-"), str(rec.get("action") or "-"),
        resources, took,
    ])
