"""`dynamic` blocks: nested blocks generated from a collection, as Terraform (hcl's dynblock
extension) generates them.

    dynamic "port_mapping" {
      for_each = var.ports          # a list, set, map or object
      iterator = p                  # optional; the block type's name by default
      labels   = [p.key]            # labelled block types only (container "NAME")
      content {
        container_port = p.value    # p.key (list index, map key, set element), p.value
      }
    }

Two halves, both against the block schema a literal block of that type would be decoded by:
`check_dynamic` is the static part (`decode.check_structure` calls it for a `dynamic` block:
the block type, the dynamic block's own arguments, one `content`); `expand_blocks` is the
evaluated part (`decode` calls it before decoding a body that holds dynamic blocks): each
generated block comes with the context its body is evaluated in, its iterator bound, so a
`dynamic` inside `content` sees the outer iterator. A `for_each` not known yet makes every
block of that type unknown (`UNKNOWN`), as Terraform shows "(known after apply)".
`bound_references` gives a body's references without its iterators, for the graph.

Messages are hcl's (ext/dynblock), recorded from Terraform 1.11.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from fgform.config import ast
from fgform.config.ast import Node, Reference
from fgform.config.context import EvalContext, EvalError
from fgform.config.conversions import ConversionError, strip, to_string, type_name
from fgform.config.expr import evaluate
from fgform.config.model import Block, Body
from fgform.config.references import references
from fgform.config.schema import BlockSchema
from fgform.errors import Diagnostic
from fgform.suggest import did_you_mean
from fgform.values import UNKNOWN, SetValue, mark_sensitive

DYNAMIC = "dynamic"
CONTENT = "content"

# hcl's (*hcl.Traversal) wording for an iterator that is not a plain name.
_NOT_A_TRAVERSAL = ("A single static variable reference is required: only attribute access "
                    "and indexing with constant keys. No calculations, function calls, "
                    "template expressions, etc are allowed here.")


def has_dynamic(body: Body) -> bool:
    """Whether a body holds `dynamic` blocks of its own (not counting nested bodies)."""
    return any(b.type == DYNAMIC for b in body.blocks)


def dynamic_types(body: Body) -> set[str]:
    """The block types a body generates with `dynamic` blocks."""
    return {b.labels[0] for b in body.blocks if b.type == DYNAMIC and len(b.labels) == 1}


@dataclass(slots=True)
class Spec:
    """A dynamic block that passed `check_dynamic`: what expansion needs."""

    block: Block
    schema: BlockSchema
    for_each: Node
    iterator: str
    labels: list[Node]
    content: Block


def _spec(block: Block, schema: BlockSchema) -> tuple[Spec | None, list[Diagnostic]]:
    """The dynamic block's parts, or None and why not (hcl's checks, in hcl's order)."""
    diags: list[Diagnostic] = []
    if len(block.labels) != 1:
        if not block.labels:
            diags.append(Diagnostic.error("Missing type for dynamic",
                                          "All dynamic blocks must have 1 labels (type).",
                                          block.range))
        else:
            diags.append(Diagnostic.error(
                "Extraneous label for dynamic",
                "Only 1 labels (type) are expected for dynamic blocks.",
                block.label_ranges[1] if len(block.label_ranges) > 1 else block.range))
        return None, diags
    btype = block.labels[0]
    bs = schema.block(btype)
    if bs is None:
        names = [b.name for b in schema.blocks]
        diags.append(Diagnostic.error(
            "Unsupported block type", f'Blocks of type "{btype}" are not expected here.',
            block.label_ranges[0] if block.label_ranges else block.range,
            did_you_mean(btype, names)))
        return None, diags
    body = block.body
    allowed = ["for_each", "iterator"] + (["labels"] if bs.label else [])
    # (An argument set twice is the loader's to report, anywhere in a resource.)
    for name, attr in body.attributes.items():
        if name not in allowed:
            diags.append(Diagnostic.error(
                "Unsupported argument", f'An argument named "{name}" is not expected here.',
                attr.name_range or attr.range, did_you_mean(name, allowed)))
    for name in ("for_each", "labels"):
        if name in allowed and name not in body.attributes:
            diags.append(Diagnostic.error(
                "Missing required argument",
                f'The argument "{name}" is required, but no definition was found.',
                block.range))
    contents = []
    for b in body.blocks:
        if b.type != CONTENT:
            diags.append(Diagnostic.error(
                "Unsupported block type", f'Blocks of type "{b.type}" are not expected here.',
                b.range, did_you_mean(b.type, [CONTENT])))
        elif b.labels:
            diags.append(Diagnostic.error(
                "Extraneous label for content", "No labels are expected for content blocks.",
                (b.label_ranges or [b.range])[0]))
        else:
            contents.append(b)
    if diags:
        return None, diags
    iterator = btype
    it_attr = body.attributes.get("iterator")
    if it_attr is not None:
        it = it_attr.expr
        if isinstance(it, ast.Variable):
            iterator = it.name
        elif _is_traversal(it):
            diags.append(Diagnostic.error(
                "Invalid dynamic iterator name",
                "Dynamic iterator must be a single variable name.", it.range))
        else:
            diags.append(Diagnostic.error("Invalid expression", _NOT_A_TRAVERSAL, it.range))
    labels: list[Node] = []
    labels_attr = body.attributes.get("labels")
    if labels_attr is not None and not diags:
        if not isinstance(labels_attr.expr, ast.Tuple):
            diags.append(Diagnostic.error("Invalid expression",
                                          "A static list expression is required.",
                                          labels_attr.expr.range))
        else:
            labels = list(labels_attr.expr.items)
            if len(labels) > 1:
                diags.append(Diagnostic.error(
                    "Extraneous dynamic block label",
                    f'Blocks of type "{btype}" require 1 label(s).', labels[1].range))
            elif not labels:
                diags.append(Diagnostic.error(
                    "Insufficient dynamic block labels",
                    f'Blocks of type "{btype}" require 1 label(s).', labels_attr.expr.range))
    if diags:
        return None, diags
    if not contents:
        diags.append(Diagnostic.error(
            "Missing dynamic content block",
            'A dynamic block must have a nested block of type "content" to describe the body '
            "of each generated block.", block.range))
        return None, diags
    if len(contents) > 1:
        diags.append(Diagnostic.error(
            "Extraneous dynamic content block",
            "Only one nested content block is allowed for each dynamic block.",
            contents[1].range))
        return None, diags
    return Spec(block, bs, body.attributes["for_each"].expr, iterator, labels,
                contents[0]), diags


