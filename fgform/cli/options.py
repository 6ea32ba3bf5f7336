"""Flags shared by several commands, and the parameter types that check them as the command
line is read. Flags follow Terraform's names and accept one or two dashes (`-auto-approve`,
`--auto-approve`, `-chdir=DIR`)."""

from __future__ import annotations

import math
import re
from typing import Any

import click

from fgform.cli.environment import Environment


def opt(name: str, *args: Any, **kwargs: Any):
    """A click option reachable as -name and --name, as Terraform's flags are."""
    return click.option(f"-{name}", f"--{name}", *args, **kwargs)


LOCK_TIMEOUT_HELP = ("How long to wait for the state lock, e.g. 10s (default 0s; one "
                     "held by `reconcile` is waited for up to 5s whatever this says).")


def state_option(f):
    """-state PATH: the state file to use instead of the configuration's."""
    return opt("state", "state_path", metavar="PATH")(f)


def lock_timeout_option(f):
    """-lock-timeout DURATION, 0s by default."""
    return opt("lock-timeout", "lock_timeout", default="0s", type=Duration(),
               help=LOCK_TIMEOUT_HELP)(f)


# -- variables flags shared by plan / apply / destroy / validate / graph / reconcile ------------
def var_options(f):
    """-var NAME=VALUE and -var-file FILE (both repeatable)."""
    f = opt("var", "vars", multiple=True, metavar="NAME=VALUE",
            help="Set an input variable (repeatable).")(f)
    f = opt("var-file", "var_files", multiple=True, metavar="FILE",
            help="Read input variables from an .fgvars/.tfvars or .json file.")(f)
    return f


def cli_vars(env: Environment, vars_: tuple[str, ...], var_files: tuple[str, ...]
             ) -> list[tuple[str, str]]:
    """-var and -var-file in command-line order (later wins), as Terraform applies them.

    click hands over each option's values separately, so their interleaving is read back
    from the command line; should that ever disagree with what click parsed, all -var-file
    values come first, then all -var values.
    """
    ordered = _var_flags_in_order(env.argv)
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


# -- parameter types ----------------------------------------------------------------------------
# Go's time.ParseDuration, which Terraform's -lock-timeout uses: an optional sign, then "0"
# or one or more number+unit parts (1h2m3.5s, .5s, 1us); a unit is required, nothing else
# (no spaces, no plain seconds, no upper case).
_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")
_DURATION = re.compile(rf"[-+]?(?:0|(?:{_DURATION_PART.pattern})+)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "\u03bcs": 1e-6, "ms": 1e-3,
                 "s": 1.0, "m": 60.0, "h": 3600.0}
# Go's durations are int64 nanoseconds: about 292 years.
_MAX_DURATION_SECONDS = (2**63 - 1) / 1e9


def parse_seconds(text: str) -> float:
    """Seconds of a duration as Terraform reads one (Go's time.ParseDuration: 10s, 1m30s,
    500ms, 0); ValueError if it is not one. A negative duration waits not at all."""
    if not _DURATION.fullmatch(text):
        raise ValueError(text)
    value = float(sum(float(n) * _UNIT_SECONDS[unit]
                      for n, unit in _DURATION_PART.findall(text)))
    if value > _MAX_DURATION_SECONDS:
        raise ValueError(text)
    return 0.0 if text.startswith("-") else value


def duration(text: str) -> float:
    """The seconds a -lock-timeout flag says (already checked by `Duration`)."""
    try:
        return parse_seconds(text)
    except ValueError:
        raise click.BadParameter(f'"{text}" is not a duration') from None


class Duration(click.ParamType):
    """A duration flag, checked as the command line is read: a wrong one is an error even
    when the command turns out not to need it (a plan without state takes no lock)."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> Any:
        try:
            parse_seconds(str(value))
        except ValueError:
            self.fail(f'"{value}" is not a duration: write numbers with units, such as '
                      "500ms, 10s, 1m or 1m30s", param, ctx)
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
