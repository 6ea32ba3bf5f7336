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

Host ports are a per-instance resource, as on ECS's bridge-mode instances: a task that
publishes a host port goes only to an instance where no other task (of any service, or
anything else) holds that port, so two tasks publishing the same port never share an
instance. A request that no instance can take for that reason fails with RESOURCE:PORTS.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

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
    """What already runs on an instance: reserved CPU units, MiB, the number of tasks, and
    the host ports taken on its address (port -> who holds it, for the messages)."""

    cpu: int = 0
    memory: int = 0
    tasks: int = 0
    ports: Mapping[str, str] = field(default_factory=dict)


class InsufficientCapacityError(FgformError):
    """The fleet cannot hold the requested tasks; nothing was started."""

    def __init__(self, message: str, *, unplaced: int, free: dict[str, tuple[int, int]],
                 hint: str = "", resource: str = "") -> None:
        super().__init__(message, hint=hint)
        self.unplaced = unplaced
        self.free = free  # instance id -> (free cpu, free memory) before placement
        # ECS's name for what ran out: RESOURCE:CPU, RESOURCE:MEMORY or RESOURCE:PORTS.
        self.resource = resource


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
          what: str = "task", ports: Collection[str] = ()) -> list[str]:
    """Choose an instance id for each `(cpu, memory)` request, in order.

    `usage` is what each instance already holds (missing instances are empty). Every request
    publishes the host `ports` (labels such as "8080" or "53/udp"): it goes only where none
    of them is held, and then holds them there. `what` names the tasks in the error message
    (e.g. "web:2"). Raises InsufficientCapacityError naming the shortfall when any request
    does not fit; then nothing must be started.
    """
    if strategy not in STRATEGIES:
        raise FgformError(f"unknown placement strategy {strategy!r} (spread or binpack)")
    used = {i.id: _as_usage((usage or {}).get(i.id)) for i in instances}
    free_cpu = {i.id: i.cpu - used[i.id].cpu for i in instances}
    free_mem = {i.id: i.memory - used[i.id].memory for i in instances}
    count = {i.id: used[i.id].tasks for i in instances}
    want = sorted(set(ports), key=_port_key)
    # Instances where one of `want` is taken: held before, or by a request placed here now.
    taken = {i.id for i in instances if any(p in used[i.id].ports for p in want)}
    ordered = sorted(instances, key=lambda i: _id_key(i.id))

    initial = {i.id: (free_cpu[i.id], free_mem[i.id]) for i in ordered}
    result: list[str] = []
    for n, (cpu, mem) in enumerate(requests):
        fits = [i for i in ordered if free_cpu[i.id] >= cpu and free_mem[i.id] >= mem
                and i.id not in taken]
        if not fits:
            raise _shortfall(requests, n, ordered, free_cpu, free_mem, initial, what,
                             want, used)
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
        if want:
            taken.add(chosen.id)
        result.append(chosen.id)
    return result


def fits_count(request: tuple[int, int], instances: Sequence[Instance],
               usage: Mapping[str, UsageLike] | None = None, limit: int = 1_000_000, *,
               ports: Collection[str] = ()) -> int:
    """How many copies of one request the fleet still holds (at most `limit`).

    Placement order does not matter for identical requests, so this is a per-instance sum;
    a request publishing host `ports` fits at most once per instance that has them all free.
    """
    cpu, mem = request
    total = 0
    for inst in instances:
        u = _as_usage((usage or {}).get(inst.id))
        fc, fm = inst.cpu - u.cpu, inst.memory - u.memory
        if fc < 0 or fm < 0:
            continue
        if ports and any(p in u.ports for p in ports):
            continue
        by_cpu = fc // cpu if cpu > 0 else limit
        by_mem = fm // mem if mem > 0 else limit
        total += min(by_cpu, by_mem, 1) if ports else min(by_cpu, by_mem)
        if total >= limit:
            return limit
    return total


