"""Stacked unary operators (`!!x`, `- -1`), which Terraform accepts and python-hcl2's
grammar does not (issue 11). Expected values recorded from Terraform 1.11 with
`echo 'EXPR' | terraform console`."""

from __future__ import annotations

import pytest

from fgform.config.expr import EvalContext, evaluate
from fgform.config.functions import call
from fgform.config.hcl import parse_expression, parse_text


def ev(text: str):
    return evaluate(parse_expression(text), EvalContext(functions=call))


@pytest.mark.parametrize(("text", "want"), [
    ("!!false", False),
    ("!! false", False),
    ("!!!true", False),
    ('!!"true"', True),
    ("- -1", 1),
    ("--1", 1),
    ("1 - - -1", 0),
])
def test_stacked_unary_operators_as_terraform(text: str, want: object) -> None:
    got = ev(text)
    assert got == want and type(got) is type(want)


def test_a_real_syntax_error_is_still_reported_where_it_is() -> None:
    body, diags = parse_text("a = !!\nb = 1\n", "main.tf")
    assert diags and diags[0].severity == "error" and "main.tf" in str(diags[0].range)
