"""Encodings as Terraform writes and reads them: YAML (go-cty-yaml's rules: which plain
scalars are numbers, booleans, null or timestamps; how strings are quoted and folded),
CSV (Go's encoding/csv), gzip, and text in other character sets."""

from __future__ import annotations

import base64
import codecs
import re
import struct
import zlib
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from fgform.config.conversions import format_number, norm_number
from fgform.config.fn_base import FuncError
from fgform.values import ListValue

# ---------------------------------------------------------------------------------------------
# yamlencode
# ---------------------------------------------------------------------------------------------

_BEST_WIDTH = 80  # libyaml's line width: longer double-quoted strings are folded at spaces
_ESCAPES = {"\0": "0", "\a": "a", "\b": "b", "\t": "t", "\n": "n", "\v": "v", "\f": "f",
            "\r": "r", "\x1b": "e", '"': '"', "\\": "\\", "\x85": "N", "\u2028": "L",
            "\u2029": "P"}


_BREAKS = ("\n", "\r", "\x85", "\u2028", "\u2029")  # what libyaml counts as line breaks


def _printable(ch: str) -> bool:
    # libyaml's printable set, as the emitter checks it: tab, CR, C1 controls, BOM,
    # U+FFFE/U+FFFF and every character outside the Basic Multilingual Plane are not.
    o = ord(ch)
    return (o == 0x0A or 0x20 <= o <= 0x7E or 0xA0 <= o <= 0xD7FF
            or (0xE000 <= o <= 0xFFFD and o != 0xFEFF))


def _needs_escape(ch: str) -> bool:
    return not _printable(ch) or ch in _ESCAPES


def _escape(ch: str) -> str:
    if ch in _ESCAPES:
        return "\\" + _ESCAPES[ch]
    o = ord(ch)
    if o <= 0xFF:
        return f"\\x{o:02X}"
    if o <= 0xFFFF:
        return f"\\u{o:04X}"
    return f"\\U{o:08X}"


def _block_allowed(s: str) -> bool:
    """A multi-line string goes in a literal block unless libyaml's analysis forbids it:
    a character it must escape, a space at the end or before a line break."""
    if any(not _printable(ch) for ch in s if ch != "\n"):
        return False
    return not (s.endswith(" ") or " \n" in s)


