"""The state lock, with real processes: contention, timeouts, locks left by dead holders,
force-unlock."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from fgform.errors import FgformError, StateLockedError
from fgform.state.lock import acquire, force_unlock, lock_path_for, read_lock
from fgform.state.store import StateStore

# Takes the lock, prints its ID, then: "hold" until stdin closes, "sleep:S" for S seconds,
# or "die" at once without releasing (as a crash would).
_HOLDER = textwrap.dedent("""
    import os, sys, time
    from fgform.state.lock import acquire
    path, mode = sys.argv[1], sys.argv[2]
    lock = acquire(path, "apply", 10)
    print(lock.info.ID, flush=True)
    if mode == "die":
        os._exit(0)
    if mode.startswith("sleep:"):
        time.sleep(float(mode.split(":")[1]))
    else:
        sys.stdin.read()
    lock.release()
""")


def start_holder(state: Path, mode: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(state), mode],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    lock_id = proc.stdout.readline().strip()
    assert lock_id, "the holder failed to take the lock"
    return proc, lock_id


# Holds an flock on argv[1] after writing argv[2] into it (a holder whose record says what
# the test wants), until stdin closes.
_FLOCKER = textwrap.dedent("""
    import fcntl, os, sys
    fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
    os.write(fd, sys.argv[2].encode())
    fcntl.flock(fd, fcntl.LOCK_EX)
    print("held", flush=True)
    sys.stdin.read()
