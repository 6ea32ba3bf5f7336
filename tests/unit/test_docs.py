"""docs/resources.md is generated from the schema tables and must not go stale."""

from __future__ import annotations

from fgform import docs_gen
from fgform.config.schema import SCHEMAS


def test_checked_in_docs_are_current() -> None:
    current = docs_gen.DOC_PATH.read_text()
    assert current == docs_gen.render(), (
        "docs/resources.md is stale: run `python -m fgform.docs_gen` and commit the result")


def test_every_type_and_attribute_is_documented() -> None:
    text = docs_gen.render()
    for rtype, schema in SCHEMAS.items():
        assert f"## {rtype}\n" in text
        for attr in schema.body.attributes:
            assert f"`{attr.name}`" in text


def test_check_flag_reports_stale(tmp_path, monkeypatch) -> None:
    stale = tmp_path / "resources.md"
    stale.write_text("old\n")
    monkeypatch.setattr(docs_gen, "DOC_PATH", stale)
    assert docs_gen.main(["--check"]) == 1
    assert docs_gen.main([]) == 0
    assert docs_gen.main(["--check"]) == 0
