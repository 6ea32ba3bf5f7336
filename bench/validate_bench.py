"""Time `fgform validate` on generated 100 / 1,000 / 5,000-resource configurations,
cold (no parse cache) and warm (cache filled), as a user runs it: a fresh process each time.

    python bench/validate_bench.py [SIZES...]
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from gen_config import generate  # noqa: E402


def run(dirpath: Path) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "fgform", f"-chdir={dirpath}", "validate"],
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"validate failed:\n{proc.stdout}\n{proc.stderr}")
    return elapsed


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [100, 1000, 5000]
    print(f"{'resources':>10} {'cold s':>8} {'warm s':>8} {'warm ms/res':>12}")
    for n in sizes:
        d = Path(tempfile.mkdtemp(prefix=f"fgbench{n}-"))
        try:
            generate(n, d)
            cold = run(d)
            warm = statistics.median(run(d) for _ in range(3))
            print(f"{n:>10} {cold:>8.2f} {warm:>8.2f} {warm / n * 1000:>12.3f}")
        finally:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