def held_ports(instances: Sequence[Instance], usage: Mapping[str, UsageLike] | None,
               ports: Collection[str]) -> list[str]:
    """Who holds which of `ports` on each instance, in instance order: "8080 on i-0 by
    service web (task 3f2a1b2c)" (the messages of placement and of a stuck deployment)."""
    out = []
    for inst in sorted(instances, key=lambda i: _id_key(i.id)):
        held = _as_usage((usage or {}).get(inst.id)).ports
        out.extend(f"{p} on {inst.id} by {held[p]}"
                   for p in sorted(ports, key=_port_key) if p in held)
    return out


def _port_key(port: str) -> tuple[int, str]:
    """"8080" before "8080/udp" before "9090": by number, then protocol."""
    number, _, proto = port.partition("/")
    return (int(number) if number.isdigit() else -1, proto)


def _id_key(instance_id: str) -> tuple[str, int, str]:
    """Sort "i-2" before "i-10": a trailing number compares as a number."""
    head = instance_id.rstrip("0123456789")
    tail = instance_id[len(head):]
    return (head, int(tail) if tail else -1, instance_id)


def _shortfall(requests: Sequence[tuple[int, int]], placed: int,
               ordered: Sequence[Instance], free_cpu: dict[str, int], free_mem: dict[str, int],
               initial: dict[str, tuple[int, int]], what: str, ports: Sequence[str] = (),
               used: Mapping[str, Usage] | None = None) -> InsufficientCapacityError:
    """The ECS-style message: nothing is placed when anything does not fit, so it counts
    every request, names the resource that runs out (at the first request that does not
    fit, after the `placed` ones before it) and what each instance has free now."""
    cpu, mem = requests[placed]
    roomy = [i for i in ordered if free_cpu[i.id] >= cpu and free_mem[i.id] >= mem]
    if roomy and ports:
        # CPU and memory would do: every instance with room holds one of the host ports.
        return _port_shortfall(requests, placed, ordered, what, ports, used or {})
    resource = "RESOURCE:MEMORY"
    if not ordered:
        reason = "the cluster has no instances"
        resource = ""
    else:
        mem_ok = any(free_mem[i.id] >= mem for i in ordered)
        cpu_ok = any(free_cpu[i.id] >= cpu for i in ordered)
        if not mem_ok and not cpu_ok:
            reason = f"no instance has {cpu} free cpu units or {mem} free memory units"
        elif not mem_ok:
            reason = f"no instance has {mem} free memory units"
        elif not cpu_ok:
            reason = f"no instance has {cpu} free cpu units"
            resource = "RESOURCE:CPU"
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
        resource=resource,
    )


def _port_shortfall(requests: Sequence[tuple[int, int]], placed: int,
                    ordered: Sequence[Instance], what: str, ports: Sequence[str],
                    used: Mapping[str, Usage]) -> InsufficientCapacityError:
    """RESOURCE:PORTS: the message names the ports, who holds them where (before this
    placement), and the ways out."""
    listed = ", ".join(ports)
    shape = (f"cpu {requests[0][0]}, memory {requests[0][1]}, " if len(set(requests)) == 1
             else "")
    message = (f"Unable to place {len(requests)} task(s) of {what} ({shape}host port(s) "
               f"{listed}): no instance has host port(s) {listed} free (RESOURCE:PORTS)")
    if placed:
        message += f" for more than {placed} of them"
    holders = held_ports(ordered, used, ports)
    if holders:
        message += "; in use: " + "; ".join(holders)
    free = sum(1 for i in ordered if not any(p in used[i.id].ports for p in ports))
    return InsufficientCapacityError(
        message,
        unplaced=len(requests),
        free={},
        hint=(f"Two tasks that publish the same host port never share an instance; the "
              f"cluster has {len(ordered)} instance(s), {free} with the port(s) free: raise "
              "capacity.instance_count, lower desired_count (or stop what holds the port), "
              "or drop host_port and reach the tasks through a load balancer "
              "(fg_load_balancer)."),
        resource="RESOURCE:PORTS",
    )
