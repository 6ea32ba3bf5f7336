"""Canonical formatting of configuration files, byte-identical to ``terraform fmt``.

Terraform formats with ``hclwrite``: it lexes the file into tokens, applies a few
syntax-tree rewrites (quoted block labels, unwrapping ``"${x}"`` to ``x``, modern type
constraints in ``variable`` blocks) and then only rewrites the whitespace *before* each
token. This package does the same (``tokens``, ``rewrite``, ``layout``), so the output
matches the Terraform binary byte for byte, including its quirks (kept blank-line runs,
kept CRLF, no final newline added). Whether the text is valid is the HCL front end's
call, the one that ``validate`` and ``apply`` use: fmt rejects exactly what they reject,
with their diagnostics, and formats everything they accept.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

from fgform.config.hcl import check_syntax
from fgform.config.loader import encoding_diagnostic
from fgform.errors import Diagnostic, FgformError, Severity, SourceRange
from fgform.fmt.layout import format_tokens
from fgform.fmt.rewrite import rewrite
from fgform.fmt.tokens import LexError, lex
from fgform.safefile import refuse_symlink, replace_file

__all__ = ["FmtError", "FORMAT_SUFFIXES", "find_files", "format_file", "format_source",
           "format_valid"]

#: File name endings that ``fgform fmt`` formats (``terraform fmt`` knows the last two).
FORMAT_SUFFIXES = (".hcl", ".fgvars", ".tf", ".tfvars")


class FmtError(FgformError):
    """The input is not valid HCL native syntax, so it is left exactly as it was.

    ``diagnostic`` is the front end's (what ``validate`` reports for the same text);
    ``summary``, ``detail``, ``range`` and ``hint`` are its parts, and ``text`` is the
    summary and the detail on one line.
    """

    def __init__(self, diagnostic: Diagnostic, filename: str) -> None:
        self.diagnostic = diagnostic
        self.summary = diagnostic.summary
        self.detail = diagnostic.detail
        self.range = diagnostic.range or SourceRange(filename, 1)
        self.text = f"{self.summary}: {self.detail}" if self.detail else self.summary
        super().__init__(f"{self.range.filename}:{self.range.start_line}: {self.text}",
                         hint=diagnostic.hint)


def format_source(text: str, filename: str = "<input>") -> str:
    """Return ``text`` formatted exactly as ``terraform fmt`` would write the file.

    Raises FmtError (the front end's first error, at its file and line) when the text is
    not valid syntax; like Terraform, nothing is formatted then.
    """
    errors = [d for d in check_syntax(text, filename) if d.severity is Severity.ERROR]
    if errors:
        raise FmtError(errors[0], filename)
    return format_valid(text, filename)


def format_valid(text: str, filename: str = "<input>") -> str:
    """``format_source`` for text the front end has accepted: the formatter alone.

    Text it cannot cut into tokens still raises FmtError; nothing else is checked.
    """
    # A byte order mark at the start goes, as terraform fmt drops it.
    body = text.lstrip("\ufeff")
    try:
        tokens = rewrite(lex(body))
    except LexError as exc:
        raise FmtError(Diagnostic.error(exc.summary, range=SourceRange(filename, exc.line)),
                       filename) from None
    format_tokens(tokens)
    return "".join(" " * t.spaces + t.text for t in tokens)


def format_file(path: str | Path, check: bool = False,
                diff: bool = False) -> tuple[bool, str, str]:
    """Format one file; returns ``(changed, new_text, unified_diff)``.

    The file is rewritten only when it changed and ``check`` is false. The diff is
    computed only when ``diff`` is true (otherwise it is ``""``).
    """
    path = Path(path)
    raw = path.read_bytes()
    try:
        # newline="" semantics: CRLF must survive so the output can keep it, as terraform does.
        old = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FmtError(encoding_diagnostic(raw, exc.start, str(path)), str(path)) from None
    new = format_source(old, str(path))
    changed = new != old
    patch = ""
    if diff and changed:
        patch = "".join(difflib.unified_diff(
            old.splitlines(keepends=True), new.splitlines(keepends=True),
            fromfile=f"old/{path.name}", tofile=f"new/{path.name}"))
    if changed and not check:
        _write_back(path, new.encode("utf-8"))
    return changed, new, patch


def _write_back(path: Path, data: bytes) -> None:
    """Replace `path` with `data` atomically, keeping its mode; never through a symlink.

    A linked configuration file may point out of the configuration directory (or at
    someone else's file): fmt reports it instead of writing through the link or replacing
    the link with a copy.
    """
    refuse_symlink(path, "the formatted file")
    replace_file(path, data, mode=os.stat(path).st_mode & 0o7777)


def find_files(dir: str | Path, recursive: bool = False) -> list[Path]:
    """List the configuration files under ``dir`` that fmt handles, sorted by path.

    ``dir`` may also be a single file, which is returned as is. Hidden directories
    (``.terraform``, ``.git``...) are never descended into: they hold tool state.
    """
    root = Path(dir)
    if root.is_file():
        return [root]
    found: list[Path] = []
    for entry in sorted(root.iterdir()):
        if entry.is_dir():
            if recursive and not entry.name.startswith("."):
                found.extend(find_files(entry, recursive=True))
        elif entry.name.endswith(FORMAT_SUFFIXES) and entry.is_file():
            found.append(entry)
    return found
