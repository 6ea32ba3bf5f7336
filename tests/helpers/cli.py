"""Driving the CLI in-process through its real error boundary (`fgform.cli.run`) with click's
CliRunner, with Docker pointed nowhere."""

from __future__ import annotations

from click.testing import CliRunner, Result

from fgform.cli import run

NO_DOCKER = {"DOCKER_HOST": "unix:///nonexistent/docker.sock", "NO_COLOR": "1",
             "FGFORM_LOG": None}


class Boundary:
    """Lets CliRunner drive `run(argv)`, the whole error boundary, not just the click group."""

    name = "fgform"

    def main(self, args, prog_name=None, **_):
        raise SystemExit(run(list(args)))


def fg(*args: str, input: str | bytes | None = None, env: dict | None = None) -> Result:
    """Run `fgform ARGS`; never a traceback, whatever the exit code."""
    result = CliRunner().invoke(Boundary(), list(args), input=input,
                                env={**NO_DOCKER, **(env or {})})
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        result.exc_info
    assert "Traceback" not in result.output
    return result


def fails(result: Result, code: int = 1) -> str:
    """The error output of a run that must have failed with `code`."""
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert result.stderr.startswith("Error: "), result.stderr
    return result.stderr
