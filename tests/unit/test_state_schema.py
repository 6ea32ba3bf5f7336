"""fgform/state/schema.json describes exactly what StateStore writes."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from fgform.addresses import parse_address
from fgform.state.model import STATE_VERSION, StateFile
from fgform.state.store import StateStore

from helpers.states import rich_state

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "fgform" / "state" / "schema.json"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def written(tmp_path: Path, st: StateFile) -> dict[str, Any]:
    store = StateStore(tmp_path / "state" / "default.fgstate.json")
    store.write(st)
    return json.loads(store.path.read_text())


def test_written_state_validates(tmp_path: Path,
                                 validator: jsonschema.Draft202012Validator) -> None:
    validator.validate(written(tmp_path, rich_state()))


def test_empty_state_validates(tmp_path: Path,
                               validator: jsonschema.Draft202012Validator) -> None:
    validator.validate(written(tmp_path, StateFile()))


def test_schema_matches_the_model() -> None:
    """A field added to StateFile.to_dict() must be added to the schema too."""
    schema = json.loads(SCHEMA_PATH.read_text())
    d = rich_state().to_dict()
    assert set(schema["properties"]) == set(d)
    assert set(schema["required"]) == set(d)
    assert schema["properties"]["version"]["const"] == STATE_VERSION
    res = schema["$defs"]["resource"]
    # `mode` is written for data resources only ("managed" is the default).
    assert set(res["properties"]) - {"mode"} == set(res["required"]) == \
        set(d["resources"][0])
    ins = schema["$defs"]["instance"]
    svc = next(r for r in d["resources"] if r["type"] == "fg_service")
    # `deposed` is written only when there are deposed objects, `labelled_as` only after a
    # move: the optional fields.
    assert set(ins["properties"]) == set(svc["instances"][0])
    assert set(ins["required"]) == set(ins["properties"]) - {"deposed", "labelled_as"}
    assert set(d["resources"][0]["instances"][0]) == set(ins["required"])


def test_deposed_objects_round_trip() -> None:
    st = rich_state()
    again = StateFile.from_dict(json.loads(json.dumps(st.to_dict())))
    assert again.to_dict() == st.to_dict()
    web0, web1 = parse_address("fg_service.web[0]"), parse_address("fg_service.web[1]")
    assert again.get(web0).deposed == {"0a1b2c3d": {"desired_count": 1}}
    # No current object: invisible to get/addresses, but its deposed object is listed.
    assert again.get(web1) is None and web1 not in again.addresses()
    assert [(str(a), k) for a, k, _, _ in again.deposed_objects()] == [
        ("fg_service.web[0]", "0a1b2c3d"), ("fg_service.web[1]", "deadbeef")]


def _break(doc: dict[str, Any], how: str) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    r, i = doc["resources"][0], doc["resources"][0]["instances"][0]
    if how == "no lineage":
        del doc["lineage"]
    elif how == "bad lineage":
        doc["lineage"] = ""
    elif how == "negative serial":
        doc["serial"] = -1
    elif how == "future version":
        doc["version"] = STATE_VERSION + 1
    elif how == "extra key":
        doc["extra"] = 1
    elif how == "bad status":
        i["status"] = "broken"
    elif how == "float key":
        i["index_key"] = 1.5
    elif how == "bad module":
        r["module"] = "modules.a"
    elif how == "no instances":
        r["instances"] = []
    elif how == "output without sensitive":
        del doc["outputs"]["url"]["sensitive"]
    elif how == "attributes not an object":
        i["attributes"] = []
    elif how == "null attributes without deposed":
        i["attributes"] = None
    elif how == "bad deposed key":
        i["deposed"] = {"old": {"id": "x"}}
    elif how == "empty deposed":
        i["deposed"] = {}
    elif how == "deposed not an object":
        i["deposed"] = {"0a1b2c3d": "x"}
    return doc


@pytest.mark.parametrize("how", [
    "no lineage", "bad lineage", "negative serial", "future version", "extra key",
    "bad status", "float key", "bad module", "no instances", "output without sensitive",
    "attributes not an object", "null attributes without deposed", "bad deposed key",
    "empty deposed", "deposed not an object",
])
def test_schema_rejects_broken_states(tmp_path: Path, how: str,
                                      validator: jsonschema.Draft202012Validator) -> None:
    doc = written(tmp_path, rich_state())
    validator.validate(doc)
    assert not validator.is_valid(_break(doc, how))
