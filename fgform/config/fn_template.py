"""templatestring: a template held in a value (a variable, a local, an attribute) rendered
with the given variables, under Terraform's rules: the template argument must be a
reference, not a literal; the template may call no file functions and no template
function; every name it uses must be among the variables."""

from __future__ import annotations

import re
from typing import Any

from fgform.config import ast, hcl
from fgform.config.context import EvalContext, EvalError
from fgform.config.conversions import (
    ConversionError,
    deep_unmark,
    has_sensitive,
    mark,
    strip,
    to_string,
)
from fgform.config.expr import evaluate
from fgform.config.fn_base import CallInfo, FuncError
from fgform.config.references import references
from fgform.errors import SourceRange
from fgform.values import UNKNOWN, contains_unknown

_NAME = "<templatestring argument>"
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_NOT_IN_TEMPLATES = ("templatefile", "templatestring")


def _where(r: SourceRange | None) -> str:
    if r is None:
        return _NAME
    end = f"-{r.end_col}" if r.end_line in (0, r.start_line) and r.end_col else ""
    return f"{_NAME}:{r.start_line},{r.start_col}{end}"


def _check_reference(node: ast.Node) -> None:
    """As Terraform: the template must come from elsewhere, by a reference."""
    inner = node
    while isinstance(inner, ast.Parens):
        inner = inner.inner
    if isinstance(inner, ast.Literal) or (isinstance(inner, ast.Template) and all(
            isinstance(p, str) for p in inner.parts)):
        raise FuncError("invalid template expression: templatestring is only for rendering "
                        "templates retrieved dynamically from elsewhere, and so does not "
                        "support providing a literal template; consider using a template "
                        "string expression instead", 0)
    if isinstance(inner, ast.Template):
        raise FuncError("invalid template expression: templatestring is only for rendering "
                        "templates retrieved dynamically from elsewhere; to treat the inner "
                        "expression as template syntax, write the reference expression "
                        "directly without any template interpolation syntax", 0)
    while isinstance(inner, (ast.GetAttr, ast.Index)):
        inner = inner.target
    if not isinstance(inner, ast.Variable):
        raise FuncError("invalid template expression: must be a direct reference to a single "
                        "string from elsewhere, containing valid Terraform template syntax", 0)


def templatestring(c: CallInfo, template_node: ast.Node, vars_node: ast.Node,
                   file_functions: frozenset[str]) -> Any:
    """Render the template the first argument refers to with the second's variables.
    `file_functions` are the names the template may not call (they read files)."""
    _check_reference(template_node)
    template = evaluate(template_node, c.ctx)
    variables = evaluate(vars_node, c.ctx)
    sens = has_sensitive(template) or has_sensitive(variables)
    template, variables = deep_unmark(template), deep_unmark(variables)
    if template is None:
        raise FuncError("argument must not be null", 0)
    if variables is None:
        raise FuncError("argument must not be null", 1)
    if template is UNKNOWN or contains_unknown(variables):
        return mark(UNKNOWN, sens)
    if not isinstance(template, str):
        raise FuncError("invalid template value: a string is required", 0)
    if not isinstance(variables, dict):
        raise FuncError("invalid vars value: must be a map", 1)
    for name in variables:
        if not _VAR_NAME.fullmatch(name):
            raise FuncError(f'invalid template variable name "{name}": must start with a '
                            "letter, followed by zero or more letters, digits, and "
                            "underscores", 1)
    try:
        node = hcl.parse_template(template, _NAME)
    except ValueError as e:
        raise FuncError(f"invalid template: {e}", 0) from None
    for ref in references(node):
        root = str(ref.parts[0])
        if root not in variables:
            r = ref.range  # Terraform points at the root name only
            raise FuncError(f'vars map does not contain key "{root}", referenced at '
                            f"{_NAME}:{r.start_line},{r.start_col}-{r.start_col + len(root)}",
                            1)
    outer = c.ctx.functions

    def functions(call: ast.Call, ctx: EvalContext) -> Any:
        r = call.range  # Terraform points at the function's name and its "("
        at = SourceRange(r.filename, r.start_line, r.start_col, r.start_line,
                         r.start_col + len(call.name) + 1) if r else None
        if call.name in file_functions:
            raise EvalError(f'Call to function "{call.name}" failed: cannot use filesystem '
                            f"access functions like {call.name} in templatestring templates; "
                            "consider passing the function result as a template variable "
                            "instead.", at, summary="Error in function call")
        if call.name in _NOT_IN_TEMPLATES:
            raise EvalError(f'Call to function "{call.name}" failed: cannot recursively call '
                            f"{call.name} from inside another template function.", at,
                            summary="Error in function call")
        assert outer is not None
        return outer(call, ctx)

    inner = EvalContext(path_module=c.ctx.path_module, path_root=c.ctx.path_root,
                        path_cwd=c.ctx.path_cwd, bindings=dict(variables),
                        functions=functions)
    try:
        result = evaluate(node, inner)
    except EvalError as e:
        raise FuncError(f"{_where(e.range)}: {e.summary}; {e.message}", None) from None
    value, s = strip(result)
    if value is None:
        whole = SourceRange(_NAME, 1, 1, 1, len(template) + 1) if "\n" not in template \
            else node.range
        raise FuncError(f"{_where(whole)}: Template result is null; The result of the "
                        "template is null, which is not a valid result for a templatestring "
                        "call.", None)
    if value is not UNKNOWN and not isinstance(value, str):
        try:
            value = to_string(value)
        except ConversionError:
            raise FuncError("invalid template result: string required", None) from None
    return mark(value, sens or s)
