"""The capacity manager on plain data: strategies, determinism, the shortfall message."""

from __future__ import annotations

import pytest

from fgform.errors import FgformError
from fgform.fleet.capacity import (
    Instance,
    InsufficientCapacityError,
    Usage,
    fits_count,
    held_ports,
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


# -- host ports: one task publishing a port per instance (RESOURCE:PORTS) -------------------
def test_a_host_port_goes_once_per_instance_whatever_the_strategy() -> None:
    # Room for four tasks on i-0 by cpu and memory, yet each instance takes one.
    for strategy in ("spread", "binpack"):
        assert place([(256, 256)] * 2, fleet(2), strategy=strategy, ports=["8080"]) == \
            ["i-0", "i-1"]
    # Without the port, binpack fills i-0 first.
    assert place([(256, 256)] * 2, fleet(2), strategy="binpack") == ["i-0", "i-0"]


def test_a_held_port_sends_the_task_elsewhere() -> None:
    usage = {"i-0": Usage(256, 256, 1, {"8080": "service web (task aa)"})}
    # Spread would pick the empty i-1 anyway; binpack would pick the fuller i-0.
    assert place([(256, 256)], fleet(2), usage, "binpack", ports=["8080"]) == ["i-1"]
    # Another port of the same instance does not clash; nor does the same number over UDP.
    assert place([(256, 256)], fleet(2), usage, "binpack", ports=["9090"]) == ["i-0"]
    assert place([(256, 256)], fleet(2), usage, "binpack", ports=["8080/udp"]) == ["i-0"]


def test_no_instance_with_the_port_free_names_port_holders_and_ways_out() -> None:
    usage = {"i-0": Usage(256, 256, 1, {"8080": "service web (task aa)"}),
             "i-1": Usage(0, 0, 0, {"8080": "fg_load_balancer.main (container lb)"})}
    with pytest.raises(InsufficientCapacityError) as info:
        place([(256, 256)], fleet(2), usage, ports=["8080"], what="api:1")
    err = info.value
    assert str(err) == (
        "Unable to place 1 task(s) of api:1 (cpu 256, memory 256, host port(s) 8080): no "
        "instance has host port(s) 8080 free (RESOURCE:PORTS); in use: 8080 on i-0 by "
        "service web (task aa); 8080 on i-1 by fg_load_balancer.main (container lb)")
    assert err.resource == "RESOURCE:PORTS" and err.unplaced == 1
    assert err.hint.startswith("Two tasks that publish the same host port never share an "
                               "instance; the cluster has 2 instance(s), 0 with the port(s) "
                               "free: ")
    assert "raise capacity.instance_count" in err.hint and "lower desired_count" in err.hint
    assert "drop host_port and reach the tasks through a load balancer" in err.hint


def test_more_tasks_than_instances_fail_before_any_is_placed() -> None:
    with pytest.raises(InsufficientCapacityError) as info:
        place([(128, 128)] * 3, fleet(2), ports=["8080"], what="web:1")
    assert str(info.value) == (
        "Unable to place 3 task(s) of web:1 (cpu 128, memory 128, host port(s) 8080): no "
        "instance has host port(s) 8080 free (RESOURCE:PORTS) for more than 2 of them")
    assert "the cluster has 2 instance(s), 2 with the port(s) free" in info.value.hint


def test_cpu_or_memory_short_is_reported_before_ports() -> None:
    usage = {"i-0": Usage(0, 0, 0, {"8080": "x"})}
    with pytest.raises(InsufficientCapacityError) as info:
        place([(2048, 16)], fleet(2), usage, ports=["8080"])
    assert info.value.resource == "RESOURCE:CPU"
    assert "no instance has 2048 free cpu units" in str(info.value)


def test_fits_count_with_host_ports() -> None:
    usage = {"i-1": Usage(0, 0, 0, {"8080": "x"})}
    assert fits_count((256, 256), fleet(3), usage, ports=["8080"]) == 2
    assert fits_count((256, 256), fleet(3), usage, ports=["8080"], limit=1) == 1
    assert fits_count((256, 256), fleet(3), usage) == 12
    assert fits_count((2048, 256), fleet(3), usage, ports=["8080"]) == 0


def test_held_ports_in_instance_order() -> None:
    usage = {"i-10": Usage(ports={"8080": "b"}), "i-2": Usage(ports={"9090": "c", "8080": "a"})}
    instances = [Instance(f"i-{k}", 1, 1) for k in (10, 2)]
    assert held_ports(instances, usage, ["9090", "8080"]) == [
        "8080 on i-2 by a", "9090 on i-2 by c", "8080 on i-10 by b"]
