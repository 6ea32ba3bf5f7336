"""Node loss under load on the Swarm backend: a service of TASKS tasks spread over the
swarm's nodes behind fgform's swarm load balancer, RPS requests a second (each on a new
connection) to its listener on 127.0.0.1 for SECONDS; AT seconds in, one worker node is
lost:

- `--mode drain`: the node's availability set to drain (Swarm stops its tasks gracefully
  and starts replacements elsewhere);
- `--mode stop`: the worker's Docker-in-Docker container stopped (tasks lost without
  warning), started again after the run so the node rejoins;
- `--mode none`: nothing (a baseline).

Prints: requests sent and failed (by kind, and when), requests in flight on the lost node's
targets when it was lost (HAProxy's `scur` of those servers), the time until the service is
whole again (TASKS tasks running, none on the lost node) and until the load balancer serves
every one of them. The node is always made available again (and a stopped one started) in a
`finally`.

Needs the swarm (`scripts/swarm.sh up 3`). Both modes disturb other users of the swarm:
their tasks on that node move too.

    PYTHONPATH=$PWD python3 bench/swarm_node_loss.py --mode drain
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import docker  # noqa: E402
import swarm_kit as K  # noqa: E402
from lb_load import Load  # noqa: E402

from fgform.addresses import Address  # noqa: E402
from fgform.fleet.docker.client import get_client  # noqa: E402
from fgform.fleet.docker.proxy import parse_stat, runtime  # noqa: E402
from fgform.fleet.driver import FleetContext  # noqa: E402
from fgform.fleet.haproxy import backend_name  # noqa: E402
from fgform.fleet.swarm.lb_status import is_empty_slot  # noqa: E402
from fgform.fleet.swarm.load_balancer import SwarmLoadBalancerDriver  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def served(port: int, n: int) -> set[str]:
    import http.client

    out = set()
    for _ in range(n):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
        try:
            conn.request("GET", "/")
            resp = conn.getresponse()
            if resp.status == 200:
                out.add(resp.read().decode().strip().split()[-1])
        except (OSError, http.client.HTTPException):
            pass
        finally:
            conn.close()
    return out


def task_ips(client: docker.DockerClient, service: str) -> dict[str, str]:
    """IP -> node id of the service's running tasks."""
    out = {}
    for t in client.api.tasks(filters={"service": service, "desired-state": "running"}):
        for att in t.get("NetworksAttachments") or []:
            for cidr in att.get("Addresses") or []:
                out[cidr.split("/")[0]] = t.get("NodeID")
    return out


