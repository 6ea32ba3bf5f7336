"""`fgform validate`: every problem in a configuration, reported at once.

The checks come from three places, so `plan` and `validate` can never disagree:

- the graph (`graph.build_graph`): undeclared variables, locals, resources, modules and
  module outputs; attributes a resource type does not have; module arguments; cycles;
- the walk (`graph.walk` with `graph.validate_resolver`): each resource instance decoded
  by its schema (unknown or missing arguments and blocks, types, ranges, enums), count and
  for_each values, variable values and their validation rules;
- checks across resources, here: reference attributes naming the wrong resource type
  (`cluster = fg_task_definition.x.arn`), and a service's `load_balancer` naming a
  container or port its task definition does not have.

The loader's own diagnostics (syntax, duplicate blocks and arguments) are not repeated:
the caller reports `load_config`'s diagnostics first, then these.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from fgform.addresses import Address
from fgform.config import ast
from fgform.config.ast import Reference
from fgform.config.decode import check_structure, configurable
from fgform.config.model import Block, Config, Resource
from fgform.config.references import references
from fgform.config.schema import ACTIONS, CONDITIONS, REFERENCE_ATTRIBUTES, SCHEMAS, get_schema
from fgform.config.variables import check_declaration, resolve_variables
from fgform.errors import Diagnostic, Severity, SourceRange, redact
from fgform.fleet import deployment
from fgform.fleet.context_hash import resolve_context
from fgform.graph import module_prefix, validate_resolver, walk
from fgform.suggest import did_you_mean
from fgform.values import UNKNOWN, sensitive_strings, unmark

# Attributes inside nested blocks that name another resource: (type, block path, attribute)
# -> (target type, target attribute). The top-level ones are in schema.REFERENCE_ATTRIBUTES.
NESTED_REFERENCE_ATTRIBUTES: dict[tuple[str, tuple[str, ...], str], tuple[str, str]] = {
    ("fg_service", ("load_balancer",), "target_group"): ("fg_target_group", "id"),
    ("fg_load_balancer", ("listener",), "default_target_group"): ("fg_target_group", "id"),
    ("fg_load_balancer", ("listener", "rule"), "target_group"): ("fg_target_group", "id"),
    ("fg_load_balancer", ("listener", "forward", "target_group"), "id"):
        ("fg_target_group", "id"),
    ("fg_load_balancer", ("listener", "rule", "forward", "target_group"), "id"):
        ("fg_target_group", "id"),
}


def validate_config(config: Config, variables: Mapping[str, Any] | None = None, *,
                    var_args: Sequence[tuple[str, str]] = (),
                    env: Mapping[str, str] | None = None,
                    cwd: str | None = None, validating: bool = False) -> list[Diagnostic]:
    """Every problem in a loaded configuration, errors and warnings, sorted by place.

    `variables` are the root module's final values (from `resolve_variables`); when None
    they are resolved here from defaults, `var_args` (("var", "k=v") / ("var-file", path)),
    `env` and the variables files of the configuration directory, and their problems are
    reported too.

    `validating` is the `validate` command's mode, `terraform validate`'s: the configuration
    is checked for whatever values its variables will be given, so a root variable nobody
    set is unknown (not an error), and so is a count or for_each not known yet (one
    representative instance is checked; plan reports it when it must know them all).
    Without it (before a plan), a variable must have a value and every count and for_each
    must be known.
    """
    diags: list[Diagnostic] = []
    if variables is None:
        values, vdiags = resolve_variables(config.module, config.module.dir, var_args, env,
                                           require_values=not validating)
        diags.extend(vdiags)
    else:
        values = dict(variables)
    result = walk(config, values, validate_resolver, cwd=cwd, validating=validating)
    diags.extend(result.diagnostics)

    for node in result.graph.nodes.values():
        if node.kind != "resource" or node.id in result.structure_checked:
            continue
        res: Resource = node.obj  # type: ignore[assignment]
        schema = get_schema(res.type)
        if schema is not None:
            diags.extend(check_structure(res.body, schema.body, res.range))

    for path, cfg in result.graph.configs.items():
        for var in cfg.module.variables.values():
            diags.extend(check_declaration(var))
        for res in cfg.module.resources.values():
            diags.extend(check_reference_attributes(res, cfg, path))
            diags.extend(check_ignore_changes(res))
    diags.extend(check_load_balancers(result.configs, result.resources))
    diags.extend(check_host_ports(result.configs, result.resources))
    diags.extend(check_deployment_limits(result.configs, result.resources))
    diags.extend(check_service_host_ports(result.configs, result.resources))
    diags.extend(check_listener_rules(result.configs, result.resources))
    diags.extend(check_target_group_owners(result.graph.configs))
    diags.extend(check_image_contexts(result.configs, result.resources,
                                      cwd or str(config.module.dir)))
    # Conversion and lookup errors quote the offending value; a sensitive one must not reach
    # a terminal or a CI log that way.
    return sort_diagnostics(redact(_dedupe(diags), sensitive_strings(values)))


def sort_diagnostics(diags: list[Diagnostic]) -> list[Diagnostic]:
    """Errors before warnings, then by file, line and column (stable for equal places)."""
    def key(d: Diagnostic) -> tuple:
        r = d.range
        place = ("", 0, 0) if r is None else (r.filename, r.start_line, r.start_col)
        return (d.severity is not Severity.ERROR, *place)
    return sorted(diags, key=key)


def _dedupe(diags: list[Diagnostic]) -> list[Diagnostic]:
    seen: set[tuple] = set()
    out = []
    for d in diags:
        r = d.range
        k = (d.severity, d.summary, d.detail,
             None if r is None else (r.filename, r.start_line, r.start_col))
        if k not in seen:
            seen.add(k)
            out.append(d)
    return out


# -- reference attributes -------------------------------------------------------------------
def direct_reference(expr: ast.Node) -> Reference | None:
    """The reference when an expression is nothing but one (`fg_cluster.main.id` or
    `"${fg_cluster.main.id}"`); None for anything computed."""
    if isinstance(expr, ast.Template) and len(expr.parts) == 1 and \
            isinstance(expr.parts[0], ast.Node):
        expr = expr.parts[0]
    if isinstance(expr, ast.Parens):
        return direct_reference(expr.inner)
    if not isinstance(expr, (ast.GetAttr, ast.Index)):
        return None
    refs = references(expr)
    return refs[0] if len(refs) == 1 else None


def _ref_attribute(ref: Reference, res: Resource | None) -> str | None:
    """The attribute a resource reference reads, skipping an instance key."""
    rest = list(ref.parts[2:])
    if rest and (isinstance(rest[0], int) or (res is not None and res.for_each is not None)):
        rest = rest[1:]
    return rest[0] if rest and isinstance(rest[0], str) else None


def check_reference_attributes(res: Resource, cfg: Config, path: tuple[str, ...]
                               ) -> list[Diagnostic]:
    """Attributes that name another resource must reference the right type's right
    attribute: a service's `cluster` is an `fg_cluster`'s `id`, not anything else."""
    diags: list[Diagnostic] = []
    for (rtype, attr_name), target in REFERENCE_ATTRIBUTES.items():
        if rtype == res.type and attr_name in res.body.attributes:
            diags.extend(_check_ref_attr(res, attr_name, res.body.attributes[attr_name].expr,
                                         target, cfg))
    for (rtype, block_path, attr_name), target in NESTED_REFERENCE_ATTRIBUTES.items():
        if rtype != res.type:
            continue
        for block in _blocks_at(res.body.blocks, block_path):
            attr = block.body.attributes.get(attr_name)
            if attr is not None:
                diags.extend(_check_ref_attr(res, attr_name, attr.expr, target, cfg))
    return diags


def _blocks_at(blocks: list[Block], path: tuple[str, ...]) -> list[Block]:
    found = [b for b in blocks if b.type == path[0]]
    if len(path) == 1:
        return found
    return [x for b in found for x in _blocks_at(b.body.blocks, path[1:])]


def _check_ref_attr(res: Resource, attr_name: str, expr: ast.Node, target: tuple[str, str],
                    cfg: Config) -> list[Diagnostic]:
    ref = direct_reference(expr)
    if ref is None or not ref.parts or ref.parts[0] not in SCHEMAS or len(ref.parts) < 2:
        return []  # a variable, a local, a literal: only its value can be checked
    want_type, want_attr = target
    got_type, got_name = ref.parts[0], ref.parts[1]
    referenced = cfg.module.resources.get(f"{got_type}.{got_name}")
    got_attr = _ref_attribute(ref, referenced)
    article = "an"  # every type starts with fg_: "an eff-gee cluster"
    if got_type != want_type:
        same_type = sorted(r.name for r in cfg.module.resources.values()
                           if r.type == want_type)
        example = f"{want_type}.{same_type[0] if same_type else 'NAME'}.{want_attr}"
        return [Diagnostic.error(
            f'Wrong resource type for "{attr_name}"',
            f'"{attr_name}" of {res.type} must be the {want_attr} of {article} {want_type} '
            f"(like {example}), but this refers to {ref}, {'the ' + got_attr + ' of ' if got_attr else ''}"
            f"an {got_type}.", ref.range, f"Did you mean {example}?" if same_type else "")]
    if got_attr is not None and got_attr != want_attr:
        fixed = f"{got_type}.{got_name}.{want_attr}"
        return [Diagnostic.error(
            f'Wrong attribute for "{attr_name}"',
            f'"{attr_name}" of {res.type} must be the {want_attr} of {article} {want_type}, '
            f"not its {got_attr}.", ref.range, f"Did you mean {fixed}?")]
    return []


def check_ignore_changes(res: Resource) -> list[Diagnostic]:
    """`lifecycle { ignore_changes = [...] }` may only name the type's arguments."""
    schema = get_schema(res.type)
    if schema is None:
        return []
    names = [a.name for a in schema.body.attributes if configurable(a)] + \
        [b.name for b in schema.body.blocks]
    diags = []
    for entry in res.lifecycle.ignore_changes:
        first = entry.split(".")[0].split("[")[0]
        if entry == "all" or first in names:
            continue
        diags.append(Diagnostic.error(
            "Unsupported attribute",
            f'ignore_changes names "{entry}", but {res.type} has no argument or block named '
            f'"{first}".', res.lifecycle.range or res.range, did_you_mean(first, names)))
    return diags


