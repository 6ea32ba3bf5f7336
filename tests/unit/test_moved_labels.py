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


def test_fleet_context_hands_the_labels_to_the_drivers(tmp_path) -> None:
    from fgform.workflow import fleet_context

    st = StateFile(lineage="l")
    st.set(parse_address("fg_service.web"), InstanceState(None, {"id": "c/web"},
                                                          labelled_as="fg_service.app"))
    # A moved instance whose replacement was interrupted: only a deposed object is left.
    st.set(parse_address("fg_registry.hub"), InstanceState(
        None, None, deposed={"0a1b2c3d": {"id": "r"}}, labelled_as="fg_registry.main"))
    st.set(parse_address("fg_cluster.main"), InstanceState(None, {"id": "c"}))
    ctx = fleet_context(tmp_path, st)
    assert ctx.labels == {"fg_service.web": "fg_service.app",
                          "fg_registry.hub": "fg_registry.main"}
    assert ctx.label_address(parse_address("fg_cluster.main")) == \
        parse_address("fg_cluster.main")


def _fg(d, fleet, *args: str) -> str:
    import io

    from fgform.cli import Environment, run

    out, err = io.StringIO(), io.StringIO()
    env = Environment(stdin=io.StringIO(""), stdout=out, stderr=err,
                      environ={"NO_COLOR": "1"}, cwd=d, fleet=fleet)
    assert run(list(args), env) == 0, (out.getvalue(), err.getvalue())
    return out.getvalue()


def _labels(d) -> dict[str, str | None]:
    st = json.loads((d / "state" / "default.fgstate.json").read_text())
    return {f"{r['type']}.{r['name']}": r["instances"][0].get("labelled_as")
            for r in st["resources"]}


def test_an_applied_move_records_the_label_and_a_move_back_clears_it(tmp_path) -> None:
    from helpers.fakefleet import FakeFleet

    fleet = FakeFleet()
    cluster = 'resource "fg_cluster" "{}" {{\n  cidr_block = "10.1.0.0/24"\n}}\n'
    (tmp_path / "main.tf").write_text(cluster.format("a"))
    _fg(tmp_path, fleet, "apply", "-auto-approve")
    assert _labels(tmp_path) == {"fg_cluster.a": None}
    (tmp_path / "main.tf").write_text(
        cluster.format("b") + "moved {\n  from = fg_cluster.a\n  to = fg_cluster.b\n}\n")
    _fg(tmp_path, fleet, "apply", "-auto-approve")
    assert _labels(tmp_path) == {"fg_cluster.b": "fg_cluster.a"}
    (tmp_path / "main.tf").write_text(
        cluster.format("a") + "moved {\n  from = fg_cluster.b\n  to = fg_cluster.a\n}\n")
    _fg(tmp_path, fleet, "apply", "-auto-approve")
    assert _labels(tmp_path) == {"fg_cluster.a": None}
