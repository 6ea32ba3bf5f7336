"""The Swarm backend on a real 3-node swarm (issue 12, figures 1 and 2).

    python bench/swarm_bench.py                  # both figures, 1 run each
    python bench/swarm_bench.py --repeat 3 --tasks 30 --plan-tasks 100
    python bench/swarm_bench.py --no-fgform      # only what needs no fgform Swarm driver

Needs the swarm up (`bash scripts/swarm.sh up 3`); it is left as it was.

Set-up (untimed): a registry (fg_registry, on a port scripts/swarm.sh forwards from every
worker) and the benchmarks' busybox httpd image pushed to it (fg_image): every side runs
the same image by digest, pulled on each node as fgform's own images are.

1. Apply of a `--tasks` service (128 CPU units, 64 MiB reserved each, dnsrr) from nothing
   to every task running, timed from the command's start to the moment the swarm reports
   them all running (a task list every 0.2 s), runs interleaved:
   - stack: `docker stack deploy` (Debian's docker CLI) of a compose file declaring the
     same service on an attachable overlay network;
   - fgform: `fgform apply -auto-approve` in a fresh process of a configuration with
     `fg_cluster { engine = "swarm" }`, a task definition and a service, from empty state;
   - fgform on the local backend: the same apply on one engine (fleet_apply_bench.py's
     configuration, 2 capacity instances), timed to its end, when every task is healthy.
2. A no-op `fgform plan` with `--plan-tasks` tasks across the nodes: wall time and the Docker
   API requests it makes (the SDK's HTTP layer counted in the fgform process), which must
   not grow with the number of tasks; and, from this process, `fgform nodes`' own fleet call
   (`EngineFleet.list_nodes`) counted the same way over a stack of as many tasks labelled
   as fgform labels its services, for 1 and for `--plan-tasks` tasks.

Everything made is removed at the end (stacks, fgform's objects by its state's lineage,
the registry), also when a run fails.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1]))
import fleet_common as F  # noqa: E402

CPU, MEMORY = 128, 64  # per task of figure 1
SMALL_CPU, SMALL_MEMORY = 16, 16  # per task of figure 2 (100 tasks fit on 3 small nodes)
HTTPD = ["busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]
BENCH_LINEAGE = f"fgbench-swarm-{uuid.uuid4().hex[:8]}"  # labels of the stacks of figure 2


# -- set-up: a registry and the image, through fgform's drivers -----------------------------------
def registry_port() -> int:
    import socket

    for port in range(5700, 5999):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 5700-5999")


def push_image(c, ctx, workdir: Path) -> str:
    """Registry + image (fg_registry, fg_image); the image's uri (by digest)."""
    from fgform.addresses import Address
    from fgform.fleet.docker.image import ImageDriver
    from fgform.fleet.docker.registry import RegistryDriver

    reg = RegistryDriver(c).create(ctx, Address("fg_registry", "bench"), {
        "port": registry_port(), "bind_address": "127.0.0.1", "image": None})
    ctx.resources["fg_registry.bench"] = reg
    (workdir / "app").mkdir()
    (workdir / "app" / "Dockerfile").write_text(F.DOCKERFILE)
    img = ImageDriver(c).create(ctx, Address("fg_image", "httpd"), {
        "registry": reg["id"], "repository": "bench/httpd", "tag": "latest",
        "context": "app", "dockerfile": "Dockerfile", "build_args": {}})
    return str(img["uri"])


def remove_label(c, label: str) -> None:
    """Services, then (once their tasks are gone) networks, containers and volumes with
    `label`, on the manager."""
    for s in c.api.services(filters={"label": label}):
        with contextlib.suppress(Exception):
            c.api.remove_service(s["ID"])
    for _ in range(120):
        if not c.api.tasks(filters={"label": label, "desired-state": "running"}):
            break
        time.sleep(0.5)
    for n in c.api.networks(filters={"label": label}):
        for _ in range(60):
            try:
                c.api.remove_network(n["Id"])
                break
            except Exception:  # noqa: BLE001 - still in use by a task being removed
                time.sleep(0.5)
    for ct in c.api.containers(all=True, filters={"label": label}):
        with contextlib.suppress(Exception):
            c.api.remove_container(ct["Id"], force=True)
    for v in (c.api.volumes(filters={"label": label}) or {}).get("Volumes") or []:
        with contextlib.suppress(Exception):
            c.api.remove_volume(v["Name"], force=True)


