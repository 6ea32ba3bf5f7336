"""fg_load_balancer on the real engine: a real HAProxy container, real HTTP to 127.0.0.1.

The module applies one load balancer (fixed responses, redirects, every condition kind,
priorities) and takes it through its life in file order: routing, an in-place change
(a hitless reload), a configuration HAProxy rejects, drift (the container removed by
hand), destroy. Run alone, each test still works (the fixture applies when needed).
"""

from __future__ import annotations

import http.client
import json
import math
import signal
import threading
import time
from collections.abc import Iterator

import docker
import pytest
from fixtures.fgcli import Fleet
from fixtures.lbfleet import SERVICE_CONFIG, module_fleet

from fgform.errors import FgformError
from fgform.fleet.docker import load_balancer as LB
from fgform.fleet.docker import proxy as P
from fgform.fleet.docker.client import LazyClient
from fgform.fleet.driver import FleetContext
from fgform.fleet.haproxy import render_haproxy_config

# Connects on first use, at test time (the docker_client fixture reports a missing engine).
CLIENT = LazyClient()

pytestmark = pytest.mark.docker

CONFIG = """
resource "fg_cluster" "main" {
  name       = "$name"
  cidr_block = "$cidr"
}

resource "fg_target_group" "api" {
  port = 8080
  health_check {
    path     = "/"
    interval = 1
  }
}

resource "fg_load_balancer" "front" {
  cluster = fg_cluster.main.id

  listener {
    port = $lbport
    fixed_response {
      status_code = 404
      body        = "no route"
    }

    rule {
      priority      = 10
      path_patterns = ["/api/*"]
      target_group  = fg_target_group.api.id
    }

    # Lower priority number wins over the path rule above.
    rule {
      priority      = 5
      path_patterns = ["/api/*"]
      host_headers  = ["*.Example.com"]
      fixed_response {
        status_code  = 200
        content_type = "application/json"
        body         = "{\\"by\\": \\"host\\"}"
      }
    }

    rule {
      priority             = 20
      http_request_methods = ["POST"]
      http_headers {
        name   = "X-Canary"
        values = ["y*s"]
      }
      fixed_response {
        status_code = 201
        body        = "canary $$HOME \\"quoted\\""
      }
    }

    rule {
      priority   = 30
      source_ips = ["0.0.0.0/0"]
      query_strings {
        key   = "v"
        value = "2"
      }
      fixed_response {
        status_code = 202
        body        = "v2"
      }
    }

    rule {
      priority      = 40
      path_patterns = ["/old/?"]
      redirect {
        path        = "/new/#{path}"
        status_code = "HTTP_301"
      }
    }
  }
}

output "url" {
  value = fg_load_balancer.front.endpoints[0]
}
"""


