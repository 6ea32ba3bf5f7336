"""Terraform's numbers (fgform/numbers.py): 512-bit binary floats, printed as their shortest
exact decimal. Every expected value below was recorded from Terraform 1.11.4
(`echo 'EXPR' | terraform console`, and `terraform output -json` for the JSON), never copied
from fgform's own output."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest

from fgform import numbers
from fgform.config import types
from fgform.config.cache_codec import decode, encode
from fgform.config.conversions import format_number, to_string
from fgform.config.expr import EvalContext, EvalError, evaluate
from fgform.config.functions import call as call_function
from fgform.config.hcl import parse_expression, parse_file_text
from fgform.jsonenc import decode_json, encode_json
from tests.helpers.cli import fg

THIRD = "0." + "3" * 154 + "5"          # 1/3 at 512 bits, as Terraform prints it
TWO_THIRDS = "0." + "6" * 153 + "7"
E600 = "1" + "0" * 600
E400 = "1" + "0" * 400


def ev(text: str) -> Any:
    return evaluate(parse_expression(text), EvalContext(functions=call_function))


def shown(v: Any) -> Any:
    """A value as Terraform's console shows it: numbers as their digits."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if numbers.is_number(v):
        return numbers.to_string(v)
    if isinstance(v, list):
        return [shown(x) for x in v]
    if isinstance(v, dict):
        return {k: shown(x) for k, x in v.items()}
    return v


