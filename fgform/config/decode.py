"""Decode a resource body by its schema: evaluate, convert, fill defaults, check.

The result is the attribute dict that state, the planner and the drivers share (see
`docs/internals.md`, "Values in state"): every configurable attribute of the schema is
present (its value, else its default, else None); a single nested block is a dict or None; a
repeatable block is a list of dicts; a labelled block is a list of dicts whose label
attribute holds the label. Computed-only attributes are left out: the planner fills them.

Every problem is returned as a Diagnostic with the user's file and line, never raised.
`check_structure` makes the checks that need no evaluation (unknown names, missing required
arguments, block counts), so validation can report them even for a resource with zero
instances.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from fgform import numbers
from fgform.config import dynamic, types
from fgform.config.expr import EvalContext, EvalError, evaluate
from fgform.config.model import Attribute, Block, Body
from fgform.config.schema import AttrSchema, BlockSchema
from fgform.errors import Diagnostic, SourceRange
from fgform.suggest import did_you_mean
from fgform.values import (
    SENSITIVE_TEXT,
    UNKNOWN,
    Sensitive,
    contains_unknown,
    copy_value,
    plain_value,
    scrub,
    sensitive_strings,
    unmark,
)


@cache
def schema_type(type_string: str) -> types.Type:
    """The parsed form of a schema table's type string (cached: the tables never change)."""
    return types.parse_type_string(type_string)


def configurable(attr: AttrSchema) -> bool:
    """Whether the user may set the attribute (everything but computed-only ones)."""
    return not (attr.computed and not attr.optional and not attr.required)


def check_structure(body: Body, schema: BlockSchema,
                    range: SourceRange | None = None) -> list[Diagnostic]:
    """Checks that need no evaluation: unknown/duplicate/unconfigurable arguments, unknown
    block types, labels, block counts, missing required arguments; recursively."""
    diags: list[Diagnostic] = []
    where = range or body.range
    attr_names = [a.name for a in schema.attributes if configurable(a) and a.name != schema.label]
    block_names = [b.name for b in schema.blocks]

    for dup in body.duplicate_attributes:
        first = body.attributes.get(dup.name)
        at = f" at {first.range}" if first is not None and first.range is not None else ""
        diags.append(Diagnostic.error(
            "Attribute redefined",
            f'The argument "{dup.name}" was already set{at}. Each argument may be set only '
            "once.", dup.name_range or dup.range))

    for name, attr in body.attributes.items():
        a = schema.attr(name)
        if a is None or name == schema.label:
            hint = did_you_mean(name, attr_names)
            detail = f'An argument named "{name}" is not expected here.'
            if name in block_names:
                detail += f' Did you mean to define a block of type "{name}"?'
            elif name == schema.label and schema.label:
                detail += f" The {schema.name}'s {name} is its block label."
            diags.append(Diagnostic.error("Unsupported argument", detail,
                                          attr.name_range or attr.range, hint))
        elif not configurable(a):
            diags.append(Diagnostic.error(
                "Value for unconfigurable attribute",
                f'Can\'t configure a value for "{name}": its value will be decided '
                "automatically based on the result of applying this configuration.",
                attr.name_range or attr.range))

    for a in schema.attributes:
        if a.required and a.name not in body.attributes:
            diags.append(Diagnostic.error(
                "Missing required argument",
                f'The argument "{a.name}" is required, but no definition was found.', where))

    counts: dict[str, int] = {}
    seen_labels: dict[tuple[str, str], Block] = {}
    for block in body.blocks:
        if block.type == dynamic.DYNAMIC:
            # Its content is checked as a literal block's body; how many blocks it makes
            # is known once evaluated (`_decode` counts them then).
            dyn_schema, content, dyn_diags = dynamic.check_dynamic(block, schema)
            diags.extend(dyn_diags)
            if dyn_schema is not None and content is not None:
                diags.extend(check_structure(content.body, dyn_schema, content.range))
            continue
        bs = schema.block(block.type)
        if bs is None:
            detail = f'Blocks of type "{block.type}" are not expected here.'
            hint = did_you_mean(block.type, block_names)
            if block.type in attr_names:
                detail += (f' Did you mean to define argument "{block.type}"? If so, use the '
                           "equals sign to assign it a value.")
            diags.append(Diagnostic.error("Unsupported block type", detail, block.range, hint))
            continue
        counts[block.type] = counts.get(block.type, 0) + 1
        if bs.label and len(block.labels) != 1:
            if not block.labels:
                diags.append(Diagnostic.error(
                    f"Missing {bs.label} for {block.type}",
                    f'All {block.type} blocks must have 1 label ({bs.label}).', block.range))
            else:
                diags.append(Diagnostic.error(
                    f"Extraneous label for {block.type}",
                    f"Only 1 label ({bs.label}) is expected for {block.type} blocks.",
                    block.range))
        elif not bs.label and block.labels:
            diags.append(Diagnostic.error(
                f"Extraneous label for {block.type}",
                f"No labels are expected for {block.type} blocks.",
                (block.label_ranges or [block.range])[0]))
        if bs.label and len(block.labels) == 1:
            key = (block.type, block.labels[0])
            if key in seen_labels:
                diags.append(Diagnostic.error(
                    f'Duplicate {block.type} "{block.labels[0]}"',
                    f'A {block.type} named "{block.labels[0]}" was already defined at '
                    f"{seen_labels[key].range}. Names must be unique within a resource.",
                    block.range))
            else:
                seen_labels[key] = block
        diags.extend(check_structure(block.body, bs, block.range))

    generated = dynamic.dynamic_types(body)
    for bs in schema.blocks:
        if bs.name not in generated:
            diags.extend(_check_count(bs, [b for b in body.blocks if b.type == bs.name], where))
    return diags


