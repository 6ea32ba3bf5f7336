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
        _a("essential", "bool", "When it stops, the task stops. A service's tasks restart "
           "crashed containers in place (Restart policies in deployments.md).", default=True),
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

# -- load balancer checks ----------------------------------------------------------------------
# Characters a value that ends up in the proxy's configuration may not hold: control
# characters cannot be written in it (the rendering escapes everything else).
def check_printable(value: Any) -> str | None:
    values = value if isinstance(value, list) else [value]
    for v in values:
        if isinstance(v, str) and any(ord(c) < 32 or ord(c) == 127 for c in v):
            return f"{v!r} holds a control character (a newline, a tab...)"
    return None


def check_matcher(value: Any) -> str | None:
    """ALB's `matcher`: one code, a range "200-299" or a list "200,204" of codes 200-499."""
    text = str(value)
    for part in text.split(","):
        lo, _, hi = part.strip().partition("-")
        bounds = [lo, hi] if hi else [lo]
        if not all(b.isdigit() and 200 <= int(b) <= 499 for b in bounds) or \
                hi and int(lo) > int(hi):
            return (f"{text!r} is not a status code matcher: codes 200-499, as one code "
                    '("200"), a range ("200-299") or a list ("200,204")')
    return None


def check_health_port(value: Any) -> str | None:
    if str(value) == "traffic-port" or str(value).isdigit() and 1 <= int(str(value)) <= 65535:
        return None
    return f'{value!r} is not "traffic-port" or a TCP port (1-65535)'


def check_source_ips(value: Any) -> str | None:
    for v in value if isinstance(value, list) else []:
        try:
            ipaddress.ip_network(str(v), strict=False)
        except ValueError:
            return f"{v!r} is not a CIDR block (like 10.0.0.0/8 or 192.0.2.7/32)"
        if "/" not in str(v):
            return f"{v!r} has no prefix length: write {v}/32 for one address"
    return None


