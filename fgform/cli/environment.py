"""What a command line runs in: its streams, variables, working directory and arguments.

One `Environment` is made per run (by `fgform.cli.app.run`) and handed to every command, so
that no command reads `sys.stdout`, `sys.stdin` or `os.environ` for itself, and a test or an
embedding program can run the CLI on streams and variables of its own. (Below the commands,
the core still reads its own variables from the process: FGFORM_VAR_*, FGFORM_NO_CACHE,
DOCKER_HOST.)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import click

from fgform.errors import FgformError
from fgform.fleet.fleet import Fleet


def _local_fleet() -> Fleet:
    """The local Docker engine as a fleet, its swarm for clusters with engine = "swarm"
    (building it imports no Docker SDK, connects to nothing: `validate` and
    `plan -refresh=false` need no engine)."""
    from fgform.fleet.swarm.fleet import EngineFleet

    return EngineFleet()


@dataclass
class Environment:
    """The terminal, variables and directories of one run of the command line.

    `dir` is the configuration directory (`-chdir`, else `cwd`); `dir_chosen` says whether
    the root command has set it yet (an error before that names paths as they were given).
    `fleet` is what the commands act on.
    """

    stdin: IO[Any]
    stdout: IO[str]
    stderr: IO[str]
    environ: Mapping[str, str]
    cwd: Path
    # The arguments of the command line being run: -var and -var-file are applied in the
    # order they were written, which click does not keep.
    argv: list[str] = field(default_factory=list)
    # What the fleet commands, refresh and apply act on: the local Docker engine unless one
    # is passed in (tests pass an in-memory one). Built once per run, connecting on first use.
    fleet: Fleet = field(default_factory=lambda: _local_fleet())
    dir: Path = field(init=False)
    dir_chosen: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self.dir = self.cwd

    @classmethod
    def from_process(cls, argv: list[str]) -> Environment:
        """The environment of this process as it is now (streams read at call time)."""
        return cls(stdin=sys.stdin, stdout=sys.stdout, stderr=sys.stderr,
                   environ=os.environ, cwd=Path.cwd(), argv=list(argv))

    def choose_dir(self, chdir: str | None) -> None:
        """Make `chdir` (relative to `cwd`) the configuration directory (-chdir)."""
        if chdir and not (self.cwd / chdir).is_dir():
            raise FgformError(f"-chdir: {chdir} is not a directory")
        self.dir = (self.cwd / (chdir or ".")).resolve()
        self.dir_chosen = True

    @property
    def workspace(self) -> str:
        """The selected workspace: FGFORM_WORKSPACE, else the directory's selection
        (`fgform workspace select`), else "default"."""
        from fgform.state.workspaces import selected_workspace

        return selected_workspace(self.dir, self.environ)

    @property
    def color(self) -> bool:
        """Whether output may be coloured: a terminal, and neither NO_COLOR nor TERM=dumb."""
        return (self.stdout.isatty() and "NO_COLOR" not in self.environ
                and self.environ.get("TERM") != "dumb")

    @property
    def debug(self) -> bool:
        """FGFORM_LOG=debug (or trace): an internal error shows its traceback."""
        return self.environ.get("FGFORM_LOG", "").lower() in ("debug", "trace")

    def out(self, text: str = "", nl: bool = True) -> None:
        """Write to standard output (click.echo: ANSI codes dropped off a terminal)."""
        click.echo(text, file=self.stdout, nl=nl)

    def err(self, text: str = "", nl: bool = True) -> None:
        """Write to standard error."""
        click.echo(text, file=self.stderr, nl=nl)

    def ask(self, question: str) -> str:
        """The user's answer to `question` (end of input: click.Abort, as click's prompt)."""
        if self.stdin is sys.stdin:
            # The process's own input: click's prompt handles a terminal (and a CliRunner's
            # input, which it echoes as a terminal would).
            return click.prompt(question, default="", show_default=False)
        self.out(f"{question}: ", nl=False)
        line = self.stdin.readline()
        if not line:
            raise click.Abort()
        return line.rstrip("\r\n")

    def read_stdin_bytes(self) -> bytes:
        """All of standard input, as bytes."""
        buffer = getattr(self.stdin, "buffer", None)
        return buffer.read() if buffer is not None else self.stdin.read().encode("utf-8")

    def no_terminal_to_ask(self) -> bool:
        """Standard input is closed: nobody can answer a question."""
        return not self.stdin.isatty() and self.stdin.closed


pass_env = click.make_pass_decorator(Environment)
