"""The capacity manager: which instance of a cluster's fleet each new task goes to.

Pure placement logic on plain data (no Docker): the drivers compute what the fleet already
runs from container labels, ask `place` where new tasks go, and only then start anything, so
a request that cannot be met is refused before a single container exists.

Strategies follow ECS:
- `spread`: fewest tasks first (then least memory used, then least cpu used), so tasks are
  balanced across instances.
- `binpack`: the instance with the least free memory that still fits (then least free cpu),
  so the fleet fills instance by instance and leaves whole instances free.
Ties are broken by instance id, so the same input always gives the same placement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from fgform.errors import FgformError

STRATEGIES = ("spread", "binpack")


@dataclass(frozen=True, slots=True)
class Instance:
    """One instance of a cluster's fleet: its id and total CPU units / MiB."""

    id: str
    cpu: int
    memory: int


@dataclass(frozen=True, slots=True)
class Usage:
    """What already runs on an instance: reserved CPU units, MiB and the number of tasks."""

    cpu: int = 0
    memory: int = 0
    tasks: int = 0


class InsufficientCapacityError(FgformError):
    """The fleet cannot hold the requested tasks; nothing was started."""

    def __init__(self, message: str, *, unplaced: int, free: dict[str, tuple[int, int]],
                 hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.unplaced = unplaced
        self.free = free  # instance id -> (free cpu, free memory) before placement


UsageLike = Usage | tuple[int, int] | tuple[int, int, int]


def _as_usage(value: UsageLike | None) -> Usage:
    """Accept a `Usage` or a plain `(cpu, memory)` / `(cpu, memory, tasks)` tuple."""
    if value is None:
        return Usage()
    if isinstance(value, Usage):
        return value
    if len(value) == 2:
        return Usage(int(value[0]), int(value[1]), 0)
    return Usage(int(value[0]), int(value[1]), int(value[2]))  # type: ignore[misc]


def place(requests: Sequence[tuple[int, int]], instances: Sequence[Instance],
          usage: Mapping[str, UsageLike] | None = None, strategy: str = "spread", *,
          what: str = "task") -> list[str]:
    """Choose an instance id for each `(cpu, memory)` request, in order.

    `usage` is what each instance already holds (missing instances are empty). `what` names
    the tasks in the error message (e.g. "web:2"). Raises InsufficientCapacityError naming
    the shortfall when any request does not fit; then nothing must be started.
    """
    if strategy not in STRATEGIES:
        raise FgformError(f"unknown placement strategy {strategy!r} (spread or binpack)")
    used = {i.id: _as_usage((usage or {}).get(i.id)) for i in instances}
    free_cpu = {i.id: i.cpu - used[i.id].cpu for i in instances}
    free_mem = {i.id: i.memory - used[i.id].memory for i in instances}
    count = {i.id: used[i.id].tasks for i in instances}
    ordered = sorted(instances, key=lambda i: _id_key(i.id))

    initial = {i.id: (free_cpu[i.id], free_mem[i.id]) for i in ordered}
    result: list[str] = []
    for n, (cpu, mem) in enumerate(requests):
        fits = [i for i in ordered if free_cpu[i.id] >= cpu and free_mem[i.id] >= mem]
        if not fits:
            raise _shortfall(requests, n, ordered, free_cpu, free_mem, initial, what)
        if strategy == "spread":
            # Fewest tasks first; among equals the least loaded, as a fraction of the instance
            # (instances may differ in size); the stable sort keeps id order for exact ties.
            chosen = min(fits, key=lambda i: (
                count[i.id],
                (i.memory - free_mem[i.id]) / max(i.memory, 1),
                (i.cpu - free_cpu[i.id]) / max(i.cpu, 1),
            ))
        else:
            chosen = min(fits, key=lambda i: (free_mem[i.id], free_cpu[i.id]))
        free_cpu[chosen.id] -= cpu
        free_mem[chosen.id] -= mem
        count[chosen.id] += 1
        result.append(chosen.id)
    return result


def fits_count(request: tuple[int, int], instances: Sequence[Instance],
               usage: Mapping[str, UsageLike] | None = None, limit: int = 1_000_000) -> int:
    """How many copies of one request the fleet still holds (at most `limit`).

    Placement order does not matter for identical requests, so this is a per-instance sum.
    """
    cpu, mem = request
    total = 0
    for inst in instances:
        u = _as_usage((usage or {}).get(inst.id))
        fc, fm = inst.cpu - u.cpu, inst.memory - u.memory
        if fc < 0 or fm < 0:
            continue
        by_cpu = fc // cpu if cpu > 0 else limit
        by_mem = fm // mem if mem > 0 else limit
        total += min(by_cpu, by_mem)
        if total >= limit:
            return limit
    return total


def _id_key(instance_id: str) -> tuple[str, int, str]:
    """Sort "i-2" before "i-10": a trailing number compares as a number."""
    head = instance_id.rstrip("0123456789")
    tail = instance_id[len(head):]
    return (head, int(tail) if tail else -1, instance_id)


def _shortfall(requests: Sequence[tuple[int, int]], placed: int,
               ordered: Sequence[Instance], free_cpu: dict[str, int], free_mem: dict[str, int],
               initial: dict[str, tuple[int, int]], what: str) -> InsufficientCapacityError:
    """The ECS-style message: nothing is placed when anything does not fit, so it counts
    every request, names the resource that runs out (at the first request that does not
    fit, after the `placed` ones before it) and what each instance has free now."""
    cpu, mem = requests[placed]
    if not ordered:
        reason = "the cluster has no instances"
    else:
        mem_ok = any(free_mem[i.id] >= mem for i in ordered)
        cpu_ok = any(free_cpu[i.id] >= cpu for i in ordered)
        if not mem_ok and not cpu_ok:
            reason = f"no instance has {cpu} free cpu units or {mem} free memory units"
        elif not mem_ok:
            reason = f"no instance has {mem} free memory units"
        elif not cpu_ok:
            reason = f"no instance has {cpu} free cpu units"
        else:
            reason = (f"no instance has both {cpu} free cpu units and {mem} free memory "
                      "units")
    free = ", ".join(f"{i.id} cpu {initial[i.id][0]} memory {initial[i.id][1]}"
                     for i in ordered)
    shape = f"cpu {cpu}, memory {mem}" if len(set(requests)) == 1 else "various sizes"
    message = f"Unable to place {len(requests)} task(s) of {what} ({shape}): {reason}"
    if placed:
        message += f" for more than {placed} of them"
    message += f"; free per instance: {free or 'none'}"
    total_cpu = sum(i.cpu for i in ordered)
    total_mem = sum(i.memory for i in ordered)
    return InsufficientCapacityError(
        message,
        unplaced=len(requests),
        free=dict(initial),
        hint=(f"The cluster has {len(ordered)} instance(s), cpu {total_cpu} and memory "
              f"{total_mem} in total: raise capacity.instance_count / instance_cpu / "
              "instance_memory, or lower desired_count or the task's cpu/memory."),
    )
