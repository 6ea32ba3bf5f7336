"""Where the command line reaches the fleet: the context the fleet commands hand to it.

The fleet itself is `env.fleet` (built once per run, see `Environment`).
"""

from __future__ import annotations

from fgform.cli.environment import Environment
from fgform.fleet.driver import FleetContext
from fgform.state.model import StateFile


def fleet_for(env: Environment, state: StateFile) -> FleetContext:
    """The FleetContext the fleet commands hand to `env.fleet`, for this state."""
    from fgform import workflow

    return workflow.fleet_context(env.dir, state)
