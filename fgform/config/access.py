"""Reading into values: `value.name`, `value[key]` and the pairs a `for` iterates, with HCL's
rules (lists by number, maps by string, UNKNOWN and Sensitive carried) and Terraform's errors."""

from __future__ import annotations

from typing import Any

from fgform.config import ast
from fgform.config.ast import Node
from fgform.config.context import EvalContext, EvalError
from fgform.config.conversions import ConversionError, mark, strip, to_number, to_string, type_name
from fgform.config.names import is_resource_ref
from fgform.errors import SourceRange
from fgform.suggest import did_you_mean
from fgform.values import UNKNOWN, SetValue


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
        if (not hint and not sens and isinstance(node, ast.GetAttr) and is_resource_ref(node.target)
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
        if isinstance(node, ast.GetAttr) and is_resource_ref(node.target):
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
    if isinstance(target, SetValue):
        raise EvalError("Elements of a set are identified only by their value and don't have "
                        "any separate index or key to select with, so it's only possible to "
                        "perform operations across all elements of the set.", key_range,
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


def iter_collection(coll: Any, rng: SourceRange, what: str) -> list[tuple[Any, Any]]:
    """The (key, value) pairs a `for` iterates: list indexes, or map keys in lexical order."""
    if isinstance(coll, SetValue):
        # A set's elements have no index: each is its own key, as in Terraform.
        return [(v, v) for v in coll]
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
