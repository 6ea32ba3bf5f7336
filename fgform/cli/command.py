"""Click command and group classes for every fgform command: they keep the help option's
names in the order the context gives them (`-h, -help, --help`), where click collects them
in a set whose order changes with string hash randomisation from run to run."""

from __future__ import annotations

from typing import Any

import click


class Command(click.Command):
    """A click command whose help option names keep their configured order."""

    def get_help_option_names(self, ctx: click.Context) -> list[str]:
        """The context's help option names, in its order, less those another option uses."""
        taken = {name for param in self.params
                 for name in (*param.opts, *param.secondary_opts)}
        return [name for name in dict.fromkeys(ctx.help_option_names) if name not in taken]


class Group(Command, click.Group):
    """A click group with the stable help option; its subcommands and subgroups too."""

    command_class = Command
    group_class = type  # subgroups made with `@group.group()` are of this same class


def command(name: str | None = None, **attrs: Any) -> Any:
    """`click.command` making a `Command`."""
    return click.command(name, cls=Command, **attrs)


def group(name: str | None = None, **attrs: Any) -> Any:
    """`click.group` making a `Group`."""
    return click.group(name, cls=Group, **attrs)
