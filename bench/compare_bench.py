"""Two fgform trees timed against each other, interleaved: median CPU seconds per command.

On a shared machine wall time swings several-fold with other people's load; CPU seconds of
one process swing less, and alternating old/new runs spreads the remaining drift over both.
Each figure is one fresh `python -m fgform` process, the tree given first on PYTHONPATH.

    git worktree add /tmp/base c6dae9b
    python bench/compare_bench.py validate /tmp/base . [--rounds 11] [--cold] [SIZES...]
    python bench/compare_bench.py show-json /tmp/base . [--rounds 15] [SIZES...]

validate: warm (parse cache filled before timing) or --cold (every cache removed before each
run: `<config>/.fgform` of older trees, the temporary XDG_CACHE_HOME of newer ones).
show-json: `show -json` of a plan each tree saved itself (`plan -out`) from the same config.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from gen_config import generate  # noqa: E402

ENV = {k: v for k, v in os.environ.items()
       if k not in ("PYTHONDONTWRITEBYTECODE", "FGFORM_NO_CACHE", "PYTHONPATH")}


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def fgform(tree: str, cache: Path, *args: str) -> float:
    """CPU seconds of one fgform process run from `tree`."""
    env = dict(ENV, PYTHONPATH=tree, XDG_CACHE_HOME=str(cache))
    c0 = _cpu()
    proc = subprocess.run([sys.executable, "-m", "fgform", *args], capture_output=True,
                          text=True, env=env, cwd=tree)
    if proc.returncode != 0:
        raise SystemExit(f"fgform {' '.join(args)} failed in {tree}:\n{proc.stderr}")
    return _cpu() - c0


def compare(n: int, rounds: int, old: str, new: str, what: str, cold: bool) -> None:
    base = Path(tempfile.mkdtemp(prefix=f"fgcompare{n}-"))
    try:
        trees = {"old": old, "new": new}
        cache = base / "xdg"
        dirs = {}
        for k, tree in trees.items():
            dirs[k] = base / k
            dirs[k].mkdir()
            generate(n, dirs[k])
            # Untimed: fills the caches and bytecode, and saves each tree's own plan.
            fgform(tree, cache, f"-chdir={dirs[k]}", "validate")
            if what == "show-json":
                fgform(tree, cache, f"-chdir={dirs[k]}", "plan", "-out=bench.plan")
        args = ["validate"] if what == "validate" else ["show", "-json", "bench.plan"]
        times: dict[str, list[float]] = {"old": [], "new": []}
        for r in range(rounds):
            for k in ("old", "new") if r % 2 == 0 else ("new", "old"):
                if cold:
                    shutil.rmtree(dirs[k] / ".fgform", ignore_errors=True)
                    shutil.rmtree(cache, ignore_errors=True)
                times[k].append(fgform(trees[k], cache, f"-chdir={dirs[k]}", *args))
        o, w = statistics.median(times["old"]), statistics.median(times["new"])
        label = what + (" cold" if cold else "" if what != "validate" else " warm")
        print(f"{label:>14} {n:>6}: old {o:.3f}  new {w:.3f}  new/old {w / o:.3f}  "
              f"(min {min(times['old']):.3f} / {min(times['new']):.3f})", flush=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["validate", "show-json"])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("sizes", nargs="*", type=int)
    ap.add_argument("--rounds", type=int, default=11)
    ap.add_argument("--cold", action="store_true")
    a = ap.parse_intermixed_args()
    sizes = a.sizes or ([100, 1000, 5000] if a.what == "validate" else [1000])
    for n in sizes:
        compare(n, a.rounds, os.path.abspath(a.old), os.path.abspath(a.new), a.what, a.cold)


if __name__ == "__main__":
    main()
