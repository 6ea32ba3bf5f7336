"""A real 3-node Swarm for the Swarm backend's tests: `scripts/swarm.sh up 3` (the host
engine as manager, two Docker-in-Docker workers), made once per session. When this session
made it, it is taken down at the end (`scripts/swarm.sh down`) unless FGFORM_KEEP_SWARM=1;
a swarm that was already up is left as it was."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

REPO = Path(__file__).resolve().parents[3]
NODES = 3


def _active(client: docker.DockerClient) -> bool:
    return client.info().get("Swarm", {}).get("LocalNodeState") == "active"


def _ready(client: docker.DockerClient) -> list[str]:
    """The ids of the Ready nodes. A swarm left by a run whose engine died lists its
    workers as Down: it is not up, and `swarm.sh up` starts them again."""
    return [n.id for n in client.nodes.list() if n.attrs["Status"]["State"] == "ready"]


@pytest.fixture(scope="session")
def swarm(docker_client: docker.DockerClient) -> Iterator[docker.DockerClient]:
    """The manager's client, with a Ready swarm of NODES nodes behind it."""
    was_up = _active(docker_client) and len(_ready(docker_client)) >= NODES
    if not was_up:
        proc = subprocess.run(["bash", str(REPO / "scripts/swarm.sh"), "up", str(NODES)],
                              capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            pytest.fail(f"scripts/swarm.sh up {NODES} failed:\n{proc.stdout}\n{proc.stderr}",
                        pytrace=False)
    ready = _ready(docker_client)
    assert len(ready) >= NODES, f"only {len(ready)} nodes ready"
    yield docker_client
    if not was_up and os.environ.get("FGFORM_KEEP_SWARM") != "1":
        subprocess.run(["bash", str(REPO / "scripts/swarm.sh"), "down"], capture_output=True,
                       text=True, timeout=300, check=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests named test_zz_... (a drained node: test_swarm_node_loss.py) change the swarm
    every Swarm test shares: they run last, after every other test of the session."""
    items.sort(key=lambda item: item.name.startswith("test_zz_"))  # stable: order kept