def remove_image_everywhere(c, uri: str) -> None:
    """The image the nodes pulled (`uri`, by digest) and its local tags on the manager:
    workers are the containers named after their hostnames (scripts/swarm.sh)."""
    for node in c.nodes.list():
        host = node.attrs["Description"]["Hostname"]
        if node.attrs["Spec"]["Role"] == "worker":
            with contextlib.suppress(Exception):
                c.containers.get(host).exec_run(["docker", "image", "rm", "-f", uri])
    repo = uri.partition("@")[0]
    for img in c.api.images(name=repo):
        for ref in (img.get("RepoTags") or []) + (img.get("RepoDigests") or []):
            with contextlib.suppress(Exception):
                c.api.remove_image(ref, force=True)


def running(c, label: str) -> int:
    return sum(1 for t in c.api.tasks(filters={"label": label, "desired-state": "running"})
               if (t.get("Status") or {}).get("State") == "running")


def wait_running(c, label: str, n: int, t0: float, timeout: float = 300) -> float:
    """Seconds from `t0` until `n` tasks with `label` run."""
    while running(c, label) < n:
        if time.perf_counter() - t0 > timeout:
            raise RuntimeError(f"{label}: not {n} tasks running after {timeout:.0f} s")
        time.sleep(0.2)
    return time.perf_counter() - t0


# -- docker stack deploy -------------------------------------------------------------------------
def compose_file(image: str, n: int, labels: dict[str, str], cpu: int, memory: int) -> str:
    lab = "".join(f'        {k}: "{v}"\n' for k, v in labels.items())
    clab = "".join(f'      {k}: "{v}"\n' for k, v in labels.items())
    return f"""version: "3.8"
services:
  web:
    image: {image}
    command: {HTTPD!r}
    labels:
{clab}    networks: [net]
    deploy:
      replicas: {n}
      endpoint_mode: dnsrr
      labels:
{lab}      resources:
        reservations: {{cpus: "{cpu / 1024:g}", memory: {memory}M}}
        limits: {{cpus: "{cpu / 1024:g}", memory: {memory}M}}
networks:
  net:
    driver: overlay
    attachable: true
    labels:
{lab.replace('        ', '      ')}"""


def stack_deploy(c, image: str, n: int, workdir: Path, *, labels: dict[str, str] | None = None,
                 cpu: int = CPU, memory: int = MEMORY, keep: bool = False) -> tuple[float, str]:
    """Seconds from `docker stack deploy` to `n` tasks running; the stack's name (removed
    unless `keep`)."""
    stack = f"fgbench{uuid.uuid4().hex[:6]}"
    labels = {"fgbench.run": stack, **(labels or {})}
    path = workdir / f"{stack}.yml"
    path.write_text(compose_file(image, n, labels, cpu, memory))
    try:
        t0 = time.perf_counter()
        subprocess.run(["docker", "stack", "deploy", "-c", str(path), stack], check=True,
                       capture_output=True, text=True)
        took = wait_running(c, f"fgbench.run={stack}", n, t0)
    except BaseException:
        stack_rm(c, stack)
        raise
    if not keep:
        stack_rm(c, stack)
    return took, stack


def stack_rm(c, stack: str) -> None:
    subprocess.run(["docker", "stack", "rm", stack], capture_output=True, text=True)
    remove_label(c, f"fgbench.run={stack}")
    remove_label(c, f"com.docker.stack.namespace={stack}")


