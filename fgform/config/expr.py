"""The expression evaluator. (API contract; implementation in progress.)"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fgform.config.ast import Node, Reference
from fgform.errors import FgformError, SourceRange


class EvalError(FgformError):
    """An expression cannot be evaluated: the message says why, the range says where."""

    def __init__(self, message: str, range: SourceRange | None = None, *, hint: str = "",
                 summary: str = "Invalid expression") -> None:
        super().__init__(message, hint=hint)
        self.range = range
        self.summary = summary


@dataclass(slots=True)
class EvalContext:
    """What names resolve to while evaluating one expression.

    `resources` maps a resource type to {name: value}, where value is the object of a single
    instance, a list (count) or a dict (for_each); `modules` maps a call name to its outputs
    object (or list/dict of them). Anything may be UNKNOWN.
    """

    variables: dict[str, Any] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    modules: dict[str, Any] = field(default_factory=dict)
    each_key: Any = None
    each_value: Any = None
    has_each: bool = False
    count_index: int | None = None
    path_module: str = "."
    path_root: str = "."
    path_cwd: str = "."
    self_value: Any = None
    # Names bound by for-expressions and splats, innermost last (the evaluator manages it).
    bindings: dict[str, Any] = field(default_factory=dict)


def evaluate(node: Node, ctx: EvalContext) -> Any:
    """Evaluate an expression to a plain value (may contain UNKNOWN / Sensitive)."""
    raise NotImplementedError


def references(node: Node) -> list[Reference]:
    """Static references in an expression, in source order, without for-expression
    variables."""
    raise NotImplementedError
