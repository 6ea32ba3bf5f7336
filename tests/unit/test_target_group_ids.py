"""Target groups are referenced by id: two instances of one module must get two ids."""

from __future__ import annotations

from fgform.addresses import Address, ModuleStep
from fgform.fleet.docker.drivers import TargetGroupDriver
from fgform.fleet.driver import FleetContext


def test_target_group_ids_follow_the_whole_address() -> None:
    drv, ctx = TargetGroupDriver(None), FleetContext(lineage="l")
    a = drv.create(ctx, Address("fg_target_group", "tg", None, (ModuleStep("m", "a"),)), {})
    b = drv.create(ctx, Address("fg_target_group", "tg", None, (ModuleStep("m", "b"),)), {})
    assert a["id"] != b["id"]
    assert drv.create(ctx, Address("fg_target_group", "tg"), {})["id"] == "tg"
    assert drv.create(ctx, Address("fg_target_group", "tg", 1), {})["id"] == "tg-1"
    assert drv.create(ctx, Address("fg_target_group", "tg"), {"name": "web"})["id"] == "web"
