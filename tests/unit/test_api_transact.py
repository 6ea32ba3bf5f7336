"""The API's write path (fgform/api/transact.py): one change planned and applied as apply
does, under the state and fleet locks, with a bounded wait; on the in-memory fleet."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from fgform.addresses import parse_address
from fgform.api.actions import ApiContext
from fgform.api.errors import ApiError
from fgform.api.transact import desired_from, read_state, state_path, transaction
from fgform.config.decode import check_values, fill_defaults
from fgform.config.schema import get_schema
from fgform.errors import FgformError
from fgform.fleet.docker.task_definition import TaskDefinitionDriver
from fgform.state.lock import lock_path_for, read_lock
from fgform.state.model import StateFile
from fgform.state.store import StateStore
from fgform.values import Sensitive

from helpers.fakefleet import FakeFleet

CLUSTER = parse_address('fg_cluster.ecs["c1"]')
TD = parse_address('fg_task_definition.ecs["web"]')


def make_ctx(tmp_path: Path, fleet: Any = None, timeout: float = 5.0) -> ApiContext:
    fleet = fleet if fleet is not None else FakeFleet()
    return ApiContext(dir=tmp_path, fleet=fleet, lock_timeout=timeout)


def td_fleet() -> FakeFleet:
    """The fake fleet with the real task definition driver (it never touches Docker)."""
    fleet = FakeFleet()
    fleet._drivers["fg_task_definition"] = TaskDefinitionDriver()
    return fleet


def td(image: str = "nginx:1", **env: Any) -> dict[str, Any]:
    return desired_from("fg_task_definition", {
        "family": "web",
        "container": [{"name": "app", "image": image, "environment": env}]})


def test_fill_defaults_gives_what_decode_gives() -> None:
    body = get_schema("fg_task_definition").body
    got = fill_defaults(body, {"family": "f", "container": [{"name": "a", "image": "i",
                                                             "port_mapping": [
                                                                 {"container_port": 80}]}]})
    assert got["cpu"] == 256 and got["memory"] == 512
    assert got["placement_constraints"] == []
    c = got["container"][0]
    assert c["essential"] is True and c["environment"] == {} and c["stop_timeout"] == 10
    assert c["health_check"] is None and c["command"] is None
    assert c["port_mapping"] == [{"container_port": 80, "host_port": None, "protocol": "tcp"}]
    assert "revision" not in got and "id" not in got  # computed: the planner's
    with pytest.raises(ValueError, match=r"container\[0\]\.imagee"):
        fill_defaults(body, {"family": "f", "container": [{"name": "a", "imagee": "i"}]})


def test_check_values_reports_schema_problems() -> None:
    body = get_schema("fg_task_definition").body
    bad = fill_defaults(body, {"family": "f", "memory": 1, "container": [
        {"name": "a", "image": "i", "port_mapping": [{"container_port": 70000}]}]})
    problems = check_values(body, bad)
    assert any(p.startswith("memory:") for p in problems)
    assert any(p.startswith("container[0].port_mapping[0].container_port") for p in problems)
    assert check_values(body, fill_defaults(body, {"family": "f"})) == \
        ["container: at least 1 required"]
    with pytest.raises(ApiError) as e:
        desired_from("fg_task_definition", {"family": "f", "container": []})
    assert e.value.code == "InvalidParameterException"


def test_read_state_without_state_is_empty_and_writes_nothing(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    st = read_state(ctx)
    assert isinstance(st, StateFile) and not st.resources
    assert not state_path(ctx).exists()


def test_create_update_delete_through_the_executor(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, td_fleet())
    addr, attrs = transaction(ctx, lambda st: (TD, td()), operation="RegisterTaskDefinition")
    assert addr == TD and attrs is not None
    assert attrs["revision"] == 1 and attrs["arn"] == "web:1"
    on_disk = StateStore(state_path(ctx)).read()
    assert on_disk is not None and on_disk.get(TD).attributes["arn"] == "web:1"
    lineage = on_disk.lineage
    # A change: an update in place, the old revision INACTIVE in history.
    _, attrs = transaction(ctx, lambda st: (TD, td("nginx:2")), operation="Register")
    assert attrs["revision"] == 2 and [r["revision"] for r in attrs["revisions"]] == [1]
    assert attrs["revisions"][0]["status"] == "INACTIVE"
    # No change: no new revision, nothing written...
    serial = StateStore(state_path(ctx)).read().serial
    _, same = transaction(ctx, lambda st: (TD, td("nginx:2")), operation="Describe")
    assert same["revision"] == 2 and StateStore(state_path(ctx)).read().serial == serial
    # ...unless asked to (RegisterTaskDefinition always registers a revision).
    _, again = transaction(ctx, lambda st: (TD, td("nginx:2")), operation="Register",
                           repair="a new revision is registered")
    assert again["revision"] == 3
    backup = StateStore(state_path(ctx)).backup_path
    assert backup.exists() and oct(backup.stat().st_mode & 0o777) == "0o600"
    addr, gone = transaction(ctx, lambda st: (TD, None), operation="Delete")
    assert gone is None
    final = StateStore(state_path(ctx)).read()
    assert final.get(TD) is None and final.lineage == lineage


def test_other_resources_stay_as_recorded(tmp_path: Path) -> None:
    """No refresh: what state holds for the rest (drift the next plan shows) is untouched."""
    fleet = td_fleet()
    ctx = make_ctx(tmp_path, fleet)
    transaction(ctx, lambda st: (CLUSTER, desired_from("fg_cluster", {"name": "c1"})),
                operation="t")
    fleet.objects.clear()  # deleted behind fgform's back: drift for the next plan
    transaction(ctx, lambda st: (TD, td()), operation="t")
    st = StateStore(state_path(ctx)).read()
    assert st.get(CLUSTER) is not None and st.get(TD) is not None


def test_the_edit_sees_the_current_state(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, td_fleet())
    transaction(ctx, lambda st: (TD, td()), operation="t")
    seen: list[Any] = []

    def edit(st: StateFile):
        seen.append(st.get(TD).attributes["revision"])
        return TD, td("nginx:9")

    transaction(ctx, edit, operation="t")
    assert seen == [1]


def test_an_error_of_the_edit_lets_go_of_the_locks(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, td_fleet())

    def refuse(st: StateFile):
        raise ApiError("ClientException", "no")

    with pytest.raises(ApiError, match="no"):
        transaction(ctx, refuse, operation="t")
    assert read_lock(state_path(ctx)) is None
    assert not state_path(ctx).exists()  # nothing was written for a refused request
    transaction(ctx, lambda st: (TD, td()), operation="t")  # the queue moved on


def test_sensitive_marks_become_sensitive_paths(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, td_fleet())
    desired = td(TOKEN="s3cret-value", PLAIN="x")
    desired["container"][0]["environment"]["TOKEN"] = Sensitive("s3cret-value")
    transaction(ctx, lambda st: (TD, desired), operation="t")
    inst = StateStore(state_path(ctx)).read().get(TD)
    assert ["container", 0, "environment", "TOKEN"] in inst.sensitive_paths
    assert inst.attributes["container"][0]["environment"]["TOKEN"] == "s3cret-value"


class _Failing(TaskDefinitionDriver):
    def create(self, ctx, addr, planned):
        raise FgformError("the image s3cret-value cannot be pulled")


class _Broken(TaskDefinitionDriver):
    def create(self, ctx, addr, planned):
        raise KeyError("boom")


def test_driver_errors_become_ecs_errors_without_secrets(tmp_path: Path) -> None:
    fleet = FakeFleet()
    fleet._drivers["fg_task_definition"] = _Failing()
    ctx = make_ctx(tmp_path, fleet)
    desired = td()
    desired["container"][0]["environment"]["T"] = Sensitive("s3cret-value")
    with pytest.raises(ApiError) as e:
        transaction(ctx, lambda st: (TD, desired), operation="t")
    assert e.value.code == "ClientException" and "cannot be pulled" in e.value.message
    assert "s3cret-value" not in e.value.message
    fleet._drivers["fg_task_definition"] = _Broken()
    logged: list[str] = []
    ctx.log = logged.append
    with pytest.raises(ApiError) as e:
        transaction(ctx, lambda st: (TD, td()), operation="Register")
    assert e.value.code == "ServerException" and "boom" not in e.value.message
    assert any("KeyError" in line for line in logged)


def test_an_unreachable_fleet_is_a_server_exception(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, FakeFleet(reachable=False))
    with pytest.raises(ApiError) as e:
        transaction(ctx, lambda st: (CLUSTER, desired_from("fg_cluster", {"name": "c"})),
                    operation="t")
    assert e.value.code == "ServerException"


_HOLD = textwrap.dedent("""
    import sys
    from fgform.state.store import StateStore
    lock = StateStore(sys.argv[1]).lock("OperationTypeApply", 5)
    print("held", flush=True)
    sys.stdin.read()
