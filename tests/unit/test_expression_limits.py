"""The limits of docs/language.md on what the evaluator itself builds (templates,
for-expressions, values sharing their parts), at their edges. The user-facing messages are
in the corpus (tests/corpus/leftovers)."""

from __future__ import annotations

import pytest

from fgform.config.expr import EvalContext, EvalError, evaluate
from fgform.config.functions import call as call_function
from fgform.config.hcl import parse_expression
from fgform.config.limits import (
    MAX_FOR_ITERATIONS,
    MAX_STRING_LENGTH,
    MAX_VALUE_ELEMENTS,
    element_count,
)
from fgform.values import Sensitive


def ev(text: str, **local_values):
    return evaluate(parse_expression(text, "t.tf"), EvalContext(functions=call_function, locals=local_values))


def test_a_template_may_build_the_longest_string_allowed_and_no_longer() -> None:
    half = "x" * (MAX_STRING_LENGTH // 2)
    assert len(ev('"${local.a}${local.a}"', a=half)) == MAX_STRING_LENGTH
    with pytest.raises(EvalError, match="more than 1048576 characters") as exc:
        ev('"${local.a}${local.a}!"', a=half)
    assert exc.value.summary == "Template result too long"
    # Literal text repeated by a template `for` counts as well.
    with pytest.raises(EvalError, match="Template result too long|more than 1048576"):
        ev('"%{for i in range(1024)}${local.a}%{endfor}"', a="y" * 1025)


def test_the_error_points_at_the_interpolation_that_overflows() -> None:
    node = parse_expression('"${local.a}${local.b}"', "t.tf")
    with pytest.raises(EvalError) as exc:
        evaluate(node, EvalContext(functions=call_function, locals={"a": "x", "b": "x" * MAX_STRING_LENGTH}))
    assert exc.value.range is not None and exc.value.range.start_col == 14  # local.b


def test_nested_for_iterations_are_counted_together(monkeypatch) -> None:
    # As documented: a range(1024) by range(1024) grid fits, a cube does not.
    assert 1024 + 1024 ** 2 <= MAX_FOR_ITERATIONS < 1024 ** 3
    monkeypatch.setattr("fgform.config.expr.MAX_FOR_ITERATIONS", 110)
    assert len(ev("[for i in range(10) : [for j in range(10) : j]]")) == 10
    with pytest.raises(EvalError, match="iterate more than 110 times") as exc:
        ev("[for i in range(10) : [for j in range(10) : [for k in range(2) : k]]]")
    assert exc.value.range is not None and exc.value.range.start_col == 11  # the outer one
    with pytest.raises(EvalError, match="iterate more than 110 times"):
        ev('"%{for i in range(10)}%{for j in range(10)}%{for k in range(2)}'
           '%{endfor}%{endfor}%{endfor}"')


def test_element_count_counts_shared_parts_each_time_without_walking_them() -> None:
    assert element_count(5) == 1
    assert element_count({"a": [1, 2, {"b": Sensitive([3])}]}) == 7
    a: list = ["x"]
    for _ in range(60):  # 2**60 paths: a walk over them would never end
        a = [a, Sensitive(a)]
    assert element_count(a) > MAX_VALUE_ELEMENTS
    b: list = ["x"]
    for _ in range(19):
        b = [b, b]
    assert element_count(b) == 3 * 2 ** 19 - 1


def test_a_function_refuses_an_argument_that_holds_too_many_values() -> None:
    b: list = ["x"]
    for _ in range(19):
        b = [b, b]
    assert ev("length(local.b)", b=b) == 2
    with pytest.raises(EvalError, match="more than 2097152 values"):
        ev("length([local.b, local.b])", b=b)