def _check_count(bs: BlockSchema, blocks: list[Block],
                 where: SourceRange | None) -> list[Diagnostic]:
    """A body's blocks of one type against the schema's min_items and max_items."""
    diags = []
    n = len(blocks)
    if n < bs.min_items:
        diags.append(Diagnostic.error(
            f'Insufficient {bs.name} blocks',
            f'At least {bs.min_items} "{bs.name}" block{"s" if bs.min_items > 1 else ""} '
            "required.", where))
    if bs.max_items is not None and n > bs.max_items:
        diags.append(Diagnostic.error(
            f"Too many {bs.name} blocks",
            f'No more than {bs.max_items} "{bs.name}" block'
            f'{"s are" if bs.max_items > 1 else " is"} allowed.', blocks[bs.max_items].range))
    return diags


def decode_body(body: Body, schema: BlockSchema, ctx: EvalContext,
                range: SourceRange | None = None, *,
                structure: bool = True) -> tuple[dict[str, Any], list[Diagnostic]]:
    """Evaluate a resource (or nested block) body into its attribute dict by the schema.

    `range` is where to point for missing arguments when the body has none of its own.
    With `structure=False` the evaluation-free checks of `check_structure` are skipped (the
    caller made them once for all instances).
    """
    diags: list[Diagnostic] = check_structure(body, schema, range) if structure else []
    return _decode(body, schema, ctx, diags, range, dynamic.Budget()), diags


