"""Diagnostics as users read them: summary, place, the offending line, detail and hint.

    Error: Unsupported argument

      on main.tf line 3, column 3:
         3:   desired_cont = 2
              ^^^^^^^^^^^^

    An argument named "desired_cont" is not expected here.

    Hint: Did you mean "desired_count"?

File names are shown relative to the configuration directory (`base`), in the place line and
wherever a message quotes a path inside it, so the same problem reads the same wherever the
configuration lives. `validate -json` follows Terraform's shape.
"""

from __future__ import annotations

import json
import os
import textwrap
import unicodedata
from functools import lru_cache
from pathlib import Path

from fgform.errors import Diagnostic, Severity

WIDTH = 78  # detail paragraphs are wrapped to this many columns, as Terraform does
_TAB = "  "
# A source line longer than this (a minified file, a deep expression) is shown as a window of
# this many columns around the error, its cuts marked "...": Terraform prints the whole
# line, but 50,000 characters in a terminal bury the caret. The window starts SNIPPET_BEFORE
# columns before the error.
SNIPPET_MAX = 200
SNIPPET_BEFORE = 60
_CUT = "..."


@lru_cache(maxsize=64)
def _read_lines(filename: str, mtime_ns: int) -> tuple[str, ...]:
    try:
        # Lines as the parser counts them: only "\n" ends one. splitlines() also splits at
        # form feeds, lone CRs, U+2028 and others, and then showed a line further down.
        text = Path(filename).read_bytes().decode("utf-8", errors="replace")
        return tuple(ln[:-1] if ln.endswith("\r") else ln for ln in text.split("\n"))
    except (OSError, ValueError):
        return ()


def _lines(filename: str) -> tuple[str, ...]:
    try:
        mtime = os.stat(filename).st_mtime_ns
    except (OSError, ValueError):
        return ()
    return _read_lines(filename, mtime)


def _source_path(filename: str, base: Path | None) -> str:
    if base is not None and not Path(filename).is_absolute():
        return str(Path(base, filename))
    return filename


def _display_name(filename: str, base: Path | None) -> str:
    if base is None:
        return filename
    try:
        return str(Path(_source_path(filename, base)).resolve().relative_to(base.resolve()))
    except (ValueError, OSError):
        return filename


def relativise(text: str, base: Path | None) -> str:
    """Paths inside the configuration directory quoted in a message, made relative."""
    if base is None or not text:
        return text
    for b in {str(base), str(base.resolve())}:
        if b not in ("", os.sep):
            text = text.replace(b + os.sep, "")
    return text


def _printable(line: str) -> str:
    """The source line as it can be shown: tabs expanded, control characters made visible
    (one column each, so the caret still lines up)."""
    out = []
    for ch in line:
        if ch == "\t":
            out.append(_TAB)
        elif unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn") or ch == "\ufeff":
            out.append("\ufffd")
        else:
            out.append(ch)
    return "".join(out)


def _column(line: str, col: int) -> int:
    """The display column (0-based) of the 1-based source column `col` of `line`."""
    return len(_printable(line[: max(0, col - 1)]))


def _wrap(text: str) -> list[str]:
    """Detail text wrapped paragraph by paragraph; indented lines are kept as they are."""
    out: list[str] = []
    for line in text.splitlines():
        if not line.strip() or line[0] in " \t" or len(line) <= WIDTH:
            out.append(line.rstrip())
        else:
            out.extend(textwrap.wrap(line, WIDTH, break_long_words=False,
                                     break_on_hyphens=False))
    return out


def _snippet(diag: Diagnostic, base: Path | None) -> list[str]:
    """The offending source line with the range underlined, or nothing."""
    rng = diag.range
    if rng is None or not diag.show_source:
        return []
    lines = _lines(_source_path(rng.filename, base))
    if not 0 < rng.start_line <= len(lines):
        return []
    raw = lines[rng.start_line - 1]
    shown = _printable(raw)
    gutter = f"{rng.start_line:>6}: "
    start = _column(raw, rng.start_col)
    if rng.end_line == rng.start_line and rng.end_col > rng.start_col:
        end = _column(raw, rng.end_col)
    elif rng.end_line > rng.start_line:
        end = len(shown)  # the range goes on below: underline to the end of this line
    else:
        end = start + 1
    end = max(end, start + 1)
    if len(shown) > SNIPPET_MAX:
        shown, start, end = _window(shown, start, end)
    return [(gutter + shown).rstrip(), " " * (len(gutter) + start) + "^" * (end - start)]


