"""Helpers shared by test modules, importable as `helpers.<module>` without touching
sys.path: pyproject.toml's `[tool.pytest.ini_options] pythonpath` puts `tests/` (and
`bench/`, for the load generator) on the path for every test run."""
