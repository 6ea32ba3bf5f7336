"""fg_task_definition: a task definition family with numbered revisions."""

from __future__ import annotations

from typing import Any

from fgform.config.schema.checks import check_port
from fgform.config.schema.model import ID, BlockSchema, ResourceSchema, attr, computed
from fgform.placement_rules import CONSTRAINT_TYPES, MAX_CONSTRAINTS

# ECS's placementConstraints (Terraform's placement_constraints), on task definitions and
# services alike; a service's add to its task definition's.
PLACEMENT_CONSTRAINTS = BlockSchema(
    "placement_constraints", "A rule every instance a task goes to must satisfy (ECS's "
    "placement constraints; see docs/placement.md).", max_items=MAX_CONSTRAINTS,
    attributes=(
        attr("type", "string", "memberOf (instances matching `expression`) or "
             "distinctInstance (each task on a different instance; services only).",
             required=True, optional=False, enum=CONSTRAINT_TYPES),
        attr("expression", "string", "A cluster query language expression (memberOf), like "
             "`attribute:zone in [a, b]`."),
    ),
)

_PORT_MAPPING = BlockSchema(
    "port_mapping", "A port the container listens on.",
    attributes=(
        attr("container_port", "number", "Port inside the task.", required=True, optional=False,
             check=check_port, check_doc="1-65535"),
        attr("host_port", "number", "Publish on this host port (off by default).",
             check=check_port, check_doc="1-65535"),
        attr("protocol", "string", "tcp or udp.", default="tcp", enum=("tcp", "udp")),
    ),
    key="container_port",
)
_CONTAINER_HEALTH = BlockSchema(
    "health_check", "A Docker health check run inside the container.", max_items=1,
    attributes=(
        attr("command", "list(string)", "[\"CMD\", ...] or [\"CMD-SHELL\", \"...\"].",
             required=True, optional=False),
        attr("interval", "number", "Seconds between checks.", default=30, min=1, max=300),
        attr("timeout", "number", "Seconds before a check fails.", default=5, min=1, max=120),
        attr("retries", "number", "Failures before unhealthy.", default=3, min=1, max=10),
        attr("start_period", "number", "Seconds of grace after start.", default=0, min=0,
             max=300),
    ),
)
_CONTAINER = BlockSchema(
    "container", "A container of the task.", min_items=1, label="name", key="name",
    attributes=(
        attr("name", "string", "The block label."),
        attr("image", "string", "Image to run (an fg_image `uri`, or any image name).",
             required=True, optional=False),
        attr("essential", "bool", "When it stops, the task stops. A service's tasks restart "
             "crashed containers in place (Restart policies in deployments.md).", default=True),
        attr("command", "list(string)", "Command (Docker CMD)."),
        attr("entry_point", "list(string)", "Entry point (Docker ENTRYPOINT)."),
        attr("environment", "map(string)", "Environment variables.", default={}),
        attr("working_directory", "string", "Working directory."),
        attr("user", "string", "User to run as."),
        attr("stop_timeout", "number", "Seconds between SIGTERM and SIGKILL.", default=10,
             min=0, max=120),
        attr("cpu", "number", "CPU units reserved for this container.", min=0),
        attr("memory", "number", "Hard memory limit of this container, MiB.", min=6),
    ),
    blocks=(_PORT_MAPPING, _CONTAINER_HEALTH),
)
def _history_sensitive(value: dict[str, Any]) -> list[tuple[str | int, ...]]:
    """Every environment value of the earlier revisions (`revisions`): which of them were
    sensitive is not recorded per revision, and a secret must not show in a plan once its
    revision is history (API registrations make long histories)."""
    history = value.get("revisions")
    if not isinstance(history, list):
        return []
    out: list[tuple[str | int, ...]] = []
    for i, entry in enumerate(history):
        containers = entry.get("container") if isinstance(entry, dict) else None
        for j, c in enumerate(containers if isinstance(containers, list) else []):
            env = c.get("environment") if isinstance(c, dict) else None
            if isinstance(env, dict):
                out += [("revisions", i, "container", j, "environment", k) for k in env]
    return out


FG_TASK_DEFINITION = ResourceSchema(
    "fg_task_definition",
    "A task definition family with immutable, numbered revisions. Any change registers a new "
    "revision; earlier revisions stay in state as INACTIVE.",
    BlockSchema("fg_task_definition", attributes=(
        attr("family", "string", "Family name.", required=True, optional=False, force_new=True),
        attr("cpu", "number", "CPU units for the task (1024 = one core).", default=256, min=2,
             max=65536),
        attr("memory", "number", "Memory for the task, MiB.", default=512, min=6, max=262144),
        ID,
        computed("revision", "number", "Revision number, from 1."),
        computed("arn", "string", "FAMILY:REVISION."),
        computed("revisions", "list(any)", "Earlier (INACTIVE) revisions."),
    ), blocks=(_CONTAINER, PLACEMENT_CONSTRAINTS)),
    # Any change registers a new revision, so its number and arn are new.
    recomputed_on_update=("revision", "arn", "id", "revisions"),
    sensitive_paths=_history_sensitive,
)
