"""fg_load_balancer on a real 3-node Swarm: the HAProxy container on the manager, on the
cluster's overlay network, finding each service's tasks as `tasks.<service>` in Docker's
DNS. The Swarm services are made here with the Docker SDK, as the swarm service driver makes
them (the same name, endpoint mode dnsrr); the image is pushed to a real fg_registry that
every node pulls from. Requests only to 127.0.0.1, bounded in number."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator
from typing import Any

import docker
import pytest
import swarm_kit as K

from fgform.addresses import Address
from fgform.fleet.driver import FleetContext
from fgform.fleet.swarm import load_balancer as SLB
from fgform.fleet.swarm.lb_status import swarm_lb_status

pytestmark = pytest.mark.docker

INTERVAL = 1
HEALTHY = 2


def get(port: int, path: str = "/") -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read().decode().strip()
    finally:
        conn.close()


def bodies(port: int, n: int, path: str = "/") -> list[str]:
    """`n` answers (status 200 only; anything else is in the list as `status body`)."""
    out = []
    for _ in range(n):
        status, body = get(port, path)
        out.append(body if status == 200 else f"{status} {body}")
    return out


def wait_for(cond: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.2)
    return bool(cond())


class World:
    """The swarm objects of one test: registry, network, services, the load balancer."""

    def __init__(self, client: docker.DockerClient, ctx: FleetContext, port: int) -> None:
        self.client, self.ctx, self.port = client, ctx, port
        self.network = f"fgform-lb-swarm-{ctx.lineage[-12:]}"
        self.services: list[str] = []
        self.driver = SLB.SwarmLoadBalancerDriver(client)
        self.addr = Address("fg_load_balancer", "front")
        self.lb: dict[str, Any] | None = None

    def planned(self, extra_rules: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        return {"cluster": "main", "bind_address": "127.0.0.1", "image": None, "name": None,
                "listener": [{"port": self.port, "default_target_group": "web",
                              "rule": [{"priority": 10, "path_patterns": ["/api/*"],
                                        "target_group": "api"}] + (extra_rules or [])}]}

    def resources(self, web_count: int) -> None:
        hc = {"path": "/", "interval": INTERVAL, "healthy_threshold": HEALTHY,
              "unhealthy_threshold": 2, "timeout": 1, "matcher": "200"}
        self.ctx.resources.update({
            "fg_cluster.main": {"id": "main", "engine": "swarm", "network_name": self.network},
            "fg_target_group.web": {"id": "web", "health_check": hc,
                                    "deregistration_delay": 2},
            "fg_target_group.api": {"id": "api", "health_check": hc,
                                    "deregistration_delay": 2},
            "fg_service.web": {"id": "main/web", "cluster": "main",
                               "desired_count": web_count,
                               "load_balancer": [{"target_group": "web", "container_name": "app",
                                                  "container_port": K.PORT}]},
            "fg_service.api": {"id": "main/api", "cluster": "main", "desired_count": 1,
                               "load_balancer": [{"target_group": "api", "container_name": "app",
                                                  "container_port": K.PORT}]},
        })


@pytest.fixture
def world(swarm: docker.DockerClient, ctx: FleetContext) -> Iterator[World]:
    w = World(swarm, ctx, _free_port())
    image = None
    try:
        image = K.pushed_image(swarm, ctx)
        K.overlay_network(swarm, ctx, w.network)
        w.services.append(K.service(swarm, ctx, "main/web", image, w.network, 3, "web"))
        w.services.append(K.service(swarm, ctx, "main/api", image, w.network, 1, "api"))
        w.resources(3)
        yield w
    finally:
        if w.lb is not None:
            w.driver.delete(ctx, w.addr, w.lb, replacing=False)
        K.remove(swarm, w.services, w.network)
        if image is not None:
            K.remove_image_everywhere(swarm, image)
        SLB._services.clear()  # what service_changed recorded in this process


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_load_balancer_routes_to_tasks_on_every_node_and_follows_scaling(
        world: World) -> None:
    client, ctx = world.client, world.ctx
    web, api = world.services
    tasks = K.wait_running(client, web, 3)
    K.wait_running(client, api, 1)
    # Spread: one task on each of the 3 nodes.
    assert len({t["node"] for t in tasks}) == 3, tasks

    world.lb = world.driver.create(ctx, world.addr, world.planned())
    assert world.lb["id"] == world.lb["dns_name"] == f"fgform-lb-{ctx.lineage[:8]}-front"
    assert world.lb["endpoints"] == [f"http://127.0.0.1:{world.port}"]
    container = client.containers.get(world.lb["id"])
    assert world.network in container.attrs["NetworkSettings"]["Networks"]

    # Every task answers, through the listener on 127.0.0.1: tasks on all 3 nodes.
    want = {f"web {t['container']}" for t in tasks}
    assert wait_for(lambda: set(bodies(world.port, 12)) == want, 30), bodies(world.port, 12)
    # The path rule sends /api/* to the other target group (the api service's task).
    api_task = K.running_tasks(client, api)[0]
    assert set(bodies(world.port, 5, "/api/")) == {f"api {api_task['container']}"}

    # `fgform lb status`: the slots that hold a task, named by task id, all healthy.
    [st] = swarm_lb_status(client, [("fg_load_balancer.front", world.lb)])
    web_tg = next(tg for tg in st.target_groups if tg.id == "web")
    assert sorted(t.id for t in web_tg.targets) == sorted(t["id"] for t in tasks)
    assert {t.state for t in web_tg.targets} == {"healthy"}

    # Scale to 5 outside any load balancer call: DNS gives the new tasks, health checks
    # admit them within the health-check window (resolution 1 s + `rise` checks).
    K.scale(client, web, 5)
    tasks = K.wait_running(client, web, 5)
    running_at = time.monotonic()
    want = {f"web {t['container']}" for t in tasks}
    window = 1 + INTERVAL * HEALTHY + 3  # + slack for a shared machine
    assert wait_for(lambda: set(bodies(world.port, 20)) == want, window), \
        (bodies(world.port, 20), want)
    print(f"\nnew targets served {time.monotonic() - running_at:.1f} s after running")

    # A configuration change is a hitless reload that keeps the resolved targets (the
    # server-state file): requests right after it reach every task, none fails.
    rule = {"priority": 20, "path_patterns": ["/ping"],
            "fixed_response": {"status_code": 200, "body": "pong", "content_type": "text/plain"}}
    world.lb = world.driver.update(ctx, world.addr, world.lb, world.planned([rule]))
    after = bodies(world.port, 20)
    assert set(after) == want, after
    assert get(world.port, "/ping") == (200, "pong")

    # Draining: 5 slow requests (3 s) in flight, one on each task, when the service scales
    # to 2. The stopped tasks leave DNS, their slots go into maintenance, and the requests
    # they were serving finish there (the tasks keep serving for a while after SIGTERM);
    # new requests go to the 2 left.
    slow: list[tuple[int, str]] = []
    threads = [threading.Thread(target=lambda: slow.append(get(world.port, "/cgi-bin/slow")))
               for _ in range(5)]
    for t in threads:
        t.start()
        time.sleep(0.05)
    time.sleep(0.5)
    K.scale(client, web, 2)
    for t in threads:
        t.join(15)
    tasks = K.wait_running(client, web, 2)
    left = {t["container"] for t in tasks}
    assert [st for st, _ in slow] == [200] * 5, slow
    served_by = {body.split()[-1] for _, body in slow}
    assert served_by - left, (served_by, left)  # some were drained, not retried elsewhere
    want = {f"web {c}" for c in left}
    assert wait_for(lambda: set(bodies(world.port, 12)) == want, 10), bodies(world.port, 12)

    # Destroy: the proxy container is gone.
    world.driver.delete(ctx, world.addr, world.lb, replacing=False)
    world.lb = None
    assert not client.containers.list(all=True, filters={"name": f"fgform-lb-{ctx.lineage[:8]}"})


def test_a_service_applied_after_the_load_balancer_is_added_by_service_changed(
        world: World) -> None:
    """The load balancer applied first, a service with its `load_balancer` block after
    (they have no order): the service driver's `service_changed` reloads the proxy with the
    service's server template."""
    client, ctx = world.client, world.ctx
    api_attrs = world.ctx.resources.pop("fg_service.api")
    world.lb = world.driver.create(ctx, world.addr, world.planned())
    ctx.resources[str(world.addr)] = world.lb
    assert get(world.port, "/api/")[0] == 503  # no target known yet
    SLB.service_changed(client, ctx, "fg_service.api", api_attrs)
    api_task = K.wait_running(client, world.services[1], 1)[0]
    assert wait_for(lambda: bodies(world.port, 3, "/api/") ==
                    [f"api {api_task['container']}"] * 3, 10)
    # Deleted: its template goes, /api/* answers 503 again.
    SLB.service_changed(client, ctx, "fg_service.api", None, api_attrs)
    assert get(world.port, "/api/")[0] == 503