# -- services against their task definitions ----------------------------------------------
def check_load_balancers(configs: dict[Address, dict[str, Any]],
                         resources: dict[Address, Resource]) -> list[Diagnostic]:
    """Each `load_balancer { container_name, container_port }` of a service must name a
    container of its task definition, and a port that container maps."""
    diags: list[Diagnostic] = []
    for addr, cfg in configs.items():
        if addr.type != "fg_service" or not cfg.get("load_balancer"):
            continue
        res = resources[addr]
        td_attr = res.body.attributes.get("task_definition")
        ref = direct_reference(td_attr.expr) if td_attr is not None else None
        if ref is None or ref.parts[0] != "fg_task_definition" or len(ref.parts) < 2:
            continue
        tds = _referenced_configs(configs, resources, addr, ref)
        lb_blocks = res.body.blocks_of("load_balancer")
        for i, lb in enumerate(cfg["load_balancer"]):
            block = lb_blocks[i] if i < len(lb_blocks) else None
            for td_addr, td in tds:
                d = _check_one_lb(lb, block, td_addr, td, res)
                if d is not None:
                    diags.append(d)
                    break
    return diags


def _referenced_configs(configs: dict[Address, dict[str, Any]],
                        resources: dict[Address, Resource], svc: Address, ref: Reference
                        ) -> list[tuple[Address, dict[str, Any]]]:
    """The configurations of the resource instance(s) a service's reference may name
    (`fg_task_definition.app.arn`, `fg_cluster.main[0].id`)."""
    rtype, name = ref.parts[0], ref.parts[1]
    found = [(a, c) for a, c in configs.items()
             if a.type == rtype and a.name == name and a.module == svc.module]
    if not found:
        return []
    td_res = resources[found[0][0]]
    if td_res.count is None and td_res.for_each is None:
        return found
    key = ref.parts[2] if len(ref.parts) > 2 else None
    if isinstance(key, int) or (td_res.for_each is not None and isinstance(key, str)):
        return [(a, c) for a, c in found if a.key == key]
    # A dynamic key ([count.index], [each.key]): the instance with the service's own key.
    same = [(a, c) for a, c in found if a.key == svc.key]
    return same or found


