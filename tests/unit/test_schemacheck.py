"""fgform.schemacheck agrees with `jsonschema` (the oracle) on the shipped state and plan
schemas: on real documents and on every one-value mutation of them."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from fgform.plan.planfile import plan_schema, plan_to_dict
from fgform.schemacheck import Schema, SchemaError
from fgform.state.store import state_schema
from fgform.values import Sensitive

from helpers.plan_fixtures import cached_plan
from helpers.states import rich_state

ROOT = Path(__file__).resolve().parents[2] / "fgform"
FIX = Path(__file__).parent / "fixtures" / "plan"
WRONG: list[Any] = [None, True, 0, -1, 1.5, "", "x", "0a1b2c3d", [], [1], {}, {"zz": 1}]


def oracle(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((ROOT / name).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


# Free-form JSON values: only their own type is checked, not worth walking into.
_FREE = {"before", "after", "value", "attributes", "configuration", "deposed"}


def _nodes(doc: Any, path: tuple = ()) -> Iterator[tuple]:
    yield path
    if isinstance(doc, dict):
        for k, v in doc.items():
            if k not in _FREE:
                yield from _nodes(v, (*path, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:2]):
            yield from _nodes(v, (*path, i))


def _set(doc: Any, path: tuple, value: Any) -> Any:
    doc = copy.deepcopy(doc)
    if not path:
        return value
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    return doc


def _drop(doc: Any, path: tuple) -> Any:
    doc = copy.deepcopy(doc)
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    del parent[path[-1]]
    return doc


def mutations(doc: dict[str, Any]) -> Iterator[Any]:
    for path in _nodes(doc):
        for w in WRONG:
            yield _set(doc, path, w)
        if path and isinstance(path[-1], str):
            yield _drop(doc, path)
        if path:
            yield _set(doc, path[:-1], {**_get(doc, path[:-1]), "extra_key": 1}) \
                if isinstance(_get(doc, path[:-1]), dict) else doc


def _get(doc: Any, path: tuple) -> Any:
    for step in path:
        doc = doc[step]
    return doc


def _jpath(path: Any) -> str:
    from fgform.schemacheck import _child

    out = ""
    for step in path:
        out = _child(out, step)
    return out


def agree(ours: Schema, theirs: jsonschema.Draft202012Validator, doc: Any) -> None:
    errors = list(theirs.iter_errors(doc))
    try:
        ours.check(doc)
    except SchemaError as e:
        assert errors, f"we reject what jsonschema accepts: {e}"
        # Ours names the place jsonschema does, or (an unexpected or badly named property)
        # the property inside the object jsonschema names.
        places = {_jpath(err.absolute_path) for err in errors}
        assert any(e.path == p or e.path.startswith(p) for p in places), (e, places)
        return
    assert not errors, f"we accept what jsonschema rejects: {errors[0].message}"


def state_doc() -> dict[str, Any]:
    return rich_state().to_dict()


def plan_docs() -> list[dict[str, Any]]:
    out = []
    for case in ("replace_force_new", "drift", "deposed_objects"):
        plan = cached_plan(FIX / case)
        plan.variables["api_key"] = Sensitive("k")
        doc = json.loads(json.dumps(plan_to_dict(plan)))
        for key in ("changes", "drift", "output_changes", "variables"):
            v = doc[key]
            doc[key] = v[:2] if isinstance(v, list) else dict(list(v.items())[:2])
        doc["configuration"] = {}
        out.append(doc)
    return out


def test_state_schema_agrees_with_jsonschema() -> None:
    theirs = oracle("state/schema.json")
    doc = state_doc()
    state_schema().check(doc)
    n = 0
    for bad in mutations(doc):
        agree(state_schema(), theirs, bad)
        n += 1
    assert n > 500


@pytest.mark.parametrize("i", range(3))
def test_plan_schema_agrees_with_jsonschema(i: int) -> None:
    theirs = oracle("plan/schema.json")
    doc = plan_docs()[i]
    plan_schema().check(doc)
    prior = doc.get("prior_state")
    if prior is not None:
        state_schema().check(prior)
    for bad in mutations({k: v for k, v in doc.items() if k != "prior_state"}):
        agree(plan_schema(), theirs, bad)


def test_messages_name_the_json_path_and_not_the_value() -> None:
    doc = state_doc()
    doc["resources"][1]["instances"][0]["index_key"] = 1.5
    with pytest.raises(SchemaError) as e:
        state_schema().check(doc)
    assert str(e.value) == ("resources[1].instances[0].index_key: expected null, an integer "
                            ">= 0 or a string, got 1.5")
    doc = state_doc()
    doc["resources"][0]["instances"][0]["attributes"] = "hunter2"
    with pytest.raises(SchemaError) as e:
        state_schema().check(doc)
    assert "hunter2" not in str(e.value)
    assert str(e.value).endswith("attributes: expected an object or null, got a string")


def test_unknown_keywords_are_refused_when_the_schema_is_loaded() -> None:
    with pytest.raises(ValueError, match="maxLength"):
        Schema({"type": "string", "maxLength": 3})
    with pytest.raises(ValueError, match=r"\$ref"):
        Schema({"$ref": "other.json#/x"})
