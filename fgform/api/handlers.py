"""Imports every module that registers ECS actions (`fgform.api.actions.ACTIONS`)."""

from fgform.api import actions

__all__ = ["actions"]