def _check_one_lb(lb: dict[str, Any], block: Block | None, td_addr: Address,
                  td: dict[str, Any], res: Resource) -> Diagnostic | None:
    cname, _ = unmark(lb.get("container_name"))
    cport, _ = unmark(lb.get("container_port"))
    if cname is None or cname is UNKNOWN:
        return None
    containers = [c for c in td.get("container") or [] if isinstance(c, dict)]
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
    ports = [unmark(p.get("container_port"))[0] for p in container.get("port_mapping") or []]
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


def resource_node_id(path: tuple[str, ...], res: Resource) -> str:
    """The graph node id of a resource block: `module.a.fg_service.web`."""
    return f"{module_prefix(path)}{res.type}.{res.name}"


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
        blocks = res.body.blocks_of("deployment")
        where = _where(blocks[0] if blocks else None, "maximum_percent", res.range)
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
    return str(int(value)) if float(value).is_integer() else str(value)


# -- host ports -------------------------------------------------------------------------------
# Addresses that publish a port on every host interface: they clash with any other address.
_WILDCARDS = ("0.0.0.0", "::", "")


def _listeners(addr: Address, cfg: dict[str, Any], res: Resource
               ) -> list[tuple[Any, Any, SourceRange]]:
    """(bind address, port, where it is written) of each host port a resource listens on:
    a registry's `port`, each `listener` of a load balancer. Task `host_port`s are placed
    by the capacity manager on its instances, not on the host's addresses."""
    bind, _ = unmark(cfg.get("bind_address"))
    if addr.type == "fg_registry":
        attr = res.body.attributes.get("port")
        return [(bind, unmark(cfg.get("port"))[0], attr.range if attr else res.range)]
    if addr.type == "fg_load_balancer":
        blocks = res.body.blocks_of("listener")
        out = []
        for i, listener in enumerate(unmark(cfg.get("listener"))[0] or []):
            block = blocks[i] if i < len(blocks) else None
            attr = block.body.attributes.get("port") if block is not None else None
            where = attr.range if attr else block.range if block else res.range
            out.append((bind, listener.get("port") if isinstance(listener, dict) else None,
                        where))
        return out
    return []


