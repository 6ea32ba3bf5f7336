"""Names in expressions resolved from the context: `var.x`, `local.y`, `module.m`, `each.key`,
`count.index`, `path.module`, `terraform.workspace`, `TYPE.NAME`, and the names for-expressions
bind; with Terraform's errors (and a did-you-mean) for what is not declared."""

from __future__ import annotations

from typing import Any

from fgform.config import ast
from fgform.config.ast import Node
from fgform.config.context import EvalContext, EvalError
from fgform.suggest import did_you_mean
from fgform.values import UNKNOWN

ROOT_NAMES = ("var", "local", "module", "each", "count", "path", "self", "terraform", "fgform")


def resolve_variable(node: ast.Variable, ctx: EvalContext) -> Any:
    name = node.name
    if name in ctx.bindings:
        return ctx.bindings[name]
    if name == "self":
        return ctx.self_value
    if name in ("var", "local", "module", "each", "count", "path", "terraform", "fgform"):
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


# The roots whose names a module declares: the context's table of them, and the error (detail,
# summary) for a name the table lacks.
_DECLARED = {
    "var": ("variables",
            'An input variable with the name "{name}" has not been declared. This variable can '
            'be declared with a variable "{name}" {{}} block.',
            "Reference to undeclared input variable"),
    "local": ("locals", 'A local value with the name "{name}" has not been declared.',
              "Reference to undeclared local value"),
    "module": ("modules", 'No module call named "{name}" is declared in this module.',
               "Reference to undeclared module"),
}


def root_attr(node: ast.GetAttr, ctx: EvalContext) -> tuple[bool, Any]:
    """Resolve `root.name` for the special roots; (False, None) when not special."""
    target = node.target
    if not isinstance(target, ast.Variable) or target.name in ctx.bindings:
        return False, None
    root, name = target.name, node.name
    declared = _DECLARED.get(root)
    if declared is not None:
        field, detail, summary = declared
        table = getattr(ctx, field)
        if name not in table:
            raise EvalError(detail.format(name=name), node.range,
                            hint=did_you_mean(name, table), summary=summary)
        return True, table[name]
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
    if root in ("terraform", "fgform"):
        if name == "workspace":
            return True, ctx.workspace
        raise EvalError(f'The "{root}" object has no attribute named "{name}". The only '
                        f'supported attribute is {root}.workspace, the name of the '
                        "selected workspace.", node.range, summary="Invalid reference")
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


def is_resource_ref(node: Node) -> bool:
    return (isinstance(node, ast.GetAttr) and isinstance(node.target, ast.Variable)
            and node.target.name not in ROOT_NAMES)
