"""Decoding of `moved`, `removed`, `import` and `check` blocks into the module's
`moved`/`removed`/`imports`/`checks` (see `config/meta_model.py`), with Terraform's errors.

`config/blocks.py` hands these block types here (`decode_meta_block`); the planner applies
them (`plan/moves.py`, `plan/imports.py`, `plan/checks.py`).
"""

from __future__ import annotations

from typing import Any

from fgform.addresses import Address, AddressError, parse_address
from fgform.config import ast
from fgform.config.meta_model import (
    Assertion,
    CheckBlock,
    Endpoint,
    ImportBlock,
    MovedBlock,
    RemovedBlock,
)
from fgform.config.model import Attribute, Block
from fgform.config.references import references
from fgform.errors import Diagnostic

# Block type -> number of labels, for blocks.py's table.
META_BLOCK_LABELS = {"moved": 0, "removed": 0, "import": 0, "check": 1}


def traversal_text(node: ast.Node) -> str | None:
    """`module.x["a"].fg_cluster.main[0]` written back as text; None for anything but a plain
    traversal with literal keys."""
    if isinstance(node, ast.Variable):
        return node.name
    if isinstance(node, ast.GetAttr):
        inner = traversal_text(node.target)
        return None if inner is None else f"{inner}.{node.name}"
    if isinstance(node, ast.Index) and isinstance(node.key, ast.Literal):
        inner = traversal_text(node.target)
        key = node.key.value
        if inner is None or isinstance(key, bool) or not isinstance(key, (int, str, float)):
            return None
        if isinstance(key, float):
            if not key.is_integer():
                return None
            key = int(key)
        return f"{inner}[{key}]" if isinstance(key, int) else f'{inner}["{_escape(key)}"]'
    return None


def _escape(key: str) -> str:
    return key.replace("\\", "\\\\").replace('"', '\\"')


def parse_endpoint(text: str) -> Endpoint | None:
    """A resource, instance, module call or module instance address; None if it is none."""
    try:
        addr = parse_address(text)
        return Endpoint(addr.module, Address(addr.type, addr.name, addr.key),
                        instance=addr.key is not None)
    except AddressError:
        pass
    if not text.startswith("module."):
        return None
    try:
        # module.m["a"].module.n: parse it as the module path of a resource
        addr = parse_address(f"{text}.t.n")
    except AddressError:
        return None
    return Endpoint(addr.module, None, instance=addr.module[-1].key is not None)


def decode_meta_block(dec: Any, block: Block) -> None:
    """Decode one `moved`/`removed`/`import`/`check` block into `dec.m` (a ModuleDecoder,
    whose `err`, `_no_dups` and `_unexpected` report problems)."""
    dec._no_dups(block.body)
    {"moved": _moved, "removed": _removed, "import": _import,
     "check": _check}[block.type](dec, block)


def _required(dec: Any, block: Block, name: str) -> Attribute | None:
    attr = block.body.attributes.get(name)
    if attr is None:
        dec.err("Missing required argument",
                f'The argument "{name}" is required, but no definition was found.', block.range)
    return attr


def _endpoint(dec: Any, attr: Attribute, what: str) -> Endpoint | None:
    text = traversal_text(attr.expr)
    ep = parse_endpoint(text) if text is not None else None
    if ep is None:
        dec.err("Invalid address",
                f"The {what} must be the address of a resource, resource instance, module or "
                "module instance, such as fg_cluster.main, fg_cluster.main[0] or module.net.",
                attr.expr.range)
    return ep


def _moved(dec: Any, block: Block) -> None:
    dec._unexpected(block.body, ("from", "to"), (), "a moved block")
    src, dst = _required(dec, block, "from"), _required(dec, block, "to")
    if src is None or dst is None:
        return
    a, b = _endpoint(dec, src, '"from" address'), _endpoint(dec, dst, '"to" address')
    if a is None or b is None:
        return
    if a.is_module != b.is_module:
        dec.err("Invalid \"moved\" addresses",
                f"Cannot move {a} to {b}: both addresses must name resources, or both "
                "modules.", block.range)
        return
    if not a.is_module:
        assert a.resource is not None and b.resource is not None
        if a.resource.type != b.resource.type:
            dec.err("Resource type mismatch",
                    f"This statement declares a move from {a} to {b}, which is a resource of "
                    "a different type.", block.range)
            return
    if a.instance != b.instance:
        # `fg_x.a` -> `fg_x.a["k"]` (count or for_each added) and back: the address without
        # a key is the instance without one, as in Terraform.
        a, b = Endpoint(a.module, a.resource, True), Endpoint(b.module, b.resource, True)
    if str(a) == str(b):
        dec.err("Redundant move statement",
                f"This statement declares a move from {a} to the same address, which is the "
                "same as not declaring this move at all.", block.range)
        return
    dec.m.moved.append(MovedBlock(a, b, block.range))