def check_host_ports(configs: dict[Address, dict[str, Any]],
                     resources: dict[Address, Resource]) -> list[Diagnostic]:
    """Two registries, load balancer listeners or a mix of them cannot listen on the same
    host port and address: the second one would fail at apply, after the first was made."""
    diags: list[Diagnostic] = []
    taken: list[tuple[str, int, Address, SourceRange]] = []
    for addr, cfg in configs.items():
        for bind, port, where in _listeners(addr, cfg, resources[addr]):
            if not isinstance(port, int | float) or isinstance(port, bool) or \
                    not isinstance(bind, str) or (isinstance(port, float)
                                                  and not port.is_integer()):
                continue  # unknown until apply, or already reported (wrong type, 1e400)
            clash = next((t for t in taken if t[1] == port and (
                t[0] == bind or t[0] in _WILDCARDS or bind in _WILDCARDS)), None)
            if clash is None:
                taken.append((bind, int(port), addr, where))
                continue
            other = clash[2] if clash[2] != addr else "another listener of the same block"
            diags.append(Diagnostic.error(
                "Duplicate host port",
                f"{addr} listens on {bind}:{int(port)}, but {other} already listens on "
                f"{clash[0]}:{int(port)} (at {clash[3]}). Two listeners cannot share a host "
                "port: give one of them another port.", where))
    return diags


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
        found = _referenced_configs(configs, resources, addr, ref)
        if len(found) != 1:
            return None
        refs.append(found[0])
    (_td_addr, td), (cluster_addr, cluster) = refs
    ports = set()
    for spec in unmark(td.get("container"))[0] or []:
        if not isinstance(spec, dict):
            return None
        for pm in unmark(spec.get("port_mapping"))[0] or []:
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


