"""Names of fgform's objects on a Docker Swarm, shared by the service driver (which creates
them) and the load balancer (which finds a service's tasks as `tasks.<name>` in Docker's
DNS on the overlay network)."""

from __future__ import annotations

import re

_UNSAFE = re.compile(r"[^a-zA-Z0-9-]+")


def swarm_service_name(lineage: str, service_id: str) -> str:
    """The Swarm service of fg_service `service_id` (`CLUSTER/NAME`) in state `lineage`:
    unique in the swarm across states (the lineage's first 8 characters), and a valid DNS
    label (at most 63 characters) so `tasks.<name>` resolves."""
    body = _UNSAFE.sub("-", service_id).strip("-")
    lin = _UNSAFE.sub("", lineage)[-8:] or "x"
    return f"fg-{lin}-{body}"[:63].rstrip("-")
