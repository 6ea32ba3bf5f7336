"""ARNs in AWS's form for the local fleet: `arn:aws:ecs:REGION:ACCOUNT:KIND/...`, with the
configured region and account id, and reading the names back out of ARNs or plain names
(ECS accepts either wherever it takes a cluster, service or task definition)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fgform.api.errors import invalid_parameter

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "000000000000"
DEFAULT_CLUSTER = "default"  # ECS's cluster when a request names none


@dataclass(frozen=True, slots=True)
class Identity:
    """The region and account id the server's ARNs carry (`fgform serve -region
    -account-id`)."""

    region: str = DEFAULT_REGION
    account: str = DEFAULT_ACCOUNT

    @property
    def prefix(self) -> str:
        return f"arn:aws:ecs:{self.region}:{self.account}:"

    def cluster(self, name: str) -> str:
        """`arn:aws:ecs:R:A:cluster/NAME`."""
        return f"{self.prefix}cluster/{name}"

    def service(self, cluster: str, name: str) -> str:
        """`arn:aws:ecs:R:A:service/CLUSTER/NAME` (ECS's long ARN format)."""
        return f"{self.prefix}service/{cluster}/{name}"

    def task(self, cluster: str, task_id: str) -> str:
        """`arn:aws:ecs:R:A:task/CLUSTER/ID`."""
        return f"{self.prefix}task/{cluster}/{task_id}"

    def task_definition(self, family: str, revision: int | str) -> str:
        """`arn:aws:ecs:R:A:task-definition/FAMILY:REVISION`."""
        return f"{self.prefix}task-definition/{family}:{revision}"


def name_of(value: str, kind: str) -> str:
    """The last name in `value`: an ARN of `kind` (`cluster`, `service`, `task`,
    `task-definition`) or a plain name. `service/CLUSTER/NAME` gives NAME;
    `task-definition/FAMILY:3` gives `FAMILY:3`. A plain name comes back unchanged."""
    if value.startswith("arn:"):
        parts = value.split(":", 5)
        if len(parts) == 6 and parts[5].startswith(f"{kind}/"):
            return parts[5].split("/")[-1]
    return value


def cluster_in_arn(value: str) -> str | None:
    """The cluster named inside a long service or task ARN (`service/CLUSTER/NAME`), or
    None for a plain name or a short ARN."""
    if value.startswith("arn:"):
        parts = value.split(":", 5)
        if len(parts) == 6:
            path = parts[5].split("/")
            if path[0] in ("service", "task", "container-instance") and len(path) == 3:
                return path[1]
    return None


def cluster_param(params: dict[str, Any]) -> str:
    """The cluster a request names (a name or an ARN; ECS's "default" when absent)."""
    value = params.get("cluster")
    if value is None or value == "":
        return DEFAULT_CLUSTER
    if not isinstance(value, str):
        raise invalid_parameter("cluster must be a string.")
    return name_of(value, "cluster")
