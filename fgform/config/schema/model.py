"""The schema machinery: attribute, block and resource schemas, and the helpers the
tables are written with."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# A type is one of: "string", "number", "bool", "any", "list(T)", "map(T)".


@dataclass(frozen=True, slots=True)
class AttrSchema:
    name: str
    type: str
    description: str = ""
    required: bool = False
    computed: bool = False  # set by fgform, not the user (optional+computed when both)
    optional: bool = True
    default: Any = None
    force_new: bool = False  # a change forces replacement
    sensitive: bool = False
    enum: tuple[Any, ...] = ()
    min: float | None = None
    max: float | None = None
    check: Callable[[Any], str | None] | None = None  # returns an error message or None
    check_doc: str = ""  # how `check` reads in the docs


@dataclass(frozen=True, slots=True)
class BlockSchema:
    name: str
    description: str = ""
    attributes: tuple[AttrSchema, ...] = ()
    blocks: tuple[BlockSchema, ...] = ()
    min_items: int = 0
    max_items: int | None = None  # 1 means a single block (stored as a dict)
    label: str | None = None  # name of the attribute that holds the block label, if labelled
    key: str | None = None  # attribute that identifies an element when diffing a list
    force_new: bool = False  # any change inside forces replacement

    def attr(self, name: str) -> AttrSchema | None:
        return next((a for a in self.attributes if a.name == name), None)

    def block(self, name: str) -> BlockSchema | None:
        return next((b for b in self.blocks if b.name == name), None)

    @property
    def single(self) -> bool:
        return self.max_items == 1


@dataclass(frozen=True, slots=True)
class ResourceSchema:
    type: str
    description: str
    body: BlockSchema
    # Computed attributes that become unknown whenever the resource is updated (a new task
    # definition revision gets a new `arn`).
    recomputed_on_update: tuple[str, ...] = ()
    # Computed attributes the planner can know before apply, from the evaluated config and
    # the configuration directory (the image context's hash). Pure: reads files, never Docker.
    plan_time: Callable[[dict[str, Any], str], dict[str, Any]] | None = None
    # Given the refreshed attributes of an instance, a reason why it must be updated even
    # though its configuration did not change (a service with a task removed by hand), or
    # None. The planner turns a reason into an in-place update that repairs the object.
    needs_repair: Callable[[dict[str, Any]], str | None] | None = None
    # Given an instance's attributes, paths of sensitive values that the attribute schema
    # cannot mark (values kept in a computed history), beside those it marks.
    sensitive_paths: Callable[[dict[str, Any]], list[tuple[str | int, ...]]] | None = None
    # False when the new object of a replacement would share its Docker identity with the
    # old one (a fixed container or network name, tasks adopted by address label): deleting
    # the deposed old object would then take the new one with it. The planner replaces such
    # a resource destroy-first even under create_before_destroy, and says why (the reason
    # below, completing "its new object ...").
    create_before_destroy_supported: bool = True
    create_before_destroy_conflict: str = ""

    def attr(self, name: str) -> AttrSchema | None:
        return self.body.attr(name)

    def block(self, name: str) -> BlockSchema | None:
        return self.body.block(name)


def attr(name: str, type_: str, desc: str = "", **kw: Any) -> AttrSchema:
    """An attribute of a table (optional unless `required=True, optional=False`)."""
    return AttrSchema(name, type_, desc, **kw)


def computed(name: str, type_: str, desc: str) -> AttrSchema:
    """An attribute fgform sets, never the user."""
    return AttrSchema(name, type_, desc, computed=True, optional=False)


ID = computed("id", "string", "The resource's identifier.")
