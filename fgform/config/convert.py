"""Parse tree -> AST: one file's lark tree (from config/hcl.py) into Body/Block/Attribute and
expression nodes (config/ast.py).

Positions are read from the tokens (lark does not propagate them up the tree: that halved
the parse time). Nothing here imports lark: trees are read by their shape, and template text
inside strings and heredocs is parsed through the `parse` function the front end passes in.
"""

from __future__ import annotations

import re
from typing import Any

from fgform import numbers
from fgform.config import ast, nesting
from fgform.config.model import Attribute, Block, Body
from fgform.config.templates import ParseFn, TemplateParts, text_position
from fgform.errors import Diagnostic, SourceRange


class ConvertError(Exception):
    """A problem found while converting the parse tree (bad escape, stray %{else}...)."""

    def __init__(self, summary: str, detail: str, rng: SourceRange) -> None:
        super().__init__(detail)
        self.summary = summary
        self.detail = detail
        self.range = rng


_UNSEEN = object()
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
_ESCAPE_RE = re.compile(r"\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)", re.S)


class Converter(TemplateParts):
    """Turns one file's lark tree into Body/Block/Attribute and AST nodes."""

    def __init__(self, filename: str, src: str, col_shift: tuple[int, int] | None = None, *,
                 parse: ParseFn) -> None:
        self.filename = filename
        self.parse = parse
        self.src = src
        self.diags: list[Diagnostic] = []
        # (line, dcol): positions on the tree's line 1 move by dcol, all lines by line - 1.
        self.shift = col_shift
        # First and last tokens of the trees seen (by id: trees live as long as this).
        self._edges: tuple[dict[int, Any], dict[int, Any]] = ({}, {})
        # Nesting depth of the expression being converted, and how deep it may go.
        self.depth = 0
        self.room = nesting.SHALLOW_NESTING
        self._expr = {
            "expr_term": self.expr_term,
            "conditional": self.conditional,
            "binary_op": self.binary_op,
            "unary_op": self.unary_op,
            "string": self.string,
            "int_lit": self.int_lit,
            "float_lit": self.float_lit,
            "identifier": self.identifier,
            "literal_value": self.literal_value,
            "tuple": self.tuple,
            "object": self.object,
            "function_call": self.function_call,
            "heredoc_template": self.heredoc,
            "heredoc_template_trim": self.heredoc,
            "index_expr_term": self.index_expr,
            "get_attr_expr_term": self.get_attr_expr,
            "attr_splat_expr_term": self.splat_expr,
            "full_splat_expr_term": self.splat_expr,
            "for_tuple_expr": self.for_expr,
            "for_object_expr": self.for_expr,
            "template_string": self.template_string,
        }

    # -- positions ------------------------------------------------------------------------

    def rng(self, item: Any) -> SourceRange:
        if hasattr(item, "data"):  # a tree: from its first token to its last
            first = self._edge_token(item, last=False)
            if first is None:
                return SourceRange(self.filename, 1, 1)
            end = self._edge_token(item, last=True)
            line, col, eline, ecol = first.line, first.column, end.end_line, end.end_column
        else:
            line = getattr(item, "line", None) or 1
            col = getattr(item, "column", None) or 1
            eline = getattr(item, "end_line", None) or line
            ecol = getattr(item, "end_column", None) or col
        if self.shift is None:  # a whole file: positions as they are (the hot path)
            return SourceRange(self.filename, line, col, eline, ecol)
        return self.position(line, col, eline, ecol)

    def position(self, line: int, col: int, end_line: int, end_col: int) -> SourceRange:
        """A range from parser coordinates, moved by `shift` to where the text stands."""
        if self.shift is not None:
            base, dcol = self.shift
            col = col + dcol if line == 1 else col
            end_col = end_col + dcol if end_line == 1 else end_col
            line += base - 1
            end_line += base - 1
        return SourceRange(self.filename, line, col, end_line, end_col)

    def _edge_token(self, tree: Any, last: bool) -> Any:
        """The first (or last) token under `tree`, None when it holds none. Every tree on the
        way down is remembered, so asking again for any of them, as the conversion does
        from the outside in, costs nothing: a chain of n nested nodes stays O(n)."""
        # Usually the edge child holds the token a few levels down: go straight there.
        node = tree
        for _ in range(16):
            kids = node.children
            if not kids:
                break
            node = kids[-1] if last else kids[0]
            if node is None:
                break
            if not hasattr(node, "data"):
                return node
        memo = self._edges[last]
        found = memo.get(id(tree), _UNSEEN)
        if found is not _UNSEEN:
            return found
        # Depth-first in token order (reversed for the last token); a None in the stack marks
        # the end of the subtree opened last, which then held no token at all.
        opened: list[Any] = []
        stack: list[Any] = [tree]
        found = None
        while stack:
            node = stack.pop()
            if node is None:
                memo[id(opened.pop())] = None
                continue
            if not hasattr(node, "data"):
                found = node
                break
            known = memo.get(id(node), _UNSEEN)
            if known is not _UNSEEN:
                if known is not None:
                    found = known
                    break
                continue
            opened.append(node)
            stack.append(None)
            kids = [k for k in node.children if k is not None]
            stack.extend(kids if last else reversed(kids))
        for node in opened:  # what is still open holds the token found
            memo[id(node)] = found
        return found

    def span(self, a: Any, b: Any) -> SourceRange:
        ra, rb = self.rng(a), self.rng(b)
        return SourceRange(self.filename, ra.start_line, ra.start_col, rb.end_line, rb.end_col)

    def error(self, summary: str, detail: str, item: Any) -> ConvertError:
        rng = item if isinstance(item, SourceRange) else self.rng(item)
        return ConvertError(summary, detail, rng)

    # -- structure ------------------------------------------------------------------------

    @staticmethod
    def _trees(children: list[Any]) -> list[Any]:
        return [c for c in children
                if hasattr(c, "data") and c.data != "new_line_or_comment"]

    def body(self, tree: Any) -> Body:
        body = Body(range=self.rng(tree))
        last_end = None
        for item in self._trees(tree.children):
            r = self.rng(item)
            if last_end is not None and r.start_line == last_end:
                self.diags.append(Diagnostic.error(
                    "Missing newline", "Each argument and block must be on a line of its own; "
                    "put a new line before this one.", r))
            last_end = _last_line(item)
            if item.data == "attribute":
                name_tree = item.children[0]
                name = self.name_of(name_tree)
                expr = self.expr(item.children[2])
                attr = Attribute(name=name, expr=expr, range=r, name_range=self.rng(name_tree))
                if name in body.attributes:
                    body.duplicate_attributes.append(body.attributes.pop(name))
                body.attributes[name] = attr
            elif item.data == "block":
                body.blocks.append(self.block(item))
        return body

    def name_of(self, tree: Any) -> str:
        tok = tree.children[0] if hasattr(tree, "children") else tree
        return str(tok).strip()

    def block(self, tree: Any) -> Block:
        kids = [c for c in tree.children
                if not (hasattr(c, "data") and c.data == "new_line_or_comment")]
        btype = self.name_of(kids[0])
        labels: list[str] = []
        label_ranges: list[SourceRange] = []
        lbrace = None
        body_tree = None
        for c in kids[1:]:
            if hasattr(c, "data"):
                if c.data == "body":
                    body_tree = c
                elif c.data == "string":
                    tmpl = self.string(c)
                    if isinstance(tmpl, ast.Literal) and isinstance(tmpl.value, str):
                        labels.append(tmpl.value)
                    else:
                        raise self.error("Invalid block label",
                                         "Block labels must be plain strings, without "
                                         "interpolation.", c)
                    label_ranges.append(self.rng(c))
                else:
                    labels.append(self.name_of(c))
                    label_ranges.append(self.rng(c))
            elif getattr(c, "type", "") == "LBRACE":
                lbrace = c
        header = self.span(kids[0], lbrace if lbrace is not None else kids[0])
        body = self.body(body_tree) if body_tree is not None else Body()
        return Block(type=btype, labels=labels, body=body, range=header,
                     label_ranges=label_ranges)

    # -- expressions ----------------------------------------------------------------------

    def expr(self, tree: Any) -> ast.Node:
        fn = self._expr.get(getattr(tree, "data", None))
        if fn is None:
            raise self.error("Invalid expression", f"Unsupported syntax ({getattr(tree, 'data', tree)}).",
                             tree)
        self.depth += 1
        if self.depth > self.room:
            self._make_room(tree)
        try:
            return fn(tree)
        finally:
            self.depth -= 1

    def _make_room(self, tree: Any) -> None:
        """The expression goes deeper than the recursion limits allow: raise them once for
        the whole pipeline, or stop at the level that crosses the cap, right where it is."""
        if self.depth <= nesting.MAX_NESTING:
            self.room = nesting.make_room(nesting.MAX_NESTING)
        if self.depth > self.room:
            raise self.error("Expression nested too deeply",
                             f"This expression is nested more than {self.room:,} levels deep "
                             "(parentheses, brackets, braces, function calls and operators "
                             "inside one another); split it into local values.", tree)

    def expr_term(self, tree: Any) -> ast.Node:
        kids = tree.children
        first = kids[0]
        if getattr(first, "type", None) == "LPAR":
            inner = self._trees(kids)[0]
            return ast.Parens(self.rng(tree), self.expr(inner))
        inner = self._trees(kids)[0]
        fn = self._expr.get(getattr(inner, "data", None))
        # A wrapper around one term, not a level of nesting: do not count it as one.
        return fn(inner) if fn is not None else self.expr(inner)

    def conditional(self, tree: Any) -> ast.Node:
        c, t, f = self._trees(tree.children)
        return ast.Conditional(self.rng(tree), self.expr(c), self.expr(t), self.expr(f))

    def binary_op(self, tree: Any) -> ast.Node:
        # `a + b + ... + z` parses as a left-leaning tree as deep as the chain is long: walk
        # its left edge in a loop, so only the operands' own nesting costs recursion.
        spine = []
        while getattr(tree, "data", None) == "binary_op":
            spine.append(tree)
            tree = self._trees(tree.children)[0]
        node = self.expr(tree)
        for op_tree in reversed(spine):
            term = self._trees(op_tree.children)[1]
            op_token, right_tree = self._trees(term.children)[:2]
            op = str(op_token.children[0]).strip()
            node = ast.Binary(self.rng(op_tree), op, node, self.expr(right_tree))
        return node

    def unary_op(self, tree: Any) -> ast.Node:
        op = str(tree.children[0]).strip()
        operand = self.expr(self._trees(tree.children)[0])
        if op == "-" and isinstance(operand, ast.Literal) and isinstance(operand.value, (int, float)) \
                and not isinstance(operand.value, bool):
            return ast.Literal(self.rng(tree), numbers.neg(operand.value))
        return ast.Unary(self.rng(tree), op, operand)

    def int_lit(self, tree: Any) -> ast.Node:
        return self.float_lit(tree)

    def float_lit(self, tree: Any) -> ast.Node:
        # Terraform's numbers (fgform/numbers.py): the literal at 512 bits, so 0.1 is 0.1.
        text = str(tree.children[0])
        try:
            value = numbers.parse(text)
        except numbers.NumberError as e:
            raise self.error("Invalid number literal", f"{e}.", tree) from None
        if value is None:  # pragma: no cover - the grammar's tokens are numbers
            raise self.error("Invalid number literal", f"{text} is not a number.", tree)
        return ast.Literal(self.rng(tree), value)

    def identifier(self, tree: Any) -> ast.Node:
        return ast.Variable(self.rng(tree), str(tree.children[0]))

    def literal_value(self, tree: Any) -> ast.Node:
        v = str(tree.children[0])
        return ast.Literal(self.rng(tree), {"true": True, "false": False, "null": None}[v])

    def tuple(self, tree: Any) -> ast.Node:
        return ast.Tuple(self.rng(tree), tuple(self.expr(c) for c in self._trees(tree.children)))

    def object(self, tree: Any) -> ast.Node:
        items = []
        separated = True
        for c in tree.children:
            if getattr(c, "data", None) == "object_elem":
                if not separated:
                    raise self.error("Missing item separator",
                                     "Expected a comma or a new line between the items of "
                                     "this object.", c)
                separated = False
            elif getattr(c, "data", None) == "new_line_or_comment" or getattr(
                    c, "type", None) == "COMMA":
                separated = True
        for elem in self._trees(tree.children):
            key_tree, value_tree = self._trees(elem.children)[:2]
            inner = self._trees(key_tree.children)
            if not inner:  # a keyword used as a key: `in = 1`
                tok = key_tree.children[0]
                key: ast.Node = ast.Literal(self.rng(key_tree), str(tok.children[0] if hasattr(
                    tok, "children") else tok))
            elif inner[0].data == "keyword":
                key = ast.Literal(self.rng(key_tree), str(inner[0].children[0]))
            else:
                key = self.expr(inner[0])
                # A bare word is the key itself, not a variable; `(var.x) = 1` evaluates.
                if isinstance(key, ast.Variable):
                    key = ast.Literal(key.range, key.name)
            items.append((key, self.expr(value_tree)))
        return ast.Object(self.rng(tree), tuple(items))

    def function_call(self, tree: Any) -> ast.Node:
        idents = [c for c in tree.children if getattr(c, "data", None) == "identifier"]
        name = "::".join(str(i.children[0]) for i in idents)
        args: list[ast.Node] = []
        expand = False
        for c in tree.children:
            if getattr(c, "data", None) == "arguments":
                for a in c.children:
                    if hasattr(a, "data"):
                        if a.data != "new_line_or_comment":
                            args.append(self.expr(a))
                    elif a.type == "ELLIPSIS":
                        expand = True
        return ast.Call(self.rng(tree), name, tuple(args), expand)

    def _step(self, target: ast.Node, step: Any, start: Any) -> ast.Node:
        """Apply one get_attr/index step to target."""
        rng = self.span(start, step)
        if step.data == "get_attr":
            name_tree = self._trees(step.children)[0]
            return ast.GetAttr(rng, target, str(name_tree.children[0]))
        if step.data == "short_index":
            tok = step.children[-1]
            return ast.Index(rng, target, ast.Literal(self.rng(tok), int(str(tok))))
        if step.data == "braces_index":
            key_tree = self._trees(step.children)[0]
            return ast.Index(rng, target, self.expr(key_tree))
        raise self.error("Invalid expression", f"Unsupported step ({step.data}).", step)

    def get_attr_expr(self, tree: Any) -> ast.Node:
        target_tree, step = self._trees(tree.children)
        return self._step(self.expr(target_tree), step, tree)

    def index_expr(self, tree: Any) -> ast.Node:
        target_tree, step = self._trees(tree.children)
        return self._step(self.expr(target_tree), step, tree)

    def splat_expr(self, tree: Any) -> ast.Node:
        target_tree, splat = self._trees(tree.children)
        target = self.expr(target_tree)
        op_tok = splat.children[0]
        full = splat.data == "full_splat"
        steps = self._trees(splat.children)
        each: ast.Node = ast.SplatItem(self.rng(op_tok))
        # `.*` only carries attribute steps (a legacy `.0` is one, as in HCL); a bracketed
        # index after them applies to the result list.
        i = 0
        while i < len(steps) and (full or steps[i].data in ("get_attr", "short_index")):
            each = self._step(each, steps[i], op_tok)
            i += 1
        node: ast.Node = ast.Splat(self.span(tree, splat if i == len(steps) else steps[i - 1]
                                             if i else op_tok), target, each, full)
        for step in steps[i:]:
            node = self._step(node, step, tree)
        return node

    def for_expr(self, tree: Any) -> ast.Node:
        kids = tree.children
        intro = next(c for c in kids if getattr(c, "data", None) == "for_intro")
        names = [str(c.children[0]) for c in intro.children
                 if getattr(c, "data", None) == "identifier"]
        coll_tree = [c for c in self._trees(intro.children) if c.data != "identifier"][0]
        key_var, value_var = (names[0], names[1]) if len(names) == 2 else (None, names[0])
        exprs = [c for c in self._trees(kids) if c.data not in ("for_intro", "for_cond")]
        cond_tree = next((c for c in kids if getattr(c, "data", None) == "for_cond"), None)
        cond = self.expr(self._trees(cond_tree.children)[0]) if cond_tree is not None else None
        group = any(getattr(c, "type", None) == "ELLIPSIS" for c in kids)
        coll = self.expr(coll_tree)
        if tree.data == "for_object_expr":
            key, value = self.expr(exprs[0]), self.expr(exprs[1])
            return ast.For(self.rng(tree), key_var, value_var, coll, value, key, cond, group)
        return ast.For(self.rng(tree), key_var, value_var, coll, self.expr(exprs[0]), None,
                       cond, False)

    def template_string(self, tree: Any) -> ast.Node:
        raw = str(tree.children[0])
        return ast.Literal(self.rng(tree), self.unescape(raw[2:-2], tree, 2))

    # -- strings and templates ------------------------------------------------------------

    def unescape(self, raw: str, where: Any, offset: int = 0) -> str:
        """Resolve the backslash escapes of `raw`, the text `offset` characters into the
        token or tree `where` (errors point at the escape itself)."""
        if "\\" not in raw:
            return raw

        def repl(m: re.Match[str]) -> str:
            s = m.group(1)
            if s in _ESCAPES:
                return _ESCAPES[s]
            if s[0] in "uU" and len(s) > 1:
                code = int(s[1:], 16)
                # A surrogate half or a number past U+10FFFF is no character: UTF-8 cannot
                # hold it (Python would carry it and fail only when writing it out).
                if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
                    raise self.error("Invalid escape sequence",
                                     f"Cannot encode character U+{code:04x} in UTF-8.",  # Terraform's %04x
                                     escape_range(m.start(), m.end()))
                return chr(code)
            if s in "uU":
                # Blame the escape with the characters that should have been its digits.
                digits = 4 if s == "u" else 8
                bad = re.match(rf'[^\s"\\]{{0,{digits}}}', raw[m.end():])
                width = bad.end() if bad else 0
                raise self.error("Invalid escape sequence",
                                 f"The \\{s} escape sequence must be followed by "
                                 f"{'four' if s == 'u' else 'eight'} hexadecimal digits.",
                                 escape_range(m.start(), m.end() + width))
            raise self.error("Invalid escape sequence",
                             f'The symbol "{s}" is not a valid escape sequence selector. '
                             'Use \\\\ for a literal backslash.',
                             escape_range(m.start(), m.end()))

        def escape_range(start: int, end: int) -> SourceRange:
            first = self.rng(where)
            line, col = text_position(raw, start, first.start_line, first.start_col + offset)
            end_line, end_col = text_position(raw, end, first.start_line, first.start_col + offset)
            return SourceRange(self.filename, line, col, end_line, end_col)

        return _ESCAPE_RE.sub(repl, raw)


def _last_line(tree: Any) -> int | None:
    """The line of the last real token of a tree (trailing newlines and comments aside)."""
    # An explicit stack: the last item of a file may be nested thousands of levels deep.
    stack = [reversed(tree.children)]
    while stack:
        child = next(stack[-1], None)
        if child is None:
            stack.pop()
        elif hasattr(child, "data"):
            if child.data != "new_line_or_comment":
                stack.append(reversed(child.children))
        elif child.type != "NL_OR_COMMENT":
            value = str(child)
            line = child.end_line
            if value.endswith("\n"):  # heredocs end with their newline
                line -= 1
            return line
    return None

