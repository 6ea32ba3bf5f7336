"""The expression evaluator: AST nodes (config/ast.py) -> plain values.

Values are JSON-like Python data. Two markers ride on them (fgform/values.py): `UNKNOWN`
(known after apply) propagates through every operation whose result depends on it, and
`Sensitive` marks propagate to anything computed from a sensitive value.

Type conversion follows HCL: arithmetic converts strings to numbers ("5" + 1 == 6), logic
converts "true"/"false" to bools, templates convert numbers and bools to strings, and `==`
compares without conversion (1 == "1" is false). Whole numbers stay ints.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fgform.config import ast
from fgform.config.ast import Node
from fgform.config.limits import MAX_FOR_ITERATIONS, MAX_STRING_LENGTH
from fgform.errors import FgformError, SourceRange
from fgform.suggest import did_you_mean
from fgform.values import UNKNOWN, Sensitive, contains_unknown


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
    # Iterations of for-expressions and template `for` directives so far (the evaluator
    # counts them against MAX_FOR_ITERATIONS).
    iterations: int = 0
    # The function library (config/functions.call), passed in by whoever builds the context:
    # the evaluator does not import it. None: function calls are not allowed.
    functions: FunctionCaller | None = None


# Evaluates a function call node in a context (the function library's entry point).
FunctionCaller = Callable[[ast.Call, EvalContext], Any]


# The key under which a splat binds its current element; not a valid HCL name, so it can
# never clash with a for-expression variable.
_SPLAT_KEY = "\x00splat"

ROOT_NAMES = ("var", "local", "module", "each", "count", "path", "self", "terraform")


# ---------------------------------------------------------------------------------------------
# Marks and conversions (shared with functions.py)
# ---------------------------------------------------------------------------------------------


def strip(value: Any) -> tuple[Any, bool]:
    """Unwrap a top-level Sensitive mark: (value, was_sensitive)."""
    if isinstance(value, Sensitive):
        inner = value.value
        while isinstance(inner, Sensitive):
            inner = inner.value
        return inner, True
    return value, False


def has_sensitive(value: Any) -> bool:
    """True when the value or anything nested in it is marked sensitive."""
    if isinstance(value, Sensitive):
        return True
    if isinstance(value, dict):
        return any(has_sensitive(v) for v in value.values())
    if isinstance(value, list):
        return any(has_sensitive(v) for v in value)
    return False


def deep_unmark(value: Any) -> Any:
    """Drop every Sensitive mark, however deep."""
    if isinstance(value, Sensitive):
        return deep_unmark(value.value)
    if isinstance(value, dict):
        return {k: deep_unmark(v) for k, v in value.items()}
    if isinstance(value, list):
        return [deep_unmark(v) for v in value]
    return value


def mark(value: Any, sensitive: bool) -> Any:
    """Mark a result sensitive when any input was."""
    if sensitive and not isinstance(value, Sensitive):
        return Sensitive(value)
    return value


def type_name(value: Any) -> str:
    """The HCL name of a value's type, for error messages."""
    value, _ = strip(value)
    if value is None:
        return "null"
    if value is UNKNOWN:
        return "unknown value"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "tuple"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


_NUMBER_RE = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def norm_number(n: int | float) -> int | float:
    """Keep whole numbers as ints, as Terraform prints them (2.0 -> 2)."""
    if isinstance(n, float) and n.is_integer() and abs(n) < 2**63:
        return int(n)
    return n


class ConversionError(Exception):
    """A value cannot be converted to the wanted type; the message reads in a sentence."""


def to_number(value: Any, sensitive: bool = False) -> int | float:
    """HCL's number conversion: numbers as they are, numeric strings parsed. A `sensitive`
    value is not quoted by the error."""
    if isinstance(value, bool):
        raise ConversionError("a number is required, got bool")
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        s = value.strip()
        if s == value and _NUMBER_RE.match(s):
            if re.fullmatch(r"-?\d+", s):
                return int(s)
            return norm_number(float(s))
        raise ConversionError("cannot convert this sensitive string to a number" if sensitive
                              else f'cannot convert "{value}" to a number')
    if value is None:
        raise ConversionError("a number is required, got null")
    raise ConversionError(f"a number is required, got {type_name(value)}")


def to_bool(value: Any, sensitive: bool = False) -> bool:
    """HCL's bool conversion: true/false, or the strings "true"/"false". A `sensitive` value
    is not quoted by the error."""
    if isinstance(value, bool):
        return value
    if value == "true":
        return True
    if value == "false":
        return False
    if value is None:
        raise ConversionError("a bool is required, got null")
    if isinstance(value, str):
        shown = "this sensitive string" if sensitive else f'"{value}"'
        raise ConversionError(f'cannot convert {shown} to a bool; only "true" or "false" '
                              "are allowed")
    raise ConversionError(f"a bool is required, got {type_name(value)}")