# expression -> what Terraform 1.11.4's console printed (strings unquoted here).
TERRAFORM_1_11 = {
    "1/3": THIRD,
    "tostring(1/3)": THIRD,
    "-1/3": "-" + THIRD,
    "tostring(2/3)": TWO_THIRDS,
    "2/3*3": "2",
    "tostring(0.1*3)": "0.3",
    "0.1 + 0.2": "0.3",
    "0.1 + 0.2 == 0.3": "true",
    "tostring(1/7)": "0." + "142857" * 25 + "14285",
    "tostring(0.1 * 0.1)": "0.01" + "0" * 153 + "1",
    "1e300*1e300": E600,
    "1e300 * 1e300 == 1e600": "true",
    "1e400": E400,
    "1e-400": "0." + "0" * 399 + "1",
    "tostring(1e-30)": "0." + "0" * 29 + "1",
    "1e-7": "0.0000001",
    "tostring(1e-7 * 3)": "0.0000003",
    "tostring(1e21)": "1" + "0" * 21,
    "9007199254740993": "9007199254740993",
    "tostring(1e16 + 1)": "10000000000000001",
    "tostring(9007199254740993 + 0.5)": "9007199254740993.5",
    "tostring(123456789 * 987654321 * 123456789)": "15053411111487447638891241",
    "1" + "234567890" * 20:
        "12345678902345678902345678902345678902345678902345678902345678902345678902345678"
        "90234567890234567890234567890234567890234567890234567890234567890234567890200000"
        "000000000000000000000",
    "0.30000000000000000000000000001": "0.30000000000000000000000000001",
    "2.0": "2", "1.50": "1.5", "1e2": "100", "0.000001e6": "1",
    "1/3 == " + THIRD: "true",
    "0.1 < 0.1000000000000000000001": "true",
    "1/3 < 0.3333333333333333333333333333333333333333333333333333333333333333333333": "false",
    "10 % 3": "1", "-10 % 3": "-1", "5 % -3": "2", "7.5 % 2": "1.5", "-5.5 % 2": "-1.5",
    "2.5 * 4": "10", "100 / 8": "12.5",
    "length(range(0, 1, 0.1))": "10",
    "range(0, 1, 0.1)": ["0", "0.1", "0.2", "0.3", "0.4", "0.5", "0.6",
                         "0.7" + "0" * 153 + "6", "0.8" + "0" * 152 + "1",
                         "0.9" + "0" * 152 + "1"],
    "range(0.1, 0.5, 0.1)": ["0.1", "0.2", "0.3", "0.4"],
    "range(1, 0, -0.25)": ["1", "0.75", "0.5", "0.25"],
    "range(0, 0.5, 0.125)": ["0", "0.125", "0.25", "0.375"],
    "sum([0.1, 0.2])": "0.3", "sum([0.1, 0.2, 0.3, 0.4])": "1", 'sum([1, 0.5, "2"])': "3.5",
    "floor(7.5)": "7", "floor(-7.5)": "-8", "ceil(7.1)": "8", "ceil(1/3)": "1",
    "floor(1e30/7)": "142857142857142857142857142857",
    "ceil(1e30/7)": "142857142857142857142857142858",
    "floor(pow(2,60)+0.5)": "1152921504606846976",
    "abs(-1/3)": THIRD, "abs(-0.1)": "0.1",
    "max(1/3, 0.3)": THIRD, "min(1/3, 0.4)": THIRD, "min(0.3, 1/3, 0.2)": "0.2",
    "max(-1, -0.5)": "-0.5",
    "log(8, 2)": "3", "log(100, 10)": "2", "log(1024, 2)": "10",
    "log(10, 3)": "2.095903274289385", "log(0.1, 10)": "-0.9999999999999998",
    "pow(2, 0.5)": "1.4142135623730951", "pow(2, 60)": "1152921504606847000",
    "pow(2, 60) + 0": "1152921504606846976", "pow(10, 30)": "1" + "0" * 30,
    "pow(10, 30) + 1": "1000000000000000019884624838657", "pow(3, 40)": "12157665459056929000",
    "pow(2, -1)": "0.5", "pow(2.5, 1/7)": "1.1398522810475966",
    "pow(3, 1/3)": "1.4422495703074085", "pow(0.3, 1/1.5)": "0.44814047465571644",
    "pow(1e-300, 1/7)": "0." + "0" * 42 + "13894954943731424",
    "pow(7, 100)": "32344765096247583" + "0" * 68,
    "pow(3, -100)": "0." + "0" * 47 + "19403252174826325",
    "pow(0.3, -100)": "19403252174826376" + "0" * 36,
    "pow(123456, 1.5)": "43377877.947207324", "pow(0.001, -0.5)": "31.622776601683796",
    # Go's math.Log, not C's: the last bit differs (the exact double, printed at 512 bits).
    "log(3, 7) * 1": "0.564575034053579560833213690784759819507598876953125",
    "log(1e-9, 3)": "-18.863129468604463",
    "pow(2,0.5)/3":
        "0.471404520791031715158207286246276150147120157877604166666666666666666666666666"
        "66666666666666666666666666666666666666666666666666666666666666666666666666665",
    "pow(2,0.5) == 1.4142135623730951": "true",
    'parseint("ff", 16)': "255", 'parseint("-777", 8)': "-511",
    'parseint("123456789012345678901234567890", 10)': "123456789012345678901234567890",
    'tonumber("0.1") + tonumber("0.2")': "0.3", 'tonumber("1e-7")': "0.0000001",
    'tonumber("0.1") == 0.1': "true", 'tonumber("+5")': "5", 'tonumber("5.")': "5",
    'tonumber(".5")': "0.5", 'tonumber("1E3")': "1000", '"+5" + 1': "6",
    '"1e400" + 0': E400,
    '"${1/3}"': THIRD,
    '"x${1/3}"': "x" + THIRD,
    "jsonencode(1/3)": THIRD, "jsonencode(0.1)": "0.1", "jsonencode(1e300*1e300)": E600,
    "jsonencode([1e-7, 1/3, 2.5, 1e21])": f"[0.0000001,{THIRD},2.5,1{'0' * 21}]",
    'jsondecode("0.1") + jsondecode("0.2")': "0.3",
    'jsondecode("0.3333333333333333333333333333333333333333333")':
        "0.3333333333333333333333333333333333333333333",
    'jsondecode("[1e-7, 0.1, 2.0, 1e400]")': ["0.0000001", "0.1", "2", E400],
    "{(1/3) = 1}": {THIRD: "1"},
    "toset([3, 1/3, 0.1, 2])": ["0.1", THIRD, "2", "3"],
    'format("%f|%e|%g|%.2f|%.30f|%.2f|%.2f|%g|%g|%.2e", 1/3, 1/3, 1/3, 1/3, 1/3, 0.006, '
    '0.0001, 1000000, 1234567, 123)':
        f"0.333333|3.333333e-01|{THIRD}|0.33|0.{'3' * 30}|0.01|0.00|1e+06|1.234567e+06|1.23e+02",
    'format("%.0f|%.0f|%.1f|%f|%e|%g|%g|%.3g|%.2g|%.4g|%g", 2.5, 3.5, -1.5, 0, 0, 0, 1e-7, '
    '0.1, 100, 123.456, 0.5)': "2|4|-1.5|0.000000|0.000000e+00|0|1e-07|0.1|1e+02|123.5|0.5",
    'format("%8.2f|%-8.2f|%08.2f|%+.2f|% .2f|%+g|%5d|%-5d|%05d|%+d", 1/3, 1/3, -1/3, 1/3, '
    '1/3, 2, 42, 42, -42, 42)': "    0.33|0.33    |-0000.33|+0.33| 0.33|+2|   42|42   |-0042|+42",
    'format("%d|%x|%X|%o|%b", 255, 255, 255, 8, 5)': "255|ff|FF|10|101",
    'format("%G|%E", 1e-7, 1/3)': "1E-07|3.333333E-01",
    'format("%d|%x", pow(10, 30), pow(2, 60))': "1000000000000000019884624838656|1000000000000000",
    'format("%v|%s", 1/3, 1e-7)': f"{THIRD}|0.0000001",
    "1 % 0": "1", "-2.5 % 0": "-2.5",  # (1/0 is +Inf, which Terraform cannot save)
    "(1e-5 + 1.5) % 0.3": "0.00000" + "9" * 149 + "37278",
    "(3.14159265358979323846264338327950288 * 1e-5) % 0.000123":
        "0.0000314159265358979323846264338327950288",
}


