"""Apply of a 10-task service from nothing to every task healthy (issue 4, figure 1).

    python bench/fleet_apply_bench.py                 # 3 runs each, 10 tasks
    python bench/fleet_apply_bench.py --repeat 5 --tasks 10
    python bench/fleet_apply_bench.py --no-compose    # skip docker-compose

Three ways of doing the same work, each timed from nothing to all tasks healthy, runs
interleaved (floor, compose, fgform, floor, ...) so engine noise hits all three alike:

- floor: the Docker SDK directly, in this process: create the bridge network, create and
  start the containers in parallel (10 threads) with the same settings fgform uses (init,
  memory and cpu limits, network alias, health check every second), and wait for Docker's
  `health_status: healthy` event of every one (an event stream, no polling).
- compose: Debian's docker-compose 1.29 (installed with apt-get when missing):
  `docker-compose up -d --scale web=N` of the same image, limits and health check on a
  network with its own subnet, then a list call every 0.1 s until all N report healthy.
- fgform: `fgform apply -auto-approve` in a fresh process of a configuration with a cluster
  (its network), a task definition and a service with desired_count = N, from empty state.
  The image is a plain local image name (built once before timing, not part of the figure);
  there is no fg_registry / fg_image. As in plan_bench.py, an untimed `fgform validate`
  first fills fgform's parse cache (`.fgform/`), as any earlier command leaves it; a second
  row times the same apply with a cold cache.

Each run is cleaned up (label-filtered) before the next, untimed; everything is removed
at the end even when a run fails. Targets: fgform < 1.5 x floor, and faster than compose.
Finally one more fgform apply runs with its Docker API calls counted.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import fleet_common as F  # noqa: E402

MEMORY = 64  # MiB per task
CPU = 128  # CPU units per task (1024 = one core)


# -- the floor: the Docker SDK directly ------------------------------------------------------------
def floor_run(c, n: int) -> float:
    rid = F.run_id()
    cidr = F.free_subnet(c, 24)
    try:
        t0 = time.perf_counter()
        net = F.sdk_network(c, rid, cidr)
        F.sdk_launch(c, n, net, rid, memory=MEMORY, cpu=CPU)
        return time.perf_counter() - t0
    finally:
        F.remove_by_label(c, f"{F.RUN_LABEL}={rid}")


# -- docker-compose --------------------------------------------------------------------------------
COMPOSE_FILE = """version: "2.4"
services:
  web:
    image: {image}
    init: true
    mem_limit: {memory}m
    memswap_limit: {memory}m
    cpus: {cpus}
    stop_grace_period: 2s
    healthcheck:
      test: ["CMD-SHELL", "{health}"]
      interval: 1s
      timeout: 5s
      retries: 3
networks:
  default:
    ipam:
      config:
        - subnet: {cidr}