def format_number(n: int | float) -> str:
    """A number as Terraform writes it in strings."""
    n = norm_number(n)
    if isinstance(n, int):
        return str(n)
    if math.isinf(n) or math.isnan(n):
        return str(n)
    text = repr(n)
    if "e" in text:
        text = format(n, "f").rstrip("0").rstrip(".")
    return text


def to_string(value: Any) -> str:
    """HCL's string conversion: strings, numbers and bools; not null or collections."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return format_number(value)
    if value is None:
        raise ConversionError("a string is required, got null")
    raise ConversionError(f"a string is required, got {type_name(value)}")


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
                for k, v in _iter_collection(coll, part.collection.range, "template for"):
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


def _eval_variable(node: ast.Variable, ctx: EvalContext) -> Any:
    name = node.name
    if name in ctx.bindings:
        return ctx.bindings[name]
    if name == "self":
        return ctx.self_value
    if name in ("var", "local", "module", "each", "count", "path", "terraform"):
        what = {"var": "input variable", "local": "local value", "module": "module call",
                "each": "each.key or each.value", "count": "count.index",
                "path": "path.module, path.root or path.cwd"}.get(name, "attribute")
        raise EvalError(f'The "{name}" object cannot be accessed directly. Instead, access '
                        f"one of its attributes ({what}).", node.range,
                        summary="Invalid reference")
    if name in ctx.resources:
        return ctx.resources[name]
    raise EvalError(f'A reference to a resource type must be followed by at least one '
                    f'attribute access, specifying the resource name. There is no '
                    f'variable named "{name}".', node.range,
                    hint=did_you_mean(name, list(ctx.bindings) + list(ctx.resources)),
                    summary="Invalid reference")


def _root_attr(node: ast.GetAttr, ctx: EvalContext) -> tuple[bool, Any]:
    """Resolve `root.name` for the special roots; (False, None) when not special."""
    target = node.target
    if not isinstance(target, ast.Variable) or target.name in ctx.bindings:
        return False, None
    root, name = target.name, node.name
    if root == "var":
        if name not in ctx.variables:
            raise EvalError(f'An input variable with the name "{name}" has not been declared. '
                            f'This variable can be declared with a variable "{name}" {{}} '
                            f"block.", node.range, hint=did_you_mean(name, ctx.variables),
                            summary="Reference to undeclared input variable")
        return True, ctx.variables[name]
    if root == "local":
        if name not in ctx.locals:
            raise EvalError(f'A local value with the name "{name}" has not been declared.',
                            node.range, hint=did_you_mean(name, ctx.locals),
                            summary="Reference to undeclared local value")
        return True, ctx.locals[name]
    if root == "module":
        if name not in ctx.modules:
            raise EvalError(f'No module call named "{name}" is declared in this module.',
                            node.range, hint=did_you_mean(name, ctx.modules),
                            summary="Reference to undeclared module")
        return True, ctx.modules[name]
    if root == "each":
        if not ctx.has_each:
            raise EvalError('The "each" object can be used only in "module" or "resource" '
                            'blocks, and only when the "for_each" argument is set.',
                            node.range, summary='Reference to "each" in context without '
                            "for_each")
        if name == "key":
            return True, ctx.each_key
        if name == "value":
            return True, ctx.each_value
        raise EvalError(f'The "each" object does not have an attribute named "{name}". The '
                        'supported attributes are each.key and each.value.', node.range,
                        hint=did_you_mean(name, ["key", "value"]),
                        summary='Invalid "each" attribute')
    if root == "count":
        if name != "index":
            raise EvalError(f'The "count" object does not have an attribute named "{name}". '
                            "The only supported attribute is count.index.", node.range,
                            hint=did_you_mean(name, ["index"]),
                            summary='Invalid "count" attribute')
        if ctx.count_index is None:
            raise EvalError('The "count" object can only be used in "module" and "resource" '
                            'blocks, and only when the "count" argument is set.', node.range,
                            summary='Reference to "count" in non-counted context')
        return True, ctx.count_index
    if root == "path":
        paths = {"module": ctx.path_module, "root": ctx.path_root, "cwd": ctx.path_cwd}
        if name not in paths:
            raise EvalError(f'The "path" object does not have an attribute named "{name}". '
                            "The supported attributes are path.module, path.root and "
                            "path.cwd.", node.range, hint=did_you_mean(name, paths),
                            summary='Invalid "path" attribute')
        return True, paths[name]
    if root == "terraform":
        if name == "workspace":
            return True, "default"
        raise EvalError(f'The "terraform" object has no attribute named "{name}".',
                        node.range, summary="Invalid reference")
    if root == "self":
        return False, None
    # A resource reference: TYPE.NAME
    if root not in ctx.resources:
        type_hint = did_you_mean(root, ctx.resources)
        raise EvalError(f'A managed resource "{root}" "{name}" has not been declared in this '
                        "module.", node.range,
                        hint=type_hint or did_you_mean(root, ROOT_NAMES),
                        summary="Reference to undeclared resource")
    by_name = ctx.resources[root]
    if by_name is UNKNOWN:
        return True, UNKNOWN
    if name not in by_name:
        raise EvalError(f'A managed resource "{root}" "{name}" has not been declared in this '
                        "module.", node.range, hint=did_you_mean(name, by_name),
                        summary="Reference to undeclared resource")
    return True, by_name[name]


def _is_resource_ref(node: Node) -> bool:
    return (isinstance(node, ast.GetAttr) and isinstance(node.target, ast.Variable)
            and node.target.name not in ROOT_NAMES)


def _eval_getattr(node: ast.GetAttr, ctx: EvalContext) -> Any:
    special, value = _root_attr(node, ctx)
    if special:
        return value
    return get_attr(evaluate(node.target, ctx), node.name, node, ctx)


def get_attr(target: Any, name: str, node: Node, ctx: EvalContext | None = None) -> Any:
    """`target.name` with HCL's rules and helpful errors."""
    target, sens = strip(target)
    if target is UNKNOWN:
        return mark(UNKNOWN, sens)
    where = _describe(node.target) if isinstance(node, ast.GetAttr) else ""
    if isinstance(target, dict):
        if name in target:
            return mark(target[name], sens)
        # The keys of a sensitive object are part of its value: no suggestion names one.
        hint = "" if sens else did_you_mean(name, target)
        if (not hint and not sens and isinstance(node, ast.GetAttr) and _is_resource_ref(node.target)
                and target and all(isinstance(v, dict) for v in target.values())
                and all(isinstance(v, dict) and name in v for v in target.values())):
            hint = (f'{where} has "for_each" set, so its attributes must be accessed on '
                    f'specific instances, e.g. {where}["{next(iter(target))}"].{name}.')
        subject = where or "This object"
        raise EvalError(f'{subject} does not have an attribute named "{name}".', node.range,
                        hint=hint, summary="Unsupported attribute")
    if target is None:
        raise EvalError(f'Attempt to get attribute "{name}" from a null value'
                        + (f" ({where})." if where else "."), node.range,
                        summary="Attempt to get attribute from null value")
    if isinstance(target, list):
        if isinstance(node, ast.GetAttr) and _is_resource_ref(node.target):
            raise EvalError(f'Because {where} has "count" set, its attributes must be accessed '
                            f"on specific instances.", node.range,
                            hint=f"For example, {where}[0].{name} or "
                                 f"{where}[count.index].{name}.",
                            summary="Missing resource instance key")
        raise EvalError(f'Can\'t access attributes on a list of values (looking for "{name}").',
                        node.range, hint='Use a splat, e.g. x[*].' + name + ", to get it from "
                        "every element.", summary="Unsupported attribute")
    raise EvalError(f'Can\'t access attributes on a primitive-typed value ({type_name(target)}), '
                    f'looking for "{name}".', node.range, summary="Unsupported attribute")


