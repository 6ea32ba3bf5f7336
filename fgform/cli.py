"""The `fgform` command line: click commands and the one error boundary.

Flags follow Terraform's names and accept one or two dashes (`-auto-approve`,
`--auto-approve`, `-chdir=DIR`). Heavy modules are imported inside commands so that
`fgform validate` starts fast.
"""

from __future__ import annotations

import contextvars
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from fgform import __version__
from fgform.errors import DiagnosticsError, FgformError
from fgform.fleet.fleet import Fleet


def opt(name: str, *args: Any, **kwargs: Any):
    """A click option reachable as -name and --name, as Terraform's flags are."""
    return click.option(f"-{name}", f"--{name}", *args, **kwargs)


# The arguments of the command line being run (for -var/-var-file order) and the
# configuration directory (diagnostics name files relative to it), for the boundary in `run`.
_ARGV: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("argv", default=None)
_DIR: contextvars.ContextVar[Path | None] = contextvars.ContextVar("dir", default=None)


class Env:
    """What every command needs: the configuration directory, the terminal's traits and the
    fleet."""

    def __init__(self, chdir: str | None, fleet: Fleet | None = None) -> None:
        self.dir = Path(chdir or ".").resolve()
        _DIR.set(self.dir)
        self.color = (sys.stdout.isatty() and "NO_COLOR" not in os.environ
                      and os.environ.get("TERM") != "dumb")
        self._fleet = fleet

    @property
    def fleet(self) -> Fleet:
        """The fleet the commands act on: the local Docker engine unless one was passed in,
        built on first use (importing the Docker SDK is slow, and `validate` needs none)."""
        if self._fleet is None:
            from fgform.fleet.docker.fleet import DockerFleet

            self._fleet = DockerFleet()
        return self._fleet

    def out(self, text: str = "", nl: bool = True) -> None:
        click.echo(text, nl=nl)

    def err(self, text: str = "", nl: bool = True) -> None:
        click.echo(text, err=True, nl=nl)


pass_env = click.make_pass_decorator(Env)

