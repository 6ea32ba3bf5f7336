"""Time `fgform validate` on generated 100 / 1,000 / 5,000-resource configurations,
cold (no parse cache) and warm (cache filled), as a user runs it: a fresh process each time.
The parse cache goes to a temporary XDG_CACHE_HOME (removed afterwards), not the user's.
Target: warm 1,000 under 0.7 s, and cost linear in the size (the ms/res column flat).

    python bench/validate_bench.py [SIZES...]     # default: 100 1000 5000
"""

from __future__ import annotations

import ast
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from gen_config import generate  # noqa: E402

HEAVY = ("docker", "jinja2", "deepdiff", "lark", "hcl2", "requests")


# As installed for a user, with bytecode caches: PYTHONDONTWRITEBYTECODE (set in some
# sandboxes) would make every run compile fgform's modules again (~0.1-0.2 s a process).
ENV = {k: v for k, v in os.environ.items()
       if k not in ("PYTHONDONTWRITEBYTECODE", "FGFORM_NO_CACHE")}


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(dirpath: Path) -> tuple[float, float]:
    """(wall, cpu) seconds of one `fgform validate` process (what the console script runs)."""
    c0, t0 = _cpu(), time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "fgform", f"-chdir={dirpath}", "validate"],
                          capture_output=True, text=True, env=ENV)
    elapsed, cpu = time.perf_counter() - t0, _cpu() - c0
    if proc.returncode != 0:
        raise SystemExit(f"validate failed:\n{proc.stdout}\n{proc.stderr}")
    return elapsed, cpu


def imported(dirpath: Path, names: tuple[str, ...]) -> list[str]:
    """Which of these top-level packages a warm `fgform validate` imports (should be none)."""
    code = ("import sys; sys.argv = ['fgform', '-chdir=' + sys.argv[1], 'validate']\n"
            "from fgform.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            f"print(sorted(n for n in {names!r} if n in sys.modules), file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code, str(dirpath)], capture_output=True,
                          text=True, env=ENV)
    return ast.literal_eval(proc.stderr.strip().splitlines()[-1])  # what we printed


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [100, 1000, 5000]
    print("wall seconds, (cpu seconds) in brackets; warm = median of 5 runs")
    print(f"{'resources':>10} {'cold s (cpu)':>15} {'warm s (cpu)':>15} {'warm ms/res':>12}")
    heavy: list[str] = []
    cache_home = tempfile.mkdtemp(prefix="fgbench-cache-")
    ENV["XDG_CACHE_HOME"] = cache_home
    try:
        for n in sizes:
            heavy = bench_size(n, heavy)
    finally:
        shutil.rmtree(cache_home, ignore_errors=True)
    print(f"heavy packages imported by a warm validate: {', '.join(heavy) or 'none'}")


def bench_size(n: int, heavy: list[str]) -> list[str]:
    """Print one row; returns the heavy packages a warm run imported (checked once)."""
    d = Path(tempfile.mkdtemp(prefix=f"fgbench{n}-"))
    try:
        generate(n, d)
        cw, cc = run(d)
        runs = [run(d) for _ in range(5)]
        ww, wc = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
        print(f"{n:>10} {cw:>7.2f} ({cc:>5.2f}) {ww:>7.2f} ({wc:>5.2f}) "
              f"{ww / n * 1000:>12.3f}")
        return heavy or imported(d, HEAVY)
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
