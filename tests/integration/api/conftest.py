"""The API server under test: `fgform serve` as a real subprocess (real uvicorn, real HTTP)
in a configuration directory, driven with boto3, the aws CLI and raw signed requests.

- `api_server`: a server in a fresh, empty configuration directory (tmp_path/config).
- `start_api_server(dir=None, *flags, preload=None, ...)`: starts more (another directory,
  say a `fixtures.fgcli.Fleet`'s `dir`, or other flags); every server a test started is
  stopped with SIGTERM at teardown, and must then exit 0.

Each server is an `ApiServer`: `.url`, `.dir`, `.key(name, policy) -> (id, secret)`
(`fgform api-key create -json`), `.boto3(id, secret)` (an ECS client, one attempt per call),
`.aws(args, id, secret) -> (rc, stdout, stderr)` (the aws CLI), `.call(action, params, id,
secret)` (a signed request of any action, even one botocore does not know, with any body),
`.audit()` (the audit log's records), `.stop()`.

On a real fleet: make the configuration with `fixtures.fgcli.Fleet` (its `write`, `ok("apply",
"-auto-approve")`), then `start_api_server(fleet.dir)`; what the server creates carries the
state's lineage, so `fixtures.fgcli.clean_up(docker_client, [fleet])` removes it too (call
`fleet.state()` once the state exists, so the fleet knows its lineage). Mark such test
modules `pytestmark = pytest.mark.docker`.

`preload="module"` imports that module (from tests/integration/api) in the server process
before fgform starts: how tests register actions of their own (a slow one, a failing one)
without any test hook in fgform itself.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113."
REGION = "us-east-1"
ALLOW_ALL = {"Version": "2012-10-17",
             "Statement": [{"Effect": "Allow", "Action": "ecs:*", "Resource": "*"}]}
STARTUP_SECONDS = 60


def server_env(**extra: str) -> dict[str, str]:
    """The environment of an fgform (or aws CLI) subprocess: this worktree's fgform first on
    the path, no AWS configuration of the machine's user (only what a test gives)."""
    env = dict(os.environ)
    env.update({"PYTHONUNBUFFERED": "1", "NO_COLOR": "1", "TERM": "dumb",
                "PYTHONPATH": os.pathsep.join([str(REPO), str(HERE),
                                               env.get("PYTHONPATH", "")]),
                "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                "AWS_EC2_METADATA_DISABLED": "true", "AWS_PAGER": ""})
    for name in ("FGFORM_LOG", "AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                 "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_ECS"):
        env.pop(name, None)
    env.update(extra)
    return env


def fgform(dir: Path, *args: str, timeout: float = 60, input: str | None = None,
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `fgform -chdir=DIR ARGS` to the end."""
    return subprocess.run([sys.executable, "-m", "fgform", f"-chdir={dir}", *args],
                          capture_output=True, text=True, timeout=timeout, input=input,
                          env=env or server_env(), stdin=None if input else subprocess.DEVNULL)


@dataclass
class ApiServer:
    """One running `fgform serve`."""

    dir: Path
    proc: subprocess.Popen[str]
    url: str = ""
    verify: bool | str = True
    output: list[str] = field(default_factory=list)
    _lines: queue.Queue[str | None] = field(default_factory=queue.Queue)

    # -- process ------------------------------------------------------------------------------
    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)
            self._lines.put(line)
        self._lines.put(None)

    def wait_listening(self, timeout: float = STARTUP_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"the server did not start:\n{self.text}") from None
            if line is None:
                self.proc.wait(10)
                raise AssertionError(f"the server exited {self.proc.returncode} before "
                                     f"listening:\n{self.text}")
            if "listening on " in line:
                self.url = line.split("listening on ", 1)[1].split()[0]
                return

    @property
    def text(self) -> str:
        """Everything the server printed (stdout and stderr) so far."""
        return "".join(self.output)

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM, then wait for the exit; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise AssertionError(f"the server did not stop on SIGTERM:\n{self.text}") from None

    # -- keys and clients ---------------------------------------------------------------------
    def fgform(self, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        """`fgform -chdir=DIR ARGS` in the server's directory."""
        return fgform(self.dir, *args, **kw)

    def key(self, name: str, policy: dict[str, Any] | None = None) -> tuple[str, str]:
        """A new access key bound to `policy` (default: every ecs action on everything)."""
        path = self.dir / f".policy-{name}.json"
        path.write_text(json.dumps(policy if policy is not None else ALLOW_ALL))
        res = self.fgform("api-key", "create", name, "-policy", str(path), "-json")
        assert res.returncode == 0, res.stdout + res.stderr
        data = json.loads(res.stdout)
        return data["access_key_id"], data["secret_access_key"]

    def boto3(self, key_id: str, secret: str, *, max_attempts: int = 1,
              region_name: str = REGION, **config: Any) -> Any:
        """A boto3 ECS client for this server with these credentials (`config`: more
        botocore Config settings)."""
        import boto3
        from botocore.config import Config

        session = boto3.session.Session(aws_access_key_id=key_id,
                                        aws_secret_access_key=secret, region_name=region_name)
        return session.client("ecs", endpoint_url=self.url, verify=self.verify,
                              config=Config(retries={"max_attempts": max_attempts,
                                                     "mode": "standard"}, **config))

    def aws(self, args: list[str], key_id: str, secret: str,
            timeout: float = 120) -> tuple[int, str, str]:
        """`aws ecs ARGS --endpoint-url URL` with these credentials: (rc, stdout, stderr)."""
        cmd = [sys.executable, "-m", "awscli", "ecs", *args, "--endpoint-url", self.url,
               "--region", REGION, "--output", "json"]
        if self.verify is False:
            cmd.append("--no-verify-ssl")
        extra = {"AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": secret,
                 "AWS_MAX_ATTEMPTS": "1", "AWS_RETRY_MODE": "standard"}
        if isinstance(self.verify, str):
            extra["AWS_CA_BUNDLE"] = self.verify
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              env=server_env(**extra), stdin=subprocess.DEVNULL)
        return proc.returncode, proc.stdout, proc.stderr

    def call(self, action: str, params: Any = None, key_id: str | None = None,
             secret: str | None = None, *, body: bytes | None = None,
             headers: dict[str, str] | None = None, method: str = "POST", path: str = "/",
             timeout: float = 120) -> tuple[int, dict[str, str], Any]:
        """One raw request (SigV4-signed when a key is given): `params` as the JSON body
        (or `body` as is). Returns (status, headers with lower-case names, parsed JSON)."""
        data = body if body is not None else json.dumps(params or {}).encode()
        hdrs = {"Content-Type": "application/x-amz-json-1.1",
                "X-Amz-Target": TARGET_PREFIX + action, **(headers or {})}
        url = self.url.rstrip("/") + path
        if key_id is not None:
            from botocore.auth import SigV4Auth
            from botocore.awsrequest import AWSRequest
            from botocore.credentials import Credentials

            req = AWSRequest(method=method, url=url, data=data, headers=hdrs)
            SigV4Auth(Credentials(key_id, secret or ""), "ecs", REGION).add_auth(req)
            hdrs = dict(req.headers.items())
        return http(method, url, data, hdrs, timeout=timeout, verify=self.verify)

    # -- the audit log ------------------------------------------------------------------------
    @property
    def audit_path(self) -> Path:
        return self.dir / ".fgform" / "api-audit.log"

    def audit(self) -> list[dict[str, Any]]:
        """The audit log's records, in order."""
        if not self.audit_path.exists():
            return []
        return [json.loads(line) for line in self.audit_path.read_text().splitlines()]


def http(method: str, url: str, data: bytes | None, headers: dict[str, str], *,
         timeout: float = 120, verify: bool | str = True) -> tuple[int, dict[str, str], Any]:
    """A plain HTTP(S) request: (status, headers with lower-case names, parsed JSON body or
    the raw text when it is not JSON)."""
    import ssl

    context = None
    if url.startswith("https:"):
        context = ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)
        if verify is False:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as resp:
            status, hdrs, raw = resp.status, dict(resp.headers.items()), resp.read()
    except urllib.error.HTTPError as exc:
        status, hdrs, raw = exc.code, dict(exc.headers.items()), exc.read()
    try:
        parsed: Any = json.loads(raw)
    except ValueError:
        parsed = raw.decode("utf-8", "replace")
    return status, {k.lower(): v for k, v in hdrs.items()}, parsed


def launch(dir: Path, *flags: str, preload: str | None = None,
           env: dict[str, str] | None = None) -> ApiServer:
    """Start `fgform serve` in `dir` (not waiting for it to listen)."""
    dir.mkdir(parents=True, exist_ok=True)
    if preload:
        boot = ("import sys, runpy; import " + preload + "; "
                "runpy.run_module('fgform', run_name='__main__', alter_sys=True)")
        argv = [sys.executable, "-c", boot]
    else:
        argv = [sys.executable, "-m", "fgform"]
    proc = subprocess.Popen([*argv, f"-chdir={dir}", "serve", *flags],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env or server_env(), stdin=subprocess.DEVNULL)
    server = ApiServer(dir=dir, proc=proc)
    threading.Thread(target=server._pump, daemon=True).start()
    return server


StartServer = Callable[..., ApiServer]


@pytest.fixture
def start_api_server(tmp_path: Path) -> Iterator[StartServer]:
    """Start servers: `start_api_server(dir=None, *flags, preload=None, verify=True,
    listen="127.0.0.1:0")`; each is stopped at teardown and must exit 0."""
    started: list[ApiServer] = []

    def start(dir: Path | None = None, *flags: str, preload: str | None = None,
              verify: bool | str = True, listen: str = "127.0.0.1:0",
              wait: bool = True) -> ApiServer:
        server = launch(dir or tmp_path / "config", "-listen", listen, *flags,
                        preload=preload)
        server.verify = verify
        started.append(server)
        if wait:
            server.wait_listening()
        return server

    yield start
    failures = []
    for server in started:
        if server.proc.poll() is not None:
            continue  # the test stopped it (and checked how it ended)
        code = server.stop()
        if code != 0:
            failures.append(f"exit {code}:\n{server.text}")
    assert not failures, "a server did not stop cleanly: " + "\n".join(failures)


@pytest.fixture
def api_server(start_api_server: StartServer) -> ApiServer:
    """A server in a fresh, empty configuration directory."""
    return start_api_server()
