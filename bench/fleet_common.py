"""Shared pieces of the fleet benchmarks (fleet_apply_bench, fleet_refresh_bench,
fleet_scale_bench): the test image, fgform configurations, running the CLI, counting
Docker API calls, and cleaning up by label.

Every object a benchmark makes is found again by label and removed in a `finally`:
fgform's task containers by `fgform.cluster=<cluster>`, the cluster network by name, the
SDK floor's objects by `fgbench.run=<id>`, docker-compose's by its project label.
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import docker
from docker.errors import APIError, ImageNotFound, NotFound

# The same tiny busybox httpd image as the integration tests (same Dockerfile, so the build
# is a cache hit when they ran), under the benchmarks' own tag.
IMAGE = "fgform-bench/httpd:1"
DOCKERFILE = (
    "FROM debian:bookworm-slim\n"
    "RUN apt-get update && apt-get install -y --no-install-recommends busybox "
    "&& rm -rf /var/lib/apt/lists/* && mkdir /www && echo ok > /www/index.html\n"
    'CMD ["busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]\n'
)
HEALTH_CMD = "busybox wget -q -O /dev/null http://127.0.0.1:8080/ || exit 1"
# A task's start script (base64-encoded into its command by the benches): it serves its own
# hostname on 8080, so a response tells which task answered, and /health for checks.
HTTPD_START = """\
mkdir -p /www
hostname > /www/index.html
echo ok > /www/health
exec busybox httpd -f -p 8080 -h /www
"""
# Every second; 5 s timeout, 3 retries: on a loaded 2-CPU machine a 2 s timeout turned a
# task of 50 unhealthy now and then (the check's exec waits for the engine).

FGFORM = [sys.executable, "-m", "fgform"]  # what the `fgform` console script runs
RUN_LABEL = "fgbench.run"
API_VERSION = os.environ.get("DOCKER_API_VERSION") or "1.41"


def client() -> docker.DockerClient:
    return docker.DockerClient(base_url=os.environ.get("DOCKER_HOST")
                               or "unix:///var/run/docker.sock",
                               version=API_VERSION, timeout=300, max_pool_size=32)


def ensure_image(c: docker.DockerClient) -> str:
    """Build the benchmark image once (untimed); later runs find it by tag."""
    try:
        c.api.inspect_image(IMAGE)
    except ImageNotFound:
        print(f"building {IMAGE} (once)", file=sys.stderr)
        c.images.build(fileobj=io.BytesIO(DOCKERFILE.encode()), tag=IMAGE, rm=True,
                       forcerm=True)
    return IMAGE


def run_id() -> str:
    return f"fgb{uuid.uuid4().hex[:8]}"


def free_subnet(c: docker.DockerClient, prefix: int = 23) -> str:
    """A random 10.214.x.0/<prefix> that no Docker network on the engine overlaps."""
    used = []
    for net in c.api.networks():
        for cfg in (net.get("IPAM") or {}).get("Config") or []:
            with contextlib.suppress(ValueError, TypeError):
                used.append(ipaddress.ip_network(cfg.get("Subnet"), strict=False))
    step = 2 ** (32 - prefix)
    for _ in range(200):
        if step >= 256:
            third = random.randrange(0, 256, step // 256)
            cand = ipaddress.ip_network(f"10.214.{third}.0/{prefix}")
        else:
            cand = ipaddress.ip_network(
                f"10.214.{random.randrange(256)}.{random.randrange(0, 256, step)}/{prefix}")
        if not any(cand.overlaps(u) for u in used):
            return str(cand)
    raise RuntimeError("no free subnet in 10.214.0.0/16")


# -- clean-up ----------------------------------------------------------------------------------
def remove_by_label(c: docker.DockerClient, label: str, networks: bool = True) -> int:
    """Force-remove every container (then network) carrying `label` (`key=value`)."""
    filters = {"label": [label]}
    rows = c.api.containers(all=True, filters=filters)
    for row in rows:
        with contextlib.suppress(NotFound, APIError):
            c.api.remove_container(row["Id"], force=True)
    if networks:
        for net in c.api.networks(filters=filters):
            remove_network(c, net["Id"])
    return len(rows)


def remove_network(c: docker.DockerClient, name: str) -> None:
    """Remove a network; retried for a while, as endpoints of containers just removed may
    linger a moment ("has active endpoints")."""
    for _ in range(20):
        try:
            c.api.remove_network(name)
            return
        except NotFound:
            return
        except APIError as exc:
            last = exc
            time.sleep(0.5)
    print(f"warning: could not remove network {name}: {last}", file=sys.stderr)


def cleanup_fgform_cluster(c: docker.DockerClient, cluster: str) -> None:
    """Everything fgform made for cluster `cluster`: its task containers, then its network."""
    remove_by_label(c, f"fgform.cluster={cluster}", networks=False)
    remove_network(c, f"fgform-{cluster}")


# -- fgform configurations -----------------------------------------------------------------------
def service_config(cluster: str, cidr: str, *, services: dict[str, int], memory: int = 64,
                   cpu: int = 128, instances: int = 2, instance_cpu: int = 4096,
                   instance_memory: int = 4096, count_var: bool = False,
                   health_interval: int = 1) -> str:
    """A cluster, one task definition (busybox httpd, health check every `health_interval`
    seconds) and `services` (name -> desired_count). With `count_var`, every service's
    desired_count is `var.replicas` (default: the first service's count)."""
    default = next(iter(services.values()))
    out = [f'''variable "replicas" {{
  type    = number
  default = {default}
}}

resource "fg_cluster" "main" {{
  name       = "{cluster}"
  cidr_block = "{cidr}"
  capacity {{
    instance_count  = {instances}
    instance_cpu    = {instance_cpu}
    instance_memory = {instance_memory}
  }}
}}

resource "fg_task_definition" "web" {{
  family = "{cluster}-web"
  cpu    = {cpu}
  memory = {memory}

  container "web" {{
    image        = "{IMAGE}"
    stop_timeout = 2
    port_mapping {{
      container_port = 8080
    }}
    health_check {{
      command  = ["CMD-SHELL", "{HEALTH_CMD}"]
      interval = {health_interval}
      timeout  = 5
      retries  = 3
    }}
  }}
}}
''']
    for name, count in services.items():
        out.append(f'''
resource "fg_service" "{name}" {{
  name            = "{name}"
  cluster         = fg_cluster.main.id
  task_definition = fg_task_definition.web.arn
  desired_count   = {"var.replicas" if count_var else count}
}}
''')
    return "".join(out)


# -- running the CLI -----------------------------------------------------------------------------
# Runs fgform's CLI in-process with the Docker SDK's HTTP layer wrapped: every request the
# engine sees is recorded (method and path, ids folded) and written to $FGBENCH_CALLS at exit.
COUNTING_MAIN = r'''
import atexit, json, os, re, sys
import docker.api.client as _dc
_calls = []
_send = _dc.APIClient.send
def _counting_send(self, request, **kw):
    path = re.sub(r"^/v[0-9.]+", "", request.path_url.split("?")[0])
    path = re.sub(r"^/images/.+/json$", "/images/{id}/json", path)
    path = re.sub(r"/(containers|networks|exec)/(?!json$|create$|prune$)[^/]+",
                  r"/\1/{id}", path)
    _calls.append(f"{request.method} {path}")
    return _send(self, request, **kw)
_dc.APIClient.send = _counting_send
atexit.register(lambda: open(os.environ["FGBENCH_CALLS"], "w").write(json.dumps(_calls)))
from fgform.cli import main
sys.argv = ["fgform"] + sys.argv[1:]
main()
'''


class Run(NamedTuple):
    wall: float  # seconds, the whole process
    cpu: float  # user + system seconds of the process
    calls: Counter[str] | None  # Docker API requests by "METHOD /path", when counted
    out: str


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def state(d: Path) -> dict:
    """The state file an example run in `d` wrote (the default path)."""
    return json.loads((d / "state" / "default.fgstate.json").read_text())


def attrs(d: Path, rtype: str) -> dict:
    """The attributes of the first resource of type `rtype` in `d`'s state."""
    for r in state(d)["resources"]:
        if r["type"] == rtype:
            return r["instances"][0]["attributes"]
    raise KeyError(rtype)


def fgform(args: list[str], cwd: Path, *, count_calls: bool = False,
           check: bool = True) -> Run:
    """Run one fgform command in a fresh process, as a user does.

    With `count_calls` the CLI runs under COUNTING_MAIN (its cost is a regex per request)."""
    env = {**os.environ, "DOCKER_API_VERSION": API_VERSION}
    calls_file = None
    if count_calls:
        calls_file = cwd / f".calls-{uuid.uuid4().hex}.json"
        env["FGBENCH_CALLS"] = str(calls_file)
        argv = [sys.executable, "-c", COUNTING_MAIN, *args]
    else:
        argv = [*FGFORM, *args]
    c0, t0 = _cpu(), time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)
    wall, cpu = time.perf_counter() - t0, _cpu() - c0
    out = proc.stdout + proc.stderr
    if check and proc.returncode != 0:
        raise RuntimeError(f"fgform {' '.join(args)} exited {proc.returncode}:\n{out[-3000:]}")
    calls = None
    if calls_file is not None:
        with contextlib.suppress(FileNotFoundError):
            calls = Counter(json.loads(calls_file.read_text()))
            calls_file.unlink()
    return Run(wall, cpu, calls, out)