@pytest.mark.parametrize("expr", sorted(TERRAFORM_1_11))
def test_agrees_with_terraform(expr: str) -> None:
    assert shown(ev(expr)) == TERRAFORM_1_11[expr]


@pytest.mark.parametrize("expr, fragment", [
    # Terraform: "value must be a whole number, between -9223372036854775808 and ...".
    ("signum(-1/3)", "value must be a whole number, between -9223372036854775808"),
    # Terraform: 'unsupported value for "%d" at 0: an integer is required.'
    ('format("%d", 1.5)', "a whole number is required"),
    ('tonumber("1_0")', '"1_0"'), ('tonumber("0x10")', '"0x10"'),
])
def test_what_terraform_refuses(expr: str, fragment: str) -> None:
    with pytest.raises(EvalError) as e:
        ev(expr)
    assert fragment in str(e.value)


def test_one_number_to_string_everywhere() -> None:
    # The issue: tostring(0.0000001) gave "0", the plan 1e-07, state show 0.0000001.
    # Terraform: "0.0000001" for all (and the type conversion is the same function).
    v = ev("0.0000001")
    assert to_string(v) == format_number(v) == types.convert(v, types.parse_type_string(
        "string")) == ev("tostring(0.0000001)") == "0.0000001"
    assert types.convert("0.1", types.parse_type_string("number")) == ev("0.1")
    assert types.convert(ev("1/3"), types.parse_type_string("string")) == THIRD


def test_plan_and_state_show_print_terraform_digits() -> None:
    from fgform.render.attributes import _fmt_scalar
    from fgform.render.state_hcl import _json_dumps, _scalar
    for expr in ("1/3", "1e-7", "1e300*1e300", "0.5", "pow(2, 0.5)", "pow(10, 30)"):
        v = ev(expr)
        assert _fmt_scalar(v) == _scalar(v) == TERRAFORM_1_11.get(expr, shown(v))
    # `terraform output -json` of [1e-7, true, 1/3]:
    assert _json_dumps([ev("1e-7"), True, ev("1/3")], compact=True) == \
        f"[0.0000001,true,{THIRD}]"