def _removed(dec: Any, block: Block) -> None:
    dec._unexpected(block.body, ("from",), ("lifecycle",), "a removed block")
    src = _required(dec, block, "from")
    destroy = True
    lifecycles = block.body.blocks_of("lifecycle")
    for lc in lifecycles:
        dec._unexpected(lc.body, ("destroy",), (), "a removed block's lifecycle")
        destroy = dec._static_bool_attr(lc.body, "destroy", True)
    if src is None:
        return
    ep = _endpoint(dec, src, '"from" address')
    if ep is None:
        return
    if ep.instance:
        dec.err("Resource instance keys not allowed",
                "Resource address must be a resource (e.g. \"test_instance.foo\"), not a "
                "resource instance (e.g. \"test_instance.foo[1]\").", src.expr.range)
        return
    dec.m.removed.append(RemovedBlock(ep, destroy, block.range))


def _import(dec: Any, block: Block) -> None:
    dec._unexpected(block.body, ("to", "id"), (), "an import block")
    to, ident = _required(dec, block, "to"), _required(dec, block, "id")
    if to is None or ident is None:
        return
    text = traversal_text(to.expr)
    try:
        addr = parse_address(text) if text is not None else None
    except AddressError:
        addr = None
    if addr is None:
        dec.err("Invalid import address",
                "The import block's \"to\" must be the address of a resource instance, such "
                "as fg_cluster.main or fg_cluster.main[\"a\"].", to.expr.range)
        return
    dec.m.imports.append(ImportBlock(addr, ident.expr, block.range, to.expr.range))


def _check(dec: Any, block: Block) -> None:
    name = block.labels[0]
    dec._check_name("check", block)
    dec._unexpected(block.body, (), ("assert", "data"), f'check "{name}"')
    check = CheckBlock(name, block.range)
    for b in block.body.blocks:
        if b.type == "data":
            dec.err("Unsupported block type",
                    "Scoped data blocks in check blocks are not supported by fgform; use the "
                    "resources of the configuration in the assertions.", b.range)
        if b.type != "assert":
            continue
        dec._unexpected(b.body, ("condition", "error_message"), (), "an assert block")
        cond, msg = _required(dec, b, "condition"), _required(dec, b, "error_message")
        if cond is None or msg is None:
            continue
        if not references(cond.expr):
            dec.err("Invalid assert expression",
                    "The condition expression must refer to at least one object from "
                    "elsewhere in the configuration, or else its result would not be checking "
                    "anything.", cond.range)
            continue
        check.asserts.append(Assertion(cond.expr, msg.expr, cond.range))
    if not check.asserts:
        dec.err("Zero assert blocks", "Check blocks must have at least one assert block.",
                block.range)
        return
    if dec._check_unique("check block", name, dec.m.checks, block.range):
        dec.m.checks[name] = check




# -- checks over the whole configuration ----------------------------------------------------


def _module_at(config: Any, path: tuple[str, ...]) -> Any:
    """The Config of the module call path (names only), or None."""
    cfg = config
    for name in path:
        cfg = cfg.children.get(name) if cfg is not None else None
    return cfg


def _declared(config: Any, decl: tuple[str, ...], ep: Endpoint) -> Any:
    """The resource or module call `ep` (declared in module `decl`) names, if the
    configuration still declares it; None otherwise."""
    parent = _module_at(config, decl + tuple(s.name for s in ep.module[:-1])
                        if ep.is_module else decl + tuple(s.name for s in ep.module))
    if parent is None:
        return None
    if ep.is_module:
        return parent.module.module_calls.get(ep.module[-1].name)
    assert ep.resource is not None
    return parent.module.resources.get(f"{ep.resource.type}.{ep.resource.name}")


def _walk_configs(config: Any) -> list[Any]:
    out = [config]
    for name in sorted(config.children):
        out += _walk_configs(config.children[name])
    return out


def _star(ep: Endpoint) -> str:
    """Terraform's spelling of a whole resource or module call in move messages: `x.y[*]`."""
    return str(ep) if ep.instance else f"{ep}[*]"


