"""The parse cache's entry format: a file's (Body, diagnostics) <-> JSON bytes.

Decoding is the warm path of every command, so it is fast (json's C parser, one generated
builder per class) and strict: every field's type is checked, so a planted, truncated, stale
or foreign entry raises instead of building anything but the AST's own classes.
"""

from __future__ import annotations

import dataclasses
import json
import operator
from collections.abc import Callable
from typing import Any

from fgform import numbers
from fgform.config import ast
from fgform.config.model import Attribute, Block, Body
from fgform.errors import Diagnostic, Severity, SourceRange

# Bump when the entry layout changes (the AST's own changes are the loader's version).
FORMAT = "fgform-parse-cache/2"

# Deeper entries are not cached: json's encoder and decoder recurse in C, and a loader running
# near the interpreter's recursion limit must not fail because of the cache. 400 JSON levels
# are about 190 nested parentheses; deeper files are simply parsed each time.
MAX_DEPTH = 400


Entry = tuple[Body, list[Diagnostic]]


# ---------------------------------------------------------------------------------------------
# The codec. An object is {"<class name>": [its fields in order]}; a SourceRange is one
# integer packing start line/column and end line/column (the file's own name implied) or,
# when a number does not fit or the range is another file's, [filename, l, c, el, ec];
# tuples and lists are lists; a Body's attributes (a dict by name) are the list of them.
# Every field's kind comes from the dataclass annotations, so a new AST node needs no change
# here unless it brings a new kind of field. Decoding is json's C parser plus one hook call
# per object, which hands the fields to its class's builder: a function written at import
# from the class's field kinds (_builder_source) that checks each field's type and builds
# the object with no per-field loop. A warm load decodes ~25,000 objects and ~34,000 ranges
# per 1,000 resources, and the cache exists to be fast.
# ---------------------------------------------------------------------------------------------

_BITS = 20  # the decoder spells out its multiples: 60, 40, 20 and the mask 0xFFFFF
_LIMIT = 1 << _BITS


class Unencodable(Exception):
    pass


class _Invalid(Exception):
    pass


# Annotation text -> kind. Unknown annotations make their class unencodable (a test checks
# every AST node class is encodable, so a new field kind is noticed).
_KINDS = {
    "SourceRange": "R", "SourceRange | None": "R?",
    "Node": "N", "Node | None": "N?",
    "str": "S", "str | None": "S?", "bool": "B", "Any": "V",
    "tuple[Node, ...]": "N*", "tuple[Any, ...]": "P*", "tuple[tuple[Node, Node], ...]": "NN*",
    "list[str]": "S*", "list[SourceRange]": "R*",
    "Body": "Body", "Body | None": "Body?", "list[Block]": "Block*",
    "list[Attribute]": "Attribute*", "dict[str, Attribute]": "Attribute{}",
    "Severity": "Sev",
}

@dataclasses.dataclass(frozen=True)
class _Spec:
    cls: type
    names: tuple[str, ...]
    kinds: tuple[str, ...]


def _spec(cls: type) -> _Spec | None:
    fields = [f for f in dataclasses.fields(cls) if f.init]
    kinds = [_KINDS.get(str(f.type)) for f in fields]
    if None in kinds:
        return None
    return _Spec(cls, tuple(f.name for f in fields), tuple(k for k in kinds if k))


def _specs() -> dict[str, _Spec]:
    classes: list[type] = [c for c in vars(ast).values()
                           if isinstance(c, type) and issubclass(c, ast.Node)]
    classes += [Attribute, Block, Body, Diagnostic]
    out = {}
    for c in classes:
        s = _spec(c)
        if s is not None:
            out[c.__name__] = s
    return out


SPECS = _specs()


def encode(value: Entry, key: str, filename: str) -> bytes:
    """The JSON bytes of an entry. Raises Unencodable for what the format cannot hold (a
    class without a spec, a tree nested deeper than MAX_DEPTH), TypeError or ValueError for
    a value json cannot write."""
    body, diags = value
    obj = _encoder(filename)
    doc = [FORMAT, key, obj(body, 1), [obj(d, 1) for d in diags]]
    # Not ensure_ascii: json would write a str holding the two code units of a surrogate pair
    # (which "\\ud83d\\ude00" in HCL gives) as escapes that read back as one character.
    # Written raw, with surrogatepass, every str reads back exactly.
    text = json.dumps(doc, ensure_ascii=False, allow_nan=True, separators=(",", ":"))
    return text.encode("utf-8", "surrogatepass")


