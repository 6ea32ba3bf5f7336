"""moved, removed, import and check blocks through the command line, on the in-memory fleet
(tests/helpers/fakefleet.py). The expected texts were recorded from Terraform 1.11.4 with
terraform_data resources (`terraform plan` / `apply` / `show -json`) and carry fgform's name
where Terraform's own name appears; attribute values are fgform's resources'.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from fgform.cli import Environment, run

from helpers.fakefleet import FakeFleet


class Runner:
    """`fgform ARGS` in a directory, on one FakeFleet for the whole test."""

    def __init__(self, d: Path) -> None:
        self.dir = d
        self.fleet = FakeFleet()

    def write(self, text: str) -> None:
        (self.dir / "main.tf").write_text(text)

    def __call__(self, *args: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        env = Environment(stdin=io.StringIO(""), stdout=out, stderr=err,
                          environ={"NO_COLOR": "1"}, cwd=self.dir, fleet=self.fleet)
        code = run(list(args), env)
        assert "Traceback" not in out.getvalue() + err.getvalue()
        return code, out.getvalue(), err.getvalue()

    def ok(self, *args: str) -> str:
        code, out, err = self(*args)
        assert code == 0, (out, err)
        return out

    def state_list(self) -> list[str]:
        return self.ok("state", "list").split()

    def plan_json(self, *args: str) -> dict:
        self.ok("plan", "-out", "p.fgplan", *args)
        return json.loads(self.ok("show", "-json", "p.fgplan"))


@pytest.fixture
def fg(tmp_path: Path) -> Runner:
    return Runner(tmp_path)


BEFORE_MOVE = """
resource "fg_cluster" "a" {
  cidr_block = "10.1.0.0/24"
}
resource "fg_cluster" "c" {
  count      = 2
  cidr_block = "10.2.${count.index}.0/24"
}
"""

AFTER_MOVE = """
resource "fg_cluster" "b" {
  cidr_block = "10.1.0.0/24"
}
resource "fg_cluster" "d" {
  for_each   = { k0 = 0, k1 = 1 }
  cidr_block = "10.2.${each.value}.0/24"
}
moved {
  from = fg_cluster.a
  to   = fg_cluster.b
}
moved {
  from = fg_cluster.c[0]
  to   = fg_cluster.d["k0"]
}
moved {
  from = fg_cluster.c[1]
  to   = fg_cluster.d["k1"]
}
"""


def test_moves_are_planned_shown_and_applied_as_terraform_does(fg: Runner) -> None:
    fg.write(BEFORE_MOVE)
    fg.ok("apply", "-auto-approve")
    made = dict(fg.fleet.objects)
    fg.write(AFTER_MOVE)
    code, out, _ = fg("plan", "-detailed-exitcode")
    # Terraform: moves alone are changes for -detailed-exitcode (exit 2), have no legend,
    # and the summary counts nothing.
    assert code == 2
    assert out.startswith("\nfgform will perform the following actions:\n\n"
                          "  # fg_cluster.a has moved to fg_cluster.b\n"
                          '    resource "fg_cluster" "b" {\n'
                          '        id = "cluster-1"\n')
    assert '  # fg_cluster.c[0] has moved to fg_cluster.d["k0"]\n' in out
    assert '  # fg_cluster.c[1] has moved to fg_cluster.d["k1"]\n' in out
    assert "Resource actions are indicated" not in out
    assert "\nPlan: 0 to add, 0 to change, 0 to destroy.\n" in out
    doc = fg.plan_json()
    rc = {c["address"]: c for c in doc["resource_changes"]}
    # Terraform's JSON: previous_address right after address, the action a no-op.
    assert list(rc["fg_cluster.b"])[:2] == ["address", "previous_address"]
    assert rc["fg_cluster.b"]["previous_address"] == "fg_cluster.a"
    assert rc['fg_cluster.d["k1"]']["previous_address"] == "fg_cluster.c[1]"
    assert rc["fg_cluster.b"]["change"]["actions"] == ["no-op"]
    assert doc["applyable"] is True
    fg.ok("apply", "p.fgplan")
    assert fg.state_list() == ["fg_cluster.b", 'fg_cluster.d["k0"]', 'fg_cluster.d["k1"]']
    assert fg.fleet.objects == made and fg.fleet.deletes == []  # the fleet is untouched
    code, out, _ = fg("plan", "-detailed-exitcode")
    assert code == 0 and "No changes." in out


def test_a_chain_of_moves_ends_at_its_last_address_and_a_change_says_moved_from(
        fg: Runner) -> None:
    fg.write('resource "fg_cluster" "a" {\n  cidr_block = "10.1.0.0/24"\n}\n')
    fg.ok("apply", "-auto-approve")
    fg.write("""
