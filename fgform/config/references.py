"""Static references of an expression (`var.x`, `fg_service.web[0].id`): what the graph,
the planner and the checks read from the AST without evaluating anything."""

from __future__ import annotations

from typing import Any

from fgform.config import ast
from fgform.config.ast import Node, Reference
from fgform.errors import SourceRange


def references(node: Node, bound: frozenset[str] = frozenset()) -> list[Reference]:
    """Static references in an expression, in source order, without for-expression
    variables (nor the names in `bound`: a dynamic block's iterators).

    Each reference's parts run up to the first dynamic step: `fg_service.web[0].id` gives
    ("fg_service", "web", 0, "id") and `var.m[var.k]` gives ("var", "m") plus ("var", "k").
    """
    out: list[Reference] = []
    _collect(node, bound, out)
    return out


def _static_key(key: Node) -> tuple[bool, Any]:
    if isinstance(key, ast.Literal) and isinstance(key.value, (int, str)) \
            and not isinstance(key.value, bool):
        return True, key.value
    if isinstance(key, ast.Template) and all(isinstance(p, str) for p in key.parts):
        return True, "".join(key.parts)
    return False, None


def _traversal(node: Node) -> tuple[ast.Variable | None, list[Any], list[Node]]:
    """Split a traversal into its root, its static steps, and the dynamic key nodes."""
    chain: list[Node] = []
    cur = node
    while isinstance(cur, (ast.GetAttr, ast.Index)):
        chain.append(cur)
        cur = cur.target
    if not isinstance(cur, ast.Variable):
        return None, [], []
    chain.reverse()
    steps: list[Any] = []
    dynamic: list[Node] = []
    static = True
    for step in chain:
        if isinstance(step, ast.GetAttr):
            if static:
                steps.append(step.name)
            continue
        ok, key = _static_key(step.key)
        if static and ok:
            steps.append(key)
        else:
            static = False
            dynamic.append(step.key)
    return cur, steps, dynamic


def _collect(node: Any, bound: frozenset[str], out: list[Reference]) -> None:
    if isinstance(node, (ast.GetAttr, ast.Index, ast.Variable)):
        root, steps, dynamic = _traversal(node)
        if root is not None:
            if root.name not in bound:
                rng = root.range
                out.append(Reference((root.name, *steps), SourceRange(
                    rng.filename, rng.start_line, rng.start_col,
                    node.range.end_line, node.range.end_col)))
            for d in dynamic:
                _collect(d, bound, out)
            return
        # A traversal off a non-name (a call, a splat, a parenthesis): walk its parts.
        if isinstance(node, ast.GetAttr):
            _collect(node.target, bound, out)
        elif isinstance(node, ast.Index):
            _collect(node.target, bound, out)
            _collect(node.key, bound, out)
        return
    if isinstance(node, ast.For):
        _collect(node.collection, bound, out)
        inner = bound | {node.value_var} | ({node.key_var} if node.key_var else set())
        if node.key is not None:
            _collect(node.key, inner, out)
        _collect(node.value, inner, out)
        if node.condition is not None:
            _collect(node.condition, inner, out)
        return
    if isinstance(node, ast.TemplateFor):
        _collect(node.collection, bound, out)
        inner = bound | {node.value_var} | ({node.key_var} if node.key_var else set())
        for p in node.parts:
            _collect(p, inner, out)
        return
    if isinstance(node, ast.Splat):
        _collect(node.target, bound, out)
        _collect(node.each, bound, out)
        return
    if isinstance(node, ast.TemplateIf):
        _collect(node.condition, bound, out)
        for p in node.then_parts:
            _collect(p, bound, out)
        for p in node.else_parts:
            _collect(p, bound, out)
        return
    if isinstance(node, ast.Template):
        for p in node.parts:
            _collect(p, bound, out)
        return
    if isinstance(node, ast.Tuple):
        for item in node.items:
            _collect(item, bound, out)
        return
    if isinstance(node, ast.Object):
        for k, v in node.items:
            _collect(k, bound, out)
            _collect(v, bound, out)
        return
    if isinstance(node, ast.Call):
        for a in node.args:
            _collect(a, bound, out)
        return
    if isinstance(node, ast.Unary):
        _collect(node.operand, bound, out)
        return
    if isinstance(node, ast.Binary):
        # Down the left edge of an operator chain in a loop (it can be 20,000 terms long),
        # then the right operands in source order.
        spine = []
        while isinstance(node, ast.Binary):
            spine.append(node.right)
            node = node.left
        _collect(node, bound, out)
        for right in reversed(spine):
            _collect(right, bound, out)
        return
    if isinstance(node, ast.Conditional):
        _collect(node.condition, bound, out)
        _collect(node.true_result, bound, out)
        _collect(node.false_result, bound, out)
        return
    if isinstance(node, ast.Parens):
        _collect(node.inner, bound, out)
