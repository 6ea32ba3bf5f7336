"""The terminal plan, laid out exactly like Terraform's (`terraform plan`), with "fgform" in
place of "Terraform".

Rendering walks each change's `before`/`after` values with the resource schema (attributes
sorted by name, then nested blocks), so nested blocks, keyed block lists (paired by their
schema `key`, so reordering is no change), maps and lists read as they do in Terraform.
Colour is ANSI like Terraform's unless `color=False`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from fgform.config.schema import BlockSchema, get_schema
from fgform.plan.model import Action, ActionReason, OutputChange, Plan, PlanMode, ResourceChange
from fgform.values import UNKNOWN, Path

_RESET = "\x1b[0m"
_BOLD = "\x1b[1m"
_RED = "\x1b[31m"
_GREEN = "\x1b[32m"
_YELLOW = "\x1b[33m"
_GREY = "\x1b[90m"
RULE = "─" * 77

_ABSENT = object()  # an attribute/element that does not exist on one side


class _Style:
    def __init__(self, color: bool) -> None:
        self.color = color

    def c(self, code: str, text: str) -> str:
        return f"{code}{text}{_RESET}" if self.color else text

    def sym(self, s: str) -> str:
        """Colour an action symbol the way Terraform does."""
        if not self.color:
            return s
        colours = {"+": _GREEN, "-": _RED, "~": _YELLOW, "<=": _GREEN}
        if s in colours:
            return f"{colours[s]}{s}{_RESET}"
        if s == "-/+":
            return f"{_RED}-{_RESET}/{_GREEN}+{_RESET}"
        if s == "+/-":
            return f"{_GREEN}+{_RESET}/{_RED}-{_RESET}"
        return s


class _Masked:
    """A sensitive value as the renderer carries it: compares like the value (so an unchanged
    secret stays hidden among unchanged attributes) but always prints as (sensitive value)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Masked) and other.value == self.value

    def __hash__(self) -> int:
        return 0


def mask(value: Any, paths: Iterable[Path]) -> Any:
    """Replace the values at `paths` by _Masked wrappers."""
    paths = [tuple(p) for p in paths]
    if not paths or value is _ABSENT or value is None:
        return value
    if () in paths:
        return _Masked(value)
    if isinstance(value, dict):
        return {k: mask(v, [p[1:] for p in paths if p and p[0] == k]) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v, [p[1:] for p in paths if p and p[0] == i]) for i, v in enumerate(value)]
    return value


def _fmt_scalar(v: Any) -> str:
    if isinstance(v, _Masked):
        return "(sensitive value)"
    if v is UNKNOWN:
        return "(known after apply)"
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (int, float)):
        return str(v)
    return json.dumps(v, ensure_ascii=False)


def _fmt_key(k: Any) -> str:
    return json.dumps(str(k), ensure_ascii=False)


class _Ctx:
    """Per-change rendering context (sensitive values are masked before rendering)."""

    def __init__(self, style: _Style, replace: bool) -> None:
        self.style = style
        self.replace = replace


def _symbol(before: Any, after: Any) -> str:
    if before is _ABSENT or (before is None and after is not _ABSENT and after is not None):
        return "+"
    if after is _ABSENT or (after is None and before is not None):
        return "-"
    if before == after:
        return " "
    return "~"


# -- values ---------------------------------------------------------------------------------


def _value_lines(v: Any, indent: int, sym: str, st: _Style) -> list[str]:
    """A whole value (one side only) as lines; the first line has no indentation."""
    pad = " " * indent
    if isinstance(v, list):
        if not v:
            return ["[]"]
        out = ["["]
        for el in v:
            inner = _value_lines(el, indent + 4, sym, st)
            inner[-1] += ","
            out.append(f"{pad}  {st.sym(sym)} " + inner[0])
            out.extend(inner[1:])
        out.append(f"{pad}]")
        return out
    if isinstance(v, dict):
        if not v:
            return ["{}"]
        # Map keys are quoted, as Terraform shows map(string) attributes.
        width = max(len(_fmt_key(k)) for k in v)
        out = ["{"]
        for k in sorted(v, key=str):
            name = _fmt_key(k)
            inner = _value_lines(v[k], indent + 4, sym, st)
            out.append(f"{pad}  {st.sym(sym)} {name.ljust(width)} = " + inner[0])
            out.extend(inner[1:])
        out.append(f"{pad}}}")
        return out
    return [_fmt_scalar(v)]


