"""fg_task_definition: revisions, history and resolution (no Docker object involved)."""

from __future__ import annotations

from typing import Any

import pytest

from fgform.addresses import Address
from fgform.errors import FgformError
from fgform.fleet.docker.task_definition import TaskDefinitionDriver, resolve
from fgform.fleet.driver import FleetContext

ADDR = Address("fg_task_definition", "web")


def planned(**kw: Any) -> dict[str, Any]:
    cfg = {"family": "web", "cpu": 256, "memory": 128,
           "container": [{"name": "web", "image": "x", "essential": True}]}
    cfg.update(kw)
    return cfg


def test_revisions_count_up_and_keep_history() -> None:
    drv = TaskDefinitionDriver()
    ctx = FleetContext(lineage="t")
    r1 = drv.create(ctx, ADDR, planned())
    assert (r1["revision"], r1["arn"], r1["id"], r1["revisions"]) == (1, "web:1", "web:1", [])
    r2 = drv.update(ctx, ADDR, r1, {**planned(memory=256), "revision": None, "arn": None})
    assert r2["arn"] == "web:2" and r2["memory"] == 256
    assert r2["revisions"] == [{**{k: v for k, v in r1.items() if k != "revisions"},
                                "status": "INACTIVE"}]
    r3 = drv.update(ctx, ADDR, r2, planned(cpu=512))
    assert r3["arn"] == "web:3" and [r["revision"] for r in r3["revisions"]] == [1, 2]
    assert drv.read(ctx, {ADDR: r3}) == {ADDR: r3}
    assert drv.delete(ctx, ADDR, r3, replacing=False) is None

    ctx.resources[str(ADDR)] = r3
    assert resolve(ctx, "web:3")["cpu"] == 512
    assert resolve(ctx, "web:1")["memory"] == 128  # an INACTIVE revision still resolves
    with pytest.raises(FgformError, match="web:9"):
        resolve(ctx, "web:9")


def test_create_continues_after_recorded_revisions() -> None:
    drv = TaskDefinitionDriver()
    old = {**planned(), "revision": 4, "arn": "web:4", "status": "INACTIVE"}
    r = drv.create(FleetContext(lineage="t"), ADDR, planned(revisions=[old]))
    assert r["arn"] == "web:5" and r["revisions"] == [old]
