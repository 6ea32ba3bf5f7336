"""The terminal plan, laid out exactly like Terraform's (`terraform plan`), with "fgform" in
place of "Terraform".

Each change's `before`/`after` values are laid out by render/attributes.py; this module
adds the headers, the legend, drift, outputs, warnings and the summary. Colour is ANSI like
Terraform's unless `color=False`.
"""

from __future__ import annotations

import json
import os
from typing import Any

from fgform.config.schema import schema_for
from fgform.plan.model import (
    Action,
    ActionReason,
    CheckResult,
    OutputChange,
    Plan,
    PlanMode,
    ResourceChange,
)
from fgform.render.attributes import (
    ABSENT,
    BOLD,
    GREY,
    RED,
    RULE,
    YELLOW,
    Ctx,
    Style,
    attr_lines,
    mask,
    object_lines,
)
from fgform.values import UNKNOWN

# -- resources ------------------------------------------------------------------------------


def _header(rc: ResourceChange, st: Style, drift: bool) -> list[str]:
    addr = str(rc.address)
    bold = st.c(BOLD, f"  # {addr}")
    if drift:
        if rc.action is Action.DELETE:
            return [f"{bold} has been deleted"]
        return [f"{bold} has changed"]
    out = _action_header(rc, st, bold)
    # A move or an import that comes with an action says so under the action's header.
    if rc.previous_address is not None and rc.action is not Action.NOOP:
        out.append(f"  # (moved from {rc.previous_address})")
    if rc.importing_id is not None and rc.action is not Action.NOOP:
        out.append(f"  # (imported from {json.dumps(rc.importing_id)})")
    return out


def _action_header(rc: ResourceChange, st: Style, bold: str) -> list[str]:
    addr = str(rc.address)
    a = rc.action
    if a is Action.FORGET:
        # Terraform's own layout: one space less than the other headers.
        return [st.c(BOLD, f" # {addr}") + " will no longer be managed by fgform, but will "
                "not be destroyed", " # (destroy = false is set in the configuration)"]
    if a is Action.NOOP and rc.importing_id is not None:
        return [f"{bold} will be imported"]
    if a is Action.NOOP and rc.previous_address is not None:
        return [st.c(BOLD, f"  # {rc.previous_address}") + f" has moved to {addr}"]
    if a is Action.CREATE:
        return [f"{bold} will be created"]
    if a is Action.UPDATE:
        out = [f"{bold} will be updated in-place"]
        if rc.repair:
            out.append(f"  # (because {rc.repair})")
        return out
    if a is Action.DELETE:
        deposed = f" (deposed object {rc.deposed})" if rc.deposed else ""
        out = [f"{bold}{deposed} will be {st.c(BOLD + RED, 'destroyed')}"]
        why = _delete_reason(rc)
        if why:
            out.append(f"  # ({why})")
        if rc.deposed:
            # Terraform's words for this unusual situation.
            out.append("  # (left over from a partially-failed replacement of this instance)")
        return out
    if a.is_replace:
        if rc.reason is ActionReason.REPLACE_BECAUSE_TAINTED:
            return [f"{bold} is tainted, so must be {st.c(BOLD + RED, 'replaced')}"]
        if rc.reason is ActionReason.REPLACE_BY_REQUEST:
            return [f"{bold} will be {st.c(BOLD + RED, 'replaced')}, as requested"]
        return [f"{bold} must be {st.c(BOLD + RED, 'replaced')}"]
    if a is Action.READ:
        why = ("depends on a resource or a module with changes pending"
               if rc.reason is ActionReason.READ_BECAUSE_DEPENDENCY_PENDING
               else "config refers to values not yet known")
        return [f"{bold} will be read during apply", f"  # ({why})"]
    return [f"{bold}"]


def _delete_reason(rc: ResourceChange) -> str:
    r, addr = rc.reason, rc.address
    if r is ActionReason.DELETE_BECAUSE_NO_RESOURCE_CONFIG:
        return f"because {addr} is not in configuration"
    if r is ActionReason.DELETE_BECAUSE_NO_MODULE:
        return f"because {addr.module_address} is not in configuration"
    if r is ActionReason.DELETE_BECAUSE_COUNT_INDEX:
        return f"because index {json.dumps(addr.key)[:]} is out of range for count"
    if r is ActionReason.DELETE_BECAUSE_EACH_KEY:
        return f"because key {json.dumps(addr.key)} is not in for_each map"
    if r is ActionReason.DELETE_BECAUSE_WRONG_REPETITION:
        if addr.key is None:
            return "because resource uses count or for_each"
        if isinstance(addr.key, int):
            return "because resource does not use count"
        return "because resource does not use for_each"
    return ""