def _attr_lines(name: str, before: Any, after: Any, indent: int, ctx: _Ctx,
                bpath: Path | None, apath: Path | None, width: int, force: bool,
                map_keys: bool = False) -> list[str]:
    """One attribute line (or several for a multi-line value), Terraform-style."""
    st = ctx.style
    pad = " " * indent
    sym = _symbol(before, after)
    label = name.ljust(width)
    head = f"{pad}{st.sym(sym) if sym != ' ' else ' '} {label} = "
    suffix = " # forces replacement" if force and sym != " " and ctx.replace else ""
    if isinstance(before, _Masked) or isinstance(after, _Masked):
        if sym == "-":
            return [head + "(sensitive value) -> null" if not map_keys else head
                    + "(sensitive value)"]
        return [head + "(sensitive value)" + suffix]
    if sym == "+":
        lines = _value_lines(after, indent + 2, "+", st)
        lines[0] = head + lines[0]
        lines[-1] += suffix
        return lines
    if sym == "-":
        lines = _value_lines(before, indent + 2, "-", st)
        lines[0] = head + lines[0]
        if not map_keys:
            lines[-1] += " " + st.c(_GREY, "-> null") if st.color else " -> null"
        return lines
    if sym == " ":
        lines = _value_lines(after, indent + 2, " ", st)
        lines[0] = head + lines[0]
        return lines
    # changed
    if after is UNKNOWN or before is UNKNOWN:
        if isinstance(before, (list, dict)) and before:
            lines = _value_lines(before, indent + 2, "-", st)
            lines[0] = head + lines[0]
            lines[-1] += " -> " + _fmt_scalar(after) + suffix
            return lines
        return [head + f"{_fmt_scalar(before)} -> {_fmt_scalar(after)}{suffix}"]
    if isinstance(before, list) and isinstance(after, list):
        lines = [head + "["]
        lines += _list_diff_lines(before, after, indent + 4, ctx)
        lines.append(f"{pad}  ]{suffix}")
        return lines
    if isinstance(before, dict) and isinstance(after, dict):
        lines = [head + "{"]
        lines += _map_diff_lines(before, after, indent + 4, ctx, bpath, apath)
        lines.append(f"{pad}  }}{suffix}")
        return lines
    if isinstance(before, (list, dict)) or isinstance(after, (list, dict)):
        bl = _value_lines(before, indent + 2, "-", st)
        al = _value_lines(after, indent + 2, "+", st)
        lines = [head + bl[0], *bl[1:]]
        lines[-1] += " -> " + al[0]
        lines += al[1:]
        lines[-1] += suffix
        return lines
    arrow = st.c(_YELLOW, "->") if st.color else "->"
    return [head + f"{_fmt_scalar(before)} {arrow} {_fmt_scalar(after)}{suffix}"]


def _list_diff_lines(before: list, after: list, indent: int, ctx: _Ctx) -> list[str]:
    """Elements of a changed list: same-position changes as ~, extra ones as + / -.
    Unchanged elements are hidden with a count, as Terraform does."""
    st = ctx.style
    pad = " " * indent
    out: list[str] = []
    hidden = 0
    for i in range(max(len(before), len(after))):
        b = before[i] if i < len(before) else _ABSENT
        a = after[i] if i < len(after) else _ABSENT
        if b is not _ABSENT and a is not _ABSENT and b == a:
            hidden += 1
            continue
        if b is _ABSENT:
            lines = _value_lines(a, indent + 2, "+", st)
            out.append(f"{pad}{st.sym('+')} " + lines[0])
            out.extend(lines[1:])
        elif a is _ABSENT:
            lines = _value_lines(b, indent + 2, "-", st)
            out.append(f"{pad}{st.sym('-')} " + lines[0])
            out.extend(lines[1:])
        else:
            bl = _value_lines(b, indent + 2, "-", st)
            al = _value_lines(a, indent + 2, "+", st)
            if len(bl) == 1 and len(al) == 1:
                arrow = st.c(_YELLOW, "->") if st.color else "->"
                out.append(f"{pad}{st.sym('~')} {bl[0]} {arrow} {al[0]}")
            else:
                out.append(f"{pad}{st.sym('-')} " + bl[0])
                out.extend(bl[1:])
                out[-1] += ","
                out.append(f"{pad}{st.sym('+')} " + al[0])
                out.extend(al[1:])
        out[-1] += ","
    if hidden:
        out.append(f"{pad}  " + st.c(_GREY, f"# ({hidden} unchanged "
                                           f"element{'s' if hidden != 1 else ''} hidden)"))
    return out


