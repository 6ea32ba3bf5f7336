"""fgform.suggest: the one did-you-mean rule the loader, evaluator, decoder and validation
share."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from fgform.analysis import validate_config
from fgform.config.loader import load_config
from fgform.suggest import closest, did_you_mean


def test_closest_and_did_you_mean() -> None:
    assert closest("desired_cont", ["name", "desired_count"]) == "desired_count"
    assert closest("zzz", ["name", "desired_count"]) is None
    assert did_you_mean("desired_cont", ("name", "desired_count")) == \
        'Did you mean "desired_count"?'
    assert did_you_mean("resourse", ["resource", "locals"], "block type") == \
        'Did you mean the block type "resource"?'
    assert did_you_mean("zzz", ["resource"]) == "" == did_you_mean("zzz", [], "argument")


def test_candidates_of_any_iterable_compare_as_strings() -> None:
    assert closest("abc1", {"abc2": 1, "b": 2}) == "abc2"  # a dict's keys
    assert closest("10", [1, 100]) == "100"
    assert closest("x", iter(["x"])) == "x"


def test_ties_do_not_depend_on_candidate_order() -> None:
    names = ["port_a", "port_b", "port_c"]
    assert {closest("port_x", names), closest("port_x", names[::-1])} == {"port_c"}


@pytest.mark.parametrize("text,summary,hint", [
    # loader: block types and arguments ("the {what}")
    ('resourse "fg_cluster" "a" {}\n', "Unsupported block type",
     'Did you mean the block type "resource"?'),
    ('variable "x" {\n  defualt = 1\n}\n', "Unsupported argument",
     'Did you mean the argument "default"?'),
    # decode: a resource's arguments
    ('resource "fg_cluster" "a" {\n  nmae = "x"\n}\n', "Unsupported argument",
     'Did you mean "name"?'),
    # expr / graph: references
    ('variable "image" {\n  default = "x"\n}\n'
     'resource "fg_cluster" "a" {\n  name = var.imag\n}\n', "Reference to undeclared input "
     "variable", 'Did you mean "image"?'),
    ('resource "fg_cluster" "a" {\n  name = upperr("x")\n}\n', "Call to unknown function",
     'Did you mean "upper"?'),
])
def test_every_checker_gives_the_same_hint(tmp_path: Path, text: str, summary: str,
                                           hint: str) -> None:
    (tmp_path / "main.tf").write_text(textwrap.dedent(text))
    config, diags = load_config(tmp_path, use_cache=False)
    if not diags:
        diags = validate_config(config, cwd=str(tmp_path), validating=True)
    found = [(d.summary, d.hint) for d in diags]
    assert (summary, hint) in found, found
