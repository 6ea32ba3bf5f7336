"""Block decoding: the top-level bodies of a module's files -> Module (resources, variables,
locals, outputs, module calls, the terraform block), with every structural error reported.
"""

from __future__ import annotations

import re
from typing import Any

from fgform.config import ast, blocks_data, blocks_terraform
from fgform.config.meta_blocks import META_BLOCK_LABELS, decode_meta_block
from fgform.config.model import (
    Attribute,
    Block,
    Body,
    Lifecycle,
    Local,
    Module,
    ModuleCall,
    Output,
    Resource,
    Validation,
    Variable,
)
from fgform.config.references import references
from fgform.errors import Diagnostic, SourceRange
from fgform.suggest import did_you_mean

TOP_LEVEL_BLOCKS = ("resource", "variable", "locals", "output", "module", "terraform",
                    "backend", "data", "provider")


_BLOCK_LABELS = {"resource": 2, "variable": 1, "locals": 0, "output": 1, "module": 1,
                 "terraform": 0, "backend": 1, "data": 2, "provider": 1, **META_BLOCK_LABELS}
TOP_LEVEL_BLOCKS += tuple(META_BLOCK_LABELS)


def _static_string(node: ast.Node) -> str | None:
    if isinstance(node, ast.Literal) and isinstance(node.value, str):
        return node.value
    return None


def _static_bool(node: ast.Node) -> bool | None:
    if isinstance(node, ast.Literal) and isinstance(node.value, bool):
        return node.value
    return None


def _traversal_refs(node: ast.Node) -> list[ast.Reference] | None:
    """depends_on = [a.b, module.m]: a list of plain references."""
    if not isinstance(node, ast.Tuple):
        return None
    out = []
    for item in node.items:
        if not isinstance(item, (ast.GetAttr, ast.Index, ast.Variable)):
            return None
        refs = references(item)
        if len(refs) != 1:
            return None
        out.append(refs[0])
    return out


def _attr_path(node: ast.Node) -> str | None:
    """An ignore_changes entry: a bare name or traversal (`image`, `tags["x"]`), or a
    string."""
    if isinstance(node, ast.Literal) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Variable):
        return node.name
    if isinstance(node, ast.GetAttr):
        inner = _attr_path(node.target)
        return f"{inner}.{node.name}" if inner else None
    if isinstance(node, ast.Index) and isinstance(node.key, ast.Literal):
        inner = _attr_path(node.target)
        k = node.key.value
        return (f"{inner}[{k}]" if isinstance(k, int) else f'{inner}["{k}"]') if inner else None
    return None


