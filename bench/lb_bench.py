"""Load balancer benchmarks (issue 8), on the real engine through the real CLI.

1. Throughput and p50/p99 latency through the load balancer (2 tasks behind it) against the
   same load sent straight to one task: closed loop, WORKERS connections, each request on a
   new connection, DURATION seconds each.
2. Zero failed requests while targets change: RPS requests a second (new connection each)
   while the service scales 2 -> 6 -> 2 -> 6 -> 2; requests sent, failed, p99, proxy reloads.
3. Time from a target failing its health check to the proxy no longer sending it traffic,
   against interval x unhealthy_threshold.

    python bench/lb_bench.py [--duration 10] [--workers 16] [--rps 300]

Everything is made in a fresh directory and destroyed at the end (then removed by lineage
label, whatever happened). Traffic goes to 127.0.0.1 and the cluster subnet only.
"""

from __future__ import annotations

import argparse
import base64
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from fleet_common import (  # noqa: E402
    FGFORM,
    HTTPD_START,
    attrs,
    client,
    ensure_image,
    free_subnet,
    machine,
    state,
)
from lb_load import Load  # noqa: E402

CONFIG = """
variable "replicas" {{
  type    = number
  default = 2
}}

resource "fg_cluster" "main" {{
  name       = "{name}"
  cidr_block = "{cidr}"
  capacity {{
    instance_count  = 2
    instance_cpu    = 2048
    instance_memory = 1024
  }}
}}

resource "fg_task_definition" "web" {{
  family = "{name}-web"
  cpu    = 128
  memory = 64
  container "web" {{
    image        = "{image}"
    command      = ["sh", "-c", "echo {start} | busybox base64 -d > /s.sh && exec sh /s.sh"]
    stop_timeout = 1
    port_mapping {{
      container_port = 8080
    }}
    health_check {{
      command  = ["CMD-SHELL", "busybox wget -q -O /dev/null http://127.0.0.1:8080/ || exit 1"]
      interval = 1
      retries  = 3
    }}
  }}
}}

resource "fg_target_group" "web" {{
  port                 = 8080
  deregistration_delay = 2
  health_check {{
    path                = "/health"
    interval            = {interval}
    unhealthy_threshold = {threshold}
  }}
}}

resource "fg_load_balancer" "front" {{
  cluster = fg_cluster.main.id
  listener {{
    port                 = {port}
    default_target_group = fg_target_group.web.id
  }}
}}

resource "fg_service" "web" {{
  name                 = "web"
  cluster              = fg_cluster.main.id
  task_definition      = fg_task_definition.web.arn
  desired_count        = var.replicas
  steady_state_timeout = 120
  load_balancer {{
    target_group   = fg_target_group.web.id
    container_name = "web"
    container_port = 8080
  }}
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fg(d: Path, *args: str) -> str:
    proc = subprocess.run([*FGFORM, f"-chdir={d}", *args], capture_output=True, text=True,
                          timeout=600)
    if proc.returncode != 0:
        raise SystemExit(f"fgform {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def reloads(container) -> int:
    from fgform.fleet.docker.proxy import reload_counts

    return reload_counts(container)[0]


def wait_serving(url: str, hosts: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = set()
        try:
            for _ in range(4 * hosts):
                with urllib.request.urlopen(url, timeout=2) as r:
                    seen.add(r.read().decode().strip())
        except OSError:
            seen = set()
        if len(seen) == hosts:
            return
        time.sleep(0.3)
    raise SystemExit(f"{url} did not answer from {hosts} tasks")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--rps", type=float, default=300)
    ap.add_argument("--interval", type=int, default=1)
    ap.add_argument("--threshold", type=int, default=2)
    args = ap.parse_args()
    c = client()
    image = ensure_image(c)
    d = Path(tempfile.mkdtemp(prefix="lb-bench-"))
    port = free_port()
    name = f"lbb{int(time.time()) % 100000}"
    (d / "main.tf").write_text(CONFIG.format(
        name=name, cidr=free_subnet(c, 24), image=image, port=port,
        start=base64.b64encode(HTTPD_START.encode()).decode(), interval=args.interval,
        threshold=args.threshold))
    url = f"http://127.0.0.1:{port}/"
    lineage = None
    print(f"machine: {machine()}")
    try:
        fg(d, "apply", "-auto-approve")
        lineage = state(d)["lineage"]
        wait_serving(url, 2)
        proxy = c.containers.get(attrs(d, "fg_load_balancer")["id"])
        task = attrs(d, "fg_service")["tasks"][0]

        # 1. throughput and latency, through the proxy and straight to one task.
        Load(url, rps=None, workers=args.workers).run_for(2)  # warm-up
        via = Load(url, rps=None, workers=args.workers).run_for(args.duration)
        direct = Load(f"http://{task['address']}:8080/", rps=None,
                      workers=args.workers).run_for(args.duration)
        print(f"1. through the load balancer (2 tasks): {via.summary()}")
        print(f"   straight to one task:               {direct.summary()}")
        print(f"   ratio: {via.rate / direct.rate:.0%} of direct throughput")

        # 2. scaling under constant load.
        before = reloads(proxy)
        load = Load(url, rps=args.rps, workers=24).start()
        steps = []
        for count in (6, 2, 6, 2):
            t0 = time.monotonic()
            fg(d, "apply", "-auto-approve", "-var", f"replicas={count}")
            steps.append(f"->{count} {time.monotonic() - t0:.1f}s")
        res = load.stop()
        print(f"2. scale 2 {' '.join(steps)} at {args.rps:.0f} req/s: {res.summary()}; "
              f"failed {res.failed} {res.errors or ''}; reloads {reloads(proxy) - before}")

        # 3. a target failing its health check.
        wait_serving(url, 2)
        victim = attrs(d, "fg_service")["tasks"][0]
        container = next(x for x in c.containers.list(
            filters={"label": f"fgform.task-id={victim['id']}"}))
        host = container.attrs["Config"]["Hostname"]
        container.exec_run(["rm", "/www/health"])
        t0 = last = time.monotonic()
        while time.monotonic() - t0 < args.interval * args.threshold + 5:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.read().decode().strip() == host:
                    last = time.monotonic()
            time.sleep(0.01)
        print(f"3. failing target out of rotation after {last - t0:.2f} s "
              f"(interval {args.interval} s x unhealthy_threshold {args.threshold} = "
              f"{args.interval * args.threshold} s)")
    finally:
        try:
            fg(d, "destroy", "-auto-approve")
        finally:
            if lineage:
                from fleet_common import remove_by_label

                remove_by_label(c, f"fgform.lineage={lineage}")
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
