"""`fgform lb status`: each load balancer's target groups and targets as HAProxy sees them
(its runtime API's `show stat`), and `fgform logs` for a load balancer (its access log)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import docker
from docker.errors import APIError, NotFound

from fgform.errors import FgformError
from fgform.fleet.docker.proxy import parse_stat, runtime
from fgform.fleet.haproxy import backend_name, server_name, used_target_groups


@dataclass
class TargetStatus:
    id: str  # the task id (or HAProxy's server name when no task of the state has it)
    address: str
    state: str  # healthy, unhealthy, draining, initial, unused
    check: str  # HAProxy's last check result (L7OK, L4CON, ...)
    connections: int  # current
    requests: int  # responses served
    errors_5xx: int


@dataclass
class TargetGroupStatus:
    id: str
    backend: str
    targets: list[TargetStatus] = field(default_factory=list)


@dataclass
class LoadBalancerStatus:
    address: str
    id: str
    endpoints: list[str]
    running: bool
    target_groups: list[TargetGroupStatus] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def target_state(status: str) -> str:
    """HAProxy's server `status` column in ALB's words."""
    if status.startswith("DRAIN"):
        return "draining"
    if status.startswith("MAINT"):
        return "unused"
    if status.startswith("DOWN "):
        return "initial"  # "DOWN 1/2": checks passing, not yet `rise` of them
    if status.startswith("UP") or status == "no check":
        return "healthy"  # "UP 1/3" still serves while its checks start failing
    return "unhealthy"


def _int(row: dict[str, str], *cols: str) -> int:
    return sum(int(row.get(c) or 0) for c in cols)


def proxy_stats(client: docker.DockerClient, st: LoadBalancerStatus
                ) -> dict[tuple[str, str], dict[str, str]] | None:
    """HAProxy's `show stat` of load balancer `st`'s proxy, by (proxy, server); None (and
    `st.running` False) when the proxy is gone, stopped or does not answer."""
    try:
        container = client.containers.get(st.id)
    except NotFound:
        return None
    st.running = container.status == "running"
    if not st.running:
        return None
    try:
        return parse_stat(runtime(container, "show stat -1 4 -1"))
    except (FgformError, APIError):
        st.running = False
        return None


def lb_status(client: docker.DockerClient, lbs: list[tuple[str, dict[str, Any]]],
              services: list[dict[str, Any]]) -> list[LoadBalancerStatus]:
    """The status of each (address, attributes) load balancer; `services` are the services'
    attributes in state (to name servers by their task ids)."""
    names = {server_name(t["id"]): t["id"] for s in services for t in s.get("tasks") or []}
    out = []
    for address, attrs in lbs:
        st = LoadBalancerStatus(address, str(attrs.get("id")), list(attrs.get("endpoints") or []),
                                running=False)
        out.append(st)
        stats = proxy_stats(client, st)
        if stats is None:
            continue
        for tg_id in used_target_groups(attrs):
            backend = backend_name(tg_id)
            tg = TargetGroupStatus(tg_id, backend)
            for (px, sv), row in sorted(stats.items()):
                if px != backend:
                    continue
                tg.targets.append(TargetStatus(
                    id=names.get(sv, sv), address=row.get("addr", ""),
                    state=target_state(row.get("status", "")),
                    check=row.get("check_status", "").strip("* "),
                    connections=_int(row, "scur"),
                    requests=_int(row, "hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx",
                                  "hrsp_5xx", "hrsp_other"),
                    errors_5xx=_int(row, "hrsp_5xx")))
            st.target_groups.append(tg)
    return out


def format_status(statuses: list[LoadBalancerStatus]) -> str:
    """The human table of `fgform lb status`."""
    lines = []
    for st in statuses:
        lines.append(f"{st.address}  {st.id}  {' '.join(st.endpoints)}"
                     + ("" if st.running else "  (not running)"))
        for tg in st.target_groups:
            lines.append(f"  target group {tg.id}")
            if not tg.targets:
                lines.append("    no targets: requests get 503")
                continue
            rows = [("TARGET", "ADDRESS", "STATE", "CHECK", "CONNS", "REQUESTS", "5XX")] + [
                (t.id, t.address, t.state, t.check or "-", str(t.connections),
                 str(t.requests), str(t.errors_5xx)) for t in tg.targets]
            widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
            lines.extend("    " + "  ".join(c.ljust(w) for c, w in zip(r, widths,
                                                                    strict=True)).rstrip()
                         for r in rows)
    return "\n".join(lines)


def proxy_logs(client: docker.DockerClient, container_id: str, follow: bool = False,
               tail: int | None = None) -> Iterator[str]:
    """The proxy's output: its access log (one line a request: time, client, method, path,
    status, target group/target, duration in ms) and HAProxy's own notices."""
    try:
        if not follow:
            raw = client.api.logs(container_id, tail="all" if tail is None else tail)
            yield from raw.decode("utf-8", "replace").splitlines()
            return
        buf = b""
        for chunk in client.api.logs(container_id, stream=True, follow=True,
                                     tail="all" if tail is None else tail):
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                yield line.decode("utf-8", "replace")
    except NotFound as exc:
        raise FgformError(f"the load balancer container {container_id} does not exist",
                          hint="`fgform plan` shows it missing; `fgform apply` makes it again."
                          ) from exc
