"""The config-hash of a task container's effective definition (pure; no Docker)."""

from __future__ import annotations

from typing import Any

from fgform.fleet.docker import labels as L
from fgform.fleet.docker.launch import _exposed, definition_hashes
from fgform.fleet.docker.live_tasks import CONTAINER, CONTAINER_INDEX, CREATED, group_tasks
from fgform.fleet.docker.placement import host_bindings


def _taskdef(**spec_extra: Any) -> dict[str, Any]:
    web = {"name": "web", "image": "busybox:1", "essential": True,
           "command": ["httpd", "-f"], "entry_point": None,
           "environment": {"A": "1", "B": "2"}, "working_directory": None, "user": None,
           "stop_timeout": 2, "cpu": None, "memory": None,
           "port_mapping": [{"container_port": 8080, "host_port": 18080, "protocol": "tcp"}],
           "health_check": {"command": ["CMD", "true"], "interval": 1, "timeout": 2,
                            "retries": 3, "start_period": 0}, **spec_extra}
    side = {"name": "side", "image": "busybox:1", "essential": False, "command": ["sleep", "9"]}
    return {"family": "web", "cpu": 256, "memory": 128, "container": [web, side],
            "id": "web:3", "arn": "web:3", "revision": 3}


def _reordered(value: Any) -> Any:
    """The same data with every dict's keys in reverse order."""
    if isinstance(value, dict):
        return {k: _reordered(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reordered(v) for v in value]
    return value


def test_hash_is_stable_across_dict_ordering() -> None:
    td = _taskdef()
    hashes = definition_hashes(td)
    assert set(hashes) == {"web", "side"} and hashes["web"] != hashes["side"]
    assert definition_hashes(_reordered(td)) == hashes
    assert list(_reordered(td)) != list(td)  # the reordering did reorder


def test_hash_ignores_what_never_reaches_docker() -> None:
    td = _taskdef()
    hashes = definition_hashes(td)
    # Recorded as an INACTIVE revision (task_definition.update adds `status`), numbers written
    # as floats by some path, a schema default added to the container later: same containers.
    inactive = {**td, "status": "INACTIVE", "cpu": 256.0}
    inactive["container"] = [{**c, "new_default": None} for c in td["container"]]
    assert definition_hashes(inactive) == hashes


def test_hash_follows_the_effective_definition() -> None:
    td = _taskdef()
    base = definition_hashes(td)
    assert definition_hashes(_taskdef(command=["sleep", "60"]))["web"] != base["web"]
    assert definition_hashes(_taskdef(environment={"A": "1"}))["web"] != base["web"]
    assert definition_hashes({**td, "memory": 256})["web"] != base["web"]
    # Launch overrides (one-off tasks): environment on every container, command on the first
    # essential one only.
    env = definition_hashes(td, environment={"C": "3"})
    assert env["web"] != base["web"] and env["side"] != base["side"]
    cmd = definition_hashes(td, command=["echo", "hi"])
    assert cmd["web"] != base["web"] and cmd["side"] == base["side"]
    # An override equal to what the definition says is the same container.
    assert definition_hashes(td, environment={"B": "2"})["web"] == base["web"]


def _row(tid: str, name: str, index: int, config_hash: str | None) -> dict[str, Any]:
    labels = {L.TASK_ID: tid, L.TASK_DEFINITION: "web:3", CONTAINER: name,
              CONTAINER_INDEX: str(index), CREATED: "2024-01-01T00:00:00+00:00"}
    if config_hash is not None:
        labels[L.CONFIG_HASH] = config_hash
    return {"Id": f"{tid}-{name}", "Names": [f"/{tid}-{name}"], "Labels": labels,
            "State": "running", "Status": "Up 5 seconds"}


def test_task_matches_its_revision_by_label() -> None:
    hashes = definition_hashes(_taskdef())
    rows = [_row("good", "web", 0, hashes["web"]), _row("good", "side", 1, hashes["side"]),
            _row("bad", "web", 0, hashes["web"]), _row("bad", "side", 1, "0" * 64),
            # Launched before fgform wrote the label: not judged.
            _row("old", "web", 0, None), _row("old", "side", 1, None),
            # A container the revision does not define.
            _row("odd", "extra", 0, hashes["web"])]
    verdict = {t.task_id: t.matches(hashes) for t in group_tasks(rows)}
    assert verdict == {"good": True, "bad": False, "old": True, "odd": False}


def test_published_ports_reach_docker_once_suffixed() -> None:
    """docker-py appends "/tcp" to a plain port string: pass (port, protocol) pairs."""
    from docker.types import ContainerConfig

    publish = host_bindings(_taskdef())
    assert publish == {"8080/tcp": ("127.0.0.1", 18080)}
    assert _exposed(publish) == [(8080, "tcp")]
    cfg = ContainerConfig("1.41", "busybox:1", None, ports=_exposed(publish))
    assert cfg["ExposedPorts"] == {"8080/tcp": {}}