# Header names as written in the proxy's configuration unquoted: a subset of HTTP's token
# characters (the others, such as # or ', would need quoting there and are rare in names).
_HEADER_CHARS = frozenset("-_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def check_header_name(value: Any) -> str | None:
    if isinstance(value, str) and value and all(c in _HEADER_CHARS for c in value) and \
            len(value) <= 40:
        return None
    return f"{value!r} is not a header name fgform supports (letters, digits, - and _)"


def check_methods(value: Any) -> str | None:
    for v in value if isinstance(value, list) else []:
        if not (isinstance(v, str) and v and len(v) <= 40 and
                all(c.isascii() and (c.isupper() or c in "-_") for c in v)):
            return f"{v!r} is not an HTTP method (upper-case letters, - and _)"
    return None


def _condition_list(name: str, desc: str, check: Callable[[Any], str | None] | None = None,
                    doc: str = "") -> AttrSchema:
    return _a(name, "list(string)", desc, default=[], check=check or check_printable,
              check_doc=doc or "no control characters")


# -- fg_target_group -------------------------------------------------------------------------
FG_TARGET_GROUP = ResourceSchema(
    "fg_target_group",
    "Where a load balancer sends traffic (a backend of its proxy), and how it checks the "
    "targets' health. ALB's defaults, except where a faster local default is named.",
    BlockSchema("fg_target_group", attributes=(
        _a("name", "string", "Name; the resource name when unset."),
        _a("port", "number", "Default target port.", default=80, check=check_port,
           check_doc="1-65535"),
        _a("protocol", "string", "Protocol.", default="HTTP", enum=("HTTP",)),
        _a("deregistration_delay", "number", "Seconds a deregistered target keeps its "
           "in-flight requests (draining) before its task is stopped. ALB's default is 300; "
           "fgform's local default is 5.", default=5, min=0, max=3600),
        _a("load_balancing_algorithm_type", "string", "round_robin, or "
           "least_outstanding_requests (HAProxy's leastconn).", default="round_robin",
           enum=("round_robin", "least_outstanding_requests")),
        _a("slow_start", "number", "Seconds a new target takes to ramp up to its full share "
           "(0: off).", default=0, min=0, max=900),
        ID,
    ), blocks=(
        BlockSchema("health_check", "HTTP health check of each target (HAProxy's "
                    "`option httpchk`, `inter`, `fall`, `rise`).", max_items=1,
                    attributes=(
                        _a("path", "string", "Request path.", default="/",
                           check=check_printable, check_doc="no control characters"),
                        _a("port", "string", "\"traffic-port\" (the target's port) or a "
                           "port number.", default="traffic-port", check=check_health_port,
                           check_doc="\"traffic-port\" or 1-65535"),
                        _a("interval", "number", "Seconds between checks. ALB's default is "
                           "30; fgform's local default is 5.", default=5, min=1, max=300),
                        _a("timeout", "number", "Seconds before a check fails. ALB's "
                           "default is 5; fgform's local default is 2.", default=2,
                           min=1, max=120),
                        _a("healthy_threshold", "number", "Passes before healthy. ALB's "
                           "default is 5; fgform's local default is 2.", default=2,
                           min=1, max=10),
                        _a("unhealthy_threshold", "number", "Failures before unhealthy "
                           "(ALB's default).", default=2, min=1, max=10),
                        _a("matcher", "string", "Expected status codes: \"200\", "
                           "\"200-299\" or \"200,204\". ALB's default is \"200\"; "
                           "fgform's is \"200-399\".", default="200-399",
                           check=check_matcher, check_doc="codes 200-499"),
                    )),
        BlockSchema("stickiness", "Sends a client back to the same target (a cookie the "
                    "proxy sets).", max_items=1, attributes=(
                        _a("type", "string", "lb_cookie.", default="lb_cookie",
                           enum=("lb_cookie",)),
                        _a("enabled", "bool", "Whether stickiness is on.", default=True),
                        _a("cookie_duration", "number", "Seconds the cookie lasts.",
                           default=86400, min=1, max=604800),
                    )),
    )),
)

# -- fg_load_balancer ------------------------------------------------------------------------
_FIXED = BlockSchema(
    "fixed_response", "Answer directly instead of forwarding.", max_items=1,
    attributes=(
        _a("status_code", "number", "HTTP status (2XX, 4XX or 5XX).", default=404, min=200,
           max=599, check=lambda v: f"{v} is a redirect status: use a redirect block"
           if 300 <= v < 400 else None, check_doc="not 3XX"),
        _a("body", "string", "Response body (at most 1024 characters).", default="",
           check=lambda v: "longer than 1024 characters" if len(str(v)) > 1024 else None,
           check_doc="at most 1024 characters"),
        _a("content_type", "string", "Content-Type.", default="text/plain",
           enum=("text/plain", "text/css", "text/html", "application/javascript",
                 "application/json")),
    ),
)
_REDIRECT = BlockSchema(
    "redirect", "Answer with a redirect. Each part may use #{protocol}, #{host}, #{port}, "
    "#{path} (without its leading /) and #{query}, the request's own.", max_items=1,
    attributes=(
        _a("protocol", "string", "HTTP, HTTPS or #{protocol}.", default="#{protocol}",
           enum=("HTTP", "HTTPS", "#{protocol}")),
        _a("host", "string", "Host name.", default="#{host}", check=check_printable,
           check_doc="no control characters"),
        _a("port", "string", "Port.", default="#{port}", check=check_printable,
           check_doc="no control characters"),
        _a("path", "string", "Path, starting with /.", default="/#{path}",
           check=lambda v: None if str(v).startswith("/") else f"{v!r} does not start with /",
           check_doc="starts with /"),
        _a("query", "string", "Query string, without the leading ?.", default="#{query}",
           check=check_printable, check_doc="no control characters"),
        _a("status_code", "string", "HTTP_301 (permanent) or HTTP_302 (found).",
           required=True, optional=False, enum=("HTTP_301", "HTTP_302")),
    ),
)
_FORWARD = BlockSchema(
    "forward", "Weighted forward: splits requests between target groups by weight (blue/green, "
    "canaries).", max_items=1,
    blocks=(
        BlockSchema("target_group", "One target group and its share.", min_items=1,
                    max_items=5, attributes=(
                        _a("id", "string", "The `id` of the target group.", required=True,
                           optional=False),
                        _a("weight", "number", "Share of requests, relative to the others.",
                           default=1, min=0, max=999, check=check_whole,
                           check_doc="a whole number"),
                    )),
        BlockSchema("stickiness", "Keeps a client on the target group it was sent to.",
                    max_items=1, attributes=(
                        _a("enabled", "bool", "Whether it is on.", default=False),
                        _a("duration", "number", "Seconds.", default=3600, min=1,
                           max=604800),
                    )),
    ),
)
_HTTP_HEADER = BlockSchema(
    "http_headers", "Matches a request header's value (wildcards, case-insensitive).",
    attributes=(
        _a("name", "string", "Header name.", required=True, optional=False,
           check=check_header_name, check_doc="an HTTP header name"),
        _condition_list("values", "Values; any one matches."),
    ),
)
_QUERY_STRING = BlockSchema(
    "query_strings", "Matches a query string parameter (wildcards, case-insensitive); "
    "several blocks: any one matches.",
    attributes=(
        _a("key", "string", "Parameter name; any parameter when unset.",
           check=check_printable, check_doc="no control characters"),
        _a("value", "string", "Parameter value.", required=True, optional=False,
           check=check_printable, check_doc="no control characters"),
    ),
)
_RULE = BlockSchema(
    "rule", "Routes matching requests: its conditions are ANDed across kinds, ORed within "
    "one; exactly one action.", key="priority",
    attributes=(
        _a("priority", "number", "Lower is evaluated first; unique within a listener.",
           required=True, optional=False, min=1, max=50000, check=check_whole,
           check_doc="a whole number"),
        _condition_list("path_patterns", "Path patterns, case-sensitive; * matches any "
                        "characters, ? one."),
        _condition_list("host_headers", "Host names, case-insensitive; * and ? wildcards."),
        _condition_list("http_request_methods", "Methods (GET, POST...), case-sensitive.",
                        check_methods, "upper-case HTTP methods"),
        _condition_list("source_ips", "Client address CIDR blocks.", check_source_ips,
                        "CIDR blocks"),
        _a("target_group", "string", "Forward to the target group with this `id`."),
    ),
    blocks=(_HTTP_HEADER, _QUERY_STRING, _FORWARD, _REDIRECT, _FIXED),
)
# Each rule and listener has exactly one action: one of these (validate checks it).
ACTIONS = {"listener": ("default_target_group", "forward", "redirect", "fixed_response"),
           "rule": ("target_group", "forward", "redirect", "fixed_response")}
# The conditions a rule must have at least one of.
CONDITIONS = ("path_patterns", "host_headers", "http_request_methods", "source_ips",
              "http_headers", "query_strings")
def endpoint_url(bind_address: str, port: int) -> str:
    """The URL the host reaches a load balancer listener at (a wildcard bind on loopback)."""
    ip = ipaddress.ip_address(bind_address)
    if ip.is_unspecified:
        return f"http://127.0.0.1:{port}"
    return f"http://[{ip}]:{port}" if ip.version == 6 else f"http://{ip}:{port}"


def _lb_plan_time(attrs: dict[str, Any], config_dir: str) -> dict[str, Any]:
    """A load balancer's `endpoints`, known at plan time from `bind_address` and the
    listener ports (so an output of them, and a port change, show in the plan)."""
    bind, listeners = attrs.get("bind_address"), attrs.get("listener")
    if not isinstance(bind, str) or not isinstance(listeners, list):
        return {}
    ports = [x.get("port") if isinstance(x, dict) else None for x in listeners]
    if not all(isinstance(p, int | float) and not isinstance(p, bool) for p in ports):
        return {}
    try:
        return {"endpoints": [endpoint_url(bind, int(p)) for p in ports]}
    except ValueError:
        return {}  # not an IP address: validation reports it


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
        _a("image", "string", "Proxy image; built from debian:bookworm-slim (Debian's "
           "haproxy) when unset.", force_new=True),
        ID,
        _computed("dns_name", "string", "Host name of the load balancer."),
        _computed("endpoints", "list(string)", "One URL per listener."),
    ), blocks=(
        BlockSchema("listener", "A port the load balancer listens on. Its default action "
                    "(a 404 fixed response when none is given) answers what no rule "
                    "matches.", min_items=1, key="port", attributes=(
                        _a("port", "number", "Host port.", required=True, optional=False,
                           check=check_port, check_doc="1-65535"),
                        _a("protocol", "string", "Protocol.", default="HTTP", enum=("HTTP",)),
                        _a("default_target_group", "string",
                           "Default action: forward to the target group with this `id`."),
                    ), blocks=(_FORWARD, _REDIRECT, _FIXED, _RULE)),
    )),
    plan_time=_lb_plan_time,
)

