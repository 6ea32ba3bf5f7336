"""How the service scheduler (`reconcile`) shares a state with plan and apply, with real
processes and files: the fleet lock, a pass that waits for an apply, an apply that waits for
a pass (and lets it write meanwhile), a plan that waits briefly for a reconcile's write, and
which of a pass's results may be written."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from fgform.addresses import parse_address
from fgform.errors import FgformError, StateLockedError
from fgform.scheduler import record_reconciled
from fgform.state import lock as L
from fgform.state.model import InstanceState, InstanceStatus, StateFile
from fgform.state.store import StateStore

# A stand-in for another fgform process. argv: state path, then steps run in order:
#   state:OP    take the state lock for OP (waiting up to 30 s)
#   fleet:OP    take the fleet lock for OP (waiting up to 30 s)
#   unstate     release the state lock
#   write       write the state (a new serial; it exists already)
#   sleep:S     sleep S seconds
#   ready       print "ready" (the test waits for it)
#   hold        wait until stdin closes
#   die         exit at once without releasing anything
_HOLDER = textwrap.dedent("""
    import os, sys, time
    from fgform.state import lock as L
    from fgform.state.store import StateStore
    path = sys.argv[1]
    state_lock = None
    fleet = None
    for step in sys.argv[2:]:
        verb, _, arg = step.partition(":")
        if verb == "state":
            state_lock = L.acquire(path, arg, 30)
        elif verb == "fleet":
            fleet = L.acquire_fleet_lock(path, arg, 30, patience=30)
        elif verb == "unstate":
            state_lock.release()
        elif verb == "write":
            store = StateStore(path)
            st = store.read()
            st.outputs = {}
            st.serial += 1
            store.write(st)
            print("wrote", time.monotonic(), flush=True)
        elif verb == "sleep":
            time.sleep(float(arg))
        elif verb == "ready":
            print("ready", flush=True)
        elif verb == "hold":
            sys.stdin.read()
        elif verb == "die":
            os._exit(0)
    # Taken before letting go: a waiter may run before this process prints anything.
    done = time.monotonic()
    if state_lock is not None:
        state_lock.release()
    if fleet is not None:
        fleet.release()
    print("done", done, flush=True)
