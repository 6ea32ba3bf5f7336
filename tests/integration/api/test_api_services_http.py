"""The service actions over real HTTP (`fgform serve`, a key allowed everything) with boto3
and the aws CLI, on a configuration applied with the real CLI: create, describe (timestamps
parsed by botocore), list with botocore's paginator, update, the documented errors."""

from __future__ import annotations

import json
from collections.abc import Iterator

import docker
import pytest
from botocore.exceptions import ClientError
from fixtures.fgcli import Fleet

from .conftest import ALLOW_ALL, StartServer
from .services_fixtures import applied, running, wait_until

pytestmark = pytest.mark.docker


@pytest.fixture
def fleet(docker_client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Fleet]:
    with applied(docker_client, tmp_path_factory.mktemp("api-services-http")) as f:
        yield f


def test_services_with_boto3_and_the_aws_cli(fleet: Fleet, start_api_server: StartServer
                                             ) -> None:
    server = start_api_server(fleet.dir)
    key, secret = server.key("ops", ALLOW_ALL)
    ecs = server.boto3(key, secret)
    name = fleet.name
    svc = ecs.create_service(cluster=name, serviceName="api1", taskDefinition=f"{name}-web",
                             desiredCount=2, launchType="FARGATE")["service"]
    assert svc["serviceName"] == "api1" and svc["desiredCount"] == 2
    wait_until(lambda: len(running(fleet, "api1")) == 2, desc="2 tasks")
    out = ecs.describe_services(cluster=name, services=["api1", "web", "ghost"])
    assert [s["serviceName"] for s in out["services"]] == ["api1", "web"]
    assert out["services"][0]["events"][0]["createdAt"].year >= 2024
    assert out["failures"][0]["reason"] == "MISSING"
    pages = list(ecs.get_paginator("list_services").paginate(
        cluster=name, PaginationConfig={"PageSize": 1}))
    assert [p["serviceArns"] for p in pages][:2] == [
        [f"arn:aws:ecs:us-east-1:000000000000:service/{name}/api1"],
        [f"arn:aws:ecs:us-east-1:000000000000:service/{name}/web"]]
    rc, outp, err = server.aws(["update-service", "--cluster", name, "--service",
                                "api1", "--desired-count", "1"], key, secret)
    assert rc == 0, err
    assert json.loads(outp)["service"]["desiredCount"] == 1
    with pytest.raises(ClientError) as exc:
        ecs.delete_service(cluster=name, service="api1")
    assert exc.value.response["Error"]["Code"] == "InvalidParameterException"
    ecs.delete_service(cluster=name, service="api1", force=True)
    with pytest.raises(ClientError) as exc:
        ecs.update_service(cluster=name, service="api1", desiredCount=1)
    assert exc.value.response["Error"]["Code"] == "ServiceNotFoundException"
