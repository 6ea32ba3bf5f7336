"""The labels every Docker object fgform makes carries, and filters to list them.

`fgform.lineage` ties an object to one state file, so two states on one engine never see
each other's objects; `fgform.address` ties it to one resource instance.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import docker
from docker.errors import NotFound

from fgform.errors import FgformError
from fgform.fleet.driver import FleetContext

PREFIX = "fgform."
MANAGED = "fgform.managed"
LINEAGE = "fgform.lineage"
ADDRESS = "fgform.address"
CONFIG_HASH = "fgform.config-hash"
# Task containers (written by the tasks drivers; defined here so every name lives in one place).
CLUSTER = "fgform.cluster"
SERVICE = "fgform.service"
TASK_DEFINITION = "fgform.task-definition"
TASK_ID = "fgform.task-id"
INSTANCE = "fgform.instance"
# What kind of object a label set belongs to (registry, image, cluster, task, proxy...).
KIND = "fgform.kind"


def config_hash(attrs: dict[str, Any]) -> str:
    """sha256 of the attributes as sorted, compact JSON: equal configs hash equal."""
    data = json.dumps(attrs, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(data.encode()).hexdigest()


def made_from(labels: dict[str, str] | None, config: dict[str, Any]) -> bool:
    """Whether an object's labels carry the config-hash of `config`: it was made from that
    configuration, so state's attributes describe it."""
    return (labels or {}).get(CONFIG_HASH) == config_hash(config)


def base_labels(ctx: FleetContext, address: object, *, attrs: dict[str, Any] | None = None,
                kind: str | None = None, **extra: str) -> dict[str, str]:
    """The labels for an object made for resource `address` (an Address or its string).

    `attrs` adds `fgform.config-hash`; `kind` and `extra` add more labels. Values are strings
    because Docker labels are.
    """
    labels = {
        MANAGED: "true",
        LINEAGE: ctx.lineage,
        ADDRESS: str(address),
    }
    if attrs is not None:
        labels[CONFIG_HASH] = config_hash(attrs)
    if kind is not None:
        labels[KIND] = kind
    labels.update({k: str(v) for k, v in extra.items()})
    return labels


def label_filter(ctx: FleetContext, **extra: str) -> dict[str, list[str]]:
    """`filters=` for a list call: everything of this lineage, narrowed by `extra`.

    Keyword names are label names with `fgform.` dropped and `_` for `-`
    (`kind="registry"`, `address="fg_registry.main"`, `config_hash=...`); a full label name
    may be passed through `**{"fgform.cluster": "x"}`.
    """
    labels = [f"{MANAGED}=true", f"{LINEAGE}={ctx.lineage}"]
    for key, value in extra.items():
        name = key if key.startswith(PREFIX) else PREFIX + key.replace("_", "-")
        labels.append(f"{name}={value}")
    return {"label": labels}


def containers_by_address(client: docker.DockerClient, ctx: FleetContext, kind: str
                          ) -> dict[str | None, dict[str, Any]]:
    """This lineage's containers of one kind, by resource address: ONE list call (the
    low-level one: `containers.list()` inspects every container it finds)."""
    return {c["Labels"].get(ADDRESS): c for c in client.api.containers(
        all=True, filters=label_filter(ctx, kind=kind))}


def remove_leftover(client: docker.DockerClient, ctx: FleetContext, name: str, what: str
                    ) -> None:
    """Before making container `name`: one with that name from an interrupted apply is ours
    to replace; one not labelled with this lineage is someone else's, and stays untouched
    (an error says so). `what` names the object in the messages ("registry")."""
    try:
        old = client.containers.get(name)
    except NotFound:
        return
    if old.labels.get(LINEAGE) != ctx.lineage:
        raise FgformError(f"a container named {name} already exists and fgform does not "
                          "manage it in this state")
    ctx.log(f"removing leftover {what} container {name}")
    old.remove(force=True)
