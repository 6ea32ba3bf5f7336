"""Context hashing and `.dockerignore` matching (pure; no Docker)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fgform.context_hash import (
    context_files,
    context_sha256,
    is_ignored,
    parse_dockerignore,
    plan_time_attrs,
)
from fgform.errors import FgformError


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


@pytest.fixture
def ctx(tmp_path: Path) -> Path:
    _write(tmp_path, {
        "Dockerfile": "FROM scratch\nCOPY . /\n",
        "app/main.py": "print('hi')\n",
        "app/data/x.txt": "x\n",
        "README.md": "readme\n",
    })
    return tmp_path


def _ignored(lines: str, path: str) -> bool:
    return is_ignored(path, parse_dockerignore(lines))


@pytest.mark.parametrize(("lines", "path", "expected"), [
    ("*.md", "README.md", True),
    ("*.md", "docs/a.md", False),  # `*` stays within one segment
    ("**/*.md", "docs/a.md", True),
    ("**/*.md", "a.md", True),  # `**` also matches zero segments
    ("docs/**", "docs/a/b/c", True),
    ("a/**/z", "a/z", True),
    ("a/**/z", "a/b/c/z", True),
    ("node_modules", "node_modules/pkg/index.js", True),  # a parent directory matches
    ("/build", "build/out.o", True),  # leading slash is relative to the context
    ("./build/", "build/out.o", True),  # cleaned like a path
    ("file?.txt", "file1.txt", True),
    ("file?.txt", "file/.txt", False),
    ("[ab].txt", "a.txt", True),
    ("[ab].txt", "c.txt", False),
    ("# a comment", "# a comment", False),
    ("*.log\n!keep.log", "keep.log", False),  # `!` re-includes
    ("*.log\n!keep.log", "other.log", True),
    ("*.log\n!keep.log\nkeep.log", "keep.log", True),  # the last match wins
    ("data\n!data/keep", "data/keep", False),
    ("data\n!data/keep", "data/drop", True),
    ("\\*.txt", "*.txt", True),  # an escaped star is literal
    ("\\*.txt", "a.txt", False),
])
def test_dockerignore_matching(lines: str, path: str, expected: bool) -> None:
    assert _ignored(lines, path) is expected


def test_hash_is_deterministic(ctx: Path) -> None:
    assert context_sha256(ctx) == context_sha256(ctx)
    assert len(context_sha256(ctx)) == 64


def test_hash_changes_with_content_name_and_mode(ctx: Path) -> None:
    before = context_sha256(ctx)
    (ctx / "app/main.py").write_text("print('bye')\n")
    after_content = context_sha256(ctx)
    assert after_content != before
    (ctx / "app/main.py").rename(ctx / "app/main2.py")
    after_rename = context_sha256(ctx)
    assert after_rename != after_content
    os.chmod(ctx / "app/main2.py", 0o755)
    assert context_sha256(ctx) != after_rename


def test_group_write_bit_does_not_change_the_hash(ctx: Path) -> None:
    # Another checkout's umask must not plan a rebuild; only the executable bit matters.
    before = context_sha256(ctx)
    os.chmod(ctx / "app/main.py", 0o664)
    assert context_sha256(ctx) == before


def test_ignored_file_does_not_change_the_hash(ctx: Path) -> None:
    (ctx / ".dockerignore").write_text("*.md\napp/data\n")
    before = context_sha256(ctx)
    (ctx / "README.md").write_text("changed\n")
    (ctx / "app/data/x.txt").write_text("changed\n")
    (ctx / "app/data/new.txt").write_text("new\n")
    assert context_sha256(ctx) == before
    (ctx / "app/main.py").write_text("changed\n")
    assert context_sha256(ctx) != before


def test_negation_reincludes_inside_an_ignored_directory(ctx: Path) -> None:
    (ctx / ".dockerignore").write_text("app/data\n!app/data/x.txt\n")
    names = [f.arcname for f in context_files(ctx)]
    assert "app/data/x.txt" in names
    before = context_sha256(ctx)
    (ctx / "app/data/x.txt").write_text("changed\n")
    assert context_sha256(ctx) != before


def test_dockerfile_and_dockerignore_always_hashed(ctx: Path) -> None:
    (ctx / ".dockerignore").write_text("Dockerfile\n.dockerignore\n")
    names = [f.arcname for f in context_files(ctx)]
    assert "Dockerfile" in names and ".dockerignore" in names
    before = context_sha256(ctx)
    (ctx / "Dockerfile").write_text("FROM scratch\n")
    assert context_sha256(ctx) != before


def test_files_are_sorted_and_symlinks_not_followed(ctx: Path) -> None:
    (ctx / "link").symlink_to("app/main.py")
    files = context_files(ctx)
    assert [f.arcname for f in files] == sorted(f.arcname for f in files)
    link = next(f for f in files if f.arcname == "link")
    assert link.is_link
    before = context_sha256(ctx)
    (ctx / "link").unlink()
    (ctx / "link").symlink_to("README.md")
    assert context_sha256(ctx) != before


def test_missing_context_or_dockerfile(tmp_path: Path) -> None:
    with pytest.raises(FgformError, match="not a directory"):
        context_sha256(tmp_path / "nope")
    with pytest.raises(FgformError, match="Dockerfile"):
        context_sha256(tmp_path)


def test_plan_time_attrs(ctx: Path) -> None:
    rel = plan_time_attrs({"context": ctx.name, "dockerfile": "Dockerfile"}, str(ctx.parent))
    assert rel == {"context_sha256": context_sha256(ctx)}
    assert plan_time_attrs({"context": object()}, ".") == {}
