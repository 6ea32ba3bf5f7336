"""render/markdown.py: the PR comment, checked as rendered HTML (markdown-it-py) and against a
golden file (regenerate with FGFORM_REGEN=1)."""

from __future__ import annotations

import os
from pathlib import Path

from markdown_it import MarkdownIt

from fgform.addresses import Address
from fgform.plan.model import Action, Plan, ResourceChange
from fgform.render.markdown import MARKER, diff_lines, render_markdown

from helpers.plan_fixtures import cached_plan as plan_case

FIX = Path(__file__).parent / "fixtures" / "plan"
GOLDEN = FIX / "pr_comment.golden.md"


def _html(md: str) -> str:
    # commonmark + tables/strikethrough is as close to GFM as markdown-it-py gets; raw HTML
    # (<details>) passes through as GitHub's renderer does
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).render(md)


def _comment() -> str:
    plan = plan_case(FIX / "replace_force_new")
    plan.drift = plan_case(FIX / "drift").drift
    return render_markdown(plan)


def test_golden() -> None:
    md = _comment()
    if os.environ.get("FGFORM_REGEN") == "1":
        GOLDEN.write_text(md)
    assert md == GOLDEN.read_text()


def test_structure_in_html() -> None:
    md = _comment()
    assert md.startswith(MARKER + "\n")
    html = _html(md)
    assert "<details><summary>Show the full plan</summary>" in html
    assert '<code class="language-diff">' in html
    assert "</details>" in html
    # the GitHub alert is a blockquote whose first line is [!WARNING]
    assert "<blockquote>\n<p>[!WARNING]" in html
    assert "<li><code>fg_registry.main</code> will be <strong>replaced</strong></li>" in html
    assert "Objects changed outside of fgform" in html
    assert "serial 5" in md and "00000000-0000-4000-8000-000000000000" in md
    assert "**5** to add, **1** to change, **5** to destroy" in md


def test_no_sensitive_values() -> None:
    md = render_markdown(plan_case(FIX / "update_in_place"))
    assert "s3cr3t" not in md and "(sensitive value)" in md


def test_diff_prefixes() -> None:
    lines = diff_lines('  + resource "a" "b" {\n      ~ x = 1 -> 2\n-/+ resource "c" "d" {\n'
                       '      - y = 1 -> null\n  # a comment\n    }')
    assert [line[0] for line in lines] == ["+", "!", "!", "-", "#", " "]
    assert lines[1] == "!       x = 1 -> 2"  # columns kept


def test_truncated_to_fit_a_comment() -> None:
    changes = [ResourceChange(Address("fg_target_group", f"tg{i:04d}"), Action.CREATE,
                              after={"port": 8080, "name": "x" * 80}) for i in range(1500)]
    md = render_markdown(Plan(changes, None))
    assert len(md) <= 65_536
    assert "The plan was cut to fit a comment" in md
    html = _html(md)
    assert "</details>" in html and '<code class="language-diff">' in html


def test_no_changes_comment() -> None:
    md = render_markdown(plan_case(FIX / "noop"))
    assert "no changes" in md and "[!WARNING]" not in md
