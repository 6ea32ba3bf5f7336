"""The shape of a plan, after Terraform's internal/plans: Action, Change, ResourceChange, Plan."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from fgform.addresses import Address, ModuleStep, format_module, parse_address
from fgform.state.model import StateFile
from fgform.values import Path


class Action(str, Enum):
    """What happens to one resource instance; the values are the symbols users know."""

    NOOP = " "
    CREATE = "+"
    UPDATE = "~"
    DELETE = "-"
    DELETE_THEN_CREATE = "-/+"
    CREATE_THEN_DELETE = "+/-"
    READ = "<="
    # `removed { lifecycle { destroy = false } }`: dropped from state, the object left alone.
    FORGET = "."

    @property
    def is_replace(self) -> bool:
        return self in (Action.DELETE_THEN_CREATE, Action.CREATE_THEN_DELETE)

    @property
    def json_actions(self) -> list[str]:
        """Terraform's JSON `change.actions` list."""
        return {
            Action.NOOP: ["no-op"],
            Action.CREATE: ["create"],
            Action.UPDATE: ["update"],
            Action.DELETE: ["delete"],
            Action.DELETE_THEN_CREATE: ["delete", "create"],
            Action.CREATE_THEN_DELETE: ["create", "delete"],
            Action.READ: ["read"],
            Action.FORGET: ["forget"],
        }[self]


class ActionReason(str, Enum):
    """Why an action was chosen; values are Terraform's JSON `action_reason` strings."""

    NONE = ""
    REPLACE_BECAUSE_CANNOT_UPDATE = "replace_because_cannot_update"
    REPLACE_BECAUSE_TAINTED = "replace_because_tainted"
    REPLACE_BY_REQUEST = "replace_by_request"
    DELETE_BECAUSE_NO_RESOURCE_CONFIG = "delete_because_no_resource_config"
    DELETE_BECAUSE_NO_MODULE = "delete_because_no_module"
    DELETE_BECAUSE_WRONG_REPETITION = "delete_because_wrong_repetition"
    DELETE_BECAUSE_COUNT_INDEX = "delete_because_count_index"
    DELETE_BECAUSE_EACH_KEY = "delete_because_each_key"
    READ_BECAUSE_CONFIG_UNKNOWN = "read_because_config_unknown"
    READ_BECAUSE_DEPENDENCY_PENDING = "read_because_dependency_pending"


class DiffKind(str, Enum):
    ADD = "add"
    CHANGE = "change"
    REMOVE = "remove"


@dataclass(slots=True)
class AttributeDiff:
    """One changed leaf or element; made by plan/diff.py so nothing else sees deepdiff."""

    path: Path
    kind: DiffKind
    before: Any = None
    after: Any = None
    forces_replacement: bool = False


@dataclass(slots=True)
class ResourceChange:
    """A planned change of one resource instance (or an observed drift, in Plan.drift)."""

    address: Address
    action: Action
    reason: ActionReason = ActionReason.NONE
    before: dict[str, Any] | None = None  # prior attributes (None when creating)
    after: dict[str, Any] | None = None  # planned attributes, with UNKNOWN where not yet known
    before_sensitive: list[Path] = field(default_factory=list)
    after_sensitive: list[Path] = field(default_factory=list)
    replace_paths: list[Path] = field(default_factory=list)
    diffs: list[AttributeDiff] = field(default_factory=list)
    dependencies: list[str] = field(default_factory=list)  # resource addresses it depends on
    create_before_destroy: bool = False
    prevent_destroy: bool = False
    # Why an update is planned although the configuration did not change (the schema's
    # needs_repair hook, e.g. a service running fewer tasks than desired_count).
    repair: str | None = None
    # The deposed key when this change is to a deposed object (always a DELETE: the old
    # object of an interrupted create_before_destroy replacement); "" for the current one.
    deposed: str = ""
    # The address the object had in the prior state when a `moved` block moved it (JSON
    # `previous_address`), and the id an `import` block adopts it by (JSON `importing`).
    previous_address: Address | None = None
    importing_id: str | None = None

    @property
    def shown(self) -> bool:
        """Whether the plan lists it: an action, or a move or import without one."""
        return (self.action is not Action.NOOP or self.previous_address is not None
                or self.importing_id is not None)


@dataclass(slots=True)
class CheckProblem:
    """One failed (or not yet known) assertion of a check block: its message, and where
    its condition is (file relative to the configuration directory, line, and the line's
    text)."""

    message: str
    filename: str
    line: int
    source: str = ""
    unknown: bool = False  # the condition is known only after apply
    # The error_message's line when it refers to sensitive values (and its text): not shown,
    # a second warning there says why, as in Terraform. 0: it does not.
    message_line: int = 0
    message_source: str = ""


@dataclass(slots=True)
class CheckResult:
    """A check block's result in one module instance: status "pass", "fail" or "unknown",
    as Terraform's JSON."""

    name: str
    status: str
    problems: list[CheckProblem] = field(default_factory=list)
    # The module instance (`module.m["a"].module.n`); "" in the root module. With
    # `no_instances`, the module call path (`module.m.module.n`) of a module that has none:
    # the check block, no instance of it (status "pass", as Terraform reports it).
    module: str = ""
    no_instances: bool = False

    @property
    def static_module(self) -> str:
        """The module call path without instance keys: `module.m.module.n`."""
        if not self.module:
            return ""
        return format_module(tuple(ModuleStep(s.name) for s in
                                   parse_address(f"{self.module}.t.n").module))


@dataclass(slots=True)
class OutputChange:
    name: str
    action: Action
    before: Any = None
    after: Any = None  # may hold UNKNOWN
    sensitive: bool = False


class PlanMode(str, Enum):
    NORMAL = "normal"
    DESTROY = "destroy"
    REFRESH_ONLY = "refresh-only"


@dataclass(slots=True)
class Plan:
    changes: list[ResourceChange]  # sorted by address; NOOPs included
    prior_state: StateFile | None  # the refreshed state the plan was made against
    mode: PlanMode = PlanMode.NORMAL
    drift: list[ResourceChange] = field(default_factory=list)
    output_changes: list[OutputChange] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)
    config_hash: str = ""
    targets: list[str] = field(default_factory=list)
    timestamp: str = ""
    errored: bool = False
    # lineage/serial of the state file as read from disk (before refresh): a saved plan is
    # stale when either has moved on.
    state_lineage: str | None = None
    state_serial: int | None = None
    warnings: list[str] = field(default_factory=list)
    # Terraform's JSON `configuration` section (made by the planner from the Config, kept
    # in saved plans so `show -json FILE` needs no configuration).
    configuration: dict[str, Any] | None = None
    # check blocks' results after planning (plan/checks.py)
    checks: list[CheckResult] = field(default_factory=list)

    def counts(self) -> tuple[int, int, int]:
        """(to add, to change, to destroy), counting a replacement as one add and one destroy."""
        add = sum(1 for c in self.changes if c.action in (Action.CREATE,) or c.action.is_replace)
        change = sum(1 for c in self.changes if c.action is Action.UPDATE)
        destroy = sum(1 for c in self.changes if c.action is Action.DELETE or c.action.is_replace)
        return add, change, destroy

    def imports(self) -> int:
        """How many objects `import` blocks adopt ("Plan: 1 to import, ...")."""
        return sum(1 for c in self.changes if c.importing_id is not None)

    @property
    def has_changes(self) -> bool:
        """Changes, moves, imports and forgets count (`-detailed-exitcode` exits 2), as in
        Terraform."""
        return any(c.shown for c in self.changes) or any(
            o.action is not Action.NOOP for o in self.output_changes)