def render_resource(rc: ResourceChange, color: bool = False, drift: bool = False) -> list[str]:
    """One resource change (or drift) block, without a trailing blank line."""
    st = Style(color)
    schema = schema_for(rc.address.mode, rc.address.type)
    body_schema = schema.body if schema else None
    lines = _header(rc, st, drift)
    sym = "~" if drift and rc.action is not Action.DELETE else rc.action.value
    if rc.action is Action.NOOP:
        sym = " "
    prefix = st.sym(sym) if len(sym) == 3 else " " * (3 - len(sym)) + st.sym(sym)
    if rc.action is Action.FORGET:
        prefix = " " + st.sym(".")  # Terraform's " . resource": the object stays as it is
    kind = "data" if rc.address.is_data else "resource"
    lines.append(f'{prefix} {kind} "{rc.address.type}" "{rc.address.name}" {{')
    ctx = Ctx(st, rc.action.is_replace)
    before: Any = mask(rc.before, rc.before_sensitive) if rc.before is not None else ABSENT
    after: Any = mask(rc.after, rc.after_sensitive) if rc.after is not None else ABSENT
    if rc.action is Action.FORGET:
        after = before  # shown unchanged
    lines += object_lines(before, after, body_schema, 6, ctx, (), (),
                           show_all=rc.action in (Action.CREATE, Action.DELETE, Action.READ))
    lines.append("    }")
    return lines


def _legend(plan: Plan, st: Style) -> list[str]:
    present = {c.action for c in plan.changes if c.shown}
    # fgform has no provider plugins (Terraform's "used the selected providers"): it
    # compares the configuration with the state and what the fleet runs.
    out = ["fgform compared the configuration with the state and the live fleet to",
           "generate the following execution plan. Resource actions are indicated with",
           "the following symbols:"]
    entries = [
        (Action.CREATE, f"  {st.sym('+')} create"),
        (Action.UPDATE, f"  {st.sym('~')} update in-place"),
        (Action.DELETE, f"  {st.sym('-')} destroy"),
        (Action.DELETE_THEN_CREATE, f"{st.sym('-/+')} destroy and then create replacement"),
        (Action.CREATE_THEN_DELETE, f"{st.sym('+/-')} create replacement and then destroy"),
        (Action.READ, f" {st.sym('<=')} read (data resources)"),
    ]
    out += [line for action, line in entries if action in present]
    return out


def _output_lines(oc: OutputChange, width: int, st: Style) -> list[str]:
    ctx = Ctx(st, False)
    before = oc.before if oc.action not in (Action.CREATE,) else ABSENT
    after = oc.after if oc.action is not Action.DELETE else ABSENT
    if oc.sensitive:
        before = mask(before, [()])
        after = mask(after, [()]) if after is not UNKNOWN else after
    return attr_lines(oc.name, before, after, 2, ctx, (), (), width, False)


def render_drift(plan: Plan, color: bool = False) -> list[str]:
    """Terraform's "Objects have changed outside of ..." section (empty when no drift)."""
    if not plan.drift:
        return []
    st = Style(color)
    lines = ["", st.c(BOLD, "Note: Objects have changed outside of fgform"), "",
             "fgform detected the following changes made outside of fgform since the",
             'last "fgform apply" which may have affected this plan:', ""]
    for rc in plan.drift:
        lines += render_resource(rc, color, drift=True)
        lines.append("")
    if plan.mode is PlanMode.REFRESH_ONLY:
        lines += ["",
                  "This is a refresh-only plan, so fgform will not take any actions to undo",
                  "these. If you were expecting these changes then you can apply this plan to",
                  "record the updated values in the fgform state without changing any remote",
                  "objects."]
    else:
        lines += ["",
                  "Unless you have made equivalent changes to your configuration, or ignored the",
                  "relevant attributes using ignore_changes, the following plan may include",
                  "actions to undo or respond to these changes."]
    lines += ["", st.c(GREY, RULE)]
    return lines