class _YamlWriter:
    """libyaml's block-style emitter, as much of it as cty values need."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.column = 0

    def write(self, text: str) -> None:
        self.out.append(text)
        nl = text.rfind("\n")
        self.column = len(text) - nl - 1 if nl >= 0 else self.column + len(text)

    def newline_indent(self, indent: int) -> None:
        if self.column > 0:  # not after a literal block's own final line break
            self.write("\n")
        self.write(" " * indent)

    def quoted(self, s: str, indent: int, allow_breaks: bool) -> None:
        self.write('"')
        spaces = False
        last = len(s) - 1
        for i, ch in enumerate(s):
            if _needs_escape(ch):
                self.write(_escape(ch))
                spaces = False
            elif ch == " ":
                if (allow_breaks and not spaces and self.column > _BEST_WIDTH and 0 < i < last):
                    self.write("\n" + " " * indent)
                    if s[i + 1] == " ":
                        self.write("\\")
                else:
                    self.write(" ")
                spaces = True
            else:
                self.write(ch)
                spaces = False
        self.write('"')

    def literal(self, s: str, indent: int) -> None:
        hints = "|"
        if s[:1] in (" ", "\n"):
            hints += "2"
        if not s.endswith("\n"):
            hints += "-"
        elif len(s) == 1 or s[-2] == "\n":
            hints += "+"
        self.write(hints + "\n")
        at_break = True
        for ch in s:
            if ch == "\n":
                self.write("\n")
                at_break = True
            else:
                if at_break:
                    self.write(" " * indent)
                    at_break = False
                self.write(ch)

    def scalar(self, v: Any, indent: int, simple_key: bool = False) -> None:
        if v is None:
            self.write("null")
        elif isinstance(v, bool):
            self.write("true" if v else "false")
        elif isinstance(v, (int, float)):
            self.write(format_number(v))
        elif "\n" in v and not simple_key and _block_allowed(v):
            self.literal(v, indent)
        else:
            self.quoted(v, indent, not simple_key)

    def node(self, v: Any, parent: int, in_mapping: bool = False) -> None:
        """`v` placed after "key:" / "- " (or at the top, parent -1)."""
        if isinstance(v, dict) and v:
            self.mapping(v, 0 if parent < 0 else parent + 2, first_inline=not in_mapping)
        elif isinstance(v, list) and v:
            self.sequence(v, max(parent, 0) if in_mapping or parent < 0 else parent + 2,
                          first_inline=not in_mapping)
        else:
            if in_mapping:
                self.write(" ")
            if isinstance(v, dict):
                self.write("{}")
            elif isinstance(v, list):
                self.write("[]")
            else:
                self.scalar(v, 2 if parent < 0 else parent + 2)

    def mapping(self, m: dict[str, Any], indent: int, first_inline: bool) -> None:
        for n, k in enumerate(sorted(m)):
            if not (first_inline and n == 0):
                self.newline_indent(indent)
            if len(k.encode()) > 128 or any(b in k for b in _BREAKS):
                # Not a simple key (libyaml: longer than 128 bytes, or a line break in
                # it): "? key", then ": value" on a line of its own.
                self.write("? ")
                self.scalar(k, indent + 2)
                self.newline_indent(indent)
                self.write(":")
            else:
                self.scalar(k, indent + 2, simple_key=True)
                self.write(":")
            self.node(m[k], indent, in_mapping=True)

    def sequence(self, items: list[Any], indent: int, first_inline: bool) -> None:
        for n, item in enumerate(items):
            if not (first_inline and n == 0):
                self.newline_indent(indent)
            self.write("- ")
            self.node(item, indent)


def yamlencode(v: Any) -> str:
    """`v` as Terraform's yamlencode writes it: block style, keys and strings in double
    quotes, multi-line strings as literal blocks, long strings folded at 80 columns, and
    `...` after a document that is a plain scalar."""
    w = _YamlWriter()
    w.node(v, -1)
    text = "".join(w.out)
    if v is None or isinstance(v, (bool, int, float)):
        return text + "\n...\n"
    return text if w.column == 0 else text + "\n"


# ---------------------------------------------------------------------------------------------
# yamldecode
# ---------------------------------------------------------------------------------------------

_STR = "tag:yaml.org,2002:str"
_PLAIN = "!plain"  # our tag for a plain scalar without a tag: resolved by its text
_BOOLS = {**dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On",
                           "ON"), True),
          **dict.fromkeys(("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off",
                           "OFF"), False)}
_NULLS = ("", "~", "null", "Null", "NULL")
_INFS = {".inf": float("inf"), ".Inf": float("inf"), ".INF": float("inf"),
         "+.inf": float("inf"), "+.Inf": float("inf"), "+.INF": float("inf"),
         "-.inf": float("-inf"), "-.Inf": float("-inf"), "-.INF": float("-inf")}
# Plain scalars that are numbers, as Terraform 1.11 reads them: decimal (leading zeros
# allowed, "0777" is 777), 0x hexadecimal and 0o octal without a sign; no underscores.
_INT_RE = re.compile(r"[-+]?[0-9]+|0x[0-9a-fA-F]+|0o[0-7]+")
_FLOAT_RE = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_TIMESTAMP_RE = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:(?:[Tt](\d{1,2}):(\d{1,2}):(\d{1,2})(\.\d+)?(Z|[-+]\d{2}:\d{2}))"
    r"|(?: (\d{1,2}):(\d{1,2}):(\d{1,2})(\.\d+)?))?")


def _number(text: str) -> int | float:
    try:
        d = Decimal(text)
    except InvalidOperation:
        raise ValueError(text) from None
    if d == d.to_integral_value() and abs(d) < Decimal(10) ** 4000:
        return int(d)
    return norm_number(float(d))


def _tag_number(src: str, tag: str) -> int | float:
    plain = src.replace("_", "")
    try:
        return _number(plain)
    except ValueError:
        pass
    # Go's strconv.ParseInt/ParseUint with base 0: 0x, 0o, 0b and leading-0 octal, 64 bits.
    m = re.fullmatch(r"([-+]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]+)", plain)
    if m:
        body = m.group(2)
        base = {"x": 16, "o": 8, "b": 2}.get(body[1:2].lower(), 8)
        n = int(body[2:] if base != 8 or body[1:2] in "oO" else body[1:], base)
        n = -n if m.group(1) == "-" else n
        if -(2**63) <= n < 2**64:
            return n
    raise FuncError(f'cannot parse "{src}" as {tag}', None)


def _timestamp(src: str) -> str | None:
    m = _TIMESTAMP_RE.fullmatch(src)
    if not m:
        return None
    y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
    try:
        if m.group(4) is not None:
            h, mi, s = int(m.group(4)), int(m.group(5)), int(m.group(6))
            z = m.group(8)
            tz = UTC if z == "Z" else timezone(
                (1 if z[0] == "+" else -1) * timedelta(hours=int(z[1:3]), minutes=int(z[4:6])))
        elif m.group(9) is not None:
            h, mi, s, tz = int(m.group(9)), int(m.group(10)), int(m.group(11)), UTC
        else:
            h = mi = s = 0
            tz = UTC
        t = datetime(y, mo, d, h, mi, s, tzinfo=tz)
    except ValueError:
        return None
    return rfc3339(t)


def rfc3339(t: datetime) -> str:
    """Go's time.RFC3339 layout: "Z" for UTC, else the offset as +hh:mm."""
    off = t.utcoffset() or timedelta(0)
    if off == timedelta(0):
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")
    sign = "+" if off >= timedelta(0) else "-"
    mins = abs(int(off.total_seconds())) // 60
    return t.strftime("%Y-%m-%dT%H:%M:%S") + f"{sign}{mins // 60:02d}:{mins % 60:02d}"