def _map_diff_lines(before: dict, after: dict, indent: int, ctx: _Ctx,
                    bpath: Path | None, apath: Path | None) -> list[str]:
    keys = sorted(set(before) | set(after), key=str)
    shown = [k for k in keys if before.get(k, _ABSENT) != after.get(k, _ABSENT)]
    hidden = len(keys) - len(shown)
    width = max((len(_fmt_key(k)) for k in shown), default=0)
    out: list[str] = []
    for k in shown:
        out += _attr_lines(_fmt_key(k), before.get(k, _ABSENT), after.get(k, _ABSENT), indent,
                           ctx, (*bpath, k) if bpath is not None else None,
                           (*apath, k) if apath is not None else None, width, False,
                           map_keys=True)
    if hidden:
        out.append(" " * indent + "  " + ctx.style.c(
            _GREY, f"# ({hidden} unchanged element{'s' if hidden != 1 else ''} hidden)"))
    return out


# -- objects and blocks -----------------------------------------------------------------------

_ALWAYS_SHOWN = ("id", "name", "tags")  # Terraform's identifying attributes


def _object_lines(before: Any, after: Any, block: BlockSchema | None, indent: int,
                  ctx: _Ctx, bpath: Path | None, apath: Path | None,
                  show_all: bool) -> list[str]:
    """The body of a resource or nested block: attributes, then nested blocks."""
    b = before if isinstance(before, dict) else {}
    a = after if isinstance(after, dict) else {}
    block_names = {x.name for x in block.blocks} if block else set()
    attr_names = sorted((set(b) | set(a)) - block_names)
    lines: list[str] = []
    rows: list[tuple[str, Any, Any]] = []
    hidden = 0
    for name in attr_names:
        bv = b.get(name, _ABSENT) if before is not _ABSENT else _ABSENT
        av = a.get(name, _ABSENT) if after is not _ABSENT else _ABSENT
        if _is_empty(bv) and _is_empty(av):
            continue  # null on both sides: nothing to say
        if bv is not _ABSENT and av is not _ABSENT and bv == av and not show_all \
                and name not in _ALWAYS_SHOWN:
            hidden += 1
            continue
        rows.append((name, bv, av))
    width = max((len(r[0]) for r in rows), default=0)
    for name, bv, av in rows:
        attr = block.attr(name) if block else None
        force = bool(attr and attr.force_new) or bool(block and block.force_new)
        lines += _attr_lines(name, bv, av, indent, ctx,
                             (*bpath, name) if bpath is not None else None,
                             (*apath, name) if apath is not None else None, width, force)
    if hidden:
        lines.append(" " * indent + "  " + ctx.style.c(
            _GREY, f"# ({hidden} unchanged attribute{'s' if hidden != 1 else ''} hidden)"))
    hidden_blocks = 0
    block_lines: list[list[str]] = []
    for sub in sorted(block.blocks if block else (), key=lambda x: x.name):
        bv = b.get(sub.name) if before not in (None, _ABSENT) else None
        av = a.get(sub.name) if after not in (None, _ABSENT) else None
        for pb, pa, bi, ai in _pair_elements(bv, av, sub):
            if pb is not _ABSENT and pa is not _ABSENT and pb == pa and not show_all:
                hidden_blocks += 1
                continue
            sbp = None if bpath is None or bi is _ABSENT else (*bpath, sub.name, *bi)
            sap = None if apath is None or ai is _ABSENT else (*apath, sub.name, *ai)
            block_lines.append(_block_lines(sub, pb, pa, indent, ctx, sbp, sap, show_all))
    for bl in block_lines:
        lines.append("")
        lines += bl
    if hidden_blocks:
        lines.append("")
        lines.append(" " * indent + "  " + ctx.style.c(
            _GREY, f"# ({hidden_blocks} unchanged block{'s' if hidden_blocks != 1 else ''} "
                   "hidden)"))
    return lines


