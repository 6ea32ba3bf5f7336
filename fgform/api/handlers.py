"""Imports every module that registers ECS actions (`fgform.api.actions.ACTIONS`)."""

from fgform.api import (
    actions,
    ecs_services,  # CreateService, UpdateService, DeleteService, DescribeServices, ListServices
)

__all__ = [
    "actions",
    "ecs_services",
]
