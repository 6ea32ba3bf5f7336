"""Apply progress as Terraform prints it: terminal lines, or `-json` machine-readable lines.

Both printers implement `fgform.apply.events.ApplyHooks` and write whole lines (no trailing
newline) through a `write` callable, so the CLI decides where they go and tests can collect
them. Wording and punctuation follow Terraform's `internal/command/views/hook_ui.go` and
`views/json/hook.go`, so users and their log scrapers see what they already know:

    fg_service.web: Creating...
    fg_service.web: Still creating... [10s elapsed]
    fg_service.web: Creation complete after 12s [id=web]
    fg_cluster.main: Modifying... [id=main]
    fg_cluster.main: Destroying... [id=main]
    fg_cluster.main: Destruction complete after 1s

    Apply complete! Resources: 1 added, 0 changed, 1 destroyed.

After the walk, `TextProgress.finish(result)` / `JsonProgress.finish(result)` print the
errors (as diagnostics) or the final summary.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fgform.addresses import Address
from fgform.apply.events import ApplyFinished, ApplyProgress, ApplyStarted
from fgform.apply.executor import ApplyResult
from fgform.errors import Diagnostic
from fgform.plan.model import Action
from fgform.render.diagnostics import format_diagnostic
from fgform.values import scrub

Write = Callable[[str], None]

# `@module` of every JSON line; Terraform writes "terraform.ui".
JSON_UI_MODULE = "fgform.ui"
MAX_ID_LEN = 80  # Terraform shortens ids in "Still ..." lines to this many characters

_START_VERB = {Action.CREATE: "Creating", Action.UPDATE: "Modifying",
               Action.DELETE: "Destroying", Action.READ: "Reading"}
_PROGRESS_VERB = {Action.CREATE: "creating", Action.UPDATE: "modifying",
                  Action.DELETE: "destroying", Action.READ: "reading"}
_NOUN = {Action.CREATE: "Creation", Action.UPDATE: "Modifications",
         Action.DELETE: "Destruction", Action.READ: "Read"}
_JSON_ACTION = {Action.CREATE: "create", Action.UPDATE: "update", Action.DELETE: "delete",
                Action.READ: "read", Action.NOOP: "noop",
                Action.DELETE_THEN_CREATE: "replace", Action.CREATE_THEN_DELETE: "replace"}


def format_duration(seconds: float) -> str:
    """Go's time.Duration string for whole seconds, as Terraform prints elapsed times:
    `0s`, `10s`, `1m5s`, `2h0m3s`."""
    total = max(0, int(round(seconds)))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"{h}h{m}m{s}s"
    if m:
        return f"{m}m{s}s"
    return f"{s}s"


def truncate_id(value: str, max_len: int = MAX_ID_LEN) -> str:
    """Terraform's truncateId: keep both ends of a long id with `...` in between."""
    if len(value) <= max_len:
        return value
    max_len = max(max_len, 5)
    part = max_len // 2
    left = value[:part - 1]
    right_idx = len(value) - part - 1
    overlap = max_len - (part * 2 + 3)
    if overlap < 0:
        right_idx -= overlap
    return left + "..." + value[right_idx:]


def _display(addr: Address, deposed: bool, key: str = "") -> str:
    """Terraform names the old object of a create-before-destroy replacement by its deposed
    key: `fg_service.web (deposed object ab12cd34)`."""
    if not deposed and not key:
        return str(addr)
    return f"{addr} (deposed object {key})" if key else f"{addr} (deposed object)"


def _shown(event: ApplyStarted | ApplyProgress | ApplyFinished) -> str:
    return _display(event.address, event.deposed, event.deposed_key)


def summary_line(added: int, changed: int, destroyed: int, destroy_mode: bool = False,
                 imported: int = 0) -> str:
    """The last line of a successful apply (or destroy)."""
    if destroy_mode:
        return f"Destroy complete! Resources: {destroyed} destroyed."
    return ("Apply complete! Resources: " + (f"{imported} imported, " if imported else "")
            + f"{added} added, {changed} changed, {destroyed} destroyed.")


