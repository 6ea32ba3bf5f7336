"""The `fgform` command line: the root command, the registration of every command group,
and the one error boundary (`run`).

Heavy modules are imported inside commands so that `fgform validate` starts fast.
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Sequence

import click

from fgform import __version__
from fgform.cli import (
    api_key_cmds,
    config_cmds,
    console_cmd,
    fleet_cmds,
    nodes_cmd,
    plan_cmds,
    reconcile_cmd,
    serve_cmds,
    state_cmds,
    workspace_cmds,
)
from fgform.cli.command import group
from fgform.cli.environment import Environment
from fgform.cli.gcpolicy import script_run
from fgform.cli.options import opt
from fgform.cli.status import ExitStatus
from fgform.errors import DiagnosticsError, FgformError

CONTEXT = {"help_option_names": ["-h", "-help", "--help"], "max_content_width": 100}


@group(context_settings=CONTEXT)
@opt("chdir", "chdir", metavar="DIR", help="Switch to DIR before running the command.")
@click.pass_context
def cli(ctx: click.Context, chdir: str | None) -> None:
    """fgform: Terraform-style provisioning for a local Docker-based Fargate/ECS fleet."""
    ctx.find_object(Environment).choose_dir(chdir)


for _group in (config_cmds, plan_cmds, state_cmds, fleet_cmds, reconcile_cmd, workspace_cmds,
               console_cmd, nodes_cmd, api_key_cmds, serve_cmds):
    for _command in _group.COMMANDS:
        cli.add_command(_command)


def run(argv: Sequence[str] | None = None, env: Environment | None = None) -> int:
    """Run the CLI on `argv` (default: the process's arguments) inside the one error
    boundary and return the exit code. `env` is the terminal, variables and directory to
    run in (default: this process's, as they are now). Every error the user can act on
    ends as one `Error: ...` message; anything else is a bug, reported in one line (the
    traceback only with FGFORM_LOG=debug)."""
    if env is None:
        env = Environment.from_process(list(sys.argv[1:] if argv is None else argv))
    elif argv is not None:
        env.argv = list(argv)
    return int(_run(env, env.argv))


def _run(env: Environment, args: list[str]) -> int:
    # The configuration directory, once -chdir is read: messages name paths relative to it.
    def base():
        return env.dir if env.dir_chosen else None

    try:
        code = cli.main(args=_normalise_args(args), prog_name="fgform", standalone_mode=False,
                        obj=env)
        return int(code or ExitStatus.OK)
    except click.exceptions.Abort:
        env.err("\nInterrupted.")
        return ExitStatus.ERROR
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except SystemExit as exc:
        return _exit_code(env, exc.code)
    except click.UsageError as exc:
        env.err(f"Error: {_usage_message(exc, args)}")
        if exc.ctx is not None:
            env.err(f"\nRun '{exc.ctx.command_path} -help' for usage.")
        return ExitStatus.ERROR
    except click.ClickException as exc:
        env.err(f"Error: {exc.format_message()}")
        return ExitStatus.ERROR
    except DiagnosticsError as exc:
        from fgform.render.diagnostics import format_diagnostics

        env.err(format_diagnostics(exc.diagnostics, base() or env.cwd))
        return exc.exit_code
    except FgformError as exc:
        from fgform.render.diagnostics import relativise

        env.err(f"Error: {relativise(exc.message, base())}")
        if exc.hint:
            env.err(f"\n{relativise(exc.hint, base())}")
        return exc.exit_code
    except KeyboardInterrupt:
        env.err("\nInterrupted.")
        return ExitStatus.INTERRUPTED
    except BrokenPipeError:
        # `fgform show | head`: the reader left; say nothing, and keep Python from
        # complaining about the unflushed rest when it exits.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, env.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return ExitStatus.ERROR
    except Exception as exc:  # the boundary: a bug, not the user's fault
        return _internal_error(env, exc)


def _internal_error(env: Environment, exc: Exception) -> ExitStatus:
    if env.debug:
        import traceback

        traceback.print_exc(file=env.stderr)
    # The boundary cannot know which secrets the run had read, and an unexpected
    # exception may quote one (a KeyError of a sensitive map key): its text is left to
    # the traceback the user asks for.
    env.err(f"Error: internal error: {type(exc).__name__} (its message is not shown: "
            "it may hold a sensitive value)")
    env.err(f"This is a bug in fgform {__version__}; please report it"
            + (" with the traceback above." if env.debug
               else " (FGFORM_LOG=debug shows the traceback)."))
    return ExitStatus.ERROR


def _usage_message(exc: click.UsageError, args: list[str]) -> str:
    """click's message, except that an unknown `-flag` is named whole (click would complain
    about `-f`, reading it as a cluster of one-letter options), with a suggestion; a bad
    flag value names the flag as it is written (`-tail`, not click's `'-tail' / '--tail'`)."""
    if type(exc) is click.BadParameter and isinstance(exc.param, click.Option):
        flag = max(exc.param.opts, key=len).lstrip("-")
        return f"Invalid value for -{flag}: {exc.message}."
    if not isinstance(exc, click.NoSuchOption):
        return exc.format_message()
    name = exc.option_name
    for a in args:
        flag = a.partition("=")[0]
        if flag.startswith(name) and flag.startswith("-"):
            name = flag
            break
    known: list[str] = []
    if exc.ctx is not None:
        for param in exc.ctx.command.params:
            known += [o.lstrip("-") for o in getattr(param, "opts", [])
                      if o.startswith("--") and len(o) > 3]
    close = difflib.get_close_matches(name.lstrip("-"), known, n=1)
    hint = f" Did you mean -{close[0]}?" if close else ""
    return f"flag provided but not defined: {name}.{hint}"


def _exit_code(env: Environment, code: object) -> int:
    """A SystemExit raised below the commands (a library's): its code, or its message."""
    if code is None:
        return ExitStatus.OK
    if isinstance(code, int):
        return code
    env.err(str(code))
    return ExitStatus.ERROR


def _normalise_args(args: list[str]) -> list[str]:
    """`-state-out` style flags are declared with both prefixes; nothing to rewrite except
    Terraform's `-flag=false` booleans for flags click declares as plain switches."""
    out = []
    for a in args:
        if a.startswith("-") and "=" in a:
            name, _, value = a.partition("=")
            if name.lstrip("-") in _BOOL_SWITCHES:
                if value.lower() in ("true", "1"):
                    out.append(name)
                    continue
                if value.lower() in ("false", "0"):
                    continue  # a switch turned off is a switch left out
        out.append(a)
    return out


# Switches users write as -name=true/false in Terraform (click declares them as on/off pairs).
_BOOL_SWITCHES = {"auto-approve", "detailed-exitcode", "no-color", "json", "check", "diff",
                  "recursive", "destroy", "refresh-only", "force", "raw", "markdown", "watch",
                  "follow"}


def main() -> None:
    """Entry point of the `fgform` script (the process's GC policy is set here, once)."""
    sys.exit(script_run(run))
