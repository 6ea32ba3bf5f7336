"""The exit statuses of the command line, as Terraform's."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    """What a command's exit code says. `run-task` exits with its task's own code instead."""

    OK = 0
    ERROR = 1
    # plan -detailed-exitcode: the plan has changes.
    CHANGES = 2
    # fmt -check: a file is not formatted.
    UNFORMATTED = 3
    # Interrupted by Ctrl-C (128 + SIGINT), as a shell reports it.
    INTERRUPTED = 130

