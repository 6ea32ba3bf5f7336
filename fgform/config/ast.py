"""The expression tree of the fgform language (HCL native syntax).

The HCL front end (`config/hcl.py`, through `config/convert.py`) builds these nodes from
python-hcl2's parse tree; the evaluator (`config/expr.py`) walks them. Every node carries its
SourceRange so errors point at the user's text. Nodes are plain frozen dataclasses
(config/cache_codec.py stores them as JSON data).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fgform.errors import SourceRange


@dataclass(frozen=True, slots=True)
class Node:
    range: SourceRange


@dataclass(frozen=True, slots=True)
class Literal(Node):
    """null, true/false, a number, or a string with no interpolation."""

    value: Any


@dataclass(frozen=True, slots=True)
class Template(Node):
    """A quoted string or heredoc with interpolations: parts are str or Node.

    A template made of exactly one interpolation ("${x}") yields x's value unconverted, as in
    Terraform.
    """

    parts: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class TemplateIf(Node):
    """%{ if cond }...%{ else }...%{ endif } inside a template."""

    condition: Node
    then_parts: tuple[Any, ...]
    else_parts: tuple[Any, ...] = ()


@dataclass(frozen=True, slots=True)
class TemplateFor(Node):
    """%{ for k, v in coll }...%{ endfor } inside a template."""

    key_var: str | None
    value_var: str
    collection: Node
    parts: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a traversal: `.name` (attr) or `[expr]` (index)."""

    attr: str | None = None
    index: Node | None = None
    range: SourceRange | None = None


@dataclass(frozen=True, slots=True)
class Variable(Node):
    """A bare root name: var, local, module, each, count, path, self, a resource type, or a
    for-expression's own variable."""

    name: str


@dataclass(frozen=True, slots=True)
class GetAttr(Node):
    target: Node
    name: str


@dataclass(frozen=True, slots=True)
class Index(Node):
    target: Node
    key: Node


@dataclass(frozen=True, slots=True)
class Splat(Node):
    """`target[*].rest` or `target.*.rest`: `each` is applied to every element, with
    `SplatItem` standing for the element inside it."""

    target: Node
    each: Node
    full: bool = True


@dataclass(frozen=True, slots=True)
class SplatItem(Node):
    pass


@dataclass(frozen=True, slots=True)
class Call(Node):
    name: str
    args: tuple[Node, ...]
    expand_final: bool = False


@dataclass(frozen=True, slots=True)
class Unary(Node):
    op: str  # "-" or "!"
    operand: Node


@dataclass(frozen=True, slots=True)
class Binary(Node):
    op: str  # + - * / % == != < > <= >= && ||
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Conditional(Node):
    condition: Node
    true_result: Node
    false_result: Node


@dataclass(frozen=True, slots=True)
class Tuple(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Object(Node):
    """`{ k = v, ... }`: a key that is a bare word is a Literal string key."""

    items: tuple[tuple[Node, Node], ...]


@dataclass(frozen=True, slots=True)
class For(Node):
    """[for k, v in coll : v if cond] or {for k, v in coll : k => v... if cond}."""

    key_var: str | None
    value_var: str
    collection: Node
    value: Node
    key: Node | None = None  # set for the object form
    condition: Node | None = None
    group: bool = False


@dataclass(frozen=True, slots=True)
class Parens(Node):
    inner: Node


@dataclass(frozen=True, slots=True)
class Reference:
    """A static reference found in an expression: `var.x`, `fg_service.web.id`,
    `module.m.url`, `local.y`. `parts` holds the leading attribute names (and literal index
    keys as int/str) up to the first dynamic step."""

    parts: tuple[str | int, ...]
    range: SourceRange = field(compare=False)

    def __str__(self) -> str:
        out = ""
        for p in self.parts:
            out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
        return out