def _window(shown: str, start: int, end: int) -> tuple[str, int, int]:
    """SNIPPET_MAX columns of a long line around [start, end), cuts marked; the underline
    moved with it and kept inside."""
    lo = max(0, min(start - SNIPPET_BEFORE, len(shown) - SNIPPET_MAX))
    hi = min(len(shown), lo + SNIPPET_MAX)
    head = _CUT if lo else ""
    piece = head + shown[lo:hi] + (_CUT if hi < len(shown) else "")
    start = min(start, hi) - lo + len(head)
    end = max(min(end, hi) - lo + len(head), start + 1)
    return piece, start, end


def format_diagnostic(diag: Diagnostic, base: Path | None = None) -> str:
    """Render one diagnostic as text: `Error: summary`, `on FILE line N, column C:`, the
    source line with a caret, then the detail and the hint."""
    word = "Error" if diag.severity is Severity.ERROR else "Warning"
    out = [f"{word}: {relativise(diag.summary, base)}"]
    rng = diag.range
    if rng is not None:
        name = _display_name(rng.filename, base)
        out += ["", f"  on {name} line {rng.start_line}, column {rng.start_col}:"]
        out += _snippet(diag, base)
    detail = relativise(diag.detail, base).strip("\n")
    if detail:
        out += [""] + _wrap(detail)
    if diag.hint:
        out += [""] + _wrap(f"Hint: {relativise(diag.hint, base)}")
    return "\n".join(out)


def _sort_key(d: Diagnostic) -> tuple:
    r = d.range
    return (d.severity is not Severity.ERROR, r is None, r.filename if r else "",
            r.start_line if r else 0, r.start_col if r else 0)


def format_diagnostics(diags: list[Diagnostic], base: Path | None = None) -> str:
    """Every diagnostic, errors first in source order, separated by blank lines."""
    return "\n\n".join(format_diagnostic(d, base) for d in sorted(diags, key=_sort_key))


def _byte_offset(filename: str, base: Path | None, line: int, col: int) -> int:
    lines = _lines(_source_path(filename, base))
    if not 0 < line <= len(lines):
        return 0
    before = sum(len(x.encode("utf-8")) + 1 for x in lines[: line - 1])
    return before + len(lines[line - 1][: max(0, col - 1)].encode("utf-8"))


def _json_range(d: Diagnostic, base: Path | None) -> dict:
    r = d.range
    assert r is not None
    end_line = r.end_line or r.start_line
    end_col = r.end_col or r.start_col
    return {
        "filename": _display_name(r.filename, base),
        "start": {"line": r.start_line, "column": r.start_col,
                  "byte": _byte_offset(r.filename, base, r.start_line, r.start_col)},
        "end": {"line": end_line, "column": end_col,
                "byte": _byte_offset(r.filename, base, end_line, end_col)},
    }


def _json_snippet(d: Diagnostic, base: Path | None) -> dict | None:
    r = d.range
    assert r is not None
    lines = _lines(_source_path(r.filename, base))
    if not 0 < r.start_line <= len(lines):
        return None
    code = lines[r.start_line - 1]
    start = max(0, r.start_col - 1)
    end = r.end_col - 1 if r.end_line in (0, r.start_line) and r.end_col > r.start_col \
        else len(code)
    return {"context": None, "code": code, "start_line": r.start_line,
            "highlight_start_offset": len(code[:start].encode("utf-8")),
            "highlight_end_offset": len(code[:max(end, start)].encode("utf-8")),
            "values": []}


def diagnostics_json(diags: list[Diagnostic], base: Path | None = None) -> dict:
    """Terraform's `validate -json` shape; file names relative to `base`."""
    errors = sum(1 for d in diags if d.severity is Severity.ERROR)
    items = []
    for d in diags:
        item: dict = {
            "severity": d.severity.value,
            "summary": relativise(d.summary, base),
            "detail": relativise(d.detail + (f"\n\nHint: {d.hint}" if d.hint else ""),
                                  base).strip("\n"),
        }
        if d.range is not None:
            item["range"] = _json_range(d, base)
            snippet = _json_snippet(d, base) if d.show_source else None
            if snippet is not None:
                item["snippet"] = snippet
        items.append(item)
    return {
        "format_version": "1.0",
        "valid": errors == 0,
        "error_count": errors,
        "warning_count": len(diags) - errors,
        "diagnostics": items,
    }


def dumps(data: object) -> str:
    return json.dumps(data, indent=2, sort_keys=False)
