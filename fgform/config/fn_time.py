"""Time functions as Terraform's: RFC 3339 timestamps read the way Go's time.Parse reads
them (fractions to the nanosecond, "Z" or a +hh:mm offset), Go durations ("1h30m"),
and formatdate's own verbs (YYYY, MMM, DD, hh, ZZZ, ...)."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from fgform.config.fn_base import FuncError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Timestamp:
    """An instant to the nanosecond, with the UTC offset (seconds) it was written in."""

    seconds: int  # since the epoch, UTC
    nanos: int
    offset: int

    def local(self) -> datetime:
        return _EPOCH + timedelta(seconds=self.seconds + self.offset)

    def rfc3339(self) -> str:
        """Go's time.RFC3339 layout: whole seconds, "Z" for UTC."""
        text = self.local().strftime("%Y-%m-%dT%H:%M:%S")
        if len(text) < 19:  # years below 1000: Go pads the year to four digits
            text = text.zfill(19)
        return text + _offset_text(self.offset, colon=True, z=True)


def _offset_text(offset: int, colon: bool, z: bool = False) -> str:
    if offset == 0 and z:
        return "Z"
    sign = "-" if offset < 0 else "+"
    mins = abs(offset) // 60
    return f"{sign}{mins // 60:02d}{':' if colon else ''}{mins % 60:02d}"


def parse_rfc3339(s: str) -> Timestamp:
    """`s` read as Terraform reads a timestamp; a FuncError (arg 0) says what is wrong as
    Terraform does ("missing required time introducer 'T'", ...)."""

    def bad(why: str) -> FuncError:
        return FuncError(f"not a valid RFC3339 timestamp: {why}", 0)

    pos = 0

    def digits(n: int, what: str) -> int:
        nonlocal pos
        if pos >= len(s):
            raise bad(f"end of string before {what}")
        chunk = s[pos:pos + n]
        if len(chunk) < n or not chunk.isascii() or not chunk.isdigit():
            raise bad(f'cannot use "{s[pos:]}" as {what}')
        pos += n
        return int(chunk)

    def sep(ch: str, what: str) -> None:
        nonlocal pos
        if pos >= len(s) and ch != "T":
            raise bad(f"end of string before {what}")
        if pos >= len(s) or s[pos] != ch:
            if ch == "T":
                raise bad("missing required time introducer 'T'")
            raise bad(f'found "{s[pos:]}" where "{ch}" is expected')
        pos += 1

    year = digits(4, "year")
    sep("-", "month")
    month = digits(2, "month")
    if not 1 <= month <= 12:
        raise bad(f'cannot use "{s[pos:]}" as month')
    sep("-", "day")
    day = digits(2, "day")
    sep("T", "hour")
    hour = digits(2, "hour")
    if hour > 23:
        raise bad("hour must be between 0 and 23 inclusive")
    sep(":", "minute")
    minute = digits(2, "minute")
    if minute > 59:
        raise bad(f'cannot use "{s[pos:]}" as minute')
    sep(":", "second")
    second = digits(2, "second")
    if second > 59:
        raise bad(f'cannot use "{s[pos:]}" as second')
    nanos = 0
    m = re.compile(r"\.([0-9]+)").match(s, pos)
    if m:
        nanos = int(m.group(1)[:9].ljust(9, "0"))
        pos = m.end()
    if pos >= len(s):
        raise bad("end of string before UTC offset")
    if s[pos] == "Z":
        offset = 0
        pos += 1
    else:
        m = re.compile(r"[-+]([0-9]{2}):([0-9]{2})").match(s, pos)
        if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
            raise bad(f'cannot use "{s[pos:]}" as UTC offset')
        offset = (int(m.group(1)) * 3600 + int(m.group(2)) * 60) * (
            -1 if s[pos] == "-" else 1)
        pos = m.end()
    if pos < len(s):
        raise bad(f'cannot use "{s[pos:]}" as timestamp segment')
    try:
        local = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        raise bad("day out of range") from None
    return Timestamp(int((local - _EPOCH).total_seconds()) - offset, nanos, offset)


_UNITS = {"ns": 1, "us": 1000, "µs": 1000, "μs": 1000, "ms": 10**6, "s": 10**9,
          "m": 60 * 10**9, "h": 3600 * 10**9}
_MAX_DURATION = 2**63 - 1


def parse_duration(orig: str) -> int:
    """A Go duration ("1h30m", "-1.5h", "300ms") in nanoseconds, with Go's errors."""
    s = orig
    neg = False
    if s and s[0] in "+-":
        neg = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise FuncError(f'time: invalid duration "{orig}"', None)
    total = Decimal(0)
    while s:
        m = re.match(r"([0-9]*)(\.[0-9]*)?", s)
        assert m is not None
        whole, frac = m.group(1), m.group(2) or ""
        if not whole and len(frac) <= 1:
            raise FuncError(f'time: invalid duration "{orig}"', None)
        s = s[m.end():]
        u = re.match(r"[^0-9.]*", s)
        assert u is not None
        unit = u.group(0)
        if not unit:
            raise FuncError(f'time: missing unit in duration "{orig}"', None)
        if unit not in _UNITS:
            raise FuncError(f'time: unknown unit "{unit}" in duration "{orig}"', None)
        s = s[u.end():]
        part = int(whole or "0") * _UNITS[unit]
        if frac[1:]:
            part += int(Decimal("0" + frac) * _UNITS[unit])
        total += part
        if total > _MAX_DURATION:
            raise FuncError(f'time: invalid duration "{orig}"', None)
    return -int(total) if neg else int(total)