def test_state_json_keeps_every_digit() -> None:
    value = {"a": ev("1/3"), "b": [ev("0.1"), ev("1e-400"), ev("1e300*1e300"), 2.5, 3]}
    text = encode_json(value)
    # Terraform's state holds the printed digits: "value": 0.333...5
    assert THIRD.encode() in text and b"0.1," in text
    back = decode_json(text)
    assert back == value
    assert shown(back) == shown(value)
    assert ev("0.1 + 0.2") == numbers.add(back["b"][0], ev("0.2"))
    # Deeper than orjson writes: the standard library's path keeps the digits too.
    deep: Any = ev("1/3")
    for _ in range(300):
        deep = [deep]
    assert THIRD in encode_json(deep).decode()


def test_parse_cache_keeps_literals() -> None:
    # A literal with no more digits than a double's round trips through the cache; a longer
    # one is not cached (Unencodable) rather than read back rounded.
    text = 'locals {\n  a = 0.1\n  b = 1e-7\n}\n'
    body, diags = parse_file_text(text, "m.tf")
    got, _ = decode(encode((body, diags), "k", "m.tf"), "k", "m.tf")
    attrs = got.blocks[0].body.attributes
    assert attrs["a"].expr.value == ev("0.1") and attrs["b"].expr.value == ev("1e-7")
    assert type(attrs["a"].expr.value) is numbers.Num
    long_body, d2 = parse_file_text('locals {\n  a = 0.30000000000000000000000000001\n}\n',
                                    "m.tf")
    with pytest.raises(Exception, match="number"):
        encode((long_body, d2), "k", "m.tf")


def test_num_behaves_as_a_number() -> None:
    third = ev("1/3")
    assert isinstance(third, float) and isinstance(third, numbers.Num)
    assert str(third) == THIRD and json.loads(numbers.dumps_json(third)) == float(third)
    assert pickle.loads(pickle.dumps(third)) == third
    # Terraform: 1/3*3 is 1, 1/3 + 1/3 == 2/3 is true, 1 - 1/3 == 2/3 is false.
    assert third * 3 == 1 and third + third == ev("2/3") and 1 - third != ev("2/3")
    assert ev("1/3*3") == 1 and ev("1/3 + 1/3 == 2/3") is True
    assert ev("1 - 1/3 == 2/3") is False
    assert int(ev("7/2")) == 3 and round(float(third), 3) == 0.333
    assert hash(ev("0.5 * 1")) == hash(0.5) and {ev("0.1"): 1}[ev("1/10")] == 1
    assert sorted([ev("1/3"), 0.3, 1, ev("0.1")]) == [ev("0.1"), 0.3, ev("1/3"), 1]
    assert bool(ev("1e-400")) and not numbers.parse("0.0")
    assert numbers.parse("nope") is None and numbers.parse(".") is None
    # Only ASCII digits, and nothing after them (Terraform: cannot convert "٣" to number).
    assert numbers.parse("\u0663") is None and numbers.parse("5\n") is None