""")


def hold_flock(path: Path, record: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", _FLOCKER, str(path), record],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()  # reaped: the pid no longer exists
    return proc.pid


def test_lock_file_content_and_release(tmp_path: Path) -> None:
    state = tmp_path / "state" / "default.fgstate.json"
    with acquire(state, "apply", 0) as lock:
        lp = lock_path_for(state)
        assert lp == tmp_path / "state" / "default.fgstate.json.lock"
        info = json.loads(lp.read_text())
        assert set(info) == {"ID", "Operation", "Who", "Pid", "Created", "Path", "Version"}
        assert info["ID"] == lock.info.ID and info["Operation"] == "apply"
        assert info["Pid"] == os.getpid()
        assert info["Who"].endswith("@" + socket.gethostname())
        assert info["Path"] == str(state)
        assert lock.warnings == []
        assert read_lock(state) == lock.info
    assert not lp.exists()
    # The lock created the state folder (before any write): it must be git-ignored already.
    assert sorted(p.name for p in lp.parent.iterdir()) == [".gitignore"]  # no temp files


def test_second_process_waits_then_fails_naming_the_holder(tmp_path: Path) -> None:
    state = tmp_path / "s.json"
    holder, holder_id = start_holder(state, "hold")
    try:
        t = time.monotonic()
        with pytest.raises(StateLockedError) as ei:
            acquire(state, "plan", 0.6)
        waited = time.monotonic() - t
        assert 0.6 <= waited < 3
        msg = ei.value.message
        assert msg.startswith("Error acquiring the state lock")
        assert "Lock Info:" in msg and f"ID:        {holder_id}" in msg
        assert f"Pid:       {holder.pid}" in msg and "Operation: apply" in msg
        assert f"Path:      {state}" in msg
        assert "fgform acquires a state lock to protect the state" in msg
        assert f"fgform force-unlock {holder_id}" in msg
        # -lock-timeout=0 (the default) fails at once.
        t = time.monotonic()
        with pytest.raises(StateLockedError):
            acquire(state, "plan", 0)
        assert time.monotonic() - t < 0.5
        assert read_lock(state).ID == holder_id  # type: ignore[union-attr]
    finally:
        holder.communicate("")
    assert not lock_path_for(state).exists()


def test_second_process_gets_the_lock_when_the_first_releases(tmp_path: Path) -> None:
    state = tmp_path / "s.json"
    holder, holder_id = start_holder(state, "sleep:0.5")
    t = time.monotonic()
    with acquire(state, "apply", 10) as lock:
        waited = time.monotonic() - t
        assert 0.2 < waited < 5  # waited for the release, not the whole timeout
        assert lock.info.ID != holder_id and lock.warnings == []
    holder.wait()


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    state = tmp_path / "s.json"
    holder, holder_id = start_holder(state, "die")
    holder.wait()
    # Its record is left in the file, but the kernel let go of its flock: nobody holds it.
    assert json.loads(lock_path_for(state).read_text())["ID"] == holder_id
    assert read_lock(state) is None
    with acquire(state, "apply", 0) as lock:
        assert len(lock.warnings) == 1
        assert "stale" in lock.warnings[0] and holder_id in lock.warnings[0]
        assert str(holder.pid) in lock.warnings[0]
        assert read_lock(state).ID == lock.info.ID  # type: ignore[union-attr]


def test_lock_of_a_process_killed_with_sigkill_is_taken_over(tmp_path: Path) -> None:
    state = tmp_path / "s.json"
    holder, _ = start_holder(state, "hold")
    with pytest.raises(StateLockedError):
        acquire(state, "apply", 0)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    with StateStore(state).lock("apply", 0) as lock:
        assert lock.warnings


def test_a_live_holder_blocks_whatever_its_record_says(tmp_path: Path) -> None:
    """Whether the lock is held is the kernel's flock, not the record: a record naming a
    dead process of this host blocks while a live process holds the flock, and a record
    from another host that nobody holds is taken over."""
    state = tmp_path / "s.json"
    record = {"ID": "abc", "Operation": "apply", "Who": f"bob@{socket.gethostname()}",
              "Pid": dead_pid(), "Created": "2026-01-01T00:00:00Z", "Path": str(state),
              "Version": "0.1.0"}
    proc = hold_flock(lock_path_for(state), json.dumps(record))
    try:
        with pytest.raises(StateLockedError, match="fgform force-unlock abc"):
            acquire(state, "apply", 0.1)
    finally:
        proc.communicate("")
    lock_path_for(state).write_text(json.dumps({**record, "Who": "bob@some-other-host"}))
    with acquire(state, "apply", 0) as lock:
        assert len(lock.warnings) == 1 and "bob@some-other-host" in lock.warnings[0]


def test_unreadable_lock_is_reported(tmp_path: Path) -> None:
    state = tmp_path / "s.json"
    # Held by a process that never says who it is.
    proc = hold_flock(lock_path_for(state), "")
    try:
        with pytest.raises(StateLockedError) as ei:
            acquire(state, "apply", 0)
        assert "cannot be read" in ei.value.message and str(lock_path_for(state)) in ei.value.hint
    finally:
        proc.communicate("")
    # Nobody holds it now: the empty file is simply taken.
    with acquire(state, "apply", 0) as lock:
        assert lock.warnings == []


def test_a_held_lock_with_a_damaged_record_names_the_damage(tmp_path: Path) -> None:
    state = tmp_path / "s.json"
    proc = hold_flock(lock_path_for(state), json.dumps({"ID": "abc", "Pid": -1}))
    try:
        with pytest.raises(StateLockedError, match=r"cannot be read \(its Pid -1 is not a "
                                                   r"process id\)"):
            acquire(state, "apply", 0)
    finally:
        proc.communicate("")


def test_force_unlock_removes_the_record_of_a_dead_holder(tmp_path: Path) -> None:
    state = tmp_path / "s.json"
    holder, holder_id = start_holder(state, "die")
    holder.wait()
    with pytest.raises(FgformError, match="does not match"):
        force_unlock(state, "not-the-id")
    assert force_unlock(state, holder_id).ID == holder_id
    assert not lock_path_for(state).exists()
    with acquire(state, "apply", 0) as lock:
        assert lock.warnings == []  # nothing left to take over


def test_force_unlock(tmp_path: Path) -> None:
    state = tmp_path / "s.json"
    with pytest.raises(FgformError, match="no lock is held"):
        force_unlock(state, "x")
    holder, holder_id = start_holder(state, "hold")
    try:
        with pytest.raises(FgformError, match="does not match") as ei:
            force_unlock(state, "not-the-id")
        assert holder_id in ei.value.message  # shows what is actually held
        assert lock_path_for(state).exists()
        removed = force_unlock(state, holder_id)
        assert removed.ID == holder_id and removed.Pid == holder.pid
        assert not lock_path_for(state).exists()
        # Someone else can lock now; the old holder's release must not remove their lock.
        with acquire(state, "apply", 0) as mine:
            holder.communicate("")
            assert read_lock(state) == mine.info
    finally:
        if holder.poll() is None:
            holder.communicate("")


def test_release_leaves_a_foreign_lock_alone(tmp_path: Path) -> None:
    state = tmp_path / "s.json"
    first = acquire(state, "apply", 0)
    force_unlock(state, first.info.ID)
    second = acquire(state, "apply", 0)
    assert first.release() is False
    assert read_lock(state) == second.info
    assert second.release() is True
    assert second.release() is False  # idempotent
    assert not lock_path_for(state).exists()


_WORKER = textwrap.dedent("""
    import os, sys, time
    from fgform.state.lock import acquire
    path, log = sys.argv[1], sys.argv[2]
    fd = os.open(log, os.O_WRONLY | os.O_APPEND)
    for _ in range(5):
        with acquire(path, "apply", 30):
            os.write(fd, f"enter {os.getpid()}\\n".encode())
            time.sleep(0.005)
            os.write(fd, f"exit {os.getpid()}\\n".encode())
""")


def test_mutual_exclusion_under_contention_with_a_stale_lock(tmp_path: Path) -> None:
    state = tmp_path / "s.json"
    # Start from a stale lock so that the workers also race to take it over.
    lock_path_for(state).write_text(json.dumps({
        "ID": "stale", "Operation": "apply", "Who": f"x@{socket.gethostname()}",
        "Pid": dead_pid(), "Created": "", "Path": str(state), "Version": "0.1.0"}))
    log = tmp_path / "log"
    log.write_text("")
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, str(state), str(log)])
             for _ in range(4)]
    for p in procs:
        assert p.wait(timeout=60) == 0
    lines = log.read_text().split()
    events = list(zip(lines[0::2], lines[1::2], strict=True))
    assert len(events) == 4 * 5 * 2
    for (e1, p1), (e2, p2) in zip(events[0::2], events[1::2], strict=True):
        assert (e1, e2) == ("enter", "exit") and p1 == p2, "two holders at once"
    assert not lock_path_for(state).exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
