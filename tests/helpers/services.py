"""Building blocks for the fg_service tests against the real engine (test_service and the
host-port, deployment, restart and scheduler tests): a cluster on a free subnet, a task
definition, container and service configurations, and a couple of probes."""

from __future__ import annotations

import urllib.request
import uuid
from typing import Any

import docker

from fgform.addresses import Address
from fgform.errors import FgformError
from fgform.fleet.docker.client import LazyClient
from fgform.fleet.docker.cluster import ClusterDriver
from fgform.fleet.docker.labels import label_filter
from fgform.fleet.docker.task_definition import TaskDefinitionDriver
from fgform.fleet.driver import FleetContext

from helpers.subnets import free_subnet

# Connects on first use, at test time (the docker_client fixture reports a missing engine).
CLIENT = LazyClient()
CLUSTER = ClusterDriver(CLIENT)

# Far from Docker's own 172.17+/16 pools and from the other tests' 10.100/14 and 10.213/16.
SUBNET_POOL = "10.192.0.0/16"
HTTPD = ["busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]
HEALTH = {"command": ["CMD-SHELL", "busybox wget -q -O /dev/null http://127.0.0.1:8080/ || exit 1"],
          "interval": 1, "timeout": 2, "retries": 3, "start_period": 0}


def make_cluster(ctx: FleetContext, count: int = 2, cpu: int = 1024, memory: int = 1024,
                 strategy: str = "spread", prefix: int = 27) -> dict[str, Any]:
    name = f"t{uuid.uuid4().hex[:8]}"
    addr = Address("fg_cluster", name)
    # A subnet no network on the engine has, derived from the test (helpers.subnets); asked
    # again if another run took the same one between the choice and the create.
    for attempt in range(3):
        cidr = free_subnet(CLIENT, prefix, SUBNET_POOL)
        try:
            attrs = CLUSTER.create(ctx, addr, {
                "name": None, "cidr_block": cidr, "placement_strategy": strategy,
                "capacity": {"instance_count": count, "instance_cpu": cpu,
                             "instance_memory": memory},
            })
            break
        except FgformError as exc:
            if "overlaps" not in exc.message or attempt == 2:
                raise
    ctx.resources[str(addr)] = attrs
    return attrs


def container(name: str, image: str, **kw: Any) -> dict[str, Any]:
    spec = {"name": name, "image": image, "essential": True, "command": None,
            "entry_point": None, "environment": {}, "working_directory": None, "user": None,
            "stop_timeout": 2, "cpu": None, "memory": None, "port_mapping": [],
            "health_check": None}
    spec.update(kw)
    return spec


def make_taskdef(ctx: FleetContext, family: str, containers: list[dict[str, Any]],
                 cpu: int = 256, memory: int = 128) -> tuple[Address, dict[str, Any]]:
    addr = Address("fg_task_definition", family)
    attrs = TaskDefinitionDriver().create(ctx, addr, {
        "family": family, "cpu": cpu, "memory": memory, "container": containers})
    ctx.resources[str(addr)] = attrs
    return addr, attrs


def service_config(cluster: dict[str, Any], td: dict[str, Any], count: int,
                   **kw: Any) -> dict[str, Any]:
    cfg = {"name": None, "cluster": cluster["id"], "task_definition": td["arn"],
           "desired_count": count, "health_check_grace_period": 0,
           "wait_for_steady_state": True, "steady_state_timeout": 40,
           "load_balancer": [], "deployment": None}
    cfg.update(kw)
    return cfg


def owned(client: docker.DockerClient, ctx: FleetContext) -> list[dict[str, Any]]:
    return client.api.containers(all=True, filters=label_filter(ctx))


def http_get(ip: str, port: int = 8080) -> int:
    with urllib.request.urlopen(f"http://{ip}:{port}/", timeout=3) as resp:
        return resp.status

