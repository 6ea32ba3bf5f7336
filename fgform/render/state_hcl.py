"""A state's instances and outputs as Terraform prints them: `fgform state show` and
`fgform output`. Pure: each function takes a `StateFile` and returns text (no trailing
newline: the CLI echoes it with one, except for `output -raw`, which Terraform prints
without a newline so that shells can use `$(fgform output -raw url)`).

The text formats follow Terraform's, so that scripts and habits carry over:
- `state show`: the plan renderer's HCL (four-space indent, aligned `=`, nested blocks,
  `(sensitive value)`);
- `output`: the console's HCL (two-space indent, quoted object keys, `<sensitive>` in the
  list form).
"""

from __future__ import annotations

import json as _json
from typing import Any

from fgform import numbers
from fgform.addresses import Address, AddressError, parse_address
from fgform.config.conversions import friendly_type
from fgform.config.schema import BlockSchema, schema_for
from fgform.errors import FgformError
from fgform.state.model import InstanceStatus, StateFile
from fgform.state.surgery import find_resource
from fgform.values import ListValue, MapValue, cty_type

# -- state show ------------------------------------------------------------------------------

_SENSITIVE_SHOW = "(sensitive value)"
_IND = "    "


def state_show(state: StateFile, addr: str) -> str:
    """One instance as `terraform state show` prints it."""
    try:
        a = parse_address(addr)
    except AddressError as e:
        raise FgformError(f"invalid address {addr!r}: {e}") from e
    inst = state.get(a)
    if inst is None:
        res = find_resource(state, a)
        if a.key is None and res is not None and res.instances:
            keys = ", ".join(str(Address(a.type, a.name, i.index_key, a.module, a.mode))
                             for i in res.instances)
            raise FgformError(f"{addr} has several instances; show one of them: {keys}")
        raise FgformError(f"No instance found for the given address: {addr}",
                          hint="To view the available instances, use `fgform state list`.")
    schema = schema_for(a.mode, a.type)
    head = f"# {a}:" + (" (tainted)" if inst.status is InstanceStatus.TAINTED else "")
    sensitive = {tuple(p) for p in inst.sensitive_paths}
    body = _show_block(inst.attributes, schema.body if schema else None, (), sensitive, _IND)
    kind = "data" if a.is_data else "resource"
    if not body:
        return f'{head}\n{kind} "{a.type}" "{a.name}" {{}}'
    return "\n".join([head, f'{kind} "{a.type}" "{a.name}" {{', *body, "}"])


def _show_block(values: dict[str, Any], schema: BlockSchema | None, path: tuple,
                sensitive: set[tuple], ind: str, skip: str | None = None) -> list[str]:
    """Lines of a block body: attributes (sorted, `=` aligned), then nested blocks."""
    attrs: list[tuple[str, Any]] = []
    blocks: list[tuple[BlockSchema, Any]] = []
    for name in sorted(values):
        value = values[name]
        if name == skip:
            continue
        sub = schema.block(name) if schema else None
        if sub is not None and isinstance(value, dict | list):
            blocks.append((sub, value))
        elif value is not None:  # Terraform leaves null attributes out
            attrs.append((name, value))
    width = max((len(n) for n, _ in attrs), default=0)
    lines: list[str] = []
    for name, value in attrs:
        spec = schema.attr(name) if schema else None
        p = (*path, name)
        if (spec is not None and spec.sensitive) or p in sensitive:
            text = _SENSITIVE_SHOW
        else:
            text = _show_value(value, p, sensitive, ind)
        lines.append(f"{ind}{name:<{width}} = {text}")
    for sub, value in blocks:
        items = [(value, (*path, sub.name))] if isinstance(value, dict) else [
            (v, (*path, sub.name, i)) for i, v in enumerate(value)]
        for item, p in items:
            if not isinstance(item, dict):
                continue
            label = f' "{item.get(sub.label, "")}"' if sub.label else ""
            if p in sensitive:
                lines += ["", f"{ind}# {sub.name}{label} block is sensitive"]
                continue
            inner = _show_block(item, sub, p, sensitive, ind + _IND, skip=sub.label)
            lines.append("")
            lines.append(f"{ind}{sub.name}{label} {{" + ("}" if not inner else ""))
            if inner:
                lines += [*inner, f"{ind}}}"]
    return lines


def _show_value(value: Any, path: tuple, sensitive: set[tuple], ind: str) -> str:
    """A value in the plan renderer's HCL; `ind` is the indent of the line it starts on."""
    if path in sensitive:
        return _SENSITIVE_SHOW
    inner = ind + _IND
    if isinstance(value, str) and "\n" in value:
        body = value[:-1] if value.endswith("\n") else value
        return "<<-EOT\n" + "\n".join(inner + ln if ln else ln for ln in body.split("\n")) \
            + f"\n{ind}EOT"
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        rows = [f"{inner}{_show_value(v, (*path, i), sensitive, inner)}," for i, v in
                enumerate(value)]
        return "[\n" + "\n".join(rows) + f"\n{ind}]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        keys = sorted(value)
        quoted = {k: _quote(str(k)) for k in keys}
        width = max(len(q) for q in quoted.values())
        rows = [f"{inner}{quoted[k]:<{width}} = {_show_value(value[k], (*path, k), sensitive, inner)}"
                for k in keys]
        return "{\n" + "\n".join(rows) + f"\n{ind}}}"
    return _scalar(value)