# -- load balancer listeners and rules ------------------------------------------------------
def _nth(blocks: list[Block], i: int) -> Block | None:
    """The i-th block of a kind, when the values line up with the written blocks (they do
    unless a `dynamic` block made them)."""
    return blocks[i] if i < len(blocks) else None


def _where(block: Block | None, attr: str, fallback: SourceRange) -> SourceRange:
    if block is None:
        return fallback
    a = block.body.attributes.get(attr)
    return a.range if a is not None else block.range


def _present(value: Any) -> bool:
    """Whether an action or condition is set: a non-empty value or block."""
    return value is not None and value != [] and value != ""


def check_listener_rules(configs: dict[Address, dict[str, Any]],
                         resources: dict[Address, Resource]) -> list[Diagnostic]:
    """What an ALB refuses in a listener: more than one default action; a rule with no
    condition, with no action or several, or with the priority of another rule of the same
    listener."""
    diags: list[Diagnostic] = []
    for addr, cfg in configs.items():
        if addr.type != "fg_load_balancer":
            continue
        res = resources[addr]
        lblocks = res.body.blocks_of("listener")
        for i, listener in enumerate(unmark(cfg.get("listener"))[0] or []):
            if not isinstance(listener, dict):
                continue
            lblock = _nth(lblocks, i)
            lwhere = lblock.range if lblock is not None else res.range
            actions = [a for a in ACTIONS["listener"] if _present(listener.get(a))]
            if len(actions) > 1:
                diags.append(Diagnostic.error(
                    "Conflicting default actions",
                    f"A listener of {addr} has {len(actions)} default actions "
                    f"({', '.join(actions)}): a listener answers what no rule matches in "
                    "exactly one way.", lwhere, "Keep one of them."))
            rblocks = lblock.body.blocks_of("rule") if lblock is not None else []
            seen: dict[Any, SourceRange] = {}
            for j, rule in enumerate(listener.get("rule") or []):
                rblock = _nth(rblocks, j)
                rwhere = rblock.range if rblock is not None else lwhere
                priority, _ = unmark(rule.get("priority"))
                if not any(_present(rule.get(c)) for c in CONDITIONS):
                    diags.append(Diagnostic.error(
                        "Rule without a condition",
                        f"Rule {priority} of {addr} has no condition, so it would match every "
                        "request. Give it at least one of: " + ", ".join(CONDITIONS) + ".",
                        rwhere, "For what no rule matches, use the listener's default action."))
                acts = [a for a in ACTIONS["rule"] if _present(rule.get(a))]
                if len(acts) != 1:
                    diags.append(Diagnostic.error(
                        "Rule without an action" if not acts else "Conflicting rule actions",
                        f"Rule {priority} of {addr} has "
                        + ("no action" if not acts else
                           f"{len(acts)} actions ({', '.join(acts)})")
                        + ": a rule has exactly one of target_group, forward, redirect and "
                          "fixed_response.", rwhere))
                if not isinstance(priority, int | float) or isinstance(priority, bool):
                    continue
                pwhere = _where(rblock, "priority", rwhere)
                if priority in seen:
                    diags.append(Diagnostic.error(
                        "Duplicate rule priority",
                        f"Two rules of the same listener of {addr} have priority "
                        f"{int(priority)} (the other at {seen[priority]}): rules are "
                        "evaluated by priority, so each needs its own.", pwhere))
                else:
                    seen[priority] = pwhere
    return diags


