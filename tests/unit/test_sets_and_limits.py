"""Sets stay sets (so for_each can tell them from lists), and the size limits of
docs/language.md hold at their edges. The user-facing messages are in the corpus
(tests/corpus/language, tests/corpus/limits)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fgform.analysis import validate_config, walk
from fgform.config import types
from fgform.config.evaluate import validate_resolver
from fgform.config.expand import MAX_INSTANCES
from fgform.config.expr import EvalContext, EvalError, evaluate
from fgform.config.functions import MAX_COLLECTION_LENGTH, MAX_STRING_LENGTH
from fgform.config.functions import call as call_function
from fgform.config.hcl import parse_expression
from fgform.config.loader import load_config
from fgform.values import Sensitive, SetValue, copy_value, unmark


def ev(text: str):
    return evaluate(parse_expression(text, "t.tf"), EvalContext(functions=call_function))


def test_set_typed_values_stay_sets_through_conversion_marks_and_copies() -> None:
    converted = types.convert(["b", "a", "b"], types.SetType(types.STRING))
    assert isinstance(converted, SetValue) and converted == ["a", "b"]
    assert isinstance(unmark(Sensitive(converted))[0], SetValue)
    assert isinstance(copy_value(converted), SetValue)
    assert not isinstance(types.convert(["a"], types.ListType(types.STRING)), SetValue)
    assert isinstance(ev('setsubtract(["a", "b"], ["a"])'), SetValue)
    assert not isinstance(ev('tolist(toset(["a"]))'), SetValue)


def _validate(tmp_path: Path, main: str, child: str = "") -> list[tuple[str, int]]:
    (tmp_path / "main.tf").write_text(main)
    if child:
        (tmp_path / "child").mkdir()
        (tmp_path / "child" / "main.tf").write_text(child)
    config, diags = load_config(tmp_path, use_cache=False)
    assert not diags
    return [(d.summary, d.range.start_line if d.range else 0)
            for d in validate_config(config, cwd=str(tmp_path), validating=True)]


CHILD = '''\
variable "names" {
  type = set(string)
}
variable "list" {
  type = list(string)
}
resource "fg_cluster" "by_set" {
  for_each = var.names
}
resource "fg_cluster" "by_list" {
  for_each = var.list
}
'''


def test_a_module_input_typed_set_is_a_set_and_one_typed_list_is_not(tmp_path: Path) -> None:
    main = 'module "m" {\n  source = "./child"\n  names = ["a"]\n  list = ["a"]\n}\n'
    assert _validate(tmp_path, main, CHILD) == [("Invalid for_each argument", 11)]


@pytest.mark.parametrize("meta, ok", [
    (f"count = {MAX_INSTANCES}", True), (f"count = {MAX_INSTANCES + 1}", False),
    (f'for_each = {{ for i in range({MAX_INSTANCES // 1000}) : i => i }}', True),
])
def test_instance_cap(tmp_path: Path, meta: str, ok: bool) -> None:
    got = _validate(tmp_path, f'resource "fg_target_group" "t" {{\n  {meta}\n}}\n')
    assert got == ([] if ok else [("Invalid count argument", 2)])


@pytest.mark.parametrize("text, ok", [
    (f'format("%{MAX_STRING_LENGTH}d", 1)', True),
    (f'format("%{MAX_STRING_LENGTH + 1}d", 1)', False),
    (f'format("%{MAX_STRING_LENGTH // 2}d%{MAX_STRING_LENGTH // 2 + 1}d", 1, 2)', False),
    (f'length(setproduct(range({MAX_COLLECTION_LENGTH // 1000}), range(1000)))', True),
    (f'setproduct(range({MAX_COLLECTION_LENGTH // 1000 + 1}), range(1000))', False),
    (f'replace(format("%{MAX_STRING_LENGTH}s", "x"), "/ /", "")', True),
    (f'replace(format("%{MAX_STRING_LENGTH}s", "x"), "/x/", "yy")', False),
    ('replace("a-b", "/(\\\\w)/", "$1$1")', True),
])
def test_function_result_limits(text: str, ok: bool) -> None:
    if ok:
        ev(text)
    else:
        with pytest.raises(EvalError, match="limit|longest string allowed"):
            ev(text)


def test_regex_replace_keeps_its_meaning() -> None:
    assert ev('replace("a-b", "/(\\\\w)/", "$1$1")') == "aa-bb"
    assert ev('replace("abc", "/x*/", "-")') == "-a-b-c-"


def test_a_large_file_is_read_whole(tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_text("x" * (MAX_STRING_LENGTH + 1))
    ctx = EvalContext(functions=call_function, path_cwd=str(tmp_path))
    got = evaluate(parse_expression('file("big.txt")', "t.tf"), ctx)
    assert len(got) == MAX_STRING_LENGTH + 1


def test_a_set_variable_read_back_from_a_saved_plan_is_a_set_again(tmp_path: Path) -> None:
    # A saved plan stores variables as JSON: the set comes back a list, and applying the
    # plan walks the configuration with it.
    (tmp_path / "main.tf").write_text(
        'variable "zones" {\n  type = set(string)\n}\n'
        'resource "fg_target_group" "t" {\n  for_each = var.zones\n}\n')
    config, _ = load_config(tmp_path, use_cache=False)
    result = walk(config, {"zones": ["b", "a"]}, validate_resolver, cwd=str(tmp_path))
    assert [d.summary for d in result.diagnostics] == []
    assert sorted(str(a) for a in result.configs) == ['fg_target_group.t["a"]',
                                                      'fg_target_group.t["b"]']
