"""The ECS-style commands that look at the fleet and act on it outside a plan: run-task,
tasks, logs, events, lb status."""

from __future__ import annotations

import json
from typing import Any

import click

from fgform.cli.command import command, group
from fgform.cli.environment import Environment, pass_env
from fgform.cli.fleet import fleet_for
from fgform.cli.options import Seconds, Whole, opt, state_option
from fgform.cli.store import read_state
from fgform.errors import FgformError


def _fleet(env: Environment, state_path: str | None):
    """The state, and the fleet context the Docker side works from."""
    st = read_state(env, state_path)
    return st, fleet_for(env, st)


def _find(st, type_name: str, match) -> tuple[str, dict[str, Any]] | None:
    """The first instance of `type_name` in the state that `match(address, attrs)` picks."""
    for addr in st.addresses():
        if addr.type != type_name:
            continue
        inst = st.get(addr)
        if inst is not None and match(str(addr), inst.attributes):
            return str(addr), inst.attributes
    return None


def _service_named(name: str):
    """A matcher for `_find`: a service by address (`fg_service.web`, or `web` for the
    address without its type), name or id (`cluster/name`)."""
    def match(address: str, attrs: dict[str, Any]) -> bool:
        ident = str(attrs.get("id") or "")
        return name in (address, address.split(".", 1)[1], attrs.get("name"), ident,
                        ident.rpartition("/")[2])
    return match


@command("run-task")
@click.argument("family")
@opt("cluster", metavar="NAME", help="Cluster name or address (default: the only one).")
@opt("count", default=1, type=Whole(1, 100))
@opt("override-command", "override_command", metavar="CMD",
     help="Command to run instead of the task definition's (a shell-style string).")
@opt("env", "envs", multiple=True, metavar="K=V", help="Extra environment (repeatable).")
@opt("timeout", "timeout_s", default=None, type=Seconds(), help="Seconds before giving up.")
@state_option
@pass_env
def run_task_cmd(env: Environment, family: str, cluster: str | None, count: int,
                 override_command: str | None, envs, timeout_s, state_path) -> int:
    """Run a one-off task, print its logs and exit with its exit code."""
    import shlex

    st, ctx = _fleet(env, state_path)
    fam, _, rev = family.partition(":")
    td = _find(st, "fg_task_definition", lambda a, at: at.get("family") == fam)
    if td is None:
        raise FgformError(f"no task definition family {fam!r} in the state")
    td_attrs = dict(td[1])
    if rev and str(td_attrs.get("revision")) != rev:
        older = [r for r in td_attrs.get("revisions") or [] if str(r.get("revision")) == rev]
        if not older:
            raise FgformError(f"task definition {family} not found; the current revision is "
                              f"{td_attrs.get('arn')}")
        td_attrs = {**td_attrs, **older[0]}
    clusters = [(a, at) for a in st.addresses() if a.type == "fg_cluster"
                for at in [st.get(a).attributes]]  # type: ignore[union-attr]
    if cluster:
        clusters = [(a, at) for a, at in clusters
                    if cluster in (str(a), at.get("name"), at.get("id"))]
    if len(clusters) != 1:
        raise FgformError("name the cluster with -cluster" if clusters else
                          f"no cluster {cluster or ''} in the state".replace("  ", " "))
    extra = {}
    for kv in envs:
        k, sep, v = kv.partition("=")
        if not sep:
            raise click.BadParameter(f"{kv!r}: expected K=V", param_hint="-env")
        extra[k] = v
    # The task's own exit code is the command's.
    return env.fleet.run_task(ctx, clusters[0][1], td_attrs, count=count,
                              override_command=shlex.split(override_command)
                              if override_command else None, env=extra or None,
                              on_log=lambda line: env.out(line), timeout=timeout_s)


