"""Data sources (`data "fg_image"`, `data "fg_task_definition"`, `data "fg_cluster"`) with
Terraform's lifecycle, planned and applied on the in-memory fleet; the `terraform` block's
required_version and required_providers; provider blocks and `provider =`.

The expected plan texts, action reasons and version-constraint answers were recorded from
Terraform 1.11.4 (data "terraform_remote_state" and terraform_data in its place, and
`terraform validate` of `required_version` constraints)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fgform import workflow
from fgform.addresses import parse_address
from fgform.config.blocks_terraform import satisfies
from fgform.errors import DiagnosticsError
from fgform.plan.model import Action, ActionReason, PlanMode
from fgform.render.json_plan import plan_json
from fgform.render.text import render_plan
from fgform.state.model import StateFile

from helpers.fakefleet import FakeFleet

DIGEST = "sha256:" + "ab" * 32

IMAGE_KNOWN = """
data "fg_image" "app" {
  registry   = "reg-1"
  repository = "app"
  tag        = "v1"
}
output "digest" { value = data.fg_image.app.digest }
output "uri" { value = data.fg_image.app.uri }
"""


def _wd(tmp_path: Path, text: str) -> workflow.WorkingDir:
    (tmp_path / "main.tf").write_text(text)
    return workflow.open_working_dir(tmp_path)


def _plan(tmp_path: Path, text: str, fleet: FakeFleet, **kw):
    wd = _wd(tmp_path, text)
    return wd, workflow.make_plan(wd, fleet, **kw)


def _apply(wd: workflow.WorkingDir, fleet: FakeFleet, plan) -> StateFile:
    outcome = workflow.apply(wd, fleet, plan)
    assert outcome.result.ok, outcome.result.errors
    state = wd.store.read()
    assert state is not None
    return state


def _text(plan) -> str:
    return render_plan(plan, color=False)


# -- addresses and state ----------------------------------------------------------------------
def test_data_addresses_parse_print_and_sort_first() -> None:
    a = parse_address('module.m["x"].data.fg_image.app[0]')
    assert a.mode == "data" and a.type == "fg_image" and a.key == 0
    assert str(a) == 'module.m["x"].data.fg_image.app[0]'
    assert str(a.resource) == 'module.m["x"].data.fg_image.app'
    assert parse_address("fg_image.app").mode == "managed"
    # Terraform lists data resources before managed ones (`terraform state list`).
    assert sorted([parse_address("fg_cluster.a"), parse_address("data.fg_image.z")]) == [
        parse_address("data.fg_image.z"), parse_address("fg_cluster.a")]


def test_state_keeps_mode_data_apart_from_a_managed_resource_of_that_name() -> None:
    from fgform.state.model import InstanceState

    st = StateFile(lineage="l")
    st.set(parse_address("fg_image.app"), InstanceState(None, {"id": "managed"}))
    st.set(parse_address("data.fg_image.app"), InstanceState(None, {"id": "data"}))
    d = st.to_dict()
    assert [(r.get("mode", "managed"), r["type"]) for r in d["resources"]] == [
        ("data", "fg_image"), ("managed", "fg_image")]
    back = StateFile.from_dict(json.loads(json.dumps(d)))
    assert back.get(parse_address("data.fg_image.app")).attributes == {"id": "data"}
    assert back.get(parse_address("fg_image.app")).attributes == {"id": "managed"}


# -- read during plan -------------------------------------------------------------------------
def test_known_arguments_are_read_during_plan_and_stored_with_mode_data(tmp_path: Path
                                                                        ) -> None:
    fleet = FakeFleet()
    fleet.images[("app", "v1")] = DIGEST
    wd, plan = _plan(tmp_path, IMAGE_KNOWN, fleet)
    # No change is planned for a data resource read during plan (as in Terraform).
    assert plan.changes == []
    assert fleet.data_reads == [("fg_image", {"registry": "reg-1", "repository": "app",
                                              "tag": "v1"})]
    outs = {o.name: o.after for o in plan.output_changes}
    assert outs == {"digest": DIGEST, "uri": f"fake-reg-1/app@{DIGEST}"}
    doc = plan_json(plan)
    res = doc["prior_state"]["values"]["root_module"]["resources"]
    assert [(r["address"], r["mode"]) for r in res] == [("data.fg_image.app", "data")]
    state = _apply(wd, fleet, plan)
    raw = json.loads(wd.state_path.read_text())
    assert [(r["mode"], r["type"], r["name"]) for r in raw["resources"]] == [
        ("data", "fg_image", "app")]
    assert state.outputs["digest"].value == DIGEST
    # The next plan reads it again and has nothing to do.
    plan2 = workflow.make_plan(wd, fleet)
    assert not plan2.has_changes and len(fleet.data_reads) == 2


def test_a_failed_read_is_an_error_at_the_data_block(tmp_path: Path) -> None:
    with pytest.raises(DiagnosticsError) as e:
        _plan(tmp_path, IMAGE_KNOWN, FakeFleet())
    d = e.value.diagnostics[0]
    assert d.summary == "Failed to read data.fg_image.app"
    assert "no image app:v1" in d.detail
    assert d.range is not None and d.range.start_line == 2


# -- read during apply ------------------------------------------------------------------------
DEFERRED = """
resource "fg_registry" "main" {}
resource "fg_image" "app" {
  registry   = fg_registry.main.id
  repository = "app"
  context    = "./ctx"
}
data "fg_image" "app" {
  registry   = fg_registry.main.id
  repository = "app"
  # Read once the image is pushed (the registry alone would let it be read before).
  depends_on = [fg_image.app]
}
output "digest" { value = data.fg_image.app.digest }
"""


def test_unknown_arguments_defer_the_read_to_apply(tmp_path: Path) -> None:
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "Dockerfile").write_text("FROM scratch\n")
    fleet = FakeFleet()
    wd, plan = _plan(tmp_path, DEFERRED, fleet)
    read = next(c for c in plan.changes if c.address.is_data)
    assert read.action is Action.READ
    assert read.reason is ActionReason.READ_BECAUSE_CONFIG_UNKNOWN
    assert fleet.data_reads == []
    text = _text(plan)
    # Terraform 1.11's words and layout for a deferred read.
    assert " <= read (data resources)" in text
    assert ("  # data.fg_image.app will be read during apply\n"
            "  # (config refers to values not yet known)\n"
            ' <= data "fg_image" "app" {\n') in text
    assert "Plan: 2 to add, 0 to change, 0 to destroy." in text
    rc = next(r for r in plan_json(plan)["resource_changes"]
              if r["address"] == "data.fg_image.app")
    assert rc["mode"] == "data" and rc["change"]["actions"] == ["read"]
    assert rc["action_reason"] == "read_because_config_unknown"
    state = _apply(wd, fleet, plan)
    # Read after the registry and the image were made, with the registry's real id.
    registry_id = state.get(parse_address("fg_registry.main")).attributes["id"]
    assert fleet.data_reads == [("fg_image", {"registry": registry_id, "repository": "app",
                                              "tag": "latest"})]
    image = state.get(parse_address("fg_image.app")).attributes
    data = state.get(parse_address("data.fg_image.app")).attributes
    assert data["digest"] == image["digest"] and state.outputs["digest"].value == \
        image["digest"]
    assert data["registry"] == registry_id
    plan2 = workflow.make_plan(wd, fleet)
    assert not plan2.has_changes


def test_pending_dependency_defers_a_read_with_known_arguments(tmp_path: Path) -> None:
    text = """
