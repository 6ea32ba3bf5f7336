"""Values as `terraform console` prints them (its repl.FormatValue): two-space indent,
quoted object keys in key order, a comma after every list element, strings quoted as Go's
strconv.Quote does, a string of several lines as a heredoc (`<<-EOT`, indented, inside a
collection), `(sensitive value)` and `(known after apply)`.

fgform's values carry no collection types, so a list, set or map prints as Terraform prints
a tuple or object (`[...]`, `{...}`, never `tolist(...)`), and a typed null as `null`.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from fgform.values import UNKNOWN, Sensitive

SENSITIVE = "(sensitive value)"
UNKNOWN_TEXT = "(known after apply)"

_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
            "\v": "\\v", '"': '\\"', "\\": "\\\\"}


def format_value(value: Any, indent: int = 0) -> str:
    """`value` as terraform console prints it. Nested values go through an explicit stack
    (a value may nest deeper than Python's recursion limit)."""
    out: list[str] = []
    todo: list[Any] = [(value, indent)]  # last first: str as is, (value, indent) rendered
    while todo:
        item = todo.pop()
        if type(item) is str:
            out.append(item)
            continue
        v, ind = item
        if v is UNKNOWN:
            out.append(UNKNOWN_TEXT)
        elif isinstance(v, Sensitive):
            out.append(SENSITIVE)
        elif isinstance(v, (list, tuple, dict)) and not v:
            out.append("{}" if isinstance(v, dict) else "[]")
        elif isinstance(v, dict):
            sp = " " * (ind + 2)
            out.append("{")
            todo.append("\n" + " " * ind + "}")
            for k in sorted(v, reverse=True):
                todo += [(v[k], ind + 2), " = ", (str(k), ind + 2), "\n" + sp]
        elif isinstance(v, (list, tuple)):
            sp = " " * (ind + 2)
            out.append("[")
            todo.append("\n" + " " * ind + "]")
            for x in reversed(v):
                todo += [",", (x, ind + 2), "\n" + sp]
        else:
            out.append(_scalar(v, ind))
    return "".join(out)


def _scalar(v: Any, indent: int) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return _number(v)
    if isinstance(v, str):
        return _string(v, indent)
    return _string(str(v), indent)


def _number(v: int | float) -> str:
    """Decimal digits, never an exponent (Terraform's big.Float Text('f', -1))."""
    if isinstance(v, int):
        return str(v)
    if not math.isfinite(v):
        return str(v)
    if v.is_integer():
        return str(int(v))
    return format(Decimal(repr(v)), "f")


def _string(s: str, indent: int) -> str:
    lines = s.split("\n")
    if len(lines) < 2:
        return go_quote(s)
    # A heredoc whose marker no line holds (EOT, EOT_, ...).
    delimiter = "EOT"
    while any(line.strip() == delimiter for line in lines):
        delimiter += "_"
    pad = " " * indent
    body = "".join("\n" + pad + line for line in lines)
    return ("<<-" if indent else "<<") + delimiter + body + "\n" + pad + delimiter


def go_quote(s: str) -> str:
    """`s` as Go's strconv.Quote writes it: printable characters as they are, the rest
    escaped."""
    out = ['"']
    for ch in s:
        esc = _ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


__all__ = ["format_value", "go_quote"]
