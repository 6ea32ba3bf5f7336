"""`reconcile`: the service scheduler, once or with -watch, from the state alone."""

from __future__ import annotations

import time
from typing import Any

from fgform.cli import lifeline
from fgform.cli.command import command
from fgform.cli.environment import Environment, pass_env
from fgform.cli.fleet import fleet_for
from fgform.cli.options import Duration, Seconds, duration, opt, state_option, var_options
from fgform.cli.status import ExitStatus
from fgform.cli.store import state_store, take_lock
from fgform.errors import FgformError


@command()
@opt("watch", is_flag=True, help="Keep reconciling until interrupted.")
@opt("interval", default=5.0, type=Seconds(),
     help="With -watch: at most this many seconds between passes (a task container that "
          "dies or changes health starts one at once).")
@state_option
@opt("lock-timeout", "lock_timeout", default="30s", type=Duration(),
     help="How long to wait for the state lock to write a pass's results, and without "
          "-watch for another operation to finish before a pass (default 30s).")
@var_options
@pass_env
def reconcile(env: Environment, watch: bool, interval: float, state_path, lock_timeout, vars,
              var_files) -> ExitStatus:
    """The service scheduler: restore every service's desired count of healthy tasks.

    Works from the state alone (never the configuration: a change there is for plan and
    apply to review). Exits 1 when any service could not be reconciled."""
    from fgform.state.lock import Busy, begin_pass, try_begin_pass

    del vars, var_files  # accepted for compatibility; the configuration is not read

    store = state_store(env, state_path)
    timeout = duration(lock_timeout)
    if store.read() is None:
        raise FgformError("No state file was found: apply the configuration first.")
    if watch:
        lifeline.hold()  # under `serve -reconcile`: stop with the server
    # Opened before the first pass, so a task that dies during a pass wakes the next one.
    wake = _change_watch(env, store) if watch else None
    settle = _Settle(wake, _task_lister(env, store)) if wake is not None else None
    told: str | None = None
    soon = False

    def waiting(busy) -> None:
        env.out(f"Waiting for {busy.summary()} to finish before reconciling.")

    try:
        while True:
            if not watch:
                fleet = begin_pass(store.path, timeout, on_wait=waiting)
            else:
                got = try_begin_pass(store.path)
                if isinstance(got, Busy):
                    # Another operation changes the fleet: say so once, and try again soon
                    # (its own events may wake us sooner).
                    if got.key != told:
                        waiting(got)
                        told = got.key
                    _sleep(wake, min(interval, WATCH_RETRY))
                    continue
                fleet = got
            told = None
            with fleet:
                failed = reconcile_pass(env, store, lock_timeout)
            if not watch:
                return ExitStatus.ERROR if failed else ExitStatus.OK
            soon = _sleep(wake, min(interval, WATCH_RETRY) if soon else interval, settle)
    finally:
        if wake is not None:
            wake.close()


# At most this long after a wake-up, a pass waits for the engine's list view to show the
# task containers it reported dying as stopped (it took 0.3-0.8 s on a busy machine).
WATCH_SETTLE = 1.5
SETTLE_POLL = 0.05
# How often -watch looks again while another operation changes the fleet.
WATCH_RETRY = 1.0


class _Settle:
    """What a -watch pass waits for after a wake-up: the engine reports a container's die
    before its list view, which a pass decides from, shows it exited. Rather than a fixed
    sleep, the list is read again until every task the engine reported dying shows stopped
    there (at most WATCH_SETTLE s), so a pass starts as soon as it can see the dead tasks."""

    def __init__(self, wake: Any, lister: Any) -> None:
        self.wake = wake
        self.lister = lister  # () -> [(task id, running)] of the state's task containers
        # Tasks whose die a pass has already seen: not waited for again (a restart policy
        # may run the same task again).
        self.seen: set[str] = set()

    def __call__(self) -> bool:
        """Wait; True when the list view still shows a dead task running at the bound (a
        restart policy may have run it again, or the engine is slow): the caller then
        passes again soon."""
        deadline = time.monotonic() + WATCH_SETTLE
        while True:
            try:
                tasks = self.lister()
            except Exception:  # noqa: BLE001 - no engine: the pass reports that itself
                return False
            died = {tid for tid, _running in tasks if self.wake.died(tid) is not None}
            lagging = [tid for tid, running in tasks if running and tid in died - self.seen]
            if not lagging or time.monotonic() >= deadline:
                self.seen |= died
                return bool(lagging)
            time.sleep(SETTLE_POLL)


