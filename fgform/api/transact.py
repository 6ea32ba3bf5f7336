"""The write path of every API action: one change of one resource instance, made the way
`fgform apply` makes changes.

`transaction(ctx, edit, operation=...)`:
1. waits its turn among this server's requests (a first-come-first-served queue per state
   file: the server runs handlers on many threads);
2. takes the state lock and the fleet lock as apply does (`state.store.writer_locks`),
   waiting at most `ctx.lock_timeout` seconds in all, else ThrottlingException;
3. reads the state (a new one, with a new lineage, when there is none), calls
   `edit(state) -> (address, desired attributes or None)`: `desired` is
   configuration-shaped (`fill_defaults`), may hold `Sensitive` marks, and None deletes;
4. plans that one change with the planner's own function (`plan.planner.plan_instance`:
   the action, a replacement where the schema's force_new says so, computed attributes
   unknown) and carries it out with the executor (`apply.executor.apply_plan`, the fleet's
   drivers), which writes the state (atomically, with a backup) after the operation.

The rest of the state is left exactly as recorded (no refresh: drift the next plan shows is
not lost). Errors: `edit` may raise ApiError (the locks are let go); a driver's FgformError
becomes ClientException with its (scrubbed) message, anything else ServerException;
never a traceback.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from fgform.addresses import Address
from fgform.api.actions import ApiContext
from fgform.api.errors import ApiError, client_error
from fgform.config.decode import check_values, fill_defaults
from fgform.config.schema import get_schema
from fgform.errors import DockerUnavailableError, FgformError, StateLockedError
from fgform.state.model import StateFile
from fgform.state.store import StateStore, writer_locks
from fgform.values import copy_value, scrub, sensitive_strings, unmark

__all__ = ["read_state", "transaction", "state_edit", "state_path", "desired_from", "Edit"]

T = TypeVar("T")

Edit = Callable[[StateFile], tuple[Address, dict[str, Any] | None]]


_PATHS: dict[tuple[Any, ...], Path] = {}
_PATHS_LOCK = threading.Lock()


def state_path(ctx: ApiContext) -> Path:
    """The state file the server works on: the configuration directory's (its backend path
    and workspace), or `-state PATH`, as the command line finds it.

    Every request asks, and finding the backend's path parses the configuration: the answer
    is kept until a configuration file of the directory changes (its name, size or time)."""
    from fgform import workflow

    workspace = ctx.workspace or "default"
    try:
        files = tuple(sorted((p.name, st.st_size, st.st_mtime_ns)
                             for p in [*ctx.dir.glob("*.tf"), *ctx.dir.glob("*.hcl")]
                             for st in [p.stat()]))
    except OSError:  # a file went away meanwhile: no caching this time
        return workflow.state_only(ctx.dir, ctx.state_path, workspace)
    key = (str(ctx.dir), ctx.state_path, workspace, files)
    # One parse at a time: a hundred requests arriving together on a cold server would
    # otherwise parse the configuration a hundred times over, all at once.
    with _PATHS_LOCK:
        found = _PATHS.get(key)
        if found is None:
            found = workflow.state_only(ctx.dir, ctx.state_path, workspace)
            _PATHS.clear()  # only the current configuration's answer is worth keeping
            _PATHS[key] = found
    return found


def read_state(ctx: ApiContext) -> StateFile:
    """The latest state on disk, without taking a lock (a write replaces the file
    atomically, so a read sees one whole version); an empty StateFile when there is none.
    A state file that cannot be read is a ServerException."""
    st = _read(StateStore(state_path(ctx)))
    return st if st is not None else StateFile()


def _read(store: StateStore) -> StateFile | None:
    """The store's state (None when there is none); ServerException when it cannot be
    read."""
    try:
        return store.read()
    except FgformError as exc:
        raise ApiError("ServerException", f"The state cannot be read: {exc.message}") from None


def desired_from(type_name: str, values: dict[str, Any]) -> dict[str, Any]:
    """A configuration-shaped desired value of a `type_name` resource from a partial dict
    (what the configuration would give for a body setting only these): defaults applied,
    then checked as validation checks a configuration. InvalidParameterException names the
    first problem."""
    schema = get_schema(type_name)
    if schema is None:
        raise ApiError("ServerException", f"no schema for {type_name}")
    try:
        desired = fill_defaults(schema.body, values)
    except ValueError as exc:
        raise ApiError("InvalidParameterException",
                       f"{type_name} has no argument {exc.args[0]!r}") from None
    problems = check_values(schema.body, desired)
    if problems:
        raise ApiError("InvalidParameterException", problems[0])
    return desired


# -- the in-process queue --------------------------------------------------------------------

class _Turns:
    """A first-come-first-served lock with a timeout: the requests of this server writing
    one state take turns in arrival order (threading.Lock makes no promise of order, and a
    request that lost every race would time out while later ones got through)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._next = 0  # the next ticket to hand out
        self._serving = 0  # the ticket whose turn it is
        self._given_up: set[int] = set()
        self.holder = ""  # the operation whose turn it is (for the throttling message)

    def acquire(self, operation: str, timeout: float) -> bool:
        with self._cond:
            ticket = self._next
            self._next += 1
            deadline = time.monotonic() + timeout
            while self._serving != ticket:
                left = deadline - time.monotonic()
                if left <= 0:
                    self._given_up.add(ticket)
                    return False
                self._cond.wait(left)
            self.holder = operation
            return True

    def release(self) -> None:
        with self._cond:
            self._serving += 1
            while self._serving in self._given_up:  # skip those who stopped waiting
                self._given_up.discard(self._serving)
                self._serving += 1
            self.holder = ""
            self._cond.notify_all()