resource "fg_cluster" "c" {
  cidr_block         = "10.1.0.0/24"
  placement_strategy = "binpack"
}
moved {
  from = fg_cluster.a
  to   = fg_cluster.b
}
moved {
  from = fg_cluster.b
  to   = fg_cluster.c
}
moved {
  from = fg_cluster.nothere
  to   = fg_cluster.c2
}
""")
    out = fg.ok("plan")
    # Terraform: "# terraform_data.e will be updated in-place\n  # (moved from ...)"
    assert ("  # fg_cluster.c will be updated in-place\n"
            "  # (moved from fg_cluster.a)\n"
            '  ~ resource "fg_cluster" "c" {\n') in out
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in out
    assert "nothere" not in out  # a move of nothing is no change
    fg.ok("apply", "-auto-approve")
    assert fg.state_list() == ["fg_cluster.c"]


def test_moves_into_a_module(fg: Runner) -> None:
    (fg.dir / "m").mkdir()
    (fg.dir / "m" / "main.tf").write_text(
        'resource "fg_cluster" "in" {\n  cidr_block = "10.1.0.0/24"\n}\n')
    fg.write('resource "fg_cluster" "a" {\n  cidr_block = "10.1.0.0/24"\n}\n')
    fg.ok("apply", "-auto-approve")
    fg.write("""
module "x" {
  source = "./m"
}
moved {
  from = fg_cluster.a
  to   = module.x.fg_cluster.in
}
""")
    out = fg.ok("plan")
    assert "  # fg_cluster.a has moved to module.x.fg_cluster.in\n" in out
    fg.ok("apply", "-auto-approve")
    assert fg.state_list() == ["module.x.fg_cluster.in"]
    # and a whole module call moved keeps what is inside it
    fg.write("""
