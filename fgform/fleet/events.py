"""A service's event log and deployments, as ECS shows them, kept in the service's state.

Both are plain data (computed attributes of `fg_service`), so `fgform events` and
`fgform tasks` read them from state without touching Docker, and they survive the process.
The log is bounded: the newest `LIMIT` entries are kept.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

LIMIT = 100

IN_PROGRESS, COMPLETED, FAILED = "IN_PROGRESS", "COMPLETED", "FAILED"


class EventLog:
    """The events of one service: those from state, then this run's, newest last."""

    def __init__(self, service: str, prior: Any = None) -> None:
        self.service = service
        self.entries: list[dict[str, str]] = [
            e for e in (prior if isinstance(prior, list) else [])
            if isinstance(e, dict) and isinstance(e.get("message"), str)]

    def add(self, message: str) -> None:
        """Record `(service NAME) message` with the current UTC time."""
        at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.entries.append({"at": at, "message": f"(service {self.service}) {message}"})
        del self.entries[:-LIMIT]

    def to_attr(self) -> list[dict[str, str]]:
        return list(self.entries[-LIMIT:])


def tasks_phrase(ids: list[str]) -> str:
    """`2 tasks: (task 3f2a1b0c) (task 9e8d7c6b)`."""
    return f"{len(ids)} task{'s' if len(ids) != 1 else ''}: " + " ".join(
        f"(task {i})" for i in ids)


def deployments(tasks: list[dict[str, Any]], desired: int, primary: str, state: str,
                failed: int = 0, reason: str = "", failed_revision: str | None = None
                ) -> list[dict[str, Any]]:
    """The deployments of a service after a run, ECS-style: the PRIMARY one (the revision
    state names, with `state` as its rollout state), ACTIVE ones for other revisions that
    still run, and the failed revision (`failed_revision`, when it is not the primary one:
    rolled back) as INACTIVE with rollout state FAILED."""
    running = Counter(str(t.get("task_definition")) for t in tasks if isinstance(t, dict))
    out = [_deployment("PRIMARY", primary, desired, running.get(primary, 0),
                       failed if failed_revision in (None, primary) else 0, state,
                       reason if failed_revision in (None, primary) else "")]
    for rev in sorted(r for r in running if r != primary):
        is_failed = rev == failed_revision
        out.append(_deployment("ACTIVE", rev, 0, running[rev], failed if is_failed else 0,
                               FAILED if is_failed else COMPLETED,
                               reason if is_failed else ""))
    if failed_revision is not None and failed_revision != primary \
            and failed_revision not in running:
        out.append(_deployment("INACTIVE", failed_revision, 0, 0, failed, FAILED, reason))
    return out


def _deployment(status: str, revision: str, desired: int, running: int, failed: int,
                state: str, reason: str) -> dict[str, Any]:
    return {"status": status, "task_definition": revision, "desired_count": desired,
            "pending_count": 0, "running_count": running, "failed_tasks": failed,
            "rollout_state": state, "rollout_state_reason": reason}
