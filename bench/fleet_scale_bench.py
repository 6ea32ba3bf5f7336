"""Scaling a service from 10 to 50 tasks and back (issue 4, figure 3).

    python bench/fleet_scale_bench.py                  # 10 -> 50 -> 10, 3 times
    python bench/fleet_scale_bench.py --low 10 --high 50 --repeat 3

One cluster, the task definition of fleet_apply_bench (busybox httpd, 32 MiB, 128 cpu
units, a health check every --health-interval seconds, 1 by default) and a service whose
desired_count is `var.replicas`. After an untimed `apply -var replicas=LOW`, each round times
`fgform apply -auto-approve -var replicas=HIGH` (scale-out: apply returns once every new
task is healthy) and `-var replicas=LOW` (scale-in: the surplus tasks stopped and removed),
each a fresh process with its Docker API calls counted (a patched `APIClient.send` in the
fgform process, bench only).

For scale: the floor of the same engine work with the Docker SDK, on its own network with
LOW containers running: create + start HIGH-LOW containers in parallel and wait for Docker's
`health_status: healthy` event of each, then stop (2 s grace) + remove them in parallel.

Everything is removed at the end (labels `fgform.cluster=<cluster>` and `fgbench.run=<id>`,
and both networks), even when a step fails.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import fleet_common as F  # noqa: E402

MEMORY = 32
CPU = 128


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--low", type=int, default=10)
    ap.add_argument("--high", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--health-interval", type=int, default=1)
    ap.add_argument("--no-floor", action="store_true")
    args = ap.parse_args()

    c = F.client()
    F.ensure_image(c)
    cluster = F.run_id()
    rid = F.run_id()
    label = f"fgform.cluster={cluster}"
    out_runs: list[F.Run] = []
    in_runs: list[F.Run] = []
    floor_out: list[float] = []
    floor_in: list[float] = []
    loads: list[float] = []
    try:
        with tempfile.TemporaryDirectory(prefix="fgbench-scale-") as tmp:
            d = Path(tmp)
            (d / "main.tf").write_text(F.service_config(
                cluster, F.free_subnet(c, 23), services={"web": args.low}, memory=MEMORY,
                cpu=CPU, instances=2, instance_cpu=8192, instance_memory=8192,
                count_var=True, health_interval=args.health_interval))
            F.fgform(["apply", "-auto-approve", "-no-color"], d)
            net = None
            if not args.no_floor:
                net = F.sdk_network(c, rid, F.free_subnet(c, 23))
                F.sdk_launch(c, args.low, net, rid, memory=MEMORY, cpu=CPU)
            for i in range(args.repeat):
                for want, runs in ((args.high, out_runs), (args.low, in_runs)):
                    run = F.fgform(["apply", "-auto-approve", "-no-color", "-var",
                                    f"replicas={want}"], d, count_calls=True)
                    ok, total = F.healthy_count(c, label)
                    if (ok, total) != (want, want):
                        raise RuntimeError(f"after scaling to {want}: {ok} healthy of "
                                           f"{total}:\n{run.out[-3000:]}")
                    runs.append(run)
                if net is not None:
                    t0 = time.perf_counter()
                    ids = F.sdk_launch(c, args.high - args.low, net, rid, memory=MEMORY,
                                       cpu=CPU)
                    t1 = time.perf_counter()
                    F.sdk_remove(c, ids)
                    t2 = time.perf_counter()
                    floor_out.append(t1 - t0)
                    floor_in.append(t2 - t1)
                loads.append(F.load())
                print(f"round {i + 1}: out {out_runs[-1].wall:.2f} s, in {in_runs[-1].wall:.2f} s"
                      + (f"; floor out {floor_out[-1]:.2f} s, in {floor_in[-1]:.2f} s"
                         if net else ""), file=sys.stderr)
    finally:
        F.cleanup_fgform_cluster(c, cluster)
        F.remove_by_label(c, f"{F.RUN_LABEL}={rid}")

    m = F.machine()
    n = args.high - args.low
    print(f"\n## Scaling a service {args.low} -> {args.high} -> {args.low} tasks (median of "
          f"{args.repeat}; health check every {args.health_interval} s; {m['cpus']} CPUs, "
          f"engine {m['engine']}; load average {min(loads):.1f}-{max(loads):.1f})\n")
    print("| step | `fgform apply` wall s | runs s | CPU s | Docker API calls | SDK floor s "
          "| vs floor |")
    print("|---|---|---|---|---|---|---|")
    for name, runs, floor in ((f"scale out {args.low} -> {args.high} (+{n}, until healthy)",
                               out_runs, floor_out),
                              (f"scale in {args.high} -> {args.low} (-{n})", in_runs,
                               floor_in)):
        w = F.median([r.wall for r in runs])
        fl = F.median(floor) if floor else float("nan")
        print(f"| {name} | {w:.2f} | {F.fmt_runs([r.wall for r in runs])} | "
              f"{F.median([r.cpu for r in runs]):.2f} | {F.fmt_calls(runs[-1].calls)} | "
              f"{fl:.2f} | {w / fl:.2f}x |")


if __name__ == "__main__":
    main()