def _decode(body: Body, schema: BlockSchema, ctx: EvalContext, diags: list[Diagnostic],
            where: SourceRange | None, budget: dynamic.Budget) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for a in schema.attributes:
        if not configurable(a):
            continue
        if a.name == schema.label:
            out[a.name] = None  # set by _decode_blocks from the label
            continue
        attr = body.attributes.get(a.name)
        value = copy_value(a.default)
        if attr is not None:
            v = _eval_attr(attr, a, ctx, diags)
            if v is not None:
                value = v
            elif a.required:
                diags.append(Diagnostic.error(
                    "Missing required argument",
                    f'The argument "{a.name}" is required, but its value is null.',
                    attr.range))
        out[a.name] = value

    # `dynamic` blocks expanded: each block with the context its body is evaluated in.
    expanded = dynamic.expand_blocks(body, schema, ctx, diags, budget) \
        if dynamic.has_dynamic(body) else None
    for bs in schema.blocks:
        if expanded is None:
            pairs = [(b, ctx) for b in body.blocks if b.type == bs.name]
        elif bs.name in expanded.unknown:
            out[bs.name] = UNKNOWN  # a for_each not known yet: so are these blocks
            continue
        else:
            pairs = expanded.blocks.get(bs.name, [])
            if any(b.type == dynamic.DYNAMIC and b.labels == [bs.name] for b in body.blocks):
                diags.extend(_check_count(bs, [b for b, _ in pairs], where or body.range))
                diags.extend(_duplicate_labels(bs, [b for b, _ in pairs], body))
        decoded = []
        for b, bctx in pairs:
            item = _decode(b.body, bs, bctx, diags, b.range, budget)
            if bs.label:
                label = b.labels[0] if b.labels else None
                item = {bs.label: label, **{k: v for k, v in item.items() if k != bs.label}}
            decoded.append(item)
        if bs.single:
            out[bs.name] = decoded[0] if decoded else None
        else:
            out[bs.name] = decoded
    return out


def _duplicate_labels(bs: BlockSchema, blocks: list[Block], body: Body) -> list[Diagnostic]:
    """Labelled blocks, literal and generated, must have distinct labels (two literal ones
    are `check_structure`'s to report)."""
    if not bs.label:
        return []
    literal = {id(b) for b in body.blocks}
    diags = []
    seen: dict[str, Block] = {}
    for b in blocks:
        if len(b.labels) != 1:
            continue
        first = seen.setdefault(b.labels[0], b)
        if first is not b and not (id(first) in literal and id(b) in literal):
            diags.append(Diagnostic.error(
                f'Duplicate {bs.name} "{b.labels[0]}"',
                f'A {bs.name} named "{b.labels[0]}" was already defined at {first.range}. '
                "Names must be unique within a resource.", b.range))
    return diags


def _eval_attr(attr: Attribute, a: AttrSchema, ctx: EvalContext,
               diags: list[Diagnostic]) -> Any:
    try:
        raw = evaluate(attr.expr, ctx)
    except EvalError as exc:
        diags.append(Diagnostic.error(exc.summary, exc.message, exc.range or attr.range,
                                      exc.hint))
        return UNKNOWN
    if raw is None or (isinstance(raw, Sensitive) and raw.value is None):
        return None
    try:
        value = types.convert(raw, schema_type(a.type))
    except types.TypeMismatch as exc:
        diags.append(Diagnostic.error(
            "Incorrect attribute value type",
            f'Inappropriate value for attribute "{a.name}": {exc.message}.',
            attr.expr.range or attr.range))
        return UNKNOWN
    # State, plans and drivers hold plain JSON data; expressions that read the attribute
    # see its list, set or map type again (config/evaluate.py).
    value = plain_value(value)
    problem = check_value(a, value)
    if problem:
        diags.append(Diagnostic.error("Invalid attribute value",
                                      f'Invalid value for "{a.name}": {problem}.',
                                      attr.expr.range or attr.range))
    return value


def check_value(a: AttrSchema, value: Any) -> str | None:
    """The schema's enum/min/max/check validation of one known value; the problem or None.

    Unknown values (and lists holding them) pass: they are checked when known, at apply.
    """
    plain, marked = unmark(value)
    if plain is None or contains_unknown(plain):
        return None
    if a.enum and plain not in a.enum:
        allowed = ", ".join(f'"{e}"' if isinstance(e, str) else str(e) for e in a.enum)
        return f"expected one of {allowed}{_got(plain, marked)}"
    if isinstance(plain, (int, float)) and not isinstance(plain, bool):
        if a.min is not None and plain < a.min or a.max is not None and plain > a.max:
            return _range_message(a, plain) if not marked else \
                _range_message(a, plain).rpartition(", got ")[0] + _got(plain, marked)
    if a.check is not None:
        msg = a.check(plain)
        if msg:
            return scrub(msg, sensitive_strings(value, min_len=1)) if marked else msg
    return None


