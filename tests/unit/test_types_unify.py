"""Terraform's type unification and conversion, and typed values (issue 11).

Every expected value here was recorded from Terraform 1.11 (`echo 'EXPR' | terraform
console`, and `terraform output -json` for the output types): the console shows a list, set
or map as `tolist([...])`, `toset([...])`, `tomap({...})` and a tuple or object bare, so
comparing fgform's rendering of the value (the same printer `fgform output` uses) checks the
value and its type at every depth. Whitespace is collapsed on both sides. Terraform's typed
nulls (`tonumber(null)`) are the one thing fgform does not keep: a null has no type here.
"""

from __future__ import annotations

import json

import pytest

from fgform.config.expr import EvalContext, EvalError, evaluate
from fgform.config.functions import call
from fgform.config.hcl import parse_expression
from fgform.config.unify import set_of, unify
from fgform.render.state_hcl import _hcl_value, outputs
from fgform.state.model import OutputState, StateFile
from fgform.values import ListValue, MapValue, SetValue, cty_type


def ev(text: str):
    return evaluate(parse_expression(text), EvalContext(functions=call))


def console(value) -> str:
    return " ".join(_hcl_value(value, 0).split())


# (expression, what `terraform console` printed, whitespace collapsed)
CONSOLE = [
    ('true ? 1 : "a"',
     '"1"'),
    ('false ? 1 : "a"',
     '"a"'),
    ('true ? [1] : ["a"]',
     '[ "1", ]'),
    ('true ? {a=1} : {b=2}',
     'tomap({ "a" = 1 })'),
    ('true ? {a=1} : {a="x"}',
     '{ "a" = "1" }'),
    ('true ? [1] : [1,2]',
     'tolist([ 1, ])'),
    ('true ? tolist([1]) : ["a"]',
     'tolist([ "1", ])'),
    ('true ? 1 : null',
     '1'),
    ('true ? true : "x"',
     '"true"'),
    ('tolist([1, "a"])',
     'tolist([ "1", "a", ])'),
    ('tolist([{a=1},{b=2}])',
     'tolist([ tomap({ "a" = 1 }), tomap({ "b" = 2 }), ])'),
    ('tolist([{a=1},{a="x"}])',
     'tolist([ { "a" = "1" }, { "a" = "x" }, ])'),
    ('tolist([[1],["a", 2]])',
     'tolist([ tolist([ "1", ]), tolist([ "a", "2", ]), ])'),
    ('tolist([])',
     'tolist([])'),
    ('toset(["b","a","b"])',
     'toset([ "a", "b", ])'),
    ('toset([3,1,2,10])',
     'toset([ 1, 2, 3, 10, ])'),
    ('toset([true,false,true])',
     'toset([ false, true, ])'),
    ('toset([{a=1},{a=2},{a=0}])',
     'toset([ { "a" = 0 }, { "a" = 1 }, { "a" = 2 }, ])'),
    ('toset([[2],[1],[1,0]])',
     'toset([ tolist([ 1, 0, ]), tolist([ 1, ]), tolist([ 2, ]), ])'),
    ('toset([1,"a"])',
     'toset([ "1", "a", ])'),
    ('tomap({a=1, b="x"})',
     'tomap({ "a" = "1" "b" = "x" })'),
    ('tomap({a=[1], b=["x"]})',
     'tomap({ "a" = [ "1", ] "b" = [ "x", ] })'),
    ('tolist([1]) == [1]',
     'false'),
    ('[1] == [1]',
     'true'),
    ('tomap({a=1}) == {a=1}',
     'false'),
    ('toset(["a"]) == tolist(["a"])',
     'false'),
    ('{a=1} == {a="1"}',
     'false'),
    ('[null] == [null]',
     'true'),
    ('[for k, v in toset(["b","a"]) : "${k}=${v}"]',
     '[ "a=a", "b=b", ]'),
    ('{for k, v in toset(["b","a"]) : k => v}',
     '{ "a" = "a" "b" = "b" }'),
    ('coalesce(1, "a")',
     '"1"'),
    ('coalesce("", 1)',
     '"1"'),
    ('coalesce(null, true)',
     'true'),
    ('coalescelist([], [1, "a"])',
     '[ 1, "a", ]'),
    ('coalescelist(tolist([]), [1])',
     '[ 1, ]'),
    ('distinct([1, "1", 2])',
     'tolist([ "1", "2", ])'),
    ('distinct(tolist([1, 2, 1]))',
     'tolist([ 1, 2, ])'),
    ('setunion(["a"], [1])',
     'toset([ "1", "a", ])'),
    ('setunion([1], [2, 3])',
     'toset([ 1, 2, 3, ])'),
    ('setintersection(["a", "b"], ["b"])',
     'toset([ "b", ])'),
    ('setsubtract([1, 2], ["2"])',
     'toset([ "1", ])'),
    ('setproduct(["a"], [1, 2])',
     'tolist([ [ "a", 1, ], [ "a", 2, ], ])'),
    ('setproduct(toset(["a"]), [1, 2])',
     'toset([ [ "a", 1, ], [ "a", 2, ], ])'),
    ('concat([1], ["a"])',
     '[ 1, "a", ]'),
    ('concat(tolist([1]), ["a"])',
     '[ 1, "a", ]'),
    ('concat(tolist([1]), tolist(["a"]))',
     'tolist([ "1", "a", ])'),
    ('flatten([[1], ["a"]])',
     '[ 1, "a", ]'),
    ('flatten(tolist([tolist([1])]))',
     '[ 1, ]'),
    ('merge({a=1}, {b="x"})',
     '{ "a" = 1 "b" = "x" }'),
    ('merge(tomap({a=1}), tomap({b="x"}))',
     '{ "a" = 1 "b" = "x" }'),
    ('merge(tomap({a=1}), {b="x"})',
     '{ "a" = 1 "b" = "x" }'),
    ('keys({a=1})',
     '[ "a", ]'),
    ('keys(tomap({a=1}))',
     'tolist([ "a", ])'),
    ('values({a=1, b="x"})',
     '[ 1, "x", ]'),
    ('values(tomap({a=1, b=2}))',
     'tolist([ 1, 2, ])'),
    ('lookup({a=1, b="x"}, "a")',
     '1'),
    ('zipmap(["a", "b"], [1, "x"])',
     '{ "a" = 1 "b" = "x" }'),
    ('zipmap(["a"], tolist([1]))',
     'tomap({ "a" = 1 })'),
    ('contains([1, "a"], "1")',
     'false'),
    ('contains(tolist([1, 2]), "1")',
     'false'),
    ('index(["a", 1], 1)',
     '1'),
    ('sort([3, 1, 2])',
     'tolist([ "1", "2", "3", ])'),
    ('sort(["b", "a"])',
     'tolist([ "a", "b", ])'),
    ('reverse([1, "a"])',
     '[ "a", 1, ]'),
    ('reverse(tolist([1]))',
     'tolist([ 1, ])'),
    ('slice([1, "a", 2], 0, 2)',
     '[ 1, "a", ]'),
    ('compact(["a", "", null])',
     'tolist([ "a", ])'),
    ('element(tolist([1]), 0)',
     '1'),
    ('chunklist([1, "a", 2], 2)',
     'tolist([ tolist([ "1", "a", ]), tolist([ "2", ]), ])'),
    ('chunklist(tolist([1, 2]), 1)',
     'tolist([ tolist([ 1, ]), tolist([ 2, ]), ])'),
    ('toset([])',
     'toset([])'),
    ('toset(toset([1]))',
     'toset([ 1, ])'),
    ('tolist(toset(["b","a"]))',
     'tolist([ "a", "b", ])'),
    ('transpose({a=["x"]})',
     'tomap({ "x" = tolist([ "a", ]) })'),
    ('range(3)',
     'tolist([ 0, 1, 2, ])'),
    ('split(",", "a,b")',
     'tolist([ "a", "b", ])'),
    ('length(toset(["a","a"]))',
     '1'),
    ('sum([1, "2"])',
     '3'),
    ('one(toset(["a"]))',
     '"a"'),
    ('[for x in tolist([1]) : x]',
     '[ 1, ]'),
    ('{for k, v in tomap({a=1}) : k => v}',
     '{ "a" = 1 }'),
    ('keys({b=1, a=2})',
     '[ "a", "b", ]'),
    ('toset([1.5, 1, "2"])',
     'toset([ "1", "1.5", "2", ])'),
    ('toset(["b", "B", "a", "10", "9"])',
     'toset([ "10", "9", "B", "a", "b", ])'),
    ('toset([-1, 0.5, 10])',
     'toset([ -1, 0.5, 10, ])'),
    ('toset([{a="x"}, {a="b"}])',
     'toset([ { "a" = "b" }, { "a" = "x" }, ])'),
    ('toset([["b"], ["a"]])',
     'toset([ [ "a", ], [ "b", ], ])'),
    ('toset([null])',
     'toset([ null, ])'),
    ('compact(tolist(["a"]))',
     'tolist([ "a", ])'),
    ('formatlist("%s", [1])',
     'tolist([ "1", ])'),
    ('regexall("a", "aa")',
     'tolist([ "a", "a", ])'),
    ('toset([{a=1}, {a="x"}])',
     'toset([ { "a" = "1" }, { "a" = "x" }, ])'),
    ('tolist(["a"])[0]',
     '"a"'),
    ('tomap({})',
     'tomap({})'),
    ('tolist(toset([2, 1]))',
     'tolist([ 1, 2, ])'),
    ('distinct([[1], ["a"]])',
     'tolist([ [ "1", ], [ "a", ], ])'),
    ('toset([1, 1.0])',
     'toset([ 1, ])'),
    ('true ? "a" : null',
     '"a"'),
    ('null == tolist([])',
     'false'),
    ('tolist([]) == []',
     'false'),
    ('tomap({}) == {}',
     'false'),
    ('toset([]) == toset([])',
     'true'),
    ('tolist([1]) == tolist([1])',
     'true'),
    ('[1, 2] == tolist([1, 2])',
     'false'),
    ('{a = tolist([1])} == {a = [1]}',
     'false'),
    ('toset(["b", "a"]) == toset(["a", "b"])',
     'true'),
    ('tolist([1.0]) == tolist([1])',
     'true'),
    ('lookup(tomap({a=1}), "b", "2")',
     '2'),
    ('lookup({a=1}, "b", "z")',
     '"z"'),
    ('lookup(tomap({a="x"}), "b", 2)',
     '"2"'),
    ('keys(tomap({}))',
     'tolist([])'),
    ('values(tomap({}))',
     'tolist([])'),
    ('setproduct([], [1])',
     'tolist([])'),
    ('setproduct(tolist(["a"]), toset([1]))',
     'toset([ [ "a", 1, ], ])'),
    ('setproduct(["a"], ["b", 1])',
     'tolist([ [ "a", "b", ], [ "a", "1", ], ])'),
    ('chunklist([], 2)',
     'tolist([])'),
    ('flatten(toset([[1]]))',
     '[ 1, ]'),
    ('flatten([toset([1, 2]), [3]])',
     '[ 1, 2, 3, ]'),
    ('zipmap(toset(["b", "a"]), [1, 2])',
     '{ "a" = 1 "b" = 2 }'),
    ('reverse(toset([2, 1]))',
     'tolist([ 2, 1, ])'),
    ('slice(tolist([2, 1]), 0, 1)',
     'tolist([ 2, ])'),
    ('compact(["a", 1])',
     'tolist([ "a", "1", ])'),
    ('sort(toset(["b", "a"]))',
     'tolist([ "a", "b", ])'),
    ('coalesce(tolist([1]), [2])',
     'tolist([ 1, ])'),
    ('coalesce([], [1])',
     'tolist([])'),
    ('merge({a=1}, null)',
     '{ "a" = 1 }'),
    ('merge(tomap({a=1}), tomap({b=2}))',
     'tomap({ "a" = 1 "b" = 2 })'),
    ('merge()',
     '{}'),
    ('merge({a=1}, tomap({b=2}))',
     '{ "a" = 1 "b" = 2 }'),
    ('contains(toset(["a"]), "a")',
     'true'),
    ('transpose(tomap({a=["x"]}))',
     'tomap({ "x" = tolist([ "a", ]) })'),
    ('[for x in toset(["b", "a"]) : x]',
     '[ "a", "b", ]'),
    ('{for k, v in toset([2, 1]) : k => v}',
     '{ "1" = 1 "2" = 2 }'),
    ('toset(["a"])[*]',
     'tolist([ "a", ])'),
    ('[for k, v in tolist(["b", "a"]) : k]',
     '[ 0, 1, ]'),
    ('regex("(\\\\d+)-(\\\\d+)", "1-2")',
     '[ "1", "2", ]'),
    ('regex("(?P<a>\\\\d)", "x5")',
     '{ "a" = "5" }'),
    ('regexall("(\\\\d)", "a1b2")',
     'tolist([ [ "1", ], [ "2", ], ])'),
    ('split(",", "a")',
     'tolist([ "a", ])'),
    ('formatlist("%s", toset(["a"]))',
     'tolist([ "a", ])'),
    ('tolist(["a"])[*]',
     'tolist([ "a", ])'),
    ('values(tomap({a=[1]}))',
     'tolist([ [ 1, ], ])'),
    ('flatten(tolist([[1]]))',
     '[ 1, ]'),
    ('one(tolist([[1]]))',
     '[ 1, ]'),
    ('jsondecode("[1]")',
     '[ 1, ]'),
    ('tomap({a={b=1}, c={d=2}})',
     'tomap({ "a" = tomap({ "b" = 1 }) "c" = tomap({ "d" = 2 }) })'),
    ('tolist([{a=1}, {b=2}])[0]',
     'tomap({ "a" = 1 })'),
    ('setunion(toset([{a=1}]), [{a=2}])',
     'toset([ { "a" = 1 }, { "a" = 2 }, ])'),
    ('slice(["a", 1], 0, 1)',
     '[ "a", ]'),
    ('reverse(toset([1]))',
     'tolist([ 1, ])'),
    ('toset(["a"]) == toset(["a", "a"])',
     'true'),
    ('true ? tomap({a=1}) : {b="x"}',
     'tomap({ "a" = "1" })'),
    ('true ? {a=1} : tomap({b="x"})',
     'tomap({ "a" = "1" })'),
    ('false ? tolist(["a"]) : toset(["b"])',
     'tolist([ "b", ])'),
    ('true ? tolist(["a"]) : toset(["b"])',
     'tolist([ "a", ])'),
    ('true ? toset([1]) : ["a"]',
     'toset([ 1, ])'),
    ('true ? [1, "a"] : ["b", 2]',
     '[ "1", "a", ]'),
    ('true ? [] : ["a"]',
     'tolist([])'),
    ('true ? {} : {a=1}',
     'tomap({})'),
    ('true ? {a=[1]} : {a=["x", "y"]}',
     '{ "a" = tolist([ "1", ]) }'),
    ('true ? [{a=1}] : [{a="x"}, {a="y"}]',
     'tolist([ { "a" = "1" }, ])'),
    ('true ? tolist([]) : ["a"]',
     'tolist([])'),
    ('true ? 5 : false ? "x" : "y"',
     '"5"'),
    ('true ? [1] : tolist([])',
     'tolist([ 1, ])'),
    ('true ? {a=1, b=true} : {a="x", b="false"}',
     '{ "a" = "1" "b" = "true" }'),
    ('tolist([[], ["a"]])',
     'tolist([ tolist([]), tolist([ "a", ]), ])'),
    ('tolist([{}, {a=1}])',
     'tolist([ tomap({}), tomap({ "a" = 1 }), ])'),
    ('tomap({a=[], b=[1]})',
     'tomap({ "a" = tolist([]) "b" = tolist([ 1, ]) })'),
    ('tomap({a={}, b={c=1}})',
     'tomap({ "a" = tomap({}) "b" = tomap({ "c" = 1 }) })'),
    ('toset([[], [1]])',
     'toset([ tolist([ 1, ]), tolist([]), ])'),
    ('toset(["1", 1])',
     'toset([ "1", ])'),
    ('tolist([1, "1"])',
     'tolist([ "1", "1", ])'),
    ('tolist([tolist([1]), ["a"]])',
     'tolist([ tolist([ "1", ]), tolist([ "a", ]), ])'),
    ('tolist([tomap({a=1}), {b="x"}])',
     'tolist([ tomap({ "a" = "1" }), tomap({ "b" = "x" }), ])'),
    ('toset([0.1, 0.01, 1e3, -5])',
     'toset([ -5, 0.01, 0.1, 1000, ])'),
    ('toset(["é", "e", "z", "Z", ""])',
     'toset([ "", "Z", "e", "z", "é", ])'),
    ('toset([{a=1, b="x"}, {a=1, b="a"}, {a=0, b="z"}])',
     'toset([ { "a" = 0 "b" = "z" }, { "a" = 1 "b" = "a" }, { "a" = 1 "b" = "x" }, ])'),
    ('toset([[1, 2], [10], [1]])',
     'toset([ tolist([ 10, ]), tolist([ 1, 2, ]), tolist([ 1, ]), ])'),
    ('toset([tolist(["b"]), tolist(["a", "c"])])',
     'toset([ tolist([ "a", "c", ]), tolist([ "b", ]), ])'),
    ('distinct([{a=1}, {a=1}, {a=2}])',
     'tolist([ { "a" = 1 }, { "a" = 2 }, ])'),
    ('distinct([tolist([1]), [1]])',
     'tolist([ tolist([ 1, ]), ])'),
    ('setintersection(toset(["a", "b"]), ["b", "c"], tolist(["b"]))',
     'toset([ "b", ])'),
    ('setsubtract(toset([{a=1}, {a=2}]), [{a=1}])',
     'toset([ { "a" = 2 }, ])'),
    ('setunion([], [])',
     'toset([])'),
    ('setunion([1, 2], toset(["3"]))',
     'toset([ "1", "2", "3", ])'),
    ('concat([], tolist([1]))',
     '[ 1, ]'),
    ('concat(tolist([]), tolist([]))',
     'tolist([])'),
    ('concat(tolist(["a"]), tolist([["x"]]))',
     '[ "a", [ "x", ], ]'),
    ('merge({}, tomap({a=1}))',
     '{ "a" = 1 }'),
    ('merge(tomap({a=1}), tomap({a="x"}))',
     '{ "a" = "x" }'),
    ('zipmap([], [])',
     '{}'),
    ('zipmap(["a", "b"], tolist([1, 2]))',
     'tomap({ "a" = 1 "b" = 2 })'),
    ('keys({})',
     '[]'),
    ('values({})',
     '[]'),
    ('chunklist([1, "a"], 1)',
     'tolist([ tolist([ "1", ]), tolist([ "a", ]), ])'),
    ('chunklist(toset([2, 1]), 1)',
     'tolist([ tolist([ 1, ]), tolist([ 2, ]), ])'),
    ('coalesce("", "b")',
     '"b"'),
    ('coalesce(null, tolist([]), [1])',
     'tolist([])'),
    ('coalesce(tomap({}), {a=1})',
     'tomap({})'),
    ('coalesce(0, "x")',
     '"0"'),
    ('coalesce(false, "x")',
     '"false"'),
    ('flatten([tolist([1, 2]), [tolist([3])]])',
     '[ 1, 2, 3, ]'),
    ('reverse(["a", 1])',
     '[ 1, "a", ]'),
    ('sort(tolist([3, 1, 20]))',
     'tolist([ "1", "20", "3", ])'),
    ('compact(toset(["b", "", "a"]))',
     'tolist([ "a", "b", ])'),
    ('lookup({a=1}, "a", "x")',
     '1'),
    ('contains([[1]], tolist([1]))',
     'false'),
    ('contains(toset([1, 2]), 2)',
     'true'),
    ('index([tolist([1])], tolist([1]))',
     '0'),
    ('distinct(toset([1]))',
     'tolist([ 1, ])'),
    ('[for k, v in toset([true, false]) : k]',
     '[ false, true, ]'),
    ('{for v in toset(["x"]) : v => v}',
     '{ "x" = "x" }'),
    ('{for k, v in {b=1, a=2} : k => v}',
     '{ "a" = 2 "b" = 1 }'),
    ('[for v in tomap({b=1, a=2}) : v]',
     '[ 2, 1, ]'),
    ('[for i, v in ["x", "y"] : i]',
     '[ 0, 1, ]'),
    ('tolist([{a=1}, {a=2}])[*].a',
     'tolist([ 1, 2, ])'),
    ('toset([{a=1}])[*].a',
     'tolist([ 1, ])'),
    ('[{a=1}][*].a',
     '[ 1, ]'),
    ('length(tolist([1, 2]))',
     '2'),
    ('tolist(tolist([1]))',
     'tolist([ 1, ])'),
    ('tomap(tomap({a=1}))',
     'tomap({ "a" = 1 })'),
    ('toset(tolist(["b", "a"]))',
     'toset([ "a", "b", ])'),
    ('one(tolist([]))',
     'null'),
    ('sum(toset([1, 2]))',
     '3'),
    ('alltrue(toset([true]))',
     'true'),
    ('toset([1, 2]) == toset([2, 1])',
     'true'),
    ('tolist([1, 2]) != tolist([2, 1])',
     'true'),
    ('{a = 1} == tomap({a = 1})',
     'false'),
    ('tomap({a = 1}) == tomap({a = 1})',
     'true'),
    ('tomap({a = 1}) == tomap({a = "1"})',
     'false'),
    ('[1, "a"] == [1, "a"]',
     'true'),
    ('[] == []',
     'true'),
    ('{} == {}',
     'true'),
    ('tolist([]) == tolist([])',
     'true'),
    ('tolist([]) == toset([])',
     'false'),
    ('"1" == 1',
     'false'),
    ('null == null',
     'true'),
    ('[null] == []',
     'false'),
    # set order of anything but strings, numbers and bools: cty's hash strings
    ('toset([{a=10}, {a=9}, {a=-1}])',
     'toset([ { "a" = -1 }, { "a" = 10 }, { "a" = 9 }, ])'),
    ('toset([{a=0.5}, {a=0.25}, {a=12345678901}])',
     'toset([ { "a" = 0.25 }, { "a" = 0.5 }, { "a" = 12345678901 }, ])'),
    ('toset([{b="x", a=2}, {a=2, b="a"}])',
     'toset([ { "a" = 2 "b" = "a" }, { "a" = 2 "b" = "x" }, ])'),
    ('toset(["ä", "z", "a", "Ä"])',
     'toset([ "a", "z", "Ä", "ä", ])'),
    ('toset([1e3, 999, 1000.5])',
     'toset([ 999, 1000, 1000.5, ])'),
    ('toset([[{a=1}], [{a=0}]])',
     'toset([ [ { "a" = 0 }, ], [ { "a" = 1 }, ], ])'),
    ('toset([{a=[1]}, {a=[0, 1]}])',
     'toset([ { "a" = tolist([ 0, 1, ]) }, { "a" = tolist([ 1, ]) }, ])'),
    ('toset([tomap({b=1}), tomap({a=2})])',
     'toset([ tomap({ "a" = 2 }), tomap({ "b" = 1 }), ])'),
    ('toset([["a\\"b"], ["a b"]])',
     'toset([ [ "a b", ], [ "a\\"b", ], ])'),
    ('toset([[1.5], [1.25], [15]])',
     'toset([ [ 1.25, ], [ 1.5, ], [ 15, ], ])'),
    ('toset([{k="x", n=null}, {k="a", n=null}])',
     'toset([ { "k" = "a" "n" = null }, { "k" = "x" "n" = null }, ])'),
]