def _sleep(wake, seconds: float, settle: _Settle | None = None) -> bool:
    """Wait `seconds`, or less if the engine reports a task container changing; after such
    a wake-up, `settle` until the list view shows what the engine reported. True when the
    next pass should follow soon (see _Settle)."""
    if wake is None:
        time.sleep(seconds)
        return False
    began = time.monotonic()
    wake.wait(seconds, began)
    if settle is not None and time.monotonic() - began < seconds:
        return settle()
    return False


def _task_lister(env: Environment, store):
    """(task id, running) of every service task container of this state, one list call."""
    ctx = fleet_for(env, store.read())
    return lambda: env.fleet.task_states(ctx)


def _change_watch(env: Environment, store):
    """Docker's event stream for this state's task containers (a task that dies or turns
    unhealthy starts a pass at once), or None without a state or an engine: -watch then
    polls every -interval."""
    st = store.read()
    if st is None:
        return None
    try:
        return env.fleet.watch_changes(fleet_for(env, st))
    except Exception:  # noqa: BLE001 - no engine: the pass reports that itself
        return None


def reconcile_pass(env: Environment, store, lock_timeout: str = "30s") -> int:
    """One pass over the services in state; prints a line per service; returns how many
    failed.

    The caller holds the fleet lock, so no apply changes the fleet meanwhile; the state is
    read without the state lock (writes are atomic renames), which is taken only to write
    each service whose reconciled record changed, and only if its record in state is still
    the one read here (`record_reconciled`)."""
    import copy

    from fgform import workflow
    from fgform.addresses import without_address
    from fgform.scheduler import record_reconciled
    from fgform.values import scrub

    st = store.read()
    if st is None:
        raise FgformError("No state file was found: apply the configuration first.")
    began = copy.deepcopy(st)
    services = [a for a in st.addresses() if a.type == "fg_service"]
    driver = env.fleet.scheduler
    ctx = fleet_for(env, st)
    secrets = workflow.state_secrets(st)  # a driver's message may quote a container's env
    try:
        for task in driver.remove_orphans(ctx, {str(a) for a in services}):
            env.out(f"{task.address}: removed task {task.task_id}: no service in the state "
                    "owns it")
    except Exception as exc:  # noqa: BLE001 - reported, then exit 1
        env.err(scrub(f"Error: removing task containers no service owns: {exc}", secrets))
        return max(len(services), 1)
    if not services:
        env.out("No services in the state.")
        return 0
    items = {a: st.get(a).attributes for a in services}  # type: ignore[union-attr]
    try:
        live = driver.read(ctx, items)
    except Exception as exc:  # noqa: BLE001 - reported, then exit 1
        env.err(scrub(f"Error: reading the services: {exc}", secrets))
        return len(services)
    failed = 0
    for addr in services:
        inst = st.get(addr)
        assert inst is not None
        before = (live.get(addr) or {}).get("running_count") or 0
        # Also the tasks it started, by id: the list view may still show a task that just
        # died running, so the count from before the pass can miss its replacement.
        before_ids = {t.get("id") for t in (live.get(addr) or {}).get("tasks") or []
                      if isinstance(t, dict)}
        try:
            after = driver.reconcile(ctx, addr, dict(inst.attributes))
        except Exception as exc:  # noqa: BLE001 - one service's failure is reported
            failed += 1
            message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            env.err(scrub(f"Error: {addr}: {without_address(message, str(addr))}",
                          secrets))
            continue
        ctx.resources[str(addr)] = after
        if after != began.get(addr).attributes:  # type: ignore[union-attr]
            try:
                with take_lock(env, store, "OperationTypeReconcile", lock_timeout):
                    current = store.read()
                    why = record_reconciled(began, current, addr, after)
                    if why is None:
                        store.write(current)  # type: ignore[arg-type]
            except FgformError as exc:
                failed += 1
                env.err(scrub(f"Error: {addr}: the reconciled service is not recorded in "
                              f"state: {exc.message}", secrets))
                continue
            if why is not None:
                env.out(f"{addr}: not recorded: {why}; the next pass works from the new "
                        "state")
                continue
        count = after.get("running_count") or 0
        desired = after.get("desired_count") or 0
        started = sum(1 for t in after.get("tasks") or []
                      if isinstance(t, dict) and t.get("id") not in before_ids)
        if isinstance(count, int) and isinstance(before, int):
            started = max(started, count - before)
        if started > 0:
            env.out(f"{addr}: restored {started} task(s) ({count}/{desired} running)")
        elif isinstance(count, int) and isinstance(desired, int) and count < desired:
            # The crash-loop backoff holds replacements back for a while.
            env.out(f"{addr}: below desired count ({count}/{desired} running; "
                    f"see fgform events)")
        else:
            env.out(f"{addr}: at desired count ({count}/{desired} running)")
    return failed


COMMANDS = (reconcile,)
