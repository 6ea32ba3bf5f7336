"""DescribeClusters and ListClusters on fg_cluster (fgform/api/ecs_clusters.py), on the
in-memory fleet (its list_nodes gives each cluster's capacity instances)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fgform.addresses import parse_address
from fgform.api import ecs_clusters
from fgform.api.actions import ApiContext
from fgform.api.errors import ApiError
from fgform.api.handlers import actions
from fgform.api.transact import state_path
from fgform.state.model import InstanceState, StateFile
from fgform.state.store import StateStore

from helpers.fakefleet import FakeFleet

ARN = "arn:aws:ecs:us-east-1:000000000000:cluster/"


def cluster(name: str | None, ident: str, instances: int = 1) -> dict[str, Any]:
    return {"name": name, "id": ident, "cidr_block": "10.213.0.0/24", "engine": None,
            "placement_strategy": "spread", "network_name": f"fgform-{ident}",
            "capacity": {"instance_count": instances, "instance_cpu": None,
                         "instance_memory": None, "attribute": []}}


def service(name: str, cluster_id: str) -> dict[str, Any]:
    return {"name": name, "cluster": cluster_id, "desired_count": 1, "id": name}


@pytest.fixture
def ctx(tmp_path: Path) -> ApiContext:
    st = StateFile()
    st.set(parse_address("fg_cluster.main"), InstanceState(None, cluster(None, "main", 3)))
    st.set(parse_address("fg_cluster.other"), InstanceState(None, cluster("default", "default")))
    for i, (name, cid) in enumerate([("web", "main"), ("api", "main"), ("job", "default")]):
        st.set(parse_address(f"fg_service.s{i}"), InstanceState(None, service(name, cid)))
    c = ApiContext(dir=tmp_path, fleet=FakeFleet())
    StateStore(state_path(c)).write(st)
    return c


def call(ctx: ApiContext, name: str, params: dict[str, Any]) -> dict[str, Any]:
    return actions.ACTIONS[name].handler(ctx, params)


def test_describe_clusters_counts_and_missing(ctx: ApiContext) -> None:
    out = call(ctx, "DescribeClusters", {"clusters": ["main", ARN + "default", "nope"]})
    by_name = {c["clusterName"]: c for c in out["clusters"]}
    main = by_name["main"]
    assert main["clusterArn"] == ARN + "main" and main["status"] == "ACTIVE"
    assert main["registeredContainerInstancesCount"] == 3
    assert main["activeServicesCount"] == 2
    assert (main["runningTasksCount"], main["pendingTasksCount"]) == (0, 0)
    assert by_name["default"]["activeServicesCount"] == 1
    assert by_name["default"]["registeredContainerInstancesCount"] == 1
    assert out["failures"] == [{"arn": ARN + "nope", "reason": "MISSING"}]
    assert [c["clusterName"] for c in out["clusters"]] == ["main", "default"]  # asked order


def test_describe_clusters_defaults_to_default(ctx: ApiContext) -> None:
    out = call(ctx, "DescribeClusters", {})
    assert [c["clusterName"] for c in out["clusters"]] == ["default"]
    assert out["failures"] == []


def test_describe_clusters_with_an_empty_state(tmp_path: Path) -> None:
    out = call(ApiContext(dir=tmp_path, fleet=FakeFleet()), "DescribeClusters", {})
    assert out == {"clusters": [], "failures": [{"arn": ARN + "default",
                                                 "reason": "MISSING"}]}


def test_describe_clusters_bad_parameters(ctx: ApiContext) -> None:
    for bad in ({"clusters": "main"}, {"clusters": [1]}, {"clusters": ["x"] * 101}):
        with pytest.raises(ApiError) as e:
            call(ctx, "DescribeClusters", bad)
        assert e.value.code == "InvalidParameterException"


def test_an_unreachable_fleet_is_a_server_exception(ctx: ApiContext) -> None:
    ctx.fleet = FakeFleet(reachable=False)

    def down(*a: Any) -> Any:
        from fgform.errors import DockerUnavailableError

        raise DockerUnavailableError("Cannot connect to the Docker daemon")

    ctx.fleet.list_nodes = down
    with pytest.raises(ApiError) as e:
        call(ctx, "DescribeClusters", {"clusters": ["main"]})
    assert e.value.code == "ServerException"


def test_list_clusters_pages(ctx: ApiContext) -> None:
    assert call(ctx, "ListClusters", {}) == {"clusterArns": [ARN + "default", ARN + "main"]}
    first = call(ctx, "ListClusters", {"maxResults": 1})
    assert first["clusterArns"] == [ARN + "default"]
    second = call(ctx, "ListClusters", {"maxResults": 1, "nextToken": first["nextToken"]})
    assert second == {"clusterArns": [ARN + "main"]}


def test_targets_are_the_cluster_arns(ctx: ApiContext) -> None:
    targets = actions.ACTIONS["DescribeClusters"].targets(ctx, {"clusters": ["main", "main",
                                                                            ARN + "x"]})
    assert [(t.resource, t.cluster) for t in targets] == [(ARN + "main", ARN + "main"),
                                                          (ARN + "x", ARN + "x")]
    assert [t.resource for t in actions.ACTIONS["DescribeClusters"].targets(ctx, {})] == \
        [ARN + "default"]
    assert [t.resource for t in actions.ACTIONS["ListClusters"].targets(ctx, {})] == ["*"]


def test_cluster_named(ctx: ApiContext) -> None:
    st = StateStore(state_path(ctx)).read()
    assert ecs_clusters.cluster_named(st, None).name == "default"
    assert ecs_clusters.cluster_named(st, ARN + "main").address == \
        parse_address("fg_cluster.main")
    assert ecs_clusters.cluster_named(st, "gone") is None


def test_running_tasks_are_counted_from_one_look_at_the_fleet(ctx: ApiContext) -> None:
    from fgform.fleet.fleet import NodeRow

    calls: list[list[str]] = []

    def nodes(fctx: Any, asked: list[tuple[str, dict[str, Any]]]) -> list[NodeRow]:
        calls.append([name for name, _ in asked])
        return [NodeRow(cluster=name, engine="docker", instance=f"i-{k}", node_id=f"i-{k}",
                        role="instance", state="ready", availability="active", cpu=1024,
                        memory=2048, tasks=k + 1)
                for name, _ in asked for k in range(2)]

    ctx.fleet.list_nodes = nodes
    out = call(ctx, "DescribeClusters", {"clusters": ["main", "default"]})
    assert [(c["clusterName"], c["registeredContainerInstancesCount"],
             c["runningTasksCount"]) for c in out["clusters"]] == [("main", 2, 3),
                                                                   ("default", 2, 3)]
    assert calls == [["main", "default"]]  # one call for every cluster asked for
