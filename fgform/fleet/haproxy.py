"""An fg_load_balancer as HAProxy configuration: ALB listeners, rules and target groups
translated to frontends, ACLs and backends, rendered from `templates/haproxy.cfg.j2`.

Pure: plain attribute dicts in, text out; the same input always renders the same bytes.

How ALB semantics map onto HAProxy:
- Each listener is a frontend. Rules are evaluated by priority: in priority order, the first
  rule whose conditions all hold stores its priority in `txn.rule` (0 for the default
  action); the actions are then keyed on that variable, so `http-request return`/`redirect`
  (which HAProxy runs before any `use_backend`) keep ALB's order across action kinds.
- A forward stores its backend in `txn.be`; one `use_backend %[var(txn.be)]` routes it. A
  weighted forward draws `rand(total weight)`; with stickiness a cookie names the chosen
  backend for `duration` seconds.
- Conditions: ALB wildcards (`*` any characters, `?` one) become anchored regular
  expressions whose every non-alphanumeric character is a `\\xNN` escape, in single quotes
  (HAProxy processes no escapes there), so no user text can end a word or a line.
  Paths and methods are case-sensitive, hosts, header values and query strings not, as on
  an ALB.
- A target group is a backend; its targets are servers with health checks (`inter`, `fall`,
  `rise`, `httpchk` + `http-check expect`), marked down at their first failed connection
  (`observe layer4`). A backend with no healthy server answers 503.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2

TEMPLATES = Path(__file__).parent / "templates"
# Inside the container only: never published (see fleet/docker/load_balancer.py).
MASTER_SOCKET = "/run/haproxy/master.sock"
ADMIN_SOCKET = "/run/haproxy/admin.sock"
# No target group (a forward to nothing, a weighted forward whose weights are all 0): 503.
NO_TARGET_BACKEND = "no_target"


class RenderError(ValueError):
    """The load balancer names something its configuration cannot be made without (a target
    group that is not known)."""


# -- names and quoting ------------------------------------------------------------------------
def backend_name(tg_id: str) -> str:
    """The backend of a target group: readable, unique per id, and a valid HAProxy name."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", tg_id).strip("-")[:40] or "tg"
    return f"tg_{slug}_{hashlib.sha256(tg_id.encode()).hexdigest()[:6]}"


