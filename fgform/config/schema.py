"""One declarative table per resource type: attributes, nested blocks, defaults, validation,
and which changes force a replacement.

Validation, the planner, the drivers and `docs/resources.md` all read these tables; nothing
else says what a resource type looks like.

Values in state: an attribute is its plain value; a nested block with `max_items == 1` is a
dict (or None when absent); a repeatable block is a list of dicts; a labelled block
(`container "web" {}`) is a list of dicts whose `label` attribute holds the label.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# A type is one of: "string", "number", "bool", "any", "list(T)", "map(T)".


@dataclass(frozen=True, slots=True)
class AttrSchema:
    name: str
    type: str
    description: str = ""
    required: bool = False
    computed: bool = False  # set by fgform, not the user (optional+computed when both)
    optional: bool = True
    default: Any = None
    force_new: bool = False  # a change forces replacement
    sensitive: bool = False
    enum: tuple[Any, ...] = ()
    min: float | None = None
    max: float | None = None
    check: Callable[[Any], str | None] | None = None  # returns an error message or None
    check_doc: str = ""  # how `check` reads in the docs


@dataclass(frozen=True, slots=True)
class BlockSchema:
    name: str
    description: str = ""
    attributes: tuple[AttrSchema, ...] = ()
    blocks: tuple[BlockSchema, ...] = ()
    min_items: int = 0
    max_items: int | None = None  # 1 means a single block (stored as a dict)
    label: str | None = None  # name of the attribute that holds the block label, if labelled
    key: str | None = None  # attribute that identifies an element when diffing a list
    force_new: bool = False  # any change inside forces replacement

    def attr(self, name: str) -> AttrSchema | None:
        return next((a for a in self.attributes if a.name == name), None)

    def block(self, name: str) -> BlockSchema | None:
        return next((b for b in self.blocks if b.name == name), None)

    @property
    def single(self) -> bool:
        return self.max_items == 1


@dataclass(frozen=True, slots=True)
class ResourceSchema:
    type: str
    description: str
    body: BlockSchema
    # The attribute other resources reference this one by, when it is named in a reference
    # attribute (e.g. a service's `cluster` names a cluster's `id`).
    id_attribute: str = "id"
    # Computed attributes that become unknown whenever the resource is updated (a new task
    # definition revision gets a new `arn`).
    recomputed_on_update: tuple[str, ...] = ()
    # Computed attributes the planner can know before apply, from the evaluated config and
    # the configuration directory (the image context's hash). Pure: reads files, never Docker.
    plan_time: Callable[[dict[str, Any], str], dict[str, Any]] | None = None
    # Given the refreshed attributes of an instance, a reason why it must be updated even
    # though its configuration did not change (a service with a task removed by hand), or
    # None. The planner turns a reason into an in-place update that repairs the object.
    needs_repair: Callable[[dict[str, Any]], str | None] | None = None
    # False when the new object of a replacement would share its Docker identity with the
    # old one (a fixed container or network name, tasks adopted by address label): deleting
    # the deposed old object would then take the new one with it. The planner replaces such
    # a resource destroy-first even under create_before_destroy, and says why (the reason
    # below, completing "its new object ...").
    create_before_destroy_supported: bool = True
    create_before_destroy_conflict: str = ""

    def attr(self, name: str) -> AttrSchema | None:
        return self.body.attr(name)

    def block(self, name: str) -> BlockSchema | None:
        return self.body.block(name)


# -- checks -------------------------------------------------------------------------------
def check_cidr(value: Any) -> str | None:
    try:
        net = ipaddress.ip_network(str(value), strict=True)
    except ValueError as exc:
        return f"{value!r} is not a valid CIDR block ({exc})"
    if net.version != 4:
        return "only IPv4 CIDR blocks are supported"
    if net.prefixlen > 28:
        return f"{value!r} is too small: a cluster needs at least a /28"
    return None


def check_whole(value: Any) -> str | None:
    if isinstance(value, float) and not value.is_integer():
        return f"{value} is not a whole number"
    return None


def check_port(value: Any) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        if check_whole(value) or not 1 <= value <= 65535:
            return f"{value} is not a TCP port (a whole number, 1-65535)"
    return None


def check_ip(value: Any) -> str | None:
    try:
        ipaddress.ip_address(str(value))
    except ValueError:
        return f"{value!r} is not an IP address"
    return None


def _a(name: str, type_: str, desc: str = "", **kw: Any) -> AttrSchema:
    return AttrSchema(name, type_, desc, **kw)


def _computed(name: str, type_: str, desc: str) -> AttrSchema:
    return AttrSchema(name, type_, desc, computed=True, optional=False)


ID = _computed("id", "string", "The resource's identifier.")

# -- fg_registry ---------------------------------------------------------------------------
FG_REGISTRY = ResourceSchema(
    "fg_registry",
    "A container registry (ECR): a Distribution registry server in a container. Its storage "
    "is a named volume that outlives replacement of the registry container.",
    BlockSchema("fg_registry", attributes=(
        _a("port", "number", "Host port the registry listens on.", default=5000,
           force_new=True, check=check_port, check_doc="1-65535"),
        _a("bind_address", "string", "Host address the port is published on.",
           default="127.0.0.1", force_new=True, check=check_ip, check_doc="an IP address"),
        _a("image", "string", "Registry server image; built from debian:bookworm-slim when "
           "unset.", force_new=True),
        ID,
        _computed("endpoint", "string", "host:port to push to and pull from."),
        _computed("volume", "string", "Named volume holding the registry's data."),
    )),
    create_before_destroy_supported=False,
    create_before_destroy_conflict="would use the same fixed container name as the old one",
)

def _image_plan_time(attrs: dict[str, Any], config_dir: str) -> dict[str, Any]:
    """fg_image's `context_sha256`, hashed from the build context at plan time, so editing a
    file in the context changes the plan. Pure: reads files only."""
    import os

    # Imported late: the schema tables must load without the fleet package's modules.
    from fgform.fleet import context_hash

    context = attrs.get("context")
    if isinstance(context, str) and not os.path.isdir(
            context_hash.resolve_context(context, config_dir or ".")):
        return {}  # a missing context is validation's to report; the hash stays unknown
    return context_hash.plan_time_attrs(attrs, config_dir or ".")


# -- fg_image --------------------------------------------------------------------------------
FG_IMAGE = ResourceSchema(
    "fg_image",
    "An image built from a context directory and pushed to a registry.",
    BlockSchema("fg_image", attributes=(
        _a("registry", "string", "The `id` of the registry to push to.", required=True,
           optional=False, force_new=True),
        _a("repository", "string", "Repository name in the registry.", required=True,
           optional=False),
        _a("tag", "string", "Tag to push.", default="latest"),
        _a("context", "string", "Build context directory.", required=True, optional=False),
        _a("dockerfile", "string", "Dockerfile path within the context.", default="Dockerfile"),
        _a("build_args", "map(string)", "Build arguments.", default={}),
        ID,
        _computed("context_sha256", "string",
                  "Content hash of the context, honouring .dockerignore; known at plan time."),
        _computed("digest", "string", "Manifest digest of the pushed image."),
        _computed("uri", "string", "ENDPOINT/REPOSITORY@sha256:... to run the image by."),
    )),
    # A rebuild pushes a new manifest: digest and uri are only known after apply.
    recomputed_on_update=("digest", "uri"),
    plan_time=_image_plan_time,
)

# -- fg_task_definition ------------------------------------------------------------------------
_PORT_MAPPING = BlockSchema(
    "port_mapping", "A port the container listens on.",
    attributes=(
        _a("container_port", "number", "Port inside the task.", required=True, optional=False,
           check=check_port, check_doc="1-65535"),
        _a("host_port", "number", "Publish on this host port (off by default).",
           check=check_port, check_doc="1-65535"),
        _a("protocol", "string", "tcp or udp.", default="tcp", enum=("tcp", "udp")),
    ),
    key="container_port",
)
_CONTAINER_HEALTH = BlockSchema(
    "health_check", "A Docker health check run inside the container.", max_items=1,
    attributes=(
        _a("command", "list(string)", "[\"CMD\", ...] or [\"CMD-SHELL\", \"...\"].",
           required=True, optional=False),
        _a("interval", "number", "Seconds between checks.", default=30, min=1, max=300),
        _a("timeout", "number", "Seconds before a check fails.", default=5, min=1, max=120),
        _a("retries", "number", "Failures before unhealthy.", default=3, min=1, max=10),
        _a("start_period", "number", "Seconds of grace after start.", default=0, min=0,
           max=300),
    ),
)
_CONTAINER = BlockSchema(
    "container", "A container of the task.", min_items=1, label="name", key="name",
    attributes=(
        _a("name", "string", "The block label."),
        _a("image", "string", "Image to run (an fg_image `uri`, or any image name).",
           required=True, optional=False),
        _a("essential", "bool", "When it stops, the task stops.", default=True),
        _a("command", "list(string)", "Command (Docker CMD)."),
        _a("entry_point", "list(string)", "Entry point (Docker ENTRYPOINT)."),
        _a("environment", "map(string)", "Environment variables.", default={}),
        _a("working_directory", "string", "Working directory."),
        _a("user", "string", "User to run as."),
        _a("stop_timeout", "number", "Seconds between SIGTERM and SIGKILL.", default=10,
           min=0, max=120),
        _a("cpu", "number", "CPU units reserved for this container.", min=0),
        _a("memory", "number", "Hard memory limit of this container, MiB.", min=6),
    ),
    blocks=(_PORT_MAPPING, _CONTAINER_HEALTH),
)
FG_TASK_DEFINITION = ResourceSchema(
    "fg_task_definition",
    "A task definition family with immutable, numbered revisions. Any change registers a new "
    "revision; earlier revisions stay in state as INACTIVE.",
    BlockSchema("fg_task_definition", attributes=(
        _a("family", "string", "Family name.", required=True, optional=False, force_new=True),
        _a("cpu", "number", "CPU units for the task (1024 = one core).", default=256, min=2,
           max=65536),
        _a("memory", "number", "Memory for the task, MiB.", default=512, min=6, max=262144),
        ID,
        _computed("revision", "number", "Revision number, from 1."),
        _computed("arn", "string", "FAMILY:REVISION."),
        _computed("revisions", "list(any)", "Earlier (INACTIVE) revisions."),
    ), blocks=(_CONTAINER,)),
    # Any change registers a new revision, so its number and arn are new.
    recomputed_on_update=("revision", "arn", "id", "revisions"),
)

# -- fg_cluster ------------------------------------------------------------------------------
FG_CLUSTER = ResourceSchema(
    "fg_cluster",
    "A network (the VPC/subnet) and a fleet of capacity that tasks are placed on.",
    BlockSchema("fg_cluster", attributes=(
        _a("name", "string", "Cluster name; the resource name when unset.", force_new=True),
        _a("cidr_block", "string", "Subnet of the cluster network.", default="10.213.0.0/24",
           force_new=True, check=check_cidr, check_doc="an IPv4 CIDR, /28 or larger"),
        _a("placement_strategy", "string", "How tasks are spread over instances.",
           default="spread", enum=("spread", "binpack")),
        ID,
        _computed("network_name", "string", "Docker network of the cluster."),
    ), blocks=(
        BlockSchema("capacity", "The fleet the capacity manager places tasks on.", max_items=1,
                    attributes=(
                        _a("instance_count", "number", "Number of instances.", default=1,
                           check=check_whole, check_doc="a whole number",
                           min=1, max=1000),
                        _a("instance_cpu", "number", "CPU units per instance.", min=128),
                        _a("instance_memory", "number", "Memory per instance, MiB.", min=64),
                    )),
    )),
    create_before_destroy_supported=False,
    create_before_destroy_conflict="would use the same Docker network name as the old one",
)

# -- fg_target_group -------------------------------------------------------------------------
FG_TARGET_GROUP = ResourceSchema(
    "fg_target_group",
    "Where a load balancer sends traffic, and how it checks the targets' health.",
    BlockSchema("fg_target_group", attributes=(
        _a("name", "string", "Name; the resource name when unset."),
        _a("port", "number", "Default target port.", default=80, check=check_port,
           check_doc="1-65535"),
        _a("protocol", "string", "Protocol.", default="HTTP", enum=("HTTP",)),
        _a("deregistration_delay", "number", "Seconds of draining.", default=5, min=0,
           max=3600),
        ID,
    ), blocks=(
        BlockSchema("health_check", "HTTP health check of each target.", max_items=1,
                    attributes=(
                        _a("path", "string", "Request path.", default="/"),
                        _a("interval", "number", "Seconds between checks.", default=5, min=1,
                           max=300),
                        _a("timeout", "number", "Seconds before a check fails.", default=2,
                           min=1, max=120),
                        _a("healthy_threshold", "number", "Passes before healthy.", default=2,
                           min=1, max=10),
                        _a("unhealthy_threshold", "number", "Failures before unhealthy.",
                           default=2, min=1, max=10),
                        _a("matcher", "string", "Expected status codes, e.g. 200 or 200-399.",
                           default="200-399"),
                    )),
    )),
)

# -- fg_load_balancer ------------------------------------------------------------------------
_RULE = BlockSchema(
    "rule", "Routes matching requests to a target group.", key="priority",
    attributes=(
        _a("priority", "number", "Lower is evaluated first.", required=True, optional=False,
           min=1, max=50000),
        _a("path_patterns", "list(string)", "Path patterns, * as wildcard.", default=[]),
        _a("host_headers", "list(string)", "Host names.", default=[]),
        _a("target_group", "string", "The `id` of the target group.", required=True,
           optional=False),
    ),
)
_FIXED = BlockSchema(
    "fixed_response", "Answer directly instead of forwarding.", max_items=1,
    attributes=(
        _a("status_code", "number", "HTTP status.", default=404, min=200, max=599),
        _a("body", "string", "Response body.", default=""),
        _a("content_type", "string", "Content-Type.", default="text/plain"),
    ),
)
FG_LOAD_BALANCER = ResourceSchema(
    "fg_load_balancer",
    "An application load balancer: a real proxy (HAProxy) in a container on the cluster "
    "network, its configuration rendered from the listeners and rules.",
    BlockSchema("fg_load_balancer", attributes=(
        _a("name", "string", "Name; the resource name when unset."),
        _a("cluster", "string", "The `id` of the cluster.", required=True, optional=False,
           force_new=True),
        _a("bind_address", "string", "Host address listeners are published on.",
           default="127.0.0.1", force_new=True, check=check_ip, check_doc="an IP address"),
        ID,
        _computed("dns_name", "string", "Host name of the load balancer."),
        _computed("endpoints", "list(string)", "One URL per listener."),
    ), blocks=(
        BlockSchema("listener", "A port the load balancer listens on.", min_items=1,
                    key="port", attributes=(
                        _a("port", "number", "Host port.", required=True, optional=False,
                           check=check_port, check_doc="1-65535"),
                        _a("default_target_group", "string",
                           "The `id` of the target group for unmatched requests."),
                    ), blocks=(_FIXED, _RULE)),
    )),
)

def _service_needs_repair(attrs: dict[str, Any]) -> str | None:
    """A service whose refreshed running_count is below or above desired_count (a task
    removed by hand) must be updated to restore the count."""
    running, desired = attrs.get("running_count"), attrs.get("desired_count")
    if isinstance(running, int) and isinstance(desired, int) and running != desired:
        return f"running_count is {running} but desired_count is {desired}"
    return None


# -- fg_service ------------------------------------------------------------------------------
FG_SERVICE = ResourceSchema(
    "fg_service",
    "Keeps desired_count tasks of a task definition running, healthy and registered.",
    BlockSchema("fg_service", attributes=(
        _a("name", "string", "Service name; the resource name when unset.", force_new=True),
        _a("cluster", "string", "The `id` of the cluster.", required=True, optional=False,
           force_new=True),
        _a("task_definition", "string", "The `arn` of the task definition to run.",
           required=True, optional=False),
        _a("desired_count", "number", "Tasks to keep running.", default=1, min=0, max=1000,
           check=check_whole, check_doc="a whole number"),
        _a("health_check_grace_period", "number",
           "Seconds to ignore failing health checks after a task starts.", default=0, min=0,
           max=3600),
        _a("wait_for_steady_state", "bool", "Apply returns when the service is stable.",
           default=True),
        _a("steady_state_timeout", "number", "Seconds to wait for steady state.", default=300,
           min=1),
        ID,
        _computed("running_count", "number", "Tasks running."),
        _computed("tasks", "list(any)", "The running tasks: id, instance, address, revision."),
    ), blocks=(
        BlockSchema("load_balancer", "Registers each task with a target group.",
                    key="target_group", attributes=(
                        _a("target_group", "string", "The `id` of the target group.",
                           required=True, optional=False),
                        _a("container_name", "string", "Container of the task definition.",
                           required=True, optional=False),
                        _a("container_port", "number", "Port of that container.",
                           required=True, optional=False, check=check_port,
                           check_doc="1-65535"),
                    )),
        BlockSchema("deployment", "Rolling deployment settings.", max_items=1, attributes=(
            _a("minimum_healthy_percent", "number", "Lower limit of healthy tasks during a "
               "deployment, percent of desired_count.", default=100, min=0, max=100),
            _a("maximum_percent", "number", "Upper limit of tasks during a deployment.",
               default=200, min=100, max=200),
        ), blocks=(
            BlockSchema("circuit_breaker", "Stops a failing deployment.", max_items=1,
                        attributes=(
                            _a("enable", "bool", "Stop after repeated task failures.",
                               default=False),
                            _a("rollback", "bool", "Roll back to the last good revision.",
                               default=False),
                        )),
        )),
    )),
    # A deployment replaces or adds tasks: which tasks run is only known after apply.
    recomputed_on_update=("running_count", "tasks"),
    needs_repair=_service_needs_repair,
    create_before_destroy_supported=False,
    create_before_destroy_conflict="would adopt the old object's tasks (found by the "
                                   "address label), which deleting the old object stops",
)

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