def timeadd(timestamp: str, duration: str) -> str:
    """Terraform's timeadd: the timestamp plus the duration, in the timestamp's offset."""
    try:  # first: a bad timestamp is reported before a bad duration
        t = parse_rfc3339(timestamp)
    except FuncError as e:
        raise FuncError(e.message, None) from None  # Terraform: the call failed
    d = parse_duration(duration)
    total = t.seconds * 10**9 + t.nanos + d
    return Timestamp(total // 10**9, total % 10**9, t.offset).rfc3339()


def timecmp(a: str, b: str) -> int:
    """-1, 0 or 1 as instant `a` is before, the same as, or after instant `b`."""
    try:
        ta = parse_rfc3339(a)
    except FuncError as e:
        raise FuncError(e.message, 0) from None
    try:
        tb = parse_rfc3339(b)
    except FuncError as e:
        raise FuncError(e.message, 1) from None
    ka, kb = (ta.seconds, ta.nanos), (tb.seconds, tb.nanos)
    return (ka > kb) - (ka < kb)


_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_VERB_ERRORS = {
    "Y": 'year must either be "YY" or "YYYY"',
    "M": 'month must be "M", "MM", "MMM", or "MMMM"',
    "D": 'day of month must either be "D" or "DD"',
    "E": 'day of week must either be "EEE" or "EEEE"',
    "h": '24-hour must either be "h" or "hh"',
    "H": '12-hour must either be "H" or "HH"',
    "A": 'must be "AA"',
    "a": 'must be "aa"',
    "m": 'minute must either be "m" or "mm"',
    "s": 'second must either be "s" or "ss"',
    "Z": "timezone must be Z, ZZZZ, or ZZZZZ",
}


def _verb(verb: str, t: datetime, offset: int) -> str:
    hour12 = t.hour % 12 or 12
    table = {
        "YY": f"{t.year % 100:02d}", "YYYY": f"{t.year:04d}",
        "M": str(t.month), "MM": f"{t.month:02d}", "MMM": _MONTHS[t.month - 1][:3],
        "MMMM": _MONTHS[t.month - 1], "D": str(t.day), "DD": f"{t.day:02d}",
        "EEE": _DAYS[t.weekday()][:3], "EEEE": _DAYS[t.weekday()],
        "h": str(t.hour), "hh": f"{t.hour:02d}", "H": str(hour12), "HH": f"{hour12:02d}",
        "AA": "PM" if t.hour >= 12 else "AM", "aa": "pm" if t.hour >= 12 else "am",
        "m": str(t.minute), "mm": f"{t.minute:02d}", "s": str(t.second),
        "ss": f"{t.second:02d}",
        # A timestamp in UTC has the zone name "UTC"; any other offset has no name, and Go
        # writes the offset instead.
        "ZZZ": "UTC" if offset == 0 else _offset_text(offset, colon=False),
        "ZZZZ": _offset_text(offset, colon=False), "ZZZZZ": _offset_text(offset, colon=True),
        "Z": _offset_text(offset, colon=True, z=True),
    }
    if verb not in table:
        if verb[0] in _VERB_ERRORS:
            raise FuncError(f'invalid date format verb "{verb}": {_VERB_ERRORS[verb[0]]}', 0)
        raise FuncError(f'invalid date format verb "{verb}"', 0)
    return table[verb]


def formatdate(fmt: str, timestamp: str) -> str:
    """Terraform's formatdate: runs of one letter are verbs, 'quoted text' is literal ('' a
    quote), other characters are copied."""
    tokens: list[tuple[bool, str]] = []  # (is_verb, text)
    i = 0
    while i < len(fmt):
        ch = fmt[i]
        if ch == "'" and fmt.startswith("''", i):  # '' outside a literal: a quote
            tokens.append((False, "'"))
            i += 2
        elif ch == "'":
            j = i + 1
            buf = []
            while True:
                k = fmt.find("'", j)
                if k < 0:
                    raise FuncError("unterminated literal '", 0)
                buf.append(fmt[j:k])
                if fmt.startswith("''", k):
                    buf.append("'")
                    j = k + 2
                    if j >= len(fmt):  # as Terraform: the format may end inside it
                        break
                    continue
                j = k + 1
                break
            tokens.append((False, "".join(buf)))
            i = j
        elif ch.isascii() and ch.isalpha():
            j = i
            while j < len(fmt) and fmt[j] == ch:
                j += 1
            tokens.append((True, fmt[i:j]))
            i = j
        else:
            tokens.append((False, ch))
            i += 1
    for is_verb, text in tokens:  # a bad format is reported before a bad timestamp
        if is_verb:
            _verb(text, datetime(2000, 1, 1), 0)
    try:
        t = parse_rfc3339(timestamp)
    except FuncError as e:
        raise FuncError(e.message, 1) from None
    local = t.local()
    return "".join(_verb(text, local, t.offset) if is_verb else text
                   for is_verb, text in tokens)


_plan_lock = threading.Lock()
_plan_time: str | None = None


def plantimestamp() -> str:
    """The time of this run, the same value for every call in it (Terraform: the plan's
    timestamp, known during the plan)."""
    global _plan_time
    with _plan_lock:
        if _plan_time is None:
            _plan_time = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return _plan_time


def set_plan_timestamp(value: str | None) -> None:
    """Pin the run's timestamp (a saved plan's), or forget it (None: the next call takes
    the current time)."""
    global _plan_time
    with _plan_lock:
        _plan_time = value