# -- output ----------------------------------------------------------------------------------

def outputs(state: StateFile, name: str | None = None, json: bool = False,
            raw: bool = False) -> str:
    """`fgform output [NAME] [-json|-raw]`, as Terraform prints it.

    - no flags, no name: `name = value` lines, sorted, sensitive values as `<sensitive>`
      (empty string when there are no outputs; the CLI may warn);
    - NAME: the value alone in HCL syntax (shown even when sensitive: asking by name is
      asking for the value);
    - `-json`: `{"name": {"sensitive": ..., "type": ..., "value": ...}}`, or the bare value
      (compact) with NAME;
    - `-raw NAME`: a string, number or bool as plain text, for shell scripts.
    """
    if json and raw:
        raise FgformError("The -raw and -json options are mutually exclusive.")
    if raw and name is None:
        raise FgformError("Output name required",
                          hint="You must give the name of a single output value when using "
                               "the -raw option.")
    # Terraform keeps no null output in its state: `output` neither lists one nor finds it.
    shown = {k: v for k, v in state.outputs.items() if v.value is not None}
    if name is not None:
        out = shown.get(name)
        if out is None:
            raise FgformError(
                f'Output "{name}" not found',
                hint="The output value requested could not be found in the state file. If "
                     "you recently added it to your configuration, run `fgform apply`: the "
                     "state only gets new outputs when that command runs.",
            )
        if json:
            return _json_dumps(out.value, compact=True)
        if raw:
            return _raw(name, out.value)
        return _hcl_value(out.value, 0)
    if json:
        return _json_dumps({
            k: {"sensitive": v.sensitive, "type": cty_type(v.value), "value": v.value}
            for k, v in sorted(shown.items())
        }, compact=False)
    return "\n".join(
        f"{k} = {'<sensitive>' if v.sensitive else _hcl_value(v.value, 0)}"
        for k, v in sorted(shown.items())
    )


def _raw(name: str, value: Any) -> str:
    if value is None:
        raise FgformError(
            "Unsupported value for raw output",
            hint=f'The value for output "{name}" is null, so -raw mode cannot print it.',
        )
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, str):
        return value
    kind_name = friendly_type(cty_type(value))  # "list of string", "tuple", as Terraform
    raise FgformError(
        "Unsupported value for raw output",
        hint=f"The -raw option only supports strings, numbers, and boolean values, but output "
             f'value "{name}" is {kind_name}. Use the -json option for machine-readable '
             "representations of output values that have complex types.",
    )


def _hcl_value(value: Any, indent: int) -> str:
    """A value as Terraform's console prints it (two-space indent, quoted keys, no alignment).

    Pieces are appended to one list, nested values through an explicit stack: building each
    level's string from its children's copied every inner line once per enclosing level
    (cubic in the depth), and recursion stopped at the interpreter's limit."""
    out: list[str] = []
    # Pending work, last first: a str is output as it is, a (value, indent) pair is rendered.
    todo: list[Any] = [(value, indent)]
    while todo:
        item = todo.pop()
        if type(item) is str:
            out.append(item)
            continue
        v, ind = item
        if isinstance(v, str) and "\n" in v:
            out.append("<<EOT\n" + v + ("" if v.endswith("\n") else "\n") + "EOT")
        elif isinstance(v, ListValue | MapValue):
            # A list, set or map prints as its conversion from a tuple or object, as
            # Terraform's console does: tolist([...]), toset([...]), tomap({...}).
            out.append(f"to{v.kind}(")
            todo.append(")")
            todo.append((dict(v) if isinstance(v, dict) else list(v), ind))
        elif isinstance(v, list | tuple | dict) and not v:
            out.append("{}" if isinstance(v, dict) else "[]")
        elif isinstance(v, list | tuple | dict):
            sp, inner = " " * (ind + 2), ind + 2
            if isinstance(v, dict):
                rows = [(f"{sp}{_quote(str(k))} = ", v[k], "\n") for k in sorted(v)]
                first, last = "{\n", " " * ind + "}"
            else:
                rows = [(sp, x, ",\n") for x in v]
                first, last = "[\n", " " * ind + "]"
            out.append(first)
            todo.append(last)
            for head, x, tail in reversed(rows):
                todo += (tail, (x, inner), head)
        else:
            out.append(_scalar(v))
    return "".join(out)


# -- scalars ---------------------------------------------------------------------------------

def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, str):
        return _quote(value)
    return _quote(str(value))


def _number(value: int | float) -> str:
    # Terraform's numbers print as their shortest exact digits, never with an exponent:
    # 2.0 as 2, 1e-07 as 0.0000001, 1/3 with 157 digits (fgform/numbers.py).
    return numbers.to_string(value)


def _quote(s: str) -> str:
    return _json.dumps(s, ensure_ascii=False)


def _json_dumps(value: Any, compact: bool) -> str:
    # Sorted keys: Terraform's objects and maps iterate in key order, so its JSON does too.
    # Numbers as Terraform writes them (every digit of 1/3; 0.0000001, not 1e-07).
    if compact:
        return numbers.dumps_json(value, ensure_ascii=False, separators=(",", ":"),
                                  sort_keys=True)
    return numbers.dumps_json(value, ensure_ascii=False, indent=2, sort_keys=True)


__all__ = ["outputs", "state_show"]
