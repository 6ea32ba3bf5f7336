"""The evaluator: every language feature, unknown and sensitive propagation, errors, refs."""

from __future__ import annotations

import pytest

from fgform.config.expr import EvalContext, EvalError, evaluate
from fgform.config.functions import call as call_function
from fgform.config.hcl import parse_expression
from fgform.config.references import references
from fgform.values import UNKNOWN, Sensitive


def ctx(**kw) -> EvalContext:
    base = EvalContext(functions=call_function,
        variables={"n": 5, "s": "str", "m": {"a": 1, "b": 2}, "k": "a", "u": UNKNOWN,
                   "pw": Sensitive("hunter2"), "lst": [{"id": "x"}, {"id": "y"}],
                   "nul": None, "flag": True},
        locals={"name": "web", "ports": [80, 443]},
        resources={"fg_service": {"web": {"id": "svc-1", "desired_count": 2},
                                  "many": [{"id": "a"}, {"id": "b"}],
                                  "keyed": {"x": {"id": "kx"}}},
                   "fg_cluster": {"main": {"id": UNKNOWN}}},
        modules={"net": {"cidr": "10.0.0.0/16"}},
        path_module="./mod", path_root=".", path_cwd="/work",
    )
    for k, v in kw.items():
        setattr(base, k, v)
    return base


def ev(text: str, c: EvalContext | None = None):
    return evaluate(parse_expression(text), c or ctx())


@pytest.mark.parametrize("text, expected", [
    ("1 + 2 * 3", 7), ('"5" + 1', 6), ("7 / 2", 3.5), ("8 / 2", 4), ("7 % 3", 1),
    ("-var.n", -5), ("1.5 * 2", 3), ("2 > 1", True), ('"10" > 9', True), ("1 == 1.0", True),
    ('1 == "1"', False), ("[1, 2] == [1, 2]", True), ('{a = 1} != {a = 2}', True),
    ("!false", True), ('true && "true"', True), ("var.flag ? 1 : 2", 1),
    ("var.nul == null", True), ("(1 + 2) * 2", 6),
])
def test_operators(text: str, expected) -> None:
    result = ev(text)
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize("text, expected", [
    ("var.s", "str"), ("local.name", "web"), ("var.m.a", 1), ('var.m["b"]', 2),
    ("var.m[var.k]", 1), ("local.ports[1]", 443), ("local.ports.0", 80),
    ("fg_service.web.id", "svc-1"), ("fg_service.many[1].id", "b"),
    ('fg_service.keyed["x"].id', "kx"), ("module.net.cidr", "10.0.0.0/16"),
    ("path.module", "./mod"), ("path.cwd", "/work"), ("var.lst[*].id", ["x", "y"]),
    ("var.lst.*.id", ["x", "y"]), ("fg_service.many[*].id", ["a", "b"]),
    ("var.nul[*]", []), ("var.s[*]", ["str"]), ("var.lst.*.id[0]", "x"),
])
def test_references_resolve(text: str, expected) -> None:
    assert ev(text) == expected


def test_each_count_and_self() -> None:
    c = ctx(has_each=True, each_key="k1", each_value={"p": 1}, count_index=3,
            self_value={"id": "me"})
    assert ev('"${each.key}-${each.value.p}-${count.index}"', c) == "k1-1-3"
    assert ev("self.id", c) == "me"


