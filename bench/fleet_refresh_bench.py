"""A no-op `fgform plan` with 200 running tasks (issue 4, figure 2).

    python bench/fleet_refresh_bench.py                      # 4 services x 5, then x 50
    python bench/fleet_refresh_bench.py --services 4 --sizes 5 50 --repeat 5

One cluster (/23 subnet, 4 instances), one task definition (busybox httpd, 16 MiB, 64 cpu
units, a health check every --health-interval seconds: 30 by default, so 200 health checks
do not load the engine while the plan is timed) and --services services whose
desired_count is `var.replicas`. For each size (tasks per service, ascending) the fleet is
applied (untimed), then:

- `fgform plan -var replicas=N` in a fresh process, the whole process timed (wall), median
  of --repeat runs, with the output checked to say "No changes.";
- the same with `-refresh=false`, to show what the refresh itself costs;
- one more run with the Docker SDK's HTTP layer wrapped (bench only: `APIClient.send` is
  patched in the fgform process) to count every request the plan makes to the engine;
- `workflow.read_live` in this process (imports and state read excluded), median.

The call counts of the sizes must be equal: refresh makes a constant number of Docker API
calls. Target: the 200-task plan under 1 s. Everything is removed at the end (label
`fgform.cluster=<cluster>`, and the cluster network), even when a step fails.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import fleet_common as F  # noqa: E402


def read_live_seconds(d: Path, replicas: int, repeat: int) -> float:
    from fgform import workflow
    from fgform.fleet.docker.fleet import DockerFleet

    wd = workflow.open_working_dir(d, [("var", f"replicas={replicas}")])
    state = wd.store.read()
    fleet = DockerFleet()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        live = workflow.read_live(fleet, d, state)
        times.append(time.perf_counter() - t0)
    assert live, "read_live returned nothing"
    return F.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--services", type=int, default=4)
    ap.add_argument("--sizes", type=int, nargs="+", default=[5, 50],
                    help="tasks per service, ascending (default: 5 50)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--health-interval", type=int, default=30)
    args = ap.parse_args()

    c = F.client()
    F.ensure_image(c)
    cluster = F.run_id()
    rows = []
    loads: list[float] = []
    try:
        with tempfile.TemporaryDirectory(prefix="fgbench-refresh-") as tmp:
            d = Path(tmp)
            services = {f"web{i}": args.sizes[0] for i in range(args.services)}
            (d / "main.tf").write_text(F.service_config(
                cluster, F.free_subnet(c, 23), services=services, memory=16, cpu=64,
                instances=4, instance_cpu=4096, instance_memory=4096, count_var=True,
                health_interval=args.health_interval))
            for size in args.sizes:
                var = ["-var", f"replicas={size}"]
                t0 = time.perf_counter()
                F.fgform(["apply", "-auto-approve", "-no-color", *var], d)
                applied = time.perf_counter() - t0
                ok, total = F.healthy_count(c, f"fgform.cluster={cluster}")
                tasks = size * args.services
                print(f"{tasks} tasks applied in {applied:.1f} s ({ok} healthy)",
                      file=sys.stderr)
                if total != tasks:
                    raise RuntimeError(f"expected {tasks} containers, found {total}")
                plan, norefresh = [], []
                for _ in range(args.repeat):
                    run = F.fgform(["plan", "-no-color", *var], d)
                    if "No changes." not in run.out:
                        raise RuntimeError(f"plan is not a no-op:\n{run.out[-3000:]}")
                    plan.append(run)
                    norefresh.append(F.fgform(["plan", "-no-color", "-refresh=false", *var], d))
                    loads.append(F.load())
                calls = F.fgform(["plan", "-no-color", *var], d, count_calls=True).calls
                rl = read_live_seconds(d, size, args.repeat)
                rows.append((tasks, plan, norefresh, calls, rl))
                print(f"{tasks} tasks: plan {F.median([r.wall for r in plan]):.2f} s, "
                      f"calls {F.fmt_calls(calls)}", file=sys.stderr)
    finally:
        F.cleanup_fgform_cluster(c, cluster)

    m = F.machine()
    print(f"\n## No-op plan with running tasks ({args.services} services; median of "
          f"{args.repeat}; {m['cpus']} CPUs, engine {m['engine']}; load average "
          f"{min(loads):.1f}-{max(loads):.1f})\n")
    print("| running tasks | `fgform plan` wall s (min) | CPU s | runs s "
          "| `-refresh=false` wall s (CPU) | read_live in-process | Docker API calls |")
    print("|---|---|---|---|---|---|---|")
    for tasks, plan, norefresh, calls, rl in rows:
        walls = [r.wall for r in plan]
        print(f"| {tasks} | {F.median(walls):.2f} ({min(walls):.2f}) | "
              f"{F.median([r.cpu for r in plan]):.2f} | {F.fmt_runs(walls)} | "
              f"{F.median([r.wall for r in norefresh]):.2f} "
              f"({F.median([r.cpu for r in norefresh]):.2f}) | {rl * 1000:.0f} ms | "
              f"{F.fmt_calls(calls)} |")
    print()
    counts = {sum(r[3].values()) if r[3] else None for r in rows}
    print(f"API calls constant across sizes: {'YES' if len(counts) == 1 else 'NO'} "
          f"({sorted(counts, key=str)})")
    big = F.median([r.wall for r in rows[-1][1]])
    print(f"plan with {rows[-1][0]} tasks: {big:.2f} s wall (target < 1 s): "
          f"{'MET' if big < 1 else 'MISSED'}")

if __name__ == "__main__":
    main()
