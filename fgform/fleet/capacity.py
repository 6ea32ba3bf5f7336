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
from fgform.placement_rules import INSTANCE_ID, Placement, random_key

STRATEGIES = ("spread", "binpack")


@dataclass(frozen=True, slots=True)
class Instance:
    """One instance of a cluster's fleet: its id, total CPU units / MiB, and its
    attributes (name, value) pairs for placement constraints (the built-ins included)."""

    id: str
    cpu: int
    memory: int
    attributes: tuple[tuple[str, str], ...] = ()

    @property
    def attrs(self) -> dict[str, str]:
        """The attributes as the query language reads them (ecs.instance-id always)."""
        return {INSTANCE_ID: self.id, **dict(self.attributes)}


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
          what: str = "task", ports: Collection[str] = (),
          placement: Placement | None = None,
          group: Mapping[str, int] | None = None) -> list[str]:
    """Choose an instance id for each `(cpu, memory)` request, in order.

    `usage` is what each instance already holds (missing instances are empty). Every request
    publishes the host `ports` (labels such as "8080" or "53/udp"): it goes only where none
    of them is held, and then holds them there. `what` names the tasks in the error message
    (e.g. "web:2"). Raises InsufficientCapacityError naming the shortfall when any request
    does not fit; then nothing must be started.

    A service's `placement` narrows the instances to those satisfying its memberOf
    constraints, with distinctInstance to those where `group` (tasks of the same service
    and revision per instance) holds none, and its strategies (in order) replace
    `strategy`.
    """
    if strategy not in STRATEGIES:
        raise FgformError(f"unknown placement strategy {strategy!r} (spread or binpack)")
    if placement is not None and not placement.plain:
        return _place_with(requests, instances, usage, strategy, what, ports, placement,
                           group or {})
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


def _place_with(requests: Sequence[tuple[int, int]], instances: Sequence[Instance],
                usage: Mapping[str, UsageLike] | None, strategy: str, what: str,
                ports: Collection[str], placement: Placement, group: Mapping[str, int]
                ) -> list[str]:
    """`place` with a service's constraints and strategies (ECS's order: constraints filter
    the instances, then each strategy rule in turn orders those left)."""
    allowed = [i for i in instances if placement.admits(i.attrs)]
    if not allowed and requests:
        raise _unsatisfiable(requests, instances, what, placement)
    rules = list(placement.strategies) or [(strategy, "")]
    held = dict(group)
    used = {i.id: _as_usage((usage or {}).get(i.id)) for i in allowed}
    result: list[str] = []
    for n, request in enumerate(requests):
        pool = [i for i in allowed if not (placement.distinct and held.get(i.id, 0))]
        if not pool:
            raise _distinct_shortfall(requests, n, instances, allowed, what)
        # The instances left, in the rules' order: the first with room takes the request.
        order = sorted(pool, key=lambda i: _rule_key(rules, i, pool, used, held, what, n))
        chosen = _first_fit(request, order, used, ports, requests, n, what)
        u = used[chosen]
        port_map = dict(u.ports)
        for p in ports:
            port_map.setdefault(p, what)
        used[chosen] = Usage(u.cpu + request[0], u.memory + request[1], u.tasks + 1,
                             port_map)
        held[chosen] = held.get(chosen, 0) + 1
        result.append(chosen)
    return result


def _first_fit(request: tuple[int, int], order: Sequence[Instance], used: Mapping[str, Usage],
               ports: Collection[str], requests: Sequence[tuple[int, int]], n: int,
               what: str) -> str:
    """The first instance in `order` with room for `request` (cpu, memory, host ports);
    else the capacity manager's own shortfall message."""
    cpu, mem = request
    for inst in order:
        u = used[inst.id]
        if inst.cpu - u.cpu >= cpu and inst.memory - u.memory >= mem and \
                not any(p in u.ports for p in ports):
            return inst.id
    # Nothing fits: the usual message, computed over the instances left.
    place(list(requests[n:]), list(order), dict(used), what=what, ports=ports)
    raise AssertionError("unreachable: place must have raised")  # pragma: no cover