# Recorded with `terraform console` (Terraform 1.11.4): big.Float keeps the sign of zero.
NEGATIVE_ZERO = {
    '"${-0}"': "-0", '"${0 * -1}"': "-0", '"${(1 % 0.5) / -2}"': "-0",
    '"${-0 + -0}"': "-0", '"${-0 - 0}"': "-0", '"${0 - 0}"': "0", '"${-0 * -1}"': "0",
    '"${abs(-0)}"': "0", '"${max(-0, 0)}"': "-0", '"${min(0, -0)}"': "0",
    '"${max(0, -0)}"': "0", '"${max(-0)}"': "-0", '"${parseint("-0", 10)}"': "0",
    '"${tonumber("-0")}"': "-0", '"${tonumber("-0.0")}"': "-0", '"${jsondecode("-0")}"': "-0",
    '"${signum(-0)}"': "0", '"${floor(-0.5)}"': "-1", '"${ceil(-0.5)}"': "0",
    '"${ceil(-0)}"': "0", '"${floor(-0)}"': "0", '"${-0.0}"': "-0", '"${-(0)}"': "-0",
    '"${0 / -5}"': "-0", '"${-0 / 5}"': "-0", '"${-0 / -5}"': "0", '"${-0 % 5}"': "-0",
    '"${-5 % 5}"': "0", '"${-0.5 % 0.5}"': "0", '"${5 % -5}"': "0",
    '"${format("%v|%d|%f|%s", -0, -0, -0, -0)}"': "-0|0|-0.000000|-0",
    '"${format("%.1e|%g|%x", -0, -0, -0)}"': "-0.0e+00|-0|0",
    'jsonencode([-0])': "[-0]", '"${jsonencode({a = -0})}"': '{"a":-0}',
    '"${pow(-0, 3)}"': "-0", '"${log(1, 10) * -1}"': "-0", '"${-1 * 0}"': "-0",
    '"${-5 + 5}"': "0", '"${-0 + 0}"': "0", '"${0 + -0}"': "0", '"${sum([-0])}"': "-0",
    '"${sum([-0, -0])}"': "-0", '"${sum([-0, 0])}"': "0", '"${tostring(-0)}"': "-0",
    '"${-0.5 * 0}"': "-0", '"${-0 * 1.5}"': "-0", '"${[for x in [-0]: x][0]}"': "-0",
    '"${-0 == 0}"': "true", '"${-0 < 0}"': "false", 'yamlencode(-0)': "-0\n...\n",
}


@pytest.mark.parametrize("expr", sorted(NEGATIVE_ZERO))
def test_negative_zero_as_terraform(expr: str) -> None:
    # A template of one interpolation is its value (HCL), so numbers are shown as printed.
    assert shown(ev(expr)) == NEGATIVE_ZERO[expr]


def test_negative_zero_is_a_whole_number() -> None:
    # Terraform takes -0 as an index and in slice: [1, 2][-0] is 1.
    assert ev("[1, 2][-0]") == 1 and ev("slice([1, 2, 3], -0, 2)") == [1, 2]
    assert ev("-0") == 0 and ev("length(range(-0, 3))") == 3


def test_out_of_range_is_an_error_not_a_hang() -> None:
    with pytest.raises(EvalError, match="out of the range"):
        ev("1e200000 * 1e200000")


# `terraform apply` of these outputs, then `terraform output` (text) and `output -json`
# (Terraform 1.11.4): every digit, no exponent, in the state and out of it.
OUTPUTS_TF = """
output "a" { value = 0.1 + 0.2 == 0.3 }
output "b" { value = tostring(1/3) }
output "c" { value = 0.30000000000000000000000000001 }
output "d" { value = [1e-7, 1e300*1e300 > 1, 1/3] }
output "e" { value = "${1/3}" }
output "f" { value = jsonencode({x = 1/3, y = 0.1}) }
"""
TERRAFORM_OUTPUT_TEXT = f"""a = true
b = "{THIRD}"
c = 0.30000000000000000000000000001
d = [
  0.0000001,
  true,
  {THIRD},
]
e = {THIRD}
f = "{{\\"x\\":{THIRD},\\"y\\":0.1}}"
"""


def test_outputs_through_the_state_as_terraform(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(OUTPUTS_TF)
    d = f"-chdir={tmp_path}"
    assert fg(d, "apply", "-auto-approve").exit_code == 0
    out = fg(d, "output")
    assert out.exit_code == 0 and out.stdout == TERRAFORM_OUTPUT_TEXT
    got = json.loads(fg(d, "output", "-json").stdout, parse_float=str)
    assert got["c"]["value"] == "0.30000000000000000000000000001"
    assert got["d"]["value"] == ["0.0000001", True, THIRD]
    assert got["e"] == {"sensitive": False, "type": "number", "value": THIRD}
    assert fg(d, "output", "-raw", "e").stdout == THIRD
    # Read back from the state, the values are the configuration's: nothing to change.
    assert fg(d, "plan", "-detailed-exitcode").exit_code == 0
