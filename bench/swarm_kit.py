"""What the Swarm load balancer's test and node-loss bench need without the swarm service
driver: an image every node can pull (built from the local debian:bookworm-slim, pushed to
a real fg_registry on a forwarded port), an attachable overlay network, and Swarm services
made with the Docker SDK as the swarm service driver makes them (named by
`swarm_service_name`, endpoint mode dnsrr, labelled with the lineage), each task answering
`<ROLE> <hostname>` on port 8080.

Used by tests/integration/swarm/test_swarm_lb.py and bench/swarm_node_loss.py.
"""

from __future__ import annotations

import base64
import contextlib
import io
import random
import socket
import time
from typing import Any

import docker
import docker.types
from docker.errors import APIError, ImageNotFound, NotFound

from fgform.addresses import Address
from fgform.fleet.docker import labels as L
from fgform.fleet.docker.build import push_image
from fgform.fleet.docker.registry import RegistryDriver
from fgform.fleet.driver import FleetContext
from fgform.fleet.swarm.naming import swarm_service_name

IMAGE = "fgform-lb-swarm/hostname:2"
# busybox httpd (one process per request) answering `<ROLE> <hostname>` (the hostname is
# the task container's short id) at / and /api/, and after 3 s at /cgi-bin/slow. On SIGTERM
# it keeps serving for DRAIN_SECONDS before it stops, as an application that finishes its
# requests in flight does.
DRAIN_SECONDS = 4
START = f"""#!/bin/sh
mkdir -p /www/api
echo "$ROLE $(hostname)" > /www/index.html
cp /www/index.html /www/api/index.html
busybox httpd -f -p 8080 -h /www &
pid=$!
trap 'sleep {DRAIN_SECONDS}; kill $pid' TERM
wait $pid
"""
SLOW = """#!/bin/sh
sleep 3
printf 'Content-Type: text/plain\\r\\n\\r\\nslow %s\\n' "$(hostname)"
"""
DOCKERFILE = (
    "FROM debian:bookworm-slim\n"
    "RUN apt-get update && apt-get install -y --no-install-recommends busybox "
    "&& rm -rf /var/lib/apt/lists/* && mkdir -p /www/cgi-bin "
    f"&& echo {base64.b64encode(START.encode()).decode()} | base64 -d > /start.sh "
    f"&& echo {base64.b64encode(SLOW.encode()).decode()} | base64 -d > /www/cgi-bin/slow "
    "&& chmod +x /start.sh /www/cgi-bin/slow\n"
    'CMD ["/start.sh"]\n'
)
PORT = 8080
# Registry ports the swarm's workers forward to the manager (scripts/swarm.sh).
REGISTRY_PORTS = (5000, 5999)


def free_registry_port() -> int:
    """A free port in the forwarded range, so workers pull from 127.0.0.1:PORT."""
    ports = list(range(REGISTRY_PORTS[0], REGISTRY_PORTS[1] + 1))
    random.shuffle(ports)
    for port in ports:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 5000-5999")


def pushed_image(client: docker.DockerClient, ctx: FleetContext) -> str:
    """A registry of `ctx`'s lineage with the hostname image in it; the image reference by
    digest (`127.0.0.1:PORT/...@sha256:...`), the same on every node."""
    try:
        client.api.inspect_image(IMAGE)
    except ImageNotFound:
        client.images.build(fileobj=io.BytesIO(DOCKERFILE.encode()), tag=IMAGE, rm=True,
                            forcerm=True)
    reg = RegistryDriver(client).create(ctx, Address("fg_registry", "lbswarm"),
                                        {"port": free_registry_port(),
                                         "bind_address": "127.0.0.1", "image": None})
    repo = f"127.0.0.1:{reg['port']}/fgform-lb-swarm/hostname"
    client.api.tag(IMAGE, repo, "2")
    try:
        digest = push_image(client, ctx, repo, "2")
    finally:
        with contextlib.suppress(APIError):
            client.api.remove_image(f"{repo}:2")
    return f"{repo}@{digest}"


def overlay_network(client: docker.DockerClient, ctx: FleetContext, name: str) -> str:
    """An attachable overlay network labelled with the lineage (as a swarm cluster's)."""
    client.networks.create(name, driver="overlay", attachable=True,
                           labels=L.base_labels(ctx, "fg_cluster.main", kind="cluster"))
    return name


