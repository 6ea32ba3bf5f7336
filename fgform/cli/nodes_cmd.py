"""`fgform nodes`: the instances behind each cluster, as ECS's ListContainerInstances and
`docker node ls` show them: state, availability, capacity and the tasks placed there."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import click

from fgform.cli.command import command
from fgform.cli.environment import Environment, pass_env
from fgform.cli.fleet import fleet_for
from fgform.cli.options import opt, state_option
from fgform.cli.store import read_state
from fgform.errors import FgformError
from fgform.fleet.fleet import NodeRow

HEADER = ["CLUSTER", "INSTANCE", "ENGINE", "ROLE", "STATE", "AVAILABILITY", "CPU", "MEMORY",
          "TASKS", "CPU_RESERVED", "MEMORY_RESERVED", "ATTRIBUTES"]


def node_table(rows: Sequence[NodeRow]) -> list[list[str]]:
    """The table `fgform nodes` prints, header first: cpu in CPU units, memory in MiB,
    attributes as sorted `k=v` pairs ("-" when none)."""
    out = [list(HEADER)]
    for r in rows:
        attrs = ",".join(f"{k}={v}" for k, v in sorted(r.attributes.items())) or "-"
        out.append([r.cluster, r.instance, r.engine, r.role, r.state, r.availability,
                    str(r.cpu), str(r.memory), str(r.tasks), str(r.cpu_reserved),
                    str(r.memory_reserved), attrs])
    return out


def format_nodes(rows: Sequence[NodeRow]) -> list[str]:
    """`node_table` as aligned lines."""
    table = node_table(rows)
    widths = [max(len(row[i]) for row in table) for i in range(len(HEADER))]
    return ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            for row in table]


def nodes_json(rows: Sequence[NodeRow]) -> str:
    """`-json`: one object per row, keys sorted."""
    return json.dumps([asdict(r) for r in rows], indent=2, sort_keys=True)


def _clusters(st: Any, name: str | None) -> list[tuple[str, dict[str, Any]]]:
    """(cluster name, attributes) of the state's clusters, or of the one `name` picks (its
    address, `main` for `fg_cluster.main`, name or id)."""
    found = []
    for addr in st.addresses():
        inst = st.get(addr)
        if addr.type != "fg_cluster" or inst is None or not isinstance(inst.attributes, dict):
            continue
        attrs = inst.attributes
        label = str(attrs.get("name") or attrs.get("id") or addr.name)
        if name is None or name in (str(addr), str(addr).split(".", 1)[1], attrs.get("name"),
                                    attrs.get("id")):
            found.append((label, attrs))
    if not found:
        raise FgformError(f"no cluster named {name!r} in the state" if name else
                          "no cluster in the state", hint="Apply an fg_cluster first.")
    return found


@command()
@click.argument("cluster", required=False)
@opt("json", "as_json", is_flag=True)
@state_option
@pass_env
def nodes(env: Environment, cluster: str | None, as_json: bool, state_path) -> None:
    """Each cluster's instances: state, availability, capacity and placed tasks."""
    st = read_state(env, state_path)
    rows = env.fleet.list_nodes(fleet_for(env, st), _clusters(st, cluster))
    if as_json:
        env.out(nodes_json(rows))
        return
    for line in format_nodes(rows):
        env.out(line)


COMMANDS = (nodes,)