def set_availability(client: docker.DockerClient, node_id: str, availability: str) -> None:
    node = client.nodes.get(node_id)
    spec = dict(node.attrs["Spec"])
    spec["Availability"] = availability
    node.update(spec)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mode", choices=("drain", "stop", "none"), required=True)
    ap.add_argument("--tasks", type=int, default=6)
    ap.add_argument("--rps", type=float, default=300)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--at", type=float, default=5, help="seconds into the run the node is lost")
    ap.add_argument("--node", default=None, help="the worker's hostname (default: the last)")
    args = ap.parse_args()

    client = get_client()
    ctx = FleetContext(lineage=f"bench-{uuid.uuid4().hex}", log=lambda _m: None)
    network = f"fgform-lb-bench-{ctx.lineage[-12:]}"
    me = client.info()["Swarm"]["NodeID"]
    workers = sorted((n for n in client.nodes.list() if n.id != me),
                     key=lambda n: n.attrs["Description"]["Hostname"])
    victim = next((n for n in workers if n.attrs["Description"]["Hostname"] == args.node),
                  None) if args.node else workers[-1]
    if victim is None:
        print(f"no worker node {args.node}", file=sys.stderr)
        return 2
    vname = victim.attrs["Description"]["Hostname"]
    port = free_port()
    driver = SwarmLoadBalancerDriver(client)
    addr = Address("fg_load_balancer", "bench")
    lb: dict[str, Any] | None = None
    image = None
    services: list[str] = []
    lost = False
    try:
        image = K.pushed_image(client, ctx)
        K.overlay_network(client, ctx, network)
        svc = K.service(client, ctx, "main/web", image, network, args.tasks, "web")
        services.append(svc)
        hc = {"path": "/", "interval": 1, "healthy_threshold": 2, "unhealthy_threshold": 2,
              "timeout": 1, "matcher": "200"}
        ctx.resources.update({
            "fg_cluster.main": {"id": "main", "engine": "swarm", "network_name": network},
            "fg_target_group.web": {"id": "web", "health_check": hc,
                                    "deregistration_delay": 2},
            "fg_service.web": {"id": "main/web", "cluster": "main",
                               "desired_count": args.tasks,
                               "load_balancer": [{"target_group": "web",
                                                  "container_name": "app",
                                                  "container_port": K.PORT}]},
        })
        tasks = K.wait_running(client, svc, args.tasks)
        lb = driver.create(ctx, addr, {"cluster": "main", "bind_address": "127.0.0.1",
                                       "image": None, "name": None,
                                       "listener": [{"port": port,
                                                     "default_target_group": "web"}]})
        want = {t["container"] for t in tasks}
        deadline = time.monotonic() + 30
        while served(port, 3 * args.tasks) != want:
            if time.monotonic() > deadline:
                raise TimeoutError("the load balancer does not serve every task")
            time.sleep(0.5)
        on_victim = [t for t in tasks if t["node"] == victim.id]
        print(f"{args.tasks} tasks on {len({t['node'] for t in tasks})} nodes, "
              f"{len(on_victim)} on {vname}; {args.rps:.0f} req/s for {args.seconds:.0f} s, "
              f"{vname} lost ({args.mode}) at {args.at:.0f} s")
        proxy = client.containers.get(lb["id"])
        backend = backend_name("web")

        load = Load(f"http://127.0.0.1:{port}/", rps=args.rps, workers=128,
                    timeout=10).start()
        t_lost = whole = served_all = None
        in_flight = 0
        try:
            time.sleep(args.at)
            ips = task_ips(client, svc)
            stats = parse_stat(runtime(proxy, "show stat -1 4 -1"))
            in_flight = sum(int(r.get("scur") or 0) for (px, _sv), r in stats.items()
                            if px == backend and not is_empty_slot(r)
                            and ips.get((r.get("addr") or "").rsplit(":", 1)[0]) == victim.id)
            t_lost = time.monotonic()
            if args.mode == "drain":
                set_availability(client, victim.id, "drain")
                lost = True
            elif args.mode == "stop":
                client.containers.get(vname).stop(timeout=0)
                lost = True
            end = load._started + args.seconds
            while time.monotonic() < end:
                now = time.monotonic()
                if whole is None:
                    running = K.running_tasks(client, svc)
                    if len(running) == args.tasks and all(
                            t["node"] != victim.id for t in running) or args.mode == "none":
                        whole = now
                        want = {t["container"] for t in running}
                elif served_all is None and served(port, 3 * args.tasks) >= want:
                    served_all = time.monotonic()
                time.sleep(0.2)
        finally:
            result = load.stop()
        print(f"load: {result.summary()}; late {result.late}, min {result.min_rate()} "
              "req/s in a second")
        print(f"failed: {result.failed} {dict(sorted(result.errors.items()))}")
        if result.failures:
            offsets = sorted(round(t - (t_lost or load._started), 2)
                             for t, _k in result.failures)
            print(f"failures sent at (s after the loss): first {offsets[0]}, "
                  f"last {offsets[-1]}")
        print(f"in flight on {vname}'s targets when lost: {in_flight}")
        if t_lost is not None:
            print("service whole again (tasks running, none on the lost node): "
                  + (f"{whole - t_lost:.1f} s" if whole else "not within the run"))
            print("load balancer serving every task: "
                  + (f"{served_all - t_lost:.1f} s" if served_all else "not within the run"))
        log = proxy.logs().decode(errors="replace").splitlines()
        errors = [ln for ln in log if len(ln.split()) > 5 and ln.split()[4][:1] == "5"]
        print(f"proxy: {len(errors)} requests answered 5xx by HAProxy")
        return 0
    finally:
        if lost:
            if args.mode == "stop":
                with contextlib.suppress(docker.errors.APIError):
                    client.containers.get(vname).start()
                deadline = time.monotonic() + 120
                while client.nodes.get(victim.id).attrs["Status"]["State"] != "ready":
                    if time.monotonic() > deadline:
                        print(f"{vname} did not rejoin: run scripts/swarm.sh status",
                              file=sys.stderr)
                        break
                    time.sleep(1)
            set_availability(client, victim.id, "active")
        if lb is not None:
            driver.delete(ctx, addr, lb, replacing=False)
        K.remove(client, services, network)
        if image is not None:
            K.remove_image_everywhere(client, image)
        K.remove_lineage(client, ctx.lineage)


if __name__ == "__main__":
    sys.exit(main())
