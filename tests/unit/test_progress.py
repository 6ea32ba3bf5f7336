"""Apply progress rendering: Terraform's terminal lines and its `-json` UI lines."""

from __future__ import annotations

import json

import pytest

from fgform.addresses import parse_address
from fgform.apply.events import ApplyError, ApplyFinished, ApplyProgress, ApplyStarted
from fgform.apply.executor import ApplyResult
from fgform.plan.model import Action
from fgform.render.progress import (
    JsonProgress,
    TextProgress,
    format_duration,
    summary_line,
    truncate_id,
)
from fgform.state.model import StateFile

C, U, D = Action.CREATE, Action.UPDATE, Action.DELETE
WEB = parse_address("fg_service.web")
MAIN = parse_address("fg_cluster.main")
MOD = parse_address('module.app.fg_service.api["blue"]')
DK = "ab12cd34"  # the deposed key of MOD's old object


def result(added: int = 0, changed: int = 0, destroyed: int = 0, **kw) -> ApplyResult:
    return ApplyResult(added, changed, destroyed, kw.pop("errors", []), StateFile(), **kw)


def drive(printer) -> None:
    """One apply's worth of events, the same for both printers."""
    printer.pre_apply(ApplyStarted(WEB, C))
    printer.still_running(ApplyProgress(WEB, C, 10.2))
    printer.post_apply(ApplyFinished(WEB, C, 12.4, "id", "web-1a2b"))
    printer.pre_apply(ApplyStarted(MAIN, U, "id", "main"))
    printer.still_running(ApplyProgress(MAIN, U, 70, "id", "main"))
    printer.post_apply(ApplyFinished(MAIN, U, 71, "id", "main"))
    printer.pre_apply(ApplyStarted(MOD, D, "id", "api", deposed=True, deposed_key=DK))
    printer.still_running(ApplyProgress(MOD, D, 10, "id", "api", deposed=True, deposed_key=DK))
    printer.post_apply(ApplyFinished(MOD, D, 0.4, deposed=True, deposed_key=DK))


TEXT_GOLDEN = """\
fg_service.web: Creating...
fg_service.web: Still creating... [10s elapsed]
fg_service.web: Creation complete after 12s [id=web-1a2b]
fg_cluster.main: Modifying... [id=main]
fg_cluster.main: Still modifying... [id=main, 1m10s elapsed]
fg_cluster.main: Modifications complete after 1m11s [id=main]
module.app.fg_service.api["blue"] (deposed object ab12cd34): Destroying... [id=api]
module.app.fg_service.api["blue"] (deposed object ab12cd34): Still destroying... [id=api, 10s elapsed]
module.app.fg_service.api["blue"] (deposed object ab12cd34): Destruction complete after 0s

Apply complete! Resources: 1 added, 1 changed, 1 destroyed.
"""


def test_text_golden() -> None:
    lines: list[str] = []
    p = TextProgress(lines.append)
    drive(p)
    p.finish(result(1, 1, 1))
    assert "\n".join(lines) + "\n" == TEXT_GOLDEN


def test_text_color_wraps_lines_in_bold() -> None:
    lines: list[str] = []
    p = TextProgress(lines.append, color=True)
    p.pre_apply(ApplyStarted(WEB, C))
    p.finish(result(1))
    assert lines[0] == "\x1b[0m\x1b[1mfg_service.web: Creating...\x1b[0m"
    assert "\x1b[32mApply complete!" in lines[-1]


def test_text_errors_are_printed_once_at_the_end() -> None:
    lines: list[str] = []
    p = TextProgress(lines.append)
    p.pre_apply(ApplyStarted(WEB, C))
    p.post_apply(ApplyFinished(WEB, C, 1, error=RuntimeError("boom")))
    err = ApplyError(WEB, C, "creating fg_service.web: boom", hint="free port 80")
    p.finish(result(errors=[err]))
    assert lines == ["fg_service.web: Creating...", "",
                     "Error: creating fg_service.web: boom", "", "Hint: free port 80"]


def test_text_cancel_is_an_error_not_apply_complete() -> None:
    lines: list[str] = []
    TextProgress(lines.append).finish(result(1, cancelled=True))
    assert "Error: Apply cancelled" in lines
    assert not any("Apply complete" in x for x in lines)


