"""The issue's "Done when", over REAL HTTP against the real fleet, the state side: `plan`
showing API-made changes (a service the API created "not in configuration", an
UpdateService desiredCount as drift unless `ignore_changes`), concurrent UpdateService calls
from threads losing no write (the final counts in `fgform state show`, DescribeServices and
`plan`), and SIGTERM while a real UpdateService waits for its tasks. One applied
configuration and one `fgform serve` for the module (e2e_fixtures.py)."""

from __future__ import annotations

import json
import re
import signal
import threading
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError
from fixtures.fgcli import Fleet

from .conftest import ApiServer, launch
from .e2e_fixtures import PREFIX, admin, error, fleet, server, write_config
from .services_fixtures import running, wait_until

pytestmark = pytest.mark.docker
__all__ = ["admin", "fleet", "server"]  # the module fixtures, imported for pytest


@pytest.fixture(scope="module")
def ecs(server: ApiServer, admin: tuple[str, str]) -> Any:
    # Standard retries: a ThrottlingException (the state lock's bounded wait) is retried.
    return server.boto3(*admin, max_attempts=10)


def _shown_count(fleet: Fleet, address: str) -> int:
    """desired_count as `fgform state show ADDRESS` prints it."""
    out = fleet.ok("state", "show", address).out
    found = re.search(r"^\s*desired_count\s*=\s*(\d+)\s*$", out, re.M)
    assert found, out
    return int(found.group(1))


def test_plan_shows_api_made_changes(fleet: Fleet, ecs: Any) -> None:
    name = fleet.name
    ecs.create_service(cluster=name, serviceName="made", taskDefinition=f"{name}-web",
                       desiredCount=1)
    ecs.update_service(cluster=name, service="web", desiredCount=2)
    assert len(running(fleet, "web")) == 2
    plan = fleet.run("plan", "-detailed-exitcode")
    assert plan.code == 2, str(plan)
    flat = plan.flat_out
    assert f'fg_service.ecs["{name}/made"] will be destroyed' in flat, plan.out
    assert f'because fg_service.ecs["{name}/made"] is not in configuration' in flat, plan.out
    assert "fg_service.web will be updated in-place" in flat, plan.out
    assert "~ desired_count = 2 -> 1" in flat, plan.out

    # ignore_changes = [desired_count]: the API's count is not drift any more.
    write_config(fleet, ignore_count=True)
    try:
        plan = fleet.run("plan", "-detailed-exitcode")
        assert plan.code == 2, str(plan)  # `made` is still not in the configuration
        assert "fg_service.web" not in plan.out and "desired_count = 2 -> 1" not in \
            plan.flat_out, plan.out
    finally:
        write_config(fleet)
    ecs.update_service(cluster=name, service="web", desiredCount=1)
    ecs.delete_service(cluster=name, service="made", force=True)
    assert fleet.run("plan", "-detailed-exitcode").code == 0


def test_concurrent_updates_lose_no_write(fleet: Fleet, admin: tuple[str, str]) -> None:
    """30 UpdateService calls from threads on 3 services (the configured `web`, which waits
    for its tasks, and two the API made), each setting a (desiredCount,
    healthCheckGracePeriodSeconds) pair no other call sets: each call succeeds or fails
    visibly; each service ends with the pair of its last successful call (in the order the
    audit log recorded them), and state, DescribeServices, the fleet and plan agree.

    A server of its own whose writes wait at most 3 s for the state lock, so some calls
    are answered ThrottlingException and retried by boto3 (standard retries)."""
    server = launch(fleet.dir, "-listen", "127.0.0.1:0", "-lock-timeout", "3s")
    try:
        server.wait_listening()
        _concurrent(fleet, server, server.boto3(*admin, max_attempts=10))
    finally:
        assert server.stop() == 0, server.text


