"""Validation over fixture folders: each folder is a configuration and its expected
diagnostics (`expected.txt`). Adding a case means adding a folder.

A folder may hold `args.txt` (one `-var k=v` or `-var-file F` per line) and `env.json`
(environment variables). Regenerate the golden files with FGFORM_UPDATE_GOLDEN=1, then
review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from fgform.addresses import Address, ModuleStep
from fgform.analysis import validate_config, walk
from fgform.config.evaluate import validate_resolver
from fgform.config.expand import ExpansionMode
from fgform.config.loader import load_config
from fgform.errors import Diagnostic, Severity
from fgform.values import UNKNOWN

FIXTURES = Path(__file__).parent / "fixtures" / "validate"
CASES = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir())


def render(diags: list[Diagnostic], root: Path) -> str:
    """Diagnostics as golden text: `Error: summary`, then `file:line` and any hint."""
    lines = []
    for d in diags:
        lines.append(f"{d.severity.value.capitalize()}: {d.summary}")
        if d.range is not None:
            name = d.range.filename
            try:
                name = str(Path(name).resolve().relative_to(root.resolve()))
            except ValueError:
                pass
            lines.append(f"  {name}:{d.range.start_line}")
        if d.hint:
            lines.append(f"  hint: {d.hint}")
    return "\n".join(lines) + "\n" if lines else ""


def run_case(case_dir: Path) -> list[Diagnostic]:
    """Load and validate a fixture folder the way `fgform validate` does."""
    var_args: list[tuple[str, str]] = []
    args = case_dir / "args.txt"
    if args.exists():
        for line in args.read_text().splitlines():
            if line.strip():
                flag, _, value = line.strip().partition(" ")
                if flag == "-var-file":
                    value = str(case_dir / value)
                var_args.append((flag.lstrip("-"), value))
    env_file = case_dir / "env.json"
    env = json.loads(env_file.read_text()) if env_file.exists() else {}
    config, diags = load_config(case_dir, use_cache=False)
    return list(diags) + validate_config(config, var_args=var_args, env=env, cwd=str(case_dir),
                                         validating=True)


@pytest.mark.parametrize("case", CASES)
def test_validate_fixture(case: str) -> None:
    case_dir = FIXTURES / case
    got = render(run_case(case_dir), case_dir)
    expected_file = case_dir / "expected.txt"
    if os.environ.get("FGFORM_UPDATE_GOLDEN"):
        expected_file.write_text(got)
    assert got == expected_file.read_text()


def test_every_problem_has_a_place() -> None:
    """Validation errors point at the user's file and line (the CLI prints them)."""
    for case in CASES:
        for d in run_case(FIXTURES / case):
            assert d.range is not None, (case, d.summary)
            assert d.range.start_line >= 1


# -- validate checks a configuration without variable values (as terraform validate) ------------
UNSET = '''\
variable "n" {
  type = number
}

variable "zones" {
  type = set(string)
}

resource "fg_cluster" "main" {
  count = var.n
  name  = "c-${count.index}"
}

resource "fg_target_group" "tg" {
  for_each = var.zones
  name     = "tg-${each.key}"
  port     = "eighty"
}

resource "fg_cluster" "computed" {
  count = length(fg_cluster.main[0].id)
  name  = fg_cluster.main[3].name
}

resource "fg_target_group" "computed_keys" {
  for_each = toset([fg_cluster.main[0].id])
  name     = each.value
  port     = 80
}

module "m" {
  source = "./child"
  count  = var.n
  label  = "x-${count.index}"
}

module "each" {
  source   = "./child"
  for_each = var.zones
  label    = each.key
}

output "o" {
  value = module.m[0].name
}
'''

CHILD = '''\
variable "label" {
  type = string
}

resource "fg_cluster" "c" {
  name  = var.label
  bogus = 1
}

output "name" {
  value = fg_cluster.c.name
}
'''


def _unset_config(tmp_path: Path):
    (tmp_path / "child").mkdir()
    (tmp_path / "main.tf").write_text(UNSET)
    (tmp_path / "child" / "main.tf").write_text(CHILD)
    config, diags = load_config(tmp_path, use_cache=False)
    assert diags == []
    return config


def _where(diags: list[Diagnostic], root: Path) -> list[str]:
    return render(diags, root).splitlines()


def test_validate_treats_unset_variables_and_unknown_counts_as_unknown(tmp_path: Path) -> None:
    config = _unset_config(tmp_path)
    diags = validate_config(config, cwd=str(tmp_path), env={}, validating=True)
    # No "No value for required variable", no "Invalid count/for_each argument": one
    # representative instance of each resource and module is still checked.
    assert _where(diags, tmp_path) == [
        "Error: Unsupported argument", "  child/main.tf:7",
        "Error: Incorrect attribute value type", "  main.tf:17",
    ]