def _rule_key(rules: Sequence[tuple[str, str]], inst: Instance, pool: Sequence[Instance],
              used: Mapping[str, Usage], held: Mapping[str, int], what: str, n: int
              ) -> tuple[object, ...]:
    """The sort key of an instance under the strategy rules, in order; the instance id
    (numbers as numbers) breaks ties, so the same input always gives the same placement."""
    key: list[object] = []
    u = used[inst.id]
    for stype, field_ in rules:
        if stype == "spread" and field_.startswith("attribute:"):
            # Fewest tasks of the service among instances with the same value.
            name = field_[len("attribute:"):]
            value = inst.attrs.get(name)
            key.append(sum(held.get(i.id, 0) for i in pool if i.attrs.get(name) == value))
        elif stype == "spread" and field_ in ("instanceId", "host"):
            key.append(held.get(inst.id, 0))
        elif stype == "spread":  # the cluster's strategy: fewest tasks, then least loaded
            key.extend((u.tasks, u.memory / max(inst.memory, 1), u.cpu / max(inst.cpu, 1)))
        elif stype == "binpack" and field_ == "cpu":
            key.append(inst.cpu - u.cpu)
        elif stype == "binpack":
            key.extend((inst.memory - u.memory, inst.cpu - u.cpu))
        elif stype == "random":
            key.append(random_key(what, n, inst.id))
    key.append(_id_key(inst.id))
    return tuple(key)


def _unsatisfiable(requests: Sequence[tuple[int, int]], instances: Sequence[Instance],
                   what: str, placement: Placement) -> InsufficientCapacityError:
    exprs = " and ".join(f'"{c.expression}"' for c in placement.constraints)
    return InsufficientCapacityError(
        f"Unable to place {len(requests)} task(s) of {what}: no instance satisfies the "
        f"placement constraint(s) memberOf {exprs} (MemberOf)",
        unplaced=len(requests), free={},
        hint="Change the constraint, or give the cluster's instances the attributes it asks "
             "for (capacity { attribute { ... } }).", resource="MemberOf")


def _distinct_shortfall(requests: Sequence[tuple[int, int]], n: int,
                        instances: Sequence[Instance], allowed: Sequence[Instance],
                        what: str) -> InsufficientCapacityError:
    return InsufficientCapacityError(
        f"Unable to place {len(requests)} task(s) of {what}: distinctInstance places each "
        f"task on a different instance and {len(allowed)} of the cluster's "
        f"{len(instances)} instance(s) may take one, all holding a task of it already"
        + (f" (after {n} of them)" if n else "") + " (DistinctInstance)",
        unplaced=len(requests), free={},
        hint="Raise capacity.instance_count or lower desired_count.",
        resource="DistinctInstance")


def fits_count(request: tuple[int, int], instances: Sequence[Instance],
               usage: Mapping[str, UsageLike] | None = None, limit: int = 1_000_000, *,
               ports: Collection[str] = (), placement: Placement | None = None,
               group: Mapping[str, int] | None = None) -> int:
    """How many copies of one request the fleet still holds (at most `limit`).

    Placement order does not matter for identical requests, so this is a per-instance sum;
    a request publishing host `ports` fits at most once per instance that has them all free.
    """
    cpu, mem = request
    total = 0
    for inst in instances:
        if placement is not None and not placement.admits(inst.attrs):
            continue
        once = placement is not None and placement.distinct
        if once and (group or {}).get(inst.id, 0):
            continue
        u = _as_usage((usage or {}).get(inst.id))
        fc, fm = inst.cpu - u.cpu, inst.memory - u.memory
        if fc < 0 or fm < 0:
            continue
        if ports and any(p in u.ports for p in ports):
            continue
        by_cpu = fc // cpu if cpu > 0 else limit
        by_mem = fm // mem if mem > 0 else limit
        total += min(by_cpu, by_mem, 1) if ports or once else min(by_cpu, by_mem)
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