def result_diagnostics(result: ApplyResult) -> list[Diagnostic]:
    """The errors of an apply as diagnostics: each root cause once, then a cancel/abort note."""
    diags = [Diagnostic.error(e.message, hint=e.hint) for e in result.errors]
    if result.aborted:
        names = ", ".join(str(a) for a in result.interrupted) or "none"
        diags.append(Diagnostic.error(
            "Apply interrupted",
            f"fgform stopped without waiting for running operations ({names}); their results "
            "are not in the state. Run `fgform plan` to see what is left."))
    elif result.cancelled:
        diags.append(Diagnostic.error(
            "Apply cancelled",
            f"{len(result.skipped)} planned operation(s) did not run; everything that finished "
            "is recorded in the state."))
    return diags


def _id_suffix(event: ApplyStarted | ApplyFinished, secrets: frozenset[str]) -> str:
    """` [id=web]`, or nothing when there is no id or it holds a sensitive value (as
    Terraform leaves out a marked id)."""
    if not event.id_key or not event.id_value or _holds_secret(event.id_value, secrets):
        return ""
    return f" [{event.id_key}={event.id_value}]"


def _holds_secret(text: str, secrets: frozenset[str]) -> bool:
    return scrub(text, secrets) != text


class TextProgress:
    """Terminal lines, as `terraform apply` prints them. `secrets` are the run's sensitive
    values: no line shows one (an id holding one is left out, a driver's error message that
    quotes one shows `(sensitive value)`)."""

    def __init__(self, write: Write, color: bool = False,
                 secrets: frozenset[str] = frozenset()) -> None:
        self.write = write
        self.color = color
        self.secrets = secrets

    def _out(self, text: str) -> None:
        self.write(scrub(text, self.secrets))

    def _bold(self, text: str) -> str:
        return f"\x1b[0m\x1b[1m{text}\x1b[0m" if self.color else text

    def pre_apply(self, event: ApplyStarted) -> None:
        verb = _START_VERB.get(event.action, "Applying")
        suffix = _id_suffix(event, self.secrets)
        self._out(self._bold(f"{_shown(event)}: {verb}...{suffix}"))

    def imported(self, address: Address, ident: str) -> None:
        """An `import` block's object taken into state (Terraform's two lines)."""
        shown = "" if _holds_secret(ident, self.secrets) else f" [id={truncate_id(ident)}]"
        self._out(self._bold(f"{address}: Importing...{shown}"))
        self._out(self._bold(f"{address}: Import complete{shown}"))

    def still_running(self, event: ApplyProgress) -> None:
        verb = _PROGRESS_VERB.get(event.action, "applying")
        id_part = ""
        if event.id_key and event.id_value and not _holds_secret(event.id_value, self.secrets):
            id_part = f"{event.id_key}={truncate_id(event.id_value)}, "
        self._out(self._bold(f"{_shown(event)}: Still {verb}... "
                              f"[{id_part}{format_duration(event.elapsed)} elapsed]"))

    def post_apply(self, event: ApplyFinished) -> None:
        if event.error is not None:
            return  # errors are printed once, together, by finish()
        noun = _NOUN.get(event.action, "Apply")
        suffix = _id_suffix(event, self.secrets)
        self._out(self._bold(f"{_shown(event)}: {noun} complete "
                              f"after {format_duration(event.elapsed)}{suffix}"))

    def finish(self, result: ApplyResult) -> None:
        """Errors as diagnostics, or the blank line and `Apply complete! ...`."""
        diags = result_diagnostics(result)
        if diags:
            for d in diags:
                self._out("")
                for line in format_diagnostic(d).splitlines():
                    self._out(line)
            return
        self._out("")
        line = summary_line(result.added, result.changed, result.destroyed, result.destroy_mode,
                            result.imported)
        self._out(f"\x1b[0m\x1b[1m\x1b[32m{line}\x1b[0m" if self.color else line)


