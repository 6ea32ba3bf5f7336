"""check blocks in child modules, through the command line on the in-memory fleet
(tests/helpers/fakefleet.py): evaluated in every instance of the module (count, for_each,
nested), reported as warnings after plan and apply and in `show -json`'s `checks`. The
expected texts were recorded from Terraform 1.11.4 with the same layout (terraform_data
resources where these use fg_cluster; `terraform plan` / `apply` / `show -json`), fgform's
name in place of Terraform's."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from fgform.cli import Environment, run

from helpers.fakefleet import FakeFleet


class Runner:
    """`fgform ARGS` in a directory holding several files, on one FakeFleet."""

    def __init__(self, d: Path) -> None:
        self.dir = d
        self.fleet = FakeFleet()

    def write(self, files: dict[str, str]) -> None:
        for name, text in files.items():
            path = self.dir / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)

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

    def plan_checks(self) -> list[dict]:
        self.ok("plan", "-out", "p.fgplan")
        return json.loads(self.ok("show", "-json", "p.fgplan"))["checks"]


@pytest.fixture
def fg(tmp_path: Path) -> Runner:
    return Runner(tmp_path)


def warnings(out: str) -> list[str]:
    """The messages (last line) of each check warning box, in order."""
    boxes = [b.split("╵")[0] for b in out.split("│ Warning: ")[1:]]
    return [b.rstrip("\n").rsplit("\n", 1)[-1].removeprefix("│ ") for b in boxes
            if b.startswith("Check block assertion")]


MOD = """variable "name" {
  type = string
}
resource "fg_cluster" "r" {
  name = var.name
}
check "named" {
  assert {
    condition     = var.name != "c1" && var.name != "b"
    error_message = "name is ${var.name}"
  }
}
check "later" {
  assert {
    condition     = fg_cluster.r.network_name == "x"
    error_message = "network is ${fg_cluster.r.network_name}"
  }
}
module "inner" {
  source = "./inner"
  name   = var.name
}
output "o" {
  value = var.name
}
"""

INNER = """variable "name" {
  type = string
}
check "deep" {
  assert {
    condition     = var.name == "one"
    error_message = "deep: ${var.name} is not one"
  }
}
"""


def test_child_module_check_fails_and_passes(fg: Runner) -> None:
    fg.write({"main.tf": 'module "one" {\n  source = "./mod"\n  name   = "c1"\n}\n',
              "mod/main.tf": MOD, "mod/inner/main.tf": INNER})
    code, out, _ = fg("plan", "-detailed-exitcode")
    assert code == 2  # the create; failed checks are never errors
    # Terraform names the module's file, not the module instance, in the warning
    assert ("│ Warning: Check block assertion failed\n│\n"
            '│   on mod/main.tf line 9, in check "named":\n'
            '│    9:     condition     = var.name != "c1" && var.name != "b"\n│\n'
            "│ name is c1\n") in out
    assert ("│ Warning: Check block assertion known after apply\n│\n"
            '│   on mod/main.tf line 15, in check "later":\n'
            '│   15:     condition     = fg_cluster.r.network_name == "x"\n│\n'
            "│ The condition could not be evaluated at this time, a result will be known\n"
            "│ when this plan is applied.\n") in out
    assert ("│ Warning: Check block assertion failed\n│\n"
            '│   on mod/inner/main.tf line 6, in check "deep":\n'
            '│    6:     condition     = var.name == "one"\n│\n'
            "│ deep: c1 is not one\n") in out
    # Terraform's diagnostic order: fewer directories first, then file, then line
    assert warnings(out) == ["name is c1", "when this plan is applied.",
                             "deep: c1 is not one"]
    checks = fg.plan_checks()
    assert checks == [
        {"address": {"kind": "check", "module": "module.one", "name": "later",
                     "to_display": "module.one.check.later"},
         "status": "unknown",
         "instances": [{"address": {"module": "module.one",
                                    "to_display": "module.one.check.later"},
                        "status": "unknown"}]},
        {"address": {"kind": "check", "module": "module.one", "name": "named",
                     "to_display": "module.one.check.named"},
         "status": "fail",
         "instances": [{"address": {"module": "module.one",
                                    "to_display": "module.one.check.named"},
                        "status": "fail", "problems": [{"message": "name is c1"}]}]},
        {"address": {"kind": "check", "module": "module.one.module.inner", "name": "deep",
                     "to_display": "module.one.module.inner.check.deep"},
         "status": "fail",
         "instances": [{"address": {"module": "module.one.module.inner",
                                    "to_display": "module.one.module.inner.check.deep"},
                        "status": "fail",
                        "problems": [{"message": "deep: c1 is not one"}]}]}]
    fg.write({"main.tf": 'module "one" {\n  source = "./mod"\n  name   = "one"\n}\n'})
    code, out, _ = fg("plan")
    assert code == 0 and warnings(out) == [
        "when this plan is applied."]  # only `later` is left, not known yet
    assert [(c["address"]["to_display"], c["status"]) for c in fg.plan_checks()] == [
        ("module.one.check.later", "unknown"), ("module.one.check.named", "pass"),
        ("module.one.module.inner.check.deep", "pass")]


def test_count_and_for_each_modules_check_every_instance(fg: Runner) -> None:
    fg.write({"main.tf": 'module "cnt" {\n  source = "./mod"\n  count  = 2\n'
                         '  name   = "c${count.index}"\n}\n'
                         'module "fe" {\n  source   = "./mod"\n'
                         '  for_each = toset(["a", "b"])\n  name     = each.key\n}\n',
              "mod/main.tf": MOD, "mod/inner/main.tf": INNER})
    code, out, _ = fg("plan")
    assert code == 0
    # one warning per failing instance: c0 and a pass `named`, every instance fails `deep`
    msgs = warnings(out)
    assert msgs[:2] == ["name is c1", "name is b"]
    assert msgs[-4:] == ["deep: c0 is not one", "deep: c1 is not one", "deep: a is not one",
                         "deep: b is not one"]
    assert out.count('in check "later":') == 4
    by_addr = {c["address"]["to_display"]: c for c in fg.plan_checks()}
    assert list(by_addr) == [
        "module.cnt.check.later", "module.cnt.check.named", "module.cnt.module.inner.check.deep",
        "module.fe.check.later", "module.fe.check.named", "module.fe.module.inner.check.deep"]
    assert by_addr["module.cnt.check.named"] == {
        "address": {"kind": "check", "module": "module.cnt", "name": "named",
                    "to_display": "module.cnt.check.named"},
        "status": "fail",
        "instances": [
            {"address": {"module": "module.cnt[0]", "to_display": "module.cnt[0].check.named"},
             "status": "pass"},
            {"address": {"module": "module.cnt[1]", "to_display": "module.cnt[1].check.named"},
             "status": "fail", "problems": [{"message": "name is c1"}]}]}
    assert by_addr["module.fe.module.inner.check.deep"]["instances"] == [
        {"address": {"module": 'module.fe["a"].module.inner',
                     "to_display": 'module.fe["a"].module.inner.check.deep'},
         "status": "fail", "problems": [{"message": "deep: a is not one"}]},
        {"address": {"module": 'module.fe["b"].module.inner',
                     "to_display": 'module.fe["b"].module.inner.check.deep'},
         "status": "fail", "problems": [{"message": "deep: b is not one"}]}]
    assert by_addr["module.fe.check.later"]["status"] == "unknown"
    # the pull-request comment names the module instance
    markdown = fg.ok("show", "-markdown", "p.fgplan")
    assert ('Check block assertion failed: check "named" in module.cnt[1]: name is c1'
            in markdown)
    assert 'check "deep" in module.fe["a"].module.inner: deep: a is not one' in markdown


def test_child_checks_known_after_apply_are_evaluated_from_state(fg: Runner) -> None:
    fg.write({"main.tf": 'module "cnt" {\n  source = "./mod"\n  count  = 2\n'
                         '  name   = "one"\n}\n',
              "mod/main.tf": MOD, "mod/inner/main.tf": INNER})
    out = fg.ok("plan")
    assert out.count("Check block assertion known after apply") == 2
    assert "Check block assertion failed" not in out
    out = fg.ok("apply", "-auto-approve")
    after = out.split("Creation complete")[-1]
    # the network names are known now: both instances fail, each with its own message
    msgs = warnings(after)
    assert len(msgs) == 2 and msgs[0] != msgs[1]
    assert all(m.startswith("network is cluster-") for m in msgs)
    assert ('│ Warning: Check block assertion failed\n│\n'
            '│   on mod/main.tf line 15, in check "later":\n') in after
    assert after.index("│ network is") < after.index("Apply complete!")
    code, out, _ = fg("plan", "-detailed-exitcode")
    assert code == 0 and "No changes." in out and warnings(out) == msgs


def test_module_with_no_instances_and_whole_module_object(fg: Runner) -> None:
    # Terraform: a check block of a module with no instances is "pass", with no instances.
    # A child's checks are no attribute of its module object (keys(module.one) is ["o"]).
    fg.write({"main.tf": 'module "zero" {\n  source = "./mod/inner"\n  count  = 0\n'
                         '  name   = "x"\n}\n'
                         'module "one" {\n  source = "./mod/inner"\n  name   = "one"\n}\n'
                         'check "root" {\n  assert {\n'
                         '    condition     = length(module.zero) == 1\n'
                         '    error_message = "root"\n  }\n  assert {\n'
                         '    condition     = keys(module.one) == ["o"]\n'
                         '    error_message = "keys are ${jsonencode(keys(module.one))}"\n'
                         '  }\n}\n',
              "mod/inner/main.tf": INNER + 'output "o" {\n  value = var.name\n}\n'})
    code, out, _ = fg("plan")
    assert code == 0 and warnings(out) == ["root"]
    assert '│   on main.tf line 12, in check "root":\n' in out
    assert fg.plan_checks() == [
        {"address": {"kind": "check", "name": "root", "to_display": "check.root"},
         "status": "fail",
         "instances": [{"address": {"to_display": "check.root"}, "status": "fail",
                        "problems": [{"message": "root"}]}]},
        {"address": {"kind": "check", "module": "module.one", "name": "deep",
                     "to_display": "module.one.check.deep"},
         "status": "pass",
         "instances": [{"address": {"module": "module.one",
                                    "to_display": "module.one.check.deep"},
                        "status": "pass"}]},
        {"address": {"kind": "check", "module": "module.zero", "name": "deep",
                     "to_display": "module.zero.check.deep"},
         "status": "pass"}]


def test_child_check_references_are_validated(fg: Runner) -> None:
    # Terraform 1.11 validate: "Reference to undeclared input variable" in mod/main.tf
    fg.write({"main.tf": 'module "one" {\n  source = "./mod"\n}\n',
              "mod/main.tf": 'check "c" {\n  assert {\n    condition     = var.nope == "y"\n'
                             '    error_message = "x"\n  }\n}\n'})
    code, _, err = fg("validate")
    assert code == 1
    assert "Error: Reference to undeclared input variable" in err
    assert "on mod/main.tf line 3" in err


def test_error_message_with_sensitive_values_is_not_shown(fg: Runner) -> None:
    # Terraform 1.11: the failure says its message is invalid, a second warning at the
    # error_message says why; `checks` has the failure without its message.
    sens = ('variable "s" {\n  default   = "secret"\n  sensitive = true\n}\n'
            'check "sens" {\n  assert {\n    condition     = var.s == "x"\n'
            '    error_message = "s is ${var.s}"\n  }\n}\n')
    fg.write({"main.tf": sens + 'module "one" {\n  source = "./mod"\n}\n', "mod/main.tf": sens})
    code, out, _ = fg("plan", "-out", "p.fgplan")
    assert code == 0 and "secret" not in out
    for f in ("main.tf", "mod/main.tf"):
        assert ("│ Warning: Check block assertion failed\n│\n"
                f'│   on {f} line 7, in check "sens":\n'
                '│    7:     condition     = var.s == "x"\n│\n'
                "│ This check failed, but has an invalid error message as described in the "
                "other\n│ accompanying messages.\n╵\n\n"
                "╷\n│ Warning: Error message refers to sensitive values\n│\n"
                f'│   on {f} line 8, in check "sens":\n'
                '│    8:     error_message = "s is ${var.s}"\n│\n'
                "│ The error expression used to explain this condition refers to sensitive\n"
                "│ values, so fgform will not display the resulting message.\n│\n"
                "│ You can correct this by removing references to sensitive values, or by\n"
                "│ carefully using the nonsensitive() function if the expression will not "
                "reveal\n│ the sensitive data.\n╵\n") in out
    assert out.index("on main.tf line 8") < out.index("on mod/main.tf line 7")
    checks = json.loads(fg.ok("show", "-json", "p.fgplan"))["checks"]
    assert "secret" not in json.dumps(checks)
    assert [(c["status"], c["instances"]) for c in checks] == [
        ("fail", [{"address": {"to_display": "check.sens"}, "status": "fail"}]),
        ("fail", [{"address": {"module": "module.one", "to_display": "module.one.check.sens"},
                   "status": "fail"}])]
    assert "secret" not in fg.ok("show", "p.fgplan")


def test_warnings_come_in_file_and_line_order(fg: Runner) -> None:
    # Terraform 1.11 sorts its diagnostics by file, then line: "b fails" (main.tf) before
    # "a fails" (z.tf), whatever the checks' names
    fg.write({"main.tf": 'variable "v" {\n  default = 1\n}\ncheck "b" {\n  assert {\n'
                         '    condition     = var.v == 2\n    error_message = "b fails"\n'
                         '  }\n}\n',
              "z.tf": 'check "a" {\n  assert {\n    condition     = var.v == 3\n'
                      '    error_message = "a fails"\n  }\n}\n'})
    assert warnings(fg.ok("plan")) == ["b fails", "a fails"]
    # ... while `checks` is sorted by address
    assert [c["address"]["to_display"] for c in fg.plan_checks()] == ["check.a", "check.b"]
