"""Where the command line reaches the fleet: the one spot that builds what commands act on.

Today that is a `FleetContext` for the state (the drivers talk to the process's Docker
client) and the service driver `reconcile` calls; an injected fleet object replaces both.
"""

from __future__ import annotations

from typing import Any

from fgform.cli.environment import Environment


def fleet_for(env: Environment, state) -> Any:
    """The FleetContext the fleet commands hand to the Docker side, for this state."""
    from fgform import workflow

    return workflow.fleet_context(env.dir, state)


def service_driver() -> Any:
    """The driver of `fg_service` (reconcile's passes)."""
    from fgform.fleet.docker.drivers import drivers

    return drivers()["fg_service"]
