"""The expression evaluator: AST nodes (config/ast.py) -> plain values.

Values are JSON-like Python data. Two markers ride on them (fgform/values.py): `UNKNOWN`
(known after apply) propagates through every operation whose result depends on it, and
`Sensitive` marks propagate to anything computed from a sensitive value.

Type conversion follows HCL: arithmetic converts strings to numbers ("5" + 1 == 6), logic
converts "true"/"false" to bools, templates convert numbers and bools to strings, and `==`
compares without conversion (1 == "1" is false). Whole numbers stay ints.
"""

from __future__ import annotations

from typing import Any

from fgform import numbers
from fgform.config import ast
from fgform.config.access import get_attr, index_value, iter_collection
from fgform.config.ast import Node
from fgform.config.context import EvalContext, EvalError, FunctionCaller
from fgform.config.conversions import (
    ConversionError,
    deep_unmark,
    mark,
    strip,
    to_bool,
    to_number,
    to_string,
    type_name,
    values_equal,
)
from fgform.config.limits import MAX_FOR_ITERATIONS, MAX_STRING_LENGTH
from fgform.config.names import resolve_variable, root_attr
from fgform.config.unify import check_results, unify_results
from fgform.errors import SourceRange
from fgform.values import UNKNOWN, ListValue, contains_unknown

__all__ = ["EvalContext", "EvalError", "FunctionCaller", "evaluate", "type_name"]

# The key under which a splat binds its current element; not a valid HCL name, so it can
# never clash with a for-expression variable.
_SPLAT_KEY = "\x00splat"


# ---------------------------------------------------------------------------------------------
# The evaluator
# ---------------------------------------------------------------------------------------------


def evaluate(node: Node, ctx: EvalContext) -> Any:
    """Evaluate an expression to a plain value (may contain UNKNOWN / Sensitive).

    Raises EvalError with the range of the offending node.
    """
    fn = _DISPATCH.get(type(node))
    if fn is None:
        raise EvalError(f"cannot evaluate a {type(node).__name__} here", node.range)
    return fn(node, ctx)


def _eval_literal(node: ast.Literal, ctx: EvalContext) -> Any:
    return node.value


def _eval_parens(node: ast.Parens, ctx: EvalContext) -> Any:
    return evaluate(node.inner, ctx)


def _eval_tuple(node: ast.Tuple, ctx: EvalContext) -> Any:
    return [evaluate(item, ctx) for item in node.items]


def _eval_object(node: ast.Object, ctx: EvalContext) -> Any:
    out: dict[str, Any] = {}
    unknown_key = False
    sens = False
    for knode, vnode in node.items:
        key, ksens = strip(evaluate(knode, ctx))
        sens = sens or ksens
        value = evaluate(vnode, ctx)
        if key is UNKNOWN:
            unknown_key = True
            continue
        try:
            key = to_string(key)
        except ConversionError as e:
            raise EvalError(f"Invalid object key: {e}.", knode.range,
                            summary="Incorrect key type") from None
        out[key] = value
    if unknown_key:
        return mark(UNKNOWN, sens)
    return mark(out, sens)


# -- templates -------------------------------------------------------------------------------


def _eval_template(node: ast.Template, ctx: EvalContext) -> Any:
    parts = node.parts
    # "${x}" alone yields x unconverted, as in Terraform.
    if len(parts) == 1 and isinstance(parts[0], Node) and not isinstance(
            parts[0], (ast.TemplateIf, ast.TemplateFor)):
        return evaluate(parts[0], ctx)
    state: list[Any] = [False, False, 0]  # unknown, sensitive, characters so far
    buf: list[str] = []
    _render_parts(parts, ctx, buf, state, node.range)
    if state[0]:
        return mark(UNKNOWN, state[1])
    return mark("".join(buf), state[1])


def _append(buf: list[str], text: str, state: list[Any], rng: SourceRange) -> None:
    # Checked as the string grows: a chain of locals each doubling the last, or a template
    # `for` repeating a long one, must stop before the string is built, not after.
    state[2] += len(text)
    if state[2] > MAX_STRING_LENGTH:
        raise EvalError(f"The template's result would be a string of more than "
                        f"{MAX_STRING_LENGTH} characters, fgform's limit for a string an "
                        "expression builds.", rng, summary="Template result too long")
    buf.append(text)