# -- the floor: the Docker SDK directly ------------------------------------------------------------
NS = 1_000_000_000


def sdk_launch(c: docker.DockerClient, n: int, network: str, rid: str, *, memory: int,
               cpu: int, timeout: float = 120) -> list[str]:
    """Create and start `n` containers on `network` in parallel (one thread each), with the
    settings fgform gives a task (init, memory and cpu limits, alias, health check every
    second), and return once Docker reported every one healthy (an event stream, no polling).
    """
    label = f"{RUN_LABEL}={rid}"
    healthy: set[str] = set()
    done = threading.Event()
    stream = c.api.events(filters={"type": "container", "label": [label]}, decode=True)

    def watch() -> None:
        with contextlib.suppress(Exception):  # the stream is closed at the end
            for ev in stream:
                if (ev.get("status") or ev.get("Action") or "").startswith(
                        "health_status: healthy"):
                    healthy.add(ev.get("id") or (ev.get("Actor") or {}).get("ID"))
                    if len(healthy) >= n:
                        done.set()
                        return

    threading.Thread(target=watch, daemon=True).start()
    names = [f"{rid}-{uuid.uuid4().hex[:8]}" for _ in range(n)]

    def one(name: str) -> str:
        host = c.api.create_host_config(
            init=True, network_mode=network, nano_cpus=int(cpu * NS / 1024),
            mem_limit=memory * 1024 * 1024, memswap_limit=memory * 1024 * 1024)
        cid = c.api.create_container(
            IMAGE, name=name, hostname=name[-8:], labels={RUN_LABEL: rid},
            healthcheck={"test": ["CMD-SHELL", HEALTH_CMD], "interval": NS,
                         "timeout": 5 * NS, "retries": 3, "start_period": 0},
            stop_timeout=2, host_config=host, detach=True,
            networking_config=c.api.create_networking_config(
                {network: c.api.create_endpoint_config(aliases=[name[-8:]])}))["Id"]
        c.api.start(cid)
        return cid

    try:
        with ThreadPoolExecutor(max_workers=n) as pool:
            ids = list(pool.map(one, names))
        if not done.wait(timeout):
            raise RuntimeError(f"floor: only {len(healthy)} of {n} healthy after {timeout} s")
        return ids
    finally:
        stream.close()