def _service_needs_repair(attrs: dict[str, Any]) -> str | None:
    """A service whose last deployment failed, whose refreshed running_count is below or
    above desired_count (a task removed by hand), or whose running task is missing from a
    target group's proxy, must be updated to restore it."""
    for dep in attrs.get("deployments") or []:
        if isinstance(dep, dict) and dep.get("rollout_state") == "FAILED":
            # Shown in the plan, and the apply deploys again (ECS retries too).
            why = dep.get("rollout_state_reason") or "its tasks failed"
            return f"its last deployment ({dep.get('task_definition')}) failed: {why}"
    running, desired = attrs.get("running_count"), attrs.get("desired_count")
    if isinstance(running, int) and isinstance(desired, int) and running != desired:
        return f"running_count is {running} but desired_count is {desired}"
    targets = attrs.get("targets")
    if isinstance(targets, list):
        have = {(t.get("target_group"), t.get("id")) for t in targets if isinstance(t, dict)}
        for lb in attrs.get("load_balancer") or []:
            for task in attrs.get("tasks") or []:
                if isinstance(lb, dict) and isinstance(task, dict) and task.get("address") \
                        and (lb.get("target_group"), task.get("id")) not in have:
                    return (f"task {task.get('id')} is not registered in target group "
                            f"{lb.get('target_group')}")
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
        _computed("targets", "list(any)", "Each task in each `load_balancer` target group: "
                  "target_group, id, address, port. A target missing from its load "
                  "balancer is drift that the plan repairs."),
        _computed("deployments", "list(any)", "The deployments of the last apply or "
                  "reconcile, as ECS shows them: status (PRIMARY, ACTIVE, INACTIVE), "
                  "task_definition, desired_count, pending_count, running_count, failed_tasks, "
                  "rollout_state (COMPLETED, FAILED), rollout_state_reason."),
        _computed("events", "list(any)", "The service's event log (at, message), newest last, "
                  "the last 100 kept: `fgform events`."),
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
    # deployments and events are bookkeeping the driver rewrites: an update shows no diff
    # of them (they would be noise in every plan of a service).
    recomputed_on_update=("running_count", "tasks", "targets"),
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
