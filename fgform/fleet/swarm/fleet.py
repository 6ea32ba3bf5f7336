"""The command line's fleet: the local Docker engine, whose clusters may be Swarm ones.

`EngineFleet` is a `DockerFleet` (one lazily connected client, `DOCKER_HOST` as the Docker
CLI reads it: a swarm's manager for swarm clusters) whose `run-task` and `nodes` go to the
Swarm for clusters with engine = "swarm" (`SwarmRunTaskAndNodes`). It lives here, above
`fleet/docker/`, so the local backend never imports the Swarm one (`fleet/swarm/` builds on
`fleet/docker/`, not the other way round).
"""

from __future__ import annotations

from fgform.fleet.docker.fleet import DockerFleet
from fgform.fleet.swarm.engine import SwarmRunTaskAndNodes


class EngineFleet(SwarmRunTaskAndNodes, DockerFleet):
    """The local engine, and a swarm for clusters with engine = "swarm"."""
