"""fg_cluster on a real swarm, driver level: the overlay network it makes, the nodes as
capacity, and `import` telling a swarm network from a local one."""

from __future__ import annotations

import time
import uuid

import docker
import pytest

from fgform.addresses import Address
from fgform.fleet.docker.data_sources import read_cluster
from fgform.fleet.driver import FleetContext
from fgform.fleet.swarm.cluster import SwarmClusterDriver, swarm_instances
from fgform.fleet.swarm.switch import engine_drivers

from helpers.subnets import free_subnet

pytestmark = pytest.mark.docker

ADDR = Address("fg_cluster", "main")


def test_overlay_network_and_nodes(swarm: docker.DockerClient, ctx: FleetContext) -> None:
    cidr = free_subnet(swarm, 24, "10.213.128.0/17")
    name = f"core-{uuid.uuid4().hex[:8]}"
    drivers = engine_drivers(swarm)
    planned = {"name": name, "cidr_block": cidr, "engine": "swarm", "capacity": None,
               "placement_strategy": "spread"}
    attrs = drivers["fg_cluster"].create(ctx, ADDR, planned)
    try:
        assert attrs["engine"] == "swarm"
        assert attrs["network_name"] == f"fgform-{name}"
        net = swarm.api.inspect_network(attrs["network_name"])
        # Under load, Engine 20.10 has answered an inspect made right after the create with
        # an empty Driver (seen once, load average 10); it reads "overlay" a moment later.
        deadline = time.monotonic() + 10
        while not net["Driver"] and time.monotonic() < deadline:
            time.sleep(0.2)
            net = swarm.api.inspect_network(attrs["network_name"])
        assert (net["Driver"], net["Scope"], net["Attachable"]) == ("overlay", "swarm", True)
        assert net["IPAM"]["Config"][0]["Subnet"] == cidr
        assert net["Labels"]["fgform.lineage"] == ctx.lineage
        assert net["Labels"]["fgform.address"] == str(ADDR)
        # Read finds it by its labels, one list call for the batch.
        live = drivers["fg_cluster"].read(ctx, {ADDR: attrs})[ADDR]
        assert live is not None and live["network_name"] == attrs["network_name"]
        # Import tells the engine from the network's driver.
        other = FleetContext(lineage=f"other-{uuid.uuid4().hex}")
        got = SwarmClusterDriver(swarm).import_object(other, ADDR, attrs["network_name"])
        assert got is not None and got["engine"] == "swarm"
        # `data "fg_cluster"` says so too: services on it follow the swarm.
        assert read_cluster(swarm, {"name": name})["engine"] == "swarm"
    finally:
        drivers["fg_cluster"].delete(ctx, ADDR, attrs, replacing=False)
    assert not [n for n in swarm.api.networks(names=[attrs["network_name"]])
                if n["Name"] == attrs["network_name"]]
    nodes = swarm_instances(swarm)
    assert len(nodes) >= 3
    assert all(n.cpu >= 1024 and n.memory > 0 and n.state == "ready" for n in nodes)
    assert {n.hostname for n in nodes} >= {"fgform-swarm-node-2", "fgform-swarm-node-3"}
