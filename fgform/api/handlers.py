"""Imports every module that registers ECS actions (`fgform.api.actions.ACTIONS`)."""

import fgform.api.ecs_clusters  # noqa: F401  (registers its actions)
import fgform.api.ecs_taskdefs  # noqa: F401  (registers its actions)
from fgform.api import (
    actions,
    ecs_services,  # CreateService, UpdateService, DeleteService, DescribeServices, ListServices
    ecs_tasks,
)

__all__ = [
    "actions",
    "ecs_services",
    "ecs_tasks",
]
