"""The function library: several cases per function, errors naming function and argument."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fgform.config.expr import EvalContext, EvalError, evaluate
from fgform.config.functions import call as call_function
from fgform.config.hcl import parse_expression
from fgform.values import UNKNOWN, ListValue, MapValue, Sensitive, SetValue


def ev(text: str, **kw):
    c = EvalContext(functions=call_function, variables={"u": UNKNOWN, "pw": Sensitive("s3cret")}, **kw)
    return evaluate(parse_expression(text), c)


# The result's class is checked too: where Terraform 1.11's console shows a list, set or map
# (`tolist([...])`, `toset`, `tomap`), the expected value is a ListValue, SetValue or MapValue;
# a plain list or dict is a tuple or object, as Terraform shows them.
CASES = [
    ("abs(-3)", 3), ("abs(2.5)", 2.5), ("ceil(1.2)", 2), ("floor(-1.2)", -2),
    ("log(8, 2)", 3), ("pow(2, 10)", 1024), ("pow(4, 0.5)", 2), ("signum(-7)", -1),
    ("signum(0)", 0), ('parseint("ff", 16)', 255), ('parseint("-101", 2)', -5),
    ("max(1, 9, 3)", 9), ("min(4, -1)", -1), ('max("3", 2)', 3),
    ('format("%s-%03d", "a", 7)', "a-007"), ('format("%.2f", 3.14159)', "3.14"),
    ('format("%q %t %%", "x", true)', '"x" true %'), ('format("%v", [1, "a"])', '[1,"a"]'),
    ('format("%[2]s %[1]s", "a", "b")', "b a"), ('format("%-4s|%4s", "a", "b")', "a   |   b"),
    ('formatlist("%s=%s", ["a", "b"], "v")', ListValue(["a=v", "b=v"])),
    ('formatlist("%s-%s", ["a", "b"], [1, 2])', ListValue(["a-1", "b-2"])),
    ('join(",", ["a", "b"], ["c"])', "a,b,c"), ('join("-", [1, 2])', "1-2"),
    ('join(",", [])', ""), ('split(",", "a,b,,c")', ListValue(["a", "b", "", "c"])),
    ('split("", "ab")', ListValue(["a", "b"])), ('lower("AbC")', "abc"), ('upper("abc")', "ABC"),
    ('title("hello world-wide web")', "Hello World-Wide Web"),
    ('replace("a-b-c", "-", "+")', "a+b+c"),
    ('replace("v1.2.3", "/v(\\\\d+)\\\\.(\\\\d+).*/", "$2.$1")', "2.1"),
    ('trim("?!hi!?", "!?")', "hi"), ('trimspace("  x \\n")', "x"),
    ('trimprefix("foobar", "foo")', "bar"), ('trimsuffix("foobar", "bar")', "foo"),
    ('substr("hello", 1, 3)', "ell"), ('substr("hello", -3, -1)', "llo"),
    ('substr("hi", 0, 10)', "hi"), ('strrev("abc")', "cba"),
    ('startswith("hello", "he")', True), ('endswith("hello", "x")', False),
    ('indent(2, "a\\nb")', "a\n  b"), ('chomp("x\\n\\n")', "x"), ('chomp("x")', "x"),
    ('regex("[a-z]+", "123abc")', "abc"), ('regex("(\\\\d+)-(\\\\d+)", "1-2")', ["1", "2"]),
    ('regex("(?P<a>\\\\d)", "x5")', {"a": "5"}), ('regexall("\\\\d", "a1b2")', ListValue(["1", "2"])),
    ('length("abc")', 3), ("length([1, 2])", 2), ("length({a = 1})", 1),
    ('lookup({a = 1}, "a")', 1), ('lookup({a = 1}, "b", 0)', 0),
    ("merge({a = 1}, {b = 2}, {a = 3})", {"a": 3, "b": 2}), ("merge()", {}),
    ("merge({a = 1}, null)", {"a": 1}), ("concat([1], [2, 3], [])", [1, 2, 3]),
    ("keys({b = 1, a = 2})", ["a", "b"]), ("values({b = 1, a = 2})", [2, 1]),
    ('contains(["a", "b"], "b")', True), ("contains([1], 2)", False),
    ('element(["a", "b"], 3)', "b"), ('element(["a"], 0)', "a"),
    ('index(["a", "b"], "b")', 1), ("flatten([[1, [2]], 3, []])", [1, 2, 3]),
    ("distinct([1, 2, 1, 3])", ListValue([1, 2, 3])), ("range(3)", ListValue([0, 1, 2])),
    ("range(1, 4)", ListValue([1, 2, 3])), ("range(5, 0, -2)", ListValue([5, 3, 1])), ("range(0, 1, 0.5)", ListValue([0, 0.5])),
    ("reverse([1, 2, 3])", [3, 2, 1]), ("slice([1, 2, 3, 4], 1, 3)", [2, 3]),
    ('sort(["b", "a", "c"])', ListValue(["a", "b", "c"])), ("sort([10, 9])", ListValue(["10", "9"])),
    ('zipmap(["a", "b"], [1, 2])', {"a": 1, "b": 2}),
    ('coalesce(null, "", "x")', "x"), ("coalesce(null, 2)", 2),
    ("coalescelist([], [1])", [1]), ('compact(["a", "", null, "b"])', ListValue(["a", "b"])),
    ("one([])", None), ("one([5])", 5), ("sum([1, 2, 3.5])", 6.5),
    ('setunion(["b", "a"], ["a", "c"])', SetValue(["a", "b", "c"])),
    ("setintersection([1, 2, 3], [2, 3, 4])", SetValue([2, 3])),
    ('setproduct(["a", "b"], [1, 2])', ListValue([["a", 1], ["a", 2], ["b", 1], ["b", 2]])),
    ("chunklist([1, 2, 3], 2)", ListValue([[1, 2], [3]])), ("chunklist([1, 2], 0)", ListValue([[1, 2]])),
    ('transpose({a = ["x", "y"], b = ["x"]})', MapValue({"x": ["a", "b"], "y": ["a"]})),
    ("tostring(5)", "5"), ("tostring(true)", "true"), ("tostring(null)", None),
    ('tonumber("42")', 42), ('tonumber("1.5")', 1.5), ('tobool("true")', True),
    ("tolist([1, 2])", ListValue([1, 2])), ('toset(["b", "a", "b"])', SetValue(["a", "b"])),
    ("tomap({a = 1})", MapValue({"a": 1})),
    ('jsonencode({b = [1, true, null], a = "<x>"})', '{"a":"\\u003cx\\u003e","b":[1,true,null]}'),
    ('jsondecode("{\\"a\\": [1, 2.0]}")', {"a": [1, 2]}),
    ('yamlencode({a = "x", b = [1, 2], c = {d = true}})',
     '"a": "x"\n"b":\n- 1\n- 2\n"c":\n  "d": true\n'),
    ('base64encode("hello")', "aGVsbG8="), ('base64decode("aGVsbG8=")', "hello"),
    ('urlencode("a b&c/d")', "a+b%26c%2Fd"),
    ('sha1("x")', "11f6ad8ec52a2984abaafd7c3b516503785c2072"),
    ('sha256("x")', "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"),
    ('md5("x")', "9dd4e461268c8034f5c8564e155c67a6"),
    ('length(sha512("x"))', 128), ("uuid()", UNKNOWN), ("timestamp()", UNKNOWN),
    ('basename("a/b/c.txt")', "c.txt"), ('basename("a/b/")', "b"),
    ('dirname("a/b/c.txt")', "a/b"), ('dirname("c.txt")', "."),
    ('cidrsubnet("10.0.0.0/16", 8, 3)', "10.0.3.0/24"),
    ('cidrsubnet("172.16.0.0/12", 4, 15)', "172.31.0.0/16"),
    ('cidrhost("10.0.1.0/24", 5)', "10.0.1.5"), ('cidrhost("10.0.1.0/24", -2)', "10.0.1.254"),
    ('cidrnetmask("10.0.0.0/12")', "255.240.0.0"),
    ('try(jsondecode("{"), "fallback")', "fallback"), ("try(1, 2)", 1),
    ('can(regex("^a", "abc"))', True), ('can(regex("^z", "abc"))', False),
    ("can([][0])", False), ("try(var.u, 1)", UNKNOWN), ("can(var.u)", UNKNOWN),
    ('upper(var.pw)', Sensitive("S3CRET")), ("nonsensitive(var.pw)", "s3cret"),
    ('join(",", [var.pw, "a"])', Sensitive("s3cret,a")),
    ("length([var.u])", 1), ("length(var.u)", UNKNOWN), ('join(",", [var.u])', UNKNOWN),
    ('keys({a = var.u})', ["a"]), ('lookup({a = var.u}, "a")', UNKNOWN),
    ("coalesce(var.u, 1)", UNKNOWN), ('coalesce("a", var.u)', "a"),
    ("max([1, 2]...)", 2), ('format("%s-%s", ["a", "b"]...)', "a-b"),
]


@pytest.mark.parametrize("text, expected", CASES)
def test_function(text: str, expected) -> None:
    result = ev(text)
    assert result == expected
    if not isinstance(expected, Sensitive) and expected is not UNKNOWN:
        assert type(result) is type(expected)


ERRORS = [
    ('upper([1])', "Invalid function argument", '"str" parameter of function "upper"'),
    ('join(",", "a")', "Invalid function argument", '"lists" parameter of function "join"'),
    ("abs()", "Not enough function arguments", 'Missing value for "num"'),
    ('lower("a", "b")', "Too many function arguments", 'Function "lower" expects 1 argument'),
    ("max()", "Not enough function arguments", "at least 1"),
    ('format("%d", "x")', "Invalid function argument", 'function "format"'),
    ('format("%s")', "Invalid function argument", "not enough arguments"),
    ('format("a", 1)', "Error in function call", "too many arguments"),
    ('element([], 0)', "Invalid function argument", "empty list"),
    # Terraform 1.11: "Error in function call", not an argument's error
    ('index(["a"], "b")', "Error in function call", "item not found"),
    ('regex("x", "abc")', "Error in function call", "did not match"),
    ('one([1, 2])', "Invalid function argument", "zero or one"),
    ("sum([])", "Invalid function argument", "empty list"),
    ('zipmap(["a"], [])', "Invalid function argument", "does not match"),
    ('coalesce(null, "")', "Error in function call", "no non-null"),
    ('tonumber("x")', "Invalid function argument", "cannot convert"),
    ('jsondecode("{")', "Invalid function argument", "invalid JSON"),
    ('base64decode("!!")', "Invalid function argument", "base64"),
    ('cidrsubnet("10.0.0.0/30", 8, 1)', "Error in function call", "insufficient"),
    ('cidrhost("10.0.0.0/30", 9)', "Invalid function argument", "does not accommodate"),
    ('file("does-not-exist.txt")', "Invalid function argument", "no file exists"),
    ('lookup({a = 1}, "b")', "Invalid function argument", '"key" parameter'),
    ('try(jsondecode("{"), [][1])', "Error in function call", "No expression"),
    ('parseint("zz", 10)', "Invalid function argument", "cannot parse"),
    ("range(1, 0, 1)", "Invalid function argument", "step"),
    ("max(1...)", "Invalid expanding argument value", "tuple, list, or set"),
    ('replace("a", "/(/", "")', "Invalid function argument", "invalid regexp pattern"),
]


@pytest.mark.parametrize("text, summary, fragment", ERRORS)
def test_function_errors(text: str, summary: str, fragment: str) -> None:
    with pytest.raises(EvalError) as info:
        ev(text)
    assert info.value.summary == summary
    assert fragment in info.value.message
    assert info.value.range is not None


def test_argument_error_points_at_the_argument() -> None:
    with pytest.raises(EvalError) as info:
        ev('join(",", "a")')
    assert info.value.range.start_col == 11


def test_file_functions(tmp_path: Path) -> None:
    (tmp_path / "hello.txt").write_text("hi\n")
    (tmp_path / "t.tpl").write_text(
        "name=${name}\n%{ for p in ports ~}\nport ${p}\n%{ endfor ~}\n${upper(name)}")
    kw = {"path_cwd": str(tmp_path), "path_module": "."}
    assert ev('file("hello.txt")', **kw) == "hi\n"
    assert ev(f'file("{tmp_path}/hello.txt")', **kw) == "hi\n"
    assert ev('fileexists("hello.txt")', **kw) is True
    assert ev('fileexists("nope.txt")', **kw) is False
    assert ev('filebase64("hello.txt")', **kw) == "aGkK"
    assert ev('filesha256("hello.txt")', **kw) == (
        "98ea6e4f216f2fb4b69fff9b3a44842c38686ca685f3f55dc48c5d3fb1107be4")
    assert ev('templatefile("t.tpl", {name = "web", ports = [80, 81]})', **kw) == (
        "name=web\nport 80\nport 81\nWEB")
    with pytest.raises(EvalError) as info:
        ev('templatefile("t.tpl", {name = "web"})', **kw)
    assert "ports" in info.value.message and "templatefile" in info.value.message
    assert ev('abspath("x")', **kw) == str(tmp_path / "x")
    assert ev('pathexpand("~/x")').endswith("/x")


@pytest.mark.parametrize("text,message", [
    ("parseint(10, 2)", "first argument must be a string, not number"),
    ('pathexpand("~alice/x")', "cannot expand user-specific home dir")])
def test_what_terraform_refuses_is_refused(text: str, message: str) -> None:
    with pytest.raises(EvalError, match=message):
        ev(text)


def test_file_functions_stay_in_the_configuration(tmp_path: Path) -> None:
    cfg, mod = tmp_path / "cfg", tmp_path / "shared"
    cfg.mkdir()
    mod.mkdir()
    (tmp_path / "secret").write_text("s")
    (mod / "m.txt").write_text("m")
    (cfg / "link").symlink_to("../secret")
    root = {"path_cwd": str(cfg), "path_module": "."}
    for call in ['file("../secret")', f'file("{tmp_path}/secret")', 'file("link")',
                 'fileexists("../secret")', 'filesha256("/etc/passwd")',
                 'templatefile("../secret", {})', 'file("${path.root}/../shared/m.txt")']:
        with pytest.raises(EvalError, match="outside the configuration directory"):
            ev(call, **root)
    os.mkfifo(cfg / "fifo")  # reading it would block forever
    with pytest.raises(EvalError, match="not a regular file"):
        ev('file("fifo")', **root)
    # A module loaded from outside the root directory reads its own files.
    assert ev('file("${path.module}/m.txt")', path_cwd=str(cfg), path_module="../shared") == "m"


# Expected values: Terraform 1.11's outputs for the same expressions (hello.txt = "hello\n").
TERRAFORM_1_11 = {
    "alltrue([])": True, 'alltrue([true, "true"])': True, "alltrue([true, false])": False,
    "alltrue([null])": False, "alltrue([true, null])": False,
    "anytrue([])": False, 'anytrue([false, "true"])': True, "anytrue(toset([false]))": False,
    "anytrue([null, true])": True,
    'strcontains("hello", "ell")': True, 'strcontains("hello", "")': True,
    'base64sha256("hello")': "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=",
    'base64sha512("hello")': "m3HSJL1i83hdltRq0+o9czGb+8KJDKra4t/3JRlnPKcjI8PZm6XBHXx6zG4UuMXa"
                             "DEZjR1wuXDre9G9zvN7AQw==",
    'filemd5("hello.txt")': "b1946ac92492d2347c6235b4d2611184",
    'filesha1("hello.txt")': "f572d396fae9206628714fb2ce00f72e94f2258f",
    'filesha512("hello.txt")': "e7c22b994c59d9cf2b48e549b1e24666636045930d3da7c1acb299d1c3b7f931"
                               "f94aae41edda2c2b207a36e10f8bcb8d45223e54878f5b316e7ce3b6bc019629",
    'filebase64sha256("hello.txt")': "WJG1tSLV3whtD/CxEPvZ0hu0/HFjrzTQgoai6Eb2vgM=",
    'filebase64sha512("hello.txt")': "58IrmUxZ2c8rSOVJseJGZmNgRZMNPafBrLKZ0cO3+TH5Sq5B7dosKyB6NuEP"
                                     "i8uNRSI+VIePWzFufOO2vAGWKQ==",
}


@pytest.mark.parametrize("expr", sorted(TERRAFORM_1_11))
def test_agrees_with_terraform(tmp_path: Path, expr: str) -> None:
    (tmp_path / "hello.txt").write_text("hello\n")
    assert ev(expr, path_cwd=str(tmp_path), path_module=".") == TERRAFORM_1_11[expr]


def test_alltrue_anytrue_unknown_and_bad_elements(tmp_path: Path) -> None:
    assert ev("alltrue([var.u, false])") is UNKNOWN  # as Terraform: the unknown comes first
    assert ev("alltrue([false, var.u])") is False
    assert ev("anytrue([true, var.u])") is True
    with pytest.raises(EvalError) as info:
        ev('alltrue(["x"])')
    assert "alltrue" in info.value.message
    with pytest.raises(EvalError):
        ev('filemd5("../outside")', path_cwd=str(tmp_path), path_module=".")