def _resolve(tag: str, src: str) -> Any:
    short = tag.replace("tag:yaml.org,2002:", "!!")
    if tag == _PLAIN:
        if src in _BOOLS:
            return _BOOLS[src]
        if src in _NULLS:
            return None
        if src in _INFS:
            return _INFS[src]
        if src in (".nan", ".NaN", ".NAN"):
            raise FuncError("floating point NaN is not supported", None)
        if src[:1] and src[0] in "+-0123456789.":
            stamp = _timestamp(src) if src[0] in "0123456789" else None
            if stamp is not None:
                return stamp
            if _INT_RE.fullmatch(src) or _FLOAT_RE.fullmatch(src):
                return _tag_number(src, "tag:yaml.org,2002:int")
        return src
    if short == "!!str":
        return src
    if short == "!!binary":
        try:
            base64.b64decode(src, validate=True)
        except ValueError:
            raise FuncError(f'cannot parse "{src}" as {tag}: not valid base64', None) from None
        return src
    if short == "!!bool":
        if src in _BOOLS:
            return _BOOLS[src]
        raise FuncError(f'cannot parse "{src}" as {tag}', None)
    if short in ("!!int", "!!float"):
        if src in _INFS:
            return _INFS[src]
        return _tag_number(src, tag)
    if short == "!!timestamp":
        stamp = _timestamp(src)
        if stamp is None:
            raise FuncError(f'cannot parse "{src}" as {tag}', None)
        return stamp
    if short == "!!null":
        return None
    raise FuncError(f'unsupported tag "{short}"', None)