def request(port: int, path: str, *, method: str = "GET",
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        headers: dict[str, str] = {}
        for k, v in resp.getheaders():  # repeated headers (Set-Cookie) one a line
            headers[k.lower()] = headers[k.lower()] + "\n" + v if k.lower() in headers else v
        return resp.status, headers, resp.read().decode()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def fleet(docker_client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Fleet]:
    yield from module_fleet(docker_client, tmp_path_factory, "lb", CONFIG)


@pytest.fixture
def applied(fleet: Fleet) -> Fleet:
    fleet.ok("apply", "-auto-approve")
    return fleet


def proxy(fleet: Fleet) -> docker.models.containers.Container:
    lb_id = fleet.resources()["fg_load_balancer.front"]["attributes"]["id"]
    return fleet.client.containers.get(lb_id)


def test_apply_serves_the_rules(fleet: Fleet) -> None:
    res = fleet.ok("apply", "-auto-approve")
    assert "Apply complete! Resources: 3 added" in res.out, str(res)
    port = fleet.lbport  # type: ignore[attr-defined]
    attrs = fleet.resources()["fg_load_balancer.front"]["attributes"]
    assert attrs["endpoints"] == [f"http://127.0.0.1:{port}"]
    assert attrs["dns_name"] == attrs["id"]
    assert json.loads(fleet.ok("output", "-json").out)["url"]["value"] == \
        f"http://127.0.0.1:{port}"

    assert request(port, "/nothing")[::2] == (404, "no route")
    # The target group has no target: 503, as an ALB answers.
    assert request(port, "/api/users")[0] == 503
    # Host (case-insensitive, port ignored) and path both match: priority 5 beats 10.
    status, headers, body = request(port, "/api/users", headers={"Host": "a.EXAMPLE.com:80"})
    assert (status, body) == (200, '{"by": "host"}')
    assert headers["content-type"] == "application/json"
    # Path patterns are case-sensitive.
    assert request(port, "/API/users", headers={"Host": "a.example.com"})[0] == 404
    # Method AND header (wildcard, case-insensitive value); the body is literal text.
    assert request(port, "/x", method="POST", headers={"X-Canary": "YES"})[::2] == \
        (201, 'canary $HOME "quoted"')
    assert request(port, "/x", method="GET", headers={"X-Canary": "yes"})[0] == 404
    assert request(port, "/x", method="POST", headers={"X-Canary": "no"})[0] == 404
    # Query string and source address.
    assert request(port, "/q?a=1&v=2")[::2] == (202, "v2")
    assert request(port, "/q?v=22")[0] == 404
    # Redirect with placeholders: ? is exactly one character.
    status, headers, _ = request(port, "/old/x?k=1", headers={"Host": "site"})
    assert status == 301
    assert headers["location"] == f"http://site:{port}/new/old/x?k=1"
    assert request(port, "/old/xy")[0] == 404

    # The proxy: master-worker, workers as the haproxy user, no added capabilities, the
    # sockets not published, only the listener port published on 127.0.0.1.
    c = proxy(fleet)
    host_config = c.attrs["HostConfig"]
    assert host_config["CapDrop"] == ["ALL"]
    assert set(host_config["CapAdd"]) == set(LB.CAPABILITIES)
    assert host_config["PortBindings"] == {
        f"{port}/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}
    code, out = c.exec_run(["sh", "-c", "for p in /proc/[0-9]*; do "
                            '[ "$(cat $p/comm)" = haproxy ] && stat -c %U $p; done; true'])
    assert sorted(out.decode().split()) == ["haproxy", "root"], out.decode()
    assert c.attrs["NetworkSettings"]["Networks"].keys() == {f"fgform-{fleet.name}"}
    fleet.assert_no_orphans()
    assert "No changes." in fleet.ok("plan", "-detailed-exitcode").out


def test_config_change_is_a_hitless_reload(applied: Fleet) -> None:
    port = applied.lbport  # type: ignore[attr-defined]
    c = proxy(applied)
    reloads, failed = P.reload_counts(c)
    changed = CONFIG.replace('body        = "no route"', 'body        = "still none"')
    applied.write(changed, lbport=port)
    res = applied.ok("apply", "-auto-approve")
    assert "0 added, 1 changed, 0 destroyed" in res.out, str(res)
    assert request(port, "/nothing")[::2] == (404, "still none")
    assert proxy(applied).id == c.id  # the same container
    assert P.reload_counts(c) == (reloads + 1, failed)
    # A target group change reloads the proxy that forwards to it.
    applied.write(changed.replace('path     = "/"', 'path     = "/health"'), lbport=port)
    res = applied.ok("apply", "-auto-approve")
    assert "0 added, 1 changed, 0 destroyed" in res.out, str(res)
    code, out = c.exec_run(["cat", P.CONFIG_PATH])
    assert 'http-check send meth GET uri "/health"' in out.decode()
    assert P.reload_counts(c) == (reloads + 2, failed)
    applied.write(CONFIG, lbport=port)
    applied.ok("apply", "-auto-approve")


def test_rejected_config_keeps_the_old_one_serving(applied: Fleet) -> None:
    port = applied.lbport  # type: ignore[attr-defined]
    c = proxy(applied)
    before = P.reload_counts(c)
    code, live = c.exec_run(["cat", P.CONFIG_PATH])
    broken = live.decode().replace("balance roundrobin", "balance no-such-algorithm")
    with pytest.raises(FgformError) as err:
        P.apply_config(c, broken)
    assert "refused the new configuration" in err.value.message
    # HAProxy's own words, with the line they are about.
    assert f"ALERT: config : parsing [{P.NEXT_CONFIG_PATH}:" in err.value.message
    assert "balance only supports 'roundrobin'" in err.value.message
    assert c.exec_run(["cat", P.CONFIG_PATH])[1] == live
    assert P.reload_counts(c) == before
    assert request(port, "/nothing")[::2] == (404, "no route")


def test_removed_proxy_is_planned_and_repaired(applied: Fleet) -> None:
    port = applied.lbport  # type: ignore[attr-defined]
    proxy(applied).remove(force=True)
    res = applied.run("plan", "-detailed-exitcode")
    assert res.code == 2, str(res)
    assert "fg_load_balancer.front has been deleted" in res.out, str(res)
    assert "fg_load_balancer.front will be created" in res.out, str(res)
    applied.ok("apply", "-auto-approve")
    assert request(port, "/nothing")[::2] == (404, "no route")
    assert "No changes." in applied.ok("plan", "-detailed-exitcode").out


def test_destroy_leaves_nothing(applied: Fleet) -> None:
    res = applied.ok("destroy", "-auto-approve")
    assert "3 destroyed" in res.out, str(res)
    applied.assert_nothing_left()


def test_every_rendered_feature_passes_haproxy_check(docker_client: docker.DockerClient,
                                                      ctx: FleetContext) -> None:
    """A configuration using every condition kind and action passes `haproxy -c`."""
    tgs = {"web": {"health_check": {"path": "/h", "port": "8081", "matcher": "200,204",
                                    "interval": 2, "timeout": 1, "healthy_threshold": 3,
                                    "unhealthy_threshold": 2},
                   "load_balancing_algorithm_type": "least_outstanding_requests",
                   "slow_start": 30, "stickiness": {"enabled": True, "cookie_duration": 60}},
           "api": {"health_check": None}}
    lb = {"name": "all", "listener": [
        {"port": 80, "forward": {"target_group": [{"id": "web", "weight": 9},
                                                  {"id": "api", "weight": 1}],
                                 "stickiness": {"enabled": True, "duration": 60}},
         "rule": [
             {"priority": 1, "path_patterns": ["/a/*", "/b?'"], "host_headers": ["x.*"],
              "http_request_methods": ["GET"], "source_ips": ["10.0.0.0/8"],
              "http_headers": [{"name": "X-A", "values": ["1", "2*"]}],
              "query_strings": [{"key": None, "value": "q*"}], "target_group": "api"},
             {"priority": 2, "path_patterns": ["/r"], "redirect": {
                 "protocol": "HTTPS", "host": "h%", "port": "8443", "path": "/#{path}",
                 "query": "a=#{query}", "status_code": "HTTP_302"}},
             {"priority": 3, "path_patterns": ["/f"], "fixed_response": {
                 "status_code": 500, "content_type": "text/html", "body": "<b>\n'x'\\"}}]},
        {"port": 8080, "default_target_group": "web", "rule": []}]}
    text = render_haproxy_config(lb, tgs, {"web": [
        {"id": "t1", "address": "10.0.0.2", "port": 8080},
        {"id": "t2", "address": "10.0.0.3", "port": 8080, "state": "draining"}]})
    image = LB.ensure_proxy_image(CLIENT, ctx)
    out = docker_client.containers.run(
        image, entrypoint=["sh", "-c", 'printf "%s" "$CFG" > /tmp/c.cfg && '
                                       "haproxy -c -f /tmp/c.cfg"],
        environment={"CFG": text}, remove=True, labels={"fgform.lineage": ctx.lineage})
    assert b"Configuration file is valid" in out


# -- a service behind the load balancer -------------------------------------------------------
@pytest.fixture(scope="module")
def svc_fleet(docker_client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[Fleet]:
    yield from module_fleet(docker_client, tmp_path_factory, "lb-svc", SERVICE_CONFIG)


def answers(port: int, n: int = 30, *, strict: bool = True) -> dict[str, int]:
    """Which task answered how many of n requests (each on a new connection); a failed
    request fails the test, or with `strict=False` makes the answer empty."""
    seen: dict[str, int] = {}
    for _ in range(n):
        status, _h, body = request(port, "/")
        if not strict and status != 200:
            return {}
        assert status == 200, (status, body)
        seen[body.strip()] = seen.get(body.strip(), 0) + 1
    return seen


def task_hosts(fleet: Fleet) -> set[str]:
    """The host names of the service's task containers (fgform names a task's host after it)."""
    return {fleet.client.api.inspect_container(c["Id"])["Config"]["Hostname"]
            for c in fleet.containers(service="web") if c["State"] == "running"}


def wait_for(what, timeout: float = 20.0):  # type: ignore[no-untyped-def]
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def test_service_tasks_are_registered_and_scale_without_reload(svc_fleet: Fleet) -> None:
    port = svc_fleet.lbport  # type: ignore[attr-defined]
    svc_fleet.ok("apply", "-auto-approve")
    c = proxy(svc_fleet)
    reloads = P.reload_counts(c)
    # Both tasks answer through the load balancer.
    assert wait_for(lambda: set(answers(port)) == task_hosts(svc_fleet)), answers(port)
    assert len(task_hosts(svc_fleet)) == 2
    svc = svc_fleet.resources()["fg_service.web"]["attributes"]
    tg_id = svc_fleet.resources()["fg_target_group.web"]["attributes"]["id"]
    assert sorted(t["id"] for t in svc["targets"]) == sorted(t["id"] for t in svc["tasks"])
    assert {t["target_group"] for t in svc["targets"]} == {tg_id}
    assert "No changes." in svc_fleet.ok("plan", "-detailed-exitcode").out

    for count in (3, 1):
        res = svc_fleet.ok("apply", "-auto-approve", "-var", f"replicas={count}")
        assert "1 changed" in res.out, str(res)
        hosts = task_hosts(svc_fleet)
        assert len(hosts) == count
        assert wait_for(lambda: set(answers(port)) == task_hosts(svc_fleet)), answers(port)
        # Registration and draining went through the runtime API: no reload at all.
        assert P.reload_counts(c) == reloads
        svc_fleet.assert_no_orphans()
    assert "No changes." in svc_fleet.ok(
        "plan", "-detailed-exitcode", "-var", "replicas=1").out


def test_apply_prints_endpoints_and_lb_status_and_access_log(svc_fleet: Fleet) -> None:
    port = svc_fleet.lbport  # type: ignore[attr-defined]
    res = svc_fleet.ok("apply", "-auto-approve", "-var", "replicas=2")
    assert res.out.rstrip().endswith(
        f"Endpoints:\n\nfg_load_balancer.front = http://127.0.0.1:{port}"), res.out
    assert wait_for(lambda: len(answers(port, 10)) == 2)
    status = json.loads(svc_fleet.ok("lb", "status", "front", "-json").out)
    (lb,) = status
    assert lb["address"] == "fg_load_balancer.front" and lb["running"]
    (tg,) = lb["target_groups"]
    tasks = svc_fleet.resources()["fg_service.web"]["attributes"]["tasks"]
    assert sorted(t["id"] for t in tg["targets"]) == sorted(t["id"] for t in tasks)
    assert {t["state"] for t in tg["targets"]} == {"healthy"}
    assert sum(t["requests"] for t in tg["targets"]) >= 10
    assert all(t["errors_5xx"] == 0 for t in tg["targets"])
    text = svc_fleet.ok("lb", "status").out
    assert "TARGET" in text and "healthy" in text
    assert "no load balancer named 'nope'" in svc_fleet.fails("lb", "status", "nope").err
    request(port, "/?access-log-probe")
    log = wait_for(lambda: [ln for ln in svc_fleet.ok(
        "logs", "fg_load_balancer.front", "-tail", "50").out.splitlines()
        if "access-log-probe" in ln])
    assert log and " GET /?access-log-probe 200 tg_" in log[-1], log


def test_a_target_removed_from_the_proxy_is_drift(svc_fleet: Fleet) -> None:
    from fgform.fleet.docker import registration
    from fgform.fleet.haproxy import backend_name, server_name

    port = svc_fleet.lbport  # type: ignore[attr-defined]
    svc_fleet.ok("apply", "-auto-approve", "-var", "replicas=2")
    c = proxy(svc_fleet)
    tg_id = svc_fleet.resources()["fg_target_group.web"]["attributes"]["id"]
    task = svc_fleet.resources()["fg_service.web"]["attributes"]["tasks"][0]
    backend = backend_name(tg_id)
    P.runtime(c, f"set server {backend}/{server_name(task['id'])} state maint")
    P.runtime(c, f"del server {backend}/{server_name(task['id'])}")
    res = svc_fleet.run("plan", "-detailed-exitcode", "-var", "replicas=2")
    assert res.code == 2, str(res)
    assert f"task {task['id']} is not registered in target group {tg_id}" in res.out, str(res)
    svc_fleet.ok("apply", "-auto-approve", "-var", "replicas=2")
    assert server_name(task["id"]) in (registration.servers(c, backend) or {})
    assert wait_for(lambda: set(answers(port)) == task_hosts(svc_fleet))
    assert "No changes." in svc_fleet.ok(
        "plan", "-detailed-exitcode", "-var", "replicas=2").out

    # The proxy container removed by hand: the plan makes it again and re-registers the
    # service's targets; afterwards both tasks answer at the same URL.
    c.remove(force=True)
    res = svc_fleet.run("plan", "-detailed-exitcode", "-var", "replicas=2")
    assert res.code == 2, str(res)
    assert "fg_load_balancer.front will be created" in res.out, str(res)
    assert "fg_service.web will be updated in-place" in res.out, str(res)
    svc_fleet.ok("apply", "-auto-approve", "-var", "replicas=2")
    assert wait_for(lambda: set(answers(port, 10, strict=False)) == task_hosts(svc_fleet))
    assert "No changes." in svc_fleet.ok(
        "plan", "-detailed-exitcode", "-var", "replicas=2").out


def _task_container(fleet: Fleet, hostname: str) -> docker.models.containers.Container:
    for c in fleet.containers(service="web"):
        if fleet.client.api.inspect_container(c["Id"])["Config"]["Hostname"] == hostname:
            return fleet.client.containers.get(c["Id"])
    raise AssertionError(f"no task container named {hostname}")


def test_failing_target_stops_getting_traffic_within_interval_times_threshold(
        svc_fleet: Fleet) -> None:
    port = svc_fleet.lbport  # type: ignore[attr-defined]
    svc_fleet.ok("apply", "-auto-approve", "-var", "replicas=2")
    assert wait_for(lambda: len(answers(port, 10)) == 2)
    hosts = sorted(task_hosts(svc_fleet))
    sick = _task_container(svc_fleet, hosts[0])
    sick.exec_run(["rm", "/www/health"])
    failed_at = time.monotonic()
    last_seen = failed_at
    while time.monotonic() - failed_at < 5:
        status, _h, body = request(port, "/")
        assert status == 200, (status, body)  # the other task answers: nothing fails
        if body.strip() == hosts[0]:
            last_seen = time.monotonic()
        time.sleep(0.02)
    took = last_seen - failed_at
    # interval 1 s x unhealthy_threshold 2, plus a check's own time and the polling step.
    assert took <= 2 * 1 + 0.5, f"the failing target still got traffic after {took:.2f} s"
    print(f"\nfailing target out of rotation after {took:.2f} s (bound: 2 s)")
    status = json.loads(svc_fleet.ok("lb", "status", "-json").out)[0]["target_groups"][0]
    states = {t["id"]: t["state"] for t in status["targets"]}
    assert sorted(states.values()) == ["healthy", "unhealthy"], states

    # No healthy target at all: 503, as an ALB answers.
    _task_container(svc_fleet, hosts[1]).exec_run(["rm", "/www/health"])
    assert wait_for(lambda: request(port, "/")[0] == 503, timeout=5)
    for h in hosts:
        _task_container(svc_fleet, h).exec_run(["sh", "-c", "echo ok > /www/health"])
    assert wait_for(lambda: set(answers(port, 10, strict=False)) == set(hosts), timeout=10)


def test_draining_lets_an_in_flight_request_finish(svc_fleet: Fleet) -> None:
    port = svc_fleet.lbport  # type: ignore[attr-defined]
    svc_fleet.ok("apply", "-auto-approve", "-var", "replicas=2")
    assert wait_for(lambda: len(answers(port, 10)) == 2)
    slow: list[tuple[int, str]] = []

    def slow_request() -> None:
        status, _h, body = request(port, "/cgi-bin/slow")
        slow.append((status, body.strip()))

    # Round robin: two slow requests in flight, one on each task.
    threads = [threading.Thread(target=slow_request) for _ in range(2)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    svc_fleet.ok("apply", "-auto-approve", "-var", "replicas=1")
    for t in threads:
        t.join()
    (left,) = task_hosts(svc_fleet)
    # Both finished, the one on the stopped task too: it was drained, not cut.
    assert sorted(st for st, _ in slow) == [200, 200], slow
    assert len({body for _, body in slow}) == 2, slow
    # New requests went to the remaining task only.
    assert set(answers(port, 10)) == {left}


def test_scale_under_load_fails_no_request(svc_fleet: Fleet) -> None:
    """300 requests a second, each on a new connection, while the service scales
    2 -> 6 -> 2 -> 6 -> 2: no failed request, and no proxy reload."""
    from lb_load import Load

    port = svc_fleet.lbport  # type: ignore[attr-defined]
    svc_fleet.ok("apply", "-auto-approve", "-var", "replicas=2")
    assert wait_for(lambda: len(answers(port, 10)) == 2)
    c = proxy(svc_fleet)
    reloads = P.reload_counts(c)
    load = Load(f"http://127.0.0.1:{port}/", rps=300, workers=24).start()
    try:
        for count in (6, 2, 6, 2):
            svc_fleet.ok("apply", "-auto-approve", "-var", f"replicas={count}")
    finally:
        result = load.stop()
    print(f"\nscale 2-6-2-6-2 under load: {result.summary()}, "
          f"reloads {P.reload_counts(c)[0] - reloads[0]}")
    assert result.failed == 0, (result.summary(), result.errors)
    assert result.rate >= 250, result.summary()  # the load held (the machine is shared)
    assert P.reload_counts(c) == reloads


def test_reconcile_replaces_3_of_4_killed_tasks_under_load_without_a_failed_request(
        svc_fleet: Fleet) -> None:
    """300 requests a second while 3 of 4 tasks are killed at once, `reconcile -watch`
    running: no request fails (the proxy marks a dead target down at its first failed
    connection and sends the request to another), no pass fails, and the proxy ends up
    holding exactly the 4 running tasks (the dead targets removed)."""
    from lb_load import Load

    from fgform.fleet.docker import registration
    from fgform.fleet.haproxy import backend_name, server_name

    port = svc_fleet.lbport  # type: ignore[attr-defined]
    svc_fleet.ok("apply", "-auto-approve", "-var", "replicas=4")
    assert wait_for(lambda: len(answers(port, 20, strict=False)) == 4, 60)
    watch = svc_fleet.start("reconcile", "-watch", "-interval", "120")
    try:
        watch.wait_line("at desired count (4/4 running)", 60)
        victims = [c for c in svc_fleet.containers(service="web")
                   if c["State"] == "running"][:3]
        assert len(victims) == 3
        # Threads to spare: a request whose connection the kernel retries holds one ~1 s.
        load = Load(f"http://127.0.0.1:{port}/", rps=300, workers=192).start()
        try:
            time.sleep(1)
            killers = [threading.Thread(target=svc_fleet.client.api.kill, args=(c["Id"],))
                       for c in victims]
            for k in killers:
                k.start()
            for k in killers:
                k.join(30)
            # From here every victim is dead: no request sent later can be inside one.
            # (Between issuing the kills and their landing, a request may still reach a
            # victim and be cut mid-response: seen once in CI as an IncompleteRead.)
            t_killed = time.monotonic()

            def whole() -> bool:
                running = [c for c in svc_fleet.containers(service="web")
                           if c["State"] == "running"]
                return len(running) == 4 and not {c["Id"] for c in victims} & \
                    {c["Id"] for c in running}

            watch.wait_for(whole, 60, "4 running tasks again")
            assert wait_for(lambda: len(answers(port, 20, strict=False)) == 4, 30)
            time.sleep(1)
        finally:
            result = load.stop()
    finally:
        watch.proc.send_signal(signal.SIGINT)
        watch.proc.wait(30)
    watch._reader.join(5)
    print(f"\n3 of 4 killed under load: {result.summary()}")
    # No request sent once the kills landed failed. One already inside a killed process
    # (its response begun) cannot be replayed by any proxy: at most one per killed task.
    assert result.failed_between(t_killed, math.inf) == 0, (result.summary(), result.errors)
    assert result.failed <= 3, (result.summary(), result.errors)
    assert result.rate >= 200, result.summary()  # the load held (the machine is shared)
    assert "Error" not in watch.output, watch.output
    assert "restored" in watch.output, watch.output
    # The proxy holds the 4 running tasks and nothing else: the dead ones were removed.
    tasks = {t["task_id"] for t in svc_fleet.tasks()}
    backend = backend_name(svc_fleet.resources()["fg_target_group.web"]["attributes"]["id"])
    held = wait_for(lambda: set(registration.servers(proxy(svc_fleet), backend) or {})
                    == {server_name(t) for t in tasks}, 20)
    assert held, (registration.servers(proxy(svc_fleet), backend), tasks)


def test_runtime_commands_in_one_exec_each_get_their_own_answer(svc_fleet: Fleet) -> None:
    """Several runtime API commands in one exec: each answer is its own command's, an
    error answer stays with its command, and a socket that does not answer is an error."""

    c = proxy(svc_fleet)
    version, missing, stat = P.runtime_all(
        c, ["show version", "del server no_such_backend/x", "show stat -1 4 -1"])
    assert version.strip()[0].isdigit(), version
    assert "no_such_backend" in missing or "Can't find" in missing or "No such" in missing, \
        missing
    assert stat.startswith("# pxname,svname"), stat
    with pytest.raises(FgformError, match="did not answer"):
        P.socket_commands(c, "/run/haproxy/no-such.sock", ["show version"])


def test_service_destroy_leaves_nothing(svc_fleet: Fleet) -> None:
    svc_fleet.ok("apply", "-auto-approve", "-var", "replicas=2")
    res = svc_fleet.ok("destroy", "-auto-approve", "-var", "replicas=2")
    assert "5 destroyed" in res.out, str(res)
    svc_fleet.assert_nothing_left()


# -- weighted forward and stickiness ----------------------------------------------------------
WEIGHTED_CONFIG = """
resource "fg_cluster" "main" {
  name       = "$name"
  cidr_block = "$cidr"
  capacity {
    instance_count  = 2
    instance_cpu    = 1024
    instance_memory = 512
  }
}

resource "fg_task_definition" "web" {
  family = "$name-web"
  cpu    = 128
  memory = 64
  container "web" {
    image        = "$base_image"
    command      = ["sh", "-c", "echo $start | busybox base64 -d > /start.sh && exec sh /start.sh"]
    stop_timeout = 1
    port_mapping {
      container_port = 8080
    }
  }
}

resource "fg_target_group" "blue" {
  port = 8080
  health_check {
    path     = "/health"
    interval = 1
  }
  stickiness {
    cookie_duration = 300
  }
}

resource "fg_target_group" "green" {
  port = 8080
  health_check {
    path     = "/health"
    interval = 1
  }
}

resource "fg_service" "blue" {
  name            = "blue"
  cluster         = fg_cluster.main.id
  task_definition = fg_task_definition.web.arn
  desired_count   = 2
  load_balancer {
    target_group   = fg_target_group.blue.id
    container_name = "web"
    container_port = 8080
  }
}

resource "fg_service" "green" {
  name            = "green"
  cluster         = fg_cluster.main.id
  task_definition = fg_task_definition.web.arn
  desired_count   = 1
  load_balancer {
    target_group   = fg_target_group.green.id
    container_name = "web"
    container_port = 8080
  }
}

resource "fg_load_balancer" "front" {
  cluster = fg_cluster.main.id
  listener {
    port = $lbport
    forward {
      target_group {
        id     = fg_target_group.blue.id
        weight = 80
      }
      target_group {
        id     = fg_target_group.green.id
        weight = 20
      }
    }

    rule {
      priority = 1
      query_strings {
        key   = "sticky"
        value = "1"
      }
      forward {
        target_group {
          id     = fg_target_group.blue.id
          weight = 1
        }
        target_group {
          id     = fg_target_group.green.id
          weight = 1
        }
        stickiness {
          enabled  = true
          duration = 300
        }
      }
    }
  }
}
"""


@pytest.fixture(scope="module")
def weighted_fleet(docker_client: docker.DockerClient,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    yield from module_fleet(docker_client, tmp_path_factory, "lb-weighted", WEIGHTED_CONFIG)


def _hosts_of(fleet: Fleet, service: str) -> set[str]:
    return {fleet.client.api.inspect_container(c["Id"])["Config"]["Hostname"]
            for c in fleet.containers(service=service) if c["State"] == "running"}


def test_weighted_forward_and_stickiness(weighted_fleet: Fleet) -> None:
    port = weighted_fleet.lbport  # type: ignore[attr-defined]
    weighted_fleet.ok("apply", "-auto-approve")
    blue, green = _hosts_of(weighted_fleet, "blue"), _hosts_of(weighted_fleet, "green")
    assert len(blue) == 2 and len(green) == 1
    assert wait_for(lambda: set(answers(port, 40, strict=False)) == blue | green)
    seen = answers(port, 1000)
    share = sum(n for h, n in seen.items() if h in blue) / 1000
    print(f"\nweighted forward 80/20: blue got {share:.1%} of 1000 requests")
    assert 0.76 <= share <= 0.84, seen

    # Stickiness: the rule's target group choice (its cookie), then the target within the
    # target group (the target group's lb_cookie): a client keeps getting the same task.
    clients = 0
    for _ in range(20):
        status, headers, body = request(port, "/?sticky=1")
        assert status == 200
        cookies = [c.split(";")[0] for c in headers.get("set-cookie", "").splitlines()]
        assert any(c.startswith("fgform_tg_") for c in cookies), headers
        if body.strip() in blue:
            assert any(c.startswith("fgform_lb_") for c in cookies), headers
        again = {request(port, "/?sticky=1", headers={"Cookie": "; ".join(cookies)})[2].strip()
                 for _ in range(10)}
        assert again == {body.strip()}, (cookies, again)
        clients += body.strip() in blue
    assert 0 < clients < 20  # both target groups got sticky clients
    weighted_fleet.ok("destroy", "-auto-approve")
    weighted_fleet.assert_nothing_left()
