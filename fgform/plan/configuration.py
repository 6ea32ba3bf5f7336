"""Terraform's JSON `configuration` section of a plan: the module tree, with each
expression's references or constant value."""

from __future__ import annotations

from typing import Any

from fgform.config.ast import Literal, Node, Object, Reference, Template, Tuple
from fgform.config.model import Body, Config
from fgform.config.references import references

_NOT_CONSTANT = object()


def _constant(node: Node | None) -> Any:
    """The value of an expression made of literals only, else _NOT_CONSTANT."""
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Template) and all(isinstance(p, str) for p in node.parts):
        return "".join(node.parts)  # type: ignore[arg-type]
    if isinstance(node, Tuple):
        items = [_constant(n) for n in node.items]
        return _NOT_CONSTANT if any(i is _NOT_CONSTANT for i in items) else items
    if isinstance(node, Object):
        out: dict[str, Any] = {}
        for k, v in node.items:
            kc, vc = _constant(k), _constant(v)
            if kc is _NOT_CONSTANT or vc is _NOT_CONSTANT or not isinstance(kc, str):
                return _NOT_CONSTANT
            out[kc] = vc
        return out
    return _NOT_CONSTANT


def _reference_strings(refs: list[Reference]) -> list[str]:
    """Terraform lists a reference and the object that contains it:
    `fg_image.web.uri` gives ["fg_image.web.uri", "fg_image.web"]."""
    out: list[str] = []

    def add(s: str) -> None:
        if s not in out:
            out.append(s)

    for ref in refs:
        parts = ref.parts
        add(str(ref))
        root = parts[0]
        if root in ("var", "local", "count", "each", "path", "self", "terraform", "fgform"):
            continue
        if root == "module" and len(parts) >= 2:
            add(str(Reference(parts[:2], ref.range)))
            continue
        if len(parts) >= 3 and isinstance(parts[2], int):
            add(str(Reference(parts[:3], ref.range)))
        if len(parts) >= 2:
            add(str(Reference(parts[:2], ref.range)))
    return out


def expression_json(node: Node | None) -> dict[str, Any]:
    if node is None:
        return {}
    refs = references(node)
    if refs:
        return {"references": _reference_strings(refs)}
    c = _constant(node)
    return {} if c is _NOT_CONSTANT else {"constant_value": c}


def _body_expressions(body: Body) -> dict[str, Any]:
    out: dict[str, Any] = {name: expression_json(a.expr)
                           for name, a in sorted(body.attributes.items())}
    for b in body.blocks:
        if b.type == "dynamic":
            continue  # Terraform 1.11's `show -json` leaves dynamic blocks out
        inner = _body_expressions(b.body)
        out.setdefault(b.type, []).append(inner)
    return out


def _module_json(config: Config) -> dict[str, Any]:
    m = config.module
    out: dict[str, Any] = {}
    if m.outputs:
        outputs: dict[str, Any] = {}
        for name, o in sorted(m.outputs.items()):
            entry: dict[str, Any] = {}
            if o.sensitive:
                entry["sensitive"] = True
            entry["expression"] = expression_json(o.expr)
            if o.description:
                entry["description"] = o.description
            if o.depends_on:
                entry["depends_on"] = [str(r) for r in o.depends_on]
            outputs[name] = entry
        out["outputs"] = outputs
    resources = []
    # Data resources first, as Terraform lists them (by address: `data.` sorts first).
    for _, r in [*sorted(m.data_resources.items()), *sorted(m.resources.items())]:
        entry = {"address": r.key, "mode": r.mode, "type": r.type,
                 "name": r.name, "provider_config_key": "fgform",
                 "expressions": _body_expressions(r.body), "schema_version": 0}
        if r.count is not None:
            entry["count_expression"] = expression_json(r.count)
        if r.for_each is not None:
            entry["for_each_expression"] = expression_json(r.for_each)
        if r.depends_on:
            entry["depends_on"] = [str(d) for d in r.depends_on]
        resources.append(entry)
    if resources:
        out["resources"] = resources
    if m.module_calls:
        calls: dict[str, Any] = {}
        for name, call in sorted(m.module_calls.items()):
            centry: dict[str, Any] = {
                "source": call.source,
                "expressions": {k: expression_json(a.expr)
                                for k, a in sorted(call.inputs.items())},
            }
            if call.count is not None:
                centry["count_expression"] = expression_json(call.count)
            if call.for_each is not None:
                centry["for_each_expression"] = expression_json(call.for_each)
            child = config.children.get(name)
            centry["module"] = _module_json(child) if child is not None else {}
            if call.depends_on:
                centry["depends_on"] = [str(d) for d in call.depends_on]
            calls[name] = centry
        out["module_calls"] = calls
    if m.variables:
        variables: dict[str, Any] = {}
        for name, v in sorted(m.variables.items()):
            ventry: dict[str, Any] = {}
            if v.has_default:
                c = _constant(v.default) if v.default is not None else None
                if c is not _NOT_CONSTANT:
                    ventry["default"] = c
            if v.description:
                ventry["description"] = v.description
            if v.sensitive:
                ventry["sensitive"] = True
            variables[name] = ventry
        out["variables"] = variables
    return out


def configuration_json(config: Config) -> dict[str, Any]:
    """Terraform's JSON `configuration`: provider config and the module tree, with each
    expression's references or constant value."""
    return {
        "provider_config": {"fgform": {"name": "fgform", "full_name": "fgform"}},
        "root_module": _module_json(config),
    }