def _count_iteration(ctx: EvalContext, start: int, rng: SourceRange) -> None:
    """Count one iteration of a for-expression or template `for` that began when
    `ctx.iterations` was `start`: nested loops count towards every loop around them, so
    the outermost one that does too much work is the one reported."""
    ctx.iterations += 1
    if ctx.iterations - start > MAX_FOR_ITERATIONS:
        raise EvalError(f"This 'for' would iterate more than {MAX_FOR_ITERATIONS} times, "
                        "counting the 'for' expressions nested in it: fgform's limit for "
                        "one expression.", rng, summary="Too many iterations")


def _render_parts(parts: tuple[Any, ...], ctx: EvalContext, buf: list[str],
                  state: list[Any], rng: SourceRange) -> None:
    for part in parts:
        if isinstance(part, str):
            _append(buf, part, state, rng)
        elif isinstance(part, ast.TemplateIf):
            cond, sens = strip(evaluate(part.condition, ctx))
            state[1] = state[1] or sens
            if cond is UNKNOWN:
                state[0] = True
                continue
            try:
                ok = to_bool(cond, sens)
            except ConversionError as e:
                raise EvalError(f"Invalid template if condition: {e}.", part.condition.range,
                                summary="Invalid template directive") from None
            _render_parts(part.then_parts if ok else part.else_parts, ctx, buf, state, rng)
        elif isinstance(part, ast.TemplateFor):
            coll, sens = strip(evaluate(part.collection, ctx))
            state[1] = state[1] or sens
            if coll is UNKNOWN:
                state[0] = True
                continue
            saved = dict(ctx.bindings)
            start = ctx.iterations
            try:
                for k, v in iter_collection(coll, part.collection.range, "template for"):
                    _count_iteration(ctx, start, part.collection.range)
                    if part.key_var:
                        ctx.bindings[part.key_var] = mark(k, sens)
                    ctx.bindings[part.value_var] = mark(v, sens)
                    _render_parts(part.parts, ctx, buf, state, rng)
            finally:
                ctx.bindings.clear()
                ctx.bindings.update(saved)
        else:
            value, sens = strip(evaluate(part, ctx))
            state[1] = state[1] or sens
            if value is UNKNOWN:
                state[0] = True
                continue
            if value is None:
                raise EvalError("The expression result is null. Cannot include a null value "
                                "in a string template.", part.range,
                                summary="Invalid template interpolation value")
            if isinstance(value, (list, dict)):
                raise EvalError(f"Cannot include the given value in a string template: string "
                                f"required, got {type_name(value)}.", part.range,
                                summary="Invalid template interpolation value")
            if contains_unknown(value):
                state[0] = True
                continue
            _append(buf, to_string(value), state, part.range)


# -- references ------------------------------------------------------------------------------


def _eval_getattr(node: ast.GetAttr, ctx: EvalContext) -> Any:
    special, value = root_attr(node, ctx)
    if special:
        return value
    return get_attr(evaluate(node.target, ctx), node.name, node, ctx)


def _eval_index(node: ast.Index, ctx: EvalContext) -> Any:
    target = evaluate(node.target, ctx)
    key = evaluate(node.key, ctx)
    return index_value(target, key, node)


def _eval_splat(node: ast.Splat, ctx: EvalContext) -> Any:
    target, sens = strip(evaluate(node.target, ctx))
    if target is UNKNOWN:
        return mark(UNKNOWN, sens)
    if target is None:
        return mark([], sens)
    items = target if isinstance(target, list) else [target]
    typed = isinstance(target, ListValue)  # a splat over a list or set gives a list
    had = _SPLAT_KEY in ctx.bindings
    saved = ctx.bindings.get(_SPLAT_KEY)
    out = []
    try:
        for item in items:
            ctx.bindings[_SPLAT_KEY] = mark(item, sens)
            out.append(evaluate(node.each, ctx))
    finally:
        if had:
            ctx.bindings[_SPLAT_KEY] = saved
        else:
            ctx.bindings.pop(_SPLAT_KEY, None)
    return mark(ListValue(out) if typed else out, sens)


def _eval_splat_item(node: ast.SplatItem, ctx: EvalContext) -> Any:
    if _SPLAT_KEY not in ctx.bindings:
        raise EvalError("A splat item is used outside a splat expression.", node.range)
    return ctx.bindings[_SPLAT_KEY]


# -- operators -------------------------------------------------------------------------------


def _eval_unary(node: ast.Unary, ctx: EvalContext) -> Any:
    value, sens = strip(evaluate(node.operand, ctx))
    if value is UNKNOWN:
        return mark(UNKNOWN, sens)
    try:
        if node.op == "!":
            return mark(not to_bool(value, sens), sens)
        return mark(numbers.neg(to_number(value, sens)), sens)
    except ConversionError as e:
        raise EvalError(f'Unsuitable value for unary operand "{node.op}": {e}.',
                        node.operand.range, summary="Invalid operand") from None


