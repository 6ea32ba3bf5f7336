"""Input variables: precedence of sources, -var parsing, conversion, nullable, sensitive and
validation rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fgform.config.loader import load_config
from fgform.config.variables import resolve_variables
from fgform.errors import Severity
from fgform.values import UNKNOWN, Sensitive

DECLS = '''
variable "v" {
  type    = string
  default = "default"
}

variable "n" {
  type    = number
  default = 1
}

variable "tags" {
  type    = map(string)
  default = {}
}

variable "ports" {
  type    = list(number)
  default = []
}
'''


def resolve(tmp_path: Path, files: dict[str, str], args=(), env=None, decls: str = DECLS):
    (tmp_path / "main.hcl").write_text(decls)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    config, diags = load_config(tmp_path, use_cache=False)
    assert not diags, diags
    return resolve_variables(config.module, tmp_path, args, env or {})


def test_default_only(tmp_path: Path) -> None:
    values, diags = resolve(tmp_path, {})
    assert values == {"v": "default", "n": 1, "tags": {}, "ports": []}
    assert diags == []


@pytest.mark.parametrize("files,args,env,expected", [
    ({}, (), {"FGFORM_VAR_v": "env"}, "env"),
    ({"terraform.tfvars": 'v = "tfvars"'}, (), {"FGFORM_VAR_v": "env"}, "tfvars"),
    ({"terraform.tfvars": 'v = "tfvars"', "terraform.fgvars": 'v = "fgvars"'}, (), {},
     "fgvars"),
    ({"terraform.fgvars": 'v = "fgvars"', "a.auto.fgvars": 'v = "auto-a"'}, (), {}, "auto-a"),
    ({"a.auto.fgvars": 'v = "auto-a"', "b.auto.tfvars": 'v = "auto-b"'}, (), {}, "auto-b"),
    ({"a.auto.fgvars": 'v = "auto-a"', "b.auto.tfvars.json": '{"v": "auto-json"}'}, (), {},
     "auto-json"),
    ({"z.auto.fgvars": 'v = "auto-z"'}, [("var", "v=cli")], {}, "cli"),
    ({"x.fgvars": 'v = "file"'}, [("var", "v=cli"), ("var-file", "x.fgvars")], {}, "file"),
    ({"x.fgvars": 'v = "file"'}, [("var-file", "x.fgvars"), ("var", "v=cli")], {}, "cli"),
])
def test_precedence(tmp_path: Path, files, args, env, expected) -> None:
    values, diags = resolve(tmp_path, files, args, env)
    assert not [d for d in diags if d.severity is Severity.ERROR], diags
    assert values["v"] == expected


def test_string_values_are_literal_for_primitives_and_hcl_for_complex_types(
        tmp_path: Path) -> None:
    values, diags = resolve(tmp_path, {}, [
        ("var", "v=[1, 2]"), ("var", "n=42"), ("var", 'tags={env = "prod", n = 1}'),
        ("var", "ports=[80, \"443\"]")])
    assert diags == []
    assert values == {"v": "[1, 2]", "n": 42, "tags": {"env": "prod", "n": "1"},
                      "ports": [80, 443]}


def test_env_values_of_complex_type_are_parsed(tmp_path: Path) -> None:
    values, diags = resolve(tmp_path, {}, env={"FGFORM_VAR_ports": "[8080]",
                                               "FGFORM_VAR_undeclared": "x"})
    assert diags == [] and values["ports"] == [8080]


def test_json_var_file_and_hcl_expressions_in_var_files(tmp_path: Path) -> None:
    values, diags = resolve(tmp_path, {
        "terraform.fgvars.json": json.dumps({"tags": {"a": "b"}}),
        "terraform.fgvars": 'n = 2 * 21\nports = [for p in [0, 1] : 8000 + p]\n'})
    assert diags == []
    assert values["n"] == 42 and values["ports"] == [8000, 8001]
    assert values["tags"] == {"a": "b"}


def test_function_calls_in_var_files_are_errors(tmp_path: Path) -> None:
    # As in Terraform; file() would read, from a planted variables file, anything it names.
    _, diags = resolve(tmp_path, {"terraform.fgvars": 'n = 1\nports = [for p in range(2) : p]\n'})
    assert [(d.summary, d.range.start_line if d.range else None) for d in diags] == [
        ("Function calls not allowed", 2)]


def test_undeclared_cli_variable_is_an_error_and_file_variable_a_warning(
        tmp_path: Path) -> None:
    _, diags = resolve(tmp_path, {"terraform.fgvars": 'nope = 1\n'}, [("var", "vv=1")])
    got = [(d.severity, d.summary, d.hint) for d in diags]
    assert (Severity.ERROR, "Value for undeclared variable", 'Did you mean "v"?') in got
    assert (Severity.WARNING, "Value for undeclared variable", "") in got


def test_bad_cli_syntax_and_missing_file(tmp_path: Path) -> None:
    _, diags = resolve(tmp_path, {}, [("var", "novalue"), ("var-file", "missing.fgvars")])
    assert [d.summary for d in diags] == ["Invalid -var option",
                                          "Failed to read variables file"]


def test_required_variable_without_value(tmp_path: Path) -> None:
    values, diags = resolve(tmp_path, {}, decls='variable "x" {\n  type = string\n}\n')
    assert values == {"x": UNKNOWN}
    assert [d.summary for d in diags] == ["No value for required variable"]
    assert diags[0].range is not None and diags[0].range.start_line == 1


def test_unset_variable_is_just_unknown_when_values_are_not_required(tmp_path: Path) -> None:
    decls = 'variable "x" {\n  type = string\n}\n\nvariable "y" {\n  default = "d"\n}\n'
    (tmp_path / "main.hcl").write_text(decls)
    config, _ = load_config(tmp_path, use_cache=False)
    values, diags = resolve_variables(config.module, tmp_path, [], {}, require_values=False)
    assert values == {"x": UNKNOWN, "y": "d"} and diags == []
    # Values given are still checked.
    values, diags = resolve_variables(config.module, tmp_path, [("var", "z=1")], {},
                                      require_values=False)
    assert [d.summary for d in diags] == ["Value for undeclared variable"]


def test_type_conversion_error_points_at_the_file(tmp_path: Path) -> None:
    values, diags = resolve(tmp_path, {"terraform.fgvars": 'ports = [1, "x"]\n'})
    assert values["ports"] is UNKNOWN
    assert diags[0].summary == "Invalid value for input variable"
    assert "element 1: a number is required" in diags[0].detail
    assert diags[0].range.filename.endswith("terraform.fgvars")


SPECIAL = '''
variable "secret" {
  type      = string
  sensitive = true
  default   = "s3cret"
}

variable "strict" {
  type     = string
  nullable = false
  default  = "fallback"
}

variable "strict_required" {
  type     = string
  nullable = false
}

variable "loose" {
  type    = string
  default = "x"
}

variable "size" {
  type    = number
  default = 5
  validation {
    condition     = var.size >= 1 && var.size <= 10
    error_message = "size must be between 1 and 10, got ${var.size}."
  }
  validation {
    condition     = var.size % 2 == 1
    error_message = "size must be odd."
  }
}
'''


def test_sensitive_nullable_and_validation(tmp_path: Path) -> None:
    (tmp_path / "nulls.fgvars").write_text(
        "strict = null\nstrict_required = null\nloose = null\nsize = 12\n")
    values, diags = resolve(tmp_path, {}, [("var-file", "nulls.fgvars")], decls=SPECIAL)
    assert values["secret"] == Sensitive("s3cret")
    assert values["strict"] == "fallback"  # non-nullable null takes the default
    assert values["loose"] is None
    assert values["strict_required"] is UNKNOWN
    got = [(d.summary, d.detail.splitlines()[0]) for d in diags]
    assert got == [
        ("Required variable not set",
         "Unsuitable value for var.strict_required: required variable may not be set to null."),
        ("Invalid value for variable", "size must be between 1 and 10, got 12."),
        ("Invalid value for variable", "size must be odd."),
    ]
    assert all(d.range is not None and d.range.filename.endswith("nulls.fgvars")
               for d in diags)