class ModuleDecoder:
    """Fills a Module from the top-level bodies of its files."""

    def __init__(self, module: Module, diags: list[Diagnostic]) -> None:
        self.m = module
        self.diags = diags

    def err(self, summary: str, detail: str, rng: SourceRange | None, hint: str = "") -> None:
        self.diags.append(Diagnostic.error(summary, detail, rng, hint))

    def add_file(self, body: Body) -> None:
        for dup in body.duplicate_attributes:
            self.err("Unsupported argument",
                     f'An argument named "{dup.name}" is not expected at the top level of a '
                     "file.", dup.name_range)
        for attr in body.attributes.values():
            self.err("Unsupported argument",
                     f'An argument named "{attr.name}" is not expected at the top level of a '
                     "file; only blocks are.", attr.name_range,
                     hint=did_you_mean(attr.name, TOP_LEVEL_BLOCKS, "block type"))
        for block in body.blocks:
            want = _BLOCK_LABELS.get(block.type)
            if want is None:
                self.err("Unsupported block type",
                         f'Blocks of type "{block.type}" are not expected here.', block.range,
                         hint=did_you_mean(block.type, TOP_LEVEL_BLOCKS, "block type"))
                continue
            if len(block.labels) != want:
                what = {0: "no labels", 1: "one label", 2: "two labels"}[want]
                example = {"resource": 'resource "TYPE" "NAME" { ... }',
                           "variable": 'variable "NAME" { ... }',
                           "output": 'output "NAME" { ... }', "module": 'module "NAME" { ... }',
                           "backend": 'backend "local" { ... }',
                           "data": 'data "TYPE" "NAME" { ... }',
                           "provider": 'provider "fg" { ... }'}.get(block.type,
                                                                    f"{block.type} {{ ... }}")
                self.err("Wrong number of block labels",
                         f'A "{block.type}" block takes {what}: {example}', block.range)
                continue
            if block.type in META_BLOCK_LABELS:
                decode_meta_block(self, block)  # moved, removed, import, check
                continue
            getattr(self, "block_" + block.type)(block)

    def _check_unique(self, kind: str, key: str, table: dict[str, Any], rng: SourceRange
                      ) -> bool:
        if key in table:
            prev = table[key].range
            self.err(f"Duplicate {kind}",
                     f'A {kind} named "{key}" was already declared at {prev}. Each {kind} '
                     "name must be unique within a module.", rng)
            return False
        return True

    def _no_dups(self, body: Body) -> None:
        """Duplicate arguments anywhere inside a block are errors."""
        for dup in body.duplicate_attributes:
            later = body.attributes.get(dup.name)
            where = f" It is set again at {later.name_range}." if later else ""
            self.err("Duplicate argument",
                     f'The argument "{dup.name}" was already set at {dup.name_range}.{where} '
                     "Each argument may be set only once.", later.name_range if later
                     else dup.name_range)
        for b in body.blocks:
            self._no_dups(b.body)

    def _unexpected(self, body: Body, allowed: tuple[str, ...], blocks: tuple[str, ...],
                    where: str) -> None:
        for name, attr in body.attributes.items():
            if name not in allowed:
                self.err("Unsupported argument",
                         f'An argument named "{name}" is not expected in {where}.',
                         attr.name_range, hint=did_you_mean(name, allowed, "argument"))
        for b in body.blocks:
            if b.type not in blocks:
                self.err("Unsupported block type",
                         f'Blocks of type "{b.type}" are not expected in {where}.', b.range,
                         hint=did_you_mean(b.type, blocks, "block type"))

    def _check_name(self, kind: str, block: Block) -> None:
        """A block's name label must be an identifier: it becomes part of addresses and
        references (`fg_cluster.my cluster.id` could never be written)."""
        name = block.labels[-1]
        # A label with a line break is already reported as an invalid multi-line string.
        if not _valid_name(name) and "\n" not in name:
            self.err(f"Invalid {kind} name", "A name must start with a letter or underscore "
                     "and may contain only letters, digits, underscores, and dashes.",
                     block.label_ranges[-1] if block.label_ranges else block.range)

    def _depends_on(self, attr: Attribute,
                    detail: str = "depends_on must be a list of references.",
                    ) -> list[ast.Reference]:
        """A `depends_on` argument's references; none (and an error) when it is not a list
        of them."""
        refs = _traversal_refs(attr.expr)
        if refs is None:
            self.err("Invalid depends_on", detail, attr.range)
            return []
        return refs

    def _named(self, kind: str, block: Block) -> tuple[str, Body]:
        """An output's or module call's name and body; duplicate arguments and an invalid
        name reported."""
        self._no_dups(block.body)
        self._check_name(kind, block)
        return block.labels[0], block.body

    def meta_arguments(self, res: Resource, purpose: str, example: str) -> dict[str, Any]:
        """`count`, `for_each`, `depends_on` and `provider` of a resource or data block
        taken into `res`; the other attributes of its body are returned. `purpose` ("create",
        "read") and `example` (a depends_on list) word the errors."""
        body = res.body
        attrs = dict(body.attributes)
        if "count" in attrs:
            res.count = attrs.pop("count").expr
        if "for_each" in attrs:
            res.for_each = attrs.pop("for_each").expr
        if res.count is not None and res.for_each is not None:
            self.err("Invalid combination of \"count\" and \"for_each\"",
                     'The "count" and "for_each" meta-arguments are mutually exclusive; only '
                     "one may be used to be explicit about the number of resources to "
                     f"{purpose}.", body.attributes["for_each"].range)
        if "depends_on" in attrs:
            res.depends_on = self._depends_on(
                attrs.pop("depends_on"), "depends_on must be a list of references, such as "
                f"{example}.")
        if "provider" in attrs:
            p = attrs.pop("provider")
            res.provider = blocks_terraform.provider_reference(self, p) or "fg"
            res.provider_range = p.range
        return attrs

    def block_resource(self, block: Block) -> None:
        rtype, name = block.labels
        key = f"{rtype}.{name}"
        self._no_dups(block.body)
        self._check_name("resource", block)
        body = block.body
        res = Resource(type=rtype, name=name, body=body, range=block.range)
        attrs = self.meta_arguments(res, "create", "[fg_service.web, module.db]")
        for meta in ("provisioner", "connection"):
            if meta in attrs:
                self.err("Unsupported argument",
                         f'The "{meta}" meta-argument is not supported by fgform.',
                         attrs[meta].name_range)
                attrs.pop(meta)
        blocks = []
        for b in body.blocks:
            if b.type == "lifecycle":
                res.lifecycle = self._lifecycle(b)
            elif b.type in ("provisioner", "connection"):
                self.err("Unsupported block type",
                         f'"{b.type}" blocks are not supported by fgform.', b.range)
            else:
                blocks.append(b)
        res.body = Body(attributes=attrs, blocks=blocks, duplicate_attributes=[],
                        range=body.range)
        if self._check_unique("resource", key, self.m.resources, block.range):
            self.m.resources[key] = res

    def _lifecycle(self, block: Block) -> Lifecycle:
        lc = Lifecycle(range=block.range)
        self._unexpected(block.body, ("prevent_destroy", "create_before_destroy",
                                      "ignore_changes"), (), "a lifecycle block")
        for flag in ("prevent_destroy", "create_before_destroy"):
            a = block.body.attributes.get(flag)
            if a is not None:
                v = _static_bool(a.expr)
                if v is None:
                    self.err("Invalid lifecycle argument",
                             f"{flag} must be true or false, written literally.", a.range)
                else:
                    setattr(lc, flag, v)
        ic = block.body.attributes.get("ignore_changes")
        if ic is not None:
            if isinstance(ic.expr, ast.Variable) and ic.expr.name == "all":
                lc.ignore_changes = ["all"]
            elif isinstance(ic.expr, ast.Literal) and ic.expr.value == "all":
                lc.ignore_changes = ["all"]
            elif isinstance(ic.expr, ast.Tuple):
                names = []
                for item in ic.expr.items:
                    p = _attr_path(item)
                    if p is None:
                        self.err("Invalid ignore_changes",
                                 "ignore_changes entries must be attribute names, such as "
                                 "[desired_count].", item.range)
                    else:
                        names.append(p)
                lc.ignore_changes = names
            else:
                self.err("Invalid ignore_changes",
                         "ignore_changes must be a list of attribute names, or all.", ic.range)
        return lc

    def block_variable(self, block: Block) -> None:
        name = block.labels[0]
        self._no_dups(block.body)
        body = block.body
        var = Variable(name=name, range=block.range)
        self._unexpected(body, ("type", "default", "description", "sensitive", "nullable"),
                         ("validation",), f'variable "{name}"')
        if not _valid_name(name):
            self.err("Invalid variable name", f'"{name}" is not a valid name: names start '
                     "with a letter or underscore and hold letters, digits, _ and -.",
                     block.label_ranges[0] if block.label_ranges else block.range)
        if name in ("source", "version", "providers", "count", "for_each", "lifecycle",
                    "depends_on", "locals"):
            self.err("Invalid variable name",
                     f'The variable name "{name}" is reserved (it is a module meta-argument).',
                     block.range)
        if "type" in body.attributes:
            var.type = body.attributes["type"].expr
        if "default" in body.attributes:
            var.default = body.attributes["default"].expr
            var.has_default = True
        var.description = self._static_str_attr(body, "description") or ""
        var.sensitive = bool(self._static_bool_attr(body, "sensitive", False))
        var.nullable = bool(self._static_bool_attr(body, "nullable", True))
        if not var.nullable and isinstance(var.default, ast.Literal) and var.default.value is None:
            self.err("Invalid default value for variable",
                     "A null default value is not valid when nullable=false.",
                     var.default.range)
        for v in body.blocks_of("validation"):
            self._unexpected(v.body, ("condition", "error_message"), (), "a validation block")
            cond = v.body.attributes.get("condition")
            msg = v.body.attributes.get("error_message")
            if cond is None or msg is None:
                missing = "condition" if cond is None else "error_message"
                self.err("Missing required argument",
                         f'The argument "{missing}" is required in a validation block.',
                         v.range)
                continue
            var.validations.append(Validation(cond.expr, msg.expr, v.range))
        if self._check_unique("variable", name, self.m.variables, block.range):
            self.m.variables[name] = var

    def _static_str_attr(self, body: Body, name: str) -> str | None:
        a = body.attributes.get(name)
        if a is None:
            return None
        v = _static_string(a.expr)
        if v is None:
            self.err("Invalid argument", f'"{name}" must be a literal string.', a.range)
        return v

    def _static_bool_attr(self, body: Body, name: str, default: bool) -> bool:
        a = body.attributes.get(name)
        if a is None:
            return default
        v = _static_bool(a.expr)
        if v is None:
            self.err("Invalid argument", f'"{name}" must be true or false, written literally.',
                     a.range)
            return default
        return v

    def block_locals(self, block: Block) -> None:
        self._no_dups(block.body)
        for b in block.body.blocks:
            self.err("Unsupported block type", "Blocks are not allowed in a locals block; "
                     "use name = value.", b.range)
        for name, attr in block.body.attributes.items():
            local = Local(name=name, expr=attr.expr, range=attr.range)
            if name in self.m.locals:
                prev = self.m.locals[name].range
                self.err("Duplicate local value",
                         f'A local value named "{name}" was already declared at {prev}. Local '
                         "value names must be unique within a module.", attr.name_range)
                continue
            self.m.locals[name] = local

    def block_output(self, block: Block) -> None:
        name, body = self._named("output", block)
        self._unexpected(body, ("value", "description", "sensitive", "depends_on"), (),
                         f'output "{name}"')
        value = body.attributes.get("value")
        if value is None:
            self.err("Missing required argument",
                     f'The argument "value" is required in output "{name}".', block.range)
            return
        out = Output(name=name, expr=value.expr, range=block.range)
        out.description = self._static_str_attr(body, "description") or ""
        out.sensitive = self._static_bool_attr(body, "sensitive", False)
        dep = body.attributes.get("depends_on")
        if dep is not None:
            out.depends_on = self._depends_on(dep)
        if self._check_unique("output", name, self.m.outputs, block.range):
            self.m.outputs[name] = out

    def block_module(self, block: Block) -> None:
        name, body = self._named("module", block)
        src = body.attributes.get("source")
        if src is None:
            self.err("Missing required argument",
                     f'The argument "source" is required in module "{name}".', block.range)
            return
        source = _static_string(src.expr)
        if source is None:
            self.err("Invalid module source", "The module source must be a literal string.",
                     src.range)
            return
        if not (source.startswith("./") or source.startswith("../")):
            self.err("Invalid module source",
                     f'The module source "{source}" is not a local path. fgform only loads '
                     'modules from local directories, written as "./path" or "../path".',
                     src.range, hint=f'Did you mean "./{source}"?'
                     if not source.startswith(("/", ".")) and "::" not in source
                     and "://" not in source else "")
            return
        call = ModuleCall(name=name, source=source, range=block.range)
        for attr_name, attr in body.attributes.items():
            if attr_name == "source":
                continue
            if attr_name == "count":
                call.count = attr.expr
            elif attr_name == "for_each":
                call.for_each = attr.expr
            elif attr_name == "depends_on":
                call.depends_on = self._depends_on(attr)
            elif attr_name == "providers":
                call.providers = blocks_terraform.module_providers(self, attr)
                call.providers_range = attr.range
            elif attr_name == "version":
                self.err("Unsupported argument",
                         f'"{attr_name}" is not supported for local modules.', attr.name_range)
            else:
                call.inputs[attr_name] = attr
        for b in body.blocks:
            self.err("Unsupported block type",
                     f'Blocks of type "{b.type}" are not expected in a module block.', b.range)
        if self._check_unique("module call", name, self.m.module_calls, block.range):
            self.m.module_calls[name] = call

    def block_terraform(self, block: Block) -> None:
        self._no_dups(block.body)
        for b in block.body.blocks:
            if b.type == "backend":
                if len(b.labels) != 1:
                    self.err("Wrong number of block labels",
                             'A backend block takes one label: backend "local" { ... }',
                             b.range)
                    continue
                self.block_backend(b)
            elif b.type == "required_providers":
                blocks_terraform.check_required_providers(self, b)
            elif b.type == "cloud":
                self.err("Unsupported backend", "fgform keeps its state locally, in a file: "
                         "it has no cloud backend.", b.range,
                         hint='Remove the cloud block; backend "local" { path = "..." } '
                         "says where the state file is.")
            else:
                self.err("Unsupported block type",
                         f'Blocks of type "{b.type}" are not expected in a terraform block.',
                         b.range, hint=did_you_mean(b.type, ("backend", "required_providers"),
                                                    "block type"))
        for name, attr in block.body.attributes.items():
            if name == "required_version":
                blocks_terraform.check_required_version(self, attr)
            else:
                self.err("Unsupported argument",
                         f'An argument named "{name}" is not expected in a terraform block.',
                         attr.name_range)

    def block_backend(self, block: Block) -> None:
        self._no_dups(block.body)
        kind = block.labels[0]
        if kind != "local":
            self.err("Unsupported backend",
                     f'The backend "{kind}" is not supported: fgform keeps its state locally, '
                     'in a file (backend "local", whose path argument says where).',
                     block.range, hint='Use backend "local" { path = "..." }, or remove the '
                     "backend block to keep the state in the configuration directory.")
            return
        self._unexpected(block.body, ("path",), (), 'backend "local"')
        backend = {"type": "local"}
        path = self._static_str_attr(block.body, "path")
        if path is not None:
            backend["path"] = path
        if self.m.backend is not None:
            self.err("Duplicate backend configuration",
                     "A module may declare only one backend.", block.range)
            return
        self.m.backend = backend

    def block_data(self, block: Block) -> None:
        blocks_data.decode_data(self, block)

    def block_provider(self, block: Block) -> None:
        blocks_terraform.decode_provider(self, block)


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def _valid_name(name: str) -> bool:
    return _NAME.fullmatch(name) is not None