def test_without_validating_unset_variables_and_unknown_counts_are_errors(
        tmp_path: Path) -> None:
    config = _unset_config(tmp_path)
    diags = validate_config(config, cwd=str(tmp_path), env={})
    assert _where(diags, tmp_path)[:6] == [
        "Error: Unsupported argument", "  child/main.tf:7",
        "Error: No value for required variable", "  main.tf:1",
        "Error: No value for required variable", "  main.tf:5",
    ]
    summaries = [d.summary for d in diags]
    assert summaries.count("Invalid count argument") == 3
    assert summaries.count("Invalid for_each argument") == 3


def test_plan_still_needs_every_count_known(tmp_path: Path) -> None:
    """With values, validation checks every instance (out-of-range index included), and a
    count that depends on a computed attribute is plan's error, not validate's."""
    from fgform.config.variables import resolve_variables

    config = _unset_config(tmp_path)
    args = [("var", "n=2"), ("var", 'zones=["a"]')]
    diags = validate_config(config, var_args=args, cwd=str(tmp_path), env={}, validating=True)
    assert [d.summary for d in diags] == ["Unsupported argument", "Incorrect attribute value type",
                                          "Invalid index"]
    values, vdiags = resolve_variables(config.module, tmp_path, args, env={})
    assert vdiags == []
    result = walk(config, values, validate_resolver, cwd=str(tmp_path))
    unknown = [(d.summary, d.range.start_line) for d in result.diagnostics
               if "cannot be determined until apply" in d.detail]
    assert unknown == [("Invalid count argument", 21), ("Invalid for_each argument", 26)]


def test_validating_walk_checks_one_representative_instance(tmp_path: Path) -> None:
    config = _unset_config(tmp_path)
    result = walk(config, {"n": UNKNOWN, "zones": UNKNOWN}, validate_resolver,
                  cwd=str(tmp_path), validating=True)
    exp = result.expansions[Address("fg_cluster", "main")]
    assert exp.unknown and exp.mode is ExpansionMode.COUNT and exp.keys == [None]
    assert result.expansions[Address("fg_target_group", "tg")].mode is ExpansionMode.FOR_EACH
    cfg = result.configs[Address("fg_cluster", "main")]
    assert cfg["name"] is UNKNOWN  # "c-${count.index}", count.index unknown
    assert result.configs[Address("fg_target_group", "tg")]["name"] is UNKNOWN
    assert Address("fg_cluster", "c", None, (ModuleStep("m", None),)) in result.configs
    assert result.outputs["o"] is UNKNOWN


def test_sensitive_for_each_is_an_error_even_when_unknown(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        'variable "zones" {\n  type      = set(string)\n  sensitive = true\n}\n\n'
        'resource "fg_target_group" "tg" {\n  for_each = var.zones\n  port     = 80\n}\n')
    config, _ = load_config(tmp_path, use_cache=False)
    diags = validate_config(config, var_args=[("var", 'zones=["a"]')], env={},
                            cwd=str(tmp_path), validating=True)
    assert [d.summary for d in diags] == ["Invalid for_each argument"]


@pytest.mark.parametrize("rel", ["modules/web-service", "examples/hello",
                                 "examples/two-services"])
def test_shipped_modules_and_examples_validate_without_values(rel: str) -> None:
    from fgform import workflow

    root = Path(__file__).resolve().parents[2] / rel
    diags = workflow.validate(root)
    assert [d for d in diags if d.severity is Severity.ERROR] == []


def test_tasks_publishing_one_host_port_cannot_outnumber_the_instances() -> None:
    """Plan refuses what placement would refuse for sure: more tasks publishing a host port
    than the instances (whose addresses the clusters share) can hold."""
    one = run_case(FIXTURES / "host_port_placement")
    assert [d.detail for d in one] == [
        "fg_service.crowded runs 3 task(s) that publish host port 8080/udp, but "
        "fg_cluster.one has 1 instance(s), and two tasks that publish the same host port "
        "never share an instance: at most 1 can run. Raise capacity.instance_count, lower "
        "desired_count, or drop host_port and reach the tasks through a load balancer "
        "(fg_load_balancer)."]
    shared = run_case(FIXTURES / "host_port_shared")
    assert [d.detail for d in shared] == [
        "The tasks of fg_service.b (1) and fg_service.a (2) all publish host port 8080: 3 "
        "task(s), but instance K of every cluster publishes on the same address "
        "(127.0.0.K+1), so fg_cluster.one and fg_cluster.two offer 2 address(es) for it "
        "between them, and two tasks that publish the same host port never share an "
        "instance. Raise capacity.instance_count, lower desired_count, or drop host_port "
        "and reach the tasks through a load balancer (fg_load_balancer)."]