def _is_empty(v: Any) -> bool:
    return v is _ABSENT or v is None


def _pair_elements(bv: Any, av: Any, sub: BlockSchema
                   ) -> list[tuple[Any, Any, tuple | object, tuple | object]]:
    """Pair the elements of a block on both sides: single blocks directly, keyed lists by
    key (so reordering is no change), other lists by position. Each pair carries the
    elements' index-path suffixes (for sensitive-path lookups)."""
    if sub.single or isinstance(bv, dict) or isinstance(av, dict):
        b = bv if isinstance(bv, dict) else _ABSENT
        a = av if isinstance(av, dict) else _ABSENT
        if b is _ABSENT and a is _ABSENT:
            if av is UNKNOWN:
                return [(_ABSENT, UNKNOWN, _ABSENT, ())]
            return []
        return [(b, a, () if b is not _ABSENT else _ABSENT, () if a is not _ABSENT else _ABSENT)]
    bl = bv if isinstance(bv, list) else []
    al = av if isinstance(av, list) else []
    out: list[tuple[Any, Any, Any, Any]] = []
    def key_of(el: Any) -> Any:
        k = el.get(sub.key) if isinstance(el, dict) and sub.key else None
        return None if k is UNKNOWN or isinstance(k, (dict, list, _Masked)) else k

    # Pair by key only when every element has a known key (as diff.py does); an unknown
    # key (a target group being replaced) falls back to position.
    if sub.key and all(key_of(e) is not None for e in [*bl, *al]):
        bk = {key_of(e): i for i, e in enumerate(bl) if key_of(e) is not None}
        used_b: set[int] = set()
        for ai, el in enumerate(al):
            k = key_of(el)
            bi = bk.get(k) if k is not None else None
            if bi is not None and bi not in used_b:
                used_b.add(bi)
                out.append((bl[bi], el, (bi,), (ai,)))
            else:
                out.append((_ABSENT, el, _ABSENT, (ai,)))
        for bi, el in enumerate(bl):
            if bi not in used_b:
                out.append((el, _ABSENT, (bi,), _ABSENT))
        return out
    for i in range(max(len(bl), len(al))):
        out.append((bl[i] if i < len(bl) else _ABSENT, al[i] if i < len(al) else _ABSENT,
                    (i,) if i < len(bl) else _ABSENT, (i,) if i < len(al) else _ABSENT))
    return out


def _block_lines(sub: BlockSchema, before: Any, after: Any, indent: int, ctx: _Ctx,
                 bpath: Path | None, apath: Path | None, show_all: bool) -> list[str]:
    st = ctx.style
    pad = " " * indent
    if after is UNKNOWN:
        return [f"{pad}{st.sym('+')} {sub.name} {{", f"{pad}    (known after apply)",
                f"{pad}  }}"]
    sym = _symbol(before, after)
    if sym == " ":
        sym = "~"
    label = ""
    if sub.label:
        src = after if isinstance(after, dict) else before
        if isinstance(src, dict) and isinstance(src.get(sub.label), str):
            label = " " + json.dumps(src[sub.label])
    force = " # forces replacement" if sub.force_new and ctx.replace else ""
    lines = [f"{pad}{st.sym(sym)} {sub.name}{label} {{{force}"]
    inner_before = before if before is not _ABSENT else None
    inner_after = after if after is not _ABSENT else None
    if sym == "+":
        inner_before = _ABSENT
    if sym == "-":
        inner_after = _ABSENT
    body = _object_lines(inner_before, inner_after, _without_label(sub), indent + 4, ctx,
                         bpath, apath, show_all or sym in "+-")
    lines += body
    lines.append(f"{pad}  }}")
    return lines


def _without_label(sub: BlockSchema) -> BlockSchema:
    """The label is shown in the block header, so it is not repeated as an attribute."""
    if not sub.label:
        return sub
    return BlockSchema(sub.name, sub.description,
                       tuple(a for a in sub.attributes if a.name != sub.label), sub.blocks,
                       sub.min_items, sub.max_items, None, sub.key, sub.force_new)


# -- resources ------------------------------------------------------------------------------