def yamldecode(src: str) -> Any:
    """A YAML document as Terraform's yamldecode reads it (one document; YAML 1.1 booleans
    such as yes/on; timestamps as RFC 3339 strings; !!binary kept as its base64 text; merge
    keys; mapping keys converted to strings, null keys refused)."""
    import yaml  # PyYAML: only configurations that decode YAML load it

    class Loader(yaml.SafeLoader):
        pass

    def resolve(self: Any, kind: Any, value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode and implicit[0]:
            return _PLAIN
        return yaml.SafeLoader.resolve(self, kind, value, (False, False))

    Loader.resolve = resolve  # type: ignore[method-assign]
    try:
        loader = Loader(src)
        try:
            if not loader.check_node():
                raise FuncError("on line 1, column 1: missing start of document", None)
            node = loader.get_node()
            if loader.check_node():
                raise FuncError("on line 1, column 1: unexpected extra content after value",
                                None)
        finally:
            loader.dispose()
    except yaml.YAMLError as e:
        raise FuncError(_yaml_error(e, yaml), None) from None
    return _convert(node, yaml)


# PyYAML's words -> libyaml's (go-yaml's, Terraform's), for the common mistakes.
_YAML_PROBLEMS = (
    (re.compile(r"mapping values are not allowed here"),
     "mapping values are not allowed in this context"),
    (re.compile(r"found character .* that cannot start any token"),
     "found character that cannot start any token"),
    (re.compile(r"expected the node content, but found .*"),
     "did not find expected node content"),
    (re.compile(r"found undefined alias '(.*)'"), 'reference to undefined anchor "\\1"'),
)


def _yaml_error(e: Any, yaml: Any) -> str:
    """A YAML syntax error as Terraform words it: the scanner's and the alias errors bare,
    the parser's after the line and column of what it was parsing."""
    problem = getattr(e, "problem", None) or str(e)
    context = getattr(e, "context", None) or ""
    if problem.startswith("expected <block end>"):
        problem = ("did not find expected '-' indicator" if "block collection" in context
                   else "did not find expected key")
    for pattern, words in _YAML_PROBLEMS:
        if pattern.fullmatch(problem):
            problem = pattern.sub(words, problem)
            break
    if type(e).__name__ == "ParserError":
        mark = getattr(e, "context_mark", None) or getattr(e, "problem_mark", None)
        if mark is not None:
            return f"on line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return problem


def _convert(node: Any, yaml: Any, depth: int = 0) -> Any:
    if depth > 1000:
        raise FuncError("the YAML document is nested too deeply", None)
    if isinstance(node, yaml.ScalarNode):
        if node.style in ("'", '"') and node.tag != "tag:yaml.org,2002:binary":
            return node.value  # a quoted scalar is a string, whatever its tag says
        return _resolve(node.tag, node.value)
    if isinstance(node, yaml.SequenceNode):
        if node.tag not in ("tag:yaml.org,2002:seq",):
            raise FuncError(f"can't interpret sequence as {node.tag}", None)
        return [_convert(n, yaml, depth + 1) for n in node.value]
    if node.tag not in ("tag:yaml.org,2002:map",):
        raise FuncError(f"can't interpret mapping as {node.tag}", None)
    out: dict[str, Any] = {}
    merged: dict[str, Any] = {}
    for knode, vnode in node.value:
        if isinstance(knode, yaml.ScalarNode) and knode.tag in (_PLAIN,
                                                                "tag:yaml.org,2002:merge") \
                and knode.value == "<<":
            value = _convert(vnode, yaml, depth + 1)
            for part in value if isinstance(value, list) else [value]:
                if not isinstance(part, dict):
                    raise FuncError("map merge requires map or sequence of maps as the "
                                    "value", None)
                for k, v in part.items():
                    merged.setdefault(k, v)
            continue
        if not isinstance(knode, yaml.ScalarNode):
            raise FuncError("only strings are allowed as mapping keys", None)
        key = _convert(knode, yaml, depth + 1)
        if key is None:
            # Terraform counts this one's lines from 0 (and columns from 1).
            raise FuncError(f"on line {knode.start_mark.line}, column "
                            f"{knode.start_mark.column + 1}: mapping key cannot be null", None)
        if isinstance(key, bool):
            key = "true" if key else "false"
        elif isinstance(key, (int, float)):
            key = format_number(key)
        out[key] = _convert(vnode, yaml, depth + 1)
    return {**merged, **out} if merged else out


# ---------------------------------------------------------------------------------------------
# csvdecode
# ---------------------------------------------------------------------------------------------


def _csv_records(src: str) -> list[tuple[int, list[str]]]:
    """Go's encoding/csv records (line number, fields): empty lines skipped, a bare quote in
    an unquoted field and a stray quote in a quoted one are errors, CRLF read as LF."""
    records: list[tuple[int, list[str]]] = []
    i, n, line = 0, len(src), 1
    while i < n:
        if src[i] == "\n" or src.startswith("\r\n", i):  # an empty line
            i += 2 if src[i] == "\r" else 1
            line += 1
            continue
        start_line = line
        fields: list[str] = []
        while True:
            if i < n and src[i] == '"':
                i += 1
                buf: list[str] = []
                while True:
                    j = src.find('"', i)
                    if j < 0:
                        raise FuncError(f'CSV parse error on line {start_line}: extraneous or '
                                        'missing " in quoted-field', None)
                    buf.append(src[i:j])
                    line += src.count("\n", i, j)
                    i = j + 1
                    if i < n and src[i] == '"':
                        buf.append('"')
                        i += 1
                        continue
                    break
                fields.append("".join(buf).replace("\r\n", "\n"))
                if i < n and src[i] not in ",\n" and not src.startswith("\r\n", i):
                    raise FuncError(f'CSV parse error on line {start_line}: extraneous or '
                                    'missing " in quoted-field', None)
            else:
                m = re.compile(r"[^,\n]*").match(src, i)
                assert m is not None
                text = m.group(0)
                if text.endswith("\r") and src.startswith("\n", m.end()):
                    text = text[:-1]
                if '"' in text:
                    raise FuncError(f'CSV parse error on line {start_line}: bare " in '
                                    "non-quoted-field", None)
                fields.append(text)
                i = m.end()
            if i < n and src[i] == ",":
                i += 1
                continue
            if i < n:  # the line break
                i += 1
                line += 1
            break
        records.append((start_line, fields))
    return records


def csvdecode(src: str) -> ListValue:
    """CSV text (a header line, then records) as a list of maps, as Terraform decodes it."""
    records = _csv_records(src)
    if not records:
        raise FuncError("missing header line", None)
    header = records[0][1]
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise FuncError(f'duplicate column name "{name}"', None)
        seen.add(name)
    out = []
    for line, fields in records[1:]:
        if len(fields) != len(header):
            raise FuncError(f"CSV parse error on line {line}: wrong number of fields", None)
        out.append(dict(zip(header, fields, strict=True)))
    # A list of objects whose attributes are the columns, all strings (Terraform's type).
    return ListValue(out, ["object", {name: "string" for name in header}])


# ---------------------------------------------------------------------------------------------
# gzip and character sets
# ---------------------------------------------------------------------------------------------


def base64gzip(s: str) -> str:
    """`s` gzip-compressed and base64-encoded, framed as Go's gzip writer frames it (no
    name, time 0, OS unknown, a sync flush and an empty final stored block)."""
    data = s.encode()
    co = zlib.compressobj(6, zlib.DEFLATED, -15)
    body = co.compress(data) + co.flush(zlib.Z_SYNC_FLUSH) + b"\x01\x00\x00\xff\xff"
    raw = (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + body
           + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF))
    return base64.b64encode(raw).decode()


