"""Cold and partly-warm `plan` of fgform beside Terraform, in one run (issue 11).

    python bench/cold_bench.py [SIZES...]           # default: 100 1000 5000
    python bench/cold_bench.py --repeat 5 1000       # median of 5 runs per figure (default 3)

Each size is the generator's mixed shape (task definitions, services, a cluster) in 10
files, planned from an empty state with `-refresh=false` (no fleet needed; Terraform's
`terraform_data` equivalent is planned the same way). Every figure is one fresh process,
as a user or a CI runner starts it:

- cold: no parse cache anywhere (a new, empty `XDG_CACHE_HOME` for every run), the first
  run on a fresh runner. Terraform: `plan` after `init` (it keeps no parse cache).
- one file changed, warm: the parse cache holds every file, then one of the ten files is
  changed (a new resource appended, as a pull request does) before each run. Terraform:
  the same change, the same plan.
- warm: nothing changed since the cache was filled.

Two floor rows show what no Python tool built on python-hcl2 (the parser the issue keeps)
can go below: a process that only starts Python, imports python-hcl2 (its parser as the
package ships it, built) and parses the ten files, or only the changed one; no evaluation,
no plan, no output. Where a floor's ratio is above a target, that target is out of reach
for any fgform that parses with python-hcl2 in a fresh process.

Wall seconds (median) and, in brackets, CPU seconds of the process and its children (the
parse workers included); `ratio` is fgform's wall time over Terraform's. Targets: cold at
most 0.75, one changed file at most 0.5.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from gen_config import generate, generate_terraform  # noqa: E402
from plan_bench import FG_ENV, TF_ENV, run  # noqa: E402

FGFORM = [sys.executable, "-m", "fgform"]
PLAN_FG = [*FGFORM, "plan", "-no-color", "-refresh=false"]
EXTRA = '''
resource "terraform_data" "extra{i}" {{
  input = {{ name = "extra{i}" }}
}}
'''
EXTRA_FG = '''
resource "fg_task_definition" "extra{i}" {{
  family = "extra{i}"
  container "web" {{
    image = "127.0.0.1:5000/app:1"
  }}
}}
'''


FLOOR_ALL = ("import glob, hcl2\n"
             "for f in sorted(glob.glob('*.tf')):\n"
             "    hcl2.loads(open(f).read())\n")
FLOOR_ONE = ("import glob, hcl2\n"
             "fs = sorted(glob.glob('*.tf'))\n"
             "hcl2.loads(open(fs[len(fs) // 2]).read())\n")


def _changer(d: Path, template: str):
    """A function that changes one of the ten files each time it is called (a new
    resource appended to it)."""
    target = sorted(d.glob("*.tf"))[len(list(d.glob("*.tf"))) // 2]
    original = target.read_text()
    count = [0]

    def change() -> None:
        count[0] += 1
        target.write_text(original + template.format(i=count[0]))
    return change


def bench(n: int, work: Path, repeat: int, tf: str | None) -> dict[str, dict[str, tuple]]:
    fgdir, tfdir = work / "fg", work / "tf"
    generate(n, fgdir)
    rows: dict[str, dict[str, tuple]] = {"cold": {}, "one file changed, warm": {},
                                         "warm": {}, "floor: parse all (cold)": {},
                                         "floor: parse one file": {}}
    for case, code in (("floor: parse all (cold)", FLOOR_ALL),
                       ("floor: parse one file", FLOOR_ONE)):
        run([sys.executable, "-c", code], fgdir, FG_ENV)  # python-hcl2's own parser built
        rows[case]["fgform"] = _median([run([sys.executable, "-c", code], fgdir, FG_ENV)
                                        for _ in range(repeat)])

    def cold_env() -> dict[str, str]:
        xdg = Path(tempfile.mkdtemp(prefix="xdg-", dir=work))
        return {**FG_ENV, "XDG_CACHE_HOME": str(xdg)}

    runs = []
    for _ in range(repeat):
        env = cold_env()
        runs.append(run(PLAN_FG, fgdir, env, ok=(0, 2)))
        shutil.rmtree(env["XDG_CACHE_HOME"])
    rows["cold"]["fgform"] = _median(runs)

    env = cold_env()
    run(PLAN_FG, fgdir, env, ok=(0, 2))
    change = _changer(fgdir, EXTRA_FG)
    runs = []
    for _ in range(repeat):
        change()
        runs.append(run(PLAN_FG, fgdir, env, ok=(0, 2)))
    rows["one file changed, warm"]["fgform"] = _median(runs)
    runs = [run(PLAN_FG, fgdir, env, ok=(0, 2)) for _ in range(repeat)]
    rows["warm"]["fgform"] = _median(runs)

    if tf:
        generate_terraform(n, tfdir)
        run([tf, "init", "-input=false", "-no-color"], tfdir, TF_ENV)
        plan = [tf, "plan", "-input=false", "-no-color", "-refresh=false"]
        rows["cold"]["terraform"] = _median([run(plan, tfdir, TF_ENV) for _ in range(repeat)])
        change = _changer(tfdir, EXTRA)
        runs = []
        for _ in range(repeat):
            change()
            runs.append(run(plan, tfdir, TF_ENV))
        rows["one file changed, warm"]["terraform"] = _median(runs)
        rows["warm"]["terraform"] = _median([run(plan, tfdir, TF_ENV) for _ in range(repeat)])
        rows["floor: parse all (cold)"]["terraform"] = rows["cold"]["terraform"]
        rows["floor: parse one file"]["terraform"] = rows["one file changed, warm"]["terraform"]
    return rows


def _median(runs: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("sizes", nargs="*", type=int, default=[100, 1000, 5000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-terraform", action="store_true")
    args = ap.parse_args()
    tf = None if args.no_terraform else (os.environ.get("TERRAFORM")
                                         or shutil.which("terraform"))
    print(f"cores: {os.cpu_count()}, repeat: {args.repeat}, terraform: {tf or 'none'}")
    print(f"{'resources':>9}  {'case':<26} {'fgform s (cpu)':>16} {'terraform s (cpu)':>18}"
          f" {'ratio':>6}")
    for n in args.sizes:
        work = Path(tempfile.mkdtemp(prefix=f"fgcold{n}-"))
        try:
            rows = bench(n, work, args.repeat, tf)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        for case, r in rows.items():
            fw, fc = r["fgform"]
            if "terraform" in r:
                tw, tc = r["terraform"]
                t = f"{tw:8.2f} ({tc:5.2f})"
                ratio = f"{fw / tw:6.2f}"
            else:
                t, ratio = f"{'-':>16}", "     -"
            print(f"{n:>9}  {case:<26} {fw:8.2f} ({fc:5.2f}) {t:>18} {ratio}", flush=True)


if __name__ == "__main__":
    main()
