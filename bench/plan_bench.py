"""Plan, apply and plan-JSON timings of fgform against Terraform on the same shapes (issue 3).

    python bench/plan_bench.py [SIZES...]          # default: 100 1000
    python bench/plan_bench.py --no-terraform 1000  # fgform only
    python bench/plan_bench.py --repeat 5 1000      # median of 5 runs per step (default 3)
    python bench/plan_bench.py --fgform "python /path/to/wrapper.py" 1000  # another fgform

Every figure is one real command line in a fresh process, as a user runs it:

- plan (empty state): `plan` of the generator's mixed shape (task definitions + services +
  a cluster) with no state yet. fgform's parse cache (`.fgform/`) is filled first by an
  untimed `validate`, as any earlier command leaves it; Terraform has no such cache.
- plan -out: the same plan saved to a file; show -json: that file as Terraform's JSON.
- apply: `apply -auto-approve` of N task definitions from empty state (fgform: the real
  CLI; `fg_task_definition` is pure state, no Docker object; Terraform: N `terraform_data`
  with the same attributes in `input`). Run once per size (each run needs an empty state).
- no-op plan: `plan` of that applied configuration, with refresh and with `-refresh=false`.

Terraform (`terraform` on PATH, or $TERRAFORM) runs offline: `terraform_data` belongs to the
built-in provider, so `terraform init` downloads nothing. Checkpoint calls are disabled.

Figures are wall-clock seconds (median of --repeat runs) and, in brackets, the CPU seconds
(user + system) the process used: on a busy machine the CPU figure is the steadier one.
The `ratio` column is fgform's wall time over Terraform's (target: <= 0.5).

A last table times the state store alone, in-process: N successive writes of a state that
grows by one task definition each time (what apply does), to show the per-write cost.
"""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from gen_config import generate, generate_terraform  # noqa: E402

FGFORM = [sys.executable, "-m", "fgform"]  # what the `fgform` console script runs
TF_ENV = {**os.environ, "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1", "TF_INPUT": "0"}
# As installed for a user, with bytecode caches: PYTHONDONTWRITEBYTECODE (set in some
# sandboxes) would make every run compile fgform's modules again (~0.1-0.2 s a process).
FG_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(argv: list[str], cwd: Path, env: dict[str, str] | None = None,
        ok: tuple[int, ...] = (0,)) -> tuple[float, float]:
    """(wall, cpu) seconds of one command; fail loudly on an unexpected exit code."""
    c0, t0 = _cpu(), time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)
    wall, cpu = time.perf_counter() - t0, _cpu() - c0
    if proc.returncode not in ok:
        raise SystemExit(f"{' '.join(argv)} (in {cwd}) exited {proc.returncode}:\n"
                         f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return wall, cpu


def median_run(argv: list[str], cwd: Path, repeat: int, env: dict[str, str] | None = None,
               ok: tuple[int, ...] = (0,)) -> tuple[float, float]:
    runs = [run(argv, cwd, env, ok) for _ in range(repeat)]
    return statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)


def fg(*args: str) -> list[str]:
    return [*FGFORM, *args]


def fgrun(args: list[str], cwd: Path, repeat: int = 0) -> tuple[float, float]:
    """One fgform run (repeat=0), or the median of `repeat` runs; exit 2 = "changes"."""
    if repeat:
        return median_run(args, cwd, repeat, FG_ENV)
    return run(args, cwd, FG_ENV)


def bench_fgform(n: int, work: Path, repeat: int) -> dict[str, tuple[float, float]]:
    out: dict[str, tuple[float, float]] = {}
    mixed, tds = work / "fg-mixed", work / "fg-td"
    generate(n, mixed)
    generate(n, tds, kind="task_definitions")
    fgrun(fg("validate"), mixed)  # fills the parse cache
    fgrun(fg("validate"), tds)
    out["plan (empty state)"] = fgrun(fg("plan", "-no-color"), mixed, repeat)
    out["plan -out"] = fgrun(fg("plan", "-no-color", "-out=bench.plan"), mixed, repeat)
    out["show -json (plan file)"] = fgrun(fg("show", "-json", "bench.plan"), mixed, repeat)
    out["apply (N task defs)"] = fgrun(fg("apply", "-auto-approve", "-no-color"), tds)
    # -detailed-exitcode: exit 0 only when there is nothing to do, so a no-op is checked.
    out["no-op plan"] = fgrun(fg("plan", "-no-color", "-detailed-exitcode"), tds, repeat)
    out["no-op plan -refresh=false"] = fgrun(
        fg("plan", "-no-color", "-refresh=false", "-detailed-exitcode"), tds, repeat)
    return out


