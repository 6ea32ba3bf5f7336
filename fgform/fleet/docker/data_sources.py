"""The data sources on the local engine: `data "fg_image"` asks the registry for the digest
a tag names (one HEAD request to its HTTP API), `data "fg_cluster"` finds a cluster's network
by name, `data "fg_task_definition"` reads state (`fleet/data_sources.py`)."""

from __future__ import annotations

from typing import Any

import docker

from fgform.errors import FgformError
from fgform.fleet.data_sources import image_result, latest_task_definition
from fgform.fleet.docker import labels as L
from fgform.fleet.docker.cluster import KIND as CLUSTER_KIND
from fgform.fleet.docker.cluster import network_name
from fgform.fleet.docker.registry import endpoint_of
from fgform.fleet.docker.registry_http import MANIFEST_ACCEPT, registry_request
from fgform.fleet.driver import FleetContext


def read_data(client: docker.DockerClient, ctx: FleetContext, type_name: str,
              args: dict[str, Any]) -> dict[str, Any]:
    """Read one data source: its arguments and computed attributes."""
    if type_name == "fg_image":
        return read_image(client, ctx, args)
    if type_name == "fg_cluster":
        return read_cluster(client, args)
    if type_name == "fg_task_definition":
        return latest_task_definition(ctx, args["family"])
    raise FgformError(f"fgform has no data source {type_name!r}")


def read_image(client: docker.DockerClient, ctx: FleetContext, args: dict[str, Any]
               ) -> dict[str, Any]:
    """The manifest digest `repository:tag` names in the registry `registry` (an id)."""
    endpoint = endpoint_of(client, ctx, args["registry"])
    repo, tag = args["repository"], args.get("tag") or "latest"
    try:
        status, headers = registry_request(endpoint, "HEAD", f"/v2/{repo}/manifests/{tag}",
                                           accept=MANIFEST_ACCEPT)
    except OSError as exc:
        raise FgformError(f"registry {endpoint} is not reachable: {exc}") from exc
    if status == 404:
        raise FgformError(f"no image {repo}:{tag} in registry {endpoint}",
                          hint="push the image first (an fg_image with that repository "
                               "and tag), or check the repository and tag")
    digest = {k.lower(): v for k, v in headers.items()}.get("docker-content-digest")
    if status != 200 or not digest:
        raise FgformError(f"registry {endpoint} answered {status} for {repo}:{tag}")
    return image_result(args, endpoint, digest)


def read_cluster(client: docker.DockerClient, args: dict[str, Any]) -> dict[str, Any]:
    """The cluster named `name`: its fgform network (made by any state)."""
    name = args["name"]
    net_name = network_name(name)
    nets = [n for n in client.api.networks(names=[net_name]) if n.get("Name") == net_name
            and (n.get("Labels") or {}).get(L.KIND) == CLUSTER_KIND]
    if not nets:
        raise FgformError(f"no cluster named {name!r}",
                          hint=f"fgform clusters are Docker networks named {net_name}; "
                               "create the cluster (an fg_cluster) first")
    configs = ((nets[0].get("IPAM") or {}).get("Config")) or []
    cidr = next((c.get("Subnet") for c in configs if c.get("Subnet")), None)
    # An overlay network is a swarm cluster's: services placed on it follow that engine.
    engine = "swarm" if nets[0].get("Driver") == "overlay" else "docker"
    return {"name": name, "id": name, "network_name": net_name, "cidr_block": cidr,
            "engine": engine}