resource "fg_cluster" "main" { name = "main" }
data "fg_cluster" "main" {
  name       = "main"
  depends_on = [fg_cluster.main]
}
output "net" { value = data.fg_cluster.main.network_name }
"""
    fleet = FakeFleet()
    wd, plan = _plan(tmp_path, text, fleet)
    read = next(c for c in plan.changes if c.address.is_data)
    assert read.action is Action.READ
    assert read.reason is ActionReason.READ_BECAUSE_DEPENDENCY_PENDING
    assert "  # (depends on a resource or a module with changes pending)" in _text(plan)
    state = _apply(wd, fleet, plan)
    cluster = state.get(parse_address("fg_cluster.main")).attributes
    assert state.get(parse_address("data.fg_cluster.main")).attributes["id"] == cluster["id"]
    # Nothing pending any more: read during plan, no change.
    plan2 = workflow.make_plan(wd, fleet)
    assert not plan2.has_changes and fleet.data_reads[-1] == ("fg_cluster", {"name": "main"})


def test_a_resource_using_a_deferred_read_gets_its_value_at_apply(tmp_path: Path) -> None:
    text = """
resource "fg_cluster" "main" { name = "main" }
data "fg_cluster" "main" {
  name       = "main"
  depends_on = [fg_cluster.main]
}
resource "fg_target_group" "tg" {
  name = data.fg_cluster.main.network_name
}
"""
    fleet = FakeFleet()
    wd, plan = _plan(tmp_path, text, fleet)
    state = _apply(wd, fleet, plan)
    tg = state.get(parse_address("fg_target_group.tg")).attributes
    assert tg["name"] == state.get(parse_address("data.fg_cluster.main")).attributes[
        "network_name"]
    assert "data.fg_cluster.main" in state.get(parse_address("fg_target_group.tg")).dependencies


# -- fg_task_definition and fg_cluster -------------------------------------------------------
TD = """
resource "fg_task_definition" "web" {
  family = "web"
  container "web" { image = "nginx:%s" }
}
"""


def test_task_definition_reads_the_latest_active_revision_from_state(tmp_path: Path) -> None:
    fleet = FakeFleet()
    wd, plan = _plan(tmp_path, TD % "1", fleet)
    _apply(wd, fleet, plan)
    wd, plan = _plan(tmp_path, TD % "2" + """