module "y" {
  source = "./m"
}
moved {
  from = module.x
  to   = module.y
}
""")
    assert "  # module.x.fg_cluster.in has moved to module.y.fg_cluster.in\n" in fg.ok("plan")
    fg.ok("apply", "-auto-approve")
    assert fg.state_list() == ["module.y.fg_cluster.in"]
    assert fg.fleet.deletes == []


def test_a_move_onto_an_object_in_state_is_not_made_and_warned_about(fg: Runner) -> None:
    fg.write('resource "fg_cluster" "a" {\n}\nresource "fg_cluster" "x" {\n'
             '  cidr_block = "10.5.0.0/24"\n}\n')
    fg.ok("apply", "-auto-approve")
    fg.write('resource "fg_cluster" "x" {\n  cidr_block = "10.5.0.0/24"\n}\n'
             "moved {\n  from = fg_cluster.a\n  to   = fg_cluster.x\n}\n")
    out = fg.ok("plan")
    # Terraform 1.11: a warning, and the object left at its old address is destroyed.
    assert "  # fg_cluster.a will be destroyed\n" in out
    assert "│ Warning: Unresolved resource instance address changes\n" in out
    assert "│   - fg_cluster.a could not move to fg_cluster.x\n" in out


@pytest.mark.parametrize("config, summary, detail", [
    ('resource "fg_cluster" "a" {\n}\nresource "fg_cluster" "x" {\n}\n'
     "moved {\n  from = fg_cluster.a\n  to   = fg_cluster.x\n}\n",
     "Moved object still exists",
     "This statement declares a move from fg_cluster.a, but that resource is still"),
    ('resource "fg_cluster" "a" {\n}\n'
     "moved {\n  from = fg_cluster.a\n  to   = fg_cluster.a\n}\n",
     "Redundant move statement",
     "This statement declares a move from fg_cluster.a to the same address"),
    ('resource "fg_cluster" "a" {\n}\n'
     "moved {\n  from = fg_cluster.q\n  to   = fg_cluster.r\n}\n"
     "moved {\n  from = fg_cluster.r\n  to   = fg_cluster.q\n}\n",
     "Cyclic dependency in move statements",
     "fg_cluster.q[*] \u2192 fg_cluster.r[*]"),
    ('resource "fg_cluster" "b" {\n}\n'
     "removed {\n  from = fg_cluster.b\n  lifecycle {\n    destroy = false\n  }\n}\n",
     "Removed resource still exists",
     "This statement declares that fg_cluster.b was removed, but it is still"),
    ('import {\n  to = fg_cluster.z\n  id = "n"\n}\n',
     "Configuration for import target does not exist",
     "The configuration for the given import target fg_cluster.z does not exist."),
])
def test_terraform_s_errors_for_bad_refactoring_blocks(fg: Runner, config: str, summary: str,
                                                       detail: str) -> None:
    fg.write(config)
    code, out, err = fg("validate")
    assert code == 1, (out, err)
    assert f"Error: {summary}" in err
    assert detail in " ".join(err.split()).replace("\u2192 ", "\u2192 ")


REMOVED = """
removed {
  from = fg_cluster.a
  lifecycle {
    destroy = false
  }
}
removed {
  from = fg_cluster.b
  lifecycle {
    destroy = false
  }
}
removed {
  from = fg_cluster.c
  lifecycle {
    destroy = true
  }
}
"""


def test_removed_forgets_without_destroying_or_destroys(fg: Runner) -> None:
    fg.write('resource "fg_cluster" "a" {\n  cidr_block = "10.1.0.0/24"\n}\n'
             'resource "fg_cluster" "b" {\n  count = 2\n  cidr_block = "10.2.${count.index}'
             '.0/24"\n}\nresource "fg_cluster" "c" {\n  cidr_block = "10.3.0.0/24"\n}\n')
    fg.ok("apply", "-auto-approve")
    kept = {k: v for k, v in fg.fleet.objects.items() if v["cidr_block"] != "10.3.0.0/24"}
    fg.write(REMOVED)
    code, out, _ = fg("plan", "-detailed-exitcode")
    assert code == 2
    # Terraform's layout: one space before "#" and ".", the object shown unchanged.
    assert (" # fg_cluster.a will no longer be managed by fgform, but will not be destroyed\n"
            " # (destroy = false is set in the configuration)\n"
            ' . resource "fg_cluster" "a" {\n'
            '        id = "cluster-1"\n') in out
    assert " # fg_cluster.b[1] will no longer be managed by fgform" in out
    assert "  # fg_cluster.c will be destroyed\n" in out
    assert "Plan: 0 to add, 0 to change, 1 to destroy." in out
    assert ("│ Warning: Some objects will no longer be managed by fgform\n│\n"
            "│ If you apply this plan, fgform will discard its tracking information for\n"
            "│ the following objects, but it will not delete them:\n"
            "│  - fg_cluster.a\n") in out
    doc = fg.plan_json()
    rc = {c["address"]: c for c in doc["resource_changes"]}
    assert rc["fg_cluster.a"]["change"]["actions"] == ["forget"]
    assert rc["fg_cluster.a"]["change"]["after"] is None
    assert rc["fg_cluster.a"]["action_reason"] == "delete_because_no_resource_config"
    assert rc["fg_cluster.c"]["change"]["actions"] == ["delete"]
    out = fg.ok("apply", "p.fgplan")
    assert "Apply complete! Resources: 0 added, 0 changed, 1 destroyed." in out
    assert fg.state_list() == []
    assert fg.fleet.objects == kept  # forgotten objects stay on the fleet


def test_a_forget_only_plan_has_terraform_s_empty_legend(fg: Runner) -> None:
    fg.write('resource "fg_cluster" "a" {\n}\n')
    fg.ok("apply", "-auto-approve")
    fg.write(REMOVED.split("removed {\n  from = fg_cluster.b")[0])
    out = fg.ok("plan")
    assert out.startswith("\nfgform compared the configuration with the state and the live "
                          "fleet to\ngenerate the following execution plan. Resource actions "
                          "are indicated with\nthe following symbols:\n\nfgform will perform "
                          "the following actions:\n")
    assert "Plan: 0 to add, 0 to change, 0 to destroy." in out


PLAIN = {"id": "plainnet", "name": "plainnet", "cidr_block": "10.9.0.0/24",
         "placement_strategy": "spread", "capacity": None, "network_name": "plainnet"}


def test_import_adopts_an_object_and_plans_an_update_where_config_differs(fg: Runner) -> None:
    fg.fleet.objects[("", "fg_cluster", "plainnet")] = dict(PLAIN)  # not fgform's
    fg.write("""
