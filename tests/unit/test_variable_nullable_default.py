"""`nullable = false` with a null default is refused where it is written, as Terraform does."""

from __future__ import annotations

from pathlib import Path

from fgform.config.loader import load_config


def test_null_default_of_a_non_nullable_variable_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        'variable "x" {\n  default  = null\n  nullable = false\n}\n\n'
        'variable "ok" {\n  default  = null\n}\n')
    _config, diags = load_config(tmp_path, use_cache=False)
    assert [(d.summary, d.range.start_line if d.range else 0) for d in diags] == [
        ("Invalid default value for variable", 2)]
    assert "nullable=false" in diags[0].detail
