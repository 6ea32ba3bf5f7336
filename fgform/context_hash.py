"""Content hash of an image build context, honouring `.dockerignore`. Pure: files only.

The planner calls this at plan time (`fg_image.context_sha256` is known before apply, so
editing a file in the context shows as a change in the plan), and the image driver builds
from exactly the same file list (`context_files`), so what is hashed is what is sent to the
engine.

`.dockerignore` semantics follow Docker's own matcher (moby/patternmatcher):
- one pattern per line; blank lines and lines starting with `#` are ignored;
- patterns are cleaned like paths (`./a//b/` -> `a/b`, a leading `/` is dropped);
- `*` matches within one path segment, `?` one non-`/` character, `[...]` a class, `\\` escapes,
  `**` any number of segments (also zero);
- a file is excluded when it or one of its parent directories matches;
- `!pattern` re-includes; the last matching pattern wins.
The Dockerfile and `.dockerignore` are always part of the context (the engine needs the
Dockerfile even when `.dockerignore` lists it), so they are always hashed.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fgform.errors import FgformError

DOCKERIGNORE = ".dockerignore"
# Where a Dockerfile that lives outside the context is put in the build archive.
OUTSIDE_DOCKERFILE = ".fgform.Dockerfile"
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class IgnorePattern:
    """One `.dockerignore` line, compiled."""

    text: str  # the cleaned pattern, without `!`
    exclusion: bool  # a `!` line: re-includes what earlier lines excluded
    regex: re.Pattern[str]

    def match(self, path: str) -> bool:
        return self.regex.match(path) is not None


def _clean(pattern: str) -> str:
    """Clean a pattern as Go's filepath.Clean + the leading-slash strip of Docker's reader."""
    cleaned = posixpath.normpath(pattern)
    if cleaned.startswith("//"):  # posixpath keeps a leading '//' (POSIX allows it); Go doesn't
        cleaned = "/" + cleaned.lstrip("/")
    if len(cleaned) > 1 and cleaned.startswith("/"):
        cleaned = cleaned[1:]
    return cleaned


def _compile(pattern: str) -> re.Pattern[str]:
    """Translate a cleaned pattern to a regex, token by token as patternmatcher does."""
    out = ["^"]
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "*":
            if i < n and pattern[i] == "*":
                i += 1
                if i < n and pattern[i] == "/":  # `**/` behaves as `**`
                    i += 1
                if i >= n:
                    out.append(".*")  # trailing `**` matches everything below
                else:
                    out.append("(.*/)?")  # zero or more whole segments
            else:
                out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\":
            if i < n:
                out.append(re.escape(pattern[i]))
                i += 1
            else:
                out.append(re.escape("\\"))
        elif ch == "[":
            # A character class passes through to the regex, as patternmatcher does
            # (`[^...]` negates; Go's matcher has no `[!...]`).
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(ch))
                continue
            out.append("[" + pattern[i:end].replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            out.append(re.escape(ch))
    out.append("$")
    return re.compile("".join(out), re.DOTALL)


def parse_dockerignore(text: str) -> list[IgnorePattern]:
    """The patterns of a `.dockerignore` file, in order."""
    patterns: list[IgnorePattern] = []
    for raw in text.splitlines():
        if raw.startswith("#"):
            continue
        line = raw.strip()
        if not line:
            continue
        exclusion = line.startswith("!")
        if exclusion:
            line = line[1:].strip()
        if not line:
            continue
        cleaned = _clean(line)
        patterns.append(IgnorePattern(cleaned, exclusion, _compile(cleaned)))
    return patterns


def is_ignored(path: str, patterns: Iterable[IgnorePattern]) -> bool:
    """Whether a context-relative, `/`-separated path is excluded (it or a parent matches)."""
    parent = posixpath.dirname(path)
    parents = parent.split("/") if parent else []
    ignored = False
    for pat in patterns:
        # An exclusion only matters for something ignored so far, and vice versa.
        if pat.exclusion != ignored:
            continue
        hit = pat.match(path)
        if not hit:
            hit = any(pat.match("/".join(parents[: k + 1])) for k in range(len(parents)))
        if hit:
            ignored = not pat.exclusion
    return ignored


@dataclass(frozen=True, slots=True)
class ContextFile:
    """A file of the build context: its name in the archive and where it is on disk."""

    arcname: str
    path: Path
    is_link: bool
    executable: bool


def dockerfile_location(root: Path, dockerfile: str) -> tuple[Path, str]:
    """Where the Dockerfile is, and its name in the build archive (a Dockerfile outside the
    context is sent as `OUTSIDE_DOCKERFILE`)."""
    df = Path(dockerfile)
    df_path = df if df.is_absolute() else root / df
    try:
        arcname = df_path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        arcname = OUTSIDE_DOCKERFILE
    return df_path, arcname


def context_files(context: str | os.PathLike[str], dockerfile: str = "Dockerfile"
                  ) -> list[ContextFile]:
    """Every file of the context that the build sees, sorted by archive name.

    Symbolic links are kept as links (Docker sends them as links and COPY copies them so), never
    followed. Raises FgformError when the context or the Dockerfile is missing.
    """
    root = Path(context)
    if not root.is_dir():
        raise FgformError(f"build context {str(root)!r} is not a directory")
    df_path, df_arc = dockerfile_location(root, dockerfile)
    if not df_path.is_file():
        raise FgformError(f"Dockerfile {str(df_path)!r} not found",
                          hint="set `dockerfile` to a path within the context")
    ignore_file = root / DOCKERIGNORE
    patterns = parse_dockerignore(ignore_file.read_text()) if ignore_file.is_file() else []
    # Without `!` lines nothing below an excluded directory can come back: skip the walk.
    can_reinclude = any(p.exclusion for p in patterns)

    files: dict[str, ContextFile] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        rel_dir = "" if rel_dir == "." else rel_dir
        if not can_reinclude:
            dirnames[:] = [d for d in dirnames
                           if not is_ignored(posixpath.join(rel_dir, d), patterns)]
        # os.walk lists symlinked directories as dirs but does not descend into them: keep
        # them as links, as Docker does.
        names = list(filenames) + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
        for name in names:
            rel = posixpath.join(rel_dir, name)
            if is_ignored(rel, patterns):
                continue
            full = Path(dirpath, name)
            st = full.lstat()
            if not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
                continue  # sockets, fifos: Docker skips them too
            files[rel] = ContextFile(rel, full, stat.S_ISLNK(st.st_mode),
                                     bool(st.st_mode & 0o111))
    # Always present, even when `.dockerignore` lists them.
    for arc, path in ((df_arc, df_path), (DOCKERIGNORE, ignore_file)):
        if arc not in files and path.is_file():
            st = path.stat()
            files[arc] = ContextFile(arc, path, False, bool(st.st_mode & 0o111))
    return [files[k] for k in sorted(files)]


def context_sha256(context: str | os.PathLike[str], dockerfile: str = "Dockerfile") -> str:
    """sha256 over (path, mode, content) of every file the build sees, in sorted order.

    The mode is normalized to 644/755 (plus "link"): only the executable bit changes what a
    build produces, and a checkout with another umask must not plan a rebuild.
    """
    digest = hashlib.sha256()
    for f in context_files(context, dockerfile):
        if f.is_link:
            kind, body = "link", os.readlink(f.path).encode()
            content = hashlib.sha256(body).hexdigest()
        else:
            kind = "755" if f.executable else "644"
            h = hashlib.sha256()
            with open(f.path, "rb") as fh:
                while chunk := fh.read(_CHUNK):
                    h.update(chunk)
            content = h.hexdigest()
        # NUL separators: no file name can contain one, so entries can't run together.
        digest.update(f"{f.arcname}\0{kind}\0{content}\0".encode())
    return digest.hexdigest()


def resolve_context(context: str, config_dir: str) -> str:
    """A context path as the user wrote it, relative to the configuration directory."""
    return context if os.path.isabs(context) else os.path.join(config_dir, context)


def plan_time_attrs(attrs: dict[str, Any], config_dir: str) -> dict[str, Any]:
    """`ResourceSchema.plan_time` for fg_image: the context hash, when the context is known.

    Returns {} when `context` or `dockerfile` are not known yet (not plain strings), so the
    planner shows `context_sha256` as known after apply.
    """
    context, dockerfile = attrs.get("context"), attrs.get("dockerfile") or "Dockerfile"
    if not isinstance(context, str) or not isinstance(dockerfile, str):
        return {}
    return {"context_sha256": context_sha256(resolve_context(context, config_dir), dockerfile)}
