"""Terraform's function library, with Terraform's semantics.

Each function declares its parameters and their types; `call` evaluates the arguments,
converts them (HCL's conversions: "5" is a number, 5 is a string), handles UNKNOWN and
Sensitive the same way for every function, and turns failures into an EvalError that names
the function and the argument.

- A function whose result needs every part of its arguments returns UNKNOWN when any of them
  holds an unknown. "Structural" functions (length, concat, merge, keys, lookup, ...) only
  move values around, so unknowns nested inside their arguments flow into the result.
- Any sensitive argument makes the result sensitive (except `nonsensitive`).
- `try` and `can` receive their argument expressions unevaluated, so that they can catch the
  errors of evaluating them.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import ipaddress
import json
import math
import os
import re
import stat
import urllib.parse
import uuid as uuid_module
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fgform import numbers
from fgform.config import (
    ast,
    fn_crypto,
    fn_encoding,
    fn_files,
    fn_misc,
    fn_network,
    fn_template,
    fn_text,
    fn_time,
    hcl,
)
from fgform.config.conversions import (
    ConversionError,
    deep_unmark,
    format_number,
    has_sensitive,
    mark,
    norm_number,
    strip,
    to_bool,
    to_number,
    to_string,
    type_name,
    values_equal,
)
from fgform.config.expr import EvalContext, EvalError, evaluate
from fgform.config.fn_base import CallInfo, FuncError
from fgform.config.limits import (
    MAX_COLLECTION_LENGTH,
    MAX_STRING_LENGTH,
    MAX_VALUE_ELEMENTS,
    element_count,
)
from fgform.config.unify import (
    DYNAMIC,
    collection_or_none,
    convert_value,
    friendly,
    set_hash,
    set_of,
    to_collection,
    unify,
)
from fgform.suggest import did_you_mean
from fgform.values import (
    SENSITIVE_TEXT,
    UNKNOWN,
    ListValue,
    MapValue,
    ObjectValue,
    Sensitive,
    SetValue,
    contains_unknown,
    cty_type,
    scrub,
    sensitive_strings,
    typed_object,
    typed_tuple,
)


@dataclass(frozen=True, slots=True)
class Func:
    name: str
    impl: Callable[..., Any]
    params: tuple[tuple[str, str], ...]  # (name, type) of the fixed parameters
    variadic: tuple[str, str] | None = None
    min_variadic: int = 0
    max_variadic: int | None = None
    structural: bool = False  # unknowns nested in the arguments may flow into the result
    allow_unknown: bool = False  # the function deals with wholly unknown arguments itself
    keep_marks: bool = False  # the function deals with Sensitive marks itself
    lazy: bool = False  # receives the argument nodes, unevaluated


FUNCTIONS: dict[str, Func] = {}



def _check_string_length(n: int) -> None:
    if n > MAX_STRING_LENGTH:
        raise FuncError(f"the result would be a string of {n} characters, more than the "
                        f"limit of {MAX_STRING_LENGTH}", None)


def _check_collection_length(n: int) -> None:
    if n > MAX_COLLECTION_LENGTH:
        raise FuncError(f"the result would have {n} elements, more than the limit of "
                        f"{MAX_COLLECTION_LENGTH}", None)


# Their results are a file's content as it is: no amplification to stop, and a large
# template or JSON file is legitimate.
_READ_FILES = frozenset({"file", "filebase64", "templatefile"})


def _check_result_size(value: Any) -> None:
    """Every function's result, however it was built, stays within the limits: repeated
    doubling (`concat(local.a, local.a)` through a chain of locals) grows as fast as any
    single call."""
    if isinstance(value, str):
        _check_string_length(len(value))
    elif isinstance(value, (list, dict)):
        _check_collection_length(len(value))


def _fn(name: str, *params: str, variadic: str | None = None, min_variadic: int = 0,
        max_variadic: int | None = None, structural: bool = False, allow_unknown: bool = False,
        keep_marks: bool = False, lazy: bool = False) -> Callable[[Callable[..., Any]],
                                                                 Callable[..., Any]]:
    """Register a function. Parameters are written "name:type"; types are string, number,
    int, bool, list, map, any."""

    def split(p: str) -> tuple[str, str]:
        n, _, t = p.partition(":")
        return n, t or "any"

    def deco(f: Callable[..., Any]) -> Callable[..., Any]:
        FUNCTIONS[name] = Func(name, f, tuple(split(p) for p in params),
                               split(variadic) if variadic else None, min_variadic,
                               max_variadic, structural, allow_unknown, keep_marks, lazy)
        return f

    return deco


# ---------------------------------------------------------------------------------------------
# Calling
# ---------------------------------------------------------------------------------------------


def call(node: ast.Call, ctx: EvalContext) -> Any:
    """Evaluate a function call node (the evaluator's entry point)."""
    spec = FUNCTIONS.get(node.name)
    if spec is None:
        raise EvalError(f'There is no function named "{node.name}".', node.range,
                        hint=did_you_mean(node.name, FUNCTIONS),
                        summary="Call to unknown function")
    info = CallInfo(node.name, node, ctx)
    if spec.lazy:
        _check_arity(spec, len(node.args), node)
        return spec.impl(info, *node.args)
    args = [evaluate(a, ctx) for a in node.args]
    if node.expand_final:
        if not args:
            raise EvalError("The ... symbol must follow the final argument.", node.range,
                            summary="Invalid expanding argument")
        last, sens = strip(args.pop())
        if last is UNKNOWN:
            return mark(UNKNOWN, sens)
        if not isinstance(last, list):
            raise EvalError(f"The expanding argument (indicated by ...) must be of a tuple, "
                            f"list, or set type, not {type_name(last)}.", node.args[-1].range,
                            summary="Invalid expanding argument value")
        args.extend(mark(v, sens) for v in last)
    _check_arity(spec, len(args), node)
    return invoke(spec, args, info)


def _check_arity(spec: Func, n: int, node: ast.Call) -> None:
    fixed = len(spec.params)
    if n < fixed + spec.min_variadic:
        missing = spec.params[n][0] if n < fixed else (spec.variadic or ("", ""))[0]
        want = fixed + spec.min_variadic
        raise EvalError(f'Function "{spec.name}" expects {"at least " if spec.variadic else ""}'
                        f"{want} argument{'s' if want != 1 else ''}. Missing value for "
                        f'"{missing}".', node.range, summary="Not enough function arguments")
    most = None if spec.variadic and spec.max_variadic is None else fixed + (
        spec.max_variadic or 0)
    if most is not None and n > most:
        bad = node.args[most].range if most < len(node.args) else node.range
        raise EvalError(f'Function "{spec.name}" expects {"at most " if spec.variadic else ""}'
                        f"{most} argument{'s' if most != 1 else ''}.", bad,
                        summary="Too many function arguments")


def _param(spec: Func, i: int) -> tuple[str, str]:
    if i < len(spec.params):
        return spec.params[i]
    return spec.variadic or ("args", "any")


def invoke(spec: Func, args: list[Any], info: CallInfo) -> Any:
    """Call a function on evaluated arguments, with the common marks/unknown handling."""
    marked = args  # as given: what an error message must not quote
    for i, a in enumerate(args):
        # Before any walk over the arguments: a list holding shared parts many times over
        # (`[for i in range(1024) : local.big]`) is cheap to build but not to walk.
        if isinstance(a, (list, dict, Sensitive)) and element_count(a) > MAX_VALUE_ELEMENTS:
            raise _arg_error(spec, i, f"the value holds more than {MAX_VALUE_ELEMENTS} values, "
                             "counting nested ones each time they appear: fgform's limit "
                             "for one value", info)
    sens = False
    if not spec.keep_marks:
        if spec.structural:
            stripped = []
            for a in args:
                a, s = strip(a)
                sens = sens or s
                stripped.append(a)
            args = stripped
        else:
            sens = any(has_sensitive(a) for a in args)
            if sens:
                args = [deep_unmark(a) for a in args]
    if not spec.allow_unknown:
        if any(a is UNKNOWN for a in args):
            return mark(UNKNOWN, sens)
        if not spec.structural and any(contains_unknown(a) for a in args):
            return mark(UNKNOWN, sens)
    try:
        # `sens and ...`: no walk of the arguments in the common case of no secret at all
        # (a mark nested in a structural function's argument is left to _unquoted).
        converted = [_convert(spec, i, a, sens and has_sensitive(m))
                     for i, (a, m) in enumerate(zip(args, marked, strict=True))]
        result = spec.impl(info, *converted)
        if spec.name not in _READ_FILES:
            _check_result_size(result)
    except FuncError as e:
        raise _arg_error(spec, e.arg, _unquoted(e.message, marked), info) from None
    except ConversionError as e:  # raised by helpers deep inside an implementation
        raise _arg_error(spec, None, _unquoted(str(e), marked), info) from None
    except numbers.NumberError as e:  # a number beyond the range fgform handles
        raise _arg_error(spec, None, _unquoted(str(e), marked), info) from None
    except EvalError:
        raise
    except (ValueError, TypeError, OverflowError, ArithmeticError, re.error, KeyError,
            IndexError) as e:
        raise EvalError(f'Call to function "{spec.name}" failed: {_unquoted(str(e), marked)}.',
                        info.node.range, summary="Error in function call") from None
    return mark(norm_result(result), sens)


_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


def _unquoted(message: str, args: list[Any]) -> str:
    """A function's error message without the sensitive values of its arguments: each one,
    and any quoted part of one (`cannot parse "hun"`), reads `(sensitive value)`."""
    if not any(has_sensitive(a) for a in args):
        return message
    secrets = sensitive_strings(args, min_len=1)
    message = _QUOTED.sub(lambda m: SENSITIVE_TEXT if m.group(1) and any(
        m.group(1) in s for s in secrets) else m.group(0), message)
    return scrub(message, sensitive_strings(args))


def norm_result(value: Any) -> Any:
    if isinstance(value, float):
        return norm_number(value)
    return value


def _arg_error(spec: Func, arg: int | None, message: str, info: CallInfo) -> EvalError:
    message = message.rstrip(".")
    if arg is None:
        return EvalError(f'Call to function "{spec.name}" failed: {message}.', info.node.range,
                         summary="Error in function call")
    pname = _param(spec, arg)[0]
    rng = info.node.args[arg].range if arg < len(info.node.args) and not info.node.expand_final \
        else info.node.range
    return EvalError(f'Invalid value for "{pname}" parameter of function "{spec.name}": '
                     f"{message}.", rng, summary="Invalid function argument")


def _convert(spec: Func, i: int, value: Any, sensitive: bool = False) -> Any:
    ptype = _param(spec, i)[1]
    if ptype == "any" or value is UNKNOWN:
        return value
    if value is None:
        raise FuncError("argument must not be null", i)
    try:
        if ptype == "string":
            return to_string(value)
        if ptype == "number":
            return to_number(value, sensitive)
        if ptype == "int":
            n = to_number(value, sensitive)
            if isinstance(n, float):
                raise FuncError("a whole number is required" + (
                    "" if sensitive else f", got {format_number(n)}"), i)
            return n
        if ptype == "bool":
            return to_bool(value, sensitive)
    except ConversionError as e:
        raise FuncError(str(e), i) from None
    if ptype == "list":
        if not isinstance(value, list):
            raise FuncError(f"list of values required, got {type_name(value)}", i)
        return value
    if ptype == "map":
        if not isinstance(value, dict):
            raise FuncError(f"map or object required, got {type_name(value)}", i)
        return value
    return value


def _strs(values: list[Any], arg: int, what: str = "element") -> list[str]:
    out = []
    for j, v in enumerate(values):
        if v is None:
            raise FuncError(f"{what} {j} is null", arg)
        try:
            out.append(to_string(v))
        except ConversionError as e:
            raise FuncError(f"{what} {j}: {e}", arg) from None
    return out


def _resolve_path(info: CallInfo, path: str) -> str:
    path = os.path.expanduser(path)
    if os.path.isabs(path):
        return path
    return os.path.join(info.ctx.path_cwd, path)


def _confined_path(info: CallInfo, path: str) -> str:
    """The file a file function may read: `path` resolved, its symbolic links followed, and
    refused unless it lies in the root module's directory or the calling module's.

    Terraform reads any path, but plans run on pull requests in CI: a change that says
    `file("/proc/self/environ")` or `file("../../.ssh/id_rsa")` would put the runner's secrets
    in the plan shown to its author."""
    if "\0" in path:
        raise FuncError(f"{json.dumps(path)} is not a valid path: it holds a NUL character", 0)
    full = _resolve_path(info, path)
    real = os.path.realpath(full)
    for base in (info.ctx.path_root, info.ctx.path_module):
        root = os.path.realpath(os.path.join(info.ctx.path_cwd, base))
        if real == root or real.startswith(root.rstrip(os.sep) + os.sep):
            return full
    raise FuncError(f'"{path}" is outside the configuration directory: fgform reads only '
                    "files of the configuration (the root module's directory and the "
                    "calling module's), so that a plan never reads files elsewhere on the "
                    "machine that runs it", 0)


# ---------------------------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------------------------


@_fn("abs", "num:number")
def _abs(c: CallInfo, n: Any) -> Any:
    return abs(n)


@_fn("ceil", "num:number")
def _ceil(c: CallInfo, n: Any) -> Any:
    return numbers.ceil(n)


@_fn("floor", "num:number")
def _floor(c: CallInfo, n: Any) -> Any:
    return numbers.floor(n)


@_fn("log", "num:number", "base:number")
def _log(c: CallInfo, n: Any, base: Any) -> Any:
    if n <= 0:
        raise FuncError("must be greater than zero", 0)
    if base <= 0 or base == 1:
        raise FuncError("must be greater than zero and not 1", 1)
    # As Terraform: Go's float64 math (a 53-bit result: log(10, 3) prints 17 digits).
    return numbers.go_log(numbers.to_float(n)) / numbers.go_log(numbers.to_float(base))


@_fn("pow", "num:number", "power:number")
def _pow(c: CallInfo, n: Any, p: Any) -> Any:
    # As Terraform: Go's math.Pow on float64s, so pow(2, 60) prints 1152921504606847000.
    result = numbers.go_pow(numbers.to_float(n), numbers.to_float(p))
    if math.isnan(result):  # Terraform panics ("Float.SetFloat64(NaN)")
        raise FuncError("the result is not a number (a negative number to a fractional "
                        "power)", None)
    return result


@_fn("signum", "num:number")
def _signum(c: CallInfo, n: Any) -> Any:
    if numbers.to_int64(n) is None:
        raise FuncError("value must be a whole number, between -9223372036854775808 and "
                        "9223372036854775807", None)
    return (n > 0) - (n < 0)


_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


@_fn("parseint", "number:any", "base:int")
def _parseint(c: CallInfo, s: Any, base: int) -> Any:
    if not isinstance(s, str):
        # As in Terraform: parseint(10, 2) is not parseint("10", 2).
        raise FuncError(f"first argument must be a string, not {type_name(s)}", 0)
    if not 2 <= base <= 62:
        raise FuncError("base must be a whole number between 2 and 62 inclusive", 1)
    text = s
    neg = text.startswith("-")
    if text[:1] in "+-":
        text = text[1:]
    if not text:
        raise FuncError(f'cannot parse "{s}" as a base {base} integer', 0)
    if len(text) > 4000:  # Python prints no int of more than 4,300 digits
        raise FuncError("a number of more than 4000 digits is more than fgform reads", 0)
    value = 0
    for ch in text:
        d = _DIGITS.find(ch.lower() if base <= 36 else ch)
        if d < 0 or d >= base:
            raise FuncError(f'cannot parse "{s}" as a base {base} integer', 0)
        value = value * base + d
    return -value if neg else value


@_fn("max", variadic="numbers:number", min_variadic=1)
def _max(c: CallInfo, *ns: Any) -> Any:
    return max(ns)


@_fn("min", variadic="numbers:number", min_variadic=1)
def _min(c: CallInfo, *ns: Any) -> Any:
    return min(ns)


# ---------------------------------------------------------------------------------------------
# Strings
# ---------------------------------------------------------------------------------------------

_VERB_RE = re.compile(r"%([-+ #0]*)(?:\[(\d+)\])?(\d+|\*)?(?:\.(\d+))?([a-zA-Z%])?")


_STAR_RE = re.compile(r"[-+ #0]*(?:\[\d+\])?\d*(?:\.\d*)?(?:\[\d+\])?\*")


def _format(fmt: str, args: list[Any], arg_base: int = 1) -> str:
    out: list[str] = []
    pos = 0
    next_arg = 0
    used: set[int] = set()
    total = 0
    for m in _VERB_RE.finditer(fmt):
        out.append(fmt[pos:m.start()])
        pos = m.end()
        flags, explicit, width, prec, verb = m.groups()
        if verb is None:
            star = _STAR_RE.match(fmt, m.start() + 1)
            if star:  # a * precision or a * after an argument index
                raise FuncError(f"unrecognized format character '*' at offset "
                                f"{star.end() - 1}", None)
            raise FuncError(f"unterminated format verb at offset {m.start()}", 0)
        if verb == "%":
            out.append("%")
            continue
        if explicit is not None:
            next_arg = int(explicit) - 1
        if next_arg >= len(args) or next_arg < 0:
            raise FuncError(f"not enough arguments for %{verb} at offset {m.start()}", 0)
        i = next_arg
        value = args[i]
        used.add(i)
        next_arg += 1
        if width == "*":  # Terraform's format has no * widths either
            raise FuncError(f"unrecognized format character '*' at offset {m.start(3)}",
                            None)
        for what, n in (("width", width), ("precision", prec)):
            if n is not None and int(n) > MAX_STRING_LENGTH:
                raise FuncError(f"the {what} {n} of the verb at offset {m.start()} is more "
                                f"than the longest string allowed, {MAX_STRING_LENGTH}", 0)
        out.append(_format_one(value, flags, width, prec, verb, i + arg_base))
        total += len(out[-2]) + len(out[-1])
        _check_string_length(total)
    out.append(fmt[pos:])
    if len(used) < len(args) and args:
        raise FuncError(f"too many arguments; only {len(used)} used by the format string", None)
    return "".join(out)


def _format_one(value: Any, flags: str, width: str | None, prec: str | None, verb: str,
                arg: int) -> str:
    if verb in "vs" or verb == "q":
        if verb == "v" and "#" in flags or (verb == "v" and isinstance(value, (list, dict))):
            text = _json(value)
        elif verb == "q":
            if not isinstance(value, str):
                try:
                    value = to_string(value)
                except ConversionError as e:
                    raise FuncError(str(e), arg) from None
            text = json.dumps(value, ensure_ascii=False)
        else:
            if value is None:
                text = "null"
            else:
                try:
                    text = to_string(value)
                except ConversionError as e:
                    raise FuncError(f"unsupported value for %{verb}: {e}", arg) from None
            if prec is not None:
                text = text[: int(prec)]
        return _pad(text, flags, width)
    if verb == "t":
        try:
            return _pad("true" if to_bool(value) else "false", flags, width)
        except ConversionError as e:
            raise FuncError(f"unsupported value for %t: {e}", arg) from None
    try:
        n = to_number(value)
    except ConversionError as e:
        raise FuncError(f"unsupported value for %{verb}: {e}", arg) from None
    spec = ""
    if "-" in flags:
        spec += "<"
    if "+" in flags:
        spec += "+"
    elif " " in flags:
        spec += " "
    if "#" in flags and verb in "boxX":
        spec += "#"
    if "0" in flags and "-" not in flags:
        spec += "0"
    spec += width or ""
    if verb in "dboxX":
        if isinstance(n, float):
            if not n.is_integer():
                raise FuncError(f"unsupported value for %{verb}: a whole number is required",
                                arg)
            n = int(n)  # its exact value, as Go's big.Float.Int: %d of pow(10, 30) shows it
        return format(n, spec + ("" if verb == "d" else verb))
    if verb in "eEfFgG":
        # The exact number's digits, as Go formats a big.Float (fgform/numbers.py).
        text = numbers.format_verb(n, "f" if verb == "F" else verb,
                                   None if prec is None else int(prec))
        if not text.startswith("-") and text[:1].isdigit():
            text = ("+" if "+" in flags else " " if " " in flags else "") + text
        w = int(width or 0)
        if "-" in flags:
            return text.ljust(w)
        if "0" in flags:
            sign = text[0] if text[:1] in "+- " else ""
            return sign + text[len(sign):].rjust(w - len(sign), "0")
        return text.rjust(w)
    raise FuncError(f"unsupported format verb %{verb}", 0)


def _pad(text: str, flags: str, width: str | None) -> str:
    if not width:
        return text
    w = int(width)
    return text.ljust(w) if "-" in flags else text.rjust(w)


@_fn("format", "format:string", variadic="args:any")
def _format_fn(c: CallInfo, fmt: str, *args: Any) -> Any:
    return _format(fmt, list(args))


@_fn("formatlist", "format:string", variadic="args:any")
def _formatlist(c: CallInfo, fmt: str, *args: Any) -> Any:
    length = None
    for i, a in enumerate(args):
        if isinstance(a, list):
            if length is not None and len(a) != length:
                raise FuncError(f"argument {i + 1} has length {len(a)}, which is inconsistent "
                                f"with the earlier lists of length {length}", i + 1)
            length = len(a)
    if length is None:
        return ListValue([_format(fmt, list(args))], "string")
    return ListValue([_format(fmt, [a[j] if isinstance(a, list) else a for a in args])
                      for j in range(length)], "string")


@_fn("join", "separator:string", variadic="lists:list", min_variadic=1)
def _join(c: CallInfo, sep: str, *lists: list[Any]) -> Any:
    items: list[str] = []
    for k, lst in enumerate(lists):
        items.extend(_strs(lst, k + 1))
    _check_string_length(sum(map(len, items)) + len(sep) * max(len(items) - 1, 0))
    return sep.join(items)


@_fn("split", "separator:string", "str:string")
def _split(c: CallInfo, sep: str, s: str) -> Any:
    if sep == "":
        return ListValue(list(s), "string")
    return ListValue(s.split(sep), "string")


@_fn("lower", "str:string")
def _lower(c: CallInfo, s: str) -> Any:
    return fn_text.lower(s)


@_fn("upper", "str:string")
def _upper(c: CallInfo, s: str) -> Any:
    return fn_text.upper(s)


@_fn("title", "str:string")
def _title(c: CallInfo, s: str) -> Any:
    return fn_text.title(s)


def _go_replacement(rep: str) -> Callable[[Any], str]:
    """Go's regexp replacement syntax ($1, ${1}, ${name}) for a match of `_compile`'s."""

    def expand(m: Any) -> str:
        def one(g: re.Match[str]) -> str:
            if g.group(0) == "$$":
                return "$"
            ref = g.group(1) or g.group(2)
            try:
                return m.group(int(ref) if ref.isdigit() else ref) or ""
            except IndexError:
                return ""

        return re.sub(r"\$\$|\$\{(\w+)\}|\$(\w+)", one, rep)

    return expand


@_fn("replace", "str:string", "substr:string", "replace:string")
def _replace(c: CallInfo, s: str, sub: str, rep: str) -> Any:
    if len(sub) > 1 and sub.startswith("/") and sub.endswith("/"):
        pattern = _compile(sub[1:-1], 1)
        expand = _go_replacement(rep)
        pieces: list[str] = []
        pos = total = 0
        for m in _matches(pattern, s):
            piece = expand(m)
            total += m.start() - pos + len(piece)
            _check_string_length(total)
            pieces += [s[pos:m.start()], piece]
            pos = m.end()
        pieces.append(s[pos:])
        return "".join(pieces)
    hits = len(s) + 1 if sub == "" else s.count(sub)
    _check_string_length(len(s) + hits * (len(rep) - len(sub)))
    return s.replace(sub, rep)


@_fn("trim", "str:string", "cutset:string")
def _trim(c: CallInfo, s: str, cutset: str) -> Any:
    return s.strip(cutset)


@_fn("trimspace", "str:string")
def _trimspace(c: CallInfo, s: str) -> Any:
    return s.strip()


@_fn("trimprefix", "str:string", "prefix:string")
def _trimprefix(c: CallInfo, s: str, p: str) -> Any:
    return s.removeprefix(p)


@_fn("trimsuffix", "str:string", "suffix:string")
def _trimsuffix(c: CallInfo, s: str, p: str) -> Any:
    return s.removesuffix(p)


@_fn("substr", "str:string", "offset:int", "length:int")
def _substr(c: CallInfo, s: str, offset: int, length: int) -> Any:
    return fn_text.substr(s, offset, length)


@_fn("strrev", "str:string")
def _strrev(c: CallInfo, s: str) -> Any:
    return fn_text.reverse(s)


@_fn("startswith", "str:string", "prefix:string")
def _startswith(c: CallInfo, s: str, p: str) -> Any:
    return s.startswith(p)


@_fn("strcontains", "str:string", "substr:string")
def _strcontains(c: CallInfo, s: str, sub: str) -> Any:
    return sub in s


@_fn("endswith", "str:string", "suffix:string")
def _endswith(c: CallInfo, s: str, p: str) -> Any:
    return s.endswith(p)


@_fn("indent", "spaces:int", "str:string")
def _indent(c: CallInfo, spaces: int, s: str) -> Any:
    if spaces < 0:  # Terraform fails too (a panic in its implementation)
        raise FuncError("the number of spaces must not be negative", None)
    _check_string_length(len(s) + spaces * s.count("\n"))
    return fn_text.indent(spaces, s)


@_fn("chomp", "str:string")
def _chomp(c: CallInfo, s: str) -> Any:
    return s.rstrip("\r\n")


def _match_value(pattern: Any, m: Any) -> Any:
    # A group that did not take part in the match is a null string (typed, as Terraform's).
    if pattern.groupindex:
        strings = dict.fromkeys(pattern.groupindex, "string")
        # By position: with a name used twice, the later group's match is the value (Go).
        names = _group_names(pattern.pattern)
        if len(names) != pattern.groups:  # not read right: by name, as RE2 maps them
            return typed_object({name: m.group(name) for name in pattern.groupindex}, strings)
        return typed_object({name: m.group(i) for i, name in enumerate(names, 1)}, strings)
    if pattern.groups:
        return typed_tuple(list(m.groups()), ["string"] * pattern.groups)
    return m.group(0)


def _group_names(pattern: str) -> list[str | None]:
    """The name of each capture group of an RE2 pattern, in order (None: unnamed)."""
    names: list[str | None] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            if pattern.startswith("Q", i + 1):  # \Q...\E: literal text
                end = pattern.find("\\E", i + 2)
                i = n if end < 0 else end + 2
                continue
            i += 2
        elif ch == "[":
            i += 1
            if i < n and pattern[i] == "^":
                i += 1
            if i < n and pattern[i] == "]":  # a ] first in a class is literal
                i += 1
            while i < n and pattern[i] != "]":
                if pattern[i] == "\\":
                    i += 1
                elif pattern.startswith("[:", i):
                    end = pattern.find(":]", i + 2)
                    i = i if end < 0 else end + 1
                i += 1
            i += 1
        elif ch == "(":
            named = re.match(r"\(\?P?<([^>]*)>", pattern[i:])
            if named:
                names.append(named.group(1))
            elif not pattern.startswith("(?", i):
                names.append(None)
            i += 1
        else:
            i += 1
    return names


def _check_groups(pattern: Any) -> None:
    """As Terraform: a pattern's groups are all named or all unnamed."""
    if pattern.groupindex and len(pattern.groupindex) < pattern.groups and \
            None in _group_names(pattern.pattern):
        raise FuncError("invalid regexp pattern: cannot mix both named and unnamed capture "
                        "groups", 0)


# RE2's words for a bad pattern -> Go's (Terraform's engine), which Terraform prints as
# "invalid regexp pattern: <what> in <where>".
_GO_REGEXP_ERRORS = {
    "missing )": "missing closing )", "missing ]": "missing closing ]",
    "trailing \\": "trailing backslash at end of expression",
    "no argument for repetition operator": "missing argument to repetition operator",
    "invalid repetition size": "invalid repeat count",
    "bad repetition operator": "invalid nested repetition operator",
    "invalid perl operator": "invalid or unsupported Perl syntax",
    "invalid named capture group": "invalid named capture",
}


def _go_regexp_error(why: str, pattern: str) -> str:
    code, _, where = why.partition(": ")
    if code == "invalid perl operator" and where.startswith("(?<"):
        # Go reads (?<=...) as a named group with a bad name, and quotes the rest.
        return f"invalid regexp pattern: invalid named capture in {pattern[pattern.find(where):]}"
    return f"invalid regexp pattern: {_GO_REGEXP_ERRORS.get(code, code)} in {where}"


_ANY_BYTE = re.compile(r"(?<!\\)(?:\\\\)*\\C")


def _compile(pattern: str, arg: int = 0) -> Any:
    """The pattern compiled by RE2, Terraform's own engine: the same syntax (no
    backreferences or lookarounds) and matching in linear time, so a pattern such as
    `(a+)+$` cannot make a plan hang as Python's backtracking `re` would."""
    import re2  # google-re2; only configurations that use regular expressions load it

    if _ANY_BYTE.search(pattern):
        # RE2 in C++ has \C (any byte); Go's regexp, Terraform's engine, does not.
        raise FuncError("invalid regexp pattern: invalid escape sequence in \\C", arg)
    options = re2.Options()
    options.log_errors = False  # else RE2 logs every bad pattern to stderr itself
    try:
        return re2.compile(pattern, options)
    except re2.error as e:
        why = e.args[0].decode("utf-8", "replace") if e.args and isinstance(e.args[0], bytes) \
            else str(e)
        raise FuncError(_go_regexp_error(why, pattern), arg) from None


@_fn("regex", "pattern:string", "string:string")
def _regex(c: CallInfo, pattern: str, s: str) -> Any:
    p = _compile(pattern)
    _check_groups(p)
    m = p.search(s)
    if m is None:
        raise FuncError("the pattern did not match the given string", None)
    return _match_value(p, m)


@_fn("regexall", "pattern:string", "string:string")
def _regexall(c: CallInfo, pattern: str, s: str) -> Any:
    p = _compile(pattern)
    _check_groups(p)
    # The element type follows from the pattern alone (so no match still has one): a
    # string, a tuple of the groups, or an object of the named groups.
    if not p.groups:
        etype: Any = "string"
    elif p.groupindex:
        etype = ["object", {name: "string" for name in p.groupindex}]
    else:
        etype = ["tuple", ["string"] * p.groups]
    return ListValue([_match_value(p, m) for m in _matches(p, s)], etype)


def _matches(pattern: Any, s: str) -> Any:
    """The successive matches as Go finds them: an empty match right where the previous
    match ended is skipped (regexall("a*", "baaab") is ["", "aaa", ""])."""
    end = -1
    for m in pattern.finditer(s):
        if m.start() == m.end() == end:
            continue
        end = m.end()
        yield m


# ---------------------------------------------------------------------------------------------
# Collections
# ---------------------------------------------------------------------------------------------


@_fn("length", "value:any", structural=True)
def _length(c: CallInfo, v: Any) -> Any:
    if isinstance(v, str):
        return fn_text.grapheme_length(v)
    if isinstance(v, (list, dict)):
        return len(v)
    if v is None:
        raise FuncError("argument must not be null", 0)
    raise FuncError(f"a collection or a string is required, got {type_name(v)}", 0)


@_fn("lookup", "inputMap:map", "key:string", variadic="default:any", max_variadic=1,
     structural=True)
def _lookup(c: CallInfo, m: dict[str, Any], key: str, *default: Any) -> Any:
    fallback = default[0] if default else None
    if default and isinstance(m, MapValue) and cty_type(m)[1] != DYNAMIC:
        # A map's default takes the map's element type, as Terraform's lookup does, and
        # one that cannot is an error even when the key is there.
        try:
            fallback = convert_value(fallback, cty_type(m)[1])
        except ConversionError:
            raise FuncError("the default value must have the same type as the map "
                            "elements", 2) from None
    if key in m:
        return m[key]
    if default:
        return fallback
    raise FuncError(f'the given key "{key}" does not identify an element in this map; give a '
                    "default as the third argument", 1)


@_fn("merge", variadic="maps:any", structural=True)
def _merge(c: CallInfo, *maps: Any) -> Any:
    out: dict[str, Any] = {}
    for i, m in enumerate(maps):
        if m is None:
            continue
        if not isinstance(m, dict):
            raise FuncError(f"arguments must be maps or objects, got {type_name(m)}", i)
        out.update(m)
    # Arguments all of one map type merge into that map type; anything else is an object.
    first = maps[0] if maps else None
    if isinstance(first, MapValue) and all(
            m is not None and cty_type(m) == cty_type(first) for m in maps):
        return MapValue(out, cty_type(first)[1])
    # A null attribute keeps the type the argument it came from gave it.
    atypes: dict[str, Any] = {}
    for m in maps:
        if isinstance(m, ObjectValue):
            atypes.update({k: m.atypes.get(k, "dynamic") for k in m})
        elif isinstance(m, dict):
            atypes.update({k: m.etype if isinstance(m, MapValue) and m.etype else "dynamic"
                           for k in m})
    return typed_object(out, atypes)


@_fn("concat", variadic="seqs:list", structural=True)
def _concat(c: CallInfo, *seqs: list[Any]) -> Any:
    out: list[Any] = []
    for i, s in enumerate(seqs):
        if isinstance(s, SetValue):
            raise FuncError("all arguments must be lists or tuples; got "
                            f"{friendly(cty_type(s))}", i)
        out.extend(s)
    if seqs and all(isinstance(s, ListValue) for s in seqs):
        # Lists concatenate into a list of the type their elements unify to; with a
        # tuple among them, or elements of no common type, the result is a tuple.
        etype = unify([cty_type(s)[1] for s in seqs])
        if etype is not None:
            return ListValue([convert_value(v, etype) for v in out], etype)
    return out


@_fn("keys", "inputMap:map", structural=True)
def _keys(c: CallInfo, m: dict[str, Any]) -> Any:
    # A map's keys are a list of strings; an object's a tuple.
    return ListValue(sorted(m), "string") if isinstance(m, MapValue) else sorted(m)


@_fn("values", "mapping:map", structural=True)
def _values(c: CallInfo, m: dict[str, Any]) -> Any:
    out = [m[k] for k in sorted(m)]
    return ListValue(out, cty_type(m)[1]) if isinstance(m, MapValue) else out


@_fn("contains", "list:list", "value:any")
def _contains(c: CallInfo, lst: list[Any], v: Any) -> Any:
    return any(values_equal(x, v) for x in lst)


def _bools(lst: list[Any]) -> Any:
    """The elements as bools, in order; UNKNOWN ends the walk (as in Terraform, a known
    value after an unknown one does not decide the result)."""
    for i, v in enumerate(lst):
        if v is UNKNOWN:
            yield UNKNOWN
            return
        try:
            yield None if v is None else to_bool(v)
        except ConversionError as e:
            raise FuncError(f"element {i}: {e}", 0) from None


@_fn("alltrue", "list:list", allow_unknown=True)
def _alltrue(c: CallInfo, lst: Any) -> Any:
    if lst is UNKNOWN:
        return UNKNOWN
    for b in _bools(lst):
        if b is UNKNOWN:
            return UNKNOWN
        if b is not True:  # null counts as false, as in Terraform
            return False
    return True


@_fn("anytrue", "list:list", allow_unknown=True)
def _anytrue(c: CallInfo, lst: Any) -> Any:
    if lst is UNKNOWN:
        return UNKNOWN
    for b in _bools(lst):
        if b is UNKNOWN:
            return UNKNOWN
        if b is True:
            return True
    return False


@_fn("element", "list:list", "index:int", structural=True)
def _element(c: CallInfo, lst: list[Any], i: int) -> Any:
    if isinstance(lst, SetValue):
        raise FuncError(f"cannot read elements from {friendly(cty_type(lst))}", None)
    if not lst:
        raise FuncError("cannot use element function with an empty list", 0)
    if i < 0:
        # Terraform 1.11 fails too (an index-out-of-range panic in its implementation).
        raise FuncError("cannot use element function with a negative index", None)
    return lst[i % len(lst)]


@_fn("index", "list:list", "value:any")
def _index(c: CallInfo, lst: list[Any], v: Any) -> Any:
    if isinstance(lst, SetValue):
        raise FuncError("argument must be a list or tuple", None)
    for i, x in enumerate(lst):
        if values_equal(x, v):
            return i
    raise FuncError("item not found", None)


def _flatten(lst: list[Any]) -> Any:
    out: list[Any] = []
    for x in lst:
        if x is UNKNOWN:
            return UNKNOWN
        if isinstance(x, list):
            inner = _flatten(x)
            if inner is UNKNOWN:
                return UNKNOWN
            out.extend(inner)
            _check_collection_length(len(out))
        else:
            out.append(x)
    return out


@_fn("flatten", "list:list", structural=True)
def _flatten_fn(c: CallInfo, lst: list[Any]) -> Any:
    return _flatten(lst)


def _distinct(lst: list[Any]) -> list[Any]:
    # Elements of one type (the caller unified them): equal exactly when their exact hash
    # strings are, so one pass finds the duplicates, first occurrences kept in order.
    seen: dict[str, Any] = {}
    for x in lst:
        seen.setdefault(set_hash(x, exact=True), x)
    return list(seen.values())


@_fn("distinct", "list:list")
def _distinct_fn(c: CallInfo, lst: list[Any]) -> Any:
    # The parameter is a list of any one type: a tuple's elements are unified first
    # (`distinct([1, "1"])` is `["1"]`).
    typed = _as_list(lst, 0, "all list elements must have the same type")
    return ListValue(_distinct(typed), typed.etype)


def _as_list(value: Any, arg: int, message: str) -> ListValue:
    """A list/tuple/set argument as a list of one element type, or FuncError(message)."""
    if isinstance(value, ListValue) and not isinstance(value, SetValue):
        return value
    try:
        return to_collection(value, "list")
    except ConversionError:
        raise FuncError(message, arg) from None


@_fn("range", variadic="params:number", min_variadic=1, max_variadic=3)
def _range(c: CallInfo, *p: Any) -> Any:
    if len(p) == 1:
        # As Terraform: range(-3) counts down, [0, -1, -2].
        start, end, step = 0, p[0], 1 if p[0] >= 0 else -1
    elif len(p) == 2:
        start, end = p
        step = 1 if end >= start else -1
    else:
        start, end, step = p
    if step == 0:
        raise FuncError("step must not be zero", 2)
    if (step > 0 and start > end) or (step < 0 and start < end):
        raise FuncError("step must move from start towards end", 2 if len(p) == 3 else None)
    out = []
    v = start
    while (step > 0 and v < end) or (step < 0 and v > end):
        out.append(norm_number(v))
        if len(out) > 1024:
            raise FuncError("more than 1024 values were generated; the limit is 1024", None)
        v = numbers.add(v, step)  # at 512 bits, as Terraform: range(0, 1, 0.1) has 10
    return ListValue(out, "number")


@_fn("reverse", "list:list", structural=True)
def _reverse(c: CallInfo, lst: list[Any]) -> Any:
    # A tuple stays a tuple; a list, or a set, gives a list.
    if isinstance(lst, ListValue):
        return ListValue(lst[::-1], cty_type(lst)[1])
    return lst[::-1]


@_fn("slice", "list:list", "start_index:int", "end_index:int", structural=True)
def _slice(c: CallInfo, lst: list[Any], a: int, b: int) -> Any:
    if isinstance(lst, SetValue):
        raise FuncError("cannot slice a set, because its elements do not have indices; "
                        "explicitly convert to a list if the ordering of the result is not "
                        "important", 0)
    if isinstance(lst, ListValue) and 0 <= a <= b <= len(lst):
        return ListValue(lst[a:b], cty_type(lst)[1])
    if a < 0 or a > len(lst):
        raise FuncError(f"start index {a} is out of range for a list of {len(lst)}", 1)
    if b < a or b > len(lst):
        raise FuncError(f"end index {b} must be between the start index and {len(lst)}", 2)
    return lst[a:b]


@_fn("sort", "list:list")
def _sort(c: CallInfo, lst: list[Any]) -> Any:
    return ListValue(sorted(_strs(lst, 0)), "string")


@_fn("zipmap", "keys:list", "values:list", structural=True)
def _zipmap(c: CallInfo, keys: list[Any], values: list[Any]) -> Any:
    if any(k is UNKNOWN for k in keys):
        return UNKNOWN
    if len(keys) != len(values):
        raise FuncError(f"number of keys ({len(keys)}) does not match number of values "
                        f"({len(values)})", 1)
    out = dict(zip(_strs(keys, 0), values, strict=True))
    # A list of values makes a map of their type; a tuple's an object.
    if isinstance(values, ListValue):
        return MapValue(out, cty_type(values)[1])
    return out


@_fn("coalesce", variadic="vals:any", structural=True, allow_unknown=True)
def _coalesce(c: CallInfo, *vals: Any) -> Any:
    # The arguments are unified to one type first (`coalesce(1, "a")` is "1"), then the
    # first that is neither null nor "" after conversion is the result.
    want = unify([cty_type(v) for v in vals]) if vals else DYNAMIC
    if want is None:
        raise FuncError("all arguments must have the same type", None)
    for v in vals:
        if v is UNKNOWN:
            return UNKNOWN
        if v is None:
            continue
        v = convert_value(v, want)
        if v == "" and isinstance(v, str):
            continue
        return v
    raise FuncError("no non-null, non-empty-string arguments", None)


@_fn("coalescelist", variadic="vals:any", structural=True, allow_unknown=True)
def _coalescelist(c: CallInfo, *vals: Any) -> Any:
    for i, v in enumerate(vals):
        if v is UNKNOWN:
            return UNKNOWN
        if v is None:
            continue
        if not isinstance(v, list):
            raise FuncError(f"arguments must be lists, got {type_name(v)}", i)
        if v:
            return v
    raise FuncError("no non-empty list arguments", None)


@_fn("compact", "list:list")
def _compact(c: CallInfo, lst: list[Any]) -> Any:
    return ListValue([to_string(x) for x in lst if x is not None and x != ""], "string")


@_fn("one", "list:any", structural=True)
def _one(c: CallInfo, lst: Any) -> Any:
    if not isinstance(lst, list):
        raise FuncError(f"must be a list, set, or tuple value, got {type_name(lst)}", 0)
    if len(lst) > 1:
        raise FuncError("must be a list, set, or tuple value with either zero or one "
                        "elements", 0)
    return lst[0] if lst else None


@_fn("sum", "list:list")
def _sum(c: CallInfo, lst: list[Any]) -> Any:
    if not lst:
        raise FuncError("cannot sum an empty list", 0)
    total: Any = None  # not 0: the sum of [-0] is -0, as Terraform's
    for j, x in enumerate(lst):
        try:
            n = to_number(x)
            total = n if total is None else numbers.add(total, n)
        except ConversionError as e:
            raise FuncError(f"element {j}: {e}", 0) from None
    return total


def _as_set(values: list[Any]) -> SetValue:
    """A set as Terraform orders it: distinct, elements of one type, cty's set order."""
    return set_of(values)


def _sets(sets: tuple[list[Any], ...], fn: str) -> tuple[list[SetValue], Any]:
    """The arguments of a set function as sets of one common element type (Terraform's
    parameters are sets of any one type)."""
    typed = []
    for i, s in enumerate(sets):
        t = collection_or_none(s, "set")
        if t is None:
            raise FuncError("all elements must have the same type", i)
        typed.append(t)
    etype = unify([cty_type(t)[1] for t in typed])
    if etype is None:
        raise FuncError("given sets must all have compatible element types", None)
    return [set_of([convert_value(v, etype) for v in t], etype) for t in typed], etype


@_fn("setunion", variadic="sets:list", min_variadic=1)
def _setunion(c: CallInfo, *sets: list[Any]) -> Any:
    typed, etype = _sets(sets, "setunion")
    return set_of([v for s in typed for v in s], etype)


@_fn("setintersection", "first_set:list", variadic="other_sets:list")
def _setintersection(c: CallInfo, first: list[Any], *others: list[Any]) -> Any:
    typed, etype = _sets((first, *others), "setintersection")
    return set_of([v for v in typed[0]
                   if all(any(values_equal(v, o) for o in other) for other in typed[1:])],
                  etype)


@_fn("setsubtract", "a:list", "b:list")
def _setsubtract(c: CallInfo, a: list[Any], b: list[Any]) -> Any:
    (ta, tb), etype = _sets((a, b), "setsubtract")
    return set_of([v for v in ta if not any(values_equal(v, o) for o in tb)], etype)


@_fn("setproduct", variadic="sets:list", min_variadic=2)
def _setproduct(c: CallInfo, *sets: list[Any]) -> Any:
    _check_collection_length(math.prod(len(s) for s in sets))
    # Each argument is a list or set of one type; the product is a set when any argument
    # is one, else a list, of tuples.
    typed = []
    for i, s in enumerate(sets):
        t = collection_or_none(s, "set" if isinstance(s, SetValue) else "list")
        if t is None:
            raise FuncError("all elements must have the same type", i)
        typed.append(t)
    out: list[list[Any]] = [[]]
    for s in typed:
        out = [prefix + [v] for prefix in out for v in s]
    etype = ["tuple", [cty_type(t)[1] for t in typed]]
    if any(not t for t in typed):
        out = []
    if any(isinstance(t, SetValue) for t in typed):
        return set_of(out, etype)
    return ListValue(out, etype)


@_fn("chunklist", "list:list", "size:int", structural=True)
def _chunklist(c: CallInfo, lst: list[Any], size: int) -> Any:
    if size < 0:
        raise FuncError("the size argument must be positive", 1)
    typed = _as_list(lst, 0, "all list elements must have the same type")
    etype = cty_type(typed)
    if size == 0:
        return ListValue([typed], etype)
    return ListValue([ListValue(typed[i:i + size], etype[1])
                      for i in range(0, len(typed), size)], etype)


@_fn("transpose", "values:map")
def _transpose(c: CallInfo, m: dict[str, Any]) -> Any:
    out: dict[str, list[str]] = {}
    for k in sorted(m):
        v = m[k]
        if not isinstance(v, list):
            raise FuncError(f'the value for key "{k}" must be a list of strings', 0)
        for item in _strs(v, 0):
            out.setdefault(item, []).append(k)
    return MapValue({k: ListValue(sorted(v), "string") for k, v in sorted(out.items())},
                    ["list", "string"])


# ---------------------------------------------------------------------------------------------
# Type conversion
# ---------------------------------------------------------------------------------------------


@_fn("tostring", "v:any")
def _tostring(c: CallInfo, v: Any) -> Any:
    if v is None:
        return None
    try:
        return to_string(v)
    except ConversionError as e:
        raise FuncError(f"cannot convert {type_name(v)} to string: {e}", 0) from None


@_fn("tonumber", "v:any")
def _tonumber(c: CallInfo, v: Any) -> Any:
    if v is None:
        return None
    try:
        return to_number(v)
    except ConversionError as e:
        raise FuncError(str(e), 0) from None


@_fn("tobool", "v:any")
def _tobool(c: CallInfo, v: Any) -> Any:
    if v is None:
        return None
    try:
        return to_bool(v)
    except ConversionError as e:
        raise FuncError(str(e), 0) from None


def _to_collection(v: Any, k: str) -> Any:
    if v is None:
        return None
    try:
        return to_collection(v, k)
    except ConversionError as e:
        raise FuncError(str(e), 0) from None


@_fn("tolist", "v:any", structural=True)
def _tolist(c: CallInfo, v: Any) -> Any:
    # A tuple's elements unify to one type (`tolist([1, "a"])` is ["1", "a"]); a set
    # gives its elements in the set's order.
    return _to_collection(v, "list")


@_fn("toset", "v:any")
def _toset(c: CallInfo, v: Any) -> Any:
    return _to_collection(v, "set")


@_fn("tomap", "v:any", structural=True)
def _tomap(c: CallInfo, v: Any) -> Any:
    return _to_collection(v, "map")


# ---------------------------------------------------------------------------------------------
# Encoding and hashing
# ---------------------------------------------------------------------------------------------


def _json(value: Any) -> str:
    # Numbers as Terraform writes them (all 157 digits of 1/3, 0.0000001 not 1e-07).
    texts: list[str] = []
    text = json.dumps(numbers.json_ready(value, texts), sort_keys=True,
                      separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    text = numbers.json_finish(text, texts)
    # Terraform (Go's encoding/json) escapes these so JSON can be embedded in HTML, and the
    # line and paragraph separators, which JavaScript does not allow in a string.
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace(
        "&", "\\u0026").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


@_fn("jsonencode", "value:any")
def _jsonencode(c: CallInfo, v: Any) -> Any:
    try:
        return _json(v)
    except ValueError as e:
        raise FuncError(str(e), 0) from None


def _from_json(value: Any) -> Any:
    if isinstance(value, float):
        return norm_number(value)
    if isinstance(value, dict):
        return {k: _from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    return value


@_fn("jsondecode", "str:string")
def _jsondecode(c: CallInfo, s: str) -> Any:
    try:
        # parse_int too: "-0" is negative zero, as cty reads it.
        return _from_json(json.loads(s, parse_float=numbers.parse_json_float,
                                     parse_int=numbers.parse_json_float))
    except json.JSONDecodeError as e:
        raise FuncError(f"invalid JSON: {e.msg} at line {e.lineno}, column {e.colno}",
                        0) from None
    except RecursionError:
        # Python's JSON decoder recurses once per level; a document thousands of arrays
        # deep is refused rather than reported as an internal error.
        raise FuncError("the JSON document is nested too deeply", 0) from None


@_fn("yamlencode", "value:any")
def _yamlencode(c: CallInfo, v: Any) -> Any:
    return fn_encoding.yamlencode(v)


@_fn("base64encode", "str:string")
def _base64encode(c: CallInfo, s: str) -> Any:
    return base64.b64encode(s.encode()).decode()


@_fn("base64decode", "str:string")
def _base64decode(c: CallInfo, s: str) -> Any:
    try:
        raw = base64.b64decode(s, validate=True)
    except ValueError:
        raise FuncError("failed to decode base64 data", 0) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise FuncError("the result of decoding the provided string is not valid UTF-8",
                        0) from None


@_fn("urlencode", "str:string")
def _urlencode(c: CallInfo, s: str) -> Any:
    return urllib.parse.quote_plus(s, safe="")


def _hash(algo: str) -> Callable[[CallInfo, str], str]:
    def f(c: CallInfo, s: str) -> str:
        return hashlib.new(algo, s.encode()).hexdigest()

    return f


for _algo in ("sha1", "sha256", "sha512", "md5"):
    _fn(_algo, "str:string")(_hash(_algo))


def _base64_hash(algo: str) -> Callable[[CallInfo, str], str]:
    def f(c: CallInfo, s: str) -> str:
        return base64.b64encode(hashlib.new(algo, s.encode()).digest()).decode()

    return f


for _algo in ("sha256", "sha512"):
    _fn(f"base64{_algo}", "str:string")(_base64_hash(_algo))


@_fn("uuid")
def _uuid(c: CallInfo) -> Any:
    # A fresh value on every run: known only at apply, like Terraform's plan shows it.
    return str(uuid_module.uuid4()) if c.ctx.applying else UNKNOWN


@_fn("timestamp")
def _timestamp(c: CallInfo) -> Any:
    if not c.ctx.applying:
        return UNKNOWN
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------------
# Files and paths
# ---------------------------------------------------------------------------------------------


def _read_bytes(c: CallInfo, path: str) -> bytes:
    full = _confined_path(c, path)
    try:
        # Only regular files: a FIFO or a device (/dev/zero) would block or never end.
        if not stat.S_ISREG(os.stat(full).st_mode) and not os.path.isdir(full):
            raise FuncError(f'"{path}" is not a regular file', 0)
        with open(full, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        raise FuncError(f'no file exists at "{path}"; this function works only with files '
                        "that are distributed as part of the configuration source code", 0
                        ) from None
    except IsADirectoryError:
        raise FuncError(f'"{path}" is a directory, not a file', 0) from None
    except OSError as e:
        raise FuncError(f'cannot read "{path}": {e.strerror or e}', 0) from None


def _read_text(c: CallInfo, path: str) -> str:
    data = _read_bytes(c, path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise FuncError(f'the contents of "{path}" are not valid UTF-8; use filebase64 to '
                        "read binary files", 0) from None


@_fn("file", "path:string")
def _file(c: CallInfo, path: str) -> Any:
    return _read_text(c, path)


@_fn("fileexists", "path:string")
def _fileexists(c: CallInfo, path: str) -> Any:
    full = _confined_path(c, path)
    if os.path.isdir(full):
        raise FuncError(f'"{path}" is a directory, not a file', 0)
    return os.path.isfile(full)


@_fn("filesha256", "path:string")
def _filesha256(c: CallInfo, path: str) -> Any:
    return hashlib.sha256(_read_bytes(c, path)).hexdigest()


def _file_hash(algo: str, *, base64_digest: bool = False) -> Callable[[CallInfo, str], str]:
    def f(c: CallInfo, path: str) -> str:
        digest = hashlib.new(algo, _read_bytes(c, path))
        return base64.b64encode(digest.digest()).decode() if base64_digest \
            else digest.hexdigest()

    return f


for _algo in ("md5", "sha1", "sha512"):
    _fn(f"file{_algo}", "path:string")(_file_hash(_algo))
for _algo in ("sha256", "sha512"):
    _fn(f"filebase64{_algo}", "path:string")(_file_hash(_algo, base64_digest=True))


@_fn("filebase64", "path:string")
def _filebase64(c: CallInfo, path: str) -> Any:
    return base64.b64encode(_read_bytes(c, path)).decode()


@_fn("templatefile", "path:string", "vars:map", structural=True)
def _templatefile(c: CallInfo, path: str, variables: dict[str, Any]) -> Any:
    text = _read_text(c, path)
    for name in variables:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", name):
            raise FuncError(f'invalid template variable name "{name}": must start with a '
                            "letter or underscore and hold letters, digits, _ and -", 1)
    try:
        node = hcl.parse_template(text, path)
    except ValueError as e:
        raise FuncError(f"failed to parse the template: {e}", 0) from None
    inner = EvalContext(path_module=c.ctx.path_module, path_root=c.ctx.path_root,
                        path_cwd=c.ctx.path_cwd, bindings=dict(variables), functions=call)
    try:
        result = evaluate(node, inner)
    except EvalError as e:
        where = f" at {e.range}" if e.range else ""
        raise FuncError(f"failed to render the template{where}: {e.message}", 0) from None
    if isinstance(node, ast.Template) and len(node.parts) == 1 and not isinstance(
            strip(result)[0], str) and strip(result)[0] is not UNKNOWN:
        # templatefile always returns a string, even for a template of one interpolation.
        value, s = strip(result)
        try:
            return mark(to_string(value), s)
        except ConversionError as e:
            raise FuncError(f"the template result {e}", 0) from None
    return result


@_fn("abspath", "path:string")
def _abspath(c: CallInfo, path: str) -> Any:
    return os.path.normpath(os.path.join(os.path.abspath(c.ctx.path_cwd), path))


@_fn("basename", "path:string")
def _basename(c: CallInfo, path: str) -> Any:
    if path == "":
        return "."
    trimmed = path.rstrip("/")
    if trimmed == "":
        return "/"
    return trimmed.rsplit("/", 1)[-1]


@_fn("dirname", "path:string")
def _dirname(c: CallInfo, path: str) -> Any:
    if "/" not in path:
        return "."
    head = path.rsplit("/", 1)[0]
    return os.path.normpath(head) if head else "/"


@_fn("pathexpand", "path:string")
def _pathexpand(c: CallInfo, path: str) -> Any:
    if path.startswith("~") and path != "~" and not path.startswith("~/"):
        # Another user's home (~alice/x): Terraform cannot expand it either.
        raise FuncError("cannot expand user-specific home dir", 0)
    return os.path.expanduser(path)


# ---------------------------------------------------------------------------------------------
# Networks
# ---------------------------------------------------------------------------------------------


def _network(prefix: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(prefix, strict=False)
    except ValueError:
        raise FuncError(f'invalid CIDR expression "{prefix}"', 0) from None


@_fn("cidrsubnet", "prefix:string", "newbits:int", "netnum:int")
def _cidrsubnet(c: CallInfo, prefix: str, newbits: int, netnum: int) -> Any:
    net = fn_network.parse_network(prefix)  # an IPv4-mapped prefix is its IPv4 network
    new_len = net.prefixlen + newbits
    if newbits < 0 or new_len > net.max_prefixlen:
        raise FuncError(f"insufficient address space to extend prefix of {net.prefixlen} by "
                        f"{newbits}", None)
    if abs(netnum).bit_length() > newbits:
        raise FuncError(f"prefix extension of {newbits} does not accommodate a subnet "
                        f"numbered {netnum}", None)
    # As Terraform (go-cidr on big.Int): the number is OR-ed into the address in two's
    # complement and the result's magnitude taken, so a negative number gives what
    # Terraform gives (cidrsubnet("10.0.0.0/8", 4, -1) is "0.16.0.0/12").
    base = abs(int(net.network_address) | (netnum << (net.max_prefixlen - new_len)))
    return str(ipaddress.ip_network((base, new_len)))


@_fn("cidrhost", "prefix:string", "hostnum:int")
def _cidrhost(c: CallInfo, prefix: str, hostnum: int) -> Any:
    net = _network(prefix)
    size = net.num_addresses
    if hostnum < -size or hostnum >= size:
        raise FuncError(f"prefix of {net.prefixlen} does not accommodate a host numbered "
                        f"{hostnum}", 1)
    base = int(net.network_address) + (hostnum if hostnum >= 0 else size + hostnum)
    return str(ipaddress.ip_address(base))


@_fn("cidrnetmask", "prefix:string")
def _cidrnetmask(c: CallInfo, prefix: str) -> Any:
    net = _network(prefix)
    if net.version != 4:
        if fn_network.parse_network(prefix).version == 4:
            # An IPv4-mapped prefix: Terraform (Go) writes its 16-byte mask as IPv6.
            return str(net.netmask)
        raise FuncError(f"IPv6 addresses cannot have a netmask: {prefix}", None)
    return str(net.netmask)


# ---------------------------------------------------------------------------------------------
# Errors and marks
# ---------------------------------------------------------------------------------------------


@_fn("try", variadic="expressions:any", min_variadic=1, lazy=True)
def _try(c: CallInfo, *nodes: ast.Node) -> Any:
    errors: list[str] = []
    for node in nodes:
        try:
            value = evaluate(node, c.ctx)
        except EvalError as e:
            errors.append(f"- {e.range}: {e.message}" if e.range else f"- {e.message}")
            continue
        if strip(value)[0] is UNKNOWN:
            # Whether it would fail is not known yet, so neither is the result.
            return value
        return value
    raise EvalError("No expression in the try() call succeeded. The errors were:\n"
                    + "\n".join(errors), c.node.range, summary="Error in function call")


@_fn("can", "expression:any", lazy=True)
def _can(c: CallInfo, node: ast.Node) -> Any:
    try:
        value = evaluate(node, c.ctx)
    except EvalError:
        return False
    v, sens = strip(value)
    if v is UNKNOWN:
        return mark(UNKNOWN, sens)
    return True


@_fn("sensitive", "value:any", keep_marks=True, allow_unknown=True)
def _sensitive(c: CallInfo, v: Any) -> Any:
    return v if isinstance(v, Sensitive) else Sensitive(v)


@_fn("nonsensitive", "value:any", keep_marks=True, allow_unknown=True)
def _nonsensitive(c: CallInfo, v: Any) -> Any:
    return deep_unmark(v)


# ---------------------------------------------------------------------------------------------
# Issue 11: the rest of Terraform's library (implementations in the fn_* modules)
# ---------------------------------------------------------------------------------------------


def _plain(impl: Callable[..., Any]) -> Callable[..., Any]:
    """An implementation that needs only the arguments, not the CallInfo."""
    return lambda c, *args: impl(*args)


_fn("matchkeys", "values:any", "keys:any", "searchset:any", allow_unknown=True)(
    _plain(fn_misc.matchkeys))
_fn("issensitive", "value:any", keep_marks=True, allow_unknown=True)(
    _plain(fn_misc.issensitive))
_fn("ephemeralasnull", "value:any", keep_marks=True, allow_unknown=True)(
    _plain(fn_misc.ephemeralasnull))
_fn("yamldecode", "src:string")(_plain(fn_encoding.yamldecode))
_fn("csvdecode", "str:string")(_plain(fn_encoding.csvdecode))
_fn("base64gzip", "str:string")(_plain(fn_encoding.base64gzip))
_fn("textencodebase64", "string:string", "encoding:string")(
    _plain(fn_encoding.textencodebase64))
_fn("textdecodebase64", "source:string", "encoding:string")(
    _plain(fn_encoding.textdecodebase64))
_fn("cidrsubnets", "prefix:string", variadic="newbits:int")(_plain(fn_network.cidrsubnets))
_fn("formatdate", "format:string", "time:string")(_plain(fn_time.formatdate))
_fn("timeadd", "timestamp:string", "duration:string")(_plain(fn_time.timeadd))
_fn("timecmp", "timestamp_a:string", "timestamp_b:string")(_plain(fn_time.timecmp))
_fn("plantimestamp")(_plain(fn_time.plantimestamp))
_fn("uuidv5", "namespace:string", "name:string")(_plain(fn_crypto.uuidv5))
_fn("bcrypt", "str:string", variadic="cost:number", max_variadic=1)(
    _plain(fn_crypto.bcrypt_hash))
_fn("rsadecrypt", "ciphertext:string", "privatekey:string")(_plain(fn_crypto.rsadecrypt))

# What reads files: a templatestring template may call none of them.
_FILE_FUNCTIONS = frozenset(n for n in FUNCTIONS if n.startswith("file")) | {"templatefile"}


@_fn("fileset", "path:string", "pattern:string")
def _fileset(c: CallInfo, path: str, pattern: str) -> Any:
    base = _confined_path(c, path)

    def inside(full: str) -> bool:
        try:
            _confined_path(c, full)
        except FuncError:
            return False  # a symbolic link out of the configuration is not listed
        return True

    return fn_files.fileset(base, path.rstrip("/") or path, pattern, inside)


@_fn("templatestring", "template:any", "vars:any", lazy=True)
def _templatestring(c: CallInfo, template: ast.Node, variables: ast.Node) -> Any:
    spec = FUNCTIONS["templatestring"]
    try:
        result = fn_template.templatestring(c, template, variables,
                                             _FILE_FUNCTIONS | {"fileset"})
        _check_result_size(strip(result)[0])
        return result
    except FuncError as e:  # a lazy function is not called through invoke: report it here
        raise _arg_error(spec, e.arg, e.message, c) from None