# IANA names and aliases Terraform accepts (golang.org/x/text's ianaindex) -> Python codec,
# and the name its messages use.
_CHARSETS: dict[str, tuple[str, str]] = {}
for _names, _codec, _shown in (
        (("utf-8", "utf8", "csutf8"), "utf-8", "UTF-8"),
        (("utf-16", "csutf16"), "utf-16-be-bom", "UTF-16"),
        (("utf-16be", "csutf16be"), "utf-16-be", "UTF-16BE"),
        (("utf-16le", "csutf16le"), "utf-16-le", "UTF-16LE"),
        (("iso-8859-1", "iso_8859-1:1987", "iso-ir-100", "iso_8859-1", "latin1", "l1",
          "ibm819", "cp819", "csisolatin1"), "latin-1", "ISO_8859-1:1987"),
        (("us-ascii", "iso-ir-6", "ansi_x3.4-1968", "ansi_x3.4-1986", "iso_646.irv:1991",
          "iso646-us", "us", "ibm367", "cp367", "csascii"), "ascii", "US-ASCII"),
        (("iso-8859-2", "latin2", "l2", "csisolatin2"), "iso8859-2", "ISO_8859-2:1987"),
        (("iso-8859-15", "latin-9", "csiso885915"), "iso8859-15", "ISO-8859-15"),
        (("windows-1250", "cswindows1250"), "cp1250", "windows-1250"),
        (("windows-1251", "cswindows1251"), "cp1251", "windows-1251"),
        (("windows-1252", "cswindows1252"), "cp1252", "windows-1252"),
        (("shift_jis", "ms_kanji", "csshiftjis"), "shift_jis", "Shift_JIS"),
        (("euc-jp", "cseucpkdfmtjapanese"), "euc_jp", "EUC-JP"),
        (("euc-kr", "cseuckr"), "euc_kr", "EUC-KR"),
        (("gbk", "cp936", "ms936", "windows-936", "csgbk"), "gbk", "GBK"),
        (("gb18030", "csgb18030"), "gb18030", "GB18030"),
        (("big5", "csbig5"), "big5", "Big5"),
        (("koi8-r", "cskoi8r"), "koi8_r", "KOI8-R"),
        (("koi8-u", "cskoi8u"), "koi8_u", "KOI8-U")):
    for _n in _names:
        _CHARSETS[_n] = (_codec, _shown)
