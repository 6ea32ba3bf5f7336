"""The driver contract, checked on the in-memory fleet (tests/helpers/fakefleet.py) and on the real
Docker engine alike: what the applier and refresh rely on from any fleet's drivers.

- create and update return every computed attribute of the schema, none unknown, and keep
  the configuration they were given;
- read of an object just made reports what create returned (no drift out of nothing);
- read is one look at the fleet however many items it is asked about;
- read of a deleted object is None;
- delete is idempotent, replacing or not.

Run for the resource types with a live object: a cluster (a network), a registry (a
container and its volume) and a service (task containers, placed on a cluster). The fake
half needs no engine.
"""

from __future__ import annotations

import contextlib
import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest

from fgform.addresses import Address
from fgform.config.schema import SCHEMAS
from fgform.fleet.docker.fleet import DockerFleet
from fgform.fleet.driver import Driver, FleetContext
from fgform.fleet.fleet import Fleet
from fgform.values import UNKNOWN, contains_unknown

from helpers.fakefleet import FakeFleet
from helpers.subnets import free_subnet


@dataclass
class World:
    """A fleet under test, a context whose objects are removed afterwards, and a way to
    count how often the fleet is looked at (Docker: HTTP requests to the engine)."""

    kind: str
    fleet: Any
    ctx: FleetContext
    client: docker.DockerClient | None
    image: str = ""  # an image whose busybox serves HTTP on 8080 (Docker only)

    def driver(self, type_name: str) -> Driver:
        return self.fleet.drivers[type_name]

    @contextlib.contextmanager
    def looks(self) -> Iterator[list[int]]:
        """Yields [n]: after the block, how many looks at the fleet it made."""
        counted = [0]
        if self.client is None:
            before = self.fleet.looks
            yield counted
            counted[0] = self.fleet.looks - before
            return
        api = self.client.api
        send = api.send

        def counting(*args: Any, **kwargs: Any) -> Any:
            counted[0] += 1
            return send(*args, **kwargs)

        api.send = counting  # type: ignore[method-assign]
        try:
            yield counted
        finally:
            del api.send  # the class's own again