import {
  to = fg_cluster.p
  id = "plainnet"
}
resource "fg_cluster" "p" {
  name               = "plainnet"
  cidr_block         = "10.9.0.0/24"
  placement_strategy = "binpack"
}
""")
    code, out, _ = fg("plan", "-detailed-exitcode")
    assert code == 2
    assert ("  # fg_cluster.p will be updated in-place\n"
            '  # (imported from "plainnet")\n'
            '  ~ resource "fg_cluster" "p" {\n') in out
    assert "Plan: 1 to import, 0 to add, 1 to change, 0 to destroy." in out
    doc = fg.plan_json()
    change = doc["resource_changes"][0]["change"]
    assert change["actions"] == ["update"] and change["importing"] == {"id": "plainnet"}
    markdown = fg.ok("show", "-markdown", "p.fgplan")
    assert "**1** to import, **0** to add, **1** to change, **0** to destroy" in markdown
    assert '#  (imported from "plainnet")' in markdown
    out = fg.ok("apply", "p.fgplan")
    assert ("fg_cluster.p: Importing... [id=plainnet]\n"
            "fg_cluster.p: Import complete [id=plainnet]\n") in out
    assert "Apply complete! Resources: 1 imported, 0 added, 1 changed, 0 destroyed." in out
    assert fg.state_list() == ["fg_cluster.p"]
    assert fg.fleet.objects[("", "fg_cluster", "plainnet")]["placement_strategy"] == "binpack"
    # In state now: the import block is skipped, and refresh finds the adopted object.
    code, out, _ = fg("plan", "-detailed-exitcode")
    assert code == 0 and "No changes." in out


def test_import_of_an_object_matching_its_configuration(fg: Runner) -> None:
    fg.fleet.objects[("other-lineage", "fg_cluster", "plainnet")] = dict(PLAIN)
    fg.write('import {\n  to = fg_cluster.p\n  id = "plainnet"\n}\n'
             'resource "fg_cluster" "p" {\n  name = "plainnet"\n'
             '  cidr_block = "10.9.0.0/24"\n}\n')
    code, out, _ = fg("plan", "-detailed-exitcode")
    assert code == 2
    # Terraform: "# terraform_data.b will be imported" and a body without symbols.
    assert ('  # fg_cluster.p will be imported\n    resource "fg_cluster" "p" {\n') in out
    assert "Plan: 1 to import, 0 to add, 0 to change, 0 to destroy." in out
    assert "Resource actions are indicated" not in out
    out = fg.ok("apply", "-auto-approve")
    assert "Apply complete! Resources: 1 imported, 0 added, 0 changed, 0 destroyed." in out


def test_import_errors(fg: Runner) -> None:
    fg.write('import {\n  to = fg_service.s\n  id = "x"\n}\n'
             'resource "fg_service" "s" {\n  cluster = "c"\n  task_definition = "t"\n}\n')
    code, _, err = fg("plan")
    assert code == 1 and "Error: Resource type cannot be imported" in err
    assert "fgform cannot import fg_service resources" in err
    fg.write('import {\n  to = fg_cluster.q\n  id = "nothere"\n}\nresource "fg_cluster" "q" {\n}\n')
    code, _, err = fg("plan")
    assert code == 1 and "Error: Cannot import non-existent remote object" in err


CHECKS = """
variable "v" {
  default = "z"
}
resource "fg_cluster" "a" {
  cidr_block = "10.1.0.0/24"
}
check "health" {
  assert {
    condition     = fg_cluster.a.network_name == "y"
    error_message = "a is not y"
  }
  assert {
    condition     = var.v == "z"
    error_message = "ok"
  }
}
check "second" {
  assert {
    condition     = var.v == "q"
    error_message = "v is ${var.v}, not q"
  }
}
"""


def test_check_blocks_warn_after_plan_and_after_apply(fg: Runner) -> None:
    fg.write(CHECKS)
    code, out, _ = fg("plan", "-detailed-exitcode")
    assert code == 2  # the create; failed checks are never errors
    # Terraform's warnings (its no-color box drawn as fgform draws warnings):
    assert ("│ Warning: Check block assertion known after apply\n│\n"
            '│   on main.tf line 10, in check "health":\n'
            '│   10:     condition     = fg_cluster.a.network_name == "y"\n│\n'
            "│ The condition could not be evaluated at this time, a result will be known\n"
            "│ when this plan is applied.\n") in out
    assert ("│ Warning: Check block assertion failed\n│\n"
            '│   on main.tf line 20, in check "second":\n'
            '│   20:     condition     = var.v == "q"\n│\n'
            "│ v is z, not q\n") in out
    doc = fg.plan_json()
    # Terraform's JSON `checks`: status per block, failed assertions' messages
    assert doc["checks"] == [
        {"address": {"kind": "check", "name": "health", "to_display": "check.health"},
         "status": "unknown",
         "instances": [{"address": {"to_display": "check.health"}, "status": "unknown"}]},
        {"address": {"kind": "check", "name": "second", "to_display": "check.second"},
         "status": "fail",
         "instances": [{"address": {"to_display": "check.second"}, "status": "fail",
                        "problems": [{"message": "v is z, not q"}]}]}]
    out = fg.ok("apply", "-auto-approve")
    after = out.split("fg_cluster.a: Creation complete")[1]
    assert ('│ Warning: Check block assertion failed\n│\n'
            '│   on main.tf line 10, in check "health":\n') in after
    assert "│ a is not y\n" in after
    assert after.index("a is not y") < after.index("Apply complete!")
    code, out, _ = fg("plan", "-detailed-exitcode")
    assert code == 0 and "No changes." in out and "│ a is not y\n" in out


def test_check_block_errors(fg: Runner) -> None:
    fg.write('check "c" {\n  assert {\n    condition     = 1 == 1\n'
             '    error_message = "x"\n  }\n}\n')
    code, _, err = fg("validate")
    assert code == 1
    assert "Error: Invalid assert expression" in err
    assert "Error: Zero assert blocks" in err


def test_check_block_references_are_checked(fg: Runner) -> None:
    # Terraform 1.11 validate: "Reference to undeclared resource" / "... input variable"
    fg.write('check "c" {\n  assert {\n    condition     = fg_cluster.nope.id == "y"\n'
             '    error_message = "x"\n  }\n  assert {\n    condition     = var.nope == "y"\n'
             '    error_message = "x"\n  }\n}\n')
    code, _, err = fg("validate")
    assert code == 1
    assert "Error: Reference to undeclared resource" in err
    assert "Error: Reference to undeclared input variable" in err


def test_count_added_is_an_implied_move_and_for_each_needs_a_moved_block(fg: Runner) -> None:
    fg.write('resource "fg_cluster" "a" {\n  cidr_block = "10.1.0.0/24"\n}\n')
    fg.ok("apply", "-auto-approve")
    fg.write('resource "fg_cluster" "a" {\n  count = 2\n'
             '  cidr_block = "10.1.${count.index}.0/24"\n}\n')
    out = fg.ok("plan")
    # Terraform 1.11: "# terraform_data.a has moved to terraform_data.a[0]" with no block
    assert "  # fg_cluster.a has moved to fg_cluster.a[0]\n" in out
    assert "  # fg_cluster.a[1] will be created\n" in out
    assert "Plan: 1 to add, 0 to change, 0 to destroy." in out
    fg.write('resource "fg_cluster" "a" {\n  cidr_block = "10.1.0.0/24"\n}\n')
    assert "No changes." in fg.ok("plan")  # x[0] back to x: implied too
    fg.write('resource "fg_cluster" "a" {\n  for_each = toset(["s"])\n'
             '  cidr_block = "10.1.0.0/24"\n}\n'
             'moved {\n  from = fg_cluster.a\n  to   = fg_cluster.a["s"]\n}\n')
    out = fg.ok("plan")
    assert '  # fg_cluster.a has moved to fg_cluster.a["s"]\n' in out
    assert "Plan: 0 to add, 0 to change, 0 to destroy." in out


def test_moves_out_of_a_module_and_declared_inside_one(fg: Runner) -> None:
    (fg.dir / "m").mkdir()
    (fg.dir / "m" / "main.tf").write_text(
        'resource "fg_cluster" "in" {\n  cidr_block = "10.1.0.0/24"\n}\n')
    fg.write('module "x" {\n  source = "./m"\n  count  = 1\n}\n')
    fg.ok("apply", "-auto-approve")
    # a moved block inside the module applies within each of its instances
    (fg.dir / "m" / "main.tf").write_text(
        'resource "fg_cluster" "renamed" {\n  cidr_block = "10.1.0.0/24"\n}\n'
        "moved {\n  from = fg_cluster.in\n  to   = fg_cluster.renamed\n}\n")
    out = fg.ok("plan")
    assert "  # module.x[0].fg_cluster.in has moved to module.x[0].fg_cluster.renamed\n" in out
    fg.ok("apply", "-auto-approve")
    (fg.dir / "m" / "main.tf").write_text("")
    fg.write('resource "fg_cluster" "out" {\n  cidr_block = "10.1.0.0/24"\n}\n'
             'module "x" {\n  source = "./m"\n  count  = 1\n}\n'
             "moved {\n  from = module.x[0].fg_cluster.renamed\n  to   = fg_cluster.out\n}\n")
    out = fg.ok("plan")
    assert "  # module.x[0].fg_cluster.renamed has moved to fg_cluster.out\n" in out
    fg.ok("apply", "-auto-approve")
    assert fg.state_list() == ["fg_cluster.out"] and fg.fleet.deletes == []


def test_destroy_follows_a_move_not_applied_yet(fg: Runner) -> None:
    fg.write('resource "fg_cluster" "a" {\n  cidr_block = "10.1.0.0/24"\n}\n')
    fg.ok("apply", "-auto-approve")
    fg.write('resource "fg_cluster" "b" {\n  cidr_block = "10.1.0.0/24"\n}\n'
             "moved {\n  from = fg_cluster.a\n  to   = fg_cluster.b\n}\n")
    out = fg.ok("destroy", "-auto-approve")
    assert "  # fg_cluster.b will be destroyed\n  # (moved from fg_cluster.a)\n" in out
    assert fg.state_list() == [] and fg.fleet.objects == {}
    assert fg.fleet.deletes == [("fg_cluster.b", False)]
