"""examples/api/README.md for real: apply the example, `fgform serve`, a key whose policy
allows only `ecs:Describe*` and `ecs:UpdateService` on the service `web`, the aws CLI scaling
`web` to 4 (four tasks RUNNING as `fgform tasks` shows), `aws ecs run-task` denied with
AccessDeniedException, `plan` showing the new count as drift; then the server stopped with
SIGTERM and everything destroyed. Between, the load balancer is seen reaching the four tasks.

The example is copied to the test's directory with its ports, subnet and cluster name
replaced by free ones (and the policy's service ARN with the cluster's new name), so it runs
beside anything else on the engine.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import docker
import pytest
from fixtures.fgcli import Fleet, Running, clean_up, free_port, http_get

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "api"


def copy_example(fleet: Fleet, lb_port: int) -> None:
    """examples/api into the fleet's directory, on the fleet's registry port, subnet and
    cluster name, with the load balancer on `lb_port`."""
    shutil.copytree(EXAMPLE, fleet.dir, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("state", ".fgform", "*.fgplan"))
    main = fleet.dir / "main.tf"
    text = main.read_text()
    for old, new in ((r"port = 5005\n", f"port = {fleet.port}\n"),
                     (r'cidr_block = "10\.213\.60\.0/24"', f'cidr_block = "{fleet.cidr}"'),
                     (r'name       = "api"', f'name       = "{fleet.name}"'),
                     (r"port                 = 8085", f"port                 = {lb_port}")):
        text, n = re.subn(old, new, text)
        assert n == 1, f"examples/api/main.tf no longer has {old!r}"
    main.write_text(text)
    policy = fleet.dir / "scale-web.json"
    text = policy.read_text()
    assert ":service/api/web" in text
    policy.write_text(text.replace(":service/api/web", f":service/{fleet.name}/web"))


def running_web(fleet: Fleet) -> int:
    return sum(1 for t in fleet.tasks() if t["service"] == "web" and t["status"] == "RUNNING")


def wait_listening(server: Running, port: int) -> None:
    def up() -> bool:
        with socket.socket() as s:
            s.settimeout(0.5)
            return s.connect_ex(("127.0.0.1", port)) == 0

    server.wait_for(up, timeout=60, desc=f"fgform serve listening on 127.0.0.1:{port}")


def stop_server(server: Running) -> int:
    """SIGTERM, as the README's `kill %1`: the server's exit code (killed after a minute)."""
    server.proc.send_signal(signal.SIGTERM)
    try:
        return server.finish(timeout=60)
    except subprocess.TimeoutExpired:
        server.kill9()
        return -signal.SIGKILL


def aws(endpoint: str, key: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The aws CLI (the one installed with the test dependencies), signing with `key` only:
    no profile, credentials file or instance metadata of the machine takes part."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_ACCESS_KEY_ID": key["access_key_id"],
                "AWS_SECRET_ACCESS_KEY": key["secret_access_key"],
                "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_PAGER": ""})
    return subprocess.run([sys.executable, "-m", "awscli", "ecs", *args, "--endpoint-url",
                           endpoint, "--output", "json"], capture_output=True, text=True,
                          env=env, timeout=300, stdin=subprocess.DEVNULL)


def ok_json(res: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert res.returncode == 0, f"aws {res.args[3:]}: exit {res.returncode}\n{res.stderr}"
    return json.loads(res.stdout)


def test_readme_walkthrough(docker_client: docker.DockerClient, tmp_path: Path) -> None:
    fleet = Fleet(tmp_path / "api", docker_client)
    copy_example(fleet, free_port())
    api_port = free_port()
    endpoint = f"http://127.0.0.1:{api_port}"
    server: Running | None = None
    key: dict[str, str] | None = None
    try:
        # 1. the fleet and the server
        fleet.ok("apply", "-auto-approve", timeout=600)
        assert running_web(fleet) == 2
        server = fleet.start("serve", "-listen", f"127.0.0.1:{api_port}")
        wait_listening(server, api_port)

        # 2. the key: printed once, kept 0600
        key = json.loads(fleet.ok("api-key", "create", "scaler", "-policy", "scale-web.json",
                                  "-json").out)
        assert set(key) >= {"access_key_id", "secret_access_key"}, key
        keys_file = fleet.dir / ".fgform" / "api-keys.json"
        assert keys_file.stat().st_mode & 0o777 == 0o600
        listed = fleet.ok("api-key", "list")
        assert "scaler" in listed.out and key["secret_access_key"] not in listed.text

        # 3. describe, then scale web to 4 with the aws CLI: the real fleet follows
        svc = ok_json(aws(endpoint, key, "describe-services", "--cluster", fleet.name,
                          "--services", "web"))["services"]
        assert [(s["serviceName"], s["desiredCount"]) for s in svc] == [("web", 2)], svc
        assert svc[0]["serviceArn"] == \
            f"arn:aws:ecs:us-east-1:000000000000:service/{fleet.name}/web"
        updated = ok_json(aws(endpoint, key, "update-service", "--cluster", fleet.name,
                              "--service", "web", "--desired-count", "4"))["service"]
        assert updated["desiredCount"] == 4, updated
        assert updated["deployments"] and updated["deployments"][0]["desiredCount"] == 4, updated
        deadline = time.monotonic() + 120
        while (n := running_web(fleet)) != 4:
            assert time.monotonic() < deadline, f"{n} tasks of web RUNNING, not 4"
            time.sleep(0.5)
        again = ok_json(aws(endpoint, key, "describe-services", "--cluster", fleet.name,
                            "--services", "web"))["services"][0]
        assert again["desiredCount"] == 4 and again["runningCount"] == 4, again
        # ... and the load balancer reaches all four (each answer names its task)
        url = json.loads(fleet.ok("output", "-json").out)["url"]["value"]
        seen: set[str] = set()
        deadline = time.monotonic() + 60
        while len(seen) < 4:
            assert time.monotonic() < deadline, f"the load balancer reached only {seen}"
            try:
                seen |= set(re.findall(r"task: (\S+)", http_get(url + "/cgi-bin/info")))
            except OSError:  # the proxy reloading its targets: ask again
                time.sleep(0.2)

        # 4. run-task is not in the policy: denied, and nothing runs
        denied = aws(endpoint, key, "run-task", "--cluster", fleet.name, "--task-definition",
                     "api-web")
        assert denied.returncode != 0, denied.stdout
        assert "(AccessDeniedException)" in denied.stderr, denied.stderr
        assert "ecs:RunTask" in denied.stderr, denied.stderr
        why = fleet.ok("api-key", "simulate", "scaler", "ecs:RunTask",
                       "arn:aws:ecs:us-east-1:000000000000:task-definition/api-web:1")
        assert "implicitly denied" in why.out, why.out
        rows = fleet.tasks()
        assert sorted(t["service"] for t in rows) == ["web"] * 4, rows
        log = fleet.ok("api-log")
        assert "RunTask" in log.out and "UpdateService" in log.out, log.out
        assert key["secret_access_key"] not in log.text

        # 5. plan: the configuration still says 2, so the API's 4 is drift to undo
        plan = fleet.run("plan", "-detailed-exitcode", "-no-color")
        assert plan.code == 2, str(plan)
        assert re.search(r"~ desired_count += 4 -> 2", plan.out), plan.out
        doc = json.loads(fleet.ok("plan", "-json").out)
        changed = {rc["address"]: rc["change"] for rc in doc["resource_changes"]
                   if rc["change"]["actions"] != ["no-op"]}
        assert list(changed) == ["fg_service.web"], list(changed)
        assert changed["fg_service.web"]["actions"] == ["update"]
        assert changed["fg_service.web"]["before"]["desired_count"] == 4
        assert changed["fg_service.web"]["after"]["desired_count"] == 2
    finally:
        code = stop_server(server) if server is not None else 0
        res = fleet.run("destroy", "-auto-approve", timeout=600)
        clean_up(docker_client, [fleet])
    assert server is not None and key is not None
    assert code == 0, f"fgform serve exited {code} on SIGTERM:\n{server.output}"
    assert key["secret_access_key"] not in server.output
    assert res.code == 0, str(res)
