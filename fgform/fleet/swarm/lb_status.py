"""`fgform lb status` for a load balancer on a swarm cluster: the server-template slots that
hold a task's address (from HAProxy's `show stat`), each named by its Swarm task id. Slots
with no address (in maintenance until DNS gives them one) are room for more tasks, not
targets: they are left out. The table is the local backend's (`format_status`)."""

from __future__ import annotations

from typing import Any

import docker
from docker.errors import APIError

from fgform.fleet.docker.lb_status import (
    LoadBalancerStatus,
    TargetGroupStatus,
    TargetStatus,
    proxy_stats,
    target_state,
)
from fgform.fleet.haproxy import backend_name, used_target_groups


def _int(row: dict[str, str], *cols: str) -> int:
    return sum(int(row.get(c) or 0) for c in cols)


def slot_service(server: str) -> str:
    """The Swarm service of a server-template slot (`<service>-<n>`)."""
    return server.rsplit("-", 1)[0]


def is_empty_slot(row: dict[str, str]) -> bool:
    """A slot DNS gave no address (yet, or any more)."""
    addr = row.get("addr") or ""
    return addr in ("", "-") or addr.startswith("0.0.0.0:") or \
        "(resolution)" in (row.get("status") or "")


def task_ids_by_address(client: docker.DockerClient, services: set[str]) -> dict[str, str]:
    """IP -> Swarm task id of the running tasks of `services` (one API call)."""
    if not services:
        return {}
    out = {}
    for t in client.api.tasks(filters={"service": sorted(services),
                                       "desired-state": "running"}):
        for att in t.get("NetworksAttachments") or []:
            for cidr in att.get("Addresses") or []:
                out[cidr.split("/")[0]] = t["ID"]
    return out


def swarm_lb_status(client: docker.DockerClient, lbs: list[tuple[str, dict[str, Any]]]
                    ) -> list[LoadBalancerStatus]:
    """The status of each (address, attributes) swarm load balancer: its target groups and
    the tasks each resolved to, as HAProxy sees them."""
    out = []
    for address, attrs in lbs:
        st = LoadBalancerStatus(address, str(attrs.get("id")), list(attrs.get("endpoints") or []),
                                running=False)
        out.append(st)
        stats = proxy_stats(client, st)
        if stats is None:
            continue
        rows = {k: r for k, r in stats.items() if not is_empty_slot(r)}
        try:
            names = task_ids_by_address(client, {slot_service(sv) for _px, sv in rows})
        except APIError:
            names = {}
        for tg_id in used_target_groups(attrs):
            backend = backend_name(tg_id)
            tg = TargetGroupStatus(tg_id, backend)
            for (px, sv), row in sorted(rows.items()):
                if px != backend:
                    continue
                addr = row.get("addr", "")
                tg.targets.append(TargetStatus(
                    id=names.get(addr.rsplit(":", 1)[0], sv), address=addr,
                    state=target_state(row.get("status", "")),
                    check=row.get("check_status", "").strip("* "),
                    connections=_int(row, "scur"),
                    requests=_int(row, "hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx",
                                  "hrsp_5xx", "hrsp_other"),
                    errors_5xx=_int(row, "hrsp_5xx")))
            st.target_groups.append(tg)
    return out