def _is_traversal(node: Node) -> bool:
    while isinstance(node, (ast.GetAttr, ast.Index)):
        node = node.target
    return isinstance(node, ast.Variable)


def check_dynamic(block: Block, schema: BlockSchema
                  ) -> tuple[BlockSchema | None, Block | None, list[Diagnostic]]:
    """The static checks of one `dynamic` block in a body decoded by `schema`: its type
    label names a block type of the schema (else "Unsupported block type", with a
    did-you-mean), its own arguments, exactly one `content`. Returns the generated blocks'
    schema and the content block (for the caller to check the content's body against that
    schema, as it checks a literal block's body), or Nones when the block is not valid."""
    spec, diags = _spec(block, schema)
    if spec is None:
        return None, None, diags
    return spec.schema, spec.content, diags


# The most blocks the dynamic blocks of one resource instance may make, nested ones
# included (docs/language.md, "Limits"): a dynamic block inside another multiplies.
MAX_DYNAMIC_BLOCKS = 10_000


@dataclass(slots=True)
class Budget:
    """How many more blocks dynamic blocks may make while one body is decoded."""

    left: int = MAX_DYNAMIC_BLOCKS
    exceeded: bool = False  # reported once: the rest of the body makes no more blocks


@dataclass(slots=True)
class Expanded:
    """A body's blocks after expansion: per block type, the blocks in source order (literal
    and generated), each with the context its body is evaluated in; `unknown` holds the
    types a not-yet-known `for_each` generates (their value is unknown as a whole)."""

    blocks: dict[str, list[tuple[Block, EvalContext]]] = field(default_factory=dict)
    unknown: set[str] = field(default_factory=set)


def expand_blocks(body: Body, schema: BlockSchema, ctx: EvalContext,
                  diags: list[Diagnostic], budget: Budget | None = None) -> Expanded:
    """Expand a body's `dynamic` blocks (one level: the generated blocks' own dynamic blocks
    are expanded when their bodies are decoded, in their contexts). Invalid dynamic blocks
    generate nothing (`check_dynamic` reported why); evaluation problems are appended to
    `diags`. `budget` is shared by every expansion of one resource instance's body."""
    budget = budget if budget is not None else Budget()
    out = Expanded()
    for block in body.blocks:
        if block.type != DYNAMIC:
            out.blocks.setdefault(block.type, []).append((block, ctx))
            continue
        spec, _ = _spec(block, schema)
        if spec is None:
            continue
        pairs = _iterations(spec, ctx, diags)
        name = spec.schema.name
        if pairs is None:
            continue
        if pairs is UNKNOWN:
            out.unknown.add(name)
            continue
        if len(pairs) > budget.left:
            if not budget.exceeded:
                diags.append(Diagnostic.error(
                    "Too many dynamic blocks",
                    f"The dynamic blocks of this resource make more than {MAX_DYNAMIC_BLOCKS} "
                    "blocks, nested ones included: fgform's limit for one resource.",
                    spec.for_each.range))
            budget.left, budget.exceeded = 0, True
            continue
        budget.left -= len(pairs)
        generated = out.blocks.setdefault(name, [])
        for key, value in pairs:
            bctx = replace(ctx, bindings={**ctx.bindings,
                                          spec.iterator: {"key": key, "value": value}})
            labels = _labels(spec, bctx, diags)
            if labels is None:
                continue
            # A generated block points at its dynamic block, as hcl's DefRange does.
            generated.append((Block(name, labels, spec.content.body, block.range,
                                    [n.range for n in spec.labels]), bctx))
    return out


