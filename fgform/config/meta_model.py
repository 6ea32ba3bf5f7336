"""The decoded refactoring and assertion blocks of a module: `moved`, `removed`, `import`
and `check` (decoded by `config/meta_blocks.py`; used by the planner's `plan/moves.py`,
`plan/imports.py` and `plan/checks.py`). Plain data: nothing here parses or evaluates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fgform.addresses import Address, ModulePath, format_module
from fgform.config.ast import Node
from fgform.errors import SourceRange


@dataclass(frozen=True, slots=True)
class Endpoint:
    """What a `moved`/`removed`/`import` address names, relative to the module that declares
    it: a resource (`fg_cluster.a`, key None and `instance` False), one instance
    (`fg_cluster.a[0]`, `instance` True), or a module call or module instance
    (`module.x`, `module.x[0]`: `resource` None)."""

    module: ModulePath
    resource: Address | None = None  # type/name/key; its own module path is empty
    instance: bool = False  # the address named an instance key (or the module step did)

    def __str__(self) -> str:
        if self.resource is None:
            return format_module(self.module)
        return str(Address(self.resource.type, self.resource.name, self.resource.key,
                           self.module))

    @property
    def is_module(self) -> bool:
        return self.resource is None


@dataclass(slots=True)
class MovedBlock:
    """`moved { from = ..., to = ... }`."""

    from_: Endpoint
    to: Endpoint
    range: SourceRange


@dataclass(slots=True)
class RemovedBlock:
    """`removed { from = ..., lifecycle { destroy = false } }`."""

    from_: Endpoint
    destroy: bool
    range: SourceRange


@dataclass(slots=True)
class ImportBlock:
    """`import { to = ..., id = "..." }` (root module only)."""

    to: Address
    id: Node
    range: SourceRange
    to_range: SourceRange


@dataclass(slots=True)
class Assertion:
    condition: Node
    error_message: Node
    range: SourceRange


@dataclass(slots=True)
class CheckBlock:
    """`check "name" { assert { condition, error_message } ... }`."""

    name: str
    range: SourceRange
    asserts: list[Assertion] = field(default_factory=list)