@pytest.mark.parametrize("text, printed", CONSOLE, ids=[c[0] for c in CONSOLE])
def test_value_and_type_as_terraform_console(text: str, printed: str) -> None:
    assert console(ev(text)) == printed


# (expression, Terraform's error summary, the end of its message)
ERRORS = [
    ('tolist([1, [2]])', 'Invalid function argument',
     'cannot convert tuple to list of any single type.'),
    ('tolist([true, 1])', 'Invalid function argument',
     'cannot convert tuple to list of any single type.'),
    ('tomap({a=1, b=[1]})', 'Invalid function argument',
     'cannot convert object to map of any single type.'),
    ('lookup(tomap({a=1}), "b", "z")', 'Invalid function argument',
     'the default value must have the same type as the map elements.'),
    ('index(tolist(["1", "2"]), 2)', 'Error in function call',
     'item not found.'),
    ('true ? 1 : [1]', 'Inconsistent conditional result types',
     "The true and false result expressions must have consistent types. The 'true' value is number, but the 'false' value is tuple."),
    ('true ? {a=1} : [1]', 'Inconsistent conditional result types',
     "The true and false result expressions must have consistent types. The 'true' value is object, but the 'false' value is tuple."),
    ('true ? true : 1', 'Inconsistent conditional result types',
     "The true and false result expressions must have consistent types. The 'true' value is bool, but the 'false' value is number."),
    ('true ? [1] : [[1]]', 'Inconsistent conditional result types',
     "The true and false result expressions must have consistent types. Type mismatch for tuple element 0: The 'true' value is number, but the 'false' value is tuple."),
    ('true ? {a=1} : {a=[1]}', 'Inconsistent conditional result types',
     'The true and false result expressions must have consistent types. Type mismatch for object attribute "a": The \'true\' value is number, but the \'false\' value is tuple.'),
    ('tolist([{a=1}, null])', 'Invalid function argument',
     'cannot convert tuple to list of any single type.'),
    ('tolist([[1], null])', 'Invalid function argument',
     'cannot convert tuple to list of any single type.'),
    ('toset(["a"])[0]', 'Invalid index',
     "Elements of a set are identified only by their value and don't have any separate index or key to select with, so it's only possible to perform operations across all elements of the set."),
    ('tolist({a=1})', 'Invalid function argument',
     'cannot convert object to list of any single type.'),
    ('toset({a=1})', 'Invalid function argument',
     'cannot convert object to set of any single type.'),
    ('tomap([1])', 'Invalid function argument',
     'cannot convert tuple to map of any single type.'),
    ('distinct([1, true])', 'Invalid function argument',
     'all list elements must have the same type.'),
    ('setunion([1], [true])', 'Error in function call',
     'given sets must all have compatible element types.'),
    ('setunion(["a"], [[1]])', 'Error in function call',
     'given sets must all have compatible element types.'),
    ('concat([1], tolist([2]), toset([3]))', 'Invalid function argument',
     'all arguments must be lists or tuples; got set of number.'),
    ('concat(tolist([1]), toset([2]))', 'Invalid function argument',
     'all arguments must be lists or tuples; got set of number.'),
    ('concat(toset([1]), toset([2]))', 'Invalid function argument',
     'all arguments must be lists or tuples; got set of number.'),
    ('slice(toset([2, 1]), 0, 1)', 'Invalid function argument',
     'cannot slice a set, because its elements do not have indices; explicitly convert to a list if the ordering of the result is not important.'),
    ('coalesce(1, [2])', 'Error in function call',
     'all arguments must have the same type.'),
    ('coalesce(null, "")', 'Error in function call',
     'no non-null, non-empty-string arguments.'),
    ('index(toset(["a"]), "a")', 'Error in function call',
     'argument must be a list or tuple.'),
    ('element(toset(["b", "a"]), 0)', 'Error in function call',
     'cannot read elements from set of string.'),
    ('lookup(tomap({a=1}), "a", "x")', 'Invalid function argument',
     'the default value must have the same type as the map elements.'),
    ('lookup(tomap({a=[1]}), "b", [])', 'Invalid function argument',
     'the default value must have the same type as the map elements.'),
    ('tolist(tomap({a=1}))', 'Invalid function argument',
     'cannot convert map of number to list of any single type.'),
    ('tomap(tolist([1]))', 'Invalid function argument',
     'cannot convert list of number to map of any single type.'),
]