_TURNS: dict[Path, _Turns] = {}
_STORES: dict[Path, StateStore] = {}  # one per state file: used only during one's turn
_TURNS_LOCK = threading.Lock()


def _turns_for(path: Path) -> tuple[_Turns, StateStore]:
    with _TURNS_LOCK:
        turns = _TURNS.get(path)
        if turns is None:
            turns = _TURNS[path] = _Turns()
            _STORES[path] = StateStore(path)
        return turns, _STORES[path]


def _throttled(holder: str) -> ApiError:
    return ApiError("ThrottlingException", f"Rate exceeded: the state is locked by {holder}")


# -- the transaction --------------------------------------------------------------------------

def transaction(ctx: ApiContext, edit: Edit, *, operation: str,
                repair: str | None = None) -> tuple[Address, dict[str, Any] | None]:
    """Change one resource instance under the state and fleet locks (see the module
    docstring); the address and its attributes after the apply (None when deleted).

    `operation` names the action in the lock record (`fgform force-unlock` and other
    waiters see "api:UpdateService by ..."). `repair`, when given, updates the object even
    if `edit` asks for no change (the reason the update is for: RegisterTaskDefinition
    registers a new revision of an unchanged definition, as ECS does).
    """
    return _locked(ctx, operation,
                   lambda store: _under_locks(ctx, store, edit, operation, repair))


def state_edit(ctx: ApiContext, change: Callable[[StateFile], T], *, operation: str) -> T:
    """Edit what state records, with no change to the fleet and no plan (as `fgform state
    mv` does), under the same locks and queue as `transaction`: `change(state)` mutates the
    state it is given and returns the answer; the state is written (atomically, with a
    backup) if it changed. For records only the API keeps, such as a current task
    definition revision deregistered (INACTIVE). `change` may raise ApiError."""
    def run(store: StateStore) -> T:
        read = _read(store)
        state = read if read is not None else StateFile()
        answer = change(state)
        try:
            store.write(state)
        except FgformError as exc:
            raise ApiError("ServerException", f"{operation} failed: {exc.message}") from None
        return answer

    return _locked(ctx, operation, run)


