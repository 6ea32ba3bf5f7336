"""The `fgform` command line.

`app` holds the root command and the one error boundary (`run`, `main`); `environment` the
streams, variables and directories a run works in, passed to every command; `options` the
shared flags; one module per command group: `config_cmds` (validate, fmt, graph, version),
`plan_cmds` (plan, apply, destroy, show), `state_cmds` (output, state, force-unlock),
`fleet_cmds` (run-task, tasks, logs, events, lb), `reconcile_cmd` and `console_cmd`; `store` the state and
its locks as commands take them; `fleet` the one place commands reach the fleet from.
"""

from fgform.cli.app import main, run
from fgform.cli.environment import Environment
from fgform.cli.status import ExitStatus

__all__ = ["Environment", "ExitStatus", "main", "run"]