_ARITH = {"+", "-", "*", "/", "%"}
_COMPARE = {"<", ">", "<=", ">="}


def _eval_binary(node: ast.Binary, ctx: EvalContext) -> Any:
    # A chain `a + b + ... + z` leans left as deep as it is long (20,000 terms are valid
    # HCL): evaluate its first operand, then fold the chain in a loop, not by recursion.
    spine = []
    cur: Node = node
    while isinstance(cur, ast.Binary):
        spine.append(cur)
        cur = cur.left
    value = evaluate(cur, ctx)
    for step in reversed(spine):
        value = _apply_binary(step, value, ctx)
    return value


def _apply_binary(node: ast.Binary, left_value: Any, ctx: EvalContext) -> Any:
    """`node`'s operator applied to its left operand's value and its right operand."""
    op = node.op
    if op in ("&&", "||"):
        return _eval_logic(node, left_value, ctx)
    left, lsens = strip(left_value)
    right, rsens = strip(evaluate(node.right, ctx))
    sens = lsens or rsens
    if op in ("==", "!="):
        if contains_unknown(left) or contains_unknown(right):
            return mark(UNKNOWN, sens)
        eq = values_equal(deep_unmark(left), deep_unmark(right))
        return mark(eq if op == "==" else not eq, sens)
    if left is UNKNOWN or right is UNKNOWN:
        return mark(UNKNOWN, sens)
    try:
        a = to_number(left, lsens)
    except ConversionError as e:
        raise EvalError(f'Unsuitable value for left operand of "{op}": {e}.', node.left.range,
                        summary="Invalid operand") from None
    try:
        b = to_number(right, rsens)
    except ConversionError as e:
        raise EvalError(f'Unsuitable value for right operand of "{op}": {e}.',
                        node.right.range, summary="Invalid operand") from None
    if op in _COMPARE:
        c = numbers.compare(a, b)
        result: Any = {"<": c < 0, ">": c > 0, "<=": c <= 0, ">=": c >= 0}[op]
        return mark(result, sens)
    # Terraform's numbers (fgform/numbers.py): 512-bit results, so 0.1 + 0.2 == 0.3.
    try:
        result = _arith(node, op, a, b)
    except numbers.NumberError as e:
        raise EvalError(f"{e}.", node.range, summary="Number out of range") from None
    return mark(result, sens)


def _arith(node: ast.Binary, op: str, a: Any, b: Any) -> Any:
    """`a op b` for an arithmetic operator (zero divisors reported at `node`'s right)."""
    if op == "+":
        result = numbers.add(a, b)
    elif op == "-":
        result = numbers.sub(a, b)
    elif op == "*":
        result = numbers.mul(a, b)
    elif op == "/":
        if b == 0:
            raise EvalError("Can't divide by zero.", node.right.range,
                            summary="Division by zero")
        result = numbers.div(a, b)
    elif op == "%":
        # HCL's modulo keeps the sign of the dividend, like Go's; as Terraform, `a % 0` is a
        # (while `a / 0` is an error here: Terraform's infinity fails to save its state).
        result = numbers.mod(a, b)
    else:  # pragma: no cover - the loader only builds the operators above
        raise EvalError(f"unsupported operator {op}", node.range)
    return result


def _eval_logic(node: ast.Binary, left_value: Any, ctx: EvalContext) -> Any:
    op = node.op
    left, lsens = strip(left_value)
    if left is not UNKNOWN:
        try:
            lb = to_bool(left, lsens)
        except ConversionError as e:
            raise EvalError(f'Unsuitable value for left operand of "{op}": {e}.',
                            node.left.range, summary="Invalid operand") from None
        # Short-circuit: the right side is neither evaluated nor able to fail.
        if op == "||" and lb:
            return mark(True, lsens)
        if op == "&&" and not lb:
            return mark(False, lsens)
    right, rsens = strip(evaluate(node.right, ctx))
    sens = lsens or rsens
    rb: Any = UNKNOWN
    if right is not UNKNOWN:
        try:
            rb = to_bool(right, rsens)
        except ConversionError as e:
            raise EvalError(f'Unsuitable value for right operand of "{op}": {e}.',
                            node.right.range, summary="Invalid operand") from None
    if left is UNKNOWN:
        # UNKNOWN || true is true and UNKNOWN && false is false whatever the unknown is.
        if op == "||" and rb is True:
            return mark(True, sens)
        if op == "&&" and rb is False:
            return mark(False, sens)
        return mark(UNKNOWN, sens)
    return mark(rb, sens)


