"""Imports every module that registers ECS actions (`fgform.api.actions.ACTIONS`)."""

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