@pytest.mark.parametrize("text, expected", [
    ('"a-${var.n}-b"', "a-5-b"), ('"${var.n}"', 5), ('"${var.m}"', {"a": 1, "b": 2}),
    ('"${true}!"', "true!"), ('"${1.5}"', 1.5), ('"v${1.5}"', "v1.5"),
    ('"%{ if var.flag }yes%{ else }no%{ endif }"', "yes"),
    ('"%{ for p in local.ports }${p},%{ endfor }"', "80,443,"),
    ('"%{ for k, v in var.m }${k}=${v} %{ endfor }"', "a=1 b=2 "),
    ('"x %{~ if true ~}  y  %{~ endif ~} z"', "xyz"),
])
def test_templates(text: str, expected) -> None:
    assert ev(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("[for x in local.ports : x * 2]", [160, 886]),
    ("[for i, x in local.ports : i]", [0, 1]),
    ("[for k, v in var.m : k if v > 1]", ["b"]),
    ("{for k, v in var.m : v => k}", {"1": "a", "2": "b"}),
    ('{for s in ["a", "b", "a"] : s => s...}', {"a": ["a", "a"], "b": ["b"]}),
    ("{for o in var.lst : o.id => o}", {"x": {"id": "x"}, "y": {"id": "y"}}),
    ("[for x in [[1, 2], [3]] : [for y in x : y + 1]]", [[2, 3], [4]]),
])
def test_for_expressions(text: str, expected) -> None:
    assert ev(text) == expected


@pytest.mark.parametrize("text", [
    "var.u + 1", "var.u == 1", "var.u ? 1 : 2", "[for x in var.u : x]", "var.u[*].id",
    '"a${var.u}"', "var.u.attr", "var.m[var.u]", "fg_cluster.main.id", "!var.u",
    "var.u && true", "[1, var.u] == [1, 2]", "upper(var.u)",
])
def test_unknown_propagates(text: str) -> None:
    assert ev(text) is UNKNOWN


@pytest.mark.parametrize("text, expected", [
    ("true || var.u", True), ("var.u || true", True), ("false && var.u", False),
    ("var.u && false", False), ("length([var.u, 1])", 2), ('var.flag ? "a" : var.u', "a"),
    ("[var.u, 1][1]", 1), ("{a = var.u, b = 2}.b", 2),
])
def test_results_not_depending_on_unknowns_are_known(text: str, expected) -> None:
    assert ev(text) == expected


def test_unknown_inside_collections_is_kept() -> None:
    assert ev("[1, var.u]") == [1, UNKNOWN]
    assert ev("concat([1], [var.u])") == [1, UNKNOWN]


@pytest.mark.parametrize("text, expected", [
    ("var.pw", Sensitive("hunter2")), ("upper(var.pw)", Sensitive("HUNTER2")),
    ('"x-${var.pw}"', Sensitive("x-hunter2")), ("var.pw == \"a\"", Sensitive(False)),
    ("length(var.pw)", Sensitive(7)), ("nonsensitive(var.pw)", "hunter2"),
    ('sensitive("a")', Sensitive("a")), ("[for c in [var.pw] : c]", [Sensitive("hunter2")]),
    ('var.flag ? var.pw : "x"', Sensitive("hunter2")),
])
def test_sensitive_propagates(text: str, expected) -> None:
    assert ev(text) == expected


def test_sensitive_condition_marks_result() -> None:
    c = ctx()
    c.variables["sflag"] = Sensitive(True)
    assert ev("var.sflag ? 1 : 2", c) == Sensitive(1)