CONTEXT = {"help_option_names": ["-h", "-help", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT)
@opt("chdir", "chdir", metavar="DIR", help="Switch to DIR before running the command.")
@click.pass_context
def cli(ctx: click.Context, chdir: str | None) -> None:
    """fgform: Terraform-style provisioning for a local Docker-based Fargate/ECS fleet."""
    if chdir and not Path(chdir).is_dir():
        raise FgformError(f"-chdir: {chdir} is not a directory")
    ctx.obj = Env(chdir, fleet=ctx.obj)  # `run` passes a fleet (or None) in as ctx.obj


# -- variables flags shared by plan / apply / destroy / validate --------------------------------
def var_options(f):
    f = opt("var", "vars", multiple=True, metavar="NAME=VALUE",
            help="Set an input variable (repeatable).")(f)
    f = opt("var-file", "var_files", multiple=True, metavar="FILE",
            help="Read input variables from an .fgvars/.tfvars or .json file.")(f)
    return f


def _cli_vars(vars_: tuple[str, ...], var_files: tuple[str, ...]) -> list[tuple[str, str]]:
    """-var and -var-file in command-line order (later wins), as Terraform applies them.

    click hands over each option's values separately, so their interleaving is read back
    from the command line; should that ever disagree with what click parsed, all -var-file
    values come first, then all -var values.
    """
    argv = _ARGV.get()
    if argv is None:
        argv = sys.argv[1:]
    ordered = _var_flags_in_order(argv)
    parsed = [("var", v) for v in vars_] + [("file", f) for f in var_files]
    if sorted(ordered) == sorted(parsed):
        return ordered
    return [("file", f) for f in var_files] + [("var", v) for v in vars_]


def _var_flags_in_order(argv: list[str]) -> list[tuple[str, str]]:
    kinds = {"var": "var", "var-file": "file"}
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            break
        name, eq, value = a.partition("=")
        kind = kinds.get(name[2:] if name.startswith("--") else name[1:]) \
            if name.startswith("-") else None
        if kind is not None:
            if eq:
                out.append((kind, value))
            elif i + 1 < len(argv):
                out.append((kind, argv[i + 1]))
                i += 1
        i += 1
    return out


# -- validate / fmt / graph / version -----------------------------------------------------------
@cli.command()
@opt("json", "as_json", is_flag=True, help="Machine-readable output.")
@var_options
@pass_env
def validate(env: Env, as_json: bool, vars: tuple[str, ...], var_files: tuple[str, ...]) -> None:
    """Check the configuration: every problem at once, with file and line."""
    from fgform import workflow
    from fgform.render.diagnostics import diagnostics_json, dumps, format_diagnostics

    diags = workflow.validate(env.dir, _cli_vars(vars, var_files))
    if as_json:
        env.out(dumps(diagnostics_json(diags, env.dir)))
    elif diags:
        env.err(format_diagnostics(diags, env.dir))
    errors = [d for d in diags if d.severity.value == "error"]
    if errors:
        raise SystemExit(1)
    if not as_json:
        env.out("Success! The configuration is valid.")


@cli.command()
@opt("check", is_flag=True, help="Only check: exit 3 when a file is not formatted.")
@opt("diff", is_flag=True, help="Show the changes as a diff.")
@opt("recursive", is_flag=True, help="Also format subdirectories.")
@opt("write", default=True, type=bool, help="Write the result back (default true).")
@opt("list", "list_", default=True, type=bool, help="List files that changed.")
@click.argument("target", required=False)
@pass_env
def fmt(env: Env, check: bool, diff: bool, recursive: bool, write: bool, list_: bool,
        target: str | None) -> None:
    """Rewrite configuration files to the canonical format (as `terraform fmt`)."""
    from fgform import fmt as fmtmod
    from fgform.errors import Diagnostic, DiagnosticsError

    if target == "-":
        data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else \
            sys.stdin.read().encode("utf-8")
        try:
            source = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FgformError("Invalid character encoding: standard input is not UTF-8 "
                              f"(byte {exc.start + 1})") from None
        try:
            text = fmtmod.format_source(source, "<stdin>")
        except fmtmod.FmtError as exc:
            raise FgformError(f"<stdin> line {exc.range.start_line}: {exc.text}",
                              hint=exc.hint) from None
        # As terraform fmt -: -diff prints only the diff, -check only sets the exit code.
        if diff and text != source:
            import difflib

            env.out("".join(difflib.unified_diff(
                source.splitlines(keepends=True), text.splitlines(keepends=True),
                fromfile="old/<stdin>", tofile="new/<stdin>")), nl=False)
        if check:
            if text != source:
                raise SystemExit(3)
            return
        if not diff:
            # terraform fmt - ends its output with a newline even when the input had none
            env.out(text if text.endswith("\n") else text + "\n", nl=False)
        return
    base = env.dir / target if target else env.dir
    if not base.exists():
        raise FgformError(f"No file or directory at {target}",
                          hint="fmt takes a configuration file, a directory, or - for "
                               "standard input.")
    files = [base] if base.is_file() else fmtmod.find_files(base, recursive)
    unformatted = 0
    problems: list[Diagnostic] = []
    for path in files:
        # format_file writes the file itself unless asked only to check
        try:
            changed, _new_text, udiff = fmtmod.format_file(path, check=check or not write,
                                                           diff=diff)
        except fmtmod.FmtError as exc:
            problems.append(exc.diagnostic)
            continue
        except FgformError as exc:  # a rewrite refused (the file is a symlink)
            problems.append(Diagnostic.error("Failed to write file", exc.message,
                                             hint=exc.hint))
            continue
        except OSError as exc:
            problems.append(Diagnostic.error(
                "Failed to read file",
                f"The file {_shown(path, env.dir)} could not be read: {exc.strerror}."))
            continue
        if not changed:
            continue
        unformatted += 1
        if list_:
            env.out(_shown(path, env.dir))
        if diff:
            env.out(udiff, nl=False)
    if problems:
        raise DiagnosticsError(problems)
    if check and unformatted:
        raise SystemExit(3)


def _shown(path: Path, base: Path) -> str:
    """A path as users should read it: relative to the configuration directory if inside."""
    return str(path.relative_to(base)) if path.is_relative_to(base) else str(path)


@cli.command()
@var_options
@pass_env
def graph(env: Env, vars: tuple[str, ...], var_files: tuple[str, ...]) -> None:
    """Print the dependency graph in DOT."""
    from fgform import workflow

    env.out(workflow.graph_dot(env.dir, _cli_vars(vars, var_files)), nl=False)


@cli.command()
@opt("json", "as_json", is_flag=True)
def version(as_json: bool) -> None:
    """Print fgform's version."""
    if as_json:
        import json

        click.echo(json.dumps({"fgform_version": __version__}))
    else:
        click.echo(f"fgform v{__version__}")


def run(argv: Sequence[str] | None = None, fleet: Fleet | None = None) -> int:
    """Run the CLI on `argv` (default: the process's arguments) inside the one error
    boundary and return the exit code. Every error the user can act on ends as one
    `Error: ...` message; anything else is a bug, reported in one line (the traceback only
    with FGFORM_LOG=debug). `fleet`: what the commands act on (default: the local Docker
    engine)."""
    from fgform import commands  # noqa: F401  (registers plan/apply/state/... on `cli`)

    args = list(sys.argv[1:] if argv is None else argv)
    argv_token = _ARGV.set(args)
    dir_token = _DIR.set(None)
    try:
        return _run(args, fleet)
    finally:
        _ARGV.reset(argv_token)
        _DIR.reset(dir_token)


def _run(args: list[str], fleet: Fleet | None = None) -> int:
    debug = os.environ.get("FGFORM_LOG", "").lower() in ("debug", "trace")
    try:
        cli.main(args=_normalise_args(args), prog_name="fgform", standalone_mode=False,
                 obj=fleet)
        return 0
    except click.exceptions.Abort:
        click.echo("\nInterrupted.", err=True)
        return 1
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except SystemExit as exc:
        return _exit_code(exc.code)
    except click.UsageError as exc:
        click.echo(f"Error: {_usage_message(exc, args)}", err=True)
        if exc.ctx is not None:
            click.echo(f"\nRun '{exc.ctx.command_path} -help' for usage.", err=True)
        return 1
    except click.ClickException as exc:
        click.echo(f"Error: {exc.format_message()}", err=True)
        return 1
    except DiagnosticsError as exc:
        from fgform.render.diagnostics import format_diagnostics

        click.echo(format_diagnostics(exc.diagnostics, _DIR.get() or Path.cwd()), err=True)
        return exc.exit_code
    except FgformError as exc:
        from fgform.render.diagnostics import relativise

        base = _DIR.get()
        click.echo(f"Error: {relativise(exc.message, base)}", err=True)
        if exc.hint:
            click.echo(f"\n{relativise(exc.hint, base)}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("\nInterrupted.", err=True)
        return 130
    except BrokenPipeError:
        # `fgform show | head`: the reader left; say nothing, and keep Python from
        # complaining about the unflushed rest when it exits.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return 1
    except Exception as exc:  # the boundary: a bug, not the user's fault
        if debug:
            import traceback

            traceback.print_exc()
        # The boundary cannot know which secrets the run had read, and an unexpected
        # exception may quote one (a KeyError of a sensitive map key): its text is left to
        # the traceback the user asks for.
        click.echo(f"Error: internal error: {type(exc).__name__} (its message is not shown: "
                   "it may hold a sensitive value)", err=True)
        click.echo(f"This is a bug in fgform {__version__}; please report it"
                   + (" with the traceback above." if debug
                      else " (FGFORM_LOG=debug shows the traceback)."), err=True)
        return 1


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
    import difflib

    close = difflib.get_close_matches(name.lstrip("-"), known, n=1)
    hint = f" Did you mean -{close[0]}?" if close else ""
    return f"flag provided but not defined: {name}.{hint}"


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    click.echo(str(code), err=True)
    return 1


def main() -> None:
    """Entry point of the `fgform` script."""
    sys.exit(run())


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


if __name__ == "__main__":
    main()
