"""The decoded configuration: modules, variables, locals, outputs, resources, module calls.

The loader (`config/loader.py`, decoding blocks in `config/blocks.py`) fills these from files;
nothing here parses or evaluates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fgform.config.ast import Node, Reference
from fgform.config.meta_model import CheckBlock, ImportBlock, MovedBlock, RemovedBlock
from fgform.errors import SourceRange


@dataclass(slots=True)
class Attribute:
    name: str
    expr: Node
    range: SourceRange  # the whole `name = expr`
    name_range: SourceRange


@dataclass(slots=True)
class Block:
    type: str
    labels: list[str]
    body: Body
    range: SourceRange  # the block header line
    label_ranges: list[SourceRange] = field(default_factory=list)


@dataclass(slots=True)
class Body:
    attributes: dict[str, Attribute] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)
    # Attributes set twice in one body: python-hcl2 keeps the last silently, so the loader
    # records the earlier ones here for validation to report.
    duplicate_attributes: list[Attribute] = field(default_factory=list)
    range: SourceRange | None = None

    def blocks_of(self, type_: str) -> list[Block]:
        return [b for b in self.blocks if b.type == type_]


@dataclass(slots=True)
class Validation:
    condition: Node
    error_message: Node
    range: SourceRange


@dataclass(slots=True)
class Variable:
    name: str
    range: SourceRange
    type: Node | None = None  # a type expression: string, list(object({...})), ...
    default: Node | None = None
    has_default: bool = False
    description: str = ""
    sensitive: bool = False
    nullable: bool = True
    validations: list[Validation] = field(default_factory=list)


@dataclass(slots=True)
class Local:
    name: str
    expr: Node
    range: SourceRange


@dataclass(slots=True)
class Output:
    name: str
    expr: Node
    range: SourceRange
    description: str = ""
    sensitive: bool = False
    depends_on: list[Reference] = field(default_factory=list)


@dataclass(slots=True)
class Lifecycle:
    prevent_destroy: bool = False
    create_before_destroy: bool = False
    ignore_changes: list[str] = field(default_factory=list)  # attribute names, or ["all"]
    range: SourceRange | None = None


@dataclass(slots=True)
class Resource:
    """A `resource "TYPE" "NAME"` block; `body` no longer holds the meta-arguments."""

    type: str
    name: str
    body: Body
    range: SourceRange
    count: Node | None = None
    for_each: Node | None = None
    depends_on: list[Reference] = field(default_factory=list)
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    mode: str = "managed"  # "data" for a `data "TYPE" "NAME"` block
    provider: str = "fg"  # the provider configuration (`provider = fg.west`: "fg.west")
    provider_range: SourceRange | None = None  # where `provider = ...` is set

    @property
    def key(self) -> str:
        """`TYPE.NAME`, or `data.TYPE.NAME` for a data resource: its graph node id in its
        module."""
        return f"data.{self.type}.{self.name}" if self.mode == "data" else \
            f"{self.type}.{self.name}"


@dataclass(slots=True)
class ModuleCall:
    name: str
    source: str
    range: SourceRange
    inputs: dict[str, Attribute] = field(default_factory=dict)
    # `providers = { fg.west = fg.east }`: the child's provider configuration -> the
    # caller's it is given (config/blocks_terraform.py), and where it is set.
    providers: dict[str, str] = field(default_factory=dict)
    providers_range: SourceRange | None = None
    count: Node | None = None
    for_each: Node | None = None
    depends_on: list[Reference] = field(default_factory=list)


@dataclass(slots=True)
class Module:
    """One directory of `*.hcl`/`*.tf` files."""

    dir: Path
    files: list[Path] = field(default_factory=list)
    variables: dict[str, Variable] = field(default_factory=dict)
    locals: dict[str, Local] = field(default_factory=dict)
    outputs: dict[str, Output] = field(default_factory=dict)
    resources: dict[str, Resource] = field(default_factory=dict)  # "TYPE.NAME" -> Resource
    module_calls: dict[str, ModuleCall] = field(default_factory=dict)
    backend: dict[str, str] | None = None  # backend "local" { path = "..." }
    # Data resources by "data.TYPE.NAME" (config/blocks_data.py decodes them).
    data_resources: dict[str, Resource] = field(default_factory=dict)
    # Provider configurations ("fg", "fg.ALIAS") -> where declared.
    providers: dict[str, SourceRange] = field(default_factory=dict)
    # moved / removed / import / check blocks (config/meta_blocks.py)
    moved: list[MovedBlock] = field(default_factory=list)
    removed: list[RemovedBlock] = field(default_factory=list)
    imports: list[ImportBlock] = field(default_factory=list)
    checks: dict[str, CheckBlock] = field(default_factory=dict)


@dataclass(slots=True)
class Config:
    """A module and, by call name, the configurations of the modules it calls."""

    module: Module
    children: dict[str, Config] = field(default_factory=dict)
    path: tuple[str, ...] = ()  # call names from the root: () is the root module
    # The workspace selected for this run (set by whoever opens the working directory).
    workspace: str = "default"
