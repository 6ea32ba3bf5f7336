"""The capacity manager on plain data: strategies, determinism, the shortfall message."""

from __future__ import annotations

import pytest

from fgform.errors import FgformError
from fgform.fleet.capacity import (
    Instance,
    InsufficientCapacityError,
    Usage,
    fits_count,
    place,
)


def fleet(n: int, cpu: int = 1024, memory: int = 1024) -> list[Instance]:
    return [Instance(f"i-{k}", cpu, memory) for k in range(n)]


def test_spread_balances_task_count() -> None:
    assert place([(256, 256)] * 4, fleet(2)) == ["i-0", "i-1", "i-0", "i-1"]


def test_spread_counts_existing_tasks_and_usage() -> None:
    usage = {"i-0": Usage(512, 512, 2), "i-1": (0, 0)}
    # i-1 catches up to two tasks, then wins the tie on count by its lower load.
    assert place([(128, 128)] * 4, fleet(2), usage) == ["i-1", "i-1", "i-1", "i-0"]


def test_spread_breaks_count_ties_by_load_then_id() -> None:
    usage = {"i-0": Usage(0, 512, 1), "i-1": Usage(0, 128, 1), "i-2": Usage(0, 128, 1)}
    assert place([(1, 1)], fleet(3), usage) == ["i-1"]


def test_binpack_fills_the_fullest_instance_that_fits() -> None:
    usage = {"i-1": (256, 768)}
    # i-1 has 256 MiB free: the first 256-MiB task goes there, then i-0 (ties by id).
    assert place([(256, 256)] * 3, fleet(3), usage, "binpack") == ["i-1", "i-0", "i-0"]


def test_binpack_prefers_memory_then_cpu() -> None:
    usage = {"i-0": (900, 512), "i-1": (0, 512)}
    # Equal free memory: the one with less free cpu wins.
    assert place([(100, 100)], fleet(2), usage, "binpack") == ["i-0"]


def test_instance_ids_sort_numerically() -> None:
    instances = [Instance(f"i-{k}", 100, 100) for k in (10, 2, 1)]
    assert place([(100, 100)] * 3, instances) == ["i-1", "i-2", "i-10"]


def test_deterministic() -> None:
    reqs = [(128, 64)] * 17
    assert place(reqs, fleet(5), strategy="binpack") == place(reqs, fleet(5),
                                                                strategy="binpack")


def test_shortfall_message_names_memory() -> None:
    usage = {"i-0": (768, 896), "i-1": (0, 1024)}
    with pytest.raises(InsufficientCapacityError) as info:
        place([(512, 512)] * 3, fleet(2), usage, what="web:2")
    msg = str(info.value)
    assert msg.startswith(
        "Unable to place 3 task(s) of web:2 (cpu 512, memory 512): no instance has 512 free "
        "memory units; free per instance: i-0 cpu 256 memory 128, i-1 cpu 1024 memory 0")
    assert info.value.unplaced == 3
    assert "instance_count" in info.value.hint


def test_shortfall_after_partial_placement() -> None:
    with pytest.raises(InsufficientCapacityError) as info:
        place([(256, 512)] * 5, fleet(2), what="web:1")
    assert str(info.value).startswith(
        "Unable to place 5 task(s) of web:1 (cpu 256, memory 512): no instance has 512 free "
        "memory units for more than 4 of them; free per instance: i-0 cpu 1024 memory 1024, "
        "i-1 cpu 1024 memory 1024")


def test_shortfall_names_cpu() -> None:
    with pytest.raises(InsufficientCapacityError, match="no instance has 2048 free cpu units"):
        place([(2048, 16)], fleet(2))


def test_no_instances() -> None:
    with pytest.raises(InsufficientCapacityError, match="the cluster has no instances"):
        place([(1, 1)], [])


def test_unknown_strategy() -> None:
    with pytest.raises(FgformError, match="unknown placement strategy"):
        place([(1, 1)], fleet(1), strategy="random")


def test_fits_count() -> None:
    assert fits_count((256, 256), fleet(2), {"i-0": (512, 0)}) == 6
    assert fits_count((256, 256), fleet(2), limit=3) == 3
    assert fits_count((0, 0), fleet(1), limit=7) == 7
