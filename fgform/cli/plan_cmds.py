"""plan, apply, destroy and show: the commands that plan changes and carry them out."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Any

import click

from fgform import numbers
from fgform.cli.command import command
from fgform.cli.environment import Environment, pass_env
from fgform.cli.options import (
    Whole,
    cli_vars,
    lock_timeout_option,
    opt,
    state_option,
    var_options,
)
from fgform.cli.status import ExitStatus
from fgform.cli.store import fleet_writer, state_store, take_lock
from fgform.errors import FgformError
from fgform.plan.model import PlanMode


def plan_options(f):
    """The flags of plan, also taken by apply (which plans first)."""
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
    f = lock_timeout_option(f)
    f = opt("no-color", "no_color", is_flag=True, help="No colour in the output.")(f)
    return var_options(f)


def _warn(env: Environment, ws) -> None:
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


def _render_plan(env: Environment, plan, no_color: bool) -> None:
    from fgform.render.text import render_plan

    env.out(render_plan(plan, color=env.color and not no_color), nl=False)


def _in_dir(env: Environment, name: str) -> Path:
    """A plan file named on the command line: relative to the configuration directory."""
    return Path(name) if Path(name).is_absolute() else env.dir / name


@command()
@plan_options
@opt("detailed-exitcode", "detailed_exitcode", is_flag=True,
     help="Exit 0 for no changes, 2 for changes, 1 for errors.")
@opt("json", "as_json", is_flag=True, help="Print the plan in Terraform's JSON format.")
@pass_env
def plan(env: Environment, out: str | None, targets, replaces, refresh: bool,
         refresh_only: bool, destroy: bool, state_path: str | None, lock_timeout: str,
         no_color: bool, vars, var_files, detailed_exitcode: bool, as_json: bool
         ) -> ExitStatus:
    """Show what apply would change."""
    from fgform import workflow

    out_path = None if not out else _in_dir(env, out)
    if out_path is not None:
        from fgform.plan.planfile import check_plan_path

        check_plan_path(out_path, out)  # before planning, not after a long refresh
    ws = workflow.open_working_dir(env.dir, cli_vars(env, vars, var_files), state_path,
                                   workspace=env.workspace)
    _warn(env, ws)
    mode = _mode(destroy, refresh_only)
    # Held while planning, as Terraform does: refresh talks to the fleet, which must not
    # interleave with a concurrent apply. Not when the state's directory does not exist yet:
    # there is nothing to refresh and nobody holds the lock (taking it would make the
    # directory, and a plan leaves no files behind).
    held = take_lock(env, ws.store, "OperationTypePlan", lock_timeout) \
        if Path(ws.store.path).parent.exists() else contextlib.nullcontext()
    with held:
        the_plan = workflow.make_plan(ws, env.fleet, mode=mode, targets=targets,
                                      replace=replaces, refresh=refresh,
                                      log=None if as_json else env.out)
    if as_json:
        from fgform.render.json_plan import mask_plan_json, plan_json

        # Printed to a terminal or a CI log: no sensitive value (`show -json FILE` exports them).
        env.out(numbers.dumps_json(mask_plan_json(plan_json(the_plan), the_plan),
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
        return ExitStatus.CHANGES
    return ExitStatus.OK


class _Interrupts:
    """First Ctrl-C: stop starting new work and finish gracefully; second: abort now."""

    def __init__(self, env: Environment) -> None:
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


def _approved(env: Environment, destroying: bool) -> None:
    """Ask before changing anything; an error unless the answer is `yes`."""
    question = ("Do you really want to destroy all resources?" if destroying
                else "Do you want to perform these actions?")
    env.out(f"\n{question}\n  fgform will perform the actions described above.\n"
            "  Only 'yes' will be accepted to approve.\n")
    if env.no_terminal_to_ask():
        raise FgformError("no terminal to ask for approval; use -auto-approve")
    if env.ask("  Enter a value").strip() != "yes":
        raise FgformError("Apply cancelled." if not destroying else "Destroy cancelled.")


def _run_apply(env: Environment, ws, the_plan, *, as_json: bool, no_color: bool,
               parallelism: int, auto_approve: bool, destroying: bool) -> ExitStatus:
    from fgform import workflow
    from fgform.render.progress import JsonProgress, TextProgress

    if not as_json and not the_plan.has_changes:
        return ExitStatus.OK
    if not auto_approve:
        _approved(env, destroying)
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
    if outcome.result.ok and not destroying and not as_json:
        from fgform.render.text import check_warnings, render_warnings

        # check blocks against what the apply made: warnings before the summary, as
        # Terraform prints them
        for line in render_warnings(check_warnings(workflow.check_after_apply(
                ws, outcome.state)), color=env.color and not no_color):
            env.out(line)
    printer.finish(outcome.result)
    if not outcome.result.ok:
        return ExitStatus.ERROR
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
    return ExitStatus.OK


@command()
@click.argument("plan_file", required=False)
@opt("auto-approve", "auto_approve", is_flag=True, help="Skip the interactive approval.")
@opt("parallelism", default=10, type=Whole(1, 256), help="Operations at once.")
@opt("json", "as_json", is_flag=True, help="Machine-readable progress (implies approval).")
@plan_options
@pass_env
def apply(env: Environment, plan_file: str | None, auto_approve: bool, parallelism: int,
          as_json: bool, out, targets, replaces, refresh, refresh_only, destroy, state_path,
          lock_timeout, no_color, vars, var_files) -> ExitStatus:
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
        return _apply_saved(env, plan_file, parallelism=parallelism, as_json=as_json,
                            no_color=no_color, state_path=state_path,
                            lock_timeout=lock_timeout)
    ws = workflow.open_working_dir(env.dir, cli_vars(env, vars, var_files), state_path,
                                   workspace=env.workspace)
    _warn(env, ws)
    mode = _mode(destroy, refresh_only)
    with fleet_writer(env, ws.store, lock_timeout):
        the_plan = workflow.make_plan(ws, env.fleet, mode=mode, targets=targets,
                                      replace=replaces, refresh=refresh,
                                      log=None if as_json else env.out)
        if not as_json:
            _render_plan(env, the_plan, no_color)
        return _run_apply(env, ws, the_plan, as_json=as_json, no_color=no_color,
                          parallelism=parallelism, auto_approve=auto_approve or as_json,
                          destroying=mode is PlanMode.DESTROY)


def _apply_saved(env: Environment, plan_file: str, *, parallelism: int, as_json: bool,
                 no_color: bool, state_path: str | None, lock_timeout: str) -> ExitStatus:
    from fgform import workflow
    from fgform.plan.planfile import check_stale, config_hash, load_plan

    path = _in_dir(env, plan_file)
    if not path.exists():
        path = Path(plan_file)
    the_plan = load_plan(path)
    ws = workflow.open_working_dir(env.dir, [], state_path, check=False, require_values=False,
                                   workspace=env.workspace)
    ws.variables = dict(the_plan.variables)
    from fgform.config.fn_time import set_plan_timestamp

    set_plan_timestamp(the_plan.timestamp or None)  # plantimestamp() is the saved plan's
    with fleet_writer(env, ws.store, lock_timeout):
        check_stale(the_plan, ws.store.read(), config_hash(ws.dir, ws.config))
        return _run_apply(env, ws, the_plan, as_json=as_json, no_color=no_color,
                          parallelism=parallelism, auto_approve=True,
                          destroying=the_plan.mode is PlanMode.DESTROY)


@command()
@opt("auto-approve", "auto_approve", is_flag=True, help="Skip the interactive approval.")
@opt("parallelism", default=10, type=Whole(1, 256))
@opt("json", "as_json", is_flag=True)
@opt("target", "targets", multiple=True, metavar="ADDR")
@opt("refresh", default=True, type=bool, metavar="BOOL")
@state_option
@lock_timeout_option
@opt("no-color", "no_color", is_flag=True)
@var_options
@pass_env
def destroy(env: Environment, auto_approve: bool, parallelism: int, as_json: bool, targets,
            refresh: bool, state_path, lock_timeout, no_color, vars, var_files) -> ExitStatus:
    """Destroy everything this configuration manages."""
    from fgform import workflow

    ws = workflow.open_working_dir(env.dir, cli_vars(env, vars, var_files), state_path,
                                   workspace=env.workspace)
    _warn(env, ws)
    with fleet_writer(env, ws.store, lock_timeout):
        the_plan = workflow.make_plan(ws, env.fleet, mode=PlanMode.DESTROY, targets=targets,
                                      refresh=refresh)
        if not as_json:
            _render_plan(env, the_plan, no_color)
        return _run_apply(env, ws, the_plan, as_json=as_json, no_color=no_color,
                          parallelism=parallelism, auto_approve=auto_approve or as_json,
                          destroying=True)


@command()
@click.argument("plan_file", required=False)
@opt("json", "as_json", is_flag=True, help="Terraform's JSON plan/state format.")
@opt("markdown", is_flag=True, help="A pull-request comment.")
@state_option
@opt("no-color", "no_color", is_flag=True)
@pass_env
def show(env: Environment, plan_file: str | None, as_json: bool, markdown: bool, state_path,
         no_color: bool) -> None:
    """Show a saved plan (even a stale one), or the state."""
    if plan_file:
        from fgform.plan.planfile import load_plan

        path = _in_dir(env, plan_file)
        # Terraform's JSON has no attribute diffs: show -json need not build them.
        the_plan = load_plan(path if path.exists() else Path(plan_file), diffs=not as_json)
        if as_json:
            from fgform.render.json_plan import plan_json

            env.out(numbers.dumps_json(plan_json(the_plan), separators=(",", ":")))
        elif markdown:
            from fgform.render.markdown import render_markdown

            env.out(render_markdown(the_plan, plan_file=plan_file), nl=False)
        else:
            _render_plan(env, the_plan, no_color)
        return

    state = state_store(env, state_path).read()
    if as_json:
        from fgform.render.json_plan import state_json

        env.out(numbers.dumps_json(state_json(state), separators=(",", ":")))
        return
    if markdown:
        raise FgformError("show -markdown needs a saved plan file")
    if state is None or not state.resources:
        env.out("The state file is empty. No resources are represented.")
        return
    from fgform.render.state_hcl import state_show
    from fgform.state.surgery import state_list

    env.out("\n\n".join(state_show(state, a) for a in state_list(state)))


COMMANDS = (plan, apply, destroy, show)
