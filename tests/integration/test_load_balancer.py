"""fg_load_balancer on the real engine: a real HAProxy container, real HTTP to 127.0.0.1.

The module applies one load balancer (fixed responses, redirects, every condition kind,
priorities) and takes it through its life in file order: routing, an in-place change
(a hitless reload), a configuration HAProxy rejects, drift (the container removed by
hand), destroy. Run alone, each test still works (the fixture applies when needed).
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator

import docker
import pytest
from fixtures.fgcli import Fleet, free_port, remove_lineages

from fgform.errors import FgformError
from fgform.fleet.docker import load_balancer as LB
from fgform.fleet.driver import FleetContext
from fgform.render.haproxy import render_haproxy_config

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
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read().decode()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def fleet(docker_client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Fleet]:
    f = Fleet(tmp_path_factory.mktemp("lb"), docker_client)
    f.lbport = free_port()  # type: ignore[attr-defined]
    f.write(CONFIG, lbport=f.lbport)  # type: ignore[attr-defined]
    try:
        yield f
    finally:
        lineages = set(f.lineages)
        left = {lin: f.objects(lin) for lin in lineages}
        remove_lineages(docker_client, lineages)
        assert all(not any(v.values()) for v in left.values()), f"left behind: {left}"


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
    reloads, failed = LB.reload_counts(c)
    changed = CONFIG.replace('body        = "no route"', 'body        = "still none"')
    applied.write(changed, lbport=port)
    res = applied.ok("apply", "-auto-approve")
    assert "0 added, 1 changed, 0 destroyed" in res.out, str(res)
    assert request(port, "/nothing")[::2] == (404, "still none")
    assert proxy(applied).id == c.id  # the same container
    assert LB.reload_counts(c) == (reloads + 1, failed)
    # A target group change reloads the proxy that forwards to it.
    applied.write(changed.replace('path     = "/"', 'path     = "/health"'), lbport=port)
    res = applied.ok("apply", "-auto-approve")
    assert "0 added, 1 changed, 0 destroyed" in res.out, str(res)
    code, out = c.exec_run(["cat", LB.CONFIG_PATH])
    assert 'http-check send meth GET uri "/health"' in out.decode()
    assert LB.reload_counts(c) == (reloads + 2, failed)
    applied.write(CONFIG, lbport=port)
    applied.ok("apply", "-auto-approve")


def test_rejected_config_keeps_the_old_one_serving(applied: Fleet) -> None:
    port = applied.lbport  # type: ignore[attr-defined]
    c = proxy(applied)
    before = LB.reload_counts(c)
    code, live = c.exec_run(["cat", LB.CONFIG_PATH])
    broken = live.decode().replace("balance roundrobin", "balance no-such-algorithm")
    with pytest.raises(FgformError) as err:
        LB.apply_config(c, broken)
    assert "refused the new configuration" in err.value.message
    # HAProxy's own words, with the line they are about.
    assert f"ALERT: config : parsing [{LB.NEXT_CONFIG_PATH}:" in err.value.message
    assert "balance only supports 'roundrobin'" in err.value.message
    assert c.exec_run(["cat", LB.CONFIG_PATH])[1] == live
    assert LB.reload_counts(c) == before
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
    image = LB.ensure_proxy_image(ctx)
    out = docker_client.containers.run(
        image, entrypoint=["sh", "-c", 'printf "%s" "$CFG" > /tmp/c.cfg && '
                                       "haproxy -c -f /tmp/c.cfg"],
        environment={"CFG": text}, remove=True, labels={"fgform.lineage": ctx.lineage})
    assert b"Configuration file is valid" in out