def render_warnings(warnings: list[str], color: bool = False) -> list[str]:
    """Warnings in Terraform's diagnostic box: the first line is the summary."""
    st = Style(color)
    bar = st.c(YELLOW, "│") if color else "│"
    out: list[str] = []
    for w in warnings:
        summary, _, detail = w.partition("\n")
        out += ["", st.c(YELLOW, "╷"), f"{bar} " + st.c(BOLD + YELLOW, "Warning: ")
                + st.c(BOLD, summary)]
        if detail.strip():
            out.append(bar)
            out += [f"{bar} {line}".rstrip() for line in detail.strip("\n").split("\n")]
        out.append(st.c(YELLOW, "╵"))
    return out


def check_warnings(checks: list[CheckResult]) -> list[str]:
    """Failed (or not yet known) check block assertions as warnings, in Terraform's words:
    one per module instance (the warning names the file, not the instance, as Terraform's
    does), ordered as Terraform sorts diagnostics (files with fewer directories first, then
    by name, then by line)."""
    found: list[tuple[str, int, str]] = []
    for c in checks:
        for p in c.problems:
            summary = ("Check block assertion known after apply" if p.unknown
                       else "Check block assertion failed")
            found.append((p.filename, p.line,
                          _check_warning(summary, c.name, p.filename, p.line, p.source,
                                         p.message)))
            if p.message_line:
                found.append((p.filename, p.message_line, _check_warning(
                    "Error message refers to sensitive values", c.name, p.filename,
                    p.message_line, p.message_source, _SENSITIVE_MESSAGE)))
    found.sort(key=lambda f: (f[0].count(os.sep), f[0], f[1]))
    return [text for _, _, text in found]


_SENSITIVE_MESSAGE = (
    "The error expression used to explain this condition refers to sensitive\n"
    "values, so fgform will not display the resulting message.\n\n"
    "You can correct this by removing references to sensitive values, or by\n"
    "carefully using the nonsensitive() function if the expression will not reveal\n"
    "the sensitive data.")


def _check_warning(summary: str, name: str, filename: str, line: int, source: str,
                   message: str) -> str:
    where = f"\n{line:4d}: {source}" if source else ""
    return f'{summary}\n  on {filename} line {line}, in check "{name}":{where}\n\n{message}'


def render_plan(plan: Plan, color: bool = False) -> str:
    """The whole plan as `terraform plan` prints it (without the refresh progress lines);
    warnings (-target, moves, forgets, check blocks) come last, in Terraform's box."""
    return _render_plan_body(plan, color) + "".join(
        line + "\n" for line in render_warnings(plan.warnings + check_warnings(plan.checks),
                                                 color))


def _render_plan_body(plan: Plan, color: bool) -> str:
    st = Style(color)
    lines: list[str] = list(render_drift(plan, color))
    changes = [c for c in plan.changes if c.shown]
    # A new output whose value is null is no change: Terraform keeps no null output.
    outputs = [o for o in plan.output_changes if o.action is not Action.NOOP
               and not (o.action is Action.CREATE and o.after is None)]
    if plan.mode is PlanMode.REFRESH_ONLY:
        if not plan.drift:
            lines += ["", st.c(BOLD, "No changes.") + st.c(
                BOLD, " Your infrastructure still matches the configuration."), "",
                "fgform has checked that the real remote objects still match the result of",
                "your most recent changes, and found no differences."]
        return "\n".join(lines) + "\n"
    if not changes and not outputs:
        lines += ["", st.c(BOLD, "No changes.") + st.c(
            BOLD, " Your infrastructure matches the configuration."), "",
            "fgform has compared your real infrastructure against your configuration",
            "and found no differences, so no changes are needed."]
        return "\n".join(lines) + "\n"
    if changes:
        # Moves and imports alone have no symbol: Terraform prints no legend for them.
        legend = [*_legend(plan, st), ""] if any(c.action is not Action.NOOP
                                                  for c in changes) else []
        lines += ["", *legend, "fgform will perform the following actions:", ""]
        for rc in changes:
            lines += render_resource(rc, color)
            lines.append("")
        add, change, destroy = plan.counts()
        imports = plan.imports()
        lines.append(st.c(BOLD, "Plan:") + (f" {imports} to import," if imports else "")
                     + f" {add} to add, {change} to change, {destroy} to destroy.")
    if outputs:
        width = max(len(o.name) for o in outputs)
        lines += ["", "Changes to Outputs:"]
        for oc in outputs:
            lines += _output_lines(oc, width, st)
    if not changes:
        lines += ["", "You can apply this plan to save these new output values to the fgform",
                  "state, without changing any real infrastructure."]
    return "\n".join(lines) + "\n"
