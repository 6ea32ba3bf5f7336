"""The Swarm backend's pure parts: `deployment` as Swarm's update configuration, a task
definition as a Swarm service's spec, and the engine switch's routing by cluster engine."""

from __future__ import annotations

from typing import Any

import pytest

from fgform.addresses import Address
from fgform.errors import FgformError
from fgform.fleet.driver import FleetContext
from fgform.fleet.swarm.cluster import node_from_api
from fgform.fleet.swarm.service import spec_config, update_settings
from fgform.fleet.swarm.switch import EngineSwitch, cluster_engine

SVC = Address("fg_service", "web")


def _svc(desired: int, lo: int = 100, hi: int = 200, rollback: bool = False,
         **extra: Any) -> dict[str, Any]:
    return {"desired_count": desired, "deployment": {
        "minimum_healthy_percent": lo, "maximum_percent": hi,
        "circuit_breaker": {"enable": rollback, "rollback": rollback}}, **extra}


@pytest.mark.parametrize(("attrs", "want"), [
    # ECS's default (100/200): every new task starts beside the old ones.
    (_svc(6), {"order": "start-first", "parallelism": 6, "failure_action": "pause"}),
    (_svc(6, 50, 150, rollback=True),
     {"order": "start-first", "parallelism": 3, "failure_action": "rollback"}),
    # No room above 100 %: old tasks stop first, as many as the floor allows.
    (_svc(4, 50, 100), {"order": "stop-first", "parallelism": 2}),
    # Neither: one at a time (Swarm cannot do nothing at all).
    (_svc(3, 100, 100), {"order": "stop-first", "parallelism": 1}),
    (_svc(1, 100, 120), {"order": "start-first", "parallelism": 1}),
])
def test_deployment_as_update_config(attrs: dict[str, Any], want: dict[str, Any]) -> None:
    got = update_settings(attrs)
    assert {k: got[k] for k in want} == want
    assert got["max_failure_ratio"] == 0.0
    assert got["monitor"] == 5_000_000_000


def test_grace_period_widens_the_monitor() -> None:
    assert update_settings(_svc(2, health_check_grace_period=30))["monitor"] == 30 * 10**9


TD = {"arn": "web:3", "cpu": 256, "memory": 128, "container": [{
    "name": "web", "image": "127.0.0.1:5000/web@sha256:ab", "command": ["serve"],
    "entry_point": None, "environment": {"A": 1}, "stop_timeout": 2,
    "health_check": {"command": ["CMD-SHELL", "true"], "interval": 2, "retries": 3}}]}
CLUSTER = {"id": "main", "network_name": "fgform-main", "engine": "swarm"}


def test_task_definition_as_service_spec() -> None:
    cfg = spec_config(SVC, _svc(3), CLUSTER, TD)
    assert cfg["mode"] == "replicated" and cfg["replicas"] == 3
    assert cfg["nano_cpus"] == 250_000_000  # 1024 units = 1 CPU = 1e9 NanoCPUs
    assert cfg["memory_bytes"] == 128 * 1024 * 1024
    assert cfg["environment"] == {"A": "1"}
    assert cfg["health_check"]["interval"] == 2 * 10**9
    assert cfg["network"] == "fgform-main"
    assert cfg["stop_timeout"] == 2


def test_daemon_is_a_global_service() -> None:
    cfg = spec_config(SVC, _svc(3, scheduling_strategy="DAEMON"), CLUSTER, TD)
    assert cfg["mode"] == "global" and cfg["replicas"] is None


def test_several_containers_are_refused_naming_the_resource() -> None:
    td = dict(TD, container=[*TD["container"], dict(TD["container"][0], name="side")])
    with pytest.raises(FgformError, match=r"fg_service.web: .* 2 containers \(web, side\)"):
        spec_config(SVC, _svc(1), CLUSTER, td)


def test_node_capacity_from_its_resources() -> None:
    node = node_from_api({"ID": "abc", "Description": {"Hostname": "n2", "Resources": {
        "NanoCPUs": 2_000_000_000, "MemoryBytes": 3 * 1024**3}},
        "Spec": {"Availability": "active", "Role": "worker", "Labels": {"zone": "a"}},
        "Status": {"State": "ready", "Addr": "172.17.0.3"}})
    assert (node.id, node.cpu, node.memory) == ("n2", 2048, 3072)
    assert (node.state, node.availability, node.labels) == ("ready", "active", {"zone": "a"})


class _Recorder:
    def __init__(self, name: str) -> None:
        self.name = name
        self.type_name = "fg_service"
        self.calls: list[tuple[str, Any]] = []

    def read(self, ctx: FleetContext, items: dict[Address, Any]) -> dict[Address, Any]:
        self.calls.append(("read", sorted(str(a) for a in items)))
        return {a: {**v, "by": self.name} for a, v in items.items()}

    def create(self, ctx: FleetContext, addr: Address, planned: dict[str, Any]) -> Any:
        self.calls.append(("create", str(addr)))
        return {"by": self.name}

    def delete(self, ctx: FleetContext, addr: Address, prior: dict[str, Any], *,
               replacing: bool) -> None:
        self.calls.append(("delete", str(addr)))


def test_switch_routes_by_the_cluster_engine() -> None:
    from fgform.fleet.swarm.switch import engine_by_cluster

    ctx = FleetContext(lineage="l", resources={
        "fg_cluster.s": {"id": "s", "engine": "swarm"},
        "fg_cluster.d": {"id": "d", "engine": None}})
    local, swarm = _Recorder("local"), _Recorder("swarm")
    sw = EngineSwitch(local, swarm, engine_by_cluster)  # type: ignore[arg-type]
    a, b = Address("fg_service", "a"), Address("fg_service", "b")
    out = sw.read(ctx, {a: {"cluster": "s"}, b: {"cluster": "d"}})
    assert (out[a]["by"], out[b]["by"]) == ("swarm", "local")
    assert local.calls == [("read", ["fg_service.b"])]  # one batch per engine
    assert swarm.calls == [("read", ["fg_service.a"])]
    assert sw.create(ctx, a, {"cluster": "s"}) == {"by": "swarm"}
    # A cluster state no longer knows: the objects may be on either engine.
    sw.delete(ctx, a, {"cluster": "gone"}, replacing=False)
    assert local.calls[-1] == swarm.calls[-1] == ("delete", "fg_service.a")
    assert cluster_engine({"engine": None}) == "docker"
    assert cluster_engine({"engine": "swarm"}) == "swarm"


def test_switch_imports_only_what_a_driver_imports() -> None:
    from fgform.fleet.swarm.switch import engine_by_cluster

    sw = EngineSwitch(_Recorder("local"), _Recorder("swarm"),  # type: ignore[arg-type]
                      engine_by_cluster)
    assert not hasattr(sw, "import_object")  # fg_service: not importable, as before