data "fg_task_definition" "web" {
  family     = "web"
  depends_on = [fg_task_definition.web]
}
output "arn" { value = data.fg_task_definition.web.arn }
output "image" { value = data.fg_task_definition.web.container[0].image }
""", fleet)
    # The family's definition changes in this plan: the read waits for apply.
    read = next(c for c in plan.changes if c.address.is_data)
    assert read.reason is ActionReason.READ_BECAUSE_DEPENDENCY_PENDING
    state = _apply(wd, fleet, plan)
    td = state.get(parse_address("fg_task_definition.web")).attributes
    assert state.outputs["arn"].value == td["arn"]
    assert state.outputs["image"].value == "nginx:2"
    # Without the dependency it is read during plan: the revision state holds then.
    wd, plan = _plan(tmp_path, TD % "3" + """
data "fg_task_definition" "web" { family = "web" }
output "arn" { value = data.fg_task_definition.web.arn }
""", fleet)
    assert all(not c.address.is_data for c in plan.changes)
    assert next(o for o in plan.output_changes if o.name == "arn").after == td["arn"]


def test_task_definition_of_an_unknown_family_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DiagnosticsError) as e:
        _plan(tmp_path, 'data "fg_task_definition" "x" { family = "nope" }\n', FakeFleet())
    assert "no ACTIVE revision of task definition family 'nope'" in \
        e.value.diagnostics[0].detail


def test_count_and_for_each_on_data_resources(tmp_path: Path) -> None:
    fleet = FakeFleet()
    fleet.images[("a", "latest")] = "sha256:" + "a" * 64
    fleet.images[("b", "latest")] = "sha256:" + "b" * 64
    wd, plan = _plan(tmp_path, """
data "fg_image" "each" {
  for_each   = toset(["a", "b"])
  registry   = "r"
  repository = each.key
}
data "fg_image" "counted" {
  count      = 1
  registry   = "r"
  repository = "a"
}
output "d" { value = { for k, v in data.fg_image.each : k => v.digest } }
output "c" { value = data.fg_image.counted[0].digest }
""", fleet)
    state = _apply(wd, fleet, plan)
    assert state.outputs["d"].value == {"a": "sha256:" + "a" * 64, "b": "sha256:" + "b" * 64}
    assert state.outputs["c"].value == "sha256:" + "a" * 64
    assert [str(a) for a in state.addresses()] == [
        "data.fg_image.counted[0]", 'data.fg_image.each["a"]', 'data.fg_image.each["b"]']


def test_a_data_resource_gone_from_the_configuration_leaves_state_quietly(tmp_path: Path
                                                                           ) -> None:
    fleet = FakeFleet()
    fleet.images[("app", "v1")] = DIGEST
    wd, plan = _plan(tmp_path, IMAGE_KNOWN, fleet)
    _apply(wd, fleet, plan)
    wd, plan = _plan(tmp_path, 'output "x" { value = 1 }\n', fleet)
    assert all(not c.address.is_data for c in plan.changes)
    state = _apply(wd, fleet, plan)
    assert state.addresses() == []


def test_destroy_removes_data_resources_from_state(tmp_path: Path) -> None:
    fleet = FakeFleet()
    fleet.images[("app", "v1")] = DIGEST
    wd, plan = _plan(tmp_path, IMAGE_KNOWN, fleet)
    _apply(wd, fleet, plan)
    plan = workflow.make_plan(wd, fleet, mode=PlanMode.DESTROY)
    assert plan.changes == []
    state = _apply(wd, fleet, plan)
    assert state.resources == []


def test_state_show_prints_a_data_block(tmp_path: Path) -> None:
    from fgform.render.state_hcl import state_show

    fleet = FakeFleet()
    fleet.images[("app", "v1")] = DIGEST
    wd, plan = _plan(tmp_path, IMAGE_KNOWN, fleet)
    state = _apply(wd, fleet, plan)
    out = state_show(state, "data.fg_image.app")
    assert out.startswith('# data.fg_image.app:\ndata "fg_image" "app" {')


# -- validation -------------------------------------------------------------------------------
def _errors(tmp_path: Path, text: str) -> list[str]:
    (tmp_path / "main.tf").write_text(text)
    return [f"{d.summary}: {d.detail}" for d in workflow.validate(tmp_path)]


def test_reference_and_type_errors(tmp_path: Path) -> None:
    errs = _errors(tmp_path, """