def check_meta_blocks(config: Any) -> list[Diagnostic]:
    """What Terraform reports about moved, removed and import blocks before planning:
    a moved or removed object still declared, a cycle of moves, an import block outside the
    root module or without its resource in the configuration."""
    diags: list[Diagnostic] = []
    for cfg in _walk_configs(config):
        decl = tuple(cfg.path)
        for mv in cfg.module.moved:
            still = _declared(config, decl, mv.from_)
            if still is not None and not mv.from_.instance:
                kind = "module call" if mv.from_.is_module else "resource"
                diags.append(Diagnostic.error(
                    "Moved object still exists",
                    f"This statement declares a move from {mv.from_}, but that {kind} is still "
                    f"declared at {still.range}.\n\nChange your configuration so that this "
                    f"{kind} will be declared as {mv.to} instead.", mv.range))
        for rm in cfg.module.removed:
            still = _declared(config, decl, rm.from_)
            if still is not None:
                kind = "module" if rm.from_.is_module else "resource"
                diags.append(Diagnostic.error(
                    f"Removed {kind} still exists",
                    f"This statement declares that {rm.from_} was removed, but it is still "
                    "declared in configuration.", still.range))
        diags += _move_cycles(cfg.module.moved)
        for imp in cfg.module.imports:
            if decl:
                diags.append(Diagnostic.error(
                    "Invalid import configuration",
                    f'An import block was detected in "module.{".".join(decl)}". Import '
                    "blocks are only allowed in the root module.", imp.range))
                continue
            target = _module_at(config, tuple(s.name for s in imp.to.module))
            if target is None or f"{imp.to.type}.{imp.to.name}" not in target.module.resources:
                diags.append(Diagnostic.error(
                    "Configuration for import target does not exist",
                    f"The configuration for the given import target {imp.to} does not exist. "
                    "fgform does not generate configuration: make sure the target resource "
                    "exists within your configuration.", imp.to_range))
    return diags


CHECK_OUTPUT_PREFIX = "\x00check."  # no configuration can name an output this way


def has_checks(config: Any) -> bool:
    """Whether the root module or any module it calls (however deep) has check blocks."""
    return any(cfg.module.checks for cfg in _walk_configs(config))


def check_probe(config: Any) -> tuple[Any, list[str]]:
    """A copy of `config` where every module with check blocks has each assertion's
    condition and error message as a hidden output (`CHECK_OUTPUT_PREFIX` + `NAME.I.c` /
    `.m`), and those outputs' graph node ids (`output.NAME` in the root,
    `module.a.module.b.output.NAME` in a child): what the graph validates references of and
    a walk evaluates (plan/checks.py). A child's hidden outputs are no part of its
    `module.NAME` object (graph.py, config/evaluate.py leave them out)."""
    from dataclasses import replace

    from fgform.config.depgraph import module_prefix
    from fgform.config.model import Output

    node_ids: list[str] = []

    def probe(cfg: Any) -> Any:
        children = {name: probe(child) for name, child in cfg.children.items()}
        outputs = dict(cfg.module.outputs)
        pre = module_prefix(cfg.path)
        for cname, check in sorted(cfg.module.checks.items()):
            for i, a in enumerate(check.asserts):
                for part, expr in (("c", a.condition), ("m", a.error_message)):
                    name = f"{CHECK_OUTPUT_PREFIX}{cname}.{i}.{part}"
                    outputs[name] = Output(name=name, expr=expr, range=a.range)
                    node_ids.append(f"{pre}output.{name}")
        module = replace(cfg.module, outputs=outputs) if cfg.module.checks else cfg.module
        return replace(cfg, module=module, children=children)

    return probe(config), node_ids


def _move_cycles(moved: list[MovedBlock]) -> list[Diagnostic]:
    """Chains of moves within one module that come back to where they started."""
    by_from = {str(m.from_): m for m in moved}
    reported: set[str] = set()
    out: list[Diagnostic] = []
    for start in moved:
        chain: list[MovedBlock] = []
        seen: set[str] = set()
        cur: MovedBlock | None = start
        while cur is not None and str(cur.from_) not in seen:
            seen.add(str(cur.from_))
            chain.append(cur)
            cur = by_from.get(str(cur.to))
        if cur is None:
            continue
        cycle = chain[[str(m.from_) for m in chain].index(str(cur.from_)):]
        key = min(str(m.from_) for m in cycle)
        if key in reported:
            continue
        reported.add(key)
        lines = "\n".join(f"  - {m.range}: {_star(m.from_)} \u2192 {_star(m.to)}"
                          for m in sorted(cycle, key=lambda m: (m.range.filename,
                                                                  m.range.start_line)))
        out.append(Diagnostic.error(
            "Cyclic dependency in move statements",
            "The following chained move statements form a cycle, and so there is no final "
            f"location to move objects to:\n{lines}\n\nA chain of move statements must end "
            "with an address that doesn't appear in any other statements, and which "
            "typically also refers to an object still declared in the configuration.",
            None))
    return out


__all__ = ["CHECK_OUTPUT_PREFIX", "META_BLOCK_LABELS", "check_meta_blocks", "check_probe",
           "decode_meta_block", "has_checks", "parse_endpoint", "traversal_text"]
