"""Checks on services against what they run on: `load_balancer` blocks against their task
definition's containers and ports, `deployment` percentages that let a rolling deployment
move, and tasks publishing a host port against their cluster's instances."""

from __future__ import annotations

from typing import Any

from fgform import deployment, numbers
from fgform.addresses import Address
from fgform.config.checks_references import attr_where, direct_reference, referenced_configs
from fgform.config.dynamic import known_blocks, literal_blocks
from fgform.config.model import Block, Resource
from fgform.errors import Diagnostic, SourceRange
from fgform.suggest import did_you_mean
from fgform.values import UNKNOWN, unmark


def check_load_balancers(configs: dict[Address, dict[str, Any]],
                         resources: dict[Address, Resource]) -> list[Diagnostic]:
    """Each `load_balancer { container_name, container_port }` of a service must name a
    container of its task definition, and a port that container maps."""
    diags: list[Diagnostic] = []
    for addr, cfg in configs.items():
        if addr.type != "fg_service" or not known_blocks(cfg.get("load_balancer")):
            continue
        res = resources[addr]
        td_attr = res.body.attributes.get("task_definition")
        ref = direct_reference(td_attr.expr) if td_attr is not None else None
        if ref is None or ref.parts[0] != "fg_task_definition" or len(ref.parts) < 2:
            continue
        tds = referenced_configs(configs, resources, addr, ref)
        lb_blocks = literal_blocks(res.body, "load_balancer")
        for i, lb in enumerate(known_blocks(cfg["load_balancer"])):
            block = lb_blocks[i] if i < len(lb_blocks) else None
            for td_addr, td in tds:
                d = _check_one_lb(lb, block, td_addr, td, res)
                if d is not None:
                    diags.append(d)
                    break
    return diags


def _check_one_lb(lb: dict[str, Any], block: Block | None, td_addr: Address,
                  td: dict[str, Any], res: Resource) -> Diagnostic | None:
    cname, _ = unmark(lb.get("container_name"))
    cport, _ = unmark(lb.get("container_port"))
    if cname is None or cname is UNKNOWN:
        return None
    if unmark(td.get("container"))[0] is UNKNOWN:
        return None  # made by a dynamic block whose for_each is not known yet
    containers = [c for c in known_blocks(td.get("container")) if isinstance(c, dict)]
    names = [unmark(c.get("name"))[0] for c in containers]
    if any(n is UNKNOWN for n in names):
        return None
    attr_range = None
    if block is not None:
        a = block.body.attributes.get("container_name")
        attr_range = a.range if a is not None else block.range
    td_name = str(td_addr)
    if cname not in names:
        listing = ", ".join(f'"{n}"' for n in names) or "none"
        return Diagnostic.error(
            "Invalid load_balancer container",
            f'The task definition {td_name} has no container named "{cname}". Its containers '
            f"are: {listing}.", attr_range or res.range, did_you_mean(str(cname), names))
    if cport is None or cport is UNKNOWN:
        return None
    container = containers[names.index(cname)]
    if unmark(container.get("port_mapping"))[0] is UNKNOWN:
        return None
    ports = [unmark(p.get("container_port"))[0]
             for p in known_blocks(container.get("port_mapping"))]
    if any(p is UNKNOWN for p in ports) or cport in ports:
        return None
    if block is not None and "container_port" in block.body.attributes:
        attr_range = block.body.attributes["container_port"].range
    listing = ", ".join(str(p) for p in ports)
    detail = (f'Container "{cname}" of {td_name} has no port_mapping with container_port '
              f"{cport}. " + (f"Its ports are: {listing}." if ports else
                              "It has no port_mapping blocks."))
    return Diagnostic.error("Invalid load_balancer container port", detail,
                            attr_range or res.range)


# -- deployment limits -------------------------------------------------------------------------
def check_deployment_limits(configs: dict[Address, dict[str, Any]],
                            resources: dict[Address, Resource]) -> list[Diagnostic]:
    """A service's `deployment` percentages must let a rolling deployment move: room to
    start a new task, or a healthy task to spare (ECS rejects 100/100 the same way)."""
    diags: list[Diagnostic] = []
    for addr, cfg in configs.items():
        if addr.type != "fg_service":
            continue
        block_value, _ = unmark(cfg.get("deployment"))
        if not isinstance(block_value, dict):
            continue
        lo, _ = unmark(block_value.get("minimum_healthy_percent"))
        hi, _ = unmark(block_value.get("maximum_percent"))
        desired, _ = unmark(cfg.get("desired_count"))
        values = (lo, hi, desired)
        if any(not isinstance(v, int | float) or isinstance(v, bool) for v in values):
            continue  # unknown until apply, or already reported as the wrong type
        # Any count stalls at 100/100; other pairs stall only for some counts (1 task at
        # 50/150), so the service's own count decides, and at least 1 covers a scale-up.
        if not deployment.stalls(max(int(desired), 1), lo, hi):
            continue
        n = max(int(desired), 1)
        res = resources[addr]
        blocks = literal_blocks(res.body, "deployment")
        where = attr_where(blocks[0] if blocks else None, "maximum_percent", res.range)
        floor = deployment.healthy_floor(n, lo)
        ceiling = deployment.running_ceiling(n, hi)
        diags.append(Diagnostic.error(
            "Invalid deployment limits",
            f"{addr}: with desired_count {n}, minimum_healthy_percent {_num(lo)} keeps {floor} "
            f"task(s) healthy (rounded up) and maximum_percent {_num(hi)} allows {ceiling} "
            "running (rounded down), so a deployment could neither start a new task nor stop "
            "an old one. Raise maximum_percent (e.g. 200, the default) or lower "
            "minimum_healthy_percent.", where))
    return diags