def _eval_conditional(node: ast.Conditional, ctx: EvalContext) -> Any:
    cond, sens = strip(evaluate(node.condition, ctx))
    if cond is UNKNOWN:
        # Either result may come: Terraform still requires them to have a common type,
        # though it drops their errors.
        try:
            results = evaluate(node.true_result, ctx), evaluate(node.false_result, ctx)
        except EvalError:
            return mark(UNKNOWN, sens)
        check_results(results[0], results[1], node)
        return mark(UNKNOWN, sens)
    try:
        ok = to_bool(cond, sens)
    except ConversionError as e:
        raise EvalError(f"The condition value is unsuitable: {e}.", node.condition.range,
                        summary="Incorrect condition type") from None
    chosen = evaluate(node.true_result if ok else node.false_result, ctx)
    # HCL evaluates both results and converts the chosen one to the type both unify to
    # (`true ? 1 : "a"` is "1"); the other one's errors are dropped (`x == null ? "d" :
    # x.attr` is fine), and a result that failed has no type to unify with.
    other_node = node.false_result if ok else node.true_result
    try:
        other = evaluate(other_node, ctx)
    except EvalError:
        return mark(chosen, sens)
    return mark(unify_results(chosen, other, ok, node), sens)


# -- for expressions -------------------------------------------------------------------------


def _eval_for(node: ast.For, ctx: EvalContext) -> Any:
    coll, sens = strip(evaluate(node.collection, ctx))
    if coll is UNKNOWN:
        return mark(UNKNOWN, sens)
    pairs = iter_collection(coll, node.collection.range, "for")
    saved = dict(ctx.bindings)
    unknown = False
    out_list: list[Any] = []
    out_obj: dict[str, Any] = {}
    start = ctx.iterations
    try:
        for k, v in pairs:
            _count_iteration(ctx, start, node.collection.range)
            # The elements of a sensitive collection are sensitive: an error about one of
            # them must not quote it.
            if node.key_var:
                ctx.bindings[node.key_var] = mark(k, sens)
            ctx.bindings[node.value_var] = mark(v, sens)
            if node.condition is not None:
                c, csens = strip(evaluate(node.condition, ctx))
                sens = sens or csens
                if c is UNKNOWN:
                    unknown = True
                    continue
                try:
                    if not to_bool(c, csens):
                        continue
                except ConversionError as e:
                    raise EvalError(f"The filter expression is unsuitable: {e}.",
                                    node.condition.range, summary="Invalid 'for' condition"
                                    ) from None
            if node.key is None:
                out_list.append(evaluate(node.value, ctx))
                continue
            key, ksens = strip(evaluate(node.key, ctx))
            sens = sens or ksens
            value = evaluate(node.value, ctx)
            if key is UNKNOWN:
                unknown = True
                continue
            try:
                skey = to_string(key)
            except ConversionError as e:
                raise EvalError(f"The key expression produced an invalid result: {e}.",
                                node.key.range, summary="Invalid object key") from None
            if node.group:
                out_obj.setdefault(skey, []).append(value)
            elif skey in out_obj:
                shown = "the same sensitive key" if ksens else f'the key "{skey}"'
                raise EvalError(f"Two different items produced {shown} in this "
                                "'for' expression. If duplicates are expected, use the "
                                "ellipsis (...) after the value expression to enable "
                                "grouping by key.", node.key.range,
                                summary="Duplicate object key")
            else:
                out_obj[skey] = value
    finally:
        ctx.bindings.clear()
        ctx.bindings.update(saved)
    if unknown:
        return mark(UNKNOWN, sens)
    return mark(out_list if node.key is None else out_obj, sens)


# -- function calls --------------------------------------------------------------------------


def _eval_call(node: ast.Call, ctx: EvalContext) -> Any:
    if ctx.functions is None:
        raise EvalError("Functions may not be called here.", node.range,
                        summary="Function calls not allowed")
    return ctx.functions(node, ctx)


_DISPATCH: dict[type, Any] = {
    ast.Literal: _eval_literal,
    ast.Parens: _eval_parens,
    ast.Tuple: _eval_tuple,
    ast.Object: _eval_object,
    ast.Template: _eval_template,
    ast.Variable: resolve_variable,
    ast.GetAttr: _eval_getattr,
    ast.Index: _eval_index,
    ast.Splat: _eval_splat,
    ast.SplatItem: _eval_splat_item,
    ast.Unary: _eval_unary,
    ast.Binary: _eval_binary,
    ast.Conditional: _eval_conditional,
    ast.For: _eval_for,
    ast.Call: _eval_call,
}
