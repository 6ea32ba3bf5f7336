"""Imports every module that registers ECS actions (`fgform.api.actions.ACTIONS`)."""

from fgform.api import actions, ecs_tasks

__all__ = ["actions", "ecs_tasks"]