data "fg_imag" "x" {}
data "fg_cluster" "c" { name = "c" }
output "a" { value = data.fg_cluster.nope.id }
output "b" { value = data.fg_cluster.c.digest }
""")
    assert any(e.startswith("Invalid data source: fgform has no data source \"fg_imag\"")
               for e in errs), errs
    assert any(e.startswith('Reference to undeclared resource: A data resource "fg_cluster" '
                            '"nope" has not been declared') for e in errs), errs
    assert any(e.startswith("Unsupported attribute") and '"digest"' in e for e in errs), errs


def test_missing_argument_of_a_data_source(tmp_path: Path) -> None:
    errs = _errors(tmp_path, 'data "fg_image" "x" { registry = "r" }\n')
    assert any("repository" in e for e in errs), errs


# -- the terraform block ------------------------------------------------------------------------
# Whether Terraform 1.11.4 accepts `required_version = C` (recorded with terraform validate).
TERRAFORM_1_11_4 = {
    ">= 1.2, < 2.0": True, "~> 1.4": True, "~> 1.4.0": False, "~> 1.11.0": True,
    "~> 1.11.5": False, "~> 1": True, "~> 1.11": True, "= 1.11.4": True, "1.11.4": True,
    "!= 1.11.4": False, "> 1.11.4": False, "<= 1.11.4": True, "< 1.11": False,
    ">= 1.12": False, "~> 0.9": False, "~> 1.10.0": False, ">1.2": True, "=1.11.4": True,
    "v1.11.4": True, ">= 1.2,< 2": True, ">= 1.2.3.4": True,
}


@pytest.mark.parametrize("constraint", sorted(TERRAFORM_1_11_4))
def test_version_constraints_as_terraform_reads_them(constraint: str) -> None:
    assert satisfies("1.11.4", constraint) is TERRAFORM_1_11_4[constraint]


def test_required_version_unmet_is_a_clear_error(tmp_path: Path) -> None:
    errs = _errors(tmp_path, 'terraform {\n  required_version = ">= 9.0"\n}\n')
    assert len(errs) == 1 and errs[0].startswith(
        "Unsupported fgform version: This configuration does not support fgform version")
    assert _errors(tmp_path, 'terraform {\n  required_version = ">= 0.1, < 9"\n}\n') == []
    assert _errors(tmp_path, 'terraform {\n  required_version = "~> banana"\n}\n') == [
        "Invalid version constraint: This string does not use correct version constraint "
        "syntax."]
    assert _errors(tmp_path, 'terraform {\n  required_version = ">= 0.1.0-beta1"\n}\n')[
        0].startswith("Invalid required_version constraint: Prerelease version constraints")


def test_required_providers(tmp_path: Path) -> None:
    ok = """
terraform {
  required_providers {
    fg = { source = "fgform/fg", version = ">= 0.1" }
  }
}
"""
    assert _errors(tmp_path, ok) == []
    errs = _errors(tmp_path, """
terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}
""")
    assert len(errs) == 1 and errs[0].startswith('Provider not available: fgform has no '
                                                 'provider "aws"')


def test_backends_other_than_local_say_state_is_kept_locally(tmp_path: Path) -> None:
    errs = _errors(tmp_path, 'terraform {\n  backend "s3" {}\n}\n')
    assert len(errs) == 1 and "fgform keeps its state locally" in errs[0]
    errs = _errors(tmp_path, 'terraform {\n  cloud {}\n}\n')
    assert len(errs) == 1 and "fgform keeps its state locally" in errs[0]


def test_provider_blocks_and_the_provider_meta_argument(tmp_path: Path) -> None:
    ok = """
provider "fg" {}
provider "fg" { alias = "west" }
resource "fg_target_group" "a" { provider = fg.west }
data "fg_cluster" "c" {
  provider = fg
  name     = "c"
}
"""
    assert _errors(tmp_path, ok) == []
    errs = _errors(tmp_path, """
provider "fg" { alias = "west" }
provider "fg" { alias = "west" }
provider "aws" {}
""")
    assert any(e.startswith('Duplicate provider configuration: A provider configuration for '
                            '"fg" with alias "west" was already given') for e in errs), errs
    assert any(e.startswith('Provider not available: fgform has no provider "aws"')
               for e in errs), errs
    errs = _errors(tmp_path, 'resource "fg_target_group" "a" { provider = fg.east }\n')
    assert errs == ["Provider configuration not present: The provider configuration fg.east "
                    'is not declared: add provider "fg" { alias = "east" }.'], errs


def test_a_saved_plan_keeps_reads_and_data_in_its_prior_state(tmp_path: Path) -> None:
    from fgform.plan.planfile import load_plan, save_plan

    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "Dockerfile").write_text("FROM scratch\n")
    fleet = FakeFleet()
    wd, plan = _plan(tmp_path, DEFERRED, fleet)
    save_plan(plan, tmp_path / "p.plan")
    back = load_plan(tmp_path / "p.plan")
    read = next(c for c in back.changes if c.address.is_data)
    assert str(read.address) == "data.fg_image.app" and read.action is Action.READ
    assert read.reason is ActionReason.READ_BECAUSE_CONFIG_UNKNOWN
    state = _apply(wd, fleet, back)
    assert state.get(parse_address("data.fg_image.app")) is not None

    fleet.images[("app", "v1")] = DIGEST
    wd, plan = _plan(tmp_path, IMAGE_KNOWN, fleet)
    save_plan(plan, tmp_path / "q.plan")
    back = load_plan(tmp_path / "q.plan")
    assert back.prior_state is not None
    assert back.prior_state.get(parse_address("data.fg_image.app")).attributes["digest"] == \
        DIGEST


def test_modules_take_provider_configurations(tmp_path: Path) -> None:
    (tmp_path / "mod").mkdir()
    (tmp_path / "mod" / "main.tf").write_text("""
terraform {
  required_providers {
    fg = { source = "fgform/fg", configuration_aliases = [fg.west] }
  }
}
resource "fg_target_group" "t" { provider = fg.west }
""")
    ok = """
provider "fg" { alias = "west" }
module "m" {
  source    = "./mod"
  providers = { fg.west = fg.west }
}
"""
    assert _errors(tmp_path, ok) == []
    errs = _errors(tmp_path, ok.replace("= fg.west }", "= fg.nope }"))
    assert errs == ["Provider configuration not present: The provider configuration fg.nope "
                    'is not declared: add provider "fg" { alias = "nope" }.'], errs


def test_plan_prints_terraforms_reading_lines(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from fgform.cli import Environment, run

    (tmp_path / "main.tf").write_text(IMAGE_KNOWN)
    fleet = FakeFleet()
    fleet.images[("app", "v1")] = DIGEST
    argv = [f"-chdir={tmp_path}", "plan", "-no-color"]
    env = Environment.from_process(argv)
    env.fleet = fleet
    assert run(argv, env) == 0
    out = capsys.readouterr().out
    # As Terraform 1.11 prints a data source read during plan (terraform_remote_state).
    assert out.startswith("data.fg_image.app: Reading...\n"
                          "data.fg_image.app: Read complete after 0s "
                          "[id=fake-reg-1/app:v1]\n"), out
    argv = [f"-chdir={tmp_path}", "plan", "-json"]
    env = Environment.from_process(argv)
    env.fleet = fleet
    run(argv, env)
    assert "Reading..." not in capsys.readouterr().out
