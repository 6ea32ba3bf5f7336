"""ECS clusters on fgform's `fg_cluster`: DescribeClusters and ListClusters (docs/api.md,
"Clusters"). A cluster's name is the resource's `name` attribute (its `id` when the
configuration leaves `name` unset: the name its driver gave it), as `fgform nodes` names
it. Clusters are made by the configuration only: the API reads them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fgform.addresses import Address
from fgform.api.actions import ApiContext, Target, action
from fgform.api.arns import DEFAULT_CLUSTER, name_of
from fgform.api.errors import ApiError, invalid_parameter
from fgform.api.pagination import paginate
from fgform.api.transact import read_state
from fgform.errors import FgformError
from fgform.state.model import StateFile

DEFAULT = DEFAULT_CLUSTER


@dataclass(frozen=True)
class Cluster:
    """One fg_cluster in state: its ECS name, address and attributes."""

    name: str
    address: Address
    attributes: dict[str, Any]


def clusters(state: StateFile) -> list[Cluster]:
    """Every cluster state has, by name."""
    out: dict[str, Cluster] = {}
    for addr, inst in state.sorted_instances():
        if addr.type != "fg_cluster" or addr.is_data or inst is None or \
                not isinstance(inst.attributes, dict):
            continue
        attrs = inst.attributes
        name = str(attrs.get("name") or attrs.get("id") or addr.name)
        out.setdefault(name, Cluster(name, addr, attrs))
    return [out[k] for k in sorted(out)]


def cluster_named(state: StateFile, ref: Any) -> Cluster | None:
    """The cluster a `cluster` parameter names (a name or a cluster ARN; None or "" is
    "default", as in ECS), or None when state has no such cluster."""
    name = DEFAULT if ref in (None, "") else name_of(str(ref), "cluster")
    return next((c for c in clusters(state) if c.name == name), None)


def _names(params: dict[str, Any]) -> list[str]:
    given = params.get("clusters")
    if given is None or given == []:
        return [DEFAULT]
    if not isinstance(given, list) or not all(isinstance(c, str) and c for c in given):
        raise invalid_parameter("clusters must be a list of cluster names or ARNs.")
    if len(given) > 100:
        raise invalid_parameter("clusters can have at most 100 items.")
    return given


def _cluster_targets(ctx: ApiContext, params: dict[str, Any]) -> list[Target]:
    """Each cluster named, by its ARN (and `ecs:cluster`, that ARN)."""
    try:
        refs = _names(params if isinstance(params, dict) else {})
    except ApiError:
        return [Target("*")]
    arns = [ctx.identity.cluster(name_of(r, "cluster")) for r in refs]
    return [Target(a, cluster=a) for a in dict.fromkeys(arns)]


def _counts(ctx: ApiContext, state: StateFile, found: list[Cluster]
            ) -> dict[str, tuple[int, int]]:
    """(instances, running tasks) of each cluster, from the fleet: one `list_nodes` call
    (the capacity's instances, or the swarm's nodes, with the tasks placed on each)."""
    if not found:
        return {}
    from fgform import workflow

    try:
        rows = ctx.fleet.list_nodes(workflow.fleet_context(ctx.dir, state),
                                    [(c.name, c.attributes) for c in found])
    except FgformError as exc:
        raise ApiError("ServerException", f"The fleet cannot be read: {exc.message}") from None
    counts: dict[str, tuple[int, int]] = {}
    for row in rows:
        instances, tasks = counts.get(row.cluster, (0, 0))
        counts[row.cluster] = (instances + 1, tasks + row.tasks)
    return counts


def _services_by_cluster(state: StateFile, found: list[Cluster]) -> dict[str, int]:
    """How many services of state run on each cluster (fg_service's `cluster` is the
    cluster's id)."""
    by_id = {str(c.attributes.get("id")): c.name for c in found}
    out: dict[str, int] = {}
    for addr, inst in state.sorted_instances():
        if addr.type == "fg_service" and not addr.is_data and inst is not None and \
                isinstance(inst.attributes, dict):
            name = by_id.get(str(inst.attributes.get("cluster")))
            if name is not None:
                out[name] = out.get(name, 0) + 1
    return out


def cluster_shape(ctx: ApiContext, cluster: Cluster, instances: int, running: int,
                  services: int) -> dict[str, Any]:
    """ECS's `Cluster` object."""
    return {
        "clusterArn": ctx.identity.cluster(cluster.name),
        "clusterName": cluster.name,
        "status": "ACTIVE",
        "registeredContainerInstancesCount": instances,
        "runningTasksCount": running,
        "pendingTasksCount": 0,
        "activeServicesCount": services,
        "statistics": [],
        "tags": [],
        "settings": [],
        "capacityProviders": [],
        "defaultCapacityProviderStrategy": [],
    }


@action("DescribeClusters", _cluster_targets)
def describe_clusters(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    """Each named cluster (default: "default") with its counts; an unknown one is a
    `failures` entry (reason MISSING), not an error, as in ECS."""
    refs = _names(params)
    include = params.get("include") or []
    if not isinstance(include, list) or not all(isinstance(i, str) for i in include):
        raise invalid_parameter("include must be a list of strings.")
    state = read_state(ctx)
    found: list[Cluster] = []
    failures = []
    for ref in refs:
        c = cluster_named(state, ref)
        if c is None:
            failures.append({"arn": ctx.identity.cluster(name_of(ref, "cluster")),
                             "reason": "MISSING"})
        elif c not in found:
            found.append(c)
    counts = _counts(ctx, state, found)
    services = _services_by_cluster(state, found)
    out = [cluster_shape(ctx, c, *counts.get(c.name, (0, 0)), services.get(c.name, 0))
           for c in found]
    return {"clusters": out, "failures": failures}


@action("ListClusters", lambda ctx, params: [Target("*")])
def list_clusters(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    """The ARNs of every cluster in state, by name, paginated."""
    page, token = paginate(clusters(read_state(ctx)), params, action="ListClusters",
                           key=lambda c: [c.name])
    body: dict[str, Any] = {"clusterArns": [ctx.identity.cluster(c.name) for c in page]}
    if token is not None:
        body["nextToken"] = token
    return body