def _num(value: float | int) -> str:
    return numbers.to_string(value)  # as Terraform prints numbers (fgform/numbers.py)


# -- host ports of service tasks ---------------------------------------------------------------
def check_service_host_ports(configs: dict[Address, dict[str, Any]],
                             resources: dict[Address, Resource]) -> list[Diagnostic]:
    """Two tasks that publish the same host port never share an instance, so the services
    whose tasks publish one port cannot run more tasks than their clusters have instances.
    Instance K of every cluster publishes on the same address (127.0.0.K+1), so services of
    different clusters share the first instances' ports. Checked when every count, instance
    count and port involved is known; what else holds a port is only known at apply."""
    # port label -> (service, its tasks, its cluster's instance count, cluster, where)
    by_port: dict[str, list[tuple[Address, int, int, Address, SourceRange]]] = {}
    for addr in sorted(configs, key=str):
        if addr.type != "fg_service":
            continue
        found = _service_host_ports(configs, resources, addr)
        if found is None:
            continue
        ports, desired, instances, cluster = found
        res = resources[addr]
        attr = res.body.attributes.get("desired_count")
        where = attr.range if attr is not None else res.range
        for port in ports:
            by_port.setdefault(port, []).append((addr, desired, instances, cluster, where))
    diags: list[Diagnostic] = []
    for port, users in by_port.items():
        # Cluster k's tasks may use the first n_k addresses: the tasks of the services with
        # at most n instances must fit n (nested sets: this is the whole condition).
        users.sort(key=lambda u: (u[2], str(u[0])))
        total = 0
        for i, (_addr, desired, instances, cluster, where) in enumerate(users):
            total += desired
            if total <= instances or (i + 1 < len(users) and users[i + 1][2] == instances):
                continue
            sharing = [u for u in users[:i + 1] if u[1] > 0]
            diags.append(_port_diagnostic(port, sharing, total, instances, cluster, where))
            break
    return diags


def _service_host_ports(configs: dict[Address, dict[str, Any]],
                        resources: dict[Address, Resource], addr: Address
                        ) -> tuple[list[str], int, int, Address] | None:
    """(host ports its task definition publishes, desired_count, its cluster's
    instance_count, the cluster) when all are known; else None."""
    res = resources[addr]
    desired, _ = unmark(configs[addr].get("desired_count"))
    if desired is None:
        desired = 1  # the schema default
    if not isinstance(desired, int | float) or isinstance(desired, bool):
        return None
    refs = []
    for name, rtype in (("task_definition", "fg_task_definition"), ("cluster", "fg_cluster")):
        attr = res.body.attributes.get(name)
        ref = direct_reference(attr.expr) if attr is not None else None
        if ref is None or ref.parts[0] != rtype or len(ref.parts) < 2:
            return None
        found = referenced_configs(configs, resources, addr, ref)
        if len(found) != 1:
            return None
        refs.append(found[0])
    (_td_addr, td), (cluster_addr, cluster) = refs
    ports = set()
    for spec in known_blocks(td.get("container")):
        if not isinstance(spec, dict):
            return None
        for pm in known_blocks(spec.get("port_mapping")):
            if not isinstance(pm, dict):
                return None
            port, _ = unmark(pm.get("host_port"))
            proto, _ = unmark(pm.get("protocol"))
            if port is None:
                continue
            if not isinstance(port, int | float) or isinstance(port, bool) or \
                    not isinstance(proto, str | None):
                return None
            proto = (proto or "tcp").lower()
            ports.add(str(int(port)) if proto == "tcp" else f"{int(port)}/{proto}")
    if not ports:
        return None
    capacity, _ = unmark(cluster.get("capacity"))
    if isinstance(capacity, list):
        capacity = capacity[0] if capacity else None
    count = unmark(capacity.get("instance_count"))[0] if isinstance(capacity, dict) else None
    count = 1 if count is None else count
    if not isinstance(count, int | float) or isinstance(count, bool):
        return None
    return sorted(ports), int(desired), int(count), cluster_addr


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _port_diagnostic(port: str, sharing: list[tuple[Address, int, int, Address, SourceRange]],
                     total: int, instances: int, cluster: Address, where: SourceRange
                     ) -> Diagnostic:
    fix = ("Raise capacity.instance_count, lower desired_count, or drop host_port and reach "
           "the tasks through a load balancer (fg_load_balancer).")
    if len(sharing) == 1:
        addr, desired = sharing[0][0], sharing[0][1]
        detail = (f"{addr} runs {desired} task(s) that publish host port {port}, but {cluster} "
                  f"has {instances} instance(s), and two tasks that publish the same host port "
                  f"never share an instance: at most {instances} can run. {fix}")
    else:
        names = _and([f"{u[0]} ({u[1]})" for u in sharing])
        clusters = sorted({str(u[3]) for u in sharing})
        if len(clusters) == 1:
            room = f"{clusters[0]} has {instances} instance(s)"
        else:
            room = (f"instance K of every cluster publishes on the same address "
                    f"(127.0.0.K+1), so {_and(clusters)} offer {instances} address(es) for "
                    "it between them")
        detail = (f"The tasks of {names} all publish host port {port}: {total} task(s), but "
                  f"{room}, and two tasks that publish the same host port never share an "
                  f"instance. {fix}")
    return Diagnostic.error("Too many tasks for a host port", detail, where)
