"""plan/diff.py: attribute diffs by schema (keyed blocks, nested blocks, maps, unknowns)."""

from __future__ import annotations

from fgform.config.schema import SCHEMAS
from fgform.plan.diff import diff_attributes, replace_paths
from fgform.plan.model import DiffKind
from fgform.values import UNKNOWN

TD = SCHEMAS["fg_task_definition"]
LB = SCHEMAS["fg_load_balancer"]


def _td(containers: list[dict]) -> dict:
    return {"family": "web", "cpu": 256, "memory": 512, "container": containers}


def test_equal_values_have_no_diffs() -> None:
    v = _td([{"name": "a", "image": "x"}])
    assert diff_attributes(v, dict(v), TD) == []


def test_reordered_keyed_blocks_are_not_a_change() -> None:
    a = _td([{"name": "a", "image": "x", "port_mapping": [
        {"container_port": 80, "protocol": "tcp"}, {"container_port": 81, "protocol": "tcp"}]},
        {"name": "b", "image": "y"}])
    b = _td([{"name": "b", "image": "y"}, {"name": "a", "image": "x", "port_mapping": [
        {"container_port": 81, "protocol": "tcp"}, {"container_port": 80, "protocol": "tcp"}]}])
    assert diff_attributes(a, b, TD) == []


def test_change_inside_keyed_block_is_reported_at_its_key() -> None:
    a = _td([{"name": "a", "image": "x", "port_mapping": [{"container_port": 80,
                                                            "protocol": "tcp"}]}])
    b = _td([{"name": "a", "image": "x", "port_mapping": [{"container_port": 80,
                                                            "protocol": "udp"}]}])
    (d,) = diff_attributes(a, b, TD)
    assert d.path == ("container", "a", "port_mapping", 80, "protocol")
    assert (d.kind, d.before, d.after, d.forces_replacement) == (DiffKind.CHANGE, "tcp", "udp",
                                                                 False)


def test_removed_block_keeps_its_original_shape() -> None:
    a = _td([{"name": "a", "image": "x", "port_mapping": [{"container_port": 80}]},
             {"name": "b", "image": "y"}])
    b = _td([{"name": "b", "image": "y"}])
    (d,) = diff_attributes(a, b, TD)
    assert d.kind is DiffKind.REMOVE and d.path == ("container", "a")
    assert d.before["port_mapping"] == [{"container_port": 80}]  # a list again, not keyed


def test_map_keys_and_lists() -> None:
    a = _td([{"name": "a", "image": "x", "environment": {"A": "1"}, "command": ["a", "b"]}])
    b = _td([{"name": "a", "image": "x", "environment": {"A": "2", "B": "x"},
              "command": ["a"]}])
    got = {(d.path, d.kind) for d in diff_attributes(a, b, TD)}
    assert got == {(("container", "a", "command", 1), DiffKind.REMOVE),
                   (("container", "a", "environment", "A"), DiffKind.CHANGE),
                   (("container", "a", "environment", "B"), DiffKind.ADD)}


def test_force_new_and_unknown() -> None:
    a = _td([{"name": "a", "image": "x"}]) | {"revision": 3}
    b = _td([{"name": "a", "image": UNKNOWN}]) | {"family": "api", "revision": UNKNOWN}
    diffs = diff_attributes(a, b, TD)
    by_path = {d.path: d for d in diffs}
    assert by_path[("family",)].forces_replacement
    assert by_path[("container", "a", "image")].after is UNKNOWN
    assert not by_path[("revision",)].forces_replacement
    assert replace_paths(diffs, b, a, TD) == [["family"]]


def test_unknown_key_falls_back_to_positions() -> None:
    a = {"cluster": "c", "listener": [{"port": 80, "default_target_group": "t"}]}
    b = {"cluster": "c", "listener": [{"port": UNKNOWN, "default_target_group": "t"}]}
    (d,) = diff_attributes(a, b, LB)
    assert d.path == ("listener", 0, "port") and d.after is UNKNOWN


def test_force_new_inside_replaced_keyed_element_maps_to_index() -> None:
    a = {"cluster": "c1", "listener": [{"port": 80}, {"port": 81}]}
    b = {"cluster": "c2", "listener": [{"port": 81}, {"port": 80}]}
    diffs = diff_attributes(a, b, LB)
    assert [d.path for d in diffs] == [("cluster",)]
    assert replace_paths(diffs, b, a, LB) == [["cluster"]]