def service(client: docker.DockerClient, ctx: FleetContext, service_id: str, image: str,
            network: str, replicas: int, role: str) -> str:
    """A replicated Swarm service (endpoint mode dnsrr) spread over the nodes; its name."""
    name = swarm_service_name(ctx.lineage, service_id)
    client.services.create(
        image, name=name, env=[f"ROLE={role}"], networks=[network],
        endpoint_spec=docker.types.EndpointSpec(mode="dnsrr"),
        mode=docker.types.ServiceMode("replicated", replicas=replicas),
        preferences=[docker.types.PlacementPreference("spread", "node.id")],
        labels=L.base_labels(ctx, f"fg_service.{role}", kind="service"),
        container_labels=L.base_labels(ctx, f"fg_service.{role}", kind="task"),
        # A stopping task gets this long between SIGTERM and SIGKILL: its requests in
        # flight finish (DRAIN_SECONDS).
        stop_grace_period=(DRAIN_SECONDS + 3) * 1_000_000_000,
    )
    return name


def running_tasks(client: docker.DockerClient, name: str) -> list[dict[str, Any]]:
    """The service's tasks Swarm sees running: {id, node, container (short id = the
    task's hostname)}."""
    out = []
    for t in client.api.tasks(filters={"service": name, "desired-state": "running"}):
        if t["Status"]["State"] != "running":
            continue
        cid = (t["Status"].get("ContainerStatus") or {}).get("ContainerID") or ""
        out.append({"id": t["ID"], "node": t.get("NodeID"), "container": cid[:12]})
    return out


def wait_running(client: docker.DockerClient, name: str, count: int, timeout: float = 120
                 ) -> list[dict[str, Any]]:
    """Until `count` tasks of the service run (at most `timeout` s); those tasks."""
    deadline = time.monotonic() + timeout
    while True:
        tasks = running_tasks(client, name)
        if len(tasks) == count:
            return tasks
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name}: {len(tasks)} of {count} tasks running after "
                               f"{timeout:.0f} s")
        time.sleep(0.5)


def scale(client: docker.DockerClient, name: str, replicas: int) -> None:
    client.services.get(name).scale(replicas)


def remove(client: docker.DockerClient, services: list[str], network: str | None) -> None:
    """Remove the services, then the network once their tasks are gone from every node."""
    for name in services:
        with contextlib.suppress(NotFound):
            client.api.remove_service(name)
    if network is None:
        return
    deadline = time.monotonic() + 60
    while True:
        try:
            client.api.remove_network(network)
            return
        except NotFound:
            return
        except APIError:
            # Tasks still shutting down hold endpoints on the network.
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def remove_image_everywhere(client: docker.DockerClient, ref: str) -> None:
    """Remove image reference `ref` (pulled by digest for the tasks) from the manager and
    from each worker (a Docker-in-Docker container named as its node's hostname), best
    effort. Only the reference goes: the image stays while another name holds it."""
    with contextlib.suppress(APIError):
        client.api.remove_image(ref)
    me = client.info().get("Swarm", {}).get("NodeID")
    for node in client.nodes.list():
        if node.id == me:
            continue
        try:
            worker = client.containers.get(node.attrs["Description"]["Hostname"])
        except (NotFound, APIError):
            continue
        # Refused while a stopped task container of the removed service still uses it:
        # Swarm removes those a moment after the service.
        deadline = time.monotonic() + 30
        while worker.exec_run(["docker", "image", "rm", ref])[0] != 0 and \
                worker.exec_run(["docker", "image", "inspect", ref])[0] == 0 and \
                time.monotonic() < deadline:
            time.sleep(1)


def remove_lineage(client: docker.DockerClient, lineage: str) -> None:
    """Remove the containers (the registry) and volumes labelled with `lineage`."""
    filters = {"label": [f"{L.MANAGED}=true", f"{L.LINEAGE}={lineage}"]}
    for c in client.api.containers(all=True, filters=filters):
        with contextlib.suppress(NotFound, APIError):
            client.api.remove_container(c["Id"], force=True)
    for v in (client.api.volumes(filters=filters) or {}).get("Volumes") or []:
        with contextlib.suppress(NotFound, APIError):
            client.api.remove_volume(v["Name"], force=True)