def _concurrent(fleet: Fleet, server: ApiServer, ecs: Any) -> None:
    name = fleet.name
    for svc in ("c1", "c2"):
        ecs.create_service(cluster=name, serviceName=svc, taskDefinition=f"{name}-web",
                           desiredCount=1)
    serial0 = fleet.state()["serial"]  # type: ignore[index]
    audit0 = len(server.audit())
    outcomes: dict[int, Any] = {}

    def update(i: int) -> None:
        service = ("web", "c1", "c2")[i % 3]
        count = 1 + i % 2 if service == "web" else i % 3
        try:
            got = ecs.update_service(cluster=name, service=service, desiredCount=count,
                                     healthCheckGracePeriodSeconds=100 + i)["service"]
            outcomes[i] = (service, got["desiredCount"], got["healthCheckGracePeriodSeconds"])
        except ClientError as exc:
            outcomes[i] = error(exc)

    started = time.monotonic()
    threads = [threading.Thread(target=update, args=(i,)) for i in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    elapsed = time.monotonic() - started
    assert len(outcomes) == 30, outcomes  # every call answered
    ok = {i: o for i, o in outcomes.items() if len(o) == 3}
    failed = {i: o for i, o in outcomes.items() if len(o) == 2}
    # A failure is visible and only the lock's bounded wait (after boto3's retries).
    assert all(code == "ThrottlingException" for code, _ in failed.values()), failed
    assert ok, outcomes

    # The order the writes were made in: the audit log's order of successful updates.
    applied = [r for r in server.audit()[audit0:]
               if r["action"] == "UpdateService" and r["result"] == "ok"]
    assert all(r["result"] in ("ok", "ThrottlingException") for r in server.audit()[audit0:])
    assert len(applied) == len(ok), (applied, ok)
    last: dict[str, tuple[int, int]] = {}
    for r in applied:
        last[r["params"]["service"]] = (r["params"]["desiredCount"],
                                        r["params"]["healthCheckGracePeriodSeconds"])
    addresses = {"web": "fg_service.web", "c1": f'fg_service.ecs["{name}/c1"]',
                 "c2": f'fg_service.ecs["{name}/c2"]'}
    res = fleet.resources()
    described = {s["serviceName"]: s for s in ecs.describe_services(
        cluster=name, services=["web", "c1", "c2"])["services"]}
    for svc, addr in addresses.items():
        if svc not in last:
            continue  # every call on it failed (reported above)
        attrs = res[addr]["attributes"]
        assert (attrs["desired_count"], attrs["health_check_grace_period"]) == last[svc], \
            (svc, attrs["desired_count"], last[svc], applied)
        assert _shown_count(fleet, addr) == last[svc][0]
        assert described[svc]["desiredCount"] == last[svc][0]
        assert described[svc]["healthCheckGracePeriodSeconds"] == last[svc][1]
        wait_until(lambda s=svc, c=last[svc][0]: len(running(fleet, s)) == c, 60,
                   f"{last[svc][0]} tasks of {svc}")
    assert fleet.state()["serial"] - serial0 >= len(ok)  # type: ignore[index]

    # plan: exactly those counts as drift (web's), the API's services not in configuration.
    plan = fleet.run("plan", "-detailed-exitcode")
    assert plan.code == 2, str(plan)
    flat = plan.flat_out
    web_count = last.get("web", (1, 0))[0]
    if web_count != 1:
        assert f"~ desired_count = {web_count} -> 1" in flat, plan.out
    else:
        assert "desired_count = 1 -> 1" not in flat
    assert flat.count("desired_count =") == flat.count("~ desired_count") + 2, plan.out
    for svc in ("c1", "c2"):
        assert f'because fg_service.ecs["{name}/{svc}"] is not in configuration' in flat
    waits = [r["duration_ms"] for r in server.audit()[audit0:]
             if r["result"] == "ThrottlingException"]
    throttled = len(waits)
    # The bounded wait for the locks (3 s), not the rate limit (50 requests/s).
    assert all(w >= 2900 for w in waits), waits
    print(f"30 concurrent UpdateService calls: {len(ok)} ok, {len(failed)} failed, "
          f"{throttled} ThrottlingException answers retried, {elapsed:.1f} s")

    # Back to the configuration.
    for svc in ("c1", "c2"):
        ecs.delete_service(cluster=name, service=svc, force=True)
    fleet.ok("apply", "-auto-approve")
    assert fleet.run("plan", "-detailed-exitcode").code == 0


def test_sigterm_mid_update_service(fleet: Fleet, server: ApiServer,
                                    admin: tuple[str, str]) -> None:
    """SIGTERM while a real UpdateService scales `web` up and waits for its tasks to be
    healthy: the request completes (200), the server exits 0, and state is consistent."""
    name = fleet.name
    other = launch(fleet.dir, "-listen", "127.0.0.1:0")
    try:
        other.wait_listening()
        result: dict[str, Any] = {}

        def update() -> None:
            result["answer"] = other.call("UpdateService", {
                "cluster": name, "service": "web", "desiredCount": 4}, *admin)

        before = len(running(fleet, "web"))
        assert before == 1
        thread = threading.Thread(target=update)
        thread.start()
        # In flight: the new tasks' containers are being started.
        wait_until(lambda: len([c for c in fleet.containers(address="fg_service.web")
                                if c["State"] == "running"]) > before
                   or not thread.is_alive(), 30, "the new tasks of web")
        assert thread.is_alive(), "the request ended before SIGTERM"
        other.proc.send_signal(signal.SIGTERM)
        thread.join(120)
        status, _, body = result["answer"]
        assert status == 200, body
        assert body["service"]["desiredCount"] == 4
        assert other.proc.wait(60) == 0, other.text
    finally:
        if other.proc.poll() is None:
            other.stop()
    assert [r["result"] for r in other.audit() if r["action"] == "UpdateService"][-1] == "ok"
    assert len(running(fleet, "web")) == 4
    assert fleet.resources()["fg_service.web"]["attributes"]["desired_count"] == 4
    fleet.assert_no_orphans()
    plan = fleet.run("plan", "-detailed-exitcode")
    assert plan.code == 2 and "~ desired_count = 4 -> 1" in plan.flat_out, str(plan)
    # The module's server still answers; back to the configuration.
    ecs = server.boto3(*admin)
    ecs.update_service(cluster=name, service="web", desiredCount=1)
    assert fleet.run("plan", "-detailed-exitcode").code == 0
    assert json.loads(json.dumps(fleet.state()))
    assert ecs.describe_services(cluster=name, services=["web"])["services"][0][
        "serviceArn"] == f"{PREFIX}service/{name}/web"
