"""A move keeps the fleet objects: the moved instance records the address its objects are
labelled with (`labelled_as`), and the Docker drivers are handed that address."""

from __future__ import annotations

import json
from typing import Any

from fgform.addresses import Address, parse_address
from fgform.fleet.docker.drivers import Relabelled, fresh_label
from fgform.fleet.driver import FleetContext
from fgform.state.model import InstanceState, StateFile
from fgform.state.surgery import state_mv


def test_relabel_keeps_the_first_address_and_clears_on_the_way_back() -> None:
    inst = InstanceState(None, {"id": "x"})
    inst.relabel(parse_address("fg_service.app"), parse_address("fg_service.web"))
    assert inst.labelled_as == "fg_service.app"
    inst.relabel(parse_address("fg_service.web"), parse_address("fg_service.site"))
    assert inst.labelled_as == "fg_service.app"
    inst.relabel(parse_address("fg_service.site"), parse_address("fg_service.app"))
    assert inst.labelled_as is None


def test_labelled_as_round_trips_and_survives_a_new_object() -> None:
    st = StateFile(lineage="l")
    web = parse_address("fg_service.web")
    st.set(web, InstanceState(None, {"id": "c/web"}, labelled_as="fg_service.app"))
    again = StateFile.from_dict(json.loads(json.dumps(st.to_dict())))
    assert again.get(web).labelled_as == "fg_service.app"
    # An update writes a new InstanceState: the objects are the same, so is their label.
    again.set(web, InstanceState(None, {"id": "c/web", "desired_count": 3}))
    assert again.get(web).labelled_as == "fg_service.app"
    # Never written for an instance that did not move.
    st.set(parse_address("fg_cluster.main"), InstanceState(None, {"id": "c"}))
    inst = next(r for r in st.to_dict()["resources"] if r["type"] == "fg_cluster")
    assert "labelled_as" not in inst["instances"][0]


def test_state_mv_records_the_label() -> None:
    st = StateFile(lineage="l")
    st.set(parse_address("fg_registry.main"), InstanceState(None, {"id": "r"}))
    state_mv(st, "fg_registry.main", "fg_registry.hub")
    assert st.get(parse_address("fg_registry.hub")).labelled_as == "fg_registry.main"


class Recorder:
    """A driver that records the addresses it is handed."""

    type_name = "fg_service"

    def __init__(self) -> None:
        self.seen: list[str] = []

    def read(self, ctx: FleetContext, items: dict[Address, dict[str, Any]]
             ) -> dict[Address, dict[str, Any] | None]:
        self.seen.extend(str(a) for a in items)
        return {a: dict(v) for a, v in items.items()}

    def delete(self, ctx: FleetContext, addr: Address, prior: dict[str, Any], *,
               replacing: bool) -> None:
        self.seen.append(str(addr))

    def create(self, ctx: FleetContext, addr: Address, planned: dict[str, Any]
               ) -> dict[str, Any]:
        self.seen.append(str(addr))
        return planned


def test_drivers_get_the_label_address_and_read_answers_by_the_new_one() -> None:
    inner = Recorder()
    drv = Relabelled(inner)  # type: ignore[arg-type]
    ctx = FleetContext(lineage="l", labels={"fg_service.web": "fg_service.app"})
    web, other = parse_address("fg_service.web"), parse_address("fg_service.x")
    assert drv.read(ctx, {web: {"a": 1}, other: {"a": 2}}) == {web: {"a": 1}, other: {"a": 2}}
    drv.delete(ctx, web, {}, replacing=False)
    assert inner.seen == ["fg_service.app", "fg_service.x", "fg_service.app"]
    # A new resource at the moved-away address gets a label of its own.
    drv.create(ctx, parse_address("fg_service.app"), {})
    assert inner.seen[-1] == "fg_service.app--2"
    assert ctx.labels["fg_service.app"] == "fg_service.app--2"


def test_fresh_label_skips_taken_labels() -> None:
    ctx = FleetContext(lineage="l", labels={"fg_x.b": "fg_x.a", "fg_x.c": "fg_x.a--2"})
    fresh_label(ctx, parse_address("fg_x.a"))
    assert ctx.labels["fg_x.a"] == "fg_x.a--3"
    untouched = FleetContext(lineage="l", labels={"fg_x.b": "fg_x.a"})
    fresh_label(untouched, parse_address("fg_x.z"))
    assert "fg_x.z" not in untouched.labels