def sdk_remove(c: docker.DockerClient, ids: list[str]) -> None:
    """Stop (SIGTERM, 2 s grace) and remove containers, all in parallel."""
    def one(cid: str) -> None:
        c.api.stop(cid, timeout=2)
        c.api.remove_container(cid, force=True)

    with ThreadPoolExecutor(max_workers=max(1, len(ids))) as pool:
        list(pool.map(one, ids))


def sdk_network(c: docker.DockerClient, rid: str, cidr: str) -> str:
    name = f"{rid}-net"
    c.api.create_network(name, driver="bridge", labels={RUN_LABEL: rid},
                         ipam={"Driver": "default", "Config": [{"Subnet": cidr}]})
    return name


def healthy_count(c: docker.DockerClient, label: str) -> tuple[int, int]:
    """(healthy, total) containers carrying `label`: one list call."""
    rows = c.api.containers(all=True, filters={"label": [label]})
    return sum(1 for r in rows if "(healthy)" in (r.get("Status") or "")), len(rows)


# -- reporting -----------------------------------------------------------------------------------
def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def fmt_runs(xs: list[float]) -> str:
    return ", ".join(f"{x:.2f}" for x in xs)


def fmt_calls(calls: Counter[str] | None) -> str:
    if calls is None:
        return "?"
    return f"{sum(calls.values())} (" + ", ".join(
        f"{k} x{v}" for k, v in sorted(calls.items(), key=lambda kv: (-kv[1], kv[0]))) + ")"


def machine() -> dict[str, Any]:
    c = client()
    info = c.info()
    return {"cpus": os.cpu_count(), "engine": c.version().get("Version"),
            "storage": info.get("Driver"), "python": sys.version.split()[0],
            "load": os.getloadavg()[0]}


def load() -> float:
    """The 1-minute load average: other work on the machine shows in wall-clock figures."""
    return os.getloadavg()[0]
