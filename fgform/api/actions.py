"""The table of ECS actions the server answers: for each, its handler and the resources it
acts on (what authorization checks). Action modules register themselves here; the server
imports `fgform.api.handlers` once, which imports them all."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fgform.api.arns import Identity

# The X-Amz-Target prefix of ECS's JSON 1.1 protocol.
TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113."


@dataclass
class ApiContext:
    """What a handler acts with: the configuration directory (its state and workspace),
    the fleet (the same `Fleet` the command line builds), the ARNs' identity, and how long a
    write waits for the state lock before answering ThrottlingException."""

    dir: Path
    fleet: Any  # fgform.fleet.fleet.Fleet
    identity: Identity = field(default_factory=Identity)
    workspace: str | None = None
    state_path: str | None = None
    lock_timeout: float = 30.0
    log: Callable[[str], None] | None = None


@dataclass(frozen=True, slots=True)
class Target:
    """One resource a request acts on, as authorization sees it: its ARN (or "*" for
    actions AWS authorizes on every resource, such as ListClusters) and the `ecs:cluster`
    condition key's value (a cluster ARN), when the action has one."""

    resource: str
    cluster: str | None = None


Handler = Callable[[ApiContext, dict[str, Any]], dict[str, Any]]
Targets = Callable[[ApiContext, dict[str, Any]], list[Target]]


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """One ECS action: `handler(ctx, params) -> response` (may raise `ApiError`) and
    `targets(ctx, params)`, the resources authorized before the handler runs. `writes`:
    the action changes state or the fleet (declared with each action; nothing in the
    pipeline treats writes differently yet: they serialise in transact.py)."""

    name: str
    handler: Handler
    targets: Targets
    writes: bool = False


ACTIONS: dict[str, ActionSpec] = {}


def action(name: str, targets: Targets, *, writes: bool = False) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of ECS action `name`."""

    def register(fn: Handler) -> Handler:
        ACTIONS[name] = ActionSpec(name, fn, targets, writes)
        return fn

    return register
