"""ECS services on fg_service, as plain data: finding a service, its cluster and its target
groups in state; the request parameters of CreateService / UpdateService mapped onto
fg_service attributes (checked against the schema); and the `service` shape DescribeServices
and the write actions answer (deployments and events included), with ListServices' paging.

No I/O here: `fgform/api/ecs_services.py` reads state and the fleet and calls these.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any

from fgform.addresses import Address
from fgform.api.arns import Identity, name_of
from fgform.api.ecs_clusters import cluster_named
from fgform.api.ecs_taskdefs import taskdef_arn
from fgform.api.errors import ApiError, invalid_parameter
from fgform.api.pagination import paginate
from fgform.config.decode import check_value
from fgform.config.schema.service import FG_SERVICE
from fgform.state.model import StateFile

# API-made services live at fg_service.ecs["CLUSTER/NAME"] (docs/api.md).
API_NAME = "ecs"
# ECS's limits: DescribeServices takes at most 10 services; ListServices pages of 1-100
# (10 when maxResults is not given); a service keeps its 100 newest events.
DESCRIBE_LIMIT = 10
LIST_DEFAULT, LIST_MAX = 10, 100
EVENTS_LIMIT = 100


def api_address(cluster: str, name: str) -> Address:
    """Where the API records a service it creates: `fg_service.ecs["CLUSTER/NAME"]`."""
    return Address("fg_service", API_NAME, f"{cluster}/{name}")


def find_cluster(state: StateFile, name: str) -> dict[str, Any] | None:
    """The attributes of the fg_cluster whose ECS name is `name` (`ecs_clusters`' rule),
    or None."""
    found = cluster_named(state, name)
    return found.attributes if found is not None else None


def require_cluster(state: StateFile, name: str) -> str:
    """The `id` of the cluster named `name` (what a service's `cluster` attribute holds,
    as `fg_cluster.NAME.id` in a configuration), or ECS's ClusterNotFoundException."""
    found = find_cluster(state, name)
    if found is None:
        raise ApiError("ClusterNotFoundException", "Cluster not found.")
    return str(found.get("id") or name)


def service_name(addr: Address, attrs: dict[str, Any]) -> str:
    """A service's name as ECS shows it: the part of its `id` (CLUSTER/NAME) after the
    cluster, else its `name`, else the resource name (the driver's rule for one instance)."""
    ident = attrs.get("id")
    if isinstance(ident, str) and "/" in ident:
        return ident.split("/", 1)[1]
    if attrs.get("name"):
        return str(attrs["name"])
    return addr.name if addr.key is None else f"{addr.name}-{addr.key}"


def services_of(state: StateFile, cluster: str) -> list[tuple[Address, dict[str, Any]]]:
    """Every fg_service of the cluster whose `id` is `cluster` in state (configured or
    API-made), by address."""
    out = []
    for addr, inst in state.sorted_instances():
        if addr.type == "fg_service" and not addr.is_data and inst is not None \
                and inst.attributes and inst.attributes.get("cluster") == cluster:
            out.append((addr, inst.attributes))
    return out


def find_service(state: StateFile, cluster: str, name: str
                 ) -> tuple[Address, dict[str, Any]] | None:
    """The service named `name` (a name or its ARN) on cluster id `cluster`, or None. A
    configured
    service and an API-made one never share a name on a cluster (CreateService refuses)."""
    name = name_of(name, "service")
    for addr, attrs in services_of(state, cluster):
        if service_name(addr, attrs) == name:
            return addr, attrs
    return None


# -- task definitions and target groups ---------------------------------------------------------
def target_group_arn(identity: Identity, tg_id: str) -> str:
    """An fg_target_group's id as an ELBv2 ARN:
    `arn:aws:elasticloadbalancing:R:A:targetgroup/NAME/ID`, ID 16 hex digits derived from
    the name (stable, so the ARN DescribeServices shows is accepted back)."""
    digest = hashlib.sha256(tg_id.encode()).hexdigest()[:16]
    return (f"arn:aws:elasticloadbalancing:{identity.region}:{identity.account}:"
            f"targetgroup/{tg_id}/{digest}")


def target_group_name(value: str) -> str:
    """The target group a `targetGroupArn` names: the NAME of an ELBv2 target group ARN,
    or a plain name unchanged."""
    if value.startswith("arn:"):
        parts = value.split(":", 5)
        if len(parts) == 6 and parts[5].startswith("targetgroup/"):
            return parts[5].split("/")[1]
        raise invalid_parameter(f"targetGroupArn {value} is not a target group ARN "
                                "(arn:aws:elasticloadbalancing:REGION:ACCOUNT:"
                                "targetgroup/NAME/ID).")
    return value


def find_target_group(state: StateFile, value: str) -> str:
    """The `id` of the fg_target_group a `targetGroupArn` (ARN or name) names."""
    name = target_group_name(value)
    for addr, inst in state.sorted_instances():
        if addr.type == "fg_target_group" and inst is not None and inst.attributes \
                and inst.attributes.get("id") == name:
            return name
    raise invalid_parameter(f"The target group {value} does not exist: no fg_target_group "
                            "in state has that name.")


# -- request parameters -> fg_service attributes -------------------------------------------------
def _int_param(params: dict[str, Any], key: str) -> int | None:
    value = params.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid_parameter(f"{key} must be an integer.")
    return value


def _bool(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise invalid_parameter(f"{key} must be a boolean.")
    return value


def _checked(name: str, value: Any, key: str, block: str | None = None) -> Any:
    """`value` for attribute `name` (of `block`), checked as the configuration's would be
    (enum, range); a problem is InvalidParameterException naming the ECS parameter."""
    body = FG_SERVICE.body
    if block is not None:
        for part in block.split("."):
            found = body.block(part)
            assert found is not None, part
            body = found
    a = body.attr(name)
    assert a is not None, name
    problem = check_value(a, value)
    if problem:
        raise invalid_parameter(f"{key}: {problem}.")
    return value


def deployment_block(config: Any, prior: dict[str, Any] | None = None, *,
                     daemon: bool = False) -> dict[str, Any] | None:
    """ECS's deploymentConfiguration as the `deployment` block; fields not given keep
    `prior`'s (UpdateService), else ECS's defaults: 100 and 200, or 0 and 100 for a DAEMON
    service (one task per instance: the old one stops first); breaker off."""
    if config is None and not (daemon and prior is None):
        return prior
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise invalid_parameter("deploymentConfiguration must be an object.")
    lo0, hi0 = (0, 100) if daemon else (100, 200)
    base = dict(prior or {"minimum_healthy_percent": lo0, "maximum_percent": hi0,
                          "circuit_breaker": None})
    lo = _int_param(config, "minimumHealthyPercent")
    hi = _int_param(config, "maximumPercent")
    if lo is not None:
        base["minimum_healthy_percent"] = _checked(
            "minimum_healthy_percent", lo, "deploymentConfiguration.minimumHealthyPercent",
            "deployment")
    if hi is not None:
        base["maximum_percent"] = _checked(
            "maximum_percent", hi, "deploymentConfiguration.maximumPercent", "deployment")
    cb = config.get("deploymentCircuitBreaker")
    if cb is not None:
        if not isinstance(cb, dict) or "enable" not in cb or "rollback" not in cb:
            raise invalid_parameter("deploymentConfiguration.deploymentCircuitBreaker "
                                    "needs enable and rollback.")
        base["circuit_breaker"] = {
            "enable": _bool(cb["enable"], "deploymentCircuitBreaker.enable"),
            "rollback": _bool(cb["rollback"], "deploymentCircuitBreaker.rollback")}
    return base


def _list_of(params: dict[str, Any], key: str) -> list[Any]:
    """A list parameter (absent or null: empty); another type is InvalidParameterException,
    not a crash."""
    value = params.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid_parameter(f"{key} must be a list.")
    return value


def placement_blocks(params: dict[str, Any]) -> tuple[list[dict[str, Any]],
                                                      list[dict[str, Any]]]:
    """placementConstraints and placementStrategy as the service's blocks."""
    constraints, strategy = [], []
    for c in _list_of(params, "placementConstraints"):
        if not isinstance(c, dict) or not isinstance(c.get("type"), str):
            raise invalid_parameter("placementConstraints: each needs a type.")
        constraints.append({
            "type": _checked("type", c["type"], "placementConstraints.type",
                             "placement_constraints"),
            "expression": c.get("expression")})
    for s in _list_of(params, "placementStrategy"):
        if not isinstance(s, dict) or not isinstance(s.get("type"), str):
            raise invalid_parameter("placementStrategy: each needs a type.")
        strategy.append({"type": _checked("type", s["type"], "placementStrategy.type",
                                          "placement_strategy"),
                         "field": s.get("field")})
    return constraints, strategy


def load_balancer_blocks(state: StateFile, params: dict[str, Any],
                         taskdef: dict[str, Any] | None) -> list[dict[str, Any]]:
    """loadBalancers as `load_balancer` blocks: each target group (ARN or name) must be in
    state, and the container and port in the task definition (ECS checks both)."""
    out = []
    for lb in _list_of(params, "loadBalancers"):
        if not isinstance(lb, dict) or not isinstance(lb.get("targetGroupArn"), str):
            raise invalid_parameter("loadBalancers: each needs a targetGroupArn (a classic "
                                    "loadBalancerName is not supported).")
        container, port = lb.get("containerName"), lb.get("containerPort")
        if not isinstance(container, str) or isinstance(port, bool) \
                or not isinstance(port, int):
            raise invalid_parameter("loadBalancers: each needs containerName and "
                                    "containerPort.")
        tg = find_target_group(state, lb["targetGroupArn"])
        if taskdef is not None:
            spec = next((c for c in taskdef.get("container") or []
                         if isinstance(c, dict) and c.get("name") == container), None)
            if spec is None:
                raise invalid_parameter(f"The container {container} does not exist in the "
                                        "task definition.")
            ports = {p.get("container_port") for p in spec.get("port_mapping") or []
                     if isinstance(p, dict)}
            if port not in ports:
                raise invalid_parameter(f"The container {container} did not have a "
                                        f"container port {port} defined.")
        out.append({"target_group": tg, "container_name": container,
                    "container_port": _checked("container_port", port,
                                               "loadBalancers.containerPort",
                                               "load_balancer")})
    return out


def create_attrs(params: dict[str, Any], cluster_id: str, taskdef: str,
                 load_balancers: list[dict[str, Any]]) -> dict[str, Any]:
    """CreateService's parameters as the attributes of a new fg_service.

    `wait_for_steady_state` is false: ECS answers CreateService at once and the service
    goes PENDING -> RUNNING; here the request returns once its tasks are started, and
    the service scheduler (`fgform reconcile -watch`) keeps it converging."""
    name = params.get("serviceName")
    if not isinstance(name, str) or not name:
        raise invalid_parameter("serviceName is required.")
    if len(name) > 255 or not all(c.isalnum() or c in "-_" for c in name) \
            or not name.isascii():
        raise invalid_parameter("serviceName: up to 255 letters (uppercase and lowercase), "
                                "numbers, underscores, and hyphens are allowed.")
    strategy = params.get("schedulingStrategy") or "REPLICA"
    _checked("scheduling_strategy", strategy, "schedulingStrategy")
    count = _int_param(params, "desiredCount")
    if strategy == "DAEMON" and count is not None:
        raise invalid_parameter("The daemon scheduling strategy does not support a desired "
                                "count for services.")
    if count is None:
        if strategy == "REPLICA":
            raise invalid_parameter("desiredCount is required when schedulingStrategy is "
                                    "REPLICA.")
        count = 0
    grace = _int_param(params, "healthCheckGracePeriodSeconds") or 0
    constraints, placement = placement_blocks(params)
    return {
        "name": name,
        "cluster": cluster_id,
        "task_definition": taskdef,
        "desired_count": _checked("desired_count", count, "desiredCount"),
        "scheduling_strategy": strategy,
        "health_check_grace_period": _checked("health_check_grace_period", grace,
                                              "healthCheckGracePeriodSeconds"),
        "wait_for_steady_state": False,
        "steady_state_timeout": 300,
        "placement_constraints": constraints,
        "placement_strategy": placement,
        "load_balancer": load_balancers,
        "deployment": deployment_block(params.get("deploymentConfiguration"),
                                       daemon=strategy == "DAEMON"),
    }


def update_attrs(prior: dict[str, Any], params: dict[str, Any], taskdef: str | None,
                 now: str) -> dict[str, Any]:
    """The service's attributes after UpdateService: `prior` with what the request changes
    (desiredCount, taskDefinition, deploymentConfiguration, healthCheckGracePeriodSeconds;
    forceNewDeployment sets `force_new_deployment` to `now`, rolling every task)."""
    out = dict(prior)
    count = _int_param(params, "desiredCount")
    if count is not None:
        if prior.get("scheduling_strategy") == "DAEMON":
            raise invalid_parameter("The daemon scheduling strategy does not support a "
                                    "desired count for services.")
        out["desired_count"] = _checked("desired_count", count, "desiredCount")
    if taskdef is not None:
        out["task_definition"] = taskdef
    if params.get("deploymentConfiguration") is not None:
        out["deployment"] = deployment_block(params["deploymentConfiguration"],
                                             prior.get("deployment"))
    grace = _int_param(params, "healthCheckGracePeriodSeconds")
    if grace is not None:
        out["health_check_grace_period"] = _checked(
            "health_check_grace_period", grace, "healthCheckGracePeriodSeconds")
    force = params.get("forceNewDeployment")
    if force is not None and _bool(force, "forceNewDeployment"):
        out["force_new_deployment"] = now
    return out


# -- fg_service attributes -> ECS's `service` shape ------------------------------------------------
def _epoch(iso: Any) -> float | None:
    """An ISO-8601 UTC time as JSON 1.1's timestamp (seconds since the epoch)."""
    if not isinstance(iso, str) or not iso:
        return None
    try:
        dt = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def events_shape(service_arn: str, attrs: dict[str, Any]) -> list[dict[str, Any]]:
    """The service's event log as ECS's `events`: newest first, at most 100, each with a
    stable id (derived from the service, the time, the message and its place)."""
    entries = [e for e in attrs.get("events") or [] if isinstance(e, dict)]
    out = []
    for i, e in enumerate(entries):
        ident = uuid.uuid5(uuid.NAMESPACE_URL, f"{service_arn}#{i}#{e.get('at')}#"
                           f"{e.get('message')}")
        out.append({"id": str(ident), "createdAt": _epoch(e.get("at")) or 0.0,
                    "message": str(e.get("message", ""))})
    out.reverse()
    return out[:EVENTS_LIMIT]


def _deployment_id(service_arn: str, revision: str) -> str:
    """`ecs-svc/` and 19 digits, as ECS's deployment ids, stable for a service's revision."""
    digits = int(hashlib.sha256(f"{service_arn}#{revision}".encode()).hexdigest(), 16)
    return f"ecs-svc/{digits % 10**19:019d}"


def deployments_shape(identity: Identity, service_arn: str, attrs: dict[str, Any],
                      live: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The `deployments` attribute as ECS shows them, with running counts from the live
    tasks: the PRIMARY deployment is IN_PROGRESS while fewer of its tasks run than desired
    (or other revisions still run), COMPLETED or FAILED as the last run ended."""
    tasks = (live or {}).get("tasks") if live is not None else attrs.get("tasks")
    running: dict[str, int] = {}
    for t in tasks if isinstance(tasks, list) else []:
        if isinstance(t, dict):
            rev = str(t.get("task_definition"))
            running[rev] = running.get(rev, 0) + 1
    recorded = [d for d in attrs.get("deployments") or [] if isinstance(d, dict)]
    primary_rev = str(attrs.get("task_definition"))
    if not any(d.get("status") == "PRIMARY" and d.get("task_definition") == primary_rev
               for d in recorded):
        # An update recorded in state that no run has reported on yet.
        recorded = [{"status": "PRIMARY", "task_definition": primary_rev,
                     "desired_count": attrs.get("desired_count"), "rollout_state":
                     "IN_PROGRESS"}] + [dict(d, status="ACTIVE") for d in recorded
                                        if d.get("status") != "INACTIVE"]
    seen = {str(d.get("task_definition")) for d in recorded}
    recorded += [{"status": "ACTIVE", "task_definition": rev, "desired_count": 0,
                  "rollout_state": "COMPLETED"} for rev in sorted(running) if rev not in seen]
    updated = next((_epoch(e.get("at")) for e in reversed(attrs.get("events") or [])
                    if isinstance(e, dict) and _epoch(e.get("at"))), None) or 0.0
    desired = int(attrs.get("desired_count") or 0)
    out = []
    for d in recorded:
        rev = str(d.get("task_definition"))
        status = str(d.get("status") or "ACTIVE")
        count = running.get(rev, 0)
        state = str(d.get("rollout_state") or "COMPLETED")
        want = desired if status == "PRIMARY" else int(d.get("desired_count") or 0)
        if status == "PRIMARY" and state != "FAILED" and (
                count < want or any(r != rev and n for r, n in running.items())):
            state = "IN_PROGRESS"
        out.append({
            "id": _deployment_id(service_arn, rev),
            "status": status,
            "taskDefinition": taskdef_arn(identity, rev),
            "desiredCount": want,
            "pendingCount": 0,
            "runningCount": count,
            "failedTasks": int(d.get("failed_tasks") or 0),
            "createdAt": updated,
            "updatedAt": updated,
            "launchType": "FARGATE",
            "rolloutState": state,
            "rolloutStateReason": str(d.get("rollout_state_reason") or (
                "ECS deployment " + _deployment_id(service_arn, rev) + " completed."
                if state == "COMPLETED" else "")),
        })
    return out


def _single(value: Any) -> dict[str, Any]:
    if isinstance(value, list):
        value = value[0] if value else None
    return value if isinstance(value, dict) else {}


def service_shape(identity: Identity, addr: Address, attrs: dict[str, Any],
                  live: dict[str, Any] | None) -> dict[str, Any]:
    """ECS's `service` object for an fg_service: `attrs` from state, `live` the fleet's
    view (running_count and tasks; None when no task of it runs)."""
    cluster = str(attrs.get("cluster"))
    name = service_name(addr, attrs)
    arn = identity.service(cluster, name)
    dep = _single(attrs.get("deployment"))
    cb = _single(dep.get("circuit_breaker"))
    running = int((live or {}).get("running_count") or 0)
    events = events_shape(arn, attrs)
    return {
        "serviceArn": arn,
        "serviceName": name,
        "clusterArn": identity.cluster(cluster),
        "loadBalancers": [
            {"targetGroupArn": target_group_arn(identity, str(lb.get("target_group"))),
             "containerName": lb.get("container_name"),
             "containerPort": lb.get("container_port")}
            for lb in attrs.get("load_balancer") or [] if isinstance(lb, dict)],
        "serviceRegistries": [],
        "status": "ACTIVE",
        "desiredCount": int(attrs.get("desired_count") or 0),
        "runningCount": running,
        "pendingCount": 0,
        "launchType": "FARGATE",
        "platformVersion": "LATEST",
        "platformFamily": "Linux",
        "taskDefinition": taskdef_arn(identity, str(attrs.get("task_definition"))),
        "deploymentConfiguration": {
            "deploymentCircuitBreaker": {"enable": bool(cb.get("enable")),
                                         "rollback": bool(cb.get("rollback"))},
            "maximumPercent": int(dep.get("maximum_percent") or 200),
            "minimumHealthyPercent": int(100 if dep.get("minimum_healthy_percent") is None
                                         else dep["minimum_healthy_percent"]),
        },
        "deployments": deployments_shape(identity, arn, attrs, live),
        "events": events,
        # State keeps no creation time: the oldest event the log still holds.
        "createdAt": events[-1]["createdAt"] if events else 0.0,
        "placementConstraints": [
            {k: v for k, v in (("type", c.get("type")), ("expression", c.get("expression")))
             if v is not None}
            for c in attrs.get("placement_constraints") or [] if isinstance(c, dict)],
        "placementStrategy": [
            {k: v for k, v in (("type", s.get("type")), ("field", s.get("field")))
             if v is not None}
            for s in attrs.get("placement_strategy") or [] if isinstance(s, dict)],
        "healthCheckGracePeriodSeconds": int(attrs.get("health_check_grace_period") or 0),
        "schedulingStrategy": str(attrs.get("scheduling_strategy") or "REPLICA"),
        "deploymentController": {"type": "ECS"},
        "enableECSManagedTags": False,
        "propagateTags": "NONE",
        "enableExecuteCommand": False,
    }


# -- ListServices' paging -------------------------------------------------------------------------
def page(arns: list[str], params: dict[str, Any]) -> dict[str, Any]:
    """One ListServices page of `arns`, sorted: maxResults (1-100, 10 by default, as ECS)
    after the ARN nextToken names (`fgform.api.pagination`); `nextToken` in the answer
    when more follow."""
    chunk, token = paginate(arns, params, action="ListServices", key=lambda a: [a],
                            default=LIST_DEFAULT, limit=LIST_MAX)
    out: dict[str, Any] = {"serviceArns": chunk}
    if token is not None:
        out["nextToken"] = token
    return out
