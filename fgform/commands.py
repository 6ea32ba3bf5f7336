"""The commands that plan, apply and inspect: registered on the `cli` group of cli.py."""

from __future__ import annotations

import contextlib
import json
import math
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from fgform.cli import Env, _cli_vars, cli, opt, pass_env, var_options
from fgform.errors import FgformError
from fgform.plan.model import PlanMode

LOCK_TIMEOUT_HELP = ("How long to wait for the state lock, e.g. 10s (default 0s; one "
                     "held by `reconcile` is waited for up to 5s whatever this says).")


def _seconds(text: str) -> float:
    """Terraform's durations: 10s, 1m, 500ms, or plain seconds; ValueError if not one."""
    t = text.strip()
    mult = 1.0
    for suffix, m in (("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)):
        if t.endswith(suffix):
            t, mult = t[: -len(suffix)], m
            break
    value = float(t) * mult
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def _duration(text: str) -> float:
    """The seconds a -lock-timeout flag says (already checked by `Duration`)."""
    try:
        return _seconds(text)
    except ValueError:
        raise click.BadParameter(f'"{text}" is not a duration') from None


class Duration(click.ParamType):
    """A duration flag, checked as the command line is read: a wrong one is an error even
    when the command turns out not to need it (a plan without state takes no lock)."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> Any:
        try:
            _seconds(str(value))
        except ValueError:
            self.fail(f'"{value}" is not a duration: write a number and a unit, such as '
                      "500ms, 10s or 1m", param, ctx)
        return value


class Whole(click.ParamType):
    """A whole-number flag within [low, high] (high None: no upper bound)."""

    name = "integer"

    def __init__(self, low: int, high: int | None = None) -> None:
        self.low, self.high = low, high

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> int:
        try:
            n = int(str(value).strip())
        except ValueError:
            self.fail(f'"{value}" is not a whole number', param, ctx)
        if n < self.low or (self.high is not None and n > self.high):
            want = (f"at least {self.low}" if self.high is None
                    else f"from {self.low} to {self.high}")
            self.fail(f"must be {want}, not {n}", param, ctx)
        return n


class Seconds(click.ParamType):
    """A positive number of seconds (-interval, -timeout)."""

    name = "seconds"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> float:
        try:
            n = float(str(value).strip())
        except ValueError:
            self.fail(f'"{value}" is not a number of seconds', param, ctx)
        if not (math.isfinite(n) and n > 0):
            self.fail(f"must be a positive number of seconds, not {value}", param, ctx)
        return n


def _lock(env: Env, store, operation: str, lock_timeout: str):
    """Take the state lock; say so when it was taken over from a dead process (a killed
    apply), since that process may have left work half-done."""
    held = store.lock(operation, _duration(lock_timeout))
    for warning in held.warnings:
        env.err(f"Warning: {warning}\n")
    return held


# The longest an apply waits for a reconcile pass that acts on the fleet, whatever its
# -lock-timeout: a pass ends when the tasks it started are healthy, within each service's
# steady_state_timeout (300 s by default).
RECONCILE_PASS_WAIT = 600.0


@contextlib.contextmanager
def _fleet_writer(env: Env, store, lock_timeout: str) -> Iterator[None]:
    """The state lock and the fleet lock, for a command that changes the fleet (apply,
    destroy), held until it ends.

    A reconcile pass in progress is waited for, saying so: the state lock is let go
    meanwhile, since the pass takes it to record what it did before it lets go of the fleet
    (waiting while holding it would deadlock), and taken again once the fleet is ours.
    """
    from fgform.state.lock import acquire_fleet_lock, try_fleet_lock

    operation = "OperationTypeApply"
    held = _lock(env, store, operation, lock_timeout)
    fleet = None
    try:
        fleet = try_fleet_lock(store.path, operation)
        if fleet is None:
            held.release()

            def waiting(holder) -> None:
                env.err(f"Waiting for {holder.summary()} to finish acting on the fleet "
                        "before changing it...")

            timeout = _duration(lock_timeout)
            fleet = acquire_fleet_lock(store.path, operation, timeout,
                                       patience=max(timeout, RECONCILE_PASS_WAIT),
                                       on_wait=waiting)
            held = _lock(env, store, operation, lock_timeout)
        yield
    finally:
        if fleet is not None:
            fleet.release()
        held.release()


def plan_options(f):
    f = opt("out", metavar="FILE", help="Save the plan to FILE for `fgform apply FILE`.")(f)
    f = opt("target", "targets", multiple=True, metavar="ADDR",
            help="Plan only this resource and what it depends on (repeatable).")(f)
    f = opt("replace", "replaces", multiple=True, metavar="ADDR",
            help="Force replacement of this resource instance (repeatable).")(f)
    f = opt("refresh", default=True, type=bool, metavar="BOOL",
            help="Read the live fleet before planning (default true).")(f)
    f = opt("refresh-only", "refresh_only", is_flag=True,
            help="Plan only to accept changes made outside fgform into state.")(f)
    f = opt("destroy", is_flag=True, help="Plan to destroy everything.")(f)
    f = opt("state", "state_path", metavar="PATH", help="State file to use.")(f)
    f = opt("lock-timeout", "lock_timeout", default="0s", type=Duration(),
            help=LOCK_TIMEOUT_HELP)(f)
    f = opt("no-color", "no_color", is_flag=True, help="No colour in the output.")(f)
    return var_options(f)


def _warn(env: Env, ws) -> None:
    """Warnings found while loading (an undeclared name in a variables file...), printed
    before the plan as Terraform prints them."""
    if ws.warnings:
        from fgform.render.diagnostics import format_diagnostics

        env.err(format_diagnostics(ws.warnings, env.dir) + "\n")


def _mode(destroy: bool, refresh_only: bool) -> PlanMode:
    if destroy and refresh_only:
        raise FgformError("-destroy and -refresh-only cannot be used together")
    return (PlanMode.DESTROY if destroy else PlanMode.REFRESH_ONLY if refresh_only
            else PlanMode.NORMAL)


def _render_plan(env: Env, plan, no_color: bool) -> None:
    from fgform.render.text import render_plan

    env.out(render_plan(plan, color=env.color and not no_color), nl=False)


@cli.command()
@plan_options
@opt("detailed-exitcode", "detailed_exitcode", is_flag=True,
     help="Exit 0 for no changes, 2 for changes, 1 for errors.")
@opt("json", "as_json", is_flag=True, help="Print the plan in Terraform's JSON format.")
@pass_env
def plan(env: Env, out: str | None, targets, replaces, refresh: bool, refresh_only: bool,
         destroy: bool, state_path: str | None, lock_timeout: str, no_color: bool, vars,
         var_files, detailed_exitcode: bool, as_json: bool) -> None:
    """Show what apply would change."""
    from fgform import workflow

    out_path = None if not out else env.dir / out if not Path(out).is_absolute() else Path(out)
    if out_path is not None:
        from fgform.plan.planfile import check_plan_path

        check_plan_path(out_path, out)  # before planning, not after a long refresh
    ws = workflow.open_working_dir(env.dir, _cli_vars(vars, var_files), state_path)
    _warn(env, ws)
    mode = _mode(destroy, refresh_only)
    # Held while planning, as Terraform does: refresh talks to the fleet, which must not
    # interleave with a concurrent apply. Not when the state's directory does not exist yet:
    # there is nothing to refresh and nobody holds the lock (taking it would make the
    # directory, and a plan leaves no files behind).
    held = _lock(env, ws.store, "OperationTypePlan", lock_timeout) \
        if Path(ws.store.path).parent.exists() else contextlib.nullcontext()
    with held:
        the_plan = workflow.make_plan(ws, env.fleet, mode=mode, targets=targets,
                                      replace=replaces, refresh=refresh)
    if as_json:
        from fgform.render.json_plan import mask_plan_json, plan_json

        # Printed to a terminal or a CI log: no sensitive value (`show -json FILE` exports them).
        env.out(json.dumps(mask_plan_json(plan_json(the_plan), the_plan),
                           separators=(",", ":")))  # compact, as Terraform
    else:
        _render_plan(env, the_plan, no_color)
    if out:
        from fgform.plan.planfile import save_plan

        save_plan(the_plan, out_path, out)
        if not as_json:
            env.out(f"\nSaved the plan to: {out}\n\nTo perform exactly these actions, run:\n"
                    f"    fgform apply {out}")
    if detailed_exitcode and the_plan.has_changes:
        raise SystemExit(2)


class _Interrupts:
    """First Ctrl-C: stop starting new work and finish gracefully; second: abort now."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self.cancel = threading.Event()
        self.abort = threading.Event()
        self._old: Any = None

    def __enter__(self) -> _Interrupts:
        def handler(signum, frame):
            if not self.cancel.is_set():
                self.env.err("\nInterrupt received.\nPlease wait for fgform to exit or data "
                             "loss may occur.\nGracefully shutting down...")
                self.cancel.set()
            else:
                self.env.err("\nTwo interrupts received. Exiting immediately; state is saved.")
                self.abort.set()

        import signal  # only apply and destroy catch Ctrl-C

        self._old = signal.signal(signal.SIGINT, handler)
        return self

    def __exit__(self, *exc: object) -> None:
        import signal

        signal.signal(signal.SIGINT, self._old)


def _run_apply(env: Env, ws, the_plan, *, as_json: bool, no_color: bool, parallelism: int,
               auto_approve: bool, destroying: bool) -> None:
    from fgform import workflow
    from fgform.render.progress import JsonProgress, TextProgress

    if not as_json and not the_plan.has_changes:
        return
    if not auto_approve:
        question = ("Do you really want to destroy all resources?" if destroying
                    else "Do you want to perform these actions?")
        env.out(f"\n{question}\n  fgform will perform the actions described above.\n"
                "  Only 'yes' will be accepted to approve.\n")
        if not sys.stdin.isatty() and sys.stdin.closed:
            raise FgformError("no terminal to ask for approval; use -auto-approve")
        answer = click.prompt("  Enter a value", default="", show_default=False)
        if answer.strip() != "yes":
            raise FgformError("Apply cancelled." if not destroying else "Destroy cancelled.")
    write = env.out
    secrets = workflow.known_secrets(ws, the_plan)
    printer = JsonProgress(write, secrets=secrets) if as_json else TextProgress(
        write, color=env.color and not no_color, secrets=secrets)
    env.out("")
    with _Interrupts(env) as intr:
        outcome = workflow.apply(ws, env.fleet, the_plan, hooks=printer,
                                 parallelism=parallelism, cancel=intr.cancel, abort=intr.abort)
    if not outcome.result.ok and isinstance(printer, TextProgress):
        printer.write = env.err  # error diagnostics go to stderr, as Terraform's do
    printer.finish(outcome.result)
    if not outcome.result.ok:
        raise SystemExit(1)
    if outcome.state.outputs and not destroying and not as_json:
        from fgform.render.state_hcl import outputs

        env.out("\nOutputs:\n\n" + outputs(outcome.state))
    if not destroying and not as_json:
        endpoints = [(str(a), url) for a, inst in outcome.state.sorted_instances()
                     if a.type == "fg_load_balancer" and inst is not None and inst.attributes
                     for url in inst.attributes.get("endpoints") or []]
        if endpoints:
            width = max(len(a) for a, _ in endpoints)
            env.out("\nEndpoints:\n\n" + "\n".join(f"{a.ljust(width)} = {url}"
                                                   for a, url in endpoints))


@cli.command()
@click.argument("plan_file", required=False)
@opt("auto-approve", "auto_approve", is_flag=True, help="Skip the interactive approval.")
@opt("parallelism", default=10, type=Whole(1, 256), help="Operations at once.")
@opt("json", "as_json", is_flag=True, help="Machine-readable progress (implies approval).")
@plan_options
@pass_env
def apply(env: Env, plan_file: str | None, auto_approve: bool, parallelism: int, as_json: bool,
          out, targets, replaces, refresh, refresh_only, destroy, state_path, lock_timeout,
          no_color, vars, var_files) -> None:
    """Plan and carry out the changes, or carry out a saved plan exactly."""
    from fgform import workflow

    if plan_file:
        planning_flags = bool(targets or replaces or refresh_only or destroy or vars
                              or var_files or out or not refresh)
        if planning_flags:
            raise FgformError(
                "planning options cannot be used with a saved plan file",
                hint="A saved plan is applied exactly as reviewed; make a new plan to change "
                     "what it does.")
        _apply_saved(env, plan_file, parallelism=parallelism, as_json=as_json,
                     no_color=no_color, state_path=state_path, lock_timeout=lock_timeout)
        return
    ws = workflow.open_working_dir(env.dir, _cli_vars(vars, var_files), state_path)
    _warn(env, ws)
    mode = _mode(destroy, refresh_only)
    with _fleet_writer(env, ws.store, lock_timeout):
        the_plan = workflow.make_plan(ws, env.fleet, mode=mode, targets=targets,
                                      replace=replaces, refresh=refresh)
        if not as_json:
            _render_plan(env, the_plan, no_color)
        _run_apply(env, ws, the_plan, as_json=as_json, no_color=no_color,
                   parallelism=parallelism, auto_approve=auto_approve or as_json,
                   destroying=mode is PlanMode.DESTROY)


def _apply_saved(env: Env, plan_file: str, *, parallelism: int, as_json: bool, no_color: bool,
                 state_path: str | None, lock_timeout: str) -> None:
    from fgform import workflow
    from fgform.plan.planfile import check_stale, config_hash, load_plan

    path = Path(plan_file) if Path(plan_file).is_absolute() else env.dir / plan_file
    if not path.exists():
        path = Path(plan_file)
    the_plan = load_plan(path)
    ws = workflow.open_working_dir(env.dir, [], state_path, check=False, require_values=False)
    ws.variables = dict(the_plan.variables)
    with _fleet_writer(env, ws.store, lock_timeout):
        check_stale(the_plan, ws.store.read(), config_hash(ws.dir, ws.config))
        _run_apply(env, ws, the_plan, as_json=as_json, no_color=no_color,
                   parallelism=parallelism, auto_approve=True,
                   destroying=the_plan.mode is PlanMode.DESTROY)


@cli.command()
@opt("auto-approve", "auto_approve", is_flag=True, help="Skip the interactive approval.")
@opt("parallelism", default=10, type=Whole(1, 256))
@opt("json", "as_json", is_flag=True)
@opt("target", "targets", multiple=True, metavar="ADDR")
@opt("refresh", default=True, type=bool, metavar="BOOL")
@opt("state", "state_path", metavar="PATH")
@opt("lock-timeout", "lock_timeout", default="0s", type=Duration(),
            help=LOCK_TIMEOUT_HELP)
@opt("no-color", "no_color", is_flag=True)
@var_options
@pass_env
def destroy(env: Env, auto_approve: bool, parallelism: int, as_json: bool, targets,
            refresh: bool, state_path, lock_timeout, no_color, vars, var_files) -> None:
    """Destroy everything this configuration manages."""
    from fgform import workflow

    ws = workflow.open_working_dir(env.dir, _cli_vars(vars, var_files), state_path)
    _warn(env, ws)
    with _fleet_writer(env, ws.store, lock_timeout):
        the_plan = workflow.make_plan(ws, env.fleet, mode=PlanMode.DESTROY, targets=targets,
                                      refresh=refresh)
        if not as_json:
            _render_plan(env, the_plan, no_color)
        _run_apply(env, ws, the_plan, as_json=as_json, no_color=no_color,
                   parallelism=parallelism, auto_approve=auto_approve or as_json,
                   destroying=True)


@cli.command()
@click.argument("plan_file", required=False)
@opt("json", "as_json", is_flag=True, help="Terraform's JSON plan/state format.")
@opt("markdown", is_flag=True, help="A pull-request comment.")
@opt("state", "state_path", metavar="PATH")
@opt("no-color", "no_color", is_flag=True)
@pass_env
def show(env: Env, plan_file: str | None, as_json: bool, markdown: bool, state_path,
         no_color: bool) -> None:
    """Show a saved plan (even a stale one), or the state."""
    if plan_file:
        from fgform.plan.planfile import load_plan

        path = Path(plan_file) if Path(plan_file).is_absolute() else env.dir / plan_file
        # Terraform's JSON has no attribute diffs: show -json need not build them.
        the_plan = load_plan(path if path.exists() else Path(plan_file), diffs=not as_json)
        if as_json:
            from fgform.render.json_plan import plan_json

            env.out(json.dumps(plan_json(the_plan), separators=(",", ":")))
        elif markdown:
            from fgform.render.markdown import render_markdown

            env.out(render_markdown(the_plan, plan_file=plan_file), nl=False)
        else:
            _render_plan(env, the_plan, no_color)
        return

    state = _state_store(env, state_path).read()
    if as_json:
        from fgform.render.json_plan import state_json

        env.out(json.dumps(state_json(state), separators=(",", ":")))
        return
    if markdown:
        raise FgformError("show -markdown needs a saved plan file")
    if state is None or not state.resources:
        env.out("The state file is empty. No resources are represented.")
        return
    from fgform.render.state_hcl import state_show
    from fgform.state.surgery import state_list

    env.out("\n\n".join(state_show(state, a) for a in state_list(state)))


@cli.command()
@click.argument("name", required=False)
@opt("json", "as_json", is_flag=True)
@opt("raw", is_flag=True)
@opt("state", "state_path", metavar="PATH")
@pass_env
def output(env: Env, name: str | None, as_json: bool, raw: bool, state_path) -> None:
    """Print output values from the state."""
    from fgform.render.state_hcl import outputs
    from fgform.state.model import StateFile

    state = _state_store(env, state_path).read() or StateFile()
    text = outputs(state, name, json=as_json, raw=raw)
    if not text and not name:
        env.err("Warning: No outputs found")
        return
    env.out(text, nl=not raw and not text.endswith("\n"))


# -- state subcommands -------------------------------------------------------------------------
@cli.group()
def state() -> None:
    """Inspect and change the state."""


def _state_store(env: Env, state_path: str | None):
    from fgform import workflow
    from fgform.state.store import StateStore

    return StateStore(workflow.state_only(env.dir, state_path))


@state.command("list")
@click.argument("addresses", nargs=-1)
@opt("state", "state_path", metavar="PATH")
@pass_env
def state_list_cmd(env: Env, addresses, state_path) -> None:
    """List resources in the state."""
    from fgform.state.surgery import state_list

    st = _state_store(env, state_path).read()
    if st is None:
        return
    for a in state_list(st, list(addresses) or None):
        env.out(a)


@state.command("show")
@click.argument("address")
@opt("state", "state_path", metavar="PATH")
@pass_env
def state_show_cmd(env: Env, address: str, state_path) -> None:
    """Show one resource instance's attributes."""
    from fgform.render.state_hcl import state_show

    st = _state_store(env, state_path).read()
    if st is None:
        raise FgformError("No state file was found!")
    env.out(state_show(st, address))


@state.command("pull")
@opt("state", "state_path", metavar="PATH")
@pass_env
def state_pull_cmd(env: Env, state_path) -> None:
    """Print the state file."""
    from fgform.state.surgery import state_pull

    st = _state_store(env, state_path).read()
    if st is not None:
        env.out(state_pull(st), nl=False)


@state.command("rm")
@click.argument("addresses", nargs=-1, required=True)
@opt("state", "state_path", metavar="PATH")
@opt("lock-timeout", "lock_timeout", default="0s", type=Duration(),
            help=LOCK_TIMEOUT_HELP)
@pass_env
def state_rm_cmd(env: Env, addresses, state_path, lock_timeout) -> None:
    """Forget resources without destroying them."""
    from fgform.state.surgery import state_rm

    store = _state_store(env, state_path)
    with _lock(env, store, "OperationTypeStateRm", lock_timeout):
        st = store.read()
        if st is None:
            raise FgformError("No state file was found!")
        removed = state_rm(st, list(addresses))
        store.write(st)
    for a in removed:
        env.out(f"Removed {a}")
    env.out(f"Successfully removed {len(removed)} resource instance(s).")


@state.command("mv")
@click.argument("source")
@click.argument("destination")
@opt("state", "state_path", metavar="PATH")
@opt("lock-timeout", "lock_timeout", default="0s", type=Duration(),
            help=LOCK_TIMEOUT_HELP)
@pass_env
def state_mv_cmd(env: Env, source: str, destination: str, state_path, lock_timeout) -> None:
    """Rename a resource in the state."""
    from fgform.state.surgery import state_mv

    store = _state_store(env, state_path)
    with _lock(env, store, "OperationTypeStateMv", lock_timeout):
        st = store.read()
        if st is None:
            raise FgformError("No state file was found!")
        moved = state_mv(st, source, destination)
        store.write(st)
    for a, b in moved:
        env.out(f'Move "{a}" to "{b}"')
    env.out(f"Successfully moved {len(moved)} object(s).")


@cli.command("force-unlock")
@click.argument("lock_id")
@opt("force", is_flag=True, help="Don't ask for confirmation.")
@opt("state", "state_path", metavar="PATH")
@pass_env
def force_unlock_cmd(env: Env, lock_id: str, force: bool, state_path) -> None:
    """Remove a lock left behind, by its ID."""
    from fgform.state.lock import force_unlock

    path = _state_store(env, state_path).path
    if not force:
        env.out(f"Do you really want to force-unlock?\n  fgform will remove the lock {lock_id}."
                "\n  Only 'yes' will be accepted to confirm.\n")
        if click.prompt("  Enter a value", default="", show_default=False).strip() != "yes":
            raise FgformError("force-unlock cancelled.")
    force_unlock(path, lock_id)
    env.out("fgform state has been successfully unlocked!")


# -- ECS-style operations -----------------------------------------------------------------------
def _fleet(env: Env, state_path: str | None):
    from fgform import workflow

    st = _state_store(env, state_path).read()
    if st is None:
        raise FgformError("No state file was found: apply the configuration first.")
    return st, workflow.fleet_context(env.dir, st)


def _find(st, type_name: str, match) -> tuple[str, dict[str, Any]] | None:
    for addr in st.addresses():
        if addr.type != type_name:
            continue
        inst = st.get(addr)
        if inst is not None and match(str(addr), inst.attributes):
            return str(addr), inst.attributes
    return None


@cli.command("run-task")
@click.argument("family")
@opt("cluster", metavar="NAME", help="Cluster name or address (default: the only one).")
@opt("count", default=1, type=Whole(1, 100))
@opt("override-command", "override_command", metavar="CMD",
     help="Command to run instead of the task definition's (a shell-style string).")
@opt("env", "envs", multiple=True, metavar="K=V", help="Extra environment (repeatable).")
@opt("timeout", "timeout_s", default=None, type=Seconds(), help="Seconds before giving up.")
@opt("state", "state_path", metavar="PATH")
@pass_env
def run_task_cmd(env: Env, family: str, cluster: str | None, count: int,
                 override_command: str | None, envs, timeout_s, state_path) -> None:
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
    code = env.fleet.run_task(ctx, clusters[0][1], td_attrs, count=count,
                              override_command=shlex.split(override_command)
                              if override_command else None, env=extra or None,
                              on_log=lambda line: env.out(line), timeout=timeout_s)
    raise SystemExit(code)


@cli.command()
@click.argument("service", required=False)
@opt("json", "as_json", is_flag=True)
@opt("state", "state_path", metavar="PATH")
@pass_env
def tasks(env: Env, service: str | None, as_json: bool, state_path) -> None:
    """What runs where, with health and addresses."""
    from dataclasses import asdict

    _st, ctx = _fleet(env, state_path)
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
    for addr in _st.addresses():
        inst = _st.get(addr)
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


def _table(env: Env, table: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        env.out("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _uptime(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


@cli.command()
@click.argument("service")
@opt("follow", is_flag=True, help="Keep printing new lines.")
@opt("tail", default=None, type=Whole(0), help="Lines from the end of each task's log.")
@opt("state", "state_path", metavar="PATH")
@pass_env
def logs(env: Env, service: str, follow: bool, tail: int | None, state_path) -> None:
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


def _service_named(name: str):
    """A matcher for `_find`: a service by address (`fg_service.web`, or `web` for the
    address without its type), name or id (`cluster/name`)."""
    def match(address: str, attrs: dict[str, Any]) -> bool:
        ident = str(attrs.get("id") or "")
        return name in (address, address.split(".", 1)[1], attrs.get("name"), ident,
                        ident.rpartition("/")[2])
    return match


@cli.command()
@click.argument("service")
@opt("json", "as_json", is_flag=True)
@opt("state", "state_path", metavar="PATH")
@pass_env
def events(env: Env, service: str, as_json: bool, state_path) -> None:
    """A service's event log from state, newest last: tasks started and stopped, targets
    registered, deployments completed, failed and rolled back, steady state."""
    st = _state_store(env, state_path).read()
    if st is None:
        raise FgformError("No state file was found: apply the configuration first.")
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


@cli.group()
def lb() -> None:
    """Load balancers: what their proxies see."""


@lb.command("status")
@click.argument("name", required=False)
@opt("json", "as_json", is_flag=True)
@opt("state", "state_path", metavar="PATH")
@pass_env
def lb_status_cmd(env: Env, name: str | None, as_json: bool, state_path) -> None:
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


@cli.command()
@opt("watch", is_flag=True, help="Keep reconciling until interrupted.")
@opt("interval", default=5.0, type=Seconds(),
     help="With -watch: at most this many seconds between passes (a task container that "
          "dies or changes health starts one at once).")
@opt("state", "state_path", metavar="PATH")
@opt("lock-timeout", "lock_timeout", default="30s", type=Duration(),
     help="How long to wait for the state lock to write a pass's results, and without "
          "-watch for another operation to finish before a pass (default 30s).")
@var_options
@pass_env
def reconcile(env: Env, watch: bool, interval: float, state_path, lock_timeout, vars,
              var_files) -> None:
    """The service scheduler: restore every service's desired count of healthy tasks.

    Works from the state alone (never the configuration: a change there is for plan and
    apply to review). Exits 1 when any service could not be reconciled."""
    from fgform.state.lock import Busy, begin_pass, try_begin_pass

    del vars, var_files  # accepted for compatibility; the configuration is not read

    store = _state_store(env, state_path)
    timeout = _duration(lock_timeout)
    if store.read() is None:
        raise FgformError("No state file was found: apply the configuration first.")
    # Opened before the first pass, so a task that dies during a pass wakes the next one.
    wake = _change_watch(env, store) if watch else None
    settle = _Settle(wake, _task_lister(env, store)) if wake is not None else None
    told: str | None = None
    soon = False

    def waiting(busy) -> None:
        env.out(f"Waiting for {busy.summary()} to finish before reconciling.")

    try:
        while True:
            if not watch:
                fleet = begin_pass(store.path, timeout, on_wait=waiting)
            else:
                got = try_begin_pass(store.path)
                if isinstance(got, Busy):
                    # Another operation changes the fleet: say so once, and try again soon
                    # (its own events may wake us sooner).
                    if got.key != told:
                        waiting(got)
                        told = got.key
                    _sleep(wake, min(interval, WATCH_RETRY))
                    continue
                fleet = got
            told = None
            with fleet:
                failed = _reconcile_pass(env, store, lock_timeout)
            if not watch:
                if failed:
                    raise SystemExit(1)
                return
            soon = _sleep(wake, min(interval, WATCH_RETRY) if soon else interval, settle)
    finally:
        if wake is not None:
            wake.close()


# At most this long after a wake-up, a pass waits for the engine's list view to show the
# task containers it reported dying as stopped (it took 0.3-0.8 s on a busy machine).
WATCH_SETTLE = 1.5
SETTLE_POLL = 0.05
# How often -watch looks again while another operation changes the fleet.
WATCH_RETRY = 1.0


class _Settle:
    """What a -watch pass waits for after a wake-up: the engine reports a container's die
    before its list view, which a pass decides from, shows it exited. Rather than a fixed
    sleep, the list is read again until every task the engine reported dying shows stopped
    there (at most WATCH_SETTLE s), so a pass starts as soon as it can see the dead tasks."""

    def __init__(self, wake: Any, lister: Any) -> None:
        self.wake = wake
        self.lister = lister  # () -> [(task id, running)] of the state's task containers
        # Tasks whose die a pass has already seen: not waited for again (a restart policy
        # may run the same task again).
        self.seen: set[str] = set()

    def __call__(self) -> bool:
        """Wait; True when the list view still shows a dead task running at the bound (a
        restart policy may have run it again, or the engine is slow): the caller then
        passes again soon."""
        deadline = time.monotonic() + WATCH_SETTLE
        while True:
            try:
                tasks = self.lister()
            except Exception:  # noqa: BLE001 - no engine: the pass reports that itself
                return False
            died = {tid for tid, _running in tasks if self.wake.died(tid) is not None}
            lagging = [tid for tid, running in tasks if running and tid in died - self.seen]
            if not lagging or time.monotonic() >= deadline:
                self.seen |= died
                return bool(lagging)
            time.sleep(SETTLE_POLL)


def _sleep(wake, seconds: float, settle: _Settle | None = None) -> bool:
    """Wait `seconds`, or less if the engine reports a task container changing; after such
    a wake-up, `settle` until the list view shows what the engine reported. True when the
    next pass should follow soon (see _Settle)."""
    if wake is None:
        time.sleep(seconds)
        return False
    began = time.monotonic()
    wake.wait(seconds, began)
    if settle is not None and time.monotonic() - began < seconds:
        return settle()
    return False


def _task_lister(env: Env, store):
    """(task id, running) of every service task container of this state, one list call."""
    from fgform import workflow

    ctx = workflow.fleet_context(env.dir, store.read())
    return lambda: env.fleet.task_states(ctx)


def _change_watch(env: Env, store):
    """Docker's event stream for this state's task containers (a task that dies or turns
    unhealthy starts a pass at once), or None without a state or an engine: -watch then
    polls every -interval."""
    from fgform import workflow

    st = store.read()
    if st is None:
        return None
    try:
        return env.fleet.watch_changes(workflow.fleet_context(env.dir, st))
    except Exception:  # noqa: BLE001 - no engine: the pass reports that itself
        return None


def _reconcile_pass(env: Env, store, lock_timeout: str = "30s") -> int:
    """One pass over the services in state; prints a line per service; returns how many
    failed.

    The caller holds the fleet lock, so no apply changes the fleet meanwhile; the state is
    read without the state lock (writes are atomic renames), which is taken only to write
    each service whose reconciled record changed, and only if its record in state is still
    the one read here (`record_reconciled`)."""
    import copy

    from fgform import workflow
    from fgform.addresses import without_address
    from fgform.scheduler import record_reconciled
    from fgform.values import scrub

    st = store.read()
    if st is None:
        raise FgformError("No state file was found: apply the configuration first.")
    began = copy.deepcopy(st)
    services = [a for a in st.addresses() if a.type == "fg_service"]
    driver = env.fleet.scheduler
    ctx = workflow.fleet_context(env.dir, st)
    secrets = workflow.state_secrets(st)  # a driver's message may quote a container's env
    try:
        for task in driver.remove_orphans(ctx, {str(a) for a in services}):
            env.out(f"{task.address}: removed task {task.task_id}: no service in the state "
                    "owns it")
    except Exception as exc:  # noqa: BLE001 - reported, then exit 1
        env.err(scrub(f"Error: removing task containers no service owns: {exc}", secrets))
        return max(len(services), 1)
    if not services:
        env.out("No services in the state.")
        return 0
    items = {a: st.get(a).attributes for a in services}  # type: ignore[union-attr]
    try:
        live = driver.read(ctx, items)
    except Exception as exc:  # noqa: BLE001 - reported, then exit 1
        env.err(scrub(f"Error: reading the services: {exc}", secrets))
        return len(services)
    failed = 0
    for addr in services:
        inst = st.get(addr)
        assert inst is not None
        before = (live.get(addr) or {}).get("running_count") or 0
        # Also the tasks it started, by id: the list view may still show a task that just
        # died running, so the count from before the pass can miss its replacement.
        before_ids = {t.get("id") for t in (live.get(addr) or {}).get("tasks") or []
                      if isinstance(t, dict)}
        try:
            after = driver.reconcile(ctx, addr, dict(inst.attributes))
        except Exception as exc:  # noqa: BLE001 - one service's failure is reported
            failed += 1
            message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            env.err(scrub(f"Error: {addr}: {without_address(message, str(addr))}",
                          secrets))
            continue
        ctx.resources[str(addr)] = after
        if after != began.get(addr).attributes:  # type: ignore[union-attr]
            try:
                with _lock(env, store, "OperationTypeReconcile", lock_timeout):
                    current = store.read()
                    why = record_reconciled(began, current, addr, after)
                    if why is None:
                        store.write(current)  # type: ignore[arg-type]
            except FgformError as exc:
                failed += 1
                env.err(scrub(f"Error: {addr}: the reconciled service is not recorded in "
                              f"state: {exc.message}", secrets))
                continue
            if why is not None:
                env.out(f"{addr}: not recorded: {why}; the next pass works from the new "
                        "state")
                continue
        count = after.get("running_count") or 0
        desired = after.get("desired_count") or 0
        started = sum(1 for t in after.get("tasks") or []
                      if isinstance(t, dict) and t.get("id") not in before_ids)
        if isinstance(count, int) and isinstance(before, int):
            started = max(started, count - before)
        if started > 0:
            env.out(f"{addr}: restored {started} task(s) ({count}/{desired} running)")
        elif isinstance(count, int) and isinstance(desired, int) and count < desired:
            # The crash-loop backoff holds replacements back for a while.
            env.out(f"{addr}: below desired count ({count}/{desired} running; "
                    f"see fgform events)")
        else:
            env.out(f"{addr}: at desired count ({count}/{desired} running)")
    return failed