def _header(rc: ResourceChange, st: _Style, drift: bool) -> list[str]:
    addr = str(rc.address)
    bold = st.c(_BOLD, f"  # {addr}")
    if drift:
        if rc.action is Action.DELETE:
            return [f"{bold} has been deleted"]
        return [f"{bold} has changed"]
    a = rc.action
    if a is Action.CREATE:
        return [f"{bold} will be created"]
    if a is Action.UPDATE:
        out = [f"{bold} will be updated in-place"]
        if rc.repair:
            out.append(f"  # (because {rc.repair})")
        return out
    if a is Action.DELETE:
        deposed = f" (deposed object {rc.deposed})" if rc.deposed else ""
        out = [f"{bold}{deposed} will be {st.c(_BOLD + _RED, 'destroyed')}"]
        why = _delete_reason(rc)
        if why:
            out.append(f"  # ({why})")
        if rc.deposed:
            # Terraform's words for this unusual situation.
            out.append("  # (left over from a partially-failed replacement of this instance)")
        return out
    if a.is_replace:
        if rc.reason is ActionReason.REPLACE_BECAUSE_TAINTED:
            return [f"{bold} is tainted, so must be {st.c(_BOLD + _RED, 'replaced')}"]
        if rc.reason is ActionReason.REPLACE_BY_REQUEST:
            return [f"{bold} will be {st.c(_BOLD + _RED, 'replaced')}, as requested"]
        return [f"{bold} must be {st.c(_BOLD + _RED, 'replaced')}"]
    if a is Action.READ:
        return [f"{bold} will be read during apply"]
    return [f"{bold}"]


def _delete_reason(rc: ResourceChange) -> str:
    r, addr = rc.reason, rc.address
    if r is ActionReason.DELETE_BECAUSE_NO_RESOURCE_CONFIG:
        return f"because {addr} is not in configuration"
    if r is ActionReason.DELETE_BECAUSE_NO_MODULE:
        return f"because {addr.module_address} is not in configuration"
    if r is ActionReason.DELETE_BECAUSE_COUNT_INDEX:
        return f"because index {json.dumps(addr.key)[:]} is out of range for count"
    if r is ActionReason.DELETE_BECAUSE_EACH_KEY:
        return f"because key {json.dumps(addr.key)} is not in for_each map"
    if r is ActionReason.DELETE_BECAUSE_WRONG_REPETITION:
        if addr.key is None:
            return "because resource uses count or for_each"
        if isinstance(addr.key, int):
            return "because resource does not use count"
        return "because resource does not use for_each"
    return ""


def render_resource(rc: ResourceChange, color: bool = False, drift: bool = False) -> list[str]:
    """One resource change (or drift) block, without a trailing blank line."""
    st = _Style(color)
    schema = get_schema(rc.address.type)
    body_schema = schema.body if schema else None
    lines = _header(rc, st, drift)
    sym = "~" if drift and rc.action is not Action.DELETE else rc.action.value
    if rc.action is Action.NOOP:
        sym = " "
    prefix = st.sym(sym) if len(sym) == 3 else "  " + st.sym(sym)
    lines.append(f'{prefix} resource "{rc.address.type}" "{rc.address.name}" {{')
    ctx = _Ctx(st, rc.action.is_replace)
    before: Any = mask(rc.before, rc.before_sensitive) if rc.before is not None else _ABSENT
    after: Any = mask(rc.after, rc.after_sensitive) if rc.after is not None else _ABSENT
    lines += _object_lines(before, after, body_schema, 6, ctx, (), (),
                           show_all=rc.action in (Action.CREATE, Action.DELETE))
    lines.append("    }")
    return lines


def _legend(plan: Plan, st: _Style) -> list[str]:
    present = {c.action for c in plan.changes}
    out = ["fgform used the selected providers to generate the following execution",
           "plan. Resource actions are indicated with the following symbols:"]
    entries = [
        (Action.CREATE, f"  {st.sym('+')} create"),
        (Action.UPDATE, f"  {st.sym('~')} update in-place"),
        (Action.DELETE, f"  {st.sym('-')} destroy"),
        (Action.DELETE_THEN_CREATE, f"{st.sym('-/+')} destroy and then create replacement"),
        (Action.CREATE_THEN_DELETE, f"{st.sym('+/-')} create replacement and then destroy"),
        (Action.READ, f" {st.sym('<=')} read (data resources)"),
    ]
    out += [line for action, line in entries if action in present]
    return out


