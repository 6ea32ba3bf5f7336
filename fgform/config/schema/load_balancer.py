"""fg_load_balancer: an application load balancer (HAProxy), its listeners and rules."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from fgform.config.schema.checks import (
    check_header_name,
    check_ip,
    check_methods,
    check_port,
    check_printable,
    check_source_ips,
    check_whole,
)
from fgform.config.schema.model import ID, AttrSchema, BlockSchema, ResourceSchema, attr, computed
from fgform.values import UNKNOWN


def _condition_list(name: str, desc: str, check: Callable[[Any], str | None] | None = None,
                    doc: str = "") -> AttrSchema:
    return attr(name, "list(string)", desc, default=[], check=check or check_printable,
                check_doc=doc or "no control characters")


_FIXED = BlockSchema(
    "fixed_response", "Answer directly instead of forwarding.", max_items=1,
    attributes=(
        attr("status_code", "number", "HTTP status (2XX, 4XX or 5XX).", default=404, min=200,
             max=599, check=lambda v: f"{v} is a redirect status: use a redirect block"
             if 300 <= v < 400 else None, check_doc="not 3XX"),
        attr("body", "string", "Response body (at most 1024 characters).", default="",
             check=lambda v: "longer than 1024 characters" if len(str(v)) > 1024 else None,
             check_doc="at most 1024 characters"),
        attr("content_type", "string", "Content-Type.", default="text/plain",
             enum=("text/plain", "text/css", "text/html", "application/javascript",
                 "application/json")),
    ),
)
_REDIRECT = BlockSchema(
    "redirect", "Answer with a redirect. Each part may use #{protocol}, #{host}, #{port}, "
    "#{path} (without its leading /) and #{query}, the request's own.", max_items=1,
    attributes=(
        attr("protocol", "string", "HTTP, HTTPS or #{protocol}.", default="#{protocol}",
             enum=("HTTP", "HTTPS", "#{protocol}")),
        attr("host", "string", "Host name.", default="#{host}", check=check_printable,
             check_doc="no control characters"),
        attr("port", "string", "Port.", default="#{port}", check=check_printable,
             check_doc="no control characters"),
        attr("path", "string", "Path, starting with /.", default="/#{path}",
             check=lambda v: None if str(v).startswith("/") else f"{v!r} does not start with /",
             check_doc="starts with /"),
        attr("query", "string", "Query string, without the leading ?.", default="#{query}",
             check=check_printable, check_doc="no control characters"),
        attr("status_code", "string", "HTTP_301 (permanent) or HTTP_302 (found).",
             required=True, optional=False, enum=("HTTP_301", "HTTP_302")),
    ),
)
_FORWARD = BlockSchema(
    "forward", "Weighted forward: splits requests between target groups by weight (blue/green, "
    "canaries).", max_items=1,
    blocks=(
        BlockSchema("target_group", "One target group and its share.", min_items=1,
                    max_items=5, attributes=(
                        attr("id", "string", "The `id` of the target group.", required=True,
                             optional=False),
                        attr("weight", "number", "Share of requests, relative to the others.",
                             default=1, min=0, max=999, check=check_whole,
                             check_doc="a whole number"),
                    )),
        BlockSchema("stickiness", "Keeps a client on the target group it was sent to.",
                    max_items=1, attributes=(
                        attr("enabled", "bool", "Whether it is on.", default=False),
                        attr("duration", "number", "Seconds.", default=3600, min=1,
                             max=604800),
                    )),
    ),
)
_HTTP_HEADER = BlockSchema(
    "http_headers", "Matches a request header's value (wildcards, case-insensitive).",
    attributes=(
        attr("name", "string", "Header name.", required=True, optional=False,
             check=check_header_name, check_doc="an HTTP header name"),
        _condition_list("values", "Values; any one matches."),
    ),
)
_QUERY_STRING = BlockSchema(
    "query_strings", "Matches a query string parameter (wildcards, case-insensitive); "
    "several blocks: any one matches.",
    attributes=(
        attr("key", "string", "Parameter name; any parameter when unset.",
             check=check_printable, check_doc="no control characters"),
        attr("value", "string", "Parameter value.", required=True, optional=False,
             check=check_printable, check_doc="no control characters"),
    ),
)
_RULE = BlockSchema(
    "rule", "Routes matching requests: its conditions are ANDed across kinds, ORed within "
    "one; exactly one action.", key="priority",
    attributes=(
        attr("priority", "number", "Lower is evaluated first; unique within a listener.",
             required=True, optional=False, min=1, max=50000, check=check_whole,
             check_doc="a whole number"),
        _condition_list("path_patterns", "Path patterns, case-sensitive; * matches any "
                        "characters, ? one."),
        _condition_list("host_headers", "Host names, case-insensitive; * and ? wildcards."),
        _condition_list("http_request_methods", "Methods (GET, POST...), case-sensitive.",
                        check_methods, "upper-case HTTP methods"),
        _condition_list("source_ips", "Client address CIDR blocks.", check_source_ips,
                        "CIDR blocks"),
        attr("target_group", "string", "Forward to the target group with this `id`."),
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
    ports = [x.get("port") if isinstance(x, dict) else None for x in listeners] \
        if isinstance(listeners, list) else []
    if any(v is UNKNOWN for v in (bind, listeners, *ports)):
        # Not known until apply (a dynamic listener block's for_each, say): neither are the
        # endpoints, rather than the prior object's staying in the plan.
        return {"endpoints": UNKNOWN}
    if not isinstance(bind, str) or not isinstance(listeners, list):
        return {}
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
        attr("name", "string", "Name; the resource name when unset."),
        attr("cluster", "string", "The `id` of the cluster.", required=True, optional=False,
             force_new=True),
        attr("bind_address", "string", "Host address listeners are published on.",
             default="127.0.0.1", force_new=True, check=check_ip, check_doc="an IP address"),
        attr("image", "string", "Proxy image; built from debian:bookworm-slim (Debian's "
             "haproxy) when unset.", force_new=True),
        ID,
        computed("dns_name", "string", "Host name of the load balancer."),
        computed("endpoints", "list(string)", "One URL per listener."),
    ), blocks=(
        BlockSchema("listener", "A port the load balancer listens on. Its default action "
                    "(a 404 fixed response when none is given) answers what no rule "
                    "matches.", min_items=1, key="port", attributes=(
                        attr("port", "number", "Host port.", required=True, optional=False,
                             check=check_port, check_doc="1-65535"),
                        attr("protocol", "string", "Protocol.", default="HTTP", enum=("HTTP",)),
                        attr("default_target_group", "string",
                             "Default action: forward to the target group with this `id`."),
                    ), blocks=(_FORWARD, _REDIRECT, _FIXED, _RULE)),
    )),
    plan_time=_lb_plan_time,
)