def check_target_group_owners(module_configs: Mapping[tuple[str, ...], Config]
                              ) -> list[Diagnostic]:
    """A target group belongs to at most one load balancer: each proxy keeps its own view of
    the targets' health and draining, which two proxies would contradict."""
    diags: list[Diagnostic] = []
    for cfg in module_configs.values():
        owner: dict[str, tuple[str, SourceRange]] = {}
        for res in cfg.module.resources.values():
            if res.type != "fg_load_balancer":
                continue
            for (rtype, path, attr_name), _t in NESTED_REFERENCE_ATTRIBUTES.items():
                if rtype != res.type:
                    continue
                for block in _blocks_at(res.body.blocks, path):
                    attr = block.body.attributes.get(attr_name)
                    ref = direct_reference(attr.expr) if attr is not None else None
                    if ref is None or ref.parts[0] != "fg_target_group" or len(ref.parts) < 2:
                        continue
                    tg = f"fg_target_group.{ref.parts[1]}"
                    lb = f"{res.type}.{res.name}"
                    if tg not in owner:
                        owner[tg] = (lb, attr.range)
                    elif owner[tg][0] != lb:
                        diags.append(Diagnostic.error(
                            "Target group on two load balancers",
                            f"{tg} is used by {owner[tg][0]} (at {owner[tg][1]}) and by {lb}: "
                            "a target group belongs to at most one load balancer.",
                            attr.range, "Give each load balancer its own target group."))
    return diags


# -- image build contexts ---------------------------------------------------------------------
def check_image_contexts(configs: dict[Address, dict[str, Any]],
                         resources: dict[Address, Resource], config_dir: str
                         ) -> list[Diagnostic]:
    """An fg_image's `context` must be a directory inside the configuration directory
    (relative paths are taken from it) holding its `dockerfile`: found missing at apply, it
    fails after other resources were already changed, and a context elsewhere (an absolute
    path, `..`, a symbolic link out) would have plan read, and apply send to the engine,
    files that the reviewed change does not hold."""
    diags = []
    root = os.path.realpath(config_dir)
    for addr, cfg in configs.items():
        context, _ = unmark(cfg.get("context"))
        if addr.type != "fg_image" or not isinstance(context, str):
            continue
        res = resources[addr]
        attr = res.body.attributes.get("context")
        where = attr.range if attr else res.range
        path = resolve_context(context, config_dir)
        if not _inside(path, root):
            diags.append(Diagnostic.error(
                "Build context outside the configuration",
                f'The build context "{context}" of {addr} is outside the configuration '
                "directory. fgform builds only from files of the configuration, so that a "
                "plan never reads, and an apply never sends to Docker, files elsewhere on "
                "the machine.", where, "Move the context into the configuration directory."))
            continue
        if not os.path.isdir(path):
            what = "is not a directory" if os.path.exists(path) else "does not exist"
            diags.append(Diagnostic.error(
                "Invalid build context",
                f'The build context "{context}" of {addr} {what}. The context is a directory '
                "inside the configuration directory (a relative path starts there).", where))
            continue
        dockerfile, _ = unmark(cfg.get("dockerfile"))
        if not isinstance(dockerfile, str):
            continue
        df_attr = res.body.attributes.get("dockerfile")
        if not _inside(os.path.join(path, dockerfile), root):
            diags.append(Diagnostic.error(
                "Dockerfile outside the configuration",
                f'The dockerfile "{dockerfile}" of {addr} is outside the configuration '
                "directory: fgform builds only from files of the configuration.",
                df_attr.range if df_attr else where))
        elif not os.path.isfile(os.path.join(path, dockerfile)):
            diags.append(Diagnostic.error(
                "Missing Dockerfile",
                f'The build context "{context}" of {addr} has no file "{dockerfile}" to '
                "build from.", df_attr.range if df_attr else where,
                "Add it, or set `dockerfile` to its path within the context."))
    return diags


def _inside(path: str, root: str) -> bool:
    """Whether a path, its symbolic links resolved, is `root` (a resolved path) or in it."""
    real = os.path.realpath(path)
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)
