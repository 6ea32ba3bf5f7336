"""fg_target_group: a load balancer's backend and its health check."""

from __future__ import annotations

from fgform.config.schema.checks import (
    check_health_port,
    check_matcher,
    check_port,
    check_printable,
)
from fgform.config.schema.model import ID, BlockSchema, ResourceSchema, attr

FG_TARGET_GROUP = ResourceSchema(
    "fg_target_group",
    "Where a load balancer sends traffic (a backend of its proxy), and how it checks the "
    "targets' health. ALB's defaults, except where a faster local default is named.",
    BlockSchema("fg_target_group", attributes=(
        attr("name", "string", "Name; the resource name when unset."),
        attr("port", "number", "Default target port.", default=80, check=check_port,
             check_doc="1-65535"),
        attr("protocol", "string", "Protocol.", default="HTTP", enum=("HTTP",)),
        attr("deregistration_delay", "number", "Seconds a deregistered target keeps its "
             "in-flight requests (draining) before its task is stopped. ALB's default is 300; "
             "fgform's local default is 5.", default=5, min=0, max=3600),
        attr("load_balancing_algorithm_type", "string", "round_robin, or "
             "least_outstanding_requests (HAProxy's leastconn).", default="round_robin",
             enum=("round_robin", "least_outstanding_requests")),
        attr("slow_start", "number", "Seconds a new target takes to ramp up to its full share "
             "(0: off).", default=0, min=0, max=900),
        ID,
    ), blocks=(
        BlockSchema("health_check", "HTTP health check of each target (HAProxy's "
                    "`option httpchk`, `inter`, `fall`, `rise`).", max_items=1,
                    attributes=(
                        attr("path", "string", "Request path.", default="/",
                             check=check_printable, check_doc="no control characters"),
                        attr("port", "string", "\"traffic-port\" (the target's port) or a "
                             "port number.", default="traffic-port", check=check_health_port,
                             check_doc="\"traffic-port\" or 1-65535"),
                        attr("interval", "number", "Seconds between checks. ALB's default is "
                             "30; fgform's local default is 5.", default=5, min=1, max=300),
                        attr("timeout", "number", "Seconds before a check fails. ALB's "
                             "default is 5; fgform's local default is 2.", default=2,
                             min=1, max=120),
                        attr("healthy_threshold", "number", "Passes before healthy. ALB's "
                             "default is 5; fgform's local default is 2.", default=2,
                             min=1, max=10),
                        attr("unhealthy_threshold", "number", "Failures before unhealthy "
                             "(ALB's default).", default=2, min=1, max=10),
                        attr("matcher", "string", "Expected status codes: \"200\", "
                             "\"200-299\" or \"200,204\". ALB's default is \"200\"; "
                             "fgform's is \"200-399\".", default="200-399",
                             check=check_matcher, check_doc="codes 200-499"),
                    )),
        BlockSchema("stickiness", "Sends a client back to the same target (a cookie the "
                    "proxy sets).", max_items=1, attributes=(
                        attr("type", "string", "lb_cookie.", default="lb_cookie",
                             enum=("lb_cookie",)),
                        attr("enabled", "bool", "Whether stickiness is on.", default=True),
                        attr("cookie_duration", "number", "Seconds the cookie lasts.",
                             default=86400, min=1, max=604800),
                    )),
    )),
)
