"""One declarative table per resource type: attributes, nested blocks, defaults, validation,
and which changes force a replacement.

Validation, the planner, the drivers and `docs/resources.md` all read these tables; nothing
else says what a resource type looks like. The machinery is in `model.py`, value checks in
`checks.py`, and each resource type's table in a module of its own.

Values in state: an attribute is its plain value; a nested block with `max_items == 1` is a
dict (or None when absent); a repeatable block is a list of dicts; a labelled block
(`container "web" {}`) is a list of dicts whose `label` attribute holds the label.
"""

from __future__ import annotations

from fgform.config.schema.cluster import FG_CLUSTER
from fgform.config.schema.data_sources import DATA_SCHEMAS, get_data_schema
from fgform.config.schema.image import FG_IMAGE
from fgform.config.schema.load_balancer import ACTIONS, CONDITIONS, FG_LOAD_BALANCER, endpoint_url
from fgform.config.schema.model import AttrSchema, BlockSchema, ResourceSchema
from fgform.config.schema.registry import FG_REGISTRY
from fgform.config.schema.service import FG_SERVICE
from fgform.config.schema.target_group import FG_TARGET_GROUP
from fgform.config.schema.task_definition import FG_TASK_DEFINITION

SCHEMAS: dict[str, ResourceSchema] = {
    s.type: s
    for s in (FG_REGISTRY, FG_IMAGE, FG_TASK_DEFINITION, FG_CLUSTER, FG_TARGET_GROUP,
              FG_LOAD_BALANCER, FG_SERVICE)
}

# Attributes that name another resource by its id, and the type they must name: validation
# checks them, and drivers use them to find what they depend on.
REFERENCE_ATTRIBUTES: dict[tuple[str, str], tuple[str, str]] = {
    ("fg_image", "registry"): ("fg_registry", "id"),
    ("fg_service", "cluster"): ("fg_cluster", "id"),
    ("fg_service", "task_definition"): ("fg_task_definition", "arn"),
    ("fg_load_balancer", "cluster"): ("fg_cluster", "id"),
}


def get_schema(type_name: str) -> ResourceSchema | None:
    return SCHEMAS.get(type_name)


def schema_for(mode: str, type_name: str) -> ResourceSchema | None:
    """The table of a managed resource type, or of a data source when `mode` is "data"."""
    return get_data_schema(type_name) if mode == "data" else SCHEMAS.get(type_name)


__all__ = [
    "ACTIONS", "CONDITIONS", "DATA_SCHEMAS", "REFERENCE_ATTRIBUTES", "SCHEMAS", "AttrSchema",
    "BlockSchema", "ResourceSchema", "endpoint_url", "get_data_schema", "get_schema",
    "schema_for",
]
