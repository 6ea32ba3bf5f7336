"""Finding other resources' attributes in `ctx.resources` (this run's and state's): a
service needs its cluster, a load balancer its target groups, registration the proxies."""

from __future__ import annotations

from typing import Any

from fgform.addresses import AddressError, parse_address
from fgform.errors import FgformError
from fgform.fleet.driver import FleetContext


def type_of(address: str) -> str | None:
    """The resource type of an address string; None for one that does not parse."""
    try:
        return parse_address(address).type
    except (AddressError, ValueError):
        return None


def find_cluster(ctx: FleetContext, cluster_id: str) -> dict[str, Any]:
    """The attributes of the fg_cluster whose `id` is `cluster_id` (from ctx.resources)."""
    for address, attrs in ctx.resources.items():
        if isinstance(attrs, dict) and type_of(address) == "fg_cluster" \
                and attrs.get("id") == cluster_id:
            return attrs
    raise FgformError(
        f"cluster {cluster_id!r} is not known: no fg_cluster in this configuration or state "
        "has that id",
        hint="Reference the cluster's id attribute (fg_cluster.NAME.id).",
    )
