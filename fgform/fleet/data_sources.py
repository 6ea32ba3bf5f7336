"""The data sources' reads that need no engine: `data "fg_task_definition"` (the latest
ACTIVE revision of a family, from what state holds: revisions are registered there, never in
Docker) and the shape of a `data "fg_image"` result. `fleet/docker/data_sources.py` reads the
rest from the engine and the registries; tests' fake fleet uses these too."""

from __future__ import annotations

from typing import Any

from fgform.addresses import AddressError, parse_address
from fgform.errors import FgformError
from fgform.fleet.driver import FleetContext


def _managed(key: str) -> bool:
    """Is `key` (an address in `ctx.resources`) a managed resource's? Data resources mirror
    what they read, which may be out of date."""
    try:
        return not parse_address(key).is_data
    except AddressError:
        return False


def latest_task_definition(ctx: FleetContext, family: str) -> dict[str, Any]:
    """`data "fg_task_definition"`: the highest ACTIVE revision of `family` among the task
    definitions state holds (each resource's current revision is its ACTIVE one; earlier ones
    are INACTIVE in its `revisions`)."""
    best: dict[str, Any] | None = None
    for key, attrs in sorted(ctx.resources.items()):
        if not _managed(key) or not isinstance(attrs, dict) or "container" not in attrs:
            continue
        if attrs.get("family") != family or not isinstance(attrs.get("revision"), int):
            continue
        if best is None or attrs["revision"] > best["revision"]:
            best = attrs
    if best is None:
        raise FgformError(
            f"no ACTIVE revision of task definition family {family!r}",
            hint="A family's revisions are registered by an fg_task_definition of this "
                 "state; apply one with that family first.")
    return {"family": family, "id": best.get("arn"), "arn": best.get("arn"),
            "revision": best["revision"], "status": "ACTIVE", "cpu": best.get("cpu"),
            "memory": best.get("memory"), "container": best.get("container") or []}


def image_result(args: dict[str, Any], endpoint: str, digest: str) -> dict[str, Any]:
    """`data "fg_image"`'s attributes, once the tag's digest is known."""
    repo, tag = args["repository"], args.get("tag") or "latest"
    return {**args, "tag": tag, "id": f"{endpoint}/{repo}:{tag}", "digest": digest,
            "uri": f"{endpoint}/{repo}@{digest}"}
