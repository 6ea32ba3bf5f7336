"""fg_service: keeps desired_count tasks of a task definition running and registered."""

from __future__ import annotations

from typing import Any

from fgform.config.schema.checks import check_port, check_whole
from fgform.config.schema.model import ID, BlockSchema, ResourceSchema, attr, computed
from fgform.config.schema.task_definition import PLACEMENT_CONSTRAINTS
from fgform.placement_rules import MAX_STRATEGIES, SCHEDULING_STRATEGIES, STRATEGY_TYPES


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


FG_SERVICE = ResourceSchema(
    "fg_service",
    "Keeps desired_count tasks of a task definition running, healthy and registered.",
    BlockSchema("fg_service", attributes=(
        attr("name", "string", "Service name; the resource name when unset.", force_new=True),
        attr("cluster", "string", "The `id` of the cluster.", required=True, optional=False,
             force_new=True),
        attr("task_definition", "string", "The `arn` of the task definition to run.",
             required=True, optional=False),
        attr("desired_count", "number", "Tasks to keep running.", default=1, min=0, max=1000,
             check=check_whole, check_doc="a whole number"),
        attr("scheduling_strategy", "string", "REPLICA (desired_count tasks) or DAEMON (one "
             "task on every instance that satisfies the placement constraints; desired_count "
             "is then that number, not set by hand).", default="REPLICA",
             enum=SCHEDULING_STRATEGIES, force_new=True),
        attr("health_check_grace_period", "number",
             "Seconds to ignore failing health checks after a task starts.", default=0, min=0,
             max=3600),
        attr("wait_for_steady_state", "bool", "Apply returns when the service is stable.",
             default=True),
        attr("steady_state_timeout", "number", "Seconds to wait for steady state.", default=300,
             min=1),
        attr("force_new_deployment", "string", "A trigger: a new value (an RFC 3339 time, as "
             "UpdateService's forceNewDeployment sets) rolls every task started before it "
             "onto a new one of the same revision, a rolling deployment; null forces "
             "nothing."),
        ID,
        computed("running_count", "number", "Tasks running."),
        computed("tasks", "list(any)", "The running tasks: id, instance, address, revision."),
        computed("targets", "list(any)", "Each task in each `load_balancer` target group: "
                 "target_group, id, address, port. A target missing from its load "
                 "balancer is drift that the plan repairs."),
        computed("deployments", "list(any)", "The deployments of the last apply or "
                 "reconcile, as ECS shows them: status (PRIMARY, ACTIVE, INACTIVE), "
                 "task_definition, desired_count, pending_count, running_count, failed_tasks, "
                 "rollout_state (COMPLETED, FAILED), rollout_state_reason."),
        computed("events", "list(any)", "The service's event log (at, message), newest last, "
                 "the last 100 kept: `fgform events`."),
    ), blocks=(
        PLACEMENT_CONSTRAINTS,
        BlockSchema("placement_strategy", "How tasks are placed, rule by rule in order "
                    "(ECS's ordered placement strategy); overrides the cluster's "
                    "placement_strategy.", max_items=MAX_STRATEGIES, attributes=(
                        attr("type", "string", "spread, binpack or random.", required=True,
                             optional=False, enum=STRATEGY_TYPES),
                        attr("field", "string", "spread: instanceId or attribute:NAME; "
                             "binpack: cpu or memory; random: none."),
                    )),
        BlockSchema("load_balancer", "Registers each task with a target group.",
                    key="target_group", attributes=(
                        attr("target_group", "string", "The `id` of the target group.",
                             required=True, optional=False),
                        attr("container_name", "string", "Container of the task definition.",
                             required=True, optional=False),
                        attr("container_port", "number", "Port of that container.",
                             required=True, optional=False, check=check_port,
                             check_doc="1-65535"),
                    )),
        BlockSchema("deployment", "Rolling deployment settings.", max_items=1, attributes=(
            attr("minimum_healthy_percent", "number", "Lower limit of healthy tasks during a "
                 "deployment, percent of desired_count.", default=100, min=0, max=100),
            attr("maximum_percent", "number", "Upper limit of tasks during a deployment.",
                 default=200, min=100, max=200),
        ), blocks=(
            BlockSchema("circuit_breaker", "Stops a failing deployment.", max_items=1,
                        attributes=(
                            attr("enable", "bool", "Stop after repeated task failures.",
                                 default=False),
                            attr("rollback", "bool", "Roll back to the last good revision.",
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