def server_name(target_id: str) -> str:
    """A target's server name in its backend (a task id, folded into HAProxy's alphabet)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", target_id)[:60] or "target"


def quote(text: str) -> str:
    """A double-quoted HAProxy word holding `text` literally (no variable expansion)."""
    out = []
    for c in text:
        if c in '\\"$':
            out.append("\\" + c)
        elif c == "\n":
            out.append("\\n")
        elif c == "\r":
            out.append("\\r")
        elif c == "\t":
            out.append("\\t")
        elif ord(c) < 32 or ord(c) == 127:
            out.append(f"\\x{ord(c):02x}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def _regex_char(c: str) -> str:
    """One character as a regex atom: HAProxy matches bytes, so a non-ASCII character is
    the sequence of its UTF-8 bytes."""
    if c.isascii() and c.isalnum():
        return c
    return "".join(f"\\x{b:02x}" for b in c.encode())


def wildcard_regex(pattern: str, *, any_chars: str = ".*", one_char: str = ".") -> str:
    """An ALB wildcard pattern as an anchored regular expression in single quotes."""
    body = "".join(any_chars if c == "*" else one_char if c == "?" else _regex_char(c)
                   for c in pattern)
    return f"'^{body}$'"


def _lf_literal(text: str) -> str:
    """Literal text inside a log-format string (the `%` that starts an expression doubled)."""
    return text.replace("%", "%%")


# -- conditions -------------------------------------------------------------------------------
def condition_acls(rule: Mapping[str, Any]) -> list[list[str]]:
    """The rule's conditions, one list per condition (its lines are ORed, the conditions
    ANDed), each line the criterion of an `acl NAME ...` declaration."""
    conds: list[list[str]] = []
    paths = rule.get("path_patterns") or []
    if paths:
        lines = []
        for p in paths:
            prefix = p[:-1]
            if p.endswith("*") and not any(c in prefix for c in "*?'"):
                lines.append(f"path_beg '{prefix}'")
            else:
                lines.append(f"path -m reg {wildcard_regex(p)}")
        conds.append(lines)
    hosts = rule.get("host_headers") or []
    if hosts:
        conds.append([f"req.hdr(host),field(1,:) -m reg -i {wildcard_regex(h)}"
                      for h in hosts])
    for header in rule.get("http_headers") or []:
        values = header.get("values") or []
        if values:
            conds.append([f"req.hdr({header['name']}) -m reg -i {wildcard_regex(v)}"
                          for v in values])
    methods = rule.get("http_request_methods") or []
    if methods:
        conds.append(["method -m str " + " ".join(methods)])
    queries = rule.get("query_strings") or []
    if queries:
        lines = []
        for q in queries:
            key = q.get("key")
            key_re = "[^&=]*" if key in (None, "") else "".join(
                "[^&=]*" if c == "*" else "[^&=]" if c == "?" else _regex_char(c) for c in key)
            value_re = "".join("[^&]*" if c == "*" else "[^&]" if c == "?" else _regex_char(c)
                               for c in q.get("value") or "")
            lines.append(f"query -m reg -i '(^|&){key_re}={value_re}(&|$)'")
        conds.append(lines)
    ips = rule.get("source_ips") or []
    if ips:
        conds.append(["src " + " ".join(str(ipaddress.ip_network(i, strict=False))
                                        for i in ips)])
    return conds


# -- actions ----------------------------------------------------------------------------------
def _forward_of(action: Mapping[str, Any], tg_key: str) -> list[tuple[str, int]] | None:
    """(target group id, weight) pairs of a forward action, or None for another action."""
    if action.get(tg_key):
        return [(action[tg_key], 1)]
    fwd = action.get("forward")
    if fwd:
        return [(t["id"], int(t.get("weight", 1) if t.get("weight") is not None else 1))
                for t in fwd.get("target_group") or []]
    return None


_PLACEHOLDERS = {
    "#{host}": "%[req.hdr(host),field(1,:)]",
    "#{port}": "%[dst_port]",
    "#{path}": "%[path,regsub(^/,)]",
    "#{query}": "%[query]",
    "#{protocol}": "http",
}


def _lf_with_placeholders(text: str) -> str:
    out = []
    for part in re.split(r"(#\{(?:host|port|path|query|protocol)\})", text):
        out.append(_PLACEHOLDERS[part] if part in _PLACEHOLDERS else _lf_literal(part))
    return "".join(out)


def redirect_lines(redirect: Mapping[str, Any], cond: str) -> list[str]:
    """`http-request redirect` lines for an ALB redirect (two when the query is the request's
    own, so no lone `?` is added to a request without one)."""
    proto = {"HTTP": "http", "HTTPS": "https"}.get(redirect.get("protocol") or "", "http")
    port = str(redirect.get("port") or "#{port}")
    default_port = {"http": "80", "https": "443"}[proto]
    location = f"{proto}://" + _lf_with_placeholders(redirect.get("host") or "#{host}")
    if port != default_port:
        location += ":" + _lf_with_placeholders(port)
    location += _lf_with_placeholders(redirect.get("path") or "/#{path}")
    code = "301" if redirect.get("status_code") == "HTTP_301" else "302"
    query = redirect.get("query")
    query = "#{query}" if query is None else str(query)
    if query == "":
        return [f"http-request redirect location {quote(location)} code {code} if {cond}"]
    with_query = location + "?" + _lf_with_placeholders(query)
    if "#{query}" not in query:
        return [f"http-request redirect location {quote(with_query)} code {code} if {cond}"]
    return [f"http-request redirect location {quote(with_query)} code {code} "
            f"if {cond} {{ query -m len gt 0 }}",
            f"http-request redirect location {quote(location)} code {code} if {cond}"]


def action_lines(action: Mapping[str, Any], tg_key: str, number: int, listener_port: int,
                 backends: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """The `http-request` lines, and the `http-response` lines, carrying out one action
    (`number` is the rule's priority, 0 for the listener's default)."""
    cond = f"{{ var(txn.rule) -m int eq {number} }}"
    fixed = action.get("fixed_response")
    if fixed:
        return [f"http-request return status {int(fixed.get('status_code') or 404)} "
                f"content-type {quote(str(fixed.get('content_type') or 'text/plain'))} "
                f"string {quote(str(fixed.get('body') or ''))} if {cond}"], []
    if action.get("redirect"):
        return redirect_lines(action["redirect"], cond), []
    forward = _forward_of(action, tg_key)
    if not forward:
        # No default action given: ALB has none such; fgform answers 404.
        return [f"http-request return status 404 content-type \"text/plain\" "
                f"string \"Not Found\\n\" if {cond}"], []
    for tg_id, _w in forward:
        if tg_id not in backends:
            raise RenderError(f"target group {tg_id!r} is not known to fgform")
    weighted = [(backends[t], w) for t, w in forward if w > 0]
    if len(forward) == 1:
        return [f"http-request set-var(txn.be) str({backends[forward[0][0]]}) if {cond}"], []
    if not weighted:
        return [f"http-request set-var(txn.be) str({NO_TARGET_BACKEND}) if {cond}"], []
    lines, resp = [], []
    unset = "!{ var(txn.be) -m found }"
    sticky = (action.get("forward") or {}).get("stickiness") or {}
    if sticky.get("enabled"):
        cookie = f"fgform_tg_{listener_port}_{number}"
        names = " ".join(sorted({b for b, _ in weighted}))
        lines.append(f"http-request set-var(txn.be) req.cook({cookie}) "
                     f"if {cond} {{ req.cook({cookie}) -m str {names} }}")
        resp.append(f"http-response add-header Set-Cookie "
                    f"\"{cookie}=%[var(txn.be)]; Max-Age={int(sticky.get('duration') or 3600)}"
                    f"; Path=/\" if {cond}")
    total = sum(w for _, w in weighted)
    lines.append(f"http-request set-var(txn.pick) rand({total}) if {cond} {unset}")
    upto = 0
    for backend, weight in weighted:
        upto += weight
        lines.append(f"http-request set-var(txn.be) str({backend}) "
                     f"if {cond} {unset} {{ var(txn.pick) -m int lt {upto} }}")
    return lines, resp


# -- target groups ----------------------------------------------------------------------------
def status_regex(matcher: str) -> str:
    """ALB's `matcher` ("200", "200-299", "200,204") as a regular expression of codes."""
    codes: set[int] = set()
    for part in str(matcher).split(","):
        lo, _, hi = part.strip().partition("-")
        codes.update(range(int(lo), int(hi or lo) + 1))
    alts = []
    for hundred in sorted({c // 100 for c in codes}):
        if all(hundred * 100 + i in codes for i in range(100)):
            alts.append(f"{hundred}[0-9][0-9]")
            continue
        for decade in range(hundred * 10, hundred * 10 + 10):
            if all(decade * 10 + i in codes for i in range(10)):
                alts.append(f"{decade}[0-9]")
            else:
                alts.extend(str(c) for c in range(decade * 10, decade * 10 + 10) if c in codes)
    return "^(" + "|".join(alts) + ")$"


def server_options(tg: Mapping[str, Any]) -> str:
    """The options of every target's `server` line (also given to the runtime API's `add
    server`, which does not read `default-server`)."""
    hc = tg.get("health_check") or {}
    opts = [f"check inter {int(hc.get('interval') or 5)}s",
            f"fall {int(hc.get('unhealthy_threshold') or 2)}",
            f"rise {int(hc.get('healthy_threshold') or 2)}"]
    port = str(hc.get("port") or "traffic-port")
    if port != "traffic-port":
        opts.append(f"port {int(port)}")
    if tg.get("slow_start"):
        opts.append(f"slowstart {int(tg['slow_start'])}s")
    # A failed connection to a target marks it down at once, instead of after `fall` health
    # checks: a task that dies keeps getting picked until then, and with most targets dead
    # every retry of a request can land on a dead one (a 503). Targets share the proxy's
    # host, so a connection fails only when the target is gone; the health check brings a
    # target marked down back after `rise` checks.
    opts.append("observe layer4 error-limit 1 on-error mark-down")
    return " ".join(opts)


def _backend(tg: Mapping[str, Any], targets: Sequence[Mapping[str, Any]],
             templates: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    hc = tg.get("health_check") or {}
    sticky = tg.get("stickiness") or {}
    matcher = str(hc.get("matcher") or "200-399")
    expect = f"status {matcher}" if matcher.isdigit() else f"rstatus '{status_regex(matcher)}'"
    opts = server_options(tg)
    return {
        "name": backend_name(str(tg["id"])),
        "id": _printable(str(tg["id"])),
        "balance": "leastconn" if tg.get("load_balancing_algorithm_type") ==
        "least_outstanding_requests" else "roundrobin",
        "check_path": quote(str(hc.get("path") or "/")),
        "expect": expect,
        "check_timeout": int(hc.get("timeout") or 2),
        "cookie": (f"fgform_lb_{backend_name(str(tg['id']))} insert indirect nocache dynamic "
                   f"attr \"Max-Age={int(sticky.get('cookie_duration') or 86400)}\""
                   if sticky.get("enabled") else None),
        "cookie_key": hashlib.sha256(str(tg["id"]).encode()).hexdigest()[:16],
        "servers": [f"server {server_name(str(t['id']))} {t['address']}:{int(t['port'])} "
                    f"{opts}" + (" disabled" if t.get("state") == "draining" else "")
                    for t in sorted(targets, key=lambda t: str(t["id"]))]
        + [server_template_line(t, opts) for t in sorted(templates,
                                                         key=lambda t: str(t["prefix"]))],
    }


# -- targets found through DNS (the Swarm backend) -------------------------------------------
# The `resolvers` section servers found through DNS use: Docker's embedded DNS server, which
# every container on a user-defined network reaches at 127.0.0.11.
RESOLVERS_NAME = "docker"


def server_template_line(template: Mapping[str, Any], opts: str) -> str:
    """A `server-template` line: `count` slots named `<prefix>1..count`, each taking one of
    the addresses DNS gives for `fqdn` (a Swarm service's `tasks.<name>`: one A record per
    running task), with the target group's server options. `init-addr last,none`: a slot
    starts from the address the server-state file kept across a reload, else with none (in
    maintenance until the name resolves): the proxy starts before a service has a task."""
    return (f"server-template {template['prefix']} {int(template['count'])} "
            f"{template['fqdn']}:{int(template['port'])} {opts} "
            f"resolvers {RESOLVERS_NAME} resolve-prefer ipv4 init-addr last,none")


def _printable(text: str) -> str:
    """Text for a comment line: nothing that could end the line."""
    return re.sub(r"[^\x20-\x7e]", "?", text)


# -- the whole configuration ------------------------------------------------------------------
def used_target_groups(lb: Mapping[str, Any]) -> list[str]:
    """Every target group id a load balancer's listeners forward to, sorted."""
    found: set[str] = set()
    for listener in lb.get("listener") or []:
        actions = [(listener, "default_target_group")] + [
            (r, "target_group") for r in listener.get("rule") or []]
        for action, key in actions:
            found.update(t for t, _ in _forward_of(action, key) or [])
    return sorted(found)


def render_haproxy_config(lb: Mapping[str, Any], target_groups: Mapping[str, Mapping[str, Any]],
                          targets: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
                          *, templates: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
                          resolvers: Mapping[str, Any] | None = None) -> str:
    """The HAProxy configuration of one load balancer.

    `target_groups` maps each target group id the listeners use to its attributes;
    `targets` maps a target group id to its registered targets (`id`, `address`, `port`,
    optional `state`). Raises RenderError when a used target group is missing.

    Targets found through DNS instead (the Swarm backend): `templates` maps a target group
    id to its server templates (`prefix`, `count`, `fqdn`, `port`; see
    `server_template_line`), and `resolvers` gives the `resolvers` section they use
    (`nameserver` "ip:port", `state_file` where the servers' state is kept across
    reloads, and the `hold`/`timeout` settings). Without them the output is
    what it always was.
    """
    targets = targets or {}
    templates = templates or {}
    backends: dict[str, str] = {}
    for tg_id in used_target_groups(lb):
        if tg_id not in target_groups:
            raise RenderError(f"target group {tg_id!r} is not known to fgform")
        backends[tg_id] = backend_name(tg_id)
    frontends = []
    for listener in sorted(lb.get("listener") or [], key=lambda x: int(x["port"])):
        port = int(listener["port"])
        rules = sorted(listener.get("rule") or [], key=lambda r: int(r["priority"]))
        acls, matches, requests, responses = [], [], [], []
        for rule in rules:
            number = int(rule["priority"])
            names = []
            for i, lines in enumerate(condition_acls(rule)):
                name = f"r{number}_c{i}"
                names.append(name)
                acls.extend(f"acl {name} {line}" for line in lines)
            matches.append(f"http-request set-var(txn.rule) int({number}) "
                           f"if !{{ var(txn.rule) -m found }} {' '.join(names)}")
        for action, key, number in [(r, "target_group", int(r["priority"])) for r in rules] + \
                [(listener, "default_target_group", 0)]:
            req, resp = action_lines(action, key, number, port, backends)
            requests.extend(req)
            responses.extend(resp)
        frontends.append({"port": port, "acls": acls, "matches": matches,
                          "requests": requests, "responses": responses})
    backend_list = [_backend({**target_groups[t], "id": t}, targets.get(t) or [],
                             templates.get(t) or ()) for t in backends]
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
                             autoescape=False, undefined=jinja2.StrictUndefined)
    return env.get_template("haproxy.cfg.j2").render(
        name=_printable(str(lb.get("name") or "lb")), frontends=frontends,
        backends=backend_list, admin_socket=ADMIN_SOCKET, no_target=NO_TARGET_BACKEND,
        resolvers=_resolvers(resolvers) if resolvers is not None else None)


def _resolvers(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The `resolvers` section's values, with HAProxy's words for each setting."""
    return {"name": RESOLVERS_NAME, "nameserver": str(settings["nameserver"]),
            "state_file": str(settings["state_file"]),
            "lines": [f"{k} {settings[k]}" for k in
                      ("accepted_payload_size", "resolve_retries", "timeout resolve",
                       "timeout retry", "hold valid", "hold obsolete", "hold nx",
                       "hold other", "hold refused", "hold timeout")
                      if settings.get(k) is not None]}