def _locked(ctx: ApiContext, operation: str, run: Callable[[StateStore], T]) -> T:
    """`run(store)` in this state's turn among the server's requests, holding the state
    lock and the fleet lock; ThrottlingException when either is not ours within
    `ctx.lock_timeout` seconds in all."""
    path = Path(state_path(ctx)).absolute()
    turns, store = _turns_for(path)
    started = time.monotonic()
    if not turns.acquire(operation, ctx.lock_timeout):
        raise _throttled(f"another request of this server ({turns.holder or operation})")
    try:
        left = max(0.0, ctx.lock_timeout - (time.monotonic() - started))
        try:
            locks = writer_locks(store, f"api:{operation}", left, patience=left,
                                 on_warning=ctx.log)
            locks.__enter__()
        except StateLockedError as exc:
            holder = getattr(exc, "lock_info", None)
            raise _throttled(holder.summary() if holder is not None else
                             "another fgform process") from None
        except FgformError as exc:
            raise ApiError("ServerException", f"The state cannot be locked: {exc.message}") \
                from None
        try:
            return run(store)
        finally:
            locks.__exit__(None, None, None)
    finally:
        turns.release()


def _under_locks(ctx: ApiContext, store: StateStore, edit: Edit, operation: str,
                 repair: str | None) -> tuple[Address, dict[str, Any] | None]:
    from fgform.plan.model import Action
    from fgform.plan.planner import plan_instance

    read = _read(store)
    state = read if read is not None else StateFile()
    addr, marked = edit(state)
    desired, sensitive = unmark(marked) if marked is not None else (None, [])
    prior = state.get(addr)
    try:
        change = plan_instance(addr, prior, desired, sensitive=sensitive,
                               dependencies=prior.dependencies if prior is not None else [],
                               config_dir=str(ctx.dir), repair=repair)
    except FgformError as exc:
        raise ApiError("InvalidParameterException", exc.message) from None
    if change.action is Action.NOOP:
        return addr, copy_value(prior.attributes) if prior is not None else None
    secrets = _secrets(state, marked)
    try:
        ctx.fleet.require({addr.type})
        if read is None:
            # As apply: the lineage every object is labelled with is on disk before the
            # first object exists.
            store.write(state)
        result = _apply(ctx, store, state, change)
    except DockerUnavailableError as exc:
        raise ApiError("ServerException", scrub(exc.message, secrets)) from None
    except FgformError as exc:
        raise ApiError("ServerException", f"{operation} failed: "
                       f"{scrub(exc.message, secrets)}") from None
    if result.errors:
        err = result.errors[0]
        if isinstance(err.error, FgformError) or err.error is None:
            raise client_error(scrub(err.message, secrets))
        if ctx.log is not None:
            ctx.log(f"{operation}: {type(err.error).__name__} {scrub(str(err.error), secrets)}")
        raise ApiError("ServerException", f"{operation} failed: an internal error occurred "
                       f"while {err.action.name.lower()} {addr}")
    after = result.state.get(addr)
    return addr, copy_value(after.attributes) if after is not None else None


def _apply(ctx: ApiContext, store: StateStore, state: StateFile, change: Any) -> Any:
    """The executor's run of a one-change plan on the fleet's drivers, saving state after
    the operation (as `workflow.apply`)."""
    from fgform import workflow
    from fgform.apply.executor import apply_plan
    from fgform.plan.model import Plan

    plan = Plan(changes=[change], prior_state=state)
    fctx = workflow.fleet_context(ctx.dir, state, ctx.log)
    return apply_plan(plan, state, ctx.fleet.drivers, fctx, store.write, parallelism=1,
                      read_data=ctx.fleet.read_data)


def _secrets(state: StateFile, desired: Any) -> frozenset[str]:
    """What messages answered to the client are scrubbed of: the state's sensitive values
    and the request's."""
    from fgform import workflow

    return workflow.state_secrets(state) | frozenset(sensitive_strings(desired))
