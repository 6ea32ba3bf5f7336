"""`fgform nodes`: the table and JSON from plain rows, and the command on the in-memory
fleet (which lists each cluster's capacity instances)."""

from __future__ import annotations

import json

from fgform.cli.nodes_cmd import format_nodes, node_table, nodes_json
from fgform.fleet.fleet import NodeRow, sort_nodes

ROWS = [
    NodeRow("main", "swarm", "node-3", "n3", "worker", "down", "drain", 2048, 24104,
            attributes={"zone": "b", "disk": "ssd"}),
    NodeRow("main", "swarm", "node-10", "n10", "worker", "ready", "active", 2048, 24104,
            tasks=2, cpu_reserved=512, memory_reserved=256),
    NodeRow("batch", "docker", "i-0", "i-0", "instance", "ready", "active", 512, 256),
]


def test_sorted_by_cluster_then_instance_naturally() -> None:
    assert [(r.cluster, r.instance) for r in sort_nodes(ROWS)] == [
        ("batch", "i-0"), ("main", "node-3"), ("main", "node-10")]


def test_table_columns_and_alignment() -> None:
    table = node_table(sort_nodes(ROWS))
    assert table[0][:6] == ["CLUSTER", "INSTANCE", "ENGINE", "ROLE", "STATE", "AVAILABILITY"]
    assert table[2] == ["main", "node-3", "swarm", "worker", "down", "drain", "2048", "24104",
                        "0", "0", "0", "disk=ssd,zone=b"]
    assert table[3][8:11] == ["2", "512", "256"] and table[3][11] == "-"
    lines = format_nodes(sort_nodes(ROWS))
    assert len(lines) == 4
    # Columns line up: AVAILABILITY starts at the same offset on every line.
    col = lines[0].index("AVAILABILITY")
    assert {line[col:].split()[0] for line in lines[1:]} == {"active", "drain"}


def test_json_is_plain_and_deterministic() -> None:
    data = json.loads(nodes_json(sort_nodes(ROWS)))
    assert data[1]["attributes"] == {"disk": "ssd", "zone": "b"}
    assert data[2]["tasks"] == 2 and data[2]["memory_reserved"] == 256
    assert nodes_json(sort_nodes(ROWS)) == nodes_json(sort_nodes(list(reversed(ROWS))))


def _cli(tmp_path, *argv: str) -> tuple[int, str, str]:
    import io

    from fgform.cli import Environment
    from fgform.cli.app import run

    from helpers.fakefleet import FakeFleet

    env = Environment(stdin=io.StringIO(""), stdout=io.StringIO(), stderr=io.StringIO(),
                      environ={"TERM": "xterm"}, cwd=tmp_path)
    env.fleet = FakeFleet()
    code = run(list(argv), env)
    return code, env.stdout.getvalue(), env.stderr.getvalue()


def test_command_lists_each_cluster_s_instances(tmp_path) -> None:
    from fgform.addresses import parse_address
    from fgform.state.model import InstanceState, StateFile
    from fgform.state.store import StateStore

    state = StateFile()
    state.set(parse_address("fg_cluster.main"), InstanceState(None, {
        "id": "main", "name": "main", "capacity": {"instance_count": 2, "instance_cpu": 512,
                                                   "instance_memory": 256}}))
    state.set(parse_address("fg_cluster.other"), InstanceState(None, {
        "id": "other", "name": "other", "capacity": None}))
    StateStore(tmp_path / "state.json").write(state)
    code, out, err = _cli(tmp_path, "nodes", "-state", "state.json")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split()[:6] == ["CLUSTER", "INSTANCE", "ENGINE", "ROLE", "STATE",
                                    "AVAILABILITY"]
    assert [line.split()[:2] for line in lines[1:]] == [["main", "i-0"], ["main", "i-1"],
                                                        ["other", "i-0"]]
    assert lines[1].split()[4:8] == ["ready", "active", "512", "256"]
    code, out, _ = _cli(tmp_path, "nodes", "main", "-json", "-state", "state.json")
    assert code == 0 and [r["instance"] for r in json.loads(out)] == ["i-0", "i-1"]
    code, _, err = _cli(tmp_path, "nodes", "nope", "-state", "state.json")
    assert code == 1 and "no cluster named 'nope' in the state" in err
