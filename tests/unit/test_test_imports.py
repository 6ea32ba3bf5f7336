"""No test module imports another: what tests share lives in `tests/helpers` (or, for the
CLI-driving integration tests, `tests/integration/fixtures`), so running or moving one test
file never drags in, or depends on, the tests of another."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    """Top-level module names `path` imports, including imports inside functions."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_no_test_module_imports_another() -> None:
    offenders = {str(p.relative_to(TESTS)): sorted(m for m in imported_modules(p)
                                                   if m.startswith("test_"))
                 for p in TESTS.rglob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}