def _encoder(filename: str) -> Callable[[Any, int], dict[str, Any]]:
    """`obj(o, depth)`: the JSON form of one object. Cold loads encode every object they
    parse, so the per-class work is looked up once and scalars go through untouched (json
    itself refuses what it cannot write)."""

    def rng(r: Any) -> Any:
        if r is None:
            return None
        if type(r) is not SourceRange:
            raise Unencodable("range")
        a, b, c, d = r.start_line, r.start_col, r.end_line, r.end_col
        if r.filename == filename and 0 <= a < _LIMIT and 0 <= b < _LIMIT \
                and 0 <= c < _LIMIT and 0 <= d < _LIMIT:
            return (((((a << _BITS) | b) << _BITS) | c) << _BITS) | d
        return [r.filename, a, b, c, d]

    def obj(o: Any, depth: int) -> dict[str, Any]:
        if depth > MAX_DEPTH:
            raise Unencodable("nested too deeply")
        try:
            name, get, ranges, nodes, others = plan[type(o)]
        except KeyError:
            raise Unencodable(type(o).__name__) from None
        out = list(get(o))
        depth += 2
        for i in ranges:
            out[i] = rng(out[i])
        for i in nodes:
            v = out[i]
            if v is not None:
                out[i] = obj(v, depth)
        for i, k in others:
            out[i] = other(k, out[i], depth)
        return {name: out}

    def other(k: str, v: Any, depth: int) -> Any:
        if v is None and k.endswith("?"):
            return None
        if k == "V":
            # A literal number: json writes a float's shortest double digits, which read
            # back (at 512 bits) as the literal only when it had no more digits than that.
            if type(v) is numbers.Num and numbers.parse(repr(float(v))) != v:
                raise Unencodable("number")
            return v
        k = k.rstrip("?")
        if k == "Sev":
            return v.value
        if k == "S*":
            return list(v)
        if k == "R*":
            return [rng(r) for r in v]
        if k in ("N*", "Block*", "Attribute*"):
            return [obj(x, depth + 1) for x in v]
        if k == "P*":
            return [x if type(x) is str else obj(x, depth + 1) for x in v]
        if k == "NN*":
            return [[obj(a, depth + 2), obj(b, depth + 2)] for a, b in v]
        if k == "Attribute{}":
            # Keyed by their own names (as the loader builds them), so the list is enough.
            if any(type(a) is not Attribute or a.name != name for name, a in v.items()):
                raise Unencodable("attributes not keyed by name")
            return [obj(a, depth + 1) for a in v.values()]
        raise Unencodable(k)

    plan = {}
    for name, spec in SPECS.items():
        get = operator.attrgetter(*spec.names) if len(spec.names) > 1 else \
            (lambda o, _n=spec.names[0]: (getattr(o, _n),))
        plan[spec.cls] = (
            name, get,
            tuple(i for i, k in enumerate(spec.kinds) if k in ("R", "R?")),
            tuple(i for i, k in enumerate(spec.kinds) if k in ("N", "N?", "Body", "Body?")),
            tuple((i, k) for i, k in enumerate(spec.kinds)
                  if k.rstrip("?") not in ("R", "N", "Body", "S", "B", "V")
                  or (k == "V" and spec.cls is ast.Literal)))
    return obj


def decode(raw: bytes, key: str, filename: str) -> Entry:
    """The entry in `raw`, checked shape by shape; raises on anything that is not exactly
    what `encode` writes for `key` (callers treat every exception as a miss)."""
    builders = _builders(filename)

    def hook(pairs: list[tuple[str, Any]]) -> Any:
        ((tag, fields),) = pairs  # exactly one key, or ValueError
        return builders[tag](fields)  # an unknown class: KeyError

    doc = json.loads(raw.decode("utf-8", "surrogatepass"), object_pairs_hook=hook,
                     parse_float=numbers.parse_json_float)
    if not (type(doc) is list and len(doc) == 4 and doc[0] == FORMAT and doc[1] == key):
        raise _Invalid("not an entry of this format and key")
    body, diags = doc[2], doc[3]
    if type(body) is not Body or type(diags) is not list \
            or any(type(d) is not Diagnostic for d in diags):
        raise _Invalid("entry shape")
    return body, diags


def _check(ok: bool) -> None:
    if not ok:
        raise _Invalid("field type")


def _builders(filename: str) -> _Builders:
    """Class name -> the function that checks one object's fields (as json gives them) and
    builds the object, for one file's entry (its ranges carry `filename`)."""
    make_range = _packed_ranges(filename)

    def slow_range(v: Any) -> SourceRange:
        if type(v) is int:
            _check(v >= 0)
            return make_range(v)
        _check(type(v) is list and len(v) == 5 and type(v[0]) is str
               and all(type(x) is int for x in v[1:]))
        return SourceRange(*v)

    def range_(v: Any) -> SourceRange:
        return make_range(v) if type(v) is int and v >= 0 else slow_range(v)

    def ranges(v: list[Any]) -> list[SourceRange]:
        return [make_range(r) if type(r) is int and r >= 0 else slow_range(r) for r in v]

    return _Builders({**_BUILD_ENV, "FILENAME": filename, "slow_range": slow_range,
                      "range_": range_, "ranges": ranges})


