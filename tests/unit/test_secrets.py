"""No sensitive value reaches a terminal: error messages of every path that formats a value,
variables given through -var, FGFORM_VAR_* and files, validation messages, `plan -json`,
apply's progress lines and the plan renderers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fgform.addresses import parse_address
from fgform.analysis import validate_config
from fgform.apply.events import ApplyError, ApplyFinished, ApplyProgress, ApplyStarted
from fgform.apply.executor import ApplyResult
from fgform.config import types
from fgform.config.expr import EvalContext, EvalError, evaluate
from fgform.config.functions import call as call_function
from fgform.config.hcl import parse_expression
from fgform.config.loader import load_config
from fgform.config.variables import mask_message, resolve_variables
from fgform.plan.model import Action, OutputChange, Plan, ResourceChange
from fgform.render.diagnostics import diagnostics_json, format_diagnostics
from fgform.render.json_plan import mask_plan_json, plan_json
from fgform.render.markdown import render_markdown
from fgform.render.progress import JsonProgress, TextProgress
from fgform.render.text import render_plan
from fgform.state.model import StateFile
from fgform.values import Sensitive, scrub, strings_at

SECRET = "hunter2-secret"


def _ctx() -> EvalContext:
    return EvalContext(functions=call_function, variables={
        "s": Sensitive(SECRET),
        "m": Sensitive({"alpha": "one-secret-value"}),
        "l": Sensitive([SECRET, SECRET]),
        "plain": "visible-value",
    })


def _error(text: str) -> EvalError:
    with pytest.raises(EvalError) as info:
        evaluate(parse_expression(text), _ctx())
    return info.value


# -- expression and function errors --------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    # arithmetic and logic operands (conversion)
    ("var.s + 1", "cannot convert this sensitive string to a number"),
    ("1 - var.s", "cannot convert this sensitive string to a number"),
    ("-var.s", "cannot convert this sensitive string to a number"),
    ("!var.s", "cannot convert this sensitive string to a bool"),
    ("var.s && true", "cannot convert this sensitive string to a bool"),
    ("true && var.s", "cannot convert this sensitive string to a bool"),
    # conditions: ?:, template if, for filter
    ("var.s ? 1 : 2", "cannot convert this sensitive string to a bool"),
    ('"%{if var.s}x%{endif}"', "cannot convert this sensitive string to a bool"),
    ("[for x in [1] : x if var.s]", "cannot convert this sensitive string to a bool"),
    # index errors: a sensitive key, a sensitive map, a sensitive list
    ("{ a = 1 }[var.s]", "does not identify an element in this collection value."),
    ('var.m["gamma"]', "does not identify an element in this collection value."),
    ("var.l[5]", "the index is out of range."),
    # for-expressions: elements of a sensitive collection, a sensitive key
    ("{ for x in var.l : x => 1 }", "produced the same sensitive key"),
    ("{ for x in [var.s, var.s] : x => 1 }", "produced the same sensitive key"),
    ('"%{for x in var.l}${x + 1}%{endfor}"', "cannot convert this sensitive string"),
    # functions: conversion of an argument, errors that quote an argument
    ("tonumber(var.s)", "(sensitive value)"),
    ("parseint(var.s, 10)", "cannot parse (sensitive value) as a base 10 integer"),
    ('lookup({ x = 1 }, var.s)', "the given key (sensitive value) does not identify"),
    ("element(var.l, var.s)", "cannot convert this sensitive string to a number"),
    ("cidrsubnet(var.s, 8, 1)", "invalid CIDR expression (sensitive value)"),
    ('parseint(substr(var.s, 0, 3), 10)', "cannot parse (sensitive value)"),
    ('tobool(var.s)', "(sensitive value)"),
])
def test_expression_errors_never_quote_a_sensitive_value(text: str, expected: str) -> None:
    err = _error(text)
    shown = f"{err.summary} {err.message} {err.hint}"
    assert expected in shown
    for secret in (SECRET, "hun", "one-secret-value", "alpha"):
        assert secret not in shown


def test_attribute_errors_suggest_no_key_of_a_sensitive_object() -> None:
    err = _error("var.m.alphx")
    assert err.hint == "" and "alpha" not in err.message
    # a plain object still gets the suggestion
    with pytest.raises(EvalError) as info:
        evaluate(parse_expression("{ alpha = 1 }.alphx"), _ctx())
    assert "alpha" in info.value.hint


def test_plain_values_are_still_quoted() -> None:
    assert 'cannot convert "visible-value" to a number' in _error("var.plain + 1").message
    assert '"visible-value"' in _error("{ a = 1 }[var.plain]").message


DERIVED = '''
variable "s" {
  type      = string
  sensitive = true
  default   = "hunter2-secret"
}

resource "fg_cluster" "counted" {
  count = upper(var.s)
  name  = "a"
}

resource "fg_cluster" "enum" {
  name               = "b"
  placement_strategy = upper(var.s)
}
'''


def test_count_and_attribute_checks_do_not_quote_a_value_computed_from_a_secret(
        tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(DERIVED)
    config, _ = load_config(tmp_path, use_cache=False)
    text = format_diagnostics(validate_config(config, cwd=str(tmp_path)), tmp_path)
    assert "HUNTER2" not in text and "hunter2" not in text
    assert 'The given "count" argument value is unsuitable: a number is required.' in text
    assert 'expected one of "spread", "binpack",\ngot (sensitive value).' in text


# -- type conversion -------------------------------------------------------------------------

def test_type_mismatch_of_a_sensitive_value_names_the_type_only() -> None:
    with pytest.raises(types.TypeMismatch) as info:
        types.convert(Sensitive("abc-secret"), types.NUMBER)
    assert info.value.message == "a number is required"
    with pytest.raises(types.TypeMismatch) as info:
        types.convert("abc", types.NUMBER)
    assert info.value.message == 'a number is required, not the string "abc"'


def test_type_mismatch_hides_map_keys_inside_a_sensitive_value_only() -> None:
    t = types.parse_type_string("map(number)")
    with pytest.raises(types.TypeMismatch) as info:
        types.convert(Sensitive({"key-secret": "x"}), t)
    assert info.value.message == "a number is required"
    with pytest.raises(types.TypeMismatch) as info:
        types.convert({"open-key": Sensitive("x")}, t)
    assert info.value.message == 'attribute "open-key": a number is required'


# -- variables -------------------------------------------------------------------------------

VARS = '''
variable "n" {
  type      = number
  sensitive = true
}

variable "cfg" {
  type      = list(number)
  sensitive = true
  default   = []
}

variable "plain" {
  type    = number
  default = 1
}
'''


def _resolve(tmp_path: Path, var_args=(), env=None, files=None):
    (tmp_path / "main.tf").write_text(VARS)
    for name, text in (files or {}).items():
        (tmp_path / name).write_text(text)
    config, diags = load_config(tmp_path, use_cache=False)
    assert not diags
    _, found = resolve_variables(config.module, tmp_path, list(var_args), env or {})
    return found


@pytest.mark.parametrize("how", ["var", "env", "tfvars", "tfvars.json", "fgvars"])
def test_a_sensitive_variable_of_the_wrong_type_is_not_quoted(tmp_path: Path, how: str) -> None:
    var_args, env, files = [], {}, {}
    if how == "var":
        var_args = [("var", f"n={SECRET}")]
    elif how == "env":
        env = {"FGFORM_VAR_n": SECRET}
    elif how == "tfvars.json":
        files = {"terraform.tfvars.json": json.dumps({"n": SECRET})}
    else:
        files = {f"terraform.{how}": f'n = "{SECRET}"\n'}
    found = _resolve(tmp_path, var_args, env, files)
    text = format_diagnostics(found, tmp_path) + json.dumps(diagnostics_json(found, tmp_path))
    assert SECRET not in text
    assert "var.n declared at" in text and "a number is required." in text
    if how in ("tfvars", "fgvars"):
        # the place of the value is named, its line (which holds it) not printed
        assert f"on terraform.{how} line 1, column 1:" in text


def test_a_plain_variable_of_the_wrong_type_is_still_quoted(tmp_path: Path) -> None:
    found = _resolve(tmp_path, [("var", "plain=abc")], {"FGFORM_VAR_n": "1"})
    assert 'a number is required, not the string "abc"' in found[0].detail


def test_a_sensitive_complex_value_that_does_not_parse_is_not_quoted(tmp_path: Path) -> None:
    found = _resolve(tmp_path, [("var", "cfg=[1, hunter2-secret"), ("var", "n=1")])
    text = format_diagnostics(found, tmp_path)
    assert "Invalid expression for variable" in text and "hunter2" not in text


VALIDATED = '''
variable "s" {
  type      = string
  sensitive = true
  default   = "%s"

  validation {
    condition     = length(var.s) > 40
    error_message = "The value ${var.s} is too short."
  }
}
'''


@pytest.mark.parametrize("planning", [False, True])
def test_a_validation_message_with_a_sensitive_value_is_masked(tmp_path: Path,
                                                               planning: bool) -> None:
    (tmp_path / "main.tf").write_text(VALIDATED % SECRET)
    config, _ = load_config(tmp_path, use_cache=False)
    if planning:  # open_working_dir's order: resolve_variables reports it first
        _, found = resolve_variables(config.module, tmp_path, [], {})
    else:
        found = validate_config(config, cwd=str(tmp_path), validating=True)
    text = format_diagnostics(found, tmp_path)
    assert "The value (sensitive value) is too short." in text
    assert SECRET not in text
    assert "default" not in text  # the default's line holds the value: not printed


def test_a_message_with_a_short_secret_is_withheld_whole() -> None:
    value = Sensitive({"a": "ab", "b": "long-secret"})
    assert mask_message("x long-secret y", value) == "x (sensitive value) y"
    assert "refers to a sensitive value" in mask_message("got ab", value)


# -- plan -json, renderers ---------------------------------------------------------------------

def _secret_plan() -> Plan:
    addr = parse_address("fg_cluster.main")
    return Plan(
        changes=[ResourceChange(
            addr, Action.UPDATE, before={"name": "old-secret", "port": 1},
            after={"name": SECRET, "port": 2}, before_sensitive=[("name",)],
            after_sensitive=[("name",)])],
        output_changes=[OutputChange("pw", Action.CREATE, None, "output-secret", True)],
        variables={"pw": Sensitive("variable-secret"), "open": "visible-value"},
        prior_state=None,
    )


def test_plan_json_for_a_terminal_has_no_sensitive_value() -> None:
    plan = _secret_plan()
    full = json.dumps(plan_json(plan))
    assert SECRET in full and "variable-secret" in full  # the export keeps them
    masked = mask_plan_json(plan_json(plan), plan)
    text = json.dumps(masked)
    for secret in (SECRET, "old-secret", "output-secret", "variable-secret"):
        assert secret not in text
    change = masked["resource_changes"][0]["change"]
    assert change["after"] == {"name": None, "port": 2}
    assert change["after_sensitive"] == {"name": True}
    assert masked["variables"] == {"open": {"value": "visible-value"}, "pw": {"value": None}}
    assert masked["output_changes"]["pw"]["after"] is None


def test_plan_json_for_a_terminal_masks_the_prior_state_and_configuration() -> None:
    from fgform.state.model import InstanceState, OutputState

    plan = _secret_plan()
    prior = StateFile()
    prior.set(parse_address("fg_cluster.main"),
              InstanceState(None, {"name": "state-secret", "port": 1}, [["name"]]))
    prior.outputs = {"pw": OutputState("state-output-secret", True)}
    plan.prior_state = prior
    plan.configuration = {"root_module": {
        "variables": {"pw": {"default": "default-secret", "sensitive": True},
                      "open": {"default": "visible-value"}},
        "outputs": {"lit": {"sensitive": True,
                            "expression": {"constant_value": "literal-secret"}}}}}
    text = json.dumps(mask_plan_json(plan_json(plan), plan))
    for secret in ("state-secret", "state-output-secret", "default-secret", "literal-secret"):
        assert secret not in text
    assert "visible-value" in text
    # the plan's own configuration is not changed: `show -json FILE` still exports it
    assert plan.configuration["root_module"]["variables"]["pw"]["default"] == "default-secret"


def test_text_and_markdown_renderers_mask_sensitive_values() -> None:
    plan = _secret_plan()
    for text in (render_plan(plan), render_markdown(plan)):
        assert "(sensitive value)" in text
        for secret in (SECRET, "old-secret", "output-secret"):
            assert secret not in text


def test_known_secrets_of_a_plan_cover_changes_outputs_and_variables() -> None:
    from types import SimpleNamespace

    from fgform.workflow import known_secrets

    found = known_secrets(SimpleNamespace(variables={}), _secret_plan())  # type: ignore[arg-type]
    assert {SECRET, "old-secret", "output-secret", "variable-secret"} <= found
    assert "visible-value" not in found


def test_strings_at_skips_missing_paths() -> None:
    assert strings_at({"a": {"b": "xyz-secret"}}, [("a", "b"), ("nope", 3)]) == {"xyz-secret"}


# -- apply progress ------------------------------------------------------------------------

WEB = parse_address("fg_service.web")


def _drive(printer) -> None:
    printer.pre_apply(ApplyStarted(WEB, Action.UPDATE, "name", SECRET))
    printer.still_running(ApplyProgress(WEB, Action.UPDATE, 10, "name", SECRET))
    printer.post_apply(ApplyFinished(WEB, Action.UPDATE, 12, "id", f"svc-{SECRET}"))
    printer.finish(ApplyResult(0, 0, 0, [ApplyError(
        WEB, Action.UPDATE, f'updating fg_service.web: docker said "{SECRET}" is bad')],
        StateFile()))


def test_text_progress_leaves_out_sensitive_ids_and_scrubs_errors() -> None:
    lines: list[str] = []
    _drive(TextProgress(lines.append, secrets=frozenset({SECRET})))
    text = "\n".join(lines)
    assert SECRET not in text
    assert "fg_service.web: Modifying...\n" in text + "\n"
    assert "Still modifying... [10s elapsed]" in text
    assert "Modifications complete after 12s\n" in text + "\n"
    assert 'docker said "(sensitive value)" is bad' in text


def test_json_progress_leaves_out_sensitive_ids_and_scrubs_errors() -> None:
    lines: list[str] = []
    _drive(JsonProgress(lines.append, clock=lambda: "T", secrets=frozenset({SECRET})))
    assert not any(SECRET in line for line in lines)
    start = json.loads(lines[0])
    assert "id_value" not in start["hook"] and start["@message"].endswith("Modifying...")
    assert "(sensitive value)" in json.loads(lines[-1])["diagnostic"]["summary"]


def test_progress_without_secrets_shows_ids() -> None:
    lines: list[str] = []
    TextProgress(lines.append).pre_apply(ApplyStarted(WEB, Action.UPDATE, "id", "web"))
    assert lines == ["fg_service.web: Modifying... [id=web]"]


def test_scrub_catches_the_escaped_form_of_a_secret() -> None:
    assert scrub('x "a\\"b-secret" y', {'a"b-secret'}) == 'x "(sensitive value)" y'


def test_output_hides_sensitive_values_in_the_list_and_shows_one_asked_for_by_name() -> None:
    from fgform.render.state_hcl import outputs
    from fgform.state.model import OutputState

    state = StateFile()
    state.outputs = {"pw": OutputState(SECRET, True), "open": OutputState("x", False)}
    assert outputs(state) == 'open = "x"\npw = <sensitive>'
    # as `terraform output pw` (1.11): naming the output is asking for its value
    assert outputs(state, "pw") == f'"{SECRET}"'


def test_state_secrets_are_the_sensitive_attributes_and_outputs() -> None:
    from fgform.state.model import InstanceState, OutputState
    from fgform.workflow import state_secrets

    state = StateFile()
    state.set(parse_address("fg_service.web"),
              InstanceState(None, {"env": {"TOKEN": "env-secret"}, "name": "web"},
                            [["env", "TOKEN"]]))
    state.outputs = {"pw": OutputState("output-secret", True), "o": OutputState("open")}
    assert state_secrets(state) == {"env-secret", "output-secret"}


def test_reconcile_scrubs_a_driver_error_of_the_state_s_secrets(tmp_path: Path,
                                                               capsys) -> None:
    from fgform.cli import Environment, reconcile_cmd
    from fgform.state.model import InstanceState
    from fgform.state.store import StateStore

    from helpers.fakefleet import FakeFleet

    class Failing:
        def read(self, ctx, items):
            return {}

        def remove_orphans(self, ctx, services):
            return []

        def reconcile(self, ctx, addr, attrs):
            raise RuntimeError("container env TOKEN=env-secret was refused")

    store = StateStore(tmp_path / "state.json")
    state = StateFile()
    state.set(parse_address("fg_service.web"),
              InstanceState(None, {"env": {"TOKEN": "env-secret"}}, [["env", "TOKEN"]]))
    store.write(state)
    env = Environment.from_process([])
    env.fleet = FakeFleet(scheduler=Failing())
    env.choose_dir(str(tmp_path))
    assert reconcile_cmd.reconcile_pass(env, store) == 1
    err = capsys.readouterr().err
    assert "TOKEN=(sensitive value) was refused" in err and "env-secret" not in err
