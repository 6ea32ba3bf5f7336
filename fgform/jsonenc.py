"""The JSON of the files fgform writes and reads back (state, saved plans, locks): a fast,
exact `json.dumps(obj, indent=N, sort_keys=True)`, and one decoder for them."""

from __future__ import annotations

import json
import math
from json.encoder import encode_basestring_ascii as _encode_str  # type: ignore[attr-defined]
from typing import Any

from fgform.config.nesting import make_room
from fgform.errors import FgformError


def encode_json(obj: Any, indent: str = "", step: str = "  ") -> str:
    """`json.dumps(obj, indent=len(step), sort_keys=True)`, byte for byte, about twice as fast.

    The standard library only uses its C encoder without `indent`; the pure-Python path costs
    ~45 ms for 1,000 resources, which is most of a state write's or `plan -out`'s budget. This
    walker still uses the C string escaper, and refuses NaN and infinities (they are not JSON).
    `indent` is the indentation of the line the value starts on, for embedding the text in a
    larger document; `step` is one level of indentation.
    """
    out: list[str] = []
    app = out.append

    def enc(o: Any, ind: str) -> None:
        t = type(o)
        if t is str:
            app(_encode_str(o))
        elif t is dict:
            if not o:
                app("{}")
                return
            ind2 = ind + step
            pre = "{\n" + ind2
            sep = ",\n" + ind2
            # JSON keys are strings; json.dumps stringifies int/float/bool/None keys the same
            # way, and sorts after doing so only when all keys share a type. Stringify first.
            items = o.items() if all(type(k) is str for k in o) else (
                (_key(k), v) for k, v in o.items())
            for k, v in sorted(items, key=lambda kv: kv[0]):
                app(pre)
                pre = sep
                app(_encode_str(k))
                app(": ")
                enc(v, ind2)
            app("\n" + ind + "}")
        elif t is list or t is tuple:
            if not o:
                app("[]")
                return
            ind2 = ind + step
            pre = "[\n" + ind2
            sep = ",\n" + ind2
            for v in o:
                app(pre)
                pre = sep
                enc(v, ind2)
            app("\n" + ind + "]")
        elif o is None:
            app("null")
        elif o is True:
            app("true")
        elif o is False:
            app("false")
        elif t is int:
            app(int.__repr__(o))
        elif t is float:
            if math.isnan(o) or math.isinf(o):
                raise FgformError(f"cannot write {o!r}: not a JSON number")
            app(float.__repr__(o))
        elif isinstance(o, str | int | float | dict | list | tuple):
            # Subclasses (enums with str/int bases, OrderedDict...): normalise, then encode.
            enc(_plain(o), ind)
        else:
            raise FgformError(
                f"cannot write a {type(o).__name__} value as JSON",
                hint="State and plan files hold plain JSON values; this is a bug in whatever "
                     "produced it.",
            )

    enc(obj, indent)
    return "".join(out)


def _key(k: Any) -> str:
    if isinstance(k, str):
        return str(k)
    if k is None:
        return "null"
    if isinstance(k, bool):
        return "true" if k else "false"
    if isinstance(k, int | float):
        return json.dumps(k)
    raise FgformError(f"cannot write a {type(k).__name__} key as JSON")


def _plain(o: Any) -> Any:
    if isinstance(o, bool):
        return bool(o)
    if isinstance(o, str):
        return str(o)
    if isinstance(o, int):
        return int(o)
    if isinstance(o, float):
        return float(o)
    if isinstance(o, dict):
        return dict(o)
    return list(o)


def decode_json(text: str) -> Any:
    """`json.loads(text)` for a state, plan or lock file, accepting the same depth of nesting
    whatever ran before in the process: the loader raises the recursion limit for deep
    expressions (config/nesting.py), and a file must not be readable or "nested too deeply"
    depending on whether a configuration was loaded first. Deeper input still raises
    RecursionError, which the callers report."""
    make_room()
    return json.loads(text)

