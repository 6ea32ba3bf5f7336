"""A pull-request comment for a plan (`fgform show -markdown FILE`).

Layout: a hidden marker (`<!-- fgform-plan -->`, so CI updates its comment instead of adding
one per push), a one-line summary with counts, a GitHub `> [!WARNING]` banner listing every
object destroyed or replaced, the drift section, the full plan in a collapsible `<details>`
block as a ```diff code block (lines prefixed `+`, `-`, `!` for updates and `#` for comments
so GitHub colours them), and a footer naming the state serial and lineage the plan was made
against. The comment stays under GitHub's 65,536 characters by cutting the plan text (with a
note saying so). Sensitive values never appear: the plan text masks them, and the other parts
only name addresses.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jinja2

from fgform.plan.model import Action, ActionReason, CheckResult, Plan, PlanMode
from fgform.render.text import check_warnings, render_plan

MARKER = "<!-- fgform-plan -->"
MAX_CHARS = 65_536
_TEMPLATES = Path(__file__).parent / "templates"
_SYMBOL = re.compile(r"^(\s*)(-/\+|\+/-|[+~-])( |$)")


def diff_lines(text: str) -> list[str]:
    """Terraform-style plan text as diff lines: the action symbol moves to column 0 (`!`
    for in-place updates and replacements) so GitHub's diff highlighting colours it."""
    out: list[str] = []
    for line in text.splitlines():
        m = _SYMBOL.match(line)
        if m:
            indent, sym, _ = m.groups()
            mark = {"+": "+", "-": "-", "~": "!"}.get(sym, "!")
            rest = line[len(indent) + len(sym):]
            # keep the columns: the symbol's place becomes blanks
            body = indent + " " * len(sym) + rest
            out.append(mark + body[1:] if body.startswith(" ") else mark + body)
        elif line.lstrip().startswith("#"):
            # the comment's `#` moves to column 0; the text keeps its column
            indent = len(line) - len(line.lstrip())
            out.append("#" + " " * max(indent - 1, 0) + " " + line.lstrip()[1:].lstrip(" ")
                       if indent else line)
        else:
            out.append(line if not line.startswith(("+", "-", "!", "#")) else " " + line)
    return out


def _what(action: Action, reason: ActionReason) -> str:
    if action is Action.DELETE:
        return "will be **destroyed**"
    if reason is ActionReason.REPLACE_BECAUSE_TAINTED:
        return "is tainted and will be **replaced**"
    if reason is ActionReason.REPLACE_BY_REQUEST:
        return "will be **replaced**, as requested"
    if action is Action.CREATE_THEN_DELETE:
        return "will be **replaced** (create before destroy)"
    return "will be **replaced**"


def _fence(body: str) -> str:
    """A code fence longer than any run of backticks in the body, so it cannot be closed
    early by a value."""
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
    return "`" * max(3, longest + 1)


def render_markdown(plan: Plan, *, plan_file: str = "plan.fgplan", title: str = "",
                    max_chars: int = MAX_CHARS) -> str:
    """The PR comment, in GitHub-flavoured Markdown."""
    add, change, destroy = plan.counts()
    if plan.mode is PlanMode.REFRESH_ONLY:
        summary = f"refresh only, {len(plan.drift)} object{'s' if len(plan.drift) != 1 else ''}" \
                  " changed outside of fgform"
    elif plan.has_changes:
        imports = plan.imports()
        summary = (f"**{imports}** to import, " if imports else "") + \
            f"**{add}** to add, **{change}** to change, **{destroy}** to destroy"
    else:
        summary = "no changes"
    dangerous = [{"address": str(c.address) + (f" (deposed object {c.deposed})"
                                               if c.deposed else ""),
                  "what": _what(c.action, c.reason)}
                 for c in plan.changes if c.action is Action.DELETE or c.action.is_replace]
    drift = [{"address": str(c.address),
              "what": "was deleted" if c.action is Action.DELETE else
              "changed: " + ", ".join(sorted({f"`{d.path[0]}`" for d in c.diffs if d.path}))}
             for c in plan.drift]
    if plan.state_lineage is None:
        state_note = "no state (a first apply)"
    else:
        state_note = f"state serial {plan.state_serial}, lineage `{plan.state_lineage}`"
    mode_note = {PlanMode.DESTROY: "This is a **destroy** plan: it deletes everything.",
                 PlanMode.REFRESH_ONLY: "This is a **refresh-only** plan: applying it only "
                                        "records the changes found in the state."}.get(plan.mode)
    status_icon = ":warning:" if dangerous else (":memo:" if plan.has_changes else
                                                 ":white_check_mark:")
    lines = diff_lines(render_plan(plan, color=False).strip("\n"))
    ctx: dict[str, Any] = dict(
        marker=MARKER, summary=summary, dangerous=dangerous, drift=drift, title=title,
        warnings=[w.split("\n", 1)[0] for w in plan.warnings] + [
            f'{w.split(chr(10), 1)[0]}: check "{c.name}"'
            + (f" in {c.module}" if c.module else "") + f": {c.problems[0].message}"
            for c in plan.checks if c.problems
            for w in check_warnings([CheckResult(c.name, c.status, c.problems[:1])])],
        state_note=state_note,
        timestamp=plan.timestamp, plan_file=plan_file, mode_note=mode_note,
        status_icon=status_icon)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(_TEMPLATES)),
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                             autoescape=False, undefined=jinja2.StrictUndefined)
    template = env.get_template("pr_comment.md.j2")

    def render(body_lines: list[str], note: str) -> str:
        body = "\n".join(body_lines)
        return template.render(**ctx, body=body, fence=_fence(body), truncated=note)

    out = render(lines, "")
    if len(out) <= max_chars:
        return out
    # Too long for one comment: keep as many leading lines as fit, and say what was cut.
    lo, hi = 0, len(lines)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        note = _cut_note(len(lines) - mid, plan_file)
        if len(render(lines[:mid], note)) <= max_chars:
            lo = mid
        else:
            hi = mid - 1
    return render(lines[:lo], _cut_note(len(lines) - lo, plan_file))


def _cut_note(omitted: int, plan_file: str) -> str:
    return (f"The plan was cut to fit a comment: {omitted} more line"
            f"{'s' if omitted != 1 else ''} not shown. See the full plan with "
            f"`fgform show {plan_file}` or in the workflow's plan artifact.")
