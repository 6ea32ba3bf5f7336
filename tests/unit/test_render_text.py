"""render/text.py: Terraform's terminal layout."""

from __future__ import annotations

from fgform.addresses import Address
from fgform.plan.model import (
    Action,
    ActionReason,
    AttributeDiff,
    DiffKind,
    OutputChange,
    Plan,
    ResourceChange,
)
from fgform.render.text import render_plan
from fgform.values import UNKNOWN


def _svc_change(**kw) -> ResourceChange:
    before = {"id": "s-1", "name": None, "cluster": "c", "desired_count": 2, "running_count": 2,
              "task_definition": "web:1", "load_balancer": [], "deployment": None}
    after = dict(before, desired_count=3, running_count=UNKNOWN)
    return ResourceChange(Address("fg_service", "web"), Action.UPDATE, before=before,
                          after=after, diffs=[AttributeDiff(("desired_count",), DiffKind.CHANGE,
                                                            2, 3)], **kw)


def test_update_layout() -> None:
    text = render_plan(Plan([_svc_change()], None))
    assert "  ~ update in-place\n" in text
    assert "  # fg_service.web will be updated in-place\n" in text
    assert '  ~ resource "fg_service" "web" {\n' in text
    assert "      ~ desired_count = 2 -> 3\n" in text
    assert "      ~ running_count = 2 -> (known after apply)\n" in text
    assert '        id            = "s-1"\n' in text
    assert "        # (2 unchanged attributes hidden)\n" in text
    assert text.endswith("Plan: 0 to add, 1 to change, 0 to destroy.\n")


def test_color_is_ansi_and_optional() -> None:
    plan = Plan([_svc_change()], None)
    coloured = render_plan(plan, color=True)
    assert "\x1b[33m~\x1b[0m" in coloured and "\x1b[1m" in coloured
    assert "\x1b[" not in render_plan(plan, color=False)


def test_no_changes_message() -> None:
    text = render_plan(Plan([], None))
    assert "No changes. Your infrastructure matches the configuration." in text


def test_destroy_reason_and_replacement_marks() -> None:
    gone = ResourceChange(Address("fg_service", "old"), Action.DELETE,
                          ActionReason.DELETE_BECAUSE_NO_RESOURCE_CONFIG,
                          before={"id": "x", "cluster": "c"})
    repl = ResourceChange(Address("fg_registry", "main"), Action.DELETE_THEN_CREATE,
                          ActionReason.REPLACE_BECAUSE_CANNOT_UPDATE,
                          before={"id": "r", "port": 5000}, after={"id": UNKNOWN, "port": 5001})
    text = render_plan(Plan([repl, gone], None))
    assert "  # fg_service.old will be destroyed\n" in text
    assert "  # (because fg_service.old is not in configuration)\n" in text
    assert '      - id      = "x" -> null\n' in text
    assert "  # fg_registry.main must be replaced\n" in text
    assert '-/+ resource "fg_registry" "main" {\n' in text
    assert "      ~ port = 5000 -> 5001 # forces replacement\n" in text
    assert "-/+ destroy and then create replacement\n" in text
    assert "Plan: 1 to add, 0 to change, 2 to destroy." in text


def test_sensitive_values_are_hidden() -> None:
    rc = ResourceChange(Address("fg_task_definition", "web"), Action.UPDATE,
                        before={"family": "f", "container": [
                            {"name": "web", "image": "i", "environment": {"K": "old-secret"}}]},
                        after={"family": "f", "container": [
                            {"name": "web", "image": "i", "environment": {"K": "new-secret"}}]},
                        before_sensitive=[("container", 0, "environment", "K")],
                        after_sensitive=[("container", 0, "environment", "K")])
    out = OutputChange("pw", Action.UPDATE, "a", "b", sensitive=True)
    text = render_plan(Plan([rc], None, output_changes=[out]))
    assert "secret" not in text and '"a"' not in text
    assert '~ "K" = (sensitive value)' in text
    assert "  ~ pw = (sensitive value)\n" in text
    assert '      ~ container "web" {\n' in text
