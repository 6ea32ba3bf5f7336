"""The corpus through fgform, the way `fgform apply` + `fgform output -json` treat outputs.

A batch of entries becomes one configuration directory (`main.tf` with one output each,
`prelude.tf`, the fixture files), loaded by fgform's loader and evaluated by its walk (for
the diagnostics); the outputs apply would store are computed by `workflow.compute_outputs`
and printed by the renderer behind `fgform output -json` (`render.state_hcl.outputs`), then
parsed back with exact numbers. A
diagnostic is charged to the output whose lines hold it; a batch that fails as a whole (a
syntax error, a crash) is evaluated again one entry at a time.
"""

from __future__ import annotations

import shutil
import tempfile
import traceback
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from differential import corpus
from differential.corpus import Entry
from fgform.analysis import validate_config, walk
from fgform.config.loader import load_config
from fgform.config.variables import resolve_variables
from fgform.errors import FgformError, Severity
from fgform.render.state_hcl import outputs as render_outputs
from fgform.state.model import StateFile
from fgform.values import contains_unknown, unmark
from fgform.workflow import WorkingDir, compute_outputs


@dataclass(frozen=True, slots=True)
class Outcome:
    """What fgform made of one entry: `kind` is "value" (with `type` and `value` as
    canonical JSON text), "null" (a null output), "unknown" (not known after apply),
    "error" (a diagnostic: `message`) or "crash" (an exception that is no user error: a
    traceback in `message`); `sensitive` is what `output -json` says of a value."""

    kind: str
    type: str = ""
    value: str = ""
    message: str = ""
    sensitive: bool = False


_WORKSPACE: tempfile.TemporaryDirectory[str] | None = None


def _setup(entries: list[Entry]) -> tuple[Path, dict[str, tuple[int, int]]]:
    """The configuration directory holding these entries' outputs. One directory serves
    every batch (the fixtures copied once, `main.tf` rewritten): creating and removing
    hundreds of directories took most of the test's time."""
    global _WORKSPACE
    if _WORKSPACE is None:
        _WORKSPACE = tempfile.TemporaryDirectory(prefix="fgdiff-")
        d = Path(_WORKSPACE.name)
        shutil.copytree(corpus.FILES_DIR, d / "files")
        shutil.copy(corpus.PRELUDE, d / "prelude.tf")
    d = Path(_WORKSPACE.name)
    text, where = corpus.config_text(entries)
    (d / "main.tf").write_text(text, encoding="utf-8")
    return d, where


def _errors(diags: list[Any]) -> list[Any]:
    return [x for x in diags if x.severity == Severity.ERROR]


def _owner(diag: Any, where: dict[str, tuple[int, int]]) -> str | None:
    r = diag.range
    if r is None or not str(r.filename).endswith("main.tf"):
        return None
    for name, (a, b) in where.items():
        if a <= r.start_line <= b:
            return name
    return None


def _printed(wd_dir: Path, config: Any, variables: dict[str, Any]) -> dict[str, Any]:
    """The outputs as `fgform output -json` prints them after an apply: computed by the
    workflow's `compute_outputs` (what apply stores in state), then rendered, numbers
    exact. An output that is not printed (null, unknown) is missing."""
    wd = WorkingDir(wd_dir, config, variables, wd_dir / "unused.fgstate.json", [])
    state = StateFile()
    state.outputs = compute_outputs(wd, state)
    if not state.outputs:
        return {}
    return corpus.loads(render_outputs(state, json=True))


def _outcome(printed: dict[str, Any] | None, value: Any) -> Outcome:
    """An output's outcome from its printed form (None: not printed) and its value."""
    if printed is None:
        if contains_unknown(unmark(value)[0]):
            return Outcome("unknown")
        return Outcome("null")
    return Outcome("value", corpus.canon(printed["type"]), corpus.canon(printed["value"]),
                   sensitive=bool(printed["sensitive"]))


def _batch(entries: list[Entry]) -> dict[str, Outcome] | None:
    """Outcomes of a batch, or None when the batch cannot be judged whole."""
    d, where = _setup(entries)
    config, diags = load_config(d, use_cache=False)
    if _errors(diags):
        return None
    variables, vdiags = resolve_variables(config.module, d, [], {})
    if _errors(vdiags):
        return None
    result = walk(config, variables, cwd=str(d))
    errors: dict[str, str] = {}
    for diag in _errors(result.diagnostics):
        owner = _owner(diag, where)
        if owner is None:
            return None
        errors.setdefault(owner, f"{diag.summary}: {diag.detail}")
    printed = _printed(d, config, variables)
    out: dict[str, Outcome] = {}
    for i, e in enumerate(entries):
        name = corpus.output_name(i)
        if name in errors:
            out[e.id] = Outcome("error", message=errors[name])
        else:
            out[e.id] = _outcome(printed.get(name), result.outputs.get(name))
    return out


