"""The ECS service actions: CreateService, UpdateService, DeleteService, DescribeServices and
ListServices, on fg_service.

Writes go through `fgform.api.transact.transaction`: the service is read, changed and
written back inside the transaction's edit function (under the state and fleet locks), so
concurrent updates never lose one another's changes. A service the configuration manages is
changed at its own address (the next `plan` shows the change as drift); a service the API
creates lives at `fg_service.ecs["CLUSTER/NAME"]`. Reads take no lock: state as last
written, and the running counts from the fleet (one list call for all services asked).
See docs/api.md "Services".
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fgform.addresses import Address
from fgform.api import ecs_service_shapes as S
from fgform.api import ecs_taskdefs as TD
from fgform.api.actions import ApiContext, Target, action
from fgform.api.arns import DEFAULT_CLUSTER, cluster_in_arn, cluster_param, name_of
from fgform.api.errors import ApiError, client_error, invalid_parameter
from fgform.api.transact import desired_from, read_state, transaction
from fgform.config.decode import configurable
from fgform.config.schema.service import FG_SERVICE
from fgform.errors import FgformError
from fgform.state.model import StateFile

TYPE = "fg_service"


# -- what a request names --------------------------------------------------------------------
def _service_param(params: dict[str, Any], key: str = "service") -> str:
    value = params.get(key)
    if not isinstance(value, str) or not value:
        raise invalid_parameter(f"{key} is required.")
    return value


def _cluster_for(params: dict[str, Any], service: str | None = None) -> str:
    """The request's cluster: `cluster` when given, else the one a long service ARN names,
    else "default" (ECS's rule)."""
    if params.get("cluster"):
        return cluster_param(params)
    return (cluster_in_arn(service) if service else None) or DEFAULT_CLUSTER


def _require_service(state: StateFile, cluster: str, service: str
                     ) -> tuple[Address, dict[str, Any]]:
    found = S.find_service(state, S.require_cluster(state, cluster), service)
    if found is None:
        raise ApiError("ServiceNotFoundException", "Service not found.")
    return found


def resolve_taskdef(state: StateFile, value: Any) -> tuple[str, dict[str, Any]]:
    """A `taskDefinition` parameter ("family", "family:revision" or its ARN) -> the revision
    as state names it (`family:revision`) and its definition ("family" is its latest ACTIVE
    revision). Unknown: ClientException "TaskDefinition not found." (CreateService's and
    UpdateService's wording); an INACTIVE revision: "TaskDefinition is inactive"."""
    if value is None or value == "":
        raise invalid_parameter("taskDefinition can not be blank.")
    try:
        rev = TD.usable_revision(state, value)
    except ApiError as exc:
        if exc.message == TD.UNABLE:
            raise client_error("TaskDefinition not found.") from None
        raise
    return rev.arn, rev.definition


def _desired(attrs: dict[str, Any]) -> dict[str, Any]:
    """The configurable part of a service's attributes, configuration-shaped and checked."""
    names = {a.name for a in FG_SERVICE.body.attributes if configurable(a)} | \
        {b.name for b in FG_SERVICE.body.blocks}
    return desired_from(TYPE, {k: v for k, v in attrs.items() if k in names})


def _live(ctx: ApiContext, state: StateFile, found: list[tuple[Address, dict[str, Any]]]
          ) -> dict[Address, dict[str, Any] | None]:
    """The fleet's view of these services (running_count, tasks): the service driver's
    read, ONE list call for all of them. Their load balancers are left out of the read (the
    proxies are not asked: DescribeServices shows no targets)."""
    if not found:
        return {}
    from fgform import workflow

    fctx = workflow.fleet_context(ctx.dir, state)
    try:
        return dict(ctx.fleet.scheduler.read(
            fctx, {addr: {**attrs, "load_balancer": []} for addr, attrs in found}))
    except FgformError as exc:
        raise ApiError("ServerException", f"The fleet cannot be read: {exc.message}") \
            from None


def _now() -> str:
    # The format of the tasks' `fgform.created` label, so the two compare as strings.
    return datetime.now(UTC).isoformat(timespec="microseconds")


# -- authorization targets -------------------------------------------------------------------
def _create_targets(ctx: ApiContext, params: dict[str, Any]) -> list[Target]:
    cluster = _cluster_for(params)
    name = params.get("serviceName") if isinstance(params.get("serviceName"), str) else ""
    return [Target(ctx.identity.service(cluster, str(name)), ctx.identity.cluster(cluster))]


def _one_service_targets(ctx: ApiContext, params: dict[str, Any]) -> list[Target]:
    service = params.get("service") if isinstance(params.get("service"), str) else ""
    cluster = _cluster_for(params, service)
    return [Target(ctx.identity.service(cluster, name_of(str(service), "service")),
                   ctx.identity.cluster(cluster))]


def _describe_targets(ctx: ApiContext, params: dict[str, Any]) -> list[Target]:
    services = params.get("services")
    names = [s for s in services if isinstance(s, str)] if isinstance(services, list) else []
    out = []
    for s in names or [""]:
        cluster = _cluster_for(params, s)
        out.append(Target(ctx.identity.service(cluster, name_of(s, "service")),
                          ctx.identity.cluster(cluster)))
    return out


def _list_targets(ctx: ApiContext, params: dict[str, Any]) -> list[Target]:
    return [Target("*", ctx.identity.cluster(_cluster_for(params)))]


# -- the actions -----------------------------------------------------------------------------
@action("CreateService", _create_targets, writes=True)
def create_service(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    """CreateService: a new fg_service at `fg_service.ecs["CLUSTER/NAME"]`, its tasks
    started before the answer (not waited for: `wait_for_steady_state` is false)."""
    cluster = _cluster_for(params)
    name = params.get("serviceName")

    def edit(state: StateFile) -> tuple[Address, dict[str, Any]]:
        cluster_id = S.require_cluster(state, cluster)
        attrs = S.create_attrs(params, cluster_id, "", [])  # checks serviceName first
        if S.find_service(state, cluster_id, str(name)) is not None:
            raise invalid_parameter("Creation of service was not idempotent.")
        arn, td = resolve_taskdef(state, params.get("taskDefinition"))
        attrs["task_definition"] = arn
        attrs["load_balancer"] = S.load_balancer_blocks(state, params, td)
        return S.api_address(cluster, str(name)), _desired(attrs)

    addr, after = transaction(ctx, edit, operation="CreateService")
    if after is None:
        raise ApiError("ServerException", "CreateService failed: the service was not created")
    return {"service": S.service_shape(ctx.identity, addr, after, after)}


@action("UpdateService", _one_service_targets, writes=True)
def update_service(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    """UpdateService: the service changed in place at its own address, read and written
    inside the transaction (concurrent updates serialize, none is lost)."""
    service = _service_param(params)
    cluster = _cluster_for(params, service)

    def edit(state: StateFile) -> tuple[Address, dict[str, Any]]:
        addr, prior = _require_service(state, cluster, service)
        arn = None
        if params.get("taskDefinition") is not None:
            arn, _ = resolve_taskdef(state, params["taskDefinition"])
        attrs = S.update_attrs(prior, params, arn, _now())
        if params.get("placementConstraints") is not None \
                or params.get("placementStrategy") is not None:
            constraints, strategy = S.placement_blocks(params)
            if params.get("placementConstraints") is not None:
                attrs["placement_constraints"] = constraints
            if params.get("placementStrategy") is not None:
                attrs["placement_strategy"] = strategy
        if params.get("loadBalancers") is not None:
            # The revision the service runs (INACTIVE or not) has the containers to check.
            td = TD.find_revision(state, attrs["task_definition"]).definition
            attrs["load_balancer"] = S.load_balancer_blocks(state, params, td)
        return addr, _desired(attrs)

    addr, after = transaction(ctx, edit, operation="UpdateService")
    if after is None:
        raise ApiError("ServiceNotFoundException", "Service not found.")
    return {"service": S.service_shape(ctx.identity, addr, after, after)}


@action("DeleteService", _one_service_targets, writes=True)
def delete_service(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteService: its tasks stopped (drained from their target groups) and the service
    removed from state. Refused while desiredCount > 0 unless `force` (ECS's rule)."""
    service = _service_param(params)
    cluster = _cluster_for(params, service)
    force = params.get("force")
    if force is not None and not isinstance(force, bool):
        raise invalid_parameter("force must be a boolean.")
    seen: dict[str, Any] = {}

    def edit(state: StateFile) -> tuple[Address, None]:
        addr, prior = _require_service(state, cluster, service)
        if int(prior.get("desired_count") or 0) > 0 and not force:
            raise invalid_parameter("The service cannot be stopped while it is scaled "
                                    "above 0.")
        seen["addr"], seen["attrs"] = addr, prior
        return addr, None

    transaction(ctx, edit, operation="DeleteService")
    prior = dict(seen["attrs"], desired_count=0)
    shape = S.service_shape(ctx.identity, seen["addr"], prior, prior)
    shape["status"] = "DRAINING"
    return {"service": shape}


@action("DescribeServices", _describe_targets)
def describe_services(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeServices: up to 10 services (names or ARNs) of one cluster, with their
    deployments and events; a service not found is a `MISSING` failure."""
    services = params.get("services")
    if not isinstance(services, list) or not services \
            or not all(isinstance(s, str) and s for s in services):
        raise invalid_parameter("services must be a list of 1 to 10 service names or ARNs.")
    if len(services) > S.DESCRIBE_LIMIT:
        raise invalid_parameter("services can have at most 10 items.")
    include = params.get("include")
    if include is not None and (not isinstance(include, list)
                                or any(i != "TAGS" for i in include)):
        raise invalid_parameter("include: the only value is TAGS.")
    cluster = _cluster_for(params, services[0])
    state = read_state(ctx)
    cluster_id = S.require_cluster(state, cluster)
    found: list[tuple[Address, dict[str, Any]]] = []
    failures = []
    for s in services:
        hit = S.find_service(state, cluster_id, s)
        if hit is None:
            failures.append({"arn": s if s.startswith("arn:") else
                             ctx.identity.service(cluster, s), "reason": "MISSING"})
        elif hit not in found:
            found.append(hit)
    live = _live(ctx, state, found)
    out = []
    for addr, attrs in found:
        shape = S.service_shape(ctx.identity, addr, attrs, live.get(addr))
        if include:
            shape["tags"] = []
        out.append(shape)
    return {"services": out, "failures": failures}


@action("ListServices", _list_targets)
def list_services(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    """ListServices: the ARNs of a cluster's services, sorted, paged as ECS pages them."""
    cluster = _cluster_for(params)
    launch = params.get("launchType")
    strategy = params.get("schedulingStrategy")
    if launch is not None and launch not in ("EC2", "FARGATE", "EXTERNAL"):
        raise invalid_parameter("launchType must be EC2, FARGATE or EXTERNAL.")
    if strategy is not None and strategy not in ("REPLICA", "DAEMON"):
        raise invalid_parameter("schedulingStrategy must be REPLICA or DAEMON.")
    state = read_state(ctx)
    arns = []
    for addr, attrs in S.services_of(state, S.require_cluster(state, cluster)):
        # Every fgform service is FARGATE-like: an EC2 or EXTERNAL filter matches none.
        if launch not in (None, "FARGATE"):
            continue
        if strategy is not None and (attrs.get("scheduling_strategy") or "REPLICA") \
                != strategy:
            continue
        arns.append(ctx.identity.service(cluster, S.service_name(addr, attrs)))
    return S.page(arns, params)


__all__ = ["create_service", "update_service", "delete_service", "describe_services",
           "list_services", "resolve_taskdef"]