"""


def ensure_compose() -> str:
    exe = shutil.which("docker-compose")
    if exe is None:
        print("installing docker-compose (apt-get)", file=sys.stderr)
        env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
        subprocess.run(["apt-get", "install", "-y", "-qq", "docker-compose"], check=True,
                       env=env, capture_output=True)
        exe = shutil.which("docker-compose")
    if exe is None:
        raise RuntimeError("docker-compose is not installed")
    return exe


def compose_run(c, exe: str, n: int, workdir: Path) -> float:
    project = F.run_id()
    d = workdir / project
    d.mkdir()
    (d / "docker-compose.yml").write_text(COMPOSE_FILE.format(
        image=F.IMAGE, memory=MEMORY, cpus=CPU / 1024, health=F.HEALTH_CMD,
        cidr=F.free_subnet(c, 24)))
    label = f"com.docker.compose.project={project}"
    try:
        t0 = time.perf_counter()
        subprocess.run([exe, "-p", project, "up", "-d", "--scale", f"web={n}"], cwd=d,
                       check=True, capture_output=True, stdin=subprocess.DEVNULL)
        while True:
            ok, total = F.healthy_count(c, label)
            if ok >= n:
                break
            if time.perf_counter() - t0 > 120:
                raise RuntimeError(f"compose: only {ok} of {n} healthy after 120 s")
            time.sleep(0.1)
        return time.perf_counter() - t0
    finally:
        F.remove_by_label(c, label)


# -- fgform --------------------------------------------------------------------------------------
def fgform_run(c, n: int, workdir: Path, count_calls: bool = False, warm: bool = True):
    cluster = F.run_id()
    d = workdir / cluster
    d.mkdir()
    (d / "main.tf").write_text(F.service_config(
        cluster, F.free_subnet(c, 24), services={"web": n}, memory=MEMORY, cpu=CPU))
    if warm:
        F.fgform(["validate"], d)  # untimed: fills the parse cache (.fgform/)
    try:
        run = F.fgform(["apply", "-auto-approve", "-no-color"], d, count_calls=count_calls)
        ok, total = F.healthy_count(c, f"fgform.cluster={cluster}")
        if ok != n:
            raise RuntimeError(f"fgform: {ok} of {total} tasks healthy after apply:\n{run.out}")
        return run
    finally:
        F.cleanup_fgform_cluster(c, cluster)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-compose", action="store_true")
    args = ap.parse_args()

    c = F.client()
    F.ensure_image(c)
    exe = None if args.no_compose else ensure_compose()
    n = args.tasks
    floor: list[float] = []
    compose: list[float] = []
    fg: list[float] = []
    fg_cpu: list[float] = []
    fg_cold: list[float] = []
    loads: list[float] = []
    with tempfile.TemporaryDirectory(prefix="fgbench-apply-") as tmp:
        work = Path(tmp)
        # One untimed warm-up of each path (page cache, Python bytecode, compose's imports).
        floor_run(c, n)
        fgform_run(c, n, work)
        if exe:
            compose_run(c, exe, n, work)
        for i in range(args.repeat):
            floor.append(floor_run(c, n))
            if exe:
                compose.append(compose_run(c, exe, n, work))
            run = fgform_run(c, n, work)
            fg.append(run.wall)
            fg_cpu.append(run.cpu)
            fg_cold.append(fgform_run(c, n, work, warm=False).wall)
            print(f"run {i + 1}: floor {floor[-1]:.2f} s"
                  + (f", compose {compose[-1]:.2f} s" if exe else "")
                  + f", fgform {fg[-1]:.2f} s", file=sys.stderr)
            loads.append(F.load())
        calls = fgform_run(c, n, work, count_calls=True).calls

    m = F.machine()
    print(f"\n## Apply: {n}-task service from nothing to all healthy "
          f"(median of {args.repeat}; {m['cpus']} CPUs, engine {m['engine']}, "
          f"{m['storage']}; load average {min(loads):.1f}-{max(loads):.1f})\n")
    print("| way | median s | runs s | vs floor |")
    print("|---|---|---|---|")
    fm = F.median(floor)
    print(f"| floor (Docker SDK, parallel, health events) | {fm:.2f} | {F.fmt_runs(floor)} "
          "| 1.00x |")
    if exe:
        cm = F.median(compose)
        print(f"| docker-compose 1.29 `up -d --scale web={n}` + poll | {cm:.2f} | "
              f"{F.fmt_runs(compose)} | {cm / fm:.2f}x |")
    gm = F.median(fg)
    print(f"| `fgform apply -auto-approve` | {gm:.2f} | {F.fmt_runs(fg)} | {gm / fm:.2f}x |")
    gc = F.median(fg_cold)
    print(f"| the same, cold parse cache (no `validate` before) | {gc:.2f} | "
          f"{F.fmt_runs(fg_cold)} | {gc / fm:.2f}x |")
    print()
    print(f"fgform / floor = {gm / fm:.2f} (target < 1.5): "
          f"{'MET' if gm / fm < 1.5 else 'MISSED'}")
    if exe:
        print(f"fgform / compose = {gm / cm:.2f} (target < 1): "
              f"{'MET' if gm < cm else 'MISSED'}")
    print(f"fgform apply CPU (user+sys of the process), median: {F.median(fg_cpu):.2f} s")
    print(f"fgform apply Docker API calls: {F.fmt_calls(calls)}")


if __name__ == "__main__":
    main()