def _got(plain: Any, marked: bool) -> str:
    # Formatted only for a message (validate checks every value of the configuration). A
    # sensitive value (or one computed from it) is not quoted: say what was expected.
    return f", got {SENSITIVE_TEXT}" if marked else f", got {_show(plain)}"


def _range_message(a: AttrSchema, value: float) -> str:
    lo = "-inf" if a.min is None else _num(a.min)
    hi = "inf" if a.max is None else _num(a.max)
    return f"expected {a.name} to be in the range ({lo} - {hi}), got {_num(value)}"


def _num(v: float) -> str:
    return numbers.to_string(v)


def _show(v: Any) -> str:
    if numbers.is_number(v):
        return numbers.to_string(v)
    return f'"{v}"' if isinstance(v, str) else str(v)


def fill_defaults(schema: BlockSchema, values: dict[str, Any], _path: str = "") -> dict[str, Any]:
    """A partial attribute dict made configuration-shaped, as `decode_body` gives it for a
    body that sets only these: every configurable attribute present (its value, else its
    default, else None), a single block a dict or None, a repeatable block a list of dicts,
    each filled the same way. Values are copied, not checked (see `check_values`). Raises
    ValueError naming the first name the schema does not have (`container[0].imagee`)."""
    names = {a.name for a in schema.attributes if configurable(a)} | \
        {b.name for b in schema.blocks}
    for key in values:
        if key not in names:
            raise ValueError(f"{_path}{key}")
    out: dict[str, Any] = {}
    for a in schema.attributes:
        if configurable(a):
            given = values.get(a.name)
            out[a.name] = copy_value(a.default if given is None else given)
    for bs in schema.blocks:
        given = values.get(bs.name)
        if bs.single:
            item = given[0] if isinstance(given, list) and given else given
            out[bs.name] = None if not isinstance(item, dict) else \
                fill_defaults(bs, item, f"{_path}{bs.name}.")
        else:
            items = given if isinstance(given, list) else [] if given is None else [given]
            out[bs.name] = [fill_defaults(bs, e, f"{_path}{bs.name}[{i}].")
                            for i, e in enumerate(items)]
    return out


def check_values(schema: BlockSchema, values: dict[str, Any], _path: str = "") -> list[str]:
    """The problems of a configuration-shaped dict (`fill_defaults`'s) by the schema, as
    validation reports them for a configuration: missing required arguments, block counts,
    and each value's enum/min/max/check (`check_value`). Each is `path: problem`."""
    problems: list[str] = []
    for a in schema.attributes:
        if not configurable(a) or a.name == schema.label:
            continue
        value = values.get(a.name)
        if value is None:
            if a.required:
                problems.append(f"{_path}{a.name}: the argument is required")
            continue
        problem = check_value(a, value)
        if problem:
            problems.append(f"{_path}{a.name}: {problem}")
    for bs in schema.blocks:
        given = values.get(bs.name)
        items = [given] if isinstance(given, dict) else given if isinstance(given, list) else []
        if len(items) < bs.min_items:
            problems.append(f"{_path}{bs.name}: at least {bs.min_items} required")
        if bs.max_items is not None and len(items) > bs.max_items and not bs.single:
            problems.append(f"{_path}{bs.name}: at most {bs.max_items} allowed")
        for i, e in enumerate(items):
            if isinstance(e, dict):
                where = f"{_path}{bs.name}." if bs.single else f"{_path}{bs.name}[{i}]."
                problems += check_values(bs, e, where)
    return problems