def bench_terraform(tf: str, n: int, work: Path, repeat: int) -> dict[str, tuple[float, float]]:
    out: dict[str, tuple[float, float]] = {}
    mixed, tds = work / "tf-mixed", work / "tf-td"
    generate_terraform(n, mixed)
    generate_terraform(n, tds, kind="task_definitions")
    for d in (mixed, tds):
        run([tf, "init", "-input=false", "-no-color"], d, TF_ENV)
    # Terraform's plan exits 0 with -detailed-exitcode only when nothing changes; 2 = changes.
    out["plan (empty state)"] = median_run([tf, "plan", "-input=false", "-no-color"], mixed,
                                           repeat, TF_ENV)
    out["plan -out"] = median_run([tf, "plan", "-input=false", "-no-color", "-out=bench.plan"],
                                  mixed, repeat, TF_ENV)
    out["show -json (plan file)"] = median_run([tf, "show", "-json", "bench.plan"], mixed,
                                               repeat, TF_ENV)
    out["apply (N task defs)"] = run([tf, "apply", "-auto-approve", "-input=false", "-no-color"],
                                     tds, TF_ENV)
    out["no-op plan"] = median_run([tf, "plan", "-input=false", "-no-color",
                                    "-detailed-exitcode"], tds, repeat, TF_ENV)
    out["no-op plan -refresh=false"] = median_run(
        [tf, "plan", "-input=false", "-no-color", "-refresh=false", "-detailed-exitcode"], tds,
        repeat, TF_ENV)
    return out


def bench_state_writes(n: int, work: Path) -> tuple[float, float, float]:
    """Wall and CPU seconds for n writes of a state growing to n task definitions, and the
    last write's size in MB (what apply does: one atomic write after every finished
    operation). The writes themselves only: building the state is not timed."""
    from fgform.addresses import Address
    from fgform.state.model import InstanceState, StateFile
    from fgform.state.store import StateStore

    store = StateStore(work / "writes" / "default.fgstate.json")
    state = StateFile()
    wall = cpu = 0.0
    for i in range(n):
        attrs = {
            "family": f"app{i}", "cpu": 256, "memory": 128, "id": f"app{i}:1",
            "arn": f"app{i}:1", "revision": 1, "revisions": [],
            "container": [{
                "name": "web", "image": f"127.0.0.1:5000/app@sha256:{i:064x}",
                "environment": {"INDEX": str(i), "MODE": "bench"},
                "port_mapping": [{"container_port": 8080, "host_port": None}],
                "health_check": {"command": ["CMD-SHELL", "wget -q -O /dev/null "
                                             "http://127.0.0.1:8080/ || exit 1"],
                                 "interval": 2, "retries": 3, "timeout": 5},
            }],
        }
        state.set(Address("fg_task_definition", f"app{i}"), InstanceState(None, attrs))
        c0, t0 = time.process_time(), time.perf_counter()
        store.write(state)
        wall += time.perf_counter() - t0
        cpu += time.process_time() - c0
    return wall, cpu, store.path.stat().st_size / 1e6


STEPS = ["plan (empty state)", "plan -out", "show -json (plan file)", "apply (N task defs)",
         "no-op plan", "no-op plan -refresh=false"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sizes", nargs="*", type=int, default=[100, 1000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-terraform", action="store_true")
    ap.add_argument("--fgform", metavar="CMD", help="the fgform command line to time "
                    f"(default: {sys.executable} -m fgform)")
    args = ap.parse_args()
    if args.fgform:
        FGFORM[:] = shlex.split(args.fgform)
    tf = None if args.no_terraform else (os.environ.get("TERRAFORM") or shutil.which("terraform"))
    if not args.no_terraform and tf is None:
        print("terraform not found: fgform figures only (set $TERRAFORM)", file=sys.stderr)

    results: dict[int, tuple[dict, dict | None]] = {}
    for n in args.sizes:
        work = Path(tempfile.mkdtemp(prefix=f"fgplanbench{n}-"))
        try:
            fgr = bench_fgform(n, work, args.repeat)
            tfr = bench_terraform(tf, n, work, args.repeat) if tf else None
            results[n] = (fgr, tfr)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    print(f"{'step':<27} {'N':>5} {'fgform s (cpu)':>16} {'ms/res':>7} "
          f"{'terraform s (cpu)':>18} {'ratio':>6}")
    for step in STEPS:
        for n in args.sizes:
            fgr, tfr = results[n]
            w, c = fgr[step]
            line = f"{step:<27} {n:>5} {w:>7.2f} ({c:>5.2f}) {w / n * 1000:>7.2f}"
            if tfr:
                tw, tc = tfr[step]
                line += f" {tw:>8.2f} ({tc:>6.2f}) {w / tw:>6.2f}"
            print(line)

    print(f"\n{'state writes (in-process)':<27} {'N':>5} {'total s (cpu)':>15} "
          f"{'ms/write (cpu)':>16} {'last MB':>8}")
    for n in args.sizes:
        work = Path(tempfile.mkdtemp(prefix=f"fgstatebench{n}-"))
        try:
            wall, cpu, mb = bench_state_writes(n, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        print(f"{'':<27} {n:>5} {wall:>7.2f} ({cpu:>5.2f}) {wall / n * 1000:>7.2f} "
              f"({cpu / n * 1000:>6.2f}) {mb:>8.2f}")


if __name__ == "__main__":
    main()
