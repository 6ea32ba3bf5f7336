#!/usr/bin/env python3
"""Record Terraform's answers for the differential corpus (tests/differential).

For each class of the agree corpus (`corpus/CLASS.exprs`), one temporary directory gets a
`main.tf` with one output per expression (and a copy of the fixture files, `files/`), then
`terraform apply -auto-approve` and `terraform output -json` run there, offline, with no
provider. When the batch fails, the outputs Terraform's errors point at (`on main.tf line
N`) are recorded as errors and the rest is run again (halving the batch when no line is
named). Each entry of the reject corpus (`reject/CLASS.exprs`) runs alone: it must fail, and
the first line of its error summary is kept.

Writes `expected/accept/CLASS.json` and `expected/reject/CLASS.json`, sorted, numbers with
Terraform's exact digits. Usage: `python3 scripts/record_terraform_corpus.py [CLASS...]`
(TERRAFORM=path overrides the binary; default `terraform` on PATH, 1.11 expected).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from differential import corpus  # noqa: E402
from differential.corpus import Entry  # noqa: E402

TERRAFORM = os.environ.get("TERRAFORM", "terraform")
_LINE = re.compile(r"on main\.tf line (\d+)")


def _env(home: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    env.update(TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1", HOME=home,
               TF_CLI_CONFIG_FILE="/dev/null")
    return env


def _run(entries: list[Entry]) -> tuple[int, str, dict[str, Any] | None, dict[str, tuple]]:
    """Apply one batch in a fresh directory: exit code, stderr, `output -json` (on success)
    and where each output is."""
    text, where = corpus.config_text(entries)
    with tempfile.TemporaryDirectory(prefix="tfcorpus-") as d:
        shutil.copytree(corpus.FILES_DIR, Path(d) / "files")
        shutil.copy(corpus.PRELUDE, Path(d) / "prelude.tf")
        (Path(d) / "main.tf").write_text(text, encoding="utf-8")
        env = _env(d)
        p = subprocess.run([TERRAFORM, "apply", "-auto-approve", "-input=false", "-no-color"],
                           cwd=d, env=env, capture_output=True, text=True, timeout=300)
        if p.returncode != 0:
            return p.returncode, p.stderr, None, where
        o = subprocess.run([TERRAFORM, "output", "-json", "-no-color"], cwd=d, env=env,
                           capture_output=True, text=True, timeout=300, check=True)
        return 0, p.stderr, corpus.loads(o.stdout), where


def _summary(stderr: str) -> str:
    for line in stderr.splitlines():
        line = line.strip("│ ╷╵").strip()
        if line.startswith("Error: "):
            return line[len("Error: "):]
    return stderr.strip().splitlines()[0] if stderr.strip() else "(no message)"


def _errors_by_output(stderr: str, where: dict[str, tuple]) -> dict[str, str]:
    """Output name -> the summary of the first error whose place is inside its block."""
    found: dict[str, str] = {}
    for block in re.split(r"\n(?=│?\s*Error: )", stderr):
        m = _LINE.search(block)
        if not m:
            continue
        line = int(m.group(1))
        for name, (a, b) in where.items():
            if a <= line <= b and name not in found:
                found[name] = _summary(block)
    return found


def record_batch(entries: list[Entry]) -> dict[str, dict[str, Any]]:
    """Terraform's outcome for each entry of a batch, by entry name."""
    if not entries:
        return {}
    rc, stderr, outputs, where = _run(entries)
    if rc == 0:
        assert outputs is not None
        out: dict[str, dict[str, Any]] = {}
        for i, e in enumerate(entries):
            o = outputs.get(corpus.output_name(i))
            if o is None:  # Terraform leaves null outputs out
                out[e.name] = {"expr": e.expr, "null": True}
            else:
                out[e.name] = {"expr": e.expr, "type": o["type"], "value": o["value"]}
                if o["sensitive"]:
                    out[e.name]["sensitive"] = True
        return out
    if len(entries) == 1:
        return {entries[0].name: {"expr": entries[0].expr, "error": _summary(stderr)}}
    bad = _errors_by_output(stderr, where)
    if bad:
        out = {}
        rest = []
        for i, e in enumerate(entries):
            msg = bad.get(corpus.output_name(i))
            if msg is None:
                rest.append(e)
            else:
                out[e.name] = {"expr": e.expr, "error": msg}
        out.update(record_batch(rest))
        return out
    half = len(entries) // 2
    return {**record_batch(entries[:half]), **record_batch(entries[half:])}


def record_reject(e: Entry) -> dict[str, Any]:
    """Run one reject-corpus entry alone."""
    rc, stderr, _, _ = _run([e])
    if rc == 0:
        return {"expr": e.expr, "rejected": False, "error": ""}
    return {"expr": e.expr, "rejected": True, "error": _summary(stderr)}


def main(argv: list[str]) -> int:
    only = set(argv)
    accept: dict[str, list[Entry]] = {}
    for e in corpus.accept_entries():
        accept.setdefault(e.cls, []).append(e)
    reject: dict[str, list[Entry]] = {}
    for e in corpus.reject_entries():
        reject.setdefault(e.cls, []).append(e)
    problems = 0
    with ThreadPoolExecutor(max_workers=8) as pool:
        jobs = {cls: pool.submit(record_batch, es) for cls, es in accept.items()
                if not only or cls in only}
        rjobs = {cls: [(e, pool.submit(record_reject, e)) for e in es]
                 for cls, es in reject.items() if not only or cls in only}
        for cls, job in sorted(jobs.items()):
            recs = job.result()
            for name, rec in sorted(recs.items()):
                if "error" in rec:
                    problems += 1
                    print(f"accept/{cls}/{name}: Terraform rejected it: {rec['error']}")
            corpus.write_expected(corpus.EXPECTED_DIR / "accept" / f"{cls}.json", recs)
            print(f"accept/{cls}: {len(recs)} entries")
        for cls, pairs in sorted(rjobs.items()):
            recs = {e.name: f.result() for e, f in pairs}
            for name, rec in sorted(recs.items()):
                if not rec["rejected"]:
                    problems += 1
                    print(f"reject/{cls}/{name}: Terraform accepted it")
            corpus.write_expected(corpus.EXPECTED_DIR / "reject" / f"{cls}.json", recs)
            print(f"reject/{cls}: {len(recs)} entries")
    corpus.INPUTS_DIGEST.write_text(corpus.inputs_digest() + "\n", encoding="utf-8")
    if problems:
        print(f"{problems} entries are in the wrong corpus (see above)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
