"""Diagnostics as users read them: summary, place, the offending line, detail and hint."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from fgform.errors import Diagnostic, Severity


@lru_cache(maxsize=64)
def _lines(filename: str) -> tuple[str, ...]:
    try:
        return tuple(Path(filename).read_text(encoding="utf-8", errors="replace").splitlines())
    except OSError:
        return ()


def _display_name(filename: str, base: Path | None) -> str:
    if base is None:
        return filename
    try:
        return str(Path(filename).resolve().relative_to(base.resolve()))
    except ValueError:
        return filename


def format_diagnostic(diag: Diagnostic, base: Path | None = None) -> str:
    """Render one diagnostic as text: `Error: summary`, `on FILE line N, column C:`, the
    source line with a caret, then the detail and the hint."""
    word = "Error" if diag.severity is Severity.ERROR else "Warning"
    out = [f"{word}: {diag.summary}", ""]
    rng = diag.range
    if rng is not None:
        name = _display_name(rng.filename, base)
        out.append(f"  on {name} line {rng.start_line}, column {rng.start_col}:")
        lines = _lines(str(Path(base, rng.filename)) if base and not Path(rng.filename).is_absolute()
                       else rng.filename)
        if 0 < rng.start_line <= len(lines):
            src = lines[rng.start_line - 1].replace("\t", "  ")
            prefix = f"  {rng.start_line}: "
            out.append(prefix + src)
            width = 1
            if rng.end_line == rng.start_line and rng.end_col > rng.start_col:
                width = rng.end_col - rng.start_col
            out.append(" " * (len(prefix) + rng.start_col - 1) + "^" * max(1, width))
        out.append("")
    if diag.detail:
        out.append(diag.detail)
    if diag.hint:
        out.append(f"Hint: {diag.hint}")
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out)


def format_diagnostics(diags: list[Diagnostic], base: Path | None = None) -> str:
    """Every diagnostic, errors first in source order, separated by blank lines."""
    def key(d: Diagnostic) -> tuple:
        r = d.range
        return (d.severity is not Severity.ERROR, r.filename if r else "",
                r.start_line if r else 0, r.start_col if r else 0)
    return "\n\n".join(format_diagnostic(d, base) for d in sorted(diags, key=key))


def diagnostics_json(diags: list[Diagnostic]) -> dict:
    """Terraform's `validate -json` shape."""
    errors = sum(1 for d in diags if d.severity is Severity.ERROR)
    return {
        "format_version": "1.0",
        "valid": errors == 0,
        "error_count": errors,
        "warning_count": len(diags) - errors,
        "diagnostics": [
            {
                "severity": d.severity.value,
                "summary": d.summary,
                "detail": d.detail + (f"\nHint: {d.hint}" if d.hint else ""),
                **({"range": {
                    "filename": d.range.filename,
                    "start": {"line": d.range.start_line, "column": d.range.start_col},
                    "end": {"line": d.range.end_line or d.range.start_line,
                            "column": d.range.end_col or d.range.start_col},
                }} if d.range else {}),
            }
            for d in diags
        ],
    }


def dumps(data: object) -> str:
    return json.dumps(data, indent=2, sort_keys=False)
