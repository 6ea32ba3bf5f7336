"""Files that can hold secrets (state, its backup, saved plans, the lock, their temporary
files) are created 0600 whatever the umask, under fresh names, and never written through a
symbolic link or a file planted at any of their names; `fmt -write` never writes through a
link either."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from fgform.addresses import parse_address
from fgform.errors import FgformError, StateLockedError
from fgform.fmt import format_file
from fgform.plan.model import Plan
from fgform.plan.planfile import PlanFileError, load_plan, save_plan
from fgform.safefile import pid_alive, replace_file
from fgform.state.lock import acquire, lock_path_for
from fgform.state.model import InstanceState, StateFile
from fgform.state.store import StateStore

SECRET = "s3cret-token"


@pytest.fixture(autouse=True)
def loose_umask() -> Iterator[None]:
    # Under umask 0, a file created with open()'s default 0666 would be world-readable:
    # the modes below must come from fgform, not from a strict umask.
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def mode(p: Path) -> int:
    return stat.S_IMODE(os.lstat(p).st_mode)


def state(value: str = SECRET) -> StateFile:
    st = StateFile()
    st.set(parse_address("fg_cluster.main"), InstanceState(None, {"id": "c1", "token": value},
                                                           sensitive_paths=[["token"]]))
    return st


def plant_link(at: Path, victim: Path) -> None:
    victim.write_text("victim\n")
    os.symlink(victim, at)


# -- state and backup ------------------------------------------------------------------------

def test_state_and_backup_are_0600_under_umask_0(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state" / "default.fgstate.json")
    st = state()
    store.write(st)
    st.resources[0].instances[0].attributes["id"] = "c2"  # type: ignore[index]
    store.write(st)
    assert mode(store.path) == 0o600
    assert mode(store.backup_path) == 0o600
    assert not (tmp_path / "state" / ".gitignore").is_symlink()
    assert [p.name for p in store.path.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_backup_is_a_0600_copy_even_of_a_looser_state_file(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "default.fgstate.json")
    st = state()
    store.write(st)
    os.chmod(store.path, 0o644)  # made by hand, or by an older tool
    old_inode = os.stat(store.path).st_ino
    st.resources[0].instances[0].attributes["id"] = "c2"  # type: ignore[index]
    store.write(st)
    assert mode(store.backup_path) == 0o600
    # A copy, not a hard link to the replaced file (which would share its 0644 mode).
    assert os.stat(store.backup_path).st_nlink == 1
    assert os.stat(store.backup_path).st_ino != old_inode
    assert json.loads(store.backup_path.read_text())["resources"][0]["instances"][0][
        "attributes"]["id"] == "c1"


def test_a_symlink_at_the_state_path_is_refused_and_its_target_untouched(
        tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    path = tmp_path / "default.fgstate.json"
    plant_link(path, victim)
    store = StateStore(path)
    with pytest.raises(FgformError, match="symbolic link"):
        store.lock("apply")
    with pytest.raises(FgformError, match="symbolic link"):
        store.write(state())
    assert victim.read_text() == "victim\n"
    assert path.is_symlink()
    assert not lock_path_for(path).exists()


def test_a_symlink_at_the_backup_is_replaced_not_followed(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "default.fgstate.json")
    st = state()
    store.write(st)
    victim = tmp_path / "victim.txt"
    plant_link(store.backup_path, victim)
    st.resources[0].instances[0].attributes["id"] = "c2"  # type: ignore[index]
    store.write(st)
    assert victim.read_text() == "victim\n"
    assert not store.backup_path.is_symlink()
    assert mode(store.backup_path) == 0o600


def test_planted_temporary_files_are_never_reused(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "default.fgstate.json")
    victim = tmp_path / "victim.txt"
    victim.write_text("victim\n")
    # Every name an old fgform used, and the pid-named ones a planter could guess.
    for name in (".default.fgstate.json.tmp", "default.fgstate.json.tmp",
                 f".default.fgstate.json.{os.getpid()}.00000000.tmp"):
        os.symlink(victim, tmp_path / name)
    st = state()
    store.write(st)
    st.resources[0].instances[0].attributes["id"] = "c2"  # type: ignore[index]
    store.write(st)
    assert victim.read_text() == "victim\n"
    assert mode(store.path) == 0o600 and not store.path.is_symlink()


# -- saved plans -----------------------------------------------------------------------------

def a_plan() -> Plan:
    from fgform.values import Sensitive

    return Plan(changes=[], prior_state=state(), variables={"token": Sensitive(SECRET)},
                config_hash="h")


def test_plan_file_is_0600_and_replaces_a_looser_one(tmp_path: Path) -> None:
    out = tmp_path / "tfplan"
    out.write_text("old")
    os.chmod(out, 0o644)
    save_plan(a_plan(), out)
    assert mode(out) == 0o600
    assert load_plan(out).variables["token"].value == SECRET
    assert [p.name for p in tmp_path.iterdir()] == ["tfplan"]


def test_plan_tmp_name_planted_as_a_symlink_is_not_followed(tmp_path: Path) -> None:
    # The old writer used the fixed name "<out>.tmp" with O_TRUNC.
    victim = tmp_path / "victim.txt"
    plant_link(tmp_path / "tfplan.tmp", victim)
    save_plan(a_plan(), tmp_path / "tfplan")
    assert victim.read_text() == "victim\n"
    assert mode(tmp_path / "tfplan") == 0o600


def test_a_symlink_at_the_plan_path_is_refused(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    plant_link(tmp_path / "tfplan", victim)
    with pytest.raises(FgformError, match="symbolic link"):
        save_plan(a_plan(), tmp_path / "tfplan")
    assert victim.read_text() == "victim\n"


@pytest.mark.parametrize("where", ["missing/tfplan", "adir"])
def test_plan_out_into_a_missing_directory_or_onto_a_directory(tmp_path: Path,
                                                               where: str) -> None:
    (tmp_path / "adir").mkdir()
    with pytest.raises(PlanFileError, match="does not exist|is a directory"):
        save_plan(a_plan(), tmp_path / where, where)


def test_a_fifo_or_device_at_the_plan_or_state_path_is_never_replaced(tmp_path: Path) -> None:
    # As root, `plan -out=/dev/null` used to rename a regular file over /dev/null; a FIFO
    # stands in for the device here.
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(PlanFileError, match="not a regular file"):
        save_plan(a_plan(), fifo, "fifo")
    with pytest.raises(OSError, match="not a regular file"):
        replace_file(fifo, b"x")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["fifo"]


# -- the lock --------------------------------------------------------------------------------

def test_lock_file_is_0600_under_umask_0(tmp_path: Path) -> None:
    with acquire(tmp_path / "default.fgstate.json", "apply") as held:
        assert mode(held.lock_path) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == []


def test_a_symlink_at_the_lock_path_is_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim.json"
    path = tmp_path / "default.fgstate.json"
    # Even a link to valid lock info is not a lock: it is reported, never taken over.
    victim.write_text(json.dumps({"ID": "x", "Pid": 1, "Who": "a@elsewhere"}))
    os.symlink(victim, lock_path_for(path))
    with pytest.raises(StateLockedError, match="symbolic link"):
        acquire(path, "apply")
    assert json.loads(victim.read_text())["ID"] == "x"


@pytest.mark.parametrize("pid", [99999999999999999999, -1, "x", 1.5, True, None])
def test_a_lock_with_an_absurd_pid_is_a_clear_warning(tmp_path: Path, pid: object) -> None:
    """Nobody holds the flock of a file with a damaged record: it is taken over, and the
    warning says what was wrong with the record (held, it is a clear error: test_state_lock)."""
    import socket

    path = tmp_path / "default.fgstate.json"
    lock_path_for(path).write_text(json.dumps(
        {"ID": "abc", "Pid": pid, "Who": f"u@{socket.gethostname()}"}))
    with acquire(path, "apply") as lock:
        assert len(lock.warnings) == 1 and "is not a process id" in lock.warnings[0]


def test_pid_alive_on_absurd_pids() -> None:
    assert not pid_alive(99999999999999999999)
    assert not pid_alive(-1)
    assert pid_alive(os.getpid())


# -- fmt -write ------------------------------------------------------------------------------

def test_fmt_does_not_write_through_a_symlink(tmp_path: Path) -> None:
    victim = tmp_path / "outside.tf"
    victim.write_text('variable "a" {\ndefault=1\n}\n')
    link = tmp_path / "cfg" / "main.tf"
    link.parent.mkdir()
    os.symlink(victim, link)
    with pytest.raises(FgformError, match="symbolic link"):
        format_file(link)
    assert victim.read_text() == 'variable "a" {\ndefault=1\n}\n'
    assert format_file(link, check=True)[0]  # reading through the link is fine


def test_fmt_rewrite_keeps_the_mode_and_replaces_atomically(tmp_path: Path) -> None:
    f = tmp_path / "main.tf"
    f.write_text('variable "a" {\ndefault=1\n}\n')
    os.chmod(f, 0o640)
    assert format_file(f)[0]
    assert f.read_text() == 'variable "a" {\n  default = 1\n}\n'
    assert mode(f) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["main.tf"]


def test_a_leftover_temp_name_with_an_absurd_pid_is_swept_without_a_crash(
        tmp_path: Path) -> None:
    store = StateStore(tmp_path / "default.fgstate.json")
    junk = tmp_path / ".default.fgstate.json.99999999999999999999.abcd1234.tmp"
    junk.write_text("x")
    store.write(state())
    assert not junk.exists()
    assert mode(store.path) == 0o600


def test_a_dangling_symlink_at_the_lock_path_is_reported_not_spun_on(tmp_path: Path) -> None:
    path = tmp_path / "default.fgstate.json"
    os.symlink(tmp_path / "nowhere", lock_path_for(path))
    with pytest.raises(StateLockedError, match="symbolic link"):
        acquire(path, "apply")
    assert not (tmp_path / "nowhere").exists()


def test_a_fifo_at_the_state_plan_or_lock_name_is_an_error_not_a_hang(tmp_path: Path) -> None:
    # A FIFO cannot be committed to git, but can be planted in a shared directory; opening
    # one for reading blocks until a writer appears.
    path = tmp_path / "default.fgstate.json"
    os.mkfifo(path)
    with pytest.raises(FgformError, match="not a regular file"):
        StateStore(path).read()
    os.mkfifo(tmp_path / "tfplan")
    with pytest.raises(PlanFileError, match="not a regular file"):
        load_plan(tmp_path / "tfplan")
    other = tmp_path / "other.fgstate.json"
    os.mkfifo(lock_path_for(other))
    with pytest.raises(StateLockedError, match="not a regular file"):
        acquire(other, "apply")