""")


def holder(state: Path, *steps: str) -> subprocess.Popen[str]:
    """Start a holder and wait for its "ready" line (every test's steps print one)."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(state), *steps],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    assert line == "ready", f"the holder did not get ready: {line!r}"
    return proc


def rest(proc: subprocess.Popen[str]) -> list[str]:
    out, _ = proc.communicate("", timeout=60)
    assert proc.returncode == 0
    return out.splitlines()


@pytest.fixture
def state(tmp_path: Path) -> Path:
    path = tmp_path / "state" / "default.fgstate.json"
    StateStore(path).write(StateFile())
    return path


# -- the fleet lock -------------------------------------------------------------------------
def test_fleet_lock_is_exclusive_names_its_holder_and_dies_with_it(state: Path) -> None:
    other = holder(state, "fleet:OperationTypeReconcile", "ready", "hold")
    try:
        assert L.try_fleet_lock(state, "OperationTypeApply") is None
        who = L.fleet_lock_holder(state)
        assert who is not None and who.Pid == other.pid
        assert who.Operation == "OperationTypeReconcile"
        path = L.fleet_lock_path(state)
        assert path.name == "default.fgstate.json.fleet"
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    finally:
        other.send_signal(signal.SIGKILL)
        other.wait(10)
    # Killed without releasing: the kernel released it, nothing is stale.
    with L.try_fleet_lock(state, "OperationTypeApply") as mine:  # type: ignore[union-attr]
        assert mine.info.Pid == os.getpid()
        assert L.try_fleet_lock(state, "OperationTypeApply") is None  # one holder per file
    assert not L.fleet_lock_path(state).exists()  # released: removed, as the state lock
    again = L.try_fleet_lock(state, "OperationTypeApply")
    assert again is not None
    again.release()


_CONTENDER = textwrap.dedent("""
    import os, sys
    from fgform.state import lock as L
    path, marker = sys.argv[1], sys.argv[2]
    for _ in range(500):
        with L.acquire_fleet_lock(path, "OperationTypeApply", 30):
            # Only the holder may be here: a second one finds the marker.
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            os.close(fd)
            os.unlink(marker)
""")


def test_fleet_lock_excludes_under_contention(state: Path, tmp_path: Path) -> None:
    """Holders remove the file as they let go while others open it: never two at once."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    procs = [subprocess.Popen([sys.executable, "-c", _CONTENDER, str(state),
                               str(tmp_path / "inside")], env=env, stderr=subprocess.PIPE,
                              text=True) for _ in range(4)]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
    assert not L.fleet_lock_path(state).exists()


def test_fleet_lock_never_opens_through_a_symlink(state: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("untouched")
    L.fleet_lock_path(state).symlink_to(target)
    with pytest.raises(FgformError, match="it is a symbolic link"):
        L.try_fleet_lock(state, "OperationTypeApply")
    assert target.read_text() == "untouched"


def test_an_apply_waits_for_a_pass_beyond_its_timeout_but_not_for_another_apply(
        state: Path) -> None:
    seen = []
    other = holder(state, "fleet:OperationTypeReconcile", "ready", "sleep:1")
    t = time.monotonic()
    with L.acquire_fleet_lock(state, "OperationTypeApply", 0, patience=30,
                              on_wait=seen.append):
        assert time.monotonic() - t > 0.5  # waited for the pass, with a timeout of 0
    rest(other)
    assert [h.Pid for h in seen] == [other.pid]  # told once

    other = holder(state, "fleet:OperationTypeApply", "ready", "hold")
    try:
        with pytest.raises(StateLockedError) as ei:
            L.acquire_fleet_lock(state, "OperationTypeApply", 0.2, patience=30)
        assert ei.value.message.startswith("Error acquiring the fleet lock")
        assert f"Pid:       {other.pid}" in ei.value.message
    finally:
        rest(other)


# -- a pass starts only beside operations that leave the fleet alone -------------------------
def test_a_pass_waits_for_an_apply_not_for_a_plan_or_a_dead_apply(state: Path) -> None:
    apply = holder(state, "state:OperationTypeApply", "ready", "hold")
    try:
        busy = L.try_begin_pass(state)
        assert isinstance(busy, L.Busy) and not busy.acting
        assert busy.summary().startswith("OperationTypeApply by ")
        assert busy.summary().endswith(f"(pid {apply.pid})")
        with pytest.raises(StateLockedError, match="Error acquiring the state lock"):
            L.begin_pass(state, 0.2)
    finally:
        rest(apply)

    plan = holder(state, "state:OperationTypePlan", "ready", "hold")
    try:
        got = L.try_begin_pass(state)
        assert isinstance(got, L.FleetLock)
        busy = L.try_begin_pass(state)  # a second pass: the first is acting
        assert isinstance(busy, L.Busy) and busy.acting and busy.holder == got.info
        got.release()
    finally:
        rest(plan)

    dead = holder(state, "state:OperationTypeApply", "ready", "die")
    dead.wait(10)
    got = L.try_begin_pass(state)
    assert isinstance(got, L.FleetLock)  # the pass's write takes the stale lock over
    got.release()


def test_begin_pass_waits_for_the_apply_to_end(state: Path) -> None:
    apply = holder(state, "state:OperationTypeApply", "fleet:OperationTypeApply", "ready",
                   "sleep:0.8")
    seen: list[L.Busy] = []
    with L.begin_pass(state, 30, on_wait=seen.append):
        ended = time.monotonic()
    done = rest(apply)[-1].split()
    assert float(done[1]) <= ended
    # Told once, though the apply was seen holding first the state lock, then the fleet's.
    assert len(seen) == 1 and seen[0].holder is not None and seen[0].holder.Pid == apply.pid


# -- a reconcile's state lock is waited for briefly ------------------------------------------
def test_a_state_lock_held_by_reconcile_is_waited_for_even_with_no_timeout(
        state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = holder(state, "state:OperationTypeReconcile", "ready", "sleep:0.5")
    t = time.monotonic()
    with L.acquire(state, "OperationTypePlan", 0):
        assert time.monotonic() - t > 0.2
    rest(writer)

    monkeypatch.setattr(L, "RECONCILE_GRACE", 0.3)
    stuck = holder(state, "state:OperationTypeReconcile", "ready", "hold")
    try:
        t = time.monotonic()
        with pytest.raises(StateLockedError, match="Operation: OperationTypeReconcile"):
            L.acquire(state, "OperationTypePlan", 0)
        assert time.monotonic() - t >= 0.3
    finally:
        rest(stuck)
    # Anybody else's lock still fails at once with -lock-timeout=0s.
    other = holder(state, "state:OperationTypeApply", "ready", "hold")
    try:
        t = time.monotonic()
        with pytest.raises(StateLockedError):
            L.acquire(state, "OperationTypePlan", 0)
        assert time.monotonic() - t < 0.3
    finally:
        rest(other)


# -- apply beside a pass, through the CLI ----------------------------------------------------
def test_apply_waits_for_a_pass_and_lets_it_write_meanwhile(tmp_path: Path) -> None:
    """A pass holds the fleet lock, then takes the state lock to write: an apply that starts
    meanwhile says it waits, lets the pass write (no deadlock), and applies after it."""
    from fgform.cli import run

    (tmp_path / "main.tf").write_text('output "x" {\n  value = 1\n}\n')
    state = tmp_path / "state" / "default.fgstate.json"
    StateStore(state).write(StateFile())
    pass_ = holder(state, "fleet:OperationTypeReconcile", "ready", "sleep:1",
                   "state:OperationTypeReconcile", "write", "unstate", "sleep:0.3")

    class Boundary:
        name = "fgform"

        def main(self, args, prog_name=None, **_):
            raise SystemExit(run(list(args)))

    res = CliRunner().invoke(Boundary(), [f"-chdir={tmp_path}", "apply", "-auto-approve",
                                          "-refresh=false"],
                             env={"DOCKER_HOST": "unix:///nonexistent/docker.sock",
                                  "NO_COLOR": "1"})
    applied = time.monotonic()
    lines = rest(pass_)
    assert res.exit_code == 0, (res.stdout, res.stderr)
    assert "Waiting for OperationTypeReconcile by " in res.stderr
    assert f"(pid {pass_.pid}) to finish acting on the fleet" in res.stderr
    wrote = float(lines[0].split()[1])
    done = float(lines[-1].split()[1])
    assert wrote < applied and done < applied  # the apply ran after the whole pass
    st = StateStore(state).read()
    assert st is not None and st.outputs["x"].value == 1
    assert L.read_lock(state) is None


# -- which results of a pass are written -----------------------------------------------------
WEB = parse_address("fg_service.web")
API = parse_address("fg_service.api")


def _state(**services: int) -> StateFile:
    st = StateFile(lineage="L1")
    for name, count in services.items():
        st.set(parse_address(f"fg_service.{name}"),
               InstanceState(None, {"desired_count": count, "running_count": count}))
    return st


def test_a_reconciled_service_is_written_only_if_nobody_changed_it() -> None:
    began = _state(web=2, api=1)
    after = {"desired_count": 2, "running_count": 2, "events": ["restored"]}

    current = _state(web=2, api=1)
    current.set(API, InstanceState(None, {"desired_count": 5, "running_count": 5}))
    assert record_reconciled(began, current, WEB, after) is None
    assert current.get(WEB).attributes == after  # type: ignore[union-attr]
    # Another service's change is not this one's business, and is kept.
    assert current.get(API).attributes["desired_count"] == 5  # type: ignore[union-attr]

    scaled = _state(web=3, api=1)  # an apply scaled web meanwhile
    assert record_reconciled(began, scaled, WEB, after) == \
        "another operation changed it meanwhile"
    assert scaled.get(WEB).attributes["desired_count"] == 3  # type: ignore[union-attr]

    tainted = _state(web=2, api=1)
    inst = tainted.get(WEB)
    assert inst is not None
    inst.status = InstanceStatus.TAINTED
    assert record_reconciled(began, tainted, WEB, after) == \
        "another operation changed it meanwhile"

    removed = _state(api=1)  # `state rm fg_service.web`
    assert record_reconciled(began, removed, WEB, after) == \
        "it was removed from the state meanwhile"
    assert removed.get(WEB) is None

    other = _state(web=2, api=1)
    other.lineage = "L2"
    assert record_reconciled(began, other, WEB, after) == \
        "the state file now belongs to another lineage"
    assert record_reconciled(began, None, WEB, after) == "the state file is gone"
