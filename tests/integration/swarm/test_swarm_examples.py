"""examples/hello on the 3-node Swarm with one setting changed (`engine = "swarm"` on its
cluster; its registry port moved into the range scripts/swarm.sh forwards to the workers):
the tasks spread over every node, the load balancer on 127.0.0.1 reaches a task on each,
the next plan is empty, and destroy leaves nothing behind."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import docker
import pytest

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parents[3]


def _fgform(cwd: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fgform", *args], cwd=cwd, text=True,
                          capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)


def _served_tasks(url: str, n: int) -> set[str]:
    seen = set()
    for _ in range(n):
        with urllib.request.urlopen(url + "/cgi-bin/info", timeout=5) as r:
            m = re.search(r"task: (\S+)", r.read().decode())
            assert m
            seen.add(m.group(1))
    return seen


def test_hello_on_swarm(swarm: docker.DockerClient, tmp_path: Path) -> None:
    d = tmp_path / "hello"
    shutil.copytree(REPO / "examples/hello", d,
                    ignore=shutil.ignore_patterns("state", ".fgform", "*.tfstate*"))
    main = d / "main.tf"
    text = main.read_text()
    text, n = re.subn(r'(resource "fg_cluster" "main" \{\n)', r'\1  engine = "swarm"\n', text)
    assert n == 1
    text = text.replace("port = 5000", "port = 5099")
    main.write_text(text)
    try:
        res = _fgform(d, "apply", "-auto-approve", "-var", "replicas=3")
        assert res.returncode == 0, res.stdout + res.stderr
        rows = json.loads(_fgform(d, "tasks", "-json").stdout)
        nodes = {n.attrs["Description"]["Hostname"] for n in swarm.nodes.list()}
        assert len(rows) == 3 and {r["instance"] for r in rows} == nodes, rows
        url = json.loads(_fgform(d, "output", "-json").stdout)["url"]["value"]
        assert url.startswith("http://127.0.0.1:")
        deadline = time.monotonic() + 30
        while len(served := _served_tasks(url, 30)) < 3:  # each task, one per node
            assert time.monotonic() < deadline, served
            time.sleep(1)
        assert _fgform(d, "plan", "-detailed-exitcode", "-var", "replicas=3").returncode == 0
    finally:
        res = _fgform(d, "destroy", "-auto-approve")
        assert res.returncode == 0, res.stdout + res.stderr
    state = json.loads(next(d.glob("**/*.tfstate")).read_text()) if list(d.glob("**/*.tfstate")) \
        else {"resources": []}
    assert state.get("resources") == []
    lineage = state.get("lineage")
    if lineage:
        assert swarm.api.services(filters={"label": [f"fgform.lineage={lineage}"]}) == []
        assert swarm.containers.list(all=True, filters={"label": f"fgform.lineage={lineage}"}) \
            == []