for _num, _year in ((3, 1988), (4, 1988), (5, 1988), (6, 1987), (7, 1987), (8, 1988),
                    (9, 1989), (10, 0), (13, 0), (14, 0), (16, 0)):
    _shown = f"ISO_8859-{_num}:{_year}" if _year else f"ISO-8859-{_num}"
    for _n in (f"iso-8859-{_num}", f"iso_8859-{_num}", f"iso_8859-{_num}:{_year}"):
        _CHARSETS[_n] = (f"iso8859_{_num}", _shown)
for _num in (437, 850, 852, 855, 858, 860, 862, 863, 865, 866):
    for _n in (f"ibm{_num}", f"cp{_num}", f"{_num}", f"csibm{_num}"):
        _CHARSETS[_n] = (f"cp{_num}", f"IBM{_num}")
for _num in (874, 1253, 1254, 1255, 1256, 1257, 1258):
    _CHARSETS[f"windows-{_num}"] = (f"cp{_num}", f"windows-{_num}")
for _n, _codec, _shown in (("macintosh", "mac_roman", "macintosh"),
                           ("mac", "mac_roman", "macintosh"),
                           ("iso-2022-jp", "iso2022_jp", "ISO-2022-JP"),
                           ("hz-gb-2312", "hz", "HZ-GB-2312")):
    _CHARSETS[_n] = (_codec, _shown)


def _charset(name: str, arg: int) -> tuple[str, str]:
    found = _CHARSETS.get(name.lower())
    if found is None:
        raise FuncError(f'"{name}" is not a supported IANA encoding name or alias in this '
                        "Terraform version", arg)
    return found


def textencodebase64(s: str, encoding: str) -> str:
    """`s` encoded in the named character set, then base64-encoded."""
    codec, shown = _charset(encoding, 1)
    if codec == "utf-16-be-bom":  # Go writes UTF-16 big-endian with a byte order mark
        data = b"\xfe\xff" + s.encode("utf-16-be") if s else b""
    else:
        try:
            data = s.encode(codec)
        except UnicodeEncodeError:
            raise FuncError("the given string contains characters that cannot be represented "
                            f"in {shown}", 0) from None
    return base64.b64encode(data).decode()


def textdecodebase64(src: str, encoding: str) -> str:
    """Base64 text decoded, then read in the named character set."""
    codec, shown = _charset(encoding, 1)
    try:
        data = base64.b64decode(src, validate=True)
    except ValueError:
        bad = next((i for i, ch in enumerate(src) if not (ch.isascii() and (
            ch.isalnum() or ch in "+/="))), 0)
        raise FuncError(f"the given value is has an invalid base64 symbol at offset {bad}",
                        0) from None
    if codec == "utf-16-be-bom":  # a byte order mark says which; big-endian without one
        codec = "utf-16-le" if data[:2] == b"\xff\xfe" else "utf-16-be"
        if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
            data = data[2:]
    try:
        return codecs.decode(data, codec)
    except UnicodeDecodeError:
        raise FuncError(f"the given string contains symbols that are not defined for {shown}",
                        0) from None