def _describe(node: Node) -> str:
    """Source-like text of a simple traversal, for messages: fg_service.web, var.x[0]."""
    if isinstance(node, ast.Variable):
        return node.name
    if isinstance(node, ast.GetAttr):
        inner = _describe(node.target)
        return f"{inner}.{node.name}" if inner else ""
    if isinstance(node, ast.Index):
        inner = _describe(node.target)
        if inner and isinstance(node.key, ast.Literal):
            k = node.key.value
            return f"{inner}[{k}]" if isinstance(k, int) else f'{inner}["{k}"]'
        return f"{inner}[...]" if inner else ""
    return ""


def _eval_index(node: ast.Index, ctx: EvalContext) -> Any:
    target = evaluate(node.target, ctx)
    key = evaluate(node.key, ctx)
    return index_value(target, key, node)


def index_value(target: Any, key: Any, node: Node) -> Any:
    """`target[key]` with HCL's rules: lists by number, maps/objects by string."""
    target, tsens = strip(target)
    key, ksens = strip(key)
    sens = tsens or ksens
    if target is UNKNOWN or key is UNKNOWN:
        return mark(UNKNOWN, sens)
    key_range = node.key.range if isinstance(node, ast.Index) else node.range
    if target is None:
        raise EvalError("Attempt to index a null value.", node.range,
                        summary="Attempt to index null value")
    if key is None:
        raise EvalError("Can't use a null value as an indexing key.", key_range,
                        summary="Invalid index")
    if isinstance(target, list):
        try:
            idx = to_number(key)
        except ConversionError:
            raise EvalError(f"The given key does not identify an element in this collection "
                            f"value: a number is required, got {type_name(key)}.", key_range,
                            summary="Invalid index") from None
        if not isinstance(idx, int) or isinstance(idx, bool):
            raise EvalError("The given key does not identify an element in this collection "
                            "value: indexes must be whole numbers.", key_range,
                            summary="Invalid index")
        if (idx < 0 or idx >= len(target)) and sens:
            raise EvalError("The given key does not identify an element in this collection "
                            "value: the index is out of range.", key_range,
                            summary="Invalid index")
        if idx < 0 or idx >= len(target):
            raise EvalError(f"The given key does not identify an element in this collection "
                            f"value: the collection has {len(target)} element"
                            f"{'' if len(target) == 1 else 's'}, index {idx} is out of range.",
                            key_range, summary="Invalid index")
        return mark(target[idx], sens)
    if isinstance(target, dict):
        try:
            skey = to_string(key)
        except ConversionError:
            raise EvalError(f"The given key does not identify an element in this collection "
                            f"value: a string is required, got {type_name(key)}.", key_range,
                            summary="Invalid index") from None
        if skey not in target and sens:
            # As Terraform: neither the sensitive key nor a key of a sensitive map is named.
            raise EvalError("The given key does not identify an element in this collection "
                            "value.", key_range, summary="Invalid index")
        if skey not in target:
            raise EvalError(f'The given key does not identify an element in this collection '
                            f'value: there is no element with key "{skey}".', key_range,
                            hint=did_you_mean(skey, target), summary="Invalid index")
        return mark(target[skey], sens)
    raise EvalError(f"This value does not have any indices: {type_name(target)} cannot be "
                    "indexed.", node.range, summary="Invalid index")


