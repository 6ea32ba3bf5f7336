"""StateStore: atomic writes survive kill -9, backups, 0600, serial/lineage, speed, paths."""

from __future__ import annotations

import contextlib
import json
import os
import random
import select
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from fgform.addresses import parse_address
from fgform.errors import FgformError
from fgform.jsonenc import encode_json
from fgform.state.model import InstanceState, OutputState, ResourceState, StateFile
from fgform.state.paths import default_state_path
from fgform.state.store import StateStore, dumps_state


def make_state(n: int = 3, gen: int = 0, lineage: str | None = None) -> StateFile:
    """A state of `n` services shaped like real ones; every instance carries `gen`."""
    st = StateFile() if lineage is None else StateFile(lineage=lineage)
    for i in range(n):
        # Appended directly: StateFile.set re-sorts on every call, quadratic for 1,000.
        st.resources.append(ResourceState("", "fg_service", f"svc{i}", [InstanceState(None, {
            "id": f"svc-{i}-0123456789abcdef",
            "cluster": "cl-0123456789",
            "task_definition": "web:3",
            "desired_count": 2,
            "gen": gen,
            "wait_for_steady_state": True,
            "load_balancer": [{"target_group": "tg-1", "container_name": "web",
                               "container_port": 8080}],
            "deployment": {"minimum_healthy_percent": 100, "maximum_percent": 200,
                           "circuit_breaker": {"enable": False, "rollback": False}},
            "environment": {"A": "1", "B": "ünïcode \"quoted\"\n"},
        }, dependencies=["fg_cluster.main"])]))
    st.outputs["url"] = OutputState("http://127.0.0.1:8080")
    return st


# -- read ------------------------------------------------------------------------------------

def test_read_missing_file_is_none(tmp_path: Path) -> None:
    assert StateStore(tmp_path / "nope" / "s.json").read() is None


