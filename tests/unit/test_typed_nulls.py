"""Typed nulls inside objects and tuples (issue 11).

Terraform's null values carry a type: an unset `optional(list(string))` attribute is a null
list of string, a regex group that took no part in the match a null string. fgform's null is
None; an object or tuple holding one remembers the type (`ObjectValue`, `TupleValue`) where
the type is known. Every expected type here was recorded from Terraform 1.11 with
`terraform output -json` (a temp dir with the variables and outputs below).
"""

from __future__ import annotations

import copy
import json
import pickle

from fgform.config.expr import EvalContext, evaluate
from fgform.config.functions import call
from fgform.config.hcl import parse_expression
from fgform.config.types import convert, parse_type
from fgform.render.state_hcl import outputs
from fgform.state.model import OutputState, StateFile
from fgform.values import (
    ObjectValue,
    TupleValue,
    copy_value,
    cty_type,
    plain_value,
    typed_value,
    unmark,
)

# variable "o" { type = object({...}) default = { name = "web" } }
OBJ_TYPE = ('object({ name = string, tags = optional(list(string)), '
            't = optional(tuple([string, number])) })')
OBJ = ["object", {"name": "string", "t": ["tuple", ["string", "number"]],
                  "tags": ["list", "string"]}]


def ev(text: str):
    o = convert({"name": "web"}, parse_type(parse_expression(OBJ_TYPE)))
    tup = convert(["a", None], parse_type(parse_expression("tuple([string, number])")))
    ctx = EvalContext(functions=call, variables={"o": o, "tup": tup})
    return evaluate(parse_expression(text), ctx)


# (expression, `terraform output -json`'s "type" for it, Terraform 1.11)
CASES = {
    "var.o": OBJ,
    "merge(var.o, { extra = 1 })": ["object", {**OBJ[1], "extra": "number"}],
    "merge({ tags = 1 }, var.o)": OBJ,
    "[var.o]": ["tuple", [OBJ]],
    "var.tup": ["tuple", ["string", "number"]],
    'regex("(?P<x>a)(?P<y>b)?", "a")': ["object", {"x": "string", "y": "string"}],
    'regex("(a)(b)?", "a")': ["tuple", ["string", "string"]],
}


def test_null_attributes_and_elements_keep_their_type() -> None:
    for text, want in CASES.items():
        assert cty_type(ev(text)) == want, text


def test_values_are_unchanged() -> None:
    assert ev("var.o") == {"name": "web", "tags": None, "t": None}
    assert ev('regex("(a)(b)?", "a")') == ["a", None]
    assert ev('regex("(?P<x>a)(?P<y>b)?", "a")') == {"x": "a", "y": None}
    # Nothing null: plain values, as before (no wrapper on the fast paths).
    assert type(ev('regex("(a)(b)?", "ab")')) is list
    assert type(ev('regex("(?P<x>a)(?P<y>b)?", "ab")')) is dict


def test_typed_nulls_survive_state_copies_and_marks() -> None:
    o = ev("var.o")
    assert isinstance(o, ObjectValue)
    for again in (copy.deepcopy(o), copy_value(o), pickle.loads(pickle.dumps(o)),
                  unmark(o)[0]):
        assert cty_type(again) == OBJ
    t = ev('regex("(a)(b)?", "a")')
    assert isinstance(t, TupleValue) and cty_type(copy_value(t)) == cty_type(t)
    # State holds plain data, read back with its recorded type.
    assert type(plain_value(o)) is dict and type(plain_value(t)) is list
    assert cty_type(typed_value(plain_value(o), OBJ)) == OBJ
    state = StateFile()
    for name, text in {"obj": "var.o", "groups": 'regex("(a)(b)?", "a")'}.items():
        value = ev(text)
        state.outputs[name] = OutputState(plain_value(value), False, cty_type(value))
    state = StateFile.from_dict(json.loads(json.dumps(state.to_dict())))
    doc = json.loads(outputs(state, json=True))
    assert doc["obj"] == {"sensitive": False, "type": OBJ,
                          "value": {"name": "web", "t": None, "tags": None}}
    assert doc["groups"]["type"] == ["tuple", ["string", "string"]]
