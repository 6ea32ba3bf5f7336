"""What an expression is evaluated in (`EvalContext`: variables, locals, resources, bindings,
the function library) and what evaluating it may raise (`EvalError`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fgform.config import ast
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
    # The selected workspace (`fgform.workspace`, also `terraform.workspace`).
    workspace: str = "default"
    # Evaluating as an apply finishes (the outputs it records): timestamp() and uuid() are
    # known then, as in Terraform, where a plan shows them as known after apply.
    applying: bool = False
    self_value: Any = None
    # Names bound by for-expressions and splats, innermost last (the evaluator manages it).
    bindings: dict[str, Any] = field(default_factory=dict)
    # Iterations of for-expressions and template `for` directives so far (the evaluator
    # counts them against MAX_FOR_ITERATIONS).
    iterations: int = 0
    # The function library (config/functions.call), passed in by whoever builds the context:
    # the evaluator does not import it. None: function calls are not allowed.
    functions: FunctionCaller | None = None


# Evaluates a function call node in a context (the function library's entry point).
FunctionCaller = Callable[[ast.Call, EvalContext], Any]