def _timestamp() -> str:
    # Go's RFC3339 with microseconds: "2024-05-01T12:00:00.123456+02:00", "Z" for UTC.
    text = datetime.now().astimezone().isoformat(timespec="microseconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def resource_json(addr: Address) -> dict[str, Any]:
    """Terraform's `hook.resource` object."""
    resource = str(Address(addr.type, addr.name, addr.key, mode=addr.mode))
    return {
        "addr": str(addr),
        "module": addr.module_address,
        "resource": resource,
        "implied_provider": addr.type.split("_", 1)[0],
        "resource_type": addr.type,
        "resource_name": addr.name,
        "resource_key": addr.key,
    }


class JsonProgress:
    """`-json` lines: one compact JSON object per line in Terraform's machine-readable UI
    format (`@level`, `@message`, `@module`, `@timestamp`, `type`, and `hook`)."""

    def __init__(self, write: Write, clock: Callable[[], str] = _timestamp,
                 secrets: frozenset[str] = frozenset()) -> None:
        self.write = write
        self.clock = clock
        self.secrets = secrets  # as TextProgress's

    def emit(self, level: str, message: str, type_: str, **fields: Any) -> None:
        obj: dict[str, Any] = {"@level": level, "@message": message,
                               "@module": JSON_UI_MODULE, "@timestamp": self.clock()}
        obj.update(fields)
        obj["type"] = type_
        self.write(scrub(json.dumps(obj, separators=(",", ":")), self.secrets))

    @staticmethod
    def _hook(addr: Address, action: Action, **extra: Any) -> dict[str, Any]:
        hook: dict[str, Any] = {"resource": resource_json(addr), "action": _JSON_ACTION[action]}
        hook.update(extra)
        return hook

    def pre_apply(self, event: ApplyStarted) -> None:
        extra: dict[str, Any] = {}
        suffix = _id_suffix(event, self.secrets)
        if suffix:
            extra = {"id_key": event.id_key, "id_value": event.id_value}
        verb = _START_VERB.get(event.action, "Applying")
        self.emit("info", f"{_shown(event)}: {verb}...{suffix}",
                  "apply_start", hook=self._hook(event.address, event.action, **extra))

    def still_running(self, event: ApplyProgress) -> None:
        verb = _PROGRESS_VERB.get(event.action, "applying")
        elapsed = int(round(event.elapsed))
        self.emit("info", f"{_shown(event)}: Still {verb}... "
                          f"[{format_duration(elapsed)} elapsed]",
                  "apply_progress",
                  hook=self._hook(event.address, event.action, elapsed_seconds=elapsed))

    def post_apply(self, event: ApplyFinished) -> None:
        noun = _NOUN.get(event.action, "Apply")
        elapsed = int(round(event.elapsed))
        shown = _shown(event)
        if event.error is not None:
            self.emit("info", f"{shown}: {noun} errored after {format_duration(elapsed)}",
                      "apply_errored",
                      hook=self._hook(event.address, event.action, elapsed_seconds=elapsed))
            return
        extra: dict[str, Any] = {}
        suffix = _id_suffix(event, self.secrets)
        if suffix:
            extra = {"id_key": event.id_key, "id_value": event.id_value}
        self.emit("info", f"{shown}: {noun} complete after {format_duration(elapsed)}{suffix}",
                  "apply_complete",
                  hook=self._hook(event.address, event.action, **extra, elapsed_seconds=elapsed))

    def finish(self, result: ApplyResult) -> None:
        """`diagnostic` lines for the errors, or the `change_summary` line."""
        diags = result_diagnostics(result)
        addresses = [str(e.address) for e in result.errors]
        for i, d in enumerate(diags):
            diag: dict[str, Any] = {"severity": "error", "summary": d.summary,
                                    "detail": d.detail + (f"\nHint: {d.hint}" if d.hint else "")}
            if i < len(addresses):
                diag["address"] = addresses[i]
            self.emit("error", f"Error: {d.summary}", "diagnostic", diagnostic=diag)
        if diags:
            return
        self.emit("info",
                  summary_line(result.added, result.changed, result.destroyed,
                               result.destroy_mode, result.imported),
                  "change_summary",
                  changes={"add": result.added, "change": result.changed,
                           "import": result.imported,
                           "remove": result.destroyed,
                           "operation": "destroy" if result.destroy_mode else "apply"})