""")


def test_a_lock_held_elsewhere_is_throttling_after_the_timeout(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, td_fleet(), timeout=0.3)
    path = state_path(ctx)
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ApiError) as e:
            transaction(ctx, lambda st: (TD, td()), operation="t")
        assert e.value.code == "ThrottlingException"
        assert e.value.message.startswith("Rate exceeded: the state is locked by "
                                          "OperationTypeApply by ")
    finally:
        holder.stdin.close()
        holder.wait(10)
    assert lock_path_for(path).exists()
    _, attrs = transaction(ctx, lambda st: (TD, td()), operation="t")
    assert attrs["revision"] == 1


def test_the_fleet_lock_is_held_during_the_write(tmp_path: Path) -> None:
    from fgform.state.lock import fleet_lock_holder

    ctx = make_ctx(tmp_path, td_fleet())
    seen: list[Any] = []

    def edit(st: StateFile):
        seen.append((read_lock(state_path(ctx)), fleet_lock_holder(state_path(ctx))))
        return TD, td()

    transaction(ctx, edit, operation="RegisterTaskDefinition")
    state_holder, fleet_holder = seen[0]
    assert state_holder.Operation == fleet_holder.Operation == "api:RegisterTaskDefinition"


def test_in_process_waiters_time_out_as_throttling(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, td_fleet(), timeout=0.2)
    inside = threading.Event()
    release = threading.Event()
    errors: list[ApiError] = []

    def slow(st: StateFile):
        inside.set()
        release.wait(5)
        return TD, td()

    t = threading.Thread(target=lambda: transaction(ctx, slow, operation="Slow"))
    t.start()
    assert inside.wait(5)
    try:
        transaction(ctx, lambda st: (TD, td("x:1")), operation="t")
    except ApiError as e:
        errors.append(e)
    release.set()
    t.join(5)
    assert errors and errors[0].code == "ThrottlingException"
    assert "another request of this server (Slow)" in errors[0].message
    _, attrs = transaction(ctx, lambda st: (TD, td("x:2")), operation="t")
    assert attrs["revision"] == 2  # the queue skipped the waiter that gave up


def test_concurrent_registrations_lose_nothing(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, td_fleet(), timeout=60)
    results: list[int] = []
    lock = threading.Lock()

    def register(i: int) -> None:
        _, attrs = transaction(ctx, lambda st: (TD, td(f"nginx:{i}")), operation="Register",
                               repair="new revision")
        with lock:
            results.append(attrs["revision"])

    threads = [threading.Thread(target=register, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == list(range(1, 21))
    final = StateStore(state_path(ctx)).read().get(TD).attributes
    assert final["revision"] == 20
    assert [r["revision"] for r in final["revisions"]] == list(range(1, 20))


def test_state_path_follows_the_backend_path_as_the_configuration_changes(
        tmp_path: Path) -> None:
    import os

    main = tmp_path / "main.tf"
    main.write_text('terraform {\n  backend "local" {\n    path = "one.fgstate.json"\n  }\n}\n')
    ctx = make_ctx(tmp_path)
    assert state_path(ctx).name == "one.fgstate.json"
    assert state_path(ctx).name == "one.fgstate.json"  # kept
    main.write_text('terraform {\n  backend "local" {\n    path = "two.fgstate.json"\n  }\n}\n')
    st = main.stat()
    os.utime(main, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert state_path(ctx).name == "two.fgstate.json"
    main.unlink()
    assert state_path(ctx).name != "two.fgstate.json"


_HOLD_FLEET = textwrap.dedent("""
    import sys
    from fgform.state.lock import try_fleet_lock
    lock = try_fleet_lock(sys.argv[1], "OperationTypeReconcile")
    print("held" if lock is not None else "busy", flush=True)
    sys.stdin.read()
""")


def test_a_reconcile_pass_on_the_fleet_is_waited_for_within_the_timeout(
        tmp_path: Path) -> None:
    """A pass holding the fleet lock: the write lets go of the state lock (the pass needs
    it to record its work), waits for the fleet, and throttles at the deadline."""
    ctx = make_ctx(tmp_path, td_fleet(), timeout=0.4)
    path = state_path(ctx)
    path.parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_FLEET, str(path)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ApiError) as e:
            transaction(ctx, lambda st: (TD, td()), operation="t")
        assert e.value.code == "ThrottlingException"
        assert "locked by OperationTypeReconcile by " in e.value.message
        assert read_lock(path) is None  # the state lock was let go while waiting
    finally:
        holder.stdin.close()
        holder.wait(10)
    _, attrs = transaction(ctx, lambda st: (TD, td()), operation="t")
    assert attrs["revision"] == 1
