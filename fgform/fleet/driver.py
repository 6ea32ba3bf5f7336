"""What the applier and the refresh need from the fleet: one driver per resource type.

The planner never imports this module's implementations: it sees only plain data (the live
snapshot). `fleet/docker/` implements these drivers on the real Docker engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from fgform.addresses import Address, parse_address
from fgform.errors import FgformError


@dataclass(slots=True)
class FleetContext:
    """What every driver call may need: who owns the objects, where config files live,
    and a way to report progress lines (`log`) without printing."""

    lineage: str  # the state lineage: every Docker object is labelled with it
    workspace: str = "default"
    config_dir: str = "."
    log: Callable[[str], None] = field(default=lambda _msg: None)
    # Attributes of resources already applied in this run or in state, by address string:
    # drivers that need another resource (a service needs its cluster and task definition)
    # look it up here.
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Instances that moved (`moved` blocks): address string -> the address their objects are
    # labelled with (state's `labelled_as`). Drivers that find objects by address use it.
    labels: dict[str, str] = field(default_factory=dict)

    def label_address(self, addr: Address) -> Address:
        """The address the objects of instance `addr` are labelled (and named) with."""
        text = self.labels.get(str(addr))
        if text is None:
            return addr
        return parse_address(text)


class PartialApplyError(FgformError):
    """A create or update that failed part-way, after changing the fleet.

    `attrs` are the resource's attributes as they now are (e.g. a service with the tasks that
    did start): the executor saves them to state before reporting the error, so the next plan
    starts from what exists and nothing is orphaned. `attrs=None` means nothing exists.
    """

    def __init__(self, message: str, attrs: dict[str, Any] | None = None, *,
                 hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.attrs = attrs


class Driver(Protocol):
    """Read / create / update / delete for one resource type.

    Attribute dicts are the schema's attributes (config plus computed), plain JSON data. Create
    and update return the full new attribute dict with every computed value known.

    A driver whose type can be imported (`import` blocks) also has
    `import_object(ctx, addr, id) -> dict | None`: the attributes of the existing object `id`
    names (None when there is none); `workflow.read_imports` looks for it with getattr.
    """

    type_name: str

    def read(self, ctx: FleetContext, items: dict[Address, dict[str, Any]]
             ) -> dict[Address, dict[str, Any] | None]:
        """Live attributes for each state instance (None: gone). One list call per object
        kind, not one per instance."""
        ...

    def create(self, ctx: FleetContext, addr: Address, planned: dict[str, Any]) -> dict[str, Any]:
        ...

    def update(self, ctx: FleetContext, addr: Address, prior: dict[str, Any],
               planned: dict[str, Any]) -> dict[str, Any]:
        ...

    def delete(self, ctx: FleetContext, addr: Address, prior: dict[str, Any], *,
               replacing: bool) -> None:
        """Remove the object; removing what is already gone is no error. `replacing`: a new
        object takes the instance's place (or already has), so data the new one reuses (a
        registry's volume) stays; False when the instance itself is destroyed."""
        ...