@command()
@click.argument("service", required=False)
@opt("json", "as_json", is_flag=True)
@state_option
@pass_env
def tasks(env: Environment, service: str | None, as_json: bool, state_path) -> None:
    """What runs where, with health and addresses."""
    from dataclasses import asdict

    st, ctx = _fleet(env, state_path)
    rows = env.fleet.list_tasks(ctx, service)
    if as_json:
        env.out(json.dumps([asdict(r) for r in rows], indent=2))
        return
    header = ["TASK", "SERVICE", "REVISION", "INSTANCE", "STATUS", "HEALTH", "RESTARTS",
              "ADDRESS", "PORTS", "UPTIME"]
    table = [header] + [[r.task_id, r.service, r.revision, r.instance, r.status, r.health,
                         str(r.restarts), r.address or "-", r.ports or "-", _uptime(r.uptime)]
                        for r in rows]
    _table(env, table)
    deps = [["SERVICE", "DEPLOYMENT", "REVISION", "DESIRED", "PENDING", "RUNNING", "FAILED",
             "ROLLOUT"]]
    for addr in st.addresses():
        inst = st.get(addr)
        if addr.type != "fg_service" or inst is None or not isinstance(inst.attributes, dict):
            continue
        if service is not None and not _service_named(service)(str(addr), inst.attributes):
            continue
        for d in inst.attributes.get("deployments") or []:
            if isinstance(d, dict):
                deps.append([str(addr), str(d.get("status")), str(d.get("task_definition")),
                             *(str(d.get(k, 0)) for k in ("desired_count", "pending_count",
                                                          "running_count", "failed_tasks")),
                             str(d.get("rollout_state"))])
    if len(deps) > 1:
        env.out("")
        _table(env, deps)


def _table(env: Environment, table: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        env.out("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _uptime(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


@command()
@click.argument("service")
@opt("follow", is_flag=True, help="Keep printing new lines.")
@opt("tail", default=None, type=Whole(0), help="Lines from the end of each task's log.")
@state_option
@pass_env
def logs(env: Environment, service: str, follow: bool, tail: int | None, state_path) -> None:
    """The interleaved logs of a service's tasks, each line prefixed with its task; for a
    load balancer (its address or name), its access log."""
    st, ctx = _fleet(env, state_path)
    balancer = _find(st, "fg_load_balancer", lambda a, attrs: service in (
        a, attrs.get("name"), attrs.get("id"), a.split(".", 1)[1]))
    try:
        lines = env.fleet.balancer_logs(str(balancer[1]["id"]), follow=follow, tail=tail) \
            if balancer else env.fleet.task_logs(ctx, service, follow=follow, tail=tail)
        for line in lines:
            env.out(line)
    except KeyboardInterrupt:
        return


@command()
@click.argument("service")
@opt("json", "as_json", is_flag=True)
@state_option
@pass_env
def events(env: Environment, service: str, as_json: bool, state_path) -> None:
    """A service's event log from state, newest last: tasks started and stopped, targets
    registered, deployments completed, failed and rolled back, steady state."""
    st = read_state(env, state_path)
    found = _find(st, "fg_service", _service_named(service))
    if found is None:
        names = sorted(str(a) for a in st.addresses() if a.type == "fg_service")
        raise FgformError(f"no service named {service!r} in the state",
                          hint=("Services in the state: " + ", ".join(names)) if names
                          else "The state has no services.")
    entries = [e for e in found[1].get("events") or [] if isinstance(e, dict)]
    if as_json:
        env.out(json.dumps(entries, indent=2))
        return
    if not entries:
        env.out(f"{found[0]} has no events yet (they are recorded by apply and reconcile).")
    for e in entries:
        env.out(f"{e.get('at', '-')}  {e.get('message', '')}")


@group()
def lb() -> None:
    """Load balancers: what their proxies see."""


@lb.command("status")
@click.argument("name", required=False)
@opt("json", "as_json", is_flag=True)
@state_option
@pass_env
def lb_status_cmd(env: Environment, name: str | None, as_json: bool, state_path) -> None:
    """Each target group's targets with their health, state, connections, requests served
    and 5xx responses, from the proxy's runtime API. NAME: an address or name."""
    from fgform.fleet.docker.lb_status import format_status

    st, _ctx = _fleet(env, state_path)
    lbs, services = [], []
    for addr in st.addresses():
        inst = st.get(addr)
        if inst is None or inst.attributes is None:
            continue
        if addr.type == "fg_service":
            services.append(inst.attributes)
        elif addr.type == "fg_load_balancer" and (name is None or name in (
                str(addr), str(addr).split(".", 1)[1], inst.attributes.get("name"),
                inst.attributes.get("id"))):
            lbs.append((str(addr), inst.attributes))
    if not lbs:
        raise FgformError(f"no load balancer named {name!r} in the state" if name else
                          "no load balancer in the state")
    statuses = env.fleet.balancer_status(lbs, services)
    if as_json:
        env.out(json.dumps([s.to_json() for s in statuses], indent=2))
    else:
        env.out(format_status(statuses))


COMMANDS = (run_task_cmd, tasks, logs, events, lb)
