"""`-target` with an instance key plans that instance (and what it depends on), never its
siblings: Terraform's behaviour for `fg_x.y[1]` and `module.m["a"]`."""

from __future__ import annotations

from pathlib import Path

from fgform.addresses import Address
from fgform.config.loader import load_config
from fgform.config.variables import resolve_variables
from fgform.plan.model import Action
from fgform.plan.planner import PlanOptions, plan_changes
from fgform.state.model import InstanceState, StateFile
from fgform.values import UNKNOWN


def _plan(dir: Path, state: StateFile | None, targets: list[str], **vars: str):
    config, diags = load_config(dir, use_cache=False)
    assert not diags
    values, vdiags = resolve_variables(config.module, dir,
                                       [("var", f"{k}={v}") for k, v in vars.items()])
    assert not vdiags
    return plan_changes(config, values, state, None,
                     PlanOptions(targets=targets, refresh=False, config_dir=str(dir)))


def _state_from(plan) -> StateFile:
    """What applying a plan of target groups would record (ids are the addresses)."""
    st = StateFile()
    for c in plan.changes:
        attrs = {k: (str(c.address) if v is UNKNOWN else v) for k, v in c.after.items()}
        st.set(c.address, InstanceState(c.address.key, attrs))
    return st


def _changed(plan) -> set[str]:
    return {str(c.address) for c in plan.changes if c.action is not Action.NOOP}


def test_target_with_a_count_key_plans_only_that_instance(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('''
variable "v" {
  default = 1
}

resource "fg_target_group" "x" {
  count = 2
  port  = 8000 + var.v + count.index
}
''')
    state = _state_from(_plan(tmp_path, None, []))
    assert state.get(Address("fg_target_group", "x", 1)) is not None
    plan = _plan(tmp_path, state, ["fg_target_group.x[1]"], v="2")
    assert _changed(plan) == {"fg_target_group.x[1]"}
    # without a key, every instance
    plan = _plan(tmp_path, state, ["fg_target_group.x"], v="2")
    assert _changed(plan) == {"fg_target_group.x[0]", "fg_target_group.x[1]"}


def test_target_of_a_module_instance_leaves_its_siblings_alone(tmp_path: Path) -> None:
    (tmp_path / "mod").mkdir()
    (tmp_path / "mod" / "main.tf").write_text('''
variable "port" {
  type = number
}

resource "fg_target_group" "base" {
  port = var.port
}

resource "fg_target_group" "tg" {
  name = "${fg_target_group.base.id}-x"
  port = var.port + 1
}
''')
    (tmp_path / "main.tf").write_text('''
variable "v" {
  default = 1
}

module "svc" {
  source   = "./mod"
  for_each = { a = 8000, b = 9000 }
  port     = each.value + var.v
}
''')
    state = _state_from(_plan(tmp_path, None, []))
    plan = _plan(tmp_path, state, ['module.svc["a"]'], v="2")
    assert _changed(plan) == {'module.svc["a"].fg_target_group.base',
                              'module.svc["a"].fg_target_group.tg'}
    plan = _plan(tmp_path, state, ['module.svc["b"].fg_target_group.tg'], v="2")
    # the target and what it depends on, in its own module instance only
    assert _changed(plan) == {'module.svc["b"].fg_target_group.base',
                              'module.svc["b"].fg_target_group.tg'}