def _iterations(spec: Spec, ctx: EvalContext, diags: list[Diagnostic]) -> Any:
    """The (key, value) pairs for_each iterates; UNKNOWN when not known; None on error."""
    node = spec.for_each
    try:
        raw = evaluate(node, ctx)
    except EvalError as exc:
        diags.append(Diagnostic.error(exc.summary, exc.message, exc.range or node.range,
                                      exc.hint))
        return None
    coll, sensitive = strip(raw)
    if coll is UNKNOWN:
        return UNKNOWN

    def bad(detail: str) -> None:
        diags.append(Diagnostic.error("Invalid dynamic for_each value", detail, node.range))

    if coll is None:
        bad("Cannot use a null value in for_each.")
        return None
    if not isinstance(coll, (list, tuple, dict)):
        bad(f"Cannot use a {type_name(coll)} value in for_each. An iterable collection is "
            "required.")
        return None
    if isinstance(coll, dict):
        pairs = [(k, coll[k]) for k in sorted(coll)]  # lexical key order, as cty's maps
    elif isinstance(coll, SetValue):
        if any(strip(v)[0] is UNKNOWN for v in coll):
            return UNKNOWN  # how many distinct elements there are is not known yet
        pairs = [(v, v) for v in coll]  # a set's key is its element
    else:
        pairs = list(enumerate(coll))
    if sensitive:
        # The elements of a sensitive collection are sensitive, and so are their keys.
        pairs = [(mark_sensitive(k), mark_sensitive(v)) for k, v in pairs]
    return pairs


def _labels(spec: Spec, ctx: EvalContext, diags: list[Diagnostic]) -> list[str] | None:
    """The generated block's labels, evaluated in its iteration's context (hcl: strings,
    known, not null)."""
    out = []
    for node in spec.labels:
        def bad(detail: str, node: Node = node) -> None:
            diags.append(Diagnostic.error("Invalid dynamic block label", detail, node.range))

        try:
            raw = evaluate(node, ctx)
        except EvalError as exc:
            diags.append(Diagnostic.error(exc.summary, exc.message, exc.range or node.range,
                                          exc.hint))
            return None
        value, sensitive = strip(raw)
        if value is None:
            bad("Cannot use a null value as a dynamic block label.")
            return None
        if value is UNKNOWN:
            bad("This value is not yet known. Dynamic block labels must be immediately-known "
                "values.")
            return None
        if sensitive:
            # A label becomes the block's name in plan output: it cannot be hidden there.
            bad("Cannot use a sensitive value as a dynamic block label.")
            return None
        try:
            out.append(to_string(value))
        except ConversionError:
            bad("Cannot use this value as a dynamic block label: string required.")
            return None
    return out


def bound_references(body: Body, bound: frozenset[str] = frozenset()) -> list[Reference]:
    """Every static reference of a body and its nested blocks, in source order, without the
    iterators of the dynamic blocks they appear in (`port.value` inside
    `dynamic "port" { ... }` names no graph node). A dynamic block's `for_each` and `labels`
    see the iterators of enclosing dynamic blocks only; its `iterator` is a name, not a
    reference."""
    out: list[Reference] = []
    for attr in body.attributes.values():
        out.extend(references(attr.expr, bound))
    for block in body.blocks:
        if block.type != DYNAMIC:
            out.extend(bound_references(block.body, bound))
            continue
        inner = bound
        it_attr = block.body.attributes.get("iterator")
        if it_attr is not None and isinstance(it_attr.expr, ast.Variable):
            inner = bound | {it_attr.expr.name}
        elif it_attr is None and len(block.labels) == 1:
            inner = bound | {block.labels[0]}
        for name in ("for_each", "labels"):
            attr = block.body.attributes.get(name)
            if attr is not None:
                out.extend(references(attr.expr, bound if name == "for_each" else inner))
        for b in block.body.blocks:
            out.extend(bound_references(b.body, inner))
    return out



def literal_blocks(body: Body, type_: str) -> list[Block]:
    """A body's literal blocks of one type, for pointing at the block a decoded element
    came from by its index; [] when a `dynamic` block also makes blocks of that type (the
    indexes no longer match: callers then point at the enclosing block)."""
    if type_ in dynamic_types(body):
        return []
    return body.blocks_of(type_)


def known_blocks(value: Any) -> list[Any]:
    """A decoded repeatable block's elements; [] while a dynamic `for_each` leaves them
    unknown (or when there are none), for checks that look at what is known."""
    plain, _ = strip(value)
    return plain if isinstance(plain, list) else []


def contents_of(blocks: list[Block], type_: str) -> list[Block]:
    """The `content` blocks of the dynamic blocks among `blocks` that make blocks of one
    type: what every generated block's body is (for static checks of the expressions in
    it)."""
    return [c for b in blocks if b.type == DYNAMIC and b.labels == [type_]
            for c in b.body.blocks if c.type == CONTENT]