def _output_lines(oc: OutputChange, width: int, st: _Style) -> list[str]:
    ctx = _Ctx(st, False)
    before = oc.before if oc.action not in (Action.CREATE,) else _ABSENT
    after = oc.after if oc.action is not Action.DELETE else _ABSENT
    if oc.sensitive:
        before = mask(before, [()])
        after = mask(after, [()]) if after is not UNKNOWN else after
    return _attr_lines(oc.name, before, after, 2, ctx, (), (), width, False)


def render_drift(plan: Plan, color: bool = False) -> list[str]:
    """Terraform's "Objects have changed outside of ..." section (empty when no drift)."""
    if not plan.drift:
        return []
    st = _Style(color)
    lines = ["", st.c(_BOLD, "Note: Objects have changed outside of fgform"), "",
             "fgform detected the following changes made outside of fgform since the",
             'last "fgform apply" which may have affected this plan:', ""]
    for rc in plan.drift:
        lines += render_resource(rc, color, drift=True)
        lines.append("")
    if plan.mode is PlanMode.REFRESH_ONLY:
        lines += ["",
                  "This is a refresh-only plan, so fgform will not take any actions to undo",
                  "these. If you were expecting these changes then you can apply this plan to",
                  "record the updated values in the fgform state without changing any remote",
                  "objects."]
    else:
        lines += ["",
                  "Unless you have made equivalent changes to your configuration, or ignored the",
                  "relevant attributes using ignore_changes, the following plan may include",
                  "actions to undo or respond to these changes."]
    lines += ["", st.c(_GREY, RULE)]
    return lines


def render_warnings(warnings: list[str], color: bool = False) -> list[str]:
    """Warnings in Terraform's diagnostic box: the first line is the summary."""
    st = _Style(color)
    bar = st.c(_YELLOW, "│") if color else "│"
    out: list[str] = []
    for w in warnings:
        summary, _, detail = w.partition("\n")
        out += ["", st.c(_YELLOW, "╷"), f"{bar} " + st.c(_BOLD + _YELLOW, "Warning: ")
                + st.c(_BOLD, summary)]
        if detail.strip():
            out.append(bar)
            out += [f"{bar} {line}".rstrip() for line in detail.strip("\n").split("\n")]
        out.append(st.c(_YELLOW, "╵"))
    return out


def render_plan(plan: Plan, color: bool = False) -> str:
    """The whole plan as `terraform plan` prints it (without the refresh progress lines);
    warnings (-target) come last, in Terraform's box."""
    return _render_plan_body(plan, color) + "".join(
        line + "\n" for line in render_warnings(plan.warnings, color))


def _render_plan_body(plan: Plan, color: bool) -> str:
    st = _Style(color)
    lines: list[str] = list(render_drift(plan, color))
    changes = [c for c in plan.changes if c.action is not Action.NOOP]
    outputs = [o for o in plan.output_changes if o.action is not Action.NOOP]
    if plan.mode is PlanMode.REFRESH_ONLY:
        if not plan.drift:
            lines += ["", st.c(_BOLD, "No changes.") + st.c(
                _BOLD, " Your infrastructure still matches the configuration."), "",
                "fgform has checked that the real remote objects still match the result of",
                "your most recent changes, and found no differences."]
        return "\n".join(lines) + "\n"
    if not changes and not outputs:
        lines += ["", st.c(_BOLD, "No changes.") + st.c(
            _BOLD, " Your infrastructure matches the configuration."), "",
            "fgform has compared your real infrastructure against your configuration",
            "and found no differences, so no changes are needed."]
        return "\n".join(lines) + "\n"
    if changes:
        lines += ["", *_legend(plan, st), "", "fgform will perform the following actions:", ""]
        for rc in changes:
            lines += render_resource(rc, color)
            lines.append("")
        add, change, destroy = plan.counts()
        lines.append(st.c(_BOLD, "Plan:") + f" {add} to add, {change} to change, "
                     f"{destroy} to destroy.")
    if outputs:
        width = max(len(o.name) for o in outputs)
        lines += ["", "Changes to Outputs:"]
        for oc in outputs:
            lines += _output_lines(oc, width, st)
    if not changes:
        lines += ["", "You can apply this plan to save these new output values to the fgform",
                  "state, without changing any real infrastructure."]
    return "\n".join(lines) + "\n"