def test_round_trip(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.json")
    st = make_state()
    assert store.write(st) is True
    back = store.read()
    assert back is not None
    assert back.to_dict() == st.to_dict()


@pytest.mark.parametrize("content", ["", "{not json", "[]", '{"serial": 1}', "\xff\xfe"])
def test_corrupt_file_names_file_and_backup(tmp_path: Path, content: str) -> None:
    store = StateStore(tmp_path / "s.json")
    store.write(make_state())
    store.write(make_state(gen=1, lineage=store.read().lineage))  # type: ignore[union-attr]
    store.path.write_bytes(content.encode("latin-1"))
    with pytest.raises(FgformError) as ei:
        store.read()
    assert str(store.path) in ei.value.message
    assert str(store.backup_path) in ei.value.hint
    # ...and a write must not push the last good copy out of the backup slot.
    with pytest.raises(FgformError, match="refusing to overwrite"):
        store.write(make_state())
    assert json.loads(store.backup_path.read_text())["serial"] == 1


def test_newer_format_version_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "s.json"
    d = make_state().to_dict()
    d["version"] = 99
    p.write_text(json.dumps(d))
    with pytest.raises(FgformError, match="newer than this fgform"):
        StateStore(p).read()


# -- write -----------------------------------------------------------------------------------

def test_write_creates_parent_mode_0600_and_gitignore(tmp_path: Path) -> None:
    old = os.umask(0)  # the file must be 0600 whatever the umask lets through
    try:
        path = default_state_path(tmp_path / "cfg")
        StateStore(path).write(make_state())
    finally:
        os.umask(old)
    assert path == tmp_path / "cfg" / "state" / "default.fgstate.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # Ask git itself whether the state, its backup, lock and temp files are ignored.
    StateStore(path).write(make_state(lineage=StateStore(path).read().lineage, gen=1))  # type: ignore[union-attr]
    path.with_name(path.name + ".lock").write_text("{}")
    path.with_name(path.name + ".fleet").write_text("{}")
    subprocess.run(["git", "init", "-q", str(tmp_path / "cfg")], check=True)
    names = [path.name, path.name + ".backup", path.name + ".lock", path.name + ".fleet",
             ".x.123.ab.tmp"]
    res = subprocess.run(["git", "check-ignore", *names], cwd=path.parent,
                         capture_output=True, text=True)
    assert res.stdout.split() == names
    assert subprocess.run(["git", "check-ignore", "-q", "main.hcl"],
                          cwd=tmp_path / "cfg").returncode == 1


def test_file_is_sorted_indented_json(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.json")
    st = make_state()
    store.write(st)
    text = store.path.read_text()
    # orjson's text: non-ASCII characters as themselves, not \u escapes.
    assert text == json.dumps(st.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert text == dumps_state(st)


def test_serial_bumps_only_on_change_and_lineage_is_kept(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.json")
    st = make_state()
    lineage = st.lineage
    assert store.write(st) and st.serial == 1
    mtime = store.path.stat().st_mtime_ns
    assert store.write(st) is False and st.serial == 1
    assert store.write(store.read()) is False  # type: ignore[arg-type]
    assert store.path.stat().st_mtime_ns == mtime
    assert not store.backup_path.exists()  # nothing was replaced yet

    st.outputs["new"] = OutputState(1)
    assert store.write(st) and st.serial == 2
    st2 = store.read()
    assert st2 is not None and st2.serial == 2 and st2.lineage == lineage
    # A stale in-memory copy (serial 1) that changes still moves the serial forward.
    stale = make_state(lineage=lineage)
    stale.serial = 1
    stale.outputs["other"] = OutputState(2)
    assert store.write(stale) and stale.serial == 3


def test_lineage_mismatch_is_refused(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.json")
    store.write(make_state())
    with pytest.raises(FgformError, match="lineage"):
        store.write(make_state())
    other = make_state()
    assert store.write(other, allow_lineage_change=True)
    assert store.read().lineage == other.lineage  # type: ignore[union-attr]


def test_backup_holds_previous_version(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.json")
    st = make_state(gen=0)
    store.write(st)
    first = store.path.read_bytes()
    for gen in (1, 2):
        before = store.path.read_bytes()
        st.resources[0].instances[0].attributes["gen"] = gen
        store.write(st)
        assert store.backup_path.read_bytes() == before
        assert stat.S_IMODE(store.backup_path.stat().st_mode) == 0o600
    assert json.loads(store.backup_path.read_text())["serial"] == 2
    assert json.loads(first)["serial"] == 1
    # No temporary files are left behind by successful writes.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.json", "s.json.backup"]


def test_encode_json_matches_stdlib() -> None:
    value = {"b": [1, 2.5, -0.0, 1e300, True, False, None, "x\u2028\"\\\x01\x7f"], "a": {},
             "c": [], "d": {"z": {"y": [[]]}}, "é": "ü\U0001F600", "t": (1, "2"),
             "n": 2**64 - 1}
    std = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False).encode()
    # The one difference from the standard library: an exponent has no "+".
    assert encode_json(value) == std.replace(b"1e+300", b"1e300")
    # Keys of other types as json.dumps writes them, then sorted as text.
    assert encode_json({10: "a", 9: "b", "x": 2}) == b'{\n  "10": "a",\n  "9": "b",\n  "x": 2\n}'
    for nan in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(FgformError, match="not a JSON number"):
            encode_json({"x": [{"y": nan}]})
        with pytest.raises(FgformError, match="not a JSON number"):  # the fallback's check
            encode_json({"x": [nan, 10**30]})
    with pytest.raises(FgformError, match="cannot write a object value"):
        encode_json({"x": object()})
    with pytest.raises(FgformError, match="cannot write a PosixPath value"):
        encode_json({"x": Path("/")})


def test_encode_json_falls_back_to_the_standard_library() -> None:
    """What orjson cannot write (integers beyond 64 bits, lone surrogates, deep nesting) is
    written by json.dumps, in its own exact format (\\u escapes for non-ASCII)."""
    deep: list[object] = []
    inner = deep
    for _ in range(300):
        inner.append([])
        inner = inner[0]  # type: ignore[assignment]
    for value in ({"n": 10**30, "é": 1.5e-7}, {"s": "\ud800"}, {"deep": deep}):
        assert encode_json(value) == json.dumps(value, indent=2, sort_keys=True).encode()
        assert json.loads(encode_json(value)) == value


def test_a_nan_is_found_where_marshal_cannot_look() -> None:
    """The fast check marshals the value; a str subclass (an enum) makes it fall back to
    looking at every value, which still finds the NaN."""
    import enum

    class Mode(str, enum.Enum):
        A = "a"

    assert encode_json({"m": Mode.A, "x": 1.0}) == b'{\n  "m": "a",\n  "x": 1.0\n}'
    with pytest.raises(FgformError, match="cannot write nan"):
        encode_json({"m": Mode.A, "x": [float("nan")]})


def test_repeated_writes_keep_the_exact_format(tmp_path: Path) -> None:
    """Apply's writes reuse the text of unchanged resources: after changes, additions and
    removals (one written by the standard library's encoder), the file is still exactly
    what a first write of that state would be."""
    store = StateStore(tmp_path / "s.json")
    st = make_state(5)
    store.write(st)
    st.resources[1].instances[0].attributes["gen"] = 7
    st.resources[2].instances[0].attributes["big"] = 10**30  # beyond orjson's integers
    st.set(parse_address("fg_service.aaa"), InstanceState(None, {"id": "x", "f": 1.5e-7}))
    st.remove(parse_address(f"fg_service.{st.resources[-1].name}"))
    st.outputs["é"] = OutputState({"ü": [1, None]}, sensitive=False)
    for _ in range(2):
        store.write(st)
        assert store.path.read_text() == dumps_state(st)
        assert json.loads(store.path.read_text()) == st.to_dict()
    st.resources.clear()
    store.write(st)
    assert store.path.read_text() == dumps_state(st)
    assert json.loads(store.path.read_text())["resources"] == []


def test_write_1000_resources_is_fast(tmp_path: Path) -> None:
    # CPU time, not wall time: CI machines are shared, and a busy neighbour must not fail
    # this test. Measured here: ~35 ms for a first write, ~13 ms for an apply-style write.
    store = StateStore(tmp_path / "s.json")
    st = make_state(1000)
    t = time.process_time()
    store.write(st)
    first = time.process_time() - t
    times = []
    for gen in range(1, 6):
        st.resources[gen].instances[0].attributes["gen"] = gen  # a real change each time
        t = time.process_time()
        assert store.write(st)
        times.append(time.process_time() - t)
    assert first < 0.1 and min(times) < 0.05, (first, times)


# -- atomicity under kill -9 -----------------------------------------------------------------

# A "zygote": imports fgform once, then forks one writer per round, so that a round costs a
# fork instead of a Python start-up. Each writer is a real process, killed with SIGKILL; the
# zygote reaps it and reports back, so the test knows the writer is gone.
_ZYGOTE = textwrap.dedent("""
    import os, sys
    from fgform.state.store import StateStore
    for _ in sys.stdin:
        pid = os.fork()
        if pid == 0:
            try:
                store = StateStore(sys.argv[1])
                st = store.read()
                gen = st.resources[0].instances[0].attributes["gen"] + 1
                print("ready", os.getpid(), flush=True)
                while True:
                    for r in st.resources:
                        r.instances[0].attributes["gen"] = gen
                    store.write(st)
                    print(gen, flush=True)
                    gen += 1
            finally:
                os._exit(1)  # never fall back into the zygote's loop
        os.waitpid(pid, 0)
        # On a line of its own: a writer killed inside print() may have written its number
        # without the newline ("12reaped" hung this test once in ~40 runs).
        print("\\nreaped", flush=True)
""")


class _Lines:
    """Lines from a child's stdout, each read with a deadline: a writer or zygote that hangs
    fails the test instead of hanging the suite."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        self.fd = proc.stdout.fileno()
        self.buf = b""

    def readline(self, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            assert left > 0, "the zygote or its writer stopped answering"
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                chunk = os.read(self.fd, 4096)
                if not chunk:
                    return ""  # the zygote died
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode() + "\n"


def _check_complete(path: Path, n: int) -> int:
    d = json.loads(path.read_text())
    gens = {r["instances"][0]["attributes"]["gen"] for r in d["resources"]}
    assert len(d["resources"]) == n and len(gens) == 1, f"mixed content in {path.name}"
    return gens.pop()


def test_kill_9_mid_write_never_leaves_a_partial_file(tmp_path: Path) -> None:
    # ~0.6 MB per version, much of it long strings: a write that takes a few milliseconds.
    n = 120
    path = tmp_path / "s.json"
    st = make_state(n)
    for i, r in enumerate(st.resources):
        r.instances[0].attributes["blob"] = f"{i:04d}" * 1000
    StateStore(path).write(st)
    rng = random.Random(1234)
    seen = set()
    mid_write = 0
    rounds = 20

    def _check_round() -> None:
        nonlocal mid_write
        # A temp file left over means the kill landed inside a write.
        mid_write += any(p.name.endswith(".tmp") for p in tmp_path.iterdir())
        gen = _check_complete(path, n)
        seen.add(gen)
        if path.with_name("s.json.backup").exists():
            bgen = _check_complete(path.with_name("s.json.backup"), n)
            # Killed between rotating the backup and the rename: both are the same version.
            assert bgen in (gen - 1, gen)
        d = json.loads(path.read_text())
        assert d["serial"] == gen + 1  # one serial per completed write, none lost

    zygote = subprocess.Popen([sys.executable, "-c", _ZYGOTE, str(path)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
    assert zygote.stdin is not None
    out = _Lines(zygote)
    pid = 0
    try:
        for round_ in range(rounds):
            zygote.stdin.write(b"go\n")
            word, pid_text = out.readline().split()
            assert word == "ready"
            pid = int(pid_text)
            t0 = time.perf_counter()
            assert out.readline().strip().isdigit()  # one complete write
            if round_ % 2:
                # Anywhere in the next write or two, however fast this machine is.
                time.sleep(rng.uniform(0.0, 2 * (time.perf_counter() - t0)))
            else:
                # Inside the file-writing part: wait for this writer's temp file to appear,
                # then kill it a random moment later (partway through the bytes, the fsync,
                # the backup rotation or the rename).
                prefix = f".{path.name}.{pid}."
                deadline = time.monotonic() + 10
                while not any(f.startswith(prefix) for f in os.listdir(tmp_path)):
                    assert time.monotonic() < deadline, "the writer never wrote"
                time.sleep(rng.uniform(0.0, 0.001))
            os.kill(pid, signal.SIGKILL)
            while (line := out.readline()).strip() != "reaped":
                assert line, "the zygote died"
            _check_round()
    finally:
        if pid:  # a writer left running by a failed assertion would write on forever
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        zygote.kill()
        zygote.wait()
    print(f"versions seen {len(seen)}, kills inside a write {mid_write}/{rounds}")
    assert len(seen) == rounds  # every round completed a write and was killed in a later one
    assert mid_write >= rounds // 4, "too few kills landed inside a write"
    # A killed writer's temp files (the state's and, mid-rotation, the backup's) are swept
    # by the next write: only the last writer's can be left.
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert all(f".{pid}." in name for name in leftovers), leftovers


# -- paths -----------------------------------------------------------------------------------

def test_default_state_path(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg"
    assert default_state_path(cfg) == cfg / "state" / "default.fgstate.json"
    assert default_state_path(cfg, "prod") == cfg / "state" / "prod.fgstate.json"
    assert default_state_path(cfg, override="x/my.json") == cfg / "x" / "my.json"
    assert default_state_path(cfg, "prod", override="/abs/s.json") == Path("/abs/s.json")
    assert default_state_path(cfg, backend_path="tf/s.json") == cfg / "tf" / "s.json"
    assert default_state_path(cfg, "prod", backend_path="tf/s.json") == (
        cfg / "tf" / "s.json.d" / "prod" / "s.json")
    # -state wins over the backend
    assert default_state_path(cfg, override="a.json", backend_path="b.json") == cfg / "a.json"
    for bad in ("../x", "a/b", "", ".hidden"):
        with pytest.raises(FgformError, match="workspace"):
            default_state_path(cfg, bad)


def test_every_plain_resource_has_an_encoding_cache_key() -> None:
    """Apply writes state after every step; only changed resources may be encoded again.
    A resource of plain values (a tainted one too: its status is an enum) must have a cache
    key, or every write re-encodes the whole state (it once silently did: 2x the CPU)."""
    from fgform.addresses import Address
    from fgform.state.model import InstanceState, InstanceStatus, StateFile
    from fgform.state.store import _encode, _resource_key

    state = StateFile()
    state.set(Address("fg_task_definition", "a"), InstanceState(None, {"family": "a", "cpu": 1}))
    state.set(Address("fg_task_definition", "b"),
              InstanceState(None, {"family": "b"}, status=InstanceStatus.TAINTED))
    keys = [_resource_key(r) for r in state.resources]
    assert None not in keys and len(set(keys)) == 2
    data, cache = _encode(state, 1, {})
    assert len(cache) == 2
    again, _ = _encode(state, 1, cache)  # from the cache: the same bytes
    assert again == data