# Per kind other than ranges: the test that a field's value `x` is wrong, and the expression
# of the value to store.
_FIELD_CODE = {
    "N": ("type(x) not in NODES", "x"),
    "S": ("type(x) is not str", "x"),
    "B": ("type(x) is not bool", "x"),
    "V": ("type(x) not in SCALARS", "x"),
    "Body": ("type(x) is not Body", "x"),
    "Sev": ("type(x) is not str", "Severity(x)"),
    "R*": ("type(x) is not list", "ranges(x)"),
    **{k: ("type(x) is not list", f"conv_{k.replace('*', '_list').replace('{}', '_dict')}(x)")
       for k in ("N*", "P*", "NN*", "S*", "Block*", "Attribute*", "Attribute{}")},
}

# A packed range `@` built in place: what _packed_ranges's `make` does, without its call.
_RANGE_CODE = """\
if type(@) is int and @ >= 0:
    p = @
    @ = new(SourceRange_cls)
    SourceRange_set0(@, FILENAME)
    SourceRange_set1(@, p >> 60)
    SourceRange_set2(@, (p >> 40) & 0xFFFFF)
    SourceRange_set3(@, (p >> 20) & 0xFFFFF)
    SourceRange_set4(@, p & 0xFFFFF)
else:
    @ = slow_range(@)"""
_RANGE_FIELDS = ("filename", "start_line", "start_col", "end_line", "end_col")


def _builder_source(name: str, spec: _Spec, fill_slots: bool, inline_ranges: bool
                    ) -> str:
    """`build_<name>(f)`: checks that `f` is a list of the class's fields, each of its kind,
    and builds the object (any exception means a bad entry). Frozen classes (the AST's nodes)
    get their slots filled directly: their dataclass __init__ sets each field through
    object.__setattr__, which is slower, and a warm load builds ~25,000 objects and ~34,000
    ranges per 1,000 resources."""
    n = len(spec.kinds)
    vs = [f"v{i}" for i in range(n)]
    lines = [f"def build_{name}(f):",
             "    if type(f) is not list:",
             "        raise Invalid('fields')",
             f"    {', '.join(vs)}{',' if n == 1 else ''} = f"]
    for v, kind in zip(vs, spec.kinds, strict=True):
        optional = kind.endswith("?")
        pad = "        " if optional else "    "
        if optional:
            lines.append(f"    if {v} is not None:")
        if kind.rstrip("?") == "R":
            if inline_ranges:
                lines += [pad + line.replace("@", v) for line in _RANGE_CODE.splitlines()]
            else:
                lines.append(f"{pad}{v} = range_({v})")
        else:
            bad, value = _FIELD_CODE[kind.rstrip("?")]
            lines += [f"{pad}if {bad.replace('x', v)}:", f"{pad}    raise Invalid('{v}')"]
            if value != "x":
                lines.append(f"{pad}{v} = {value.replace('(x)', f'({v})')}")
    if fill_slots:
        lines.append(f"    o = new({name}_cls)")
        lines += [f"    {name}_set{i}(o, {v})" for i, v in enumerate(vs)]
        lines.append("    return o")
    else:
        lines.append(f"    return {name}_cls({', '.join(vs)})")
    return "\n".join(lines) + "\n"


_NODE_TYPES = frozenset(s.cls for s in SPECS.values() if issubclass(s.cls, ast.Node))
_SCALAR_TYPES = frozenset((str, int, float, numbers.Num, bool, type(None)))
_PART_TYPES = _NODE_TYPES | {str}


def _packed_ranges(filename: str) -> Callable[[int], SourceRange]:
    """SourceRange(filename, ...) from a packed range (a non-negative int). A warm load builds
    one per object: filling SourceRange's slots directly takes half the time of its frozen
    dataclass __init__ (which does only that, through object.__setattr__), so that is done
    while SourceRange stays a plain slots dataclass of these five fields."""
    names = ("filename", "start_line", "start_col", "end_line", "end_col")
    slots = [vars(SourceRange).get(n) for n in names]
    if (tuple(f.name for f in dataclasses.fields(SourceRange)) != names
            or hasattr(SourceRange, "__post_init__")
            or not all(type(s).__name__ == "member_descriptor" for s in slots)):
        return lambda v: SourceRange(filename, v >> 60, (v >> 40) & 0xFFFFF,
                                     (v >> 20) & 0xFFFFF, v & 0xFFFFF)
    new = object.__new__
    set_file, set_line, set_col, set_end_line, set_end_col = (s.__set__ for s in slots)

    def make(v: int) -> SourceRange:
        r = new(SourceRange)
        set_file(r, filename)
        set_line(r, v >> 60)
        set_col(r, (v >> 40) & 0xFFFFF)
        set_end_line(r, (v >> 20) & 0xFFFFF)
        set_end_col(r, v & 0xFFFFF)
        return r

    return make


