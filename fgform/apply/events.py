"""Progress events of an apply, and the hooks protocol that receives them.

The executor never prints: it calls an `ApplyHooks` object with one small dataclass per
event, and `render/progress.py` turns those into Terraform's terminal lines or `-json` lines.
Events are dataclasses rather than positional arguments so that fields can be added (the
`deposed` flag, the `id` key) without breaking every implementation.

The executor calls every hook from ONE thread (the thread that called `apply_plan`), never
from a worker, so a hooks implementation needs no locking of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from fgform.addresses import Address
from fgform.fleet.driver import PartialApplyError
from fgform.plan.model import Action

# Drivers raise it (the fleet layer defines it, so it never imports the apply layer); the
# executor records its `attrs` in state before treating the operation as failed.
__all__ = ["PartialApplyError"]


@dataclass(frozen=True, slots=True)
class ApplyStarted:
    """An operation on one instance is starting (Terraform's `apply_start`)."""

    address: Address
    action: Action  # CREATE, UPDATE or DELETE: a replacement is two operations
    id_key: str = ""  # the prior object's id, shown for updates and deletes
    id_value: str = ""
    deposed: bool = False  # the old object of a create-before-destroy replacement
    deposed_key: str = ""  # its deposed key in state, when known


@dataclass(frozen=True, slots=True)
class ApplyProgress:
    """An operation is still running (Terraform's `apply_progress`, every 10 s)."""

    address: Address
    action: Action
    elapsed: float  # seconds since the operation started
    id_key: str = ""
    id_value: str = ""
    deposed: bool = False
    deposed_key: str = ""


@dataclass(frozen=True, slots=True)
class ApplyFinished:
    """An operation ended: `error` is None on success (`apply_complete`), else the
    exception (`apply_errored`). `id_value` is the new object's id after a create/update."""

    address: Address
    action: Action
    elapsed: float
    id_key: str = ""
    id_value: str = ""
    error: BaseException | None = None
    deposed: bool = False
    deposed_key: str = ""


@dataclass(frozen=True, slots=True)
class ApplyError:
    """One root-cause failure of an apply: reported once, its dependents are `skipped`."""

    address: Address
    action: Action
    message: str
    error: BaseException | None = None
    hint: str = ""


@dataclass(frozen=True, slots=True)
class SkippedChange:
    """A planned operation that did not run, and why (`reason` is a short phrase)."""

    address: Address
    action: Action
    reason: str  # e.g. "dependency fg_cluster.main failed", "apply was cancelled"
    deposed: bool = False
    deposed_key: str = ""


class ApplyHooks(Protocol):
    """What the executor reports while it runs. Every method is called from the thread that
    called `apply_plan`."""

    def pre_apply(self, event: ApplyStarted) -> None: ...

    def still_running(self, event: ApplyProgress) -> None: ...

    def post_apply(self, event: ApplyFinished) -> None: ...


class NullHooks:
    """Hooks that ignore everything (the default)."""

    def pre_apply(self, event: ApplyStarted) -> None:
        pass

    def still_running(self, event: ApplyProgress) -> None:
        pass

    def post_apply(self, event: ApplyFinished) -> None:
        pass
