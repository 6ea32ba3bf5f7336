"""Errors and diagnostics: what went wrong, where in the user's files, and what was meant."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from fgform.values import scrub


@dataclass(frozen=True, slots=True)
class SourceRange:
    """A span of a configuration file; lines and columns start at 1."""

    filename: str
    start_line: int
    start_col: int = 1
    end_line: int = 0
    end_col: int = 0

    def __str__(self) -> str:
        return f"{self.filename}:{self.start_line},{self.start_col}"


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(slots=True)
class Diagnostic:
    """One problem found in the user's input, reported with its place and a hint."""

    severity: Severity
    summary: str
    detail: str = ""
    range: SourceRange | None = None
    hint: str = ""
    # False when the source line at `range` holds a sensitive value (a variable's value in
    # a .tfvars file or its default): the place is named, the line is not printed.
    show_source: bool = True

    @classmethod
    def error(cls, summary: str, detail: str = "", range: SourceRange | None = None,
              hint: str = "") -> Diagnostic:
        return cls(Severity.ERROR, summary, detail, range, hint)

    @classmethod
    def warning(cls, summary: str, detail: str = "", range: SourceRange | None = None,
                hint: str = "") -> Diagnostic:
        return cls(Severity.WARNING, summary, detail, range, hint)


class FgformError(Exception):
    """An error the user can act on; the CLI prints it without a traceback and exits 1."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class DiagnosticsError(FgformError):
    """Raised with every diagnostic collected so far, errors and warnings."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        errs = [d for d in diagnostics if d.severity is Severity.ERROR]
        super().__init__(errs[0].summary if errs else "configuration is invalid")
        self.diagnostics = diagnostics


class StateLockedError(FgformError):
    """The state lock is held by someone else."""


class DockerUnavailableError(FgformError):
    """The Docker engine cannot be reached."""


def redact(diags: list[Diagnostic], secrets: set[str]) -> list[Diagnostic]:
    """The diagnostics with every occurrence of a secret replaced by `(sensitive value)`;
    longest first, so a secret containing another is replaced whole."""
    if not secrets:
        return diags
    for d in diags:
        d.summary, d.detail, d.hint = (scrub(d.summary, secrets), scrub(d.detail, secrets),
                                       scrub(d.hint, secrets))
    return diags