def test_summary_lines() -> None:
    assert summary_line(2, 0, 1) == "Apply complete! Resources: 2 added, 0 changed, 1 destroyed."
    assert summary_line(0, 0, 3, destroy_mode=True) == "Destroy complete! Resources: 3 destroyed."


@pytest.mark.parametrize("seconds, text", [
    (0, "0s"), (0.4, "0s"), (0.6, "1s"), (10, "10s"), (59.6, "1m0s"), (61, "1m1s"),
    (3600, "1h0m0s"), (3725, "1h2m5s"),
])
def test_format_duration_is_gos(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_truncate_id() -> None:
    assert truncate_id("short") == "short"
    long = "a" * 40 + "b" * 60
    cut = truncate_id(long)
    assert len(cut) == 80 and cut.startswith("a" * 39 + "...") and cut == "a" * 39 + "..." + "b" * 38


def test_json_lines_shape() -> None:
    lines: list[str] = []
    p = JsonProgress(lines.append, clock=lambda: "2024-01-01T00:00:00.000000Z")
    drive(p)
    p.finish(result(1, 1, 1))
    objs = [json.loads(x) for x in lines]
    assert [o["type"] for o in objs] == [
        "apply_start", "apply_progress", "apply_complete"] * 3 + ["change_summary"]
    for o in objs:
        assert list(o)[:4] == ["@level", "@message", "@module", "@timestamp"]
        assert o["@level"] == "info" and o["@timestamp"] == "2024-01-01T00:00:00.000000Z"
    assert objs[0] == {
        "@level": "info", "@message": "fg_service.web: Creating...", "@module": "fgform.ui",
        "@timestamp": "2024-01-01T00:00:00.000000Z",
        "hook": {"resource": {"addr": "fg_service.web", "module": "",
                              "resource": "fg_service.web", "implied_provider": "fg",
                              "resource_type": "fg_service", "resource_name": "web",
                              "resource_key": None},
                 "action": "create"},
        "type": "apply_start"}
    assert objs[1]["@message"] == "fg_service.web: Still creating... [10s elapsed]"
    assert objs[1]["hook"]["elapsed_seconds"] == 10
    assert objs[2]["@message"] == "fg_service.web: Creation complete after 12s [id=web-1a2b]"
    assert {k: objs[2]["hook"][k] for k in ("id_key", "id_value", "elapsed_seconds")} == {
        "id_key": "id", "id_value": "web-1a2b", "elapsed_seconds": 12}
    assert objs[3]["@message"] == "fg_cluster.main: Modifying... [id=main]"
    assert objs[3]["hook"]["id_value"] == "main" and objs[3]["hook"]["action"] == "update"
    res = objs[6]["hook"]["resource"]
    assert res == {"addr": 'module.app.fg_service.api["blue"]', "module": "module.app",
                   "resource": 'fg_service.api["blue"]', "implied_provider": "fg",
                   "resource_type": "fg_service", "resource_name": "api",
                   "resource_key": "blue"}
    assert objs[-1]["changes"] == {"add": 1, "change": 1, "import": 0, "remove": 1,
                                   "operation": "apply"}
    assert objs[-1]["@message"] == "Apply complete! Resources: 1 added, 1 changed, 1 destroyed."


def test_json_errored_and_diagnostic() -> None:
    lines: list[str] = []
    p = JsonProgress(lines.append, clock=lambda: "t")
    p.post_apply(ApplyFinished(WEB, C, 2.2, error=RuntimeError("boom")))
    p.finish(result(errors=[ApplyError(WEB, C, "creating fg_service.web: boom")]))
    errored, diag = (json.loads(x) for x in lines)
    assert errored["type"] == "apply_errored"
    assert errored["@message"] == "fg_service.web: Creation errored after 2s"
    assert errored["hook"]["elapsed_seconds"] == 2
    assert diag["type"] == "diagnostic" and diag["@level"] == "error"
    assert diag["diagnostic"] == {"severity": "error",
                                  "summary": "creating fg_service.web: boom", "detail": "",
                                  "address": "fg_service.web"}


def test_json_destroy_summary() -> None:
    lines: list[str] = []
    JsonProgress(lines.append).finish(result(destroyed=2, destroy_mode=True))
    obj = json.loads(lines[0])
    assert obj["@message"] == "Destroy complete! Resources: 2 destroyed."
    assert obj["changes"]["operation"] == "destroy"
    assert obj["@timestamp"].startswith("20")
