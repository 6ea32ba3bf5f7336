"""The JSON of the files fgform writes and reads back (state, saved plans): orjson's
two-space indented, key-sorted text, and one decoder for them."""

from __future__ import annotations

import json
import marshal
import math
from typing import Any

import orjson

from fgform import numbers
from fgform.config.nesting import make_room
from fgform.errors import FgformError

# Dataclasses and datetimes are not plain JSON values: passed through to the refusal below
# rather than written in orjson's own way. Non-string keys are written as json.dumps does.
_OPTIONS = (orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
            | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME)


def encode_json(obj: Any) -> bytes:
    """`obj` as UTF-8 JSON text, indented by two spaces with sorted keys (no final newline):
    `json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False)`, but for the spelling of
    floats with exponents (`1e16`, not `1e+16`). NaN and infinities are refused (not JSON).

    What orjson cannot write (an integer beyond 64 bits, a string with a lone surrogate,
    nesting deeper than 255) is written by the standard library's encoder (with `\\u`
    escapes for all non-ASCII characters); a value of another type raises FgformError.
    """
    # A number beyond a double (numbers.Num: 0.1 at 512 bits, 1/3) is written with all its
    # digits, as Terraform writes it, so that it reads back the same.
    texts: list[str] = []

    def exact(o: Any) -> Any:
        if isinstance(o, numbers.Num):
            return numbers.json_placeholder(o, texts, reread=True)
        raise TypeError

    try:
        out = orjson.dumps(obj, option=_OPTIONS, default=exact)
    except orjson.JSONEncodeError:
        return _encode_rare(obj)
    _refuse_non_finite(obj)
    return numbers.json_finish(out, texts)


def _encode_rare(obj: Any) -> bytes:
    _refuse_non_finite(obj)
    texts: list[str] = []
    try:
        ready = numbers.json_ready(obj, texts, all_floats=False, reread=True)
    except RecursionError:  # nested deeper than a walk goes: json's encoder goes deeper
        ready, texts = obj, []
    try:
        text = json.dumps(ready, indent=2,
                          sort_keys=True, allow_nan=False, default=_unsupported)
    except (TypeError, ValueError) as e:  # keys of mixed or odd types, a cycle
        raise FgformError(f"cannot write this value as JSON: {e}") from None
    return numbers.json_finish(text, texts).encode()


def _unsupported(o: Any) -> Any:
    raise FgformError(
        f"cannot write a {type(o).__name__} value as JSON",
        hint="State and plan files hold plain JSON values; this is a bug in whatever "
             "produced it.",
    )


def _refuse_non_finite(obj: Any) -> None:
    """Raise FgformError for a NaN or infinity anywhere in `obj` (orjson writes them as null).

    The cheap proof that there is none: an infinite or NaN double has all its exponent bits
    set, so its top byte (the last of marshal's little-endian encoding) is 0x7f or 0xff; a
    marshalled value with neither byte anywhere holds no such float. Otherwise (or when
    marshal refuses the value) every value is looked at.
    """
    try:
        blob = marshal.dumps(obj)
    except ValueError:  # a subclass or an object marshal does not know, or very deep nesting
        blob = None
    if blob is not None and b"\x7f" not in blob and b"\xff" not in blob:
        return
    stack = [obj]
    while stack:
        o = stack.pop()
        if isinstance(o, float):
            if not math.isfinite(o):
                raise FgformError(f"cannot write {float(o)!r}: not a JSON number")
        elif isinstance(o, dict):
            stack.extend(o.values())
        elif isinstance(o, list | tuple):
            stack.extend(o)


def decode_json(text: str | bytes) -> Any:
    """`json.loads(text)` for a state, plan or lock file, accepting the same depth of nesting
    whatever ran before in the process: the loader raises the recursion limit for deep
    expressions (config/nesting.py), and a file must not be readable or "nested too deeply"
    depending on whether a configuration was loaded first. Deeper input still raises
    RecursionError, which the callers report."""
    make_room()
    # Numbers with a fraction or exponent at 512 bits, as Terraform reads its state (whole
    # numbers beyond 512 bits are written with an exponent: encode_json).
    try:
        return json.loads(text, parse_float=numbers.parse_json_float)
    except numbers.NumberError as e:  # 1e9999999: read as the JSON error it is to fgform
        raise json.JSONDecodeError(str(e), "", 0) from None