@pytest.fixture(params=["fake", "docker"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> World:
    if request.param == "fake":
        ctx = FleetContext(lineage=f"test-{uuid.uuid4().hex}", config_dir=str(tmp_path))
        return World("fake", FakeFleet(), ctx, None)
    # The integration fixtures: the engine must answer, and everything labelled with the
    # test's lineage is removed afterwards.
    client = request.getfixturevalue("docker_client")
    ctx = FleetContext(lineage=request.getfixturevalue("lineage"), config_dir=str(tmp_path))
    return World("docker", DockerFleet(client), ctx, client,
                 request.getfixturevalue("busybox_image"))


def _free_cidr(world: World, i: int) -> str:
    """A /24 no Docker network uses (other tests run on this engine at the same time)."""
    if world.client is None:
        return f"10.10.{i}.0/24"
    return free_subnet(world.client, 24, "10.204.0.0/14")


def _planned(type_name: str, **config: Any) -> dict[str, Any]:
    """What the applier hands create: the configuration, every computed attribute unknown."""
    computed = {a.name: UNKNOWN for a in SCHEMAS[type_name].body.attributes if a.computed}
    return {**computed, **config}


def _cluster(world: World, i: int) -> dict[str, Any]:
    # Network names are global on the engine: unique per test.
    return _planned("fg_cluster", name=f"c{i}-{world.ctx.lineage[5:13]}",
                    cidr_block=_free_cidr(world, i), placement_strategy="spread", capacity=None)


def _registry(world: World, i: int) -> dict[str, Any]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return _planned("fg_registry", port=port, bind_address="127.0.0.1", image=None)


HTTPD = ["busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]
HEALTH = {"command": ["CMD-SHELL", "busybox wget -q -O /dev/null http://127.0.0.1:8080/"],
          "interval": 1, "timeout": 2, "retries": 3, "start_period": 0}


def _service(world: World, i: int) -> dict[str, Any]:
    """A one-task service on a cluster and task definition made through the same fleet (in
    `ctx.resources`, where the applier puts them)."""
    if "fg_cluster.for_services" not in world.ctx.resources:
        image = "busybox" if world.client is None else world.image
        for addr, planned in (
                (Address("fg_cluster", "for_services"), _cluster(world, 9)),
                (Address("fg_task_definition", "web"), _planned(
                    "fg_task_definition", family=f"web{world.ctx.lineage[5:13]}", cpu=64,
                    memory=32, container=[{
                        "name": "web", "image": image, "essential": True, "command": HTTPD,
                        "entry_point": None, "environment": {}, "working_directory": None,
                        "user": None, "stop_timeout": 2, "cpu": None, "memory": None,
                        "port_mapping": [], "health_check": HEALTH}]))):
            world.ctx.resources[str(addr)] = world.driver(addr.type).create(
                world.ctx, addr, planned)
    cluster = world.ctx.resources["fg_cluster.for_services"]
    taskdef = world.ctx.resources["fg_task_definition.web"]
    return _planned("fg_service", name=f"web{i}", cluster=cluster["id"],
                    task_definition=taskdef["arn"], desired_count=1,
                    health_check_grace_period=0, wait_for_steady_state=True,
                    steady_state_timeout=60, load_balancer=[], deployment=None)


@dataclass
class Case:
    type_name: str
    planned: Callable[[World, int], dict[str, Any]]  # the i-th distinct object
    in_place: Callable[[dict[str, Any]], dict[str, Any]]  # a change made without replacing


CASES = [
    Case("fg_cluster", _cluster, lambda cfg: {**cfg, "placement_strategy": "binpack"}),
    Case("fg_registry", _registry, lambda cfg: dict(cfg)),
    Case("fg_service", _service, lambda cfg: {**cfg, "desired_count": 2}),
]


@pytest.fixture(params=CASES, ids=[c.type_name for c in CASES])
def case(request: pytest.FixtureRequest) -> Case:
    return request.param


def _addr(case: Case, i: int) -> Address:
    return Address(case.type_name, f"n{i}")


def _assert_complete(case: Case, planned: dict[str, Any], attrs: dict[str, Any]) -> None:
    computed = [a.name for a in SCHEMAS[case.type_name].body.attributes if a.computed]
    assert not contains_unknown(attrs), attrs
    assert all(attrs.get(name) is not None for name in computed), (computed, attrs)
    config = {k: v for k, v in planned.items() if k not in computed}
    assert {k: attrs.get(k) for k in config} == config


def test_create_and_update_return_every_computed_attribute(world: World, case: Case) -> None:
    drv, addr = world.driver(case.type_name), _addr(case, 0)
    planned = case.planned(world, 0)
    made = drv.create(world.ctx, addr, planned)
    _assert_complete(case, planned, made)
    assert drv.read(world.ctx, {addr: made}) == {addr: made}

    changed = case.in_place(planned)
    # As the applier plans an update: computed attributes kept from the prior object.
    updated = drv.update(world.ctx, addr, made, {**changed, "id": made["id"]})
    _assert_complete(case, changed, updated)
    assert updated["id"] == made["id"]
    assert drv.read(world.ctx, {addr: updated}) == {addr: updated}


def test_read_is_one_look_however_many_items(world: World, case: Case) -> None:
    drv = world.driver(case.type_name)
    made = {_addr(case, i): drv.create(world.ctx, _addr(case, i), case.planned(world, i))
            for i in range(2)}
    gone = Address(case.type_name, "never_made")
    first = next(iter(made))
    with world.looks() as one:
        assert drv.read(world.ctx, {first: made[first]}) == {first: made[first]}
    with world.looks() as many:
        got = drv.read(world.ctx, {**made, gone: {**made[first], "id": "never-made"}})
    assert got == {**made, gone: None}
    assert one[0] >= 1 and many[0] == one[0]


def test_read_of_a_deleted_object_is_none_and_delete_is_idempotent(world: World,
                                                                   case: Case) -> None:
    drv = world.driver(case.type_name)
    a, b = _addr(case, 0), _addr(case, 1)
    made_a = drv.create(world.ctx, a, case.planned(world, 0))
    made_b = drv.create(world.ctx, b, case.planned(world, 1))
    drv.delete(world.ctx, a, made_a, replacing=False)
    assert drv.read(world.ctx, {a: made_a, b: made_b}) == {a: None, b: made_b}
    # Again, replacing or not: what is gone stays gone, and nothing else goes with it.
    drv.delete(world.ctx, a, made_a, replacing=False)
    drv.delete(world.ctx, a, made_a, replacing=True)
    assert drv.read(world.ctx, {a: made_a, b: made_b}) == {a: None, b: made_b}
    drv.delete(world.ctx, b, made_b, replacing=True)
    assert drv.read(world.ctx, {b: made_b}) == {b: None}


def test_both_fleets_offer_all_a_fleet_does(world: World) -> None:
    assert isinstance(world.fleet, Fleet)
    assert set(world.fleet.drivers) == set(SCHEMAS)
    assert all(d.type_name == t for t, d in world.fleet.drivers.items())
