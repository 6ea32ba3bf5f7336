"""The commands that read the configuration without touching state or fleet: validate,
fmt, graph, version."""

from __future__ import annotations

from pathlib import Path

import click

from fgform import __version__
from fgform.cli.command import command
from fgform.cli.environment import Environment, pass_env
from fgform.cli.options import cli_vars, opt, var_options
from fgform.cli.status import ExitStatus
from fgform.errors import FgformError, Severity


@command()
@opt("json", "as_json", is_flag=True, help="Machine-readable output.")
@var_options
@pass_env
def validate(env: Environment, as_json: bool, vars: tuple[str, ...],
             var_files: tuple[str, ...]) -> ExitStatus:
    """Check the configuration: every problem at once, with file and line."""
    from fgform import workflow
    from fgform.render.diagnostics import diagnostics_json, dumps, format_diagnostics

    diags = workflow.validate(env.dir, cli_vars(env, vars, var_files))
    if as_json:
        env.out(dumps(diagnostics_json(diags, env.dir)))
    elif diags:
        env.err(format_diagnostics(diags, env.dir))
    errors = [d for d in diags if d.severity is Severity.ERROR]
    if errors:
        return ExitStatus.ERROR
    if not as_json:
        env.out("Success! The configuration is valid.")
    return ExitStatus.OK


@command()
@opt("check", is_flag=True, help="Only check: exit 3 when a file is not formatted.")
@opt("diff", is_flag=True, help="Show the changes as a diff.")
@opt("recursive", is_flag=True, help="Also format subdirectories.")
@opt("write", default=True, type=bool, help="Write the result back (default true).")
@opt("list", "list_", default=True, type=bool, help="List files that changed.")
@click.argument("targets", nargs=-1)
@pass_env
def fmt(env: Environment, check: bool, diff: bool, recursive: bool, write: bool, list_: bool,
        targets: tuple[str, ...]) -> ExitStatus:
    """Rewrite configuration files to the canonical format (as `terraform fmt`): each
    TARGET a file or a directory (the working directory when none), or `-` for standard
    input to standard output."""
    from fgform import fmt as fmtmod
    from fgform.errors import Diagnostic, DiagnosticsError

    # As terraform fmt: `-` first reads standard input (and nothing else); elsewhere it
    # is a missing file.
    if targets and targets[0] == "-":
        return _fmt_stdin(env, check, diff)
    unformatted = 0
    problems: list[Diagnostic] = []
    for target in targets or ("",):
        base = env.dir / target if target else env.dir
        if not base.exists():
            # terraform fmt stops at a missing target (the ones before it are done).
            problems.append(Diagnostic.error(f"No file or directory at {target}"))
            break
        for path in [base] if base.is_file() else fmtmod.find_files(base, recursive):
            # format_file writes the file itself unless asked only to check
            try:
                changed, _new_text, udiff = fmtmod.format_file(
                    path, check=check or not write, diff=diff)
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
        raise _fmt_error(DiagnosticsError(problems))
    if check and unformatted:
        return ExitStatus.UNFORMATTED
    return ExitStatus.OK


def _fmt_error(exc: FgformError) -> FgformError:
    """`exc` exiting 2, as terraform fmt does on any error (1 is its usage error)."""
    exc.exit_code = FMT_ERROR_EXIT
    return exc


# terraform fmt's exit status for input it cannot format or a missing target.
FMT_ERROR_EXIT = 2


def _fmt_stdin(env: Environment, check: bool, diff: bool) -> ExitStatus:
    """`fmt -`: standard input formatted to standard output."""
    from fgform import fmt as fmtmod
    from fgform.errors import DiagnosticsError

    data = env.read_stdin_bytes()
    try:
        source = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _fmt_error(FgformError("Invalid character encoding: standard input is not "
                                     f"UTF-8 (byte {exc.start + 1})")) from None
    try:
        text = fmtmod.format_source(source, "<stdin>")
    except fmtmod.FmtError as exc:
        raise _fmt_error(DiagnosticsError([exc.diagnostic])) from None
    # As terraform fmt -: -diff prints only the diff, -check only sets the exit code.
    if diff and text != source:
        import difflib

        env.out("".join(difflib.unified_diff(
            source.splitlines(keepends=True), text.splitlines(keepends=True),
            fromfile="old/<stdin>", tofile="new/<stdin>")), nl=False)
    if check:
        return ExitStatus.UNFORMATTED if text != source else ExitStatus.OK
    if not diff:
        # terraform fmt - ends its output with a newline even when the input had none
        env.out(text if text.endswith("\n") else text + "\n", nl=False)
    return ExitStatus.OK


def _shown(path: Path, base: Path) -> str:
    """A path as users should read it: relative to the configuration directory if inside."""
    return str(path.relative_to(base)) if path.is_relative_to(base) else str(path)


@command()
@var_options
@pass_env
def graph(env: Environment, vars: tuple[str, ...], var_files: tuple[str, ...]) -> None:
    """Print the dependency graph in DOT."""
    from fgform import workflow

    env.out(workflow.graph_dot(env.dir, cli_vars(env, vars, var_files)), nl=False)


@command()
@opt("json", "as_json", is_flag=True)
@pass_env
def version(env: Environment, as_json: bool) -> None:
    """Print fgform's version."""
    if as_json:
        import json

        env.out(json.dumps({"fgform_version": __version__}))
    else:
        env.out(f"fgform v{__version__}")


COMMANDS = (validate, fmt, graph, version)