# -- fgform --------------------------------------------------------------------------------------
def fgform_config(name: str, image: str, n: int, cpu: int, memory: int) -> str:
    return f"""resource "fg_cluster" "main" {{
  name   = "{name}"
  engine = "swarm"
}}

resource "fg_task_definition" "web" {{
  family = "{name}-web"
  cpu    = {cpu}
  memory = {memory}

  container "web" {{
    image   = "{image}"
    command = {str(HTTPD).replace("'", '"')}
    port_mapping {{
      container_port = 8080
    }}
  }}
}}

resource "fg_service" "web" {{
  name            = "web"
  cluster         = fg_cluster.main.id
  task_definition = fg_task_definition.web.arn
  desired_count   = {n}
}}
"""


class FgformSwarm:
    """One fgform configuration directory with a Swarm cluster; destroyed on `close`."""

    def __init__(self, c, image: str, n: int, cpu: int, memory: int) -> None:
        self.c = c
        self.dir = Path(tempfile.mkdtemp(prefix="fgbench-swarm-"))
        self.name = f"fgb{uuid.uuid4().hex[:6]}"
        (self.dir / "main.tf").write_text(fgform_config(self.name, image, n, cpu, memory))
        try:
            F.fgform(["validate"], self.dir)  # fills the parse cache, untimed
        except BaseException:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise

    def lineage(self) -> str | None:
        with contextlib.suppress(FileNotFoundError, KeyError):
            return str(F.state(self.dir)["lineage"])
        return None

    def apply(self, n: int) -> float:
        t0 = time.perf_counter()
        F.fgform(["apply", "-auto-approve", "-no-color"], self.dir)
        return wait_running(self.c, f"fgform.lineage={self.lineage()}", n, t0)

    def close(self) -> None:
        F.fgform(["destroy", "-auto-approve", "-no-color"], self.dir, check=False)
        lineage = self.lineage()
        if lineage:
            remove_label(self.c, f"fgform.lineage={lineage}")
        shutil.rmtree(self.dir, ignore_errors=True)


def local_apply(c, n: int, workdir: Path) -> float:
    """`fgform apply` of the same service on the local backend (fleet_apply_bench's
    configuration: a cluster of 2 capacity instances, health check every second): seconds
    to the apply's end, when every task is healthy."""
    F.ensure_image(c)
    cluster = F.run_id()
    d = workdir / cluster
    d.mkdir()
    (d / "main.tf").write_text(F.service_config(
        cluster, F.free_subnet(c, 24), services={"web": n}, memory=MEMORY, cpu=CPU))
    F.fgform(["validate"], d)  # untimed: fills the parse cache
    try:
        return F.fgform(["apply", "-auto-approve", "-no-color"], d).wall
    finally:
        F.cleanup_fgform_cluster(c, cluster)