def _eval_splat(node: ast.Splat, ctx: EvalContext) -> Any:
    target, sens = strip(evaluate(node.target, ctx))
    if target is UNKNOWN:
        return mark(UNKNOWN, sens)
    if target is None:
        return mark([], sens)
    items = target if isinstance(target, list) else [target]
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
    return mark(out, sens)


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
        return mark(norm_number(-to_number(value, sens)), sens)
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
        result: Any = {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]
        return mark(result, sens)
    if op == "+":
        result = a + b
    elif op == "-":
        result = a - b
    elif op == "*":
        result = a * b
    elif op == "/":
        if b == 0:
            raise EvalError("Can't divide by zero.", node.right.range,
                            summary="Division by zero")
        result = a // b if isinstance(a, int) and isinstance(b, int) and a % b == 0 else a / b
    elif op == "%":
        if b == 0:
            raise EvalError("Can't use modulo by zero.", node.right.range,
                            summary="Division by zero")
        # HCL's modulo keeps the sign of the dividend, like Go's.
        result = math.fmod(a, b) if isinstance(a, float) or isinstance(b, float) else (
            abs(a) % abs(b)) * (1 if a >= 0 else -1)
    else:  # pragma: no cover - the loader only builds the operators above
        raise EvalError(f"unsupported operator {op}", node.range)
    return mark(norm_number(result), sens)


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


def values_equal(a: Any, b: Any) -> bool:
    """HCL equality: no conversion between types; 1 == 1.0; true != 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(values_equal(a[k], b[k]) for k in a)
    return a == b


def _eval_conditional(node: ast.Conditional, ctx: EvalContext) -> Any:
    cond, sens = strip(evaluate(node.condition, ctx))
    if cond is UNKNOWN:
        return mark(UNKNOWN, sens)
    try:
        ok = to_bool(cond, sens)
    except ConversionError as e:
        raise EvalError(f"The condition value is unsuitable: {e}.", node.condition.range,
                        summary="Incorrect condition type") from None
    # Only the chosen branch is evaluated, so `x == null ? "d" : x.attr` is fine.
    return mark(evaluate(node.true_result if ok else node.false_result, ctx), sens)


# -- for expressions -------------------------------------------------------------------------


def _iter_collection(coll: Any, rng: SourceRange, what: str) -> list[tuple[Any, Any]]:
    if isinstance(coll, list):
        return list(enumerate(coll))
    if isinstance(coll, dict):
        # Terraform iterates maps and objects in lexical key order.
        return [(k, coll[k]) for k in sorted(coll)]
    if coll is None:
        raise EvalError(f"A {what} expression cannot iterate over a null value.", rng,
                        summary="Iteration over null value")
    raise EvalError(f"A {what} expression can only iterate over a list, set, map or object, "
                    f"not a {type_name(coll)}.", rng, summary="Iteration over non-iterable value")


def _eval_for(node: ast.For, ctx: EvalContext) -> Any:
    coll, sens = strip(evaluate(node.collection, ctx))
    if coll is UNKNOWN:
        return mark(UNKNOWN, sens)
    pairs = _iter_collection(coll, node.collection.range, "for")
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
    ast.Variable: _eval_variable,
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