@pytest.mark.parametrize("text, summary, fragment, hint", [
    ("fg_service.web.desird_count", "Unsupported attribute",
     'fg_service.web does not have an attribute named "desird_count".',
     'Did you mean "desired_count"?'),
    ("var.x", "Reference to undeclared input variable",
     'An input variable with the name "x" has not been declared', ""),
    ("var.nn", "Reference to undeclared input variable", '"nn"', 'Did you mean "n"?'),
    ("local.nmae", "Reference to undeclared local value", '"nmae"', 'Did you mean "name"?'),
    ("fg_servce.web.id", "Reference to undeclared resource", '"fg_servce" "web"',
     'Did you mean "fg_service"?'),
    ("fg_service.many.id", "Missing resource instance key", 'has "count" set',
     "For example, fg_service.many[0].id or fg_service.many[count.index].id."),
    ("each.key", 'Reference to "each" in context without for_each', "for_each", ""),
    ("count.index", 'Reference to "count" in non-counted context', "count", ""),
    ("uppr(1)", "Call to unknown function", 'no function named "uppr"',
     'Did you mean "upper"?'),
    ("local.ports[5]", "Invalid index", "index 5 is out of range", ""),
    ('var.m["c"]', "Invalid index", 'no element with key "c"', ""),
    ('1 + "a"', "Invalid operand", 'cannot convert "a" to a number', ""),
    ("var.nul.x", "Attempt to get attribute from null value", '"x"', ""),
    ('"x${var.nul}"', "Invalid template interpolation value", "null", ""),
    ('"${var.m} x"', "Invalid template interpolation value", "string required", ""),
    ("1 / 0", "Division by zero", "divide by zero", ""),
    ('{for s in ["a", "a"] : s => 1}', "Duplicate object key", '"a"', ""),
    ("[for x in 5 : x]", "Iteration over non-iterable value", "number", ""),
    ('"a" ? 1 : 2', "Incorrect condition type", "bool", ""),
    ("path.modul", 'Invalid "path" attribute', "path.module", 'Did you mean "module"?'),
])
def test_errors(text: str, summary: str, fragment: str, hint: str) -> None:
    with pytest.raises(EvalError) as info:
        ev(text)
    err = info.value
    assert err.summary == summary
    assert fragment in err.message
    assert err.hint == hint
    assert err.range is not None and err.range.start_line == 1


def test_error_range_points_at_the_operand() -> None:
    with pytest.raises(EvalError) as info:
        ev('1 + "a"')
    assert info.value.range.start_col == 5


def test_conditional_evaluates_only_the_chosen_branch() -> None:
    assert ev('var.nul == null ? "d" : var.nul.attr') == "d"


def test_for_variables_shadow_and_are_restored() -> None:
    c = ctx()
    assert ev("[for s in [1] : s]", c) == [1]
    assert c.bindings == {}


def ref_parts(text: str) -> list[tuple]:
    return [r.parts for r in references(parse_expression(text))]


@pytest.mark.parametrize("text, expected", [
    ("fg_service.web[0].id", [("fg_service", "web", 0, "id")]),
    ("var.m[var.k]", [("var", "m"), ("var", "k")]),
    ('fg_service.keyed["x"].id', [("fg_service", "keyed", "x", "id")]),
    ("[for x in var.l : x.id if x.ok]", [("var", "l")]),
    ("[for k, v in local.m : upper(k) if v == var.z]", [("local", "m"), ("var", "z")]),
    ("fg_service.many[*].id", [("fg_service", "many")]),
    ('"${module.net.cidr}-${each.key}"', [("module", "net", "cidr"), ("each", "key")]),
    ("try(var.a, local.b)", [("var", "a"), ("local", "b")]),
    ("var.a ? local.b : path.module", [("var", "a"), ("local", "b"), ("path", "module")]),
    ("f(var.x)[0].y", [("var", "x")]),
    ('"%{ for p in var.ps }${p}${var.q}%{ endfor }"', [("var", "ps"), ("var", "q")]),
])
def test_references(text: str, expected) -> None:
    assert ref_parts(text) == expected


def test_reference_str_and_range() -> None:
    (ref,) = references(parse_expression("fg_service.web[0].id", "m.tf", line=3, col=9))
    assert str(ref) == "fg_service.web[0].id"
    assert (ref.range.filename, ref.range.start_line, ref.range.start_col) == ("m.tf", 3, 9)


def test_function_calls_need_the_library_in_the_context() -> None:
    # The evaluator does not import the function library: the context carries it.
    node = parse_expression('upper("a")')
    assert evaluate(node, EvalContext(functions=call_function)) == "A"
    with pytest.raises(EvalError, match="Functions may not be called here") as e:
        evaluate(node, EvalContext())
    assert e.value.summary == "Function calls not allowed"
