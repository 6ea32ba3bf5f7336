"""Checks of single attribute values: each returns an error message or None."""

from __future__ import annotations

import ipaddress
from typing import Any

from fgform import numbers


def check_cidr(value: Any) -> str | None:
    try:
        net = ipaddress.ip_network(str(value), strict=True)
    except ValueError as exc:
        return f"{value!r} is not a valid CIDR block ({exc})"
    if net.version != 4:
        return "only IPv4 CIDR blocks are supported"
    if net.prefixlen > 28:
        return f"{value!r} is too small: a cluster needs at least a /28"
    return None


def check_whole(value: Any) -> str | None:
    if isinstance(value, float) and not value.is_integer():
        return f"{numbers.to_string(value)} is not a whole number"
    return None


def check_port(value: Any) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        if check_whole(value) or not 1 <= value <= 65535:
            return f"{numbers.to_string(value)} is not a TCP port (a whole number, 1-65535)"
    return None


def check_ip(value: Any) -> str | None:
    try:
        ipaddress.ip_address(str(value))
    except ValueError:
        return f"{value!r} is not an IP address"
    return None


# Characters a value that ends up in the proxy's configuration may not hold: control
# characters cannot be written in it (the rendering escapes everything else).
def check_printable(value: Any) -> str | None:
    values = value if isinstance(value, list) else [value]
    for v in values:
        if isinstance(v, str) and any(ord(c) < 32 or ord(c) == 127 for c in v):
            return f"{v!r} holds a control character (a newline, a tab...)"
    return None


def check_matcher(value: Any) -> str | None:
    """ALB's `matcher`: one code, a range "200-299" or a list "200,204" of codes 200-499."""
    text = str(value)
    for part in text.split(","):
        lo, _, hi = part.strip().partition("-")
        bounds = [lo, hi] if hi else [lo]
        if not all(b.isdigit() and 200 <= int(b) <= 499 for b in bounds) or \
                hi and int(lo) > int(hi):
            return (f"{text!r} is not a status code matcher: codes 200-499, as one code "
                    '("200"), a range ("200-299") or a list ("200,204")')
    return None


def check_health_port(value: Any) -> str | None:
    if str(value) == "traffic-port" or str(value).isdigit() and 1 <= int(str(value)) <= 65535:
        return None
    return f'{value!r} is not "traffic-port" or a TCP port (1-65535)'


def check_source_ips(value: Any) -> str | None:
    for v in value if isinstance(value, list) else []:
        try:
            ipaddress.ip_network(str(v), strict=False)
        except ValueError:
            return f"{v!r} is not a CIDR block (like 10.0.0.0/8 or 192.0.2.7/32)"
        if "/" not in str(v):
            return f"{v!r} has no prefix length: write {v}/32 for one address"
    return None


# Header names as written in the proxy's configuration unquoted: a subset of HTTP's token
# characters (the others, such as # or ', would need quoting there and are rare in names).
_HEADER_CHARS = frozenset("-_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def check_header_name(value: Any) -> str | None:
    if isinstance(value, str) and value and all(c in _HEADER_CHARS for c in value) and \
            len(value) <= 40:
        return None
    return f"{value!r} is not a header name fgform supports (letters, digits, - and _)"


def check_methods(value: Any) -> str | None:
    for v in value if isinstance(value, list) else []:
        if not (isinstance(v, str) and v and len(v) <= 40 and
                all(c.isascii() and (c.isupper() or c in "-_") for c in v)):
            return f"{v!r} is not an HTTP method (upper-case letters, - and _)"
    return None
