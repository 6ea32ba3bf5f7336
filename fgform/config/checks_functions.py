"""Calls to functions that do not exist, found by reading the expressions, not running them.

Evaluation only meets the calls it runs: one in the branch of a conditional not taken, in a
for-expression over an empty collection, in a local nothing uses, or in a template
directive skipped would pass. `validate` reads every expression of a module instead
(resource bodies, count and for_each, locals, outputs, module arguments, variable defaults
and validation rules) and reports each call of an unknown name where it is written, with the
closest function name as a hint, in the evaluator's words (so the walk's report of the same
call is the same diagnostic, deduplicated). Calls inside `can(...)` and `try(...)` are left
to evaluation, which turns their errors into values, as Terraform does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterator

from fgform.config import ast
from fgform.config.model import Body, Module
from fgform.errors import Diagnostic
from fgform.suggest import did_you_mean

# Functions whose arguments' errors are values: Terraform 1.11 evaluates
# `can(nosuch(1))` to false and `try(nosuch(1), 2)` to 2 (feature detection), so a call
# inside them is not reported.
CATCHING = frozenset({"can", "try"})


def check_unknown_functions(module: Module, known: Collection[str]) -> list[Diagnostic]:
    """One error for each call in `module`'s expressions to a name not in `known`."""
    diags: list[Diagnostic] = []
    for node in _expressions(module):
        for call in calls(node):
            if call.name not in known:
                diags.append(Diagnostic.error(
                    "Call to unknown function",
                    f'There is no function named "{call.name}".', call.range,
                    hint=did_you_mean(call.name, known)))
    return diags


def calls(node: ast.Node) -> Iterator[ast.Call]:
    """Every function call in the expression `node`, nested ones too (iteratively: an
    expression may nest thousands of levels deep)."""
    stack: list[object] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, (tuple, list)):
            stack.extend(reversed(item))
            continue
        if not isinstance(item, ast.Node):
            continue  # template text, names, flags
        if isinstance(item, ast.Call):
            yield item
            if item.name in CATCHING:
                continue
        for f in dataclasses.fields(item):
            if f.name != "range":
                stack.append(getattr(item, f.name))


def _expressions(module: Module) -> Iterator[ast.Node]:
    for var in module.variables.values():
        if var.default is not None:
            yield var.default
        for v in var.validations:
            yield v.condition
            yield v.error_message
    for local in module.locals.values():
        yield local.expr
    for out in module.outputs.values():
        yield out.expr
    for res in module.resources.values():
        yield from (n for n in (res.count, res.for_each) if n is not None)
        yield from _body_expressions(res.body)
    for mc in module.module_calls.values():
        yield from (n for n in (mc.count, mc.for_each) if n is not None)
        yield from (a.expr for a in mc.inputs.values())


def _body_expressions(body: Body) -> Iterator[ast.Node]:
    stack = [body]
    while stack:
        b = stack.pop()
        yield from (a.expr for a in b.attributes.values())
        yield from (a.expr for a in b.duplicate_attributes)
        stack.extend(reversed([blk.body for blk in b.blocks]))