@pytest.mark.parametrize("text, summary, detail", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_as_terraform(text: str, summary: str, detail: str) -> None:
    with pytest.raises(EvalError) as ei:
        ev(text)
    assert ei.value.summary == summary
    assert str(ei.value).rstrip(".").endswith(detail.rstrip(".")), str(ei.value)


def test_output_json_types_as_terraform() -> None:
    # `terraform output -json` of these outputs (Terraform 1.11): collections report their
    # collection type, tuples and objects theirs, and the null output is left out; the
    # types survive the state file.
    exprs = {
        "null": "null", "tuple": '[1, "a"]', "list": "tolist([1])",
        "set": 'toset(["b", "a"])', "map": "tomap({a = 1})",
        "obj": "{a = 1, b = [true]}", "empty_list": "tolist([])", "empty_map": "tomap({})",
        "nested": "tolist([{a = 1}, {a = 2}])", "cond": "true ? {a=1} : {b=2}",
        "nulllist": "tolist([null])", "setobj": "toset([{a = 1}])",
    }
    state = StateFile()
    for name, text in exprs.items():
        value = ev(text)
        state.outputs[name] = OutputState(value, False, cty_type(value))
    state = StateFile.from_dict(json.loads(json.dumps(state.to_dict())))
    doc = json.loads(outputs(state, json=True))
    assert {k: v["type"] for k, v in doc.items()} == {
        "cond": ["map", "number"],
        "empty_list": ["list", "dynamic"],
        "empty_map": ["map", "dynamic"],
        "list": ["list", "number"],
        "map": ["map", "number"],
        "nested": ["list", ["object", {"a": "number"}]],
        "nulllist": ["list", "dynamic"],
        "obj": ["object", {"a": "number", "b": ["tuple", ["bool"]]}],
        "set": ["set", "string"],
        "setobj": ["set", ["object", {"a": "number"}]],
        "tuple": ["tuple", ["number", "string"]],
    }
    assert doc["set"]["value"] == ["a", "b"] and doc["cond"]["value"] == {"a": 1}
    # `terraform output` prints them as the console does
    assert "set = toset([\n  \"a\",\n  \"b\",\n])" in outputs(state)


def test_unify_rules() -> None:
    # cty's UnifyUnsafe, as the console results above show it
    assert unify(["number", "string"]) == "string"
    assert unify(["bool", "string"]) == "string"
    assert unify(["bool", "number"]) is None
    assert unify(["dynamic", "number"]) == "number"
    assert unify([["tuple", ["number"]], ["tuple", ["number", "number"]]]) == ["list", "number"]
    assert unify([["object", {"a": "number"}], ["object", {"b": "string"}]]) == [
        "map", "string"]
    assert unify([["object", {"a": "number"}], ["tuple", []]]) is None


def test_typed_values_keep_working_as_lists_and_dicts() -> None:
    # old code reads them as lists and dicts; equality in Python stays by value
    v = ev('tolist(["a"])')
    assert isinstance(v, ListValue) and v == ["a"] and v[0] == "a"
    m = ev("tomap({a = 1})")
    assert isinstance(m, MapValue) and m == {"a": 1}
    s = set_of(["b", "a", "b"])
    assert isinstance(s, SetValue) and s == ["a", "b"] and cty_type(s) == ["set", "string"]


def test_resource_attributes_are_plain_in_state_and_typed_in_expressions(tmp_path) -> None:
    # State and plans hold plain JSON (the state store's encoding cache marshals it, and
    # marshal refuses subclasses); expressions see the schema's types, so a map(string)
    # attribute equals a map(string) variable (true in Terraform 1.11 too) before and after
    # the state is written.
    import marshal

    from fgform import analysis
    from fgform.addresses import Address
    from fgform.config.loader import load_config

    (tmp_path / "main.tf").write_text('''
variable "env" {
  type    = map(string)
  default = { A = "1" }
}
resource "fg_task_definition" "t" {
  family = "t"
  container {
    name        = "app"
    image       = "nginx"
    environment = var.env
    command     = ["a", 1]
  }
}
output "same" { value = fg_task_definition.t.container[0].environment == var.env }
output "cmd" { value = fg_task_definition.t.container[0].command }
output "blocks" { value = fg_task_definition.t.container }
''')
    config, diags = load_config(tmp_path, use_cache=False)
    assert not diags
    result = analysis.walk(config, {}, cwd=str(tmp_path))
    decoded = result.configs[Address("fg_task_definition", "t")]
    marshal.dumps(decoded)  # plain data: no ListValue or MapValue inside
    assert result.outputs["same"] is True
    assert cty_type(result.outputs["cmd"]) == ["list", "string"]
    # a repeatable block is a list of objects of its schema's attributes
    blocks = cty_type(result.outputs["blocks"])
    assert blocks[0] == "list" and blocks[1][0] == "object"
    assert blocks[1][1]["environment"] == ["map", "string"]


def test_a_saved_plan_keeps_output_types() -> None:
    # `terraform show -json PLANFILE` (Terraform 1.11) gives planned_values.outputs the same
    # types as `output -json`; fgform's plan file keeps them through its JSON.
    from fgform.plan.model import Action, OutputChange, Plan
    from fgform.plan.planfile import _plan_from_dict, plan_to_dict
    from fgform.render.json_plan import planned_values_json

    plan = Plan(changes=[], prior_state=None, output_changes=[
        OutputChange("set", Action.CREATE, None, ev('toset(["b", "a"])')),
        OutputChange("map", Action.CREATE, None, ev("tomap({a = 1})")),
        OutputChange("tuple", Action.CREATE, None, ev('[1, "a"]')),
        OutputChange("null", Action.CREATE, None, None),
    ])
    back = _plan_from_dict(json.loads(json.dumps(plan_to_dict(plan))))
    outs = planned_values_json(back)["outputs"]
    assert {k: v["type"] for k, v in outs.items()} == {
        "set": ["set", "string"], "map": ["map", "number"],
        "tuple": ["tuple", ["number", "string"]], "null": "dynamic"}


def test_unknown_condition_still_needs_a_common_type() -> None:
    # Terraform 1.11, `plan` of `terraform_data.a.id == "" ? 1 : [1]` (id unknown):
    # "Inconsistent conditional result types"; of `... ? 1 : tonumber("x")`: no error.
    from fgform.values import UNKNOWN

    def run(text: str):
        ctx = EvalContext(functions=call, variables={"u": UNKNOWN})
        return evaluate(parse_expression(text), ctx)

    with pytest.raises(EvalError, match="consistent types") as ei:
        run("var.u ? 1 : [1]")
    assert ei.value.summary == "Inconsistent conditional result types"
    assert run('var.u ? 1 : tonumber("x")') is UNKNOWN
    assert run('var.u ? ["a"] : toset([1])') is UNKNOWN


def test_a_new_null_output_is_no_change() -> None:
    # Terraform 1.11 `plan` of only `output "n" { value = null }`: "No changes."
    from fgform.plan.model import Action, OutputChange, Plan
    from fgform.render.text import _render_plan_body

    plan = Plan(changes=[], prior_state=None,
                output_changes=[OutputChange("n", Action.CREATE, None, None)])
    assert "No changes." in _render_plan_body(plan, False)
    plan.output_changes.append(OutputChange("s", Action.CREATE, None, ev('toset(["a"])')))
    text = _render_plan_body(plan, False)
    assert "Changes to Outputs" in text and "+ s = [" in text and "+ n" not in text


def test_raw_output_names_the_collection_type() -> None:
    # Terraform 1.11 `output -raw vl` of a list(string) variable: 'output value "vl" is
    # list of string.'; of a tuple: 'is tuple.'
    from fgform.errors import FgformError

    state = StateFile(outputs={"vl": OutputState(ev('tolist(["a"])')),
                               "tuple": OutputState(ev('[1, "a"]'))})
    with pytest.raises(FgformError) as ei:
        outputs(state, "vl", raw=True)
    assert 'output value "vl" is list of string.' in ei.value.hint
    with pytest.raises(FgformError) as ei:
        outputs(state, "tuple", raw=True)
    assert 'output value "tuple" is tuple.' in ei.value.hint