# The checks below run per list of a warm load: `set(map(type, v))` keeps them in C.
def _nodes(v: list[Any]) -> tuple[ast.Node, ...]:
    _check(set(map(type, v)) <= _NODE_TYPES)
    return tuple(v)


def _parts(v: list[Any]) -> tuple[Any, ...]:
    _check(set(map(type, v)) <= _PART_TYPES)
    return tuple(v)


def _pairs(v: list[Any]) -> tuple[tuple[ast.Node, ast.Node], ...]:
    out = []
    for p in v:
        _check(type(p) is list and len(p) == 2 and type(p[0]) in _NODE_TYPES
               and type(p[1]) in _NODE_TYPES)
        out.append((p[0], p[1]))
    return tuple(out)


def _strs(v: list[Any]) -> list[str]:
    _check(not v or set(map(type, v)) == {str})
    return v


def _list_of(cls: type) -> Callable[[Any], Any]:
    only = {cls}

    def conv(v: list[Any]) -> Any:
        _check(not v or set(map(type, v)) == only)
        return v
    return conv


def _attr_dict(v: list[Any]) -> dict[str, Attribute]:
    _check(not v or set(map(type, v)) == {Attribute})
    out = {a.name: a for a in v}
    _check(len(out) == len(v))  # no name twice
    return out


def _slot_setters(cls: type, names: tuple[str, ...]) -> list[Callable[[Any, Any], None]] | None:
    """The slot descriptors' setters of `cls`'s fields, or None when a field is not a plain
    slot (the builder then calls the class)."""
    if len(dataclasses.fields(cls)) != len(names):  # a field the entry does not carry
        return None
    out = []
    for n in names:
        d = next((vars(c)[n] for c in cls.__mro__ if n in vars(c)), None)
        if type(d).__name__ != "member_descriptor" or hasattr(cls, "__post_init__"):
            return None
        out.append(d.__set__)
    return out


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "conv_N_list": _nodes, "conv_P_list": _parts, "conv_NN_list": _pairs,
    "conv_S_list": _strs, "conv_Block_list": _list_of(Block),
    "conv_Attribute_list": _list_of(Attribute), "conv_Attribute_dict": _attr_dict,
    "Severity": Severity,
}
_BUILD_ENV: dict[str, Any] = {
    "new": object.__new__, "Invalid": _Invalid, "NODES": _NODE_TYPES,
    "SCALARS": _SCALAR_TYPES, "Body": Body, **_CONVERTERS}
_range_setters = _slot_setters(SourceRange, _RANGE_FIELDS)
if tuple(f.name for f in dataclasses.fields(SourceRange)) != _RANGE_FIELDS:
    _range_setters = None
_BUILD_ENV["SourceRange_cls"] = SourceRange
for _i, _set in enumerate(_range_setters or ()):
    _BUILD_ENV[f"SourceRange_set{_i}"] = _set

# Class name -> its builder's compiled code, made on first use: compiling all of them costs
# ~3 ms, which a cold run (nothing to decode) or a small configuration should not pay.
_CODES: dict[str, Any] = {}


def _builder_code(name: str) -> Any:
    code = _CODES.get(name)
    if code is None:
        spec = SPECS[name]  # an unknown class: KeyError, a bad entry
        _BUILD_ENV[f"{name}_cls"] = spec.cls
        setters = _slot_setters(spec.cls, spec.names) \
            if spec.cls.__dataclass_params__.frozen else None  # type: ignore[attr-defined]
        for i, setter in enumerate(setters or ()):
            _BUILD_ENV[f"{name}_set{i}"] = setter
        source = _builder_source(name, spec, setters is not None, _range_setters is not None)
        code = _CODES[name] = compile(source, f"<fgform parse-cache builder {name}>", "exec")
    return code


class _Builders(dict[str, Callable[[Any], Any]]):
    """Class name -> builder for one file's entry, each made when the entry first uses it."""

    def __init__(self, env: dict[str, Any]) -> None:
        super().__init__()
        self.env = env

    def __missing__(self, name: str) -> Callable[[Any], Any]:
        code = _builder_code(name)
        env = self.env
        env.update(_BUILD_ENV)  # the class's entries, added by _builder_code
        # Our own source (see _builder_source), made from the class's field kinds: nothing
        # of the entry reaches it but the values it checks.
        exec(code, env)
        self[name] = env[f"build_{name}"]
        return self[name]

