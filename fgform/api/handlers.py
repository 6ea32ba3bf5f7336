"""Imports every module that registers ECS actions (`fgform.api.actions.ACTIONS`)."""

import fgform.api.ecs_clusters  # noqa: F401  (registers its actions)
import fgform.api.ecs_services  # noqa: F401  (registers its actions)
import fgform.api.ecs_taskdefs  # noqa: F401  (registers its actions)
import fgform.api.ecs_tasks  # noqa: F401  (registers its actions)
from fgform.api import actions

__all__ = ["actions"]
