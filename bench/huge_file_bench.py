"""Time `fgform validate` on one huge generated file (issue 7): a single `locals` block of
85,000 values, about 5 MB, mixing strings, numbers, lists, objects and references to other
locals. Prints wall and CPU seconds and peak memory, cold (no parse cache) and warm, and
the same for `terraform validate` when Terraform is on PATH.
Target: cold well under Terraform's time (53 s and 2.7 GB when issue 7 was written).

    python bench/huge_file_bench.py [COUNT] [--no-terraform]     # default: 85000
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# As installed for a user, with bytecode caches (see bench/README.md).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def generate(count: int) -> str:
    """A `locals` block of `count` values: one line each, five shapes in turn."""
    lines = ["locals {"]
    for i in range(1, count + 1):
        kind = i % 5
        if kind == 0:
            value = f'"value-{i}-abcdefghijklmnopqrstuvwxyz-0123456789-ABCDEFGHIJKLMNOPQRSTUVWXYZ"'
        elif kind == 1:
            value = f"{i * 7} + {i % 13} * 2"
        elif kind == 2:
            value = f'[{i}, "item-{i}", "other-item-{i}", true, null, {i}.5]'
        elif kind == 3:
            value = f'{{ name = "n{i}", port = {i % 65535}, tags = ["a", "b"] }}'
        else:
            # A string local: i - 4 is of kind 0 (the first one refers forward to l000005).
            value = f'"${{local.l{i - 4 if i > 4 else 5:06d}}}-{i}"'
        lines.append(f"  l{i:06d} = {value}")
    lines.append("}")
    lines.append('output "last" {')
    lines.append(f"  value = local.l{count:06d}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def measure(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, int]:
    """(wall s, cpu s, peak RSS MB) of one process, from its own rusage (os.wait4)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    out = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{argv[0]} failed:\n{out.decode(errors='replace')[:2000]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    count = int(args[0]) if args else 85_000
    with_terraform = "--no-terraform" not in sys.argv and shutil.which("terraform")
    work = Path(tempfile.mkdtemp(prefix="fgform-huge-"))
    try:
        text = generate(count)
        (work / "main.tf").write_text(text)
        print(f"{count:,} locals, {len(text) / 1e6:.1f} MB, {text.count(chr(10)):,} lines", flush=True)
        cache = work / "xdg-cache"
        env = {**ENV, "XDG_CACHE_HOME": str(cache)}
        fgform = [sys.executable, "-m", "fgform", f"-chdir={work}", "validate"]
        rows = []
        # Cold: no cache entry anywhere (the cache lives in .fgform/ or $XDG_CACHE_HOME).
        shutil.rmtree(work / ".fgform", ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)
        rows.append(("fgform validate, cold", *measure(fgform, work, env)))
        rows.append(("fgform validate, warm", *measure(fgform, work, env)))
        if with_terraform:
            tf_env = {**env, "TF_CLI_CONFIG_FILE": os.devnull, "CHECKPOINT_DISABLE": "1"}
            rows.append(("terraform validate", *measure(["terraform", "validate", "-no-color"],
                                                        work, tf_env)))
        print(f"{'':24} {'wall s':>8} {'cpu s':>8} {'peak MB':>8}")
        for name, wall, cpu, rss in rows:
            print(f"{name:24} {wall:8.2f} {cpu:8.2f} {rss:8d}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