def evaluate_entries(entries: list[Entry]) -> dict[str, Outcome]:
    """fgform's outcome for each entry, by id (a batch at a time, entry by entry when the
    batch cannot be judged whole)."""
    try:
        got = _batch(entries)
    except Exception:  # noqa: BLE001 - judged entry by entry below
        got = None
    if got is not None:
        return got
    if len(entries) == 1:
        return {entries[0].id: reject_outcome(entries[0])}
    half = len(entries) // 2
    return {**evaluate_entries(entries[:half]), **evaluate_entries(entries[half:])}


def reject_outcome(e: Entry) -> Outcome:
    """One entry alone, as `fgform apply` would run it: load, variables, validation, then
    the output's value. An error anywhere is an "error" outcome; an exception that is no
    user error is a "crash"."""
    try:
        d, _ = _setup([e])
        config, diags = load_config(d, use_cache=False)
        if _errors(diags):
            return Outcome("error", message=f"{_errors(diags)[0].summary}")
        variables, vdiags = resolve_variables(config.module, d, [], {})
        diags = _errors(vdiags) or _errors(validate_config(config, variables, cwd=str(d)))
        if diags:
            return Outcome("error", message=f"{diags[0].summary}: {diags[0].detail}")
        result = walk(config, variables, cwd=str(d))
        if _errors(result.diagnostics):
            return Outcome("error", message=_errors(result.diagnostics)[0].summary)
        name = corpus.output_name(0)
        return _outcome(_printed(d, config, variables).get(name), result.outputs.get(name))
    except FgformError as exc:
        return Outcome("error", message=str(exc))
    except Exception:  # noqa: BLE001 - a crash is an outcome the test reports
        return Outcome("crash", message=traceback.format_exc(limit=4))


def compare(e: Entry, expected: dict[str, Any], got: Outcome) -> str | None:
    """None when fgform agrees with Terraform's record, else a short reason."""
    if "error" in expected:
        return None if got.kind == "error" else "Terraform rejects it, fgform does not"
    if got.kind == "crash":
        return "crash: " + got.message.strip().splitlines()[-1]
    if got.kind == "error":
        return "fgform error: " + got.message
    if got.kind == "unknown":
        return "fgform: unknown after apply (not printed by output -json)"
    if expected.get("null"):
        if got.kind == "null":
            return None
        return (f"null: Terraform leaves the output out of output -json, fgform prints "
                f"{got.value} ({got.type})")
    if got.kind == "null":
        return "fgform: null; Terraform: " + corpus.canon(expected["value"])
    want_value = corpus.canon(expected["value"])
    want_type = corpus.canon(expected["type"])
    reasons = []
    if got.value != want_value:
        reasons.append(f"value {got.value} != {want_value}")
    if got.type != want_type:
        reasons.append(f"type {got.type} != {want_type}")
    if got.sensitive != bool(expected.get("sensitive")):
        reasons.append(f"sensitive {got.sensitive} != {bool(expected.get('sensitive'))}")
    return "; ".join(reasons) or None


def _results(entries: list[Entry], expected: dict) -> dict[str, tuple[Entry, dict, Outcome]]:
    """Each entry with Terraform's record and fgform's outcome (evaluated class by class),
    by id."""
    by_class: dict[str, list[Entry]] = {}
    for e in entries:
        by_class.setdefault(e.cls, []).append(e)
    got: dict[str, Outcome] = {}
    for es in by_class.values():
        got.update(evaluate_entries(es))
    return {e.id: (e, expected.get(e.id, {}), got[e.id]) for e in entries}


@cache
def accept_results() -> dict[str, tuple[Entry, dict, Outcome]]:
    """Every agree-corpus entry with Terraform's record and fgform's outcome, by id."""
    return _results(corpus.accept_entries(), corpus.expected_accept())


@cache
def reject_results() -> dict[str, tuple[Entry, dict, Outcome]]:
    """Every reject-corpus entry with Terraform's record and fgform's outcome, by id."""
    return _results(corpus.reject_entries(), corpus.expected_reject())


def differences() -> dict[str, str]:
    """Entry id -> why fgform disagrees with Terraform, over both corpora."""
    out: dict[str, str] = {}
    for ident, (_e, want, got) in accept_results().items():
        why = compare(_e, want, got)
        if why is not None:
            out[ident] = why
    for ident, (_e, _want, got) in reject_results().items():
        if got.kind == "crash":
            out[ident] = "crash: " + got.message.strip().splitlines()[-1]
        elif got.kind != "error":
            out[ident] = "Terraform rejects it, fgform accepts it"
    return out
