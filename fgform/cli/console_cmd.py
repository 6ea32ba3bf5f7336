"""`fgform console`: expressions evaluated against the configuration and the state, as
`terraform console` evaluates them.

Interactive (standard input a terminal): a `> ` prompt, each expression's value printed, an
error printed and the session goes on; an expression whose brackets are still open goes on
on the next line; `exit` or end of input ends it. Piped (`echo 'EXPR' | fgform console`):
as Terraform, every line is evaluated in order, the first error ends the run with exit 1,
and only the last line's value is printed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from fgform.cli.command import command
from fgform.cli.environment import Environment, pass_env
from fgform.cli.options import cli_vars, state_option, var_options
from fgform.cli.status import ExitStatus
from fgform.errors import DiagnosticsError

HELP = """\
The fgform console evaluates expressions as the configuration does. You may refer to
variables, locals, module outputs and resources in the state just as you would in the
configuration: "fg_service.web.id" is the ID of fg_service.web if it is in the state.

Type an expression and hit <enter> to see its value.

To exit the console, type "exit" and hit <enter>, or use Control-C or Control-D."""


@command()
@var_options
@state_option
@pass_env
def console(env: Environment, vars: tuple[str, ...], var_files: tuple[str, ...],
            state_path: str | None) -> ExitStatus:
    """Evaluate expressions against the configuration and state (as `terraform console`):
    one a line; interactive on a terminal, else the last line's value is printed."""
    from fgform import workflow
    from fgform.render.console import format_value
    from fgform.render.diagnostics import format_diagnostics

    if workflow.has_configuration(env.dir):
        wd = workflow.open_working_dir(env.dir, cli_vars(env, vars, var_files), state_path)
        ctx = workflow.console_context(wd, wd.store.read())
    else:
        # As terraform console: no configuration is no error, functions still work.
        ctx = workflow.bare_console_context(env.dir)

    def evaluate(text: str) -> str:
        return format_value(workflow.console_evaluate(ctx, text))

    def show_error(exc: DiagnosticsError) -> None:
        env.err(format_diagnostics(exc.diagnostics, env.dir))

    if env.stdin.isatty():
        return run_interactive(evaluate, _lines(env), env.out, show_error)
    return run_piped(evaluate, _lines(env), env.out, show_error)


def _lines(env: Environment) -> Iterable[str]:
    while True:
        line = env.stdin.readline()
        if not line:
            return
        yield line.rstrip("\r\n")


def run_piped(evaluate: Callable[[str], str], lines: Iterable[str],
              out: Callable[..., None], show_error: Callable[[DiagnosticsError], None]
              ) -> ExitStatus:
    """terraform console's piped mode: each line evaluated, the first error is the end
    (exit 1), `exit` ends it quietly, and only the last line's value is printed."""
    last = ""
    for line in lines:
        text = line.strip()
        if text == "exit":
            return ExitStatus.OK
        try:
            last = _handle(evaluate, text)
        except DiagnosticsError as exc:
            show_error(exc)
            return ExitStatus.ERROR
    out(last)
    return ExitStatus.OK


def run_interactive(evaluate: Callable[[str], str], lines: Iterable[str],
                    out: Callable[..., None],
                    show_error: Callable[[DiagnosticsError], None]) -> ExitStatus:
    """The prompt loop: each value printed, each error shown, and on to the next."""
    pending: list[str] = []
    it = iter(lines)
    while True:
        out("> " if not pending else "", nl=False)
        line = next(it, None)
        if line is None:
            out()
            return ExitStatus.OK
        pending.append(line)
        text = "\n".join(pending).strip()
        if _open_brackets(text) > 0:
            continue  # the expression goes on on the next line
        pending = []
        if text == "exit":
            return ExitStatus.OK
        try:
            result = _handle(evaluate, text)
        except DiagnosticsError as exc:
            show_error(exc)
            continue
        if result:
            out(result)


def _handle(evaluate: Callable[[str], str], text: str) -> str:
    if not text:
        return ""
    if text == "help":
        return HELP
    return evaluate(text)


def _open_brackets(text: str) -> int:
    """How many of `( [ {` are still open in `text` (quoted strings skipped; a rough
    count, only to know whether to read another line)."""
    depth = 0
    quoted = False
    i = 0
    while i < len(text):
        c = text[i]
        if quoted:
            if c == "\\":
                i += 1
            elif c == '"':
                quoted = False
        elif c == '"':
            quoted = True
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        i += 1
    return depth



COMMANDS = (console,)
