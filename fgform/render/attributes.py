"""One resource's attributes, before and after, laid out as in Terraform's plan text.

Values are walked with the resource schema (attributes sorted by name, then nested blocks),
so nested blocks, keyed block lists (paired by their schema `key`, so reordering is no
change), maps and lists read as they do in Terraform. Sensitive values are masked first and
print as (sensitive value). Colour is ANSI like Terraform's when the Style has it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from fgform import numbers
from fgform.config.schema import BlockSchema
from fgform.values import UNKNOWN, Path

RESET = "\x1b[0m"
BOLD = "\x1b[1m"
RED = "\x1b[31m"
GREEN = "\x1b[32m"
YELLOW = "\x1b[33m"
GREY = "\x1b[90m"
RULE = "─" * 77

ABSENT = object()  # an attribute/element that does not exist on one side


class Style:
    def __init__(self, color: bool) -> None:
        self.color = color

    def c(self, code: str, text: str) -> str:
        return f"{code}{text}{RESET}" if self.color else text

    def sym(self, s: str) -> str:
        """Colour an action symbol the way Terraform does."""
        if not self.color:
            return s
        colours = {"+": GREEN, "-": RED, "~": YELLOW, "<=": GREEN}
        if s in colours:
            return f"{colours[s]}{s}{RESET}"
        if s == "-/+":
            return f"{RED}-{RESET}/{GREEN}+{RESET}"
        if s == "+/-":
            return f"{GREEN}+{RESET}/{RED}-{RESET}"
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
    if not paths or value is ABSENT or value is None:
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
    if isinstance(v, (int, float)):
        return numbers.to_string(v)  # as Terraform: 0.0000001, never 1e-07
    return json.dumps(v, ensure_ascii=False)


def _fmt_key(k: Any) -> str:
    return json.dumps(str(k), ensure_ascii=False)


class Ctx:
    """Per-change rendering context (sensitive values are masked before rendering)."""

    def __init__(self, style: Style, replace: bool) -> None:
        self.style = style
        self.replace = replace


def _symbol(before: Any, after: Any) -> str:
    if before is ABSENT or (before is None and after is not ABSENT and after is not None):
        return "+"
    if after is ABSENT or (after is None and before is not None):
        return "-"
    if before == after:
        return " "
    return "~"


# -- values ---------------------------------------------------------------------------------


def _value_lines(v: Any, indent: int, sym: str, st: Style) -> list[str]:
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


def attr_lines(name: str, before: Any, after: Any, indent: int, ctx: Ctx,
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
            lines[-1] += " " + st.c(GREY, "-> null") if st.color else " -> null"
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
    arrow = st.c(YELLOW, "->") if st.color else "->"
    return [head + f"{_fmt_scalar(before)} {arrow} {_fmt_scalar(after)}{suffix}"]


def _list_diff_lines(before: list, after: list, indent: int, ctx: Ctx) -> list[str]:
    """Elements of a changed list: same-position changes as ~, extra ones as + / -.
    Unchanged elements are hidden with a count, as Terraform does."""
    st = ctx.style
    pad = " " * indent
    out: list[str] = []
    hidden = 0
    for i in range(max(len(before), len(after))):
        b = before[i] if i < len(before) else ABSENT
        a = after[i] if i < len(after) else ABSENT
        if b is not ABSENT and a is not ABSENT and b == a:
            hidden += 1
            continue
        if b is ABSENT:
            lines = _value_lines(a, indent + 2, "+", st)
            out.append(f"{pad}{st.sym('+')} " + lines[0])
            out.extend(lines[1:])
        elif a is ABSENT:
            lines = _value_lines(b, indent + 2, "-", st)
            out.append(f"{pad}{st.sym('-')} " + lines[0])
            out.extend(lines[1:])
        else:
            bl = _value_lines(b, indent + 2, "-", st)
            al = _value_lines(a, indent + 2, "+", st)
            if len(bl) == 1 and len(al) == 1:
                arrow = st.c(YELLOW, "->") if st.color else "->"
                out.append(f"{pad}{st.sym('~')} {bl[0]} {arrow} {al[0]}")
            else:
                out.append(f"{pad}{st.sym('-')} " + bl[0])
                out.extend(bl[1:])
                out[-1] += ","
                out.append(f"{pad}{st.sym('+')} " + al[0])
                out.extend(al[1:])
        out[-1] += ","
    if hidden:
        out.append(f"{pad}  " + st.c(GREY, f"# ({hidden} unchanged "
                                           f"element{'s' if hidden != 1 else ''} hidden)"))
    return out


def _map_diff_lines(before: dict, after: dict, indent: int, ctx: Ctx,
                    bpath: Path | None, apath: Path | None) -> list[str]:
    keys = sorted(set(before) | set(after), key=str)
    shown = [k for k in keys if before.get(k, ABSENT) != after.get(k, ABSENT)]
    hidden = len(keys) - len(shown)
    width = max((len(_fmt_key(k)) for k in shown), default=0)
    out: list[str] = []
    for k in shown:
        out += attr_lines(_fmt_key(k), before.get(k, ABSENT), after.get(k, ABSENT), indent,
                           ctx, (*bpath, k) if bpath is not None else None,
                           (*apath, k) if apath is not None else None, width, False,
                           map_keys=True)
    if hidden:
        out.append(" " * indent + "  " + ctx.style.c(
            GREY, f"# ({hidden} unchanged element{'s' if hidden != 1 else ''} hidden)"))
    return out


# -- objects and blocks -----------------------------------------------------------------------

_ALWAYS_SHOWN = ("id", "name", "tags")  # Terraform's identifying attributes


def object_lines(before: Any, after: Any, block: BlockSchema | None, indent: int,
                  ctx: Ctx, bpath: Path | None, apath: Path | None,
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
        bv = b.get(name, ABSENT) if before is not ABSENT else ABSENT
        av = a.get(name, ABSENT) if after is not ABSENT else ABSENT
        if _is_empty(bv) and _is_empty(av):
            continue  # null on both sides: nothing to say
        if bv is not ABSENT and av is not ABSENT and bv == av and not show_all \
                and name not in _ALWAYS_SHOWN:
            hidden += 1
            continue
        rows.append((name, bv, av))
    width = max((len(r[0]) for r in rows), default=0)
    for name, bv, av in rows:
        attr = block.attr(name) if block else None
        force = bool(attr and attr.force_new) or bool(block and block.force_new)
        lines += attr_lines(name, bv, av, indent, ctx,
                             (*bpath, name) if bpath is not None else None,
                             (*apath, name) if apath is not None else None, width, force)
    if hidden:
        lines.append(" " * indent + "  " + ctx.style.c(
            GREY, f"# ({hidden} unchanged attribute{'s' if hidden != 1 else ''} hidden)"))
    hidden_blocks = 0
    block_lines: list[list[str]] = []
    for sub in sorted(block.blocks if block else (), key=lambda x: x.name):
        bv = b.get(sub.name) if before not in (None, ABSENT) else None
        av = a.get(sub.name) if after not in (None, ABSENT) else None
        for pb, pa, bi, ai in _pair_elements(bv, av, sub):
            if pb is not ABSENT and pa is not ABSENT and pb == pa and not show_all:
                hidden_blocks += 1
                continue
            sbp = None if bpath is None or bi is ABSENT else (*bpath, sub.name, *bi)
            sap = None if apath is None or ai is ABSENT else (*apath, sub.name, *ai)
            block_lines.append(_block_lines(sub, pb, pa, indent, ctx, sbp, sap, show_all))
    for bl in block_lines:
        lines.append("")
        lines += bl
    if hidden_blocks:
        lines.append("")
        lines.append(" " * indent + "  " + ctx.style.c(
            GREY, f"# ({hidden_blocks} unchanged block{'s' if hidden_blocks != 1 else ''} "
                   "hidden)"))
    return lines


def _is_empty(v: Any) -> bool:
    return v is ABSENT or v is None


def _pair_elements(bv: Any, av: Any, sub: BlockSchema
                   ) -> list[tuple[Any, Any, tuple | object, tuple | object]]:
    """Pair the elements of a block on both sides: single blocks directly, keyed lists by
    key (so reordering is no change), other lists by position. Each pair carries the
    elements' index-path suffixes (for sensitive-path lookups)."""
    if sub.single or isinstance(bv, dict) or isinstance(av, dict):
        b = bv if isinstance(bv, dict) else ABSENT
        a = av if isinstance(av, dict) else ABSENT
        if b is ABSENT and a is ABSENT:
            if av is UNKNOWN:
                return [(ABSENT, UNKNOWN, ABSENT, ())]
            return []
        return [(b, a, () if b is not ABSENT else ABSENT, () if a is not ABSENT else ABSENT)]
    if av is UNKNOWN:  # made by a dynamic block whose for_each is not known yet
        return [(bv[0] if isinstance(bv, list) and bv else ABSENT, UNKNOWN, ABSENT, ())]
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
                out.append((ABSENT, el, ABSENT, (ai,)))
        for bi, el in enumerate(bl):
            if bi not in used_b:
                out.append((el, ABSENT, (bi,), ABSENT))
        return out
    for i in range(max(len(bl), len(al))):
        out.append((bl[i] if i < len(bl) else ABSENT, al[i] if i < len(al) else ABSENT,
                    (i,) if i < len(bl) else ABSENT, (i,) if i < len(al) else ABSENT))
    return out


def _block_lines(sub: BlockSchema, before: Any, after: Any, indent: int, ctx: Ctx,
                 bpath: Path | None, apath: Path | None, show_all: bool) -> list[str]:
    st = ctx.style
    pad = " " * indent
    if after is UNKNOWN:
        sym = "+" if before is ABSENT or before is None else "~"
        return [f"{pad}{st.sym(sym)} {sub.name} {{", f"{pad}    (known after apply)",
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
    inner_before = before if before is not ABSENT else None
    inner_after = after if after is not ABSENT else None
    if sym == "+":
        inner_before = ABSENT
    if sym == "-":
        inner_after = ABSENT
    body = object_lines(inner_before, inner_after, _without_label(sub), indent + 4, ctx,
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