# -- figure 2 from this process: fgform nodes' fleet call, counted --------------------------------
def count_list_nodes(c, stack_labels: dict[str, str]) -> tuple[Counter[str], float, int]:
    """Docker API requests, seconds and placed tasks of one `EngineFleet.list_nodes`."""
    import docker.api.client as dc

    from fgform.fleet.driver import FleetContext
    from fgform.fleet.swarm.fleet import EngineFleet

    calls: Counter[str] = Counter()
    send = dc.APIClient.send

    def counting(self, request, **kw):
        calls[f"{request.method} {request.path_url.split('?')[0].split('/')[2]}"] += 1
        return send(self, request, **kw)

    fleet = EngineFleet(c)
    ctx = FleetContext(lineage=stack_labels["fgform.lineage"])
    dc.APIClient.send = counting
    try:
        t0 = time.perf_counter()
        rows = fleet.list_nodes(ctx, [("main", {"engine": "swarm"})])
        took = time.perf_counter() - t0
    finally:
        dc.APIClient.send = send
    return calls, took, sum(r.tasks for r in rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", type=int, default=30)
    ap.add_argument("--plan-tasks", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--no-fgform", action="store_true",
                    help="skip the runs that need fgform's Swarm service driver")
    args = ap.parse_args()
    os.environ.setdefault("DOCKER_API_VERSION", F.API_VERSION)
    c = F.client()
    if len(c.nodes.list()) < 3:
        print("needs a swarm of 3 nodes: bash scripts/swarm.sh up 3", file=sys.stderr)
        return 2
    from fgform.fleet.driver import FleetContext

    setup = FleetContext(lineage=f"fgbench-swarm-setup-{uuid.uuid4().hex[:8]}")
    work = Path(tempfile.mkdtemp(prefix="fgbench-swarm-"))
    setup.config_dir = str(work)
    print(f"machine: {F.machine()}; nodes: {len(c.nodes.list())}")
    kept: list[str] = []
    image = None
    try:
        image = push_image(c, setup, work)
        print(f"image: {image}")
        # Pull it on every node once (untimed), so neither side pays the first pull.
        stack_deploy(c, image, 6, work)

        print(f"\n1. apply of a {args.tasks}-task service, nothing -> all running (s)")
        stack_t: list[float] = []
        fg_t: list[float] = []
        local_t: list[float] = []
        fg_err = None
        for _ in range(args.repeat):
            stack_t.append(stack_deploy(c, image, args.tasks, work)[0])
            local_t.append(local_apply(c, args.tasks, work))
            if args.no_fgform or fg_err:
                continue
            run = None
            try:
                run = FgformSwarm(c, image, args.tasks, CPU, MEMORY)
                fg_t.append(run.apply(args.tasks))
            except Exception as exc:  # noqa: BLE001 - reported, the stack side goes on
                fg_err = str(exc).strip().splitlines()[-1][:300]
            finally:
                if run is not None:
                    run.close()
        print(f"   docker stack deploy: median {F.median(stack_t):.2f}  "
              f"runs {F.fmt_runs(stack_t)}")
        print(f"   fgform apply, local backend (to all healthy): median "
              f"{F.median(local_t):.2f}  runs {F.fmt_runs(local_t)}")
        print("   fgform apply, swarm: " + (f"median {F.median(fg_t):.2f}  runs "
                                             f"{F.fmt_runs(fg_t)}" if fg_t else
                                             f"not run ({fg_err or '--no-fgform'})"))

        print(f"\n2. no-op plan / nodes with {args.plan_tasks} tasks across the nodes")
        if not args.no_fgform:
            run = None
            try:
                run = FgformSwarm(c, image, args.plan_tasks, SMALL_CPU, SMALL_MEMORY)
                run.apply(args.plan_tasks)
                plan = F.fgform(["plan", "-no-color", "-detailed-exitcode"], run.dir,
                                count_calls=True, check=False)
                if "No changes" not in plan.out:
                    raise RuntimeError(f"the plan is not a no-op:\n{plan.out[-2000:]}")
                print(f"   fgform plan (no changes): {plan.wall:.2f} s wall, {plan.cpu:.2f} s "
                      f"cpu, API calls {F.fmt_calls(plan.calls)}")
                nodes = F.fgform(["nodes"], run.dir, count_calls=True)
                placed = sum(int(line.split()[8]) for line in nodes.out.splitlines()[1:]
                             if len(line.split()) > 8)
                print(f"   fgform nodes ({placed} tasks placed): {nodes.wall:.2f} s wall, API "
                      f"calls {F.fmt_calls(nodes.calls)}")
            except Exception as exc:  # noqa: BLE001 - reported; the counted call below runs
                print(f"   fgform plan: not run ({str(exc).strip().splitlines()[-1][:300]})")
            finally:
                if run is not None:
                    run.close()
        labels = {"fgform.managed": "true", "fgform.lineage": BENCH_LINEAGE,
                  "fgform.cluster": "main"}
        for n in (1, args.plan_tasks):
            _, stack = stack_deploy(c, image, n, work, labels=labels, cpu=SMALL_CPU,
                                    memory=SMALL_MEMORY, keep=True)
            kept.append(stack)
            try:
                calls, took, placed = count_list_nodes(c, labels)
            finally:
                stack_rm(c, stack)
                kept.remove(stack)
            print(f"   EngineFleet.list_nodes, {n:>3} task(s) ({placed} placed): "
                  f"{took * 1000:.0f} ms, API calls {F.fmt_calls(calls)}")
    finally:
        for stack in kept:
            stack_rm(c, stack)
        remove_label(c, f"fgform.lineage={setup.lineage}")
        if image:
            remove_image_everywhere(c, image)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
