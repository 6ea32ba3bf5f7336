"""Instance expansion: a resource's or module call's `count` / `for_each` evaluated into its
instance keys, with Terraform's checks and messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from fgform.addresses import Key
from fgform.config import types
from fgform.config.ast import Node
from fgform.config.expr import EvalContext, EvalError, evaluate, type_name
from fgform.config.model import ModuleCall, Resource
from fgform.errors import Diagnostic
from fgform.values import UNKNOWN, Sensitive, SetValue, unmark

# The most instances one resource or module call may have (docs/language.md, "Limits"): a
# count of 10**9 would otherwise build a billion-node graph before anything else is checked.
MAX_INSTANCES = 10_000


def _too_many(meta: str, n: int | None) -> str:
    """`n` is None when the number must not be shown (a sensitive count)."""
    makes = "it makes more instances" if n is None else f"it makes {n} instances, more"
    return (f'The given "{meta}" argument value is unsuitable: {makes} '
            f"than fgform's limit of {MAX_INSTANCES} for one resource or module block.")


class ExpansionMode(Enum):
    """How a resource or module call repeats: once, by `count` or by `for_each`."""

    SINGLE = "single"
    COUNT = "count"
    FOR_EACH = "for_each"


def mode_of(obj: Resource | ModuleCall) -> ExpansionMode:
    """The repetition a block declares, read from its meta-arguments without evaluating."""
    if obj.count is not None:
        return ExpansionMode.COUNT
    if obj.for_each is not None:
        return ExpansionMode.FOR_EACH
    return ExpansionMode.SINGLE


@dataclass(slots=True)
class Expansion:
    """How a resource or module call repeats (`mode`); `keys`
    are the instance keys (None for single); `each_values` maps for_each keys to values.

    `unknown`: the count or for_each is not known yet (only when validating): `keys` is then
    one representative instance, key None, whose count.index or each.key/each.value are
    unknown, and the resource's or module's value is unknown as a whole."""

    mode: ExpansionMode
    keys: list[Key]
    each_values: dict[str, Any] = field(default_factory=dict)
    unknown: bool = False


def expand(obj: Resource | ModuleCall, ctx: EvalContext, diags: list[Diagnostic],
           validating: bool = False) -> Expansion | None:
    """Evaluate count/for_each into instance keys; None (and a diagnostic) when invalid.

    A count or for_each that is not known yet is an error ("cannot be determined until
    apply") unless `validating`: as `terraform validate`, validation then checks one
    representative instance (an `Expansion` with `unknown` set) and leaves the rest to plan.
    """
    if obj.count is not None:
        return _expand_count(obj.count, ctx, diags, validating)
    if obj.for_each is not None:
        return _expand_for_each(obj.for_each, ctx, diags, validating)
    return Expansion(ExpansionMode.SINGLE, [None])


def _evaluate_meta(node: Node, ctx: EvalContext, diags: list[Diagnostic]) -> tuple[bool, Any]:
    """Evaluate a count or for_each expression; an error becomes a diagnostic."""
    try:
        return True, evaluate(node, ctx)
    except EvalError as exc:
        diags.append(Diagnostic.error(exc.summary, exc.message, exc.range or node.range,
                                      exc.hint))
        return False, None


def _expand_count(node: Node, ctx: EvalContext, diags: list[Diagnostic],
                  validating: bool = False) -> Expansion | None:
    def bad(detail: str) -> None:
        diags.append(Diagnostic.error("Invalid count argument", detail, node.range))

    ok, raw = _evaluate_meta(node, ctx, diags)
    if not ok:
        return None
    value, marked = unmark(raw)
    sensitive = bool(marked)
    if value is UNKNOWN:
        if validating:
            return Expansion(ExpansionMode.COUNT, [None], unknown=True)
        bad('The "count" value depends on resource attributes that cannot be determined '
            "until apply, so fgform cannot predict how many instances will be created. To "
            "work around this, use the -target argument to first apply only the resources "
            "that the count depends on.")
        return None
    if value is None:
        bad('The given "count" argument value is null. An integer is required.')
        return None
    try:
        # `raw` keeps its Sensitive mark, so that the mismatch does not quote a secret.
        n, _ = unmark(types.convert(raw, types.NUMBER))
    except types.TypeMismatch as exc:
        bad(f'The given "count" argument value is unsuitable: {exc.message}.')
        return None
    # A sensitive count is not quoted, however wrong: the message would show the secret.
    got = "" if sensitive else f", got {n}"
    if isinstance(n, float) and not n.is_integer():
        bad(f'The given "count" argument value is unsuitable: value must be a whole number'
            f"{got}.")
        return None
    n = int(n)
    if n < 0:
        bad('The given "count" argument value is unsuitable: must be greater than or equal '
            f"to zero{got}.")
        return None
    if n > MAX_INSTANCES:
        bad(_too_many("count", None if sensitive else n))
        return None
    return Expansion(ExpansionMode.COUNT, list(range(n)))


def _expand_for_each(node: Node, ctx: EvalContext, diags: list[Diagnostic],
                     validating: bool = False) -> Expansion | None:
    def bad(detail: str) -> None:
        diags.append(Diagnostic.error("Invalid for_each argument", detail, node.range))

    ok, raw = _evaluate_meta(node, ctx, diags)
    if not ok:
        return None
    if isinstance(raw, Sensitive):
        bad("Sensitive values, or values derived from sensitive values, cannot be used as "
            "for_each arguments: the instance keys would show in plan output.")
        return None
    if raw is None:
        bad('The given "for_each" argument value is unsuitable: the given "for_each" '
            "argument value is null. A map, or set of strings is allowed.")
        return None
    unknown_msg = ('The "for_each" map includes keys or set values that are derived from '
                   "resource attributes that cannot be determined until apply, so fgform "
                   "cannot determine the full set of keys that will identify the instances "
                   "of this resource.")
    if raw is UNKNOWN:
        if validating:
            return Expansion(ExpansionMode.FOR_EACH, [None], unknown=True)
        bad(unknown_msg)
        return None
    if isinstance(raw, (dict, SetValue)) and len(raw) > MAX_INSTANCES:
        bad(_too_many("for_each", len(raw)))
        return None
    if isinstance(raw, dict):
        keys = sorted(raw)
        return Expansion(ExpansionMode.FOR_EACH, list(keys), {k: raw[k] for k in keys})
    if isinstance(raw, (list, tuple)) and not isinstance(raw, SetValue):
        # A list may hold duplicates and its order is its identity: Terraform wants the
        # keys spelled out as a set (or a map), so a reordered list never renames instances.
        diags.append(Diagnostic.error(
            "Invalid for_each argument",
            'The given "for_each" argument value is unsuitable: the "for_each" argument must '
            "be a map, or set of strings, and you have provided a value of type "
            f"{type_name(raw)}.", node.range,
            "Convert a list of strings to a set with toset(): for_each = toset(...)."))
        return None
    if isinstance(raw, SetValue):
        items = [unmark(v)[0] for v in raw]
        if any(v is UNKNOWN for v in items):
            if validating:
                return Expansion(ExpansionMode.FOR_EACH, [None], unknown=True)
            bad(unknown_msg)
            return None
        if any(v is None for v in items):
            bad('The given "for_each" argument value is unsuitable: "for_each" sets must '
                "not contain null values.")
            return None
        if not all(isinstance(v, str) for v in items):
            bad('The given "for_each" argument value is unsuitable: "for_each" supports maps '
                "and sets of strings, but you have provided a set containing type "
                f"{type_name(next(v for v in items if not isinstance(v, str)))}.")
            return None
        keys = sorted(set(items))
        return Expansion(ExpansionMode.FOR_EACH, list(keys), {k: k for k in keys})
    bad('The given "for_each" argument value is unsuitable: the "for_each" argument must be a '
        f"map, or set of strings, and you have provided a value of type "
        f"{type_name(raw)}.")
    return None
