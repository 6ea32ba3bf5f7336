"""`fgform serve` (the ECS-compatible API server) and `fgform api-log` (its audit log)."""

from __future__ import annotations

import json
import re
import time

from fgform.api.arns import DEFAULT_ACCOUNT, DEFAULT_REGION
from fgform.api.limits import DEFAULT_MAX_REQUEST_SIZE, DEFAULT_RATE
from fgform.cli.command import command
from fgform.cli.environment import Environment, pass_env
from fgform.cli.lifeline import Lifeline
from fgform.cli.options import Duration, Whole, duration, opt, state_option
from fgform.errors import FgformError

DEFAULT_LISTEN = "127.0.0.1:4566"
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d+")
_ACCOUNT = re.compile(r"\d{12}")


@command("serve")
@opt("listen", default=DEFAULT_LISTEN, metavar="HOST:PORT", show_default=True,
     help="Address to listen on (port 0: any free port, printed when listening).")
@opt("tls-cert", "tls_cert", metavar="FILE", help="TLS certificate (PEM) to serve HTTPS.")
@opt("tls-key", "tls_key", metavar="FILE", help="The TLS certificate's private key (PEM).")
@opt("insecure", is_flag=True,
     help="Allow plain HTTP on an address other than loopback (credentials and requests "
          "then cross the network unencrypted).")
@opt("region", default=DEFAULT_REGION, show_default=True, help="Region in the ARNs.")
@opt("account-id", "account_id", default=DEFAULT_ACCOUNT, show_default=True,
     help="Account id in the ARNs (12 digits).")
@opt("rate-limit", "rate_limit", type=Whole(0), default=int(DEFAULT_RATE), show_default=True,
     help="Requests per second per access key (bursts up to twice that); 0: no limit.")
@opt("max-request-size", "max_request_size", type=Whole(1), default=DEFAULT_MAX_REQUEST_SIZE,
     show_default=True, metavar="BYTES", help="Largest request body accepted.")
@state_option
@opt("lock-timeout", "lock_timeout", default="30s", type=Duration(), show_default=True,
     help="How long a write waits for the state lock (held by an apply, or another "
          "request) before answering ThrottlingException.")
@opt("reconcile", is_flag=True,
     help="Also run the service scheduler (`fgform reconcile -watch`) while serving, as "
          "ECS's control plane does: services created or scaled through the API get their "
          "tasks registered once healthy, and lost tasks replaced.")
@pass_env
def serve(env: Environment, listen: str, tls_cert: str | None, tls_key: str | None,
          insecure: bool, region: str, account_id: str, rate_limit: int,
          max_request_size: int, state_path: str | None, lock_timeout: str,
          reconcile: bool) -> None:
    """Serve the ECS API (the aws CLI, boto3, SDKs) on this configuration's fleet."""
    from fgform.api.actions import ApiContext
    from fgform.api.arns import Identity
    from fgform.api.audit import AuditLog, audit_path
    from fgform.api.keys import KeyStore
    from fgform.api.limits import RateLimiter
    from fgform.api.protocol import Pipeline
    from fgform.api.server import parse_listen
    from fgform.api.server import serve as run_server

    try:
        where = parse_listen(listen)
    except ValueError:
        raise FgformError(f'-listen: "{listen}" is not an address: write HOST:PORT, such '
                          f"as {DEFAULT_LISTEN}") from None
    if bool(tls_cert) != bool(tls_key):
        raise FgformError("-tls-cert and -tls-key go together: give both files")
    if not where.loopback and not tls_cert and not insecure:
        raise FgformError(
            f"refusing to serve plain HTTP on {listen}, an address other machines can "
            "reach: give -tls-cert and -tls-key, or -insecure to serve without TLS")
    if not _REGION.fullmatch(region):
        raise FgformError(f'-region: "{region}" is not a region name (such as us-east-1)')
    if not _ACCOUNT.fullmatch(account_id):
        raise FgformError(f'-account-id: "{account_id}" is not an account id (12 digits)')
    for path in (tls_cert, tls_key):
        if path and not (env.dir / path).is_file():
            raise FgformError(f"cannot read {path}: no such file")

    ctx = ApiContext(dir=env.dir, fleet=env.fleet, identity=Identity(region, account_id),
                     workspace=env.workspace, state_path=state_path,
                     lock_timeout=duration(lock_timeout), log=env.err)
    audit = AuditLog(audit_path(env.dir))
    scheduler: Scheduler | None = None
    try:
        keys = KeyStore(env.dir)
        pipeline = Pipeline(ctx, keys.find, audit=audit,
                            limiter=RateLimiter(float(rate_limit)),
                            max_request_size=max_request_size, errors=env.stderr)

        def listening(url: str) -> None:
            nonlocal scheduler
            env.out(f"fgform API server listening on {url}")
            if reconcile:
                scheduler = Scheduler(env, state_path)
            if not keys.list():
                env.err("Warning: no API keys yet, so every request will be refused: "
                        "create one with `fgform api-key create NAME -policy FILE`.")

        run_server(pipeline, where,
                   tls_cert=str(env.dir / tls_cert) if tls_cert else None,
                   tls_key=str(env.dir / tls_key) if tls_key else None,
                   on_listening=listening)
    finally:
        if scheduler is not None:
            scheduler.stop()
        audit.close()
    env.err("fgform API server stopped.")


class Scheduler:
    """`fgform reconcile -watch` on the same directory and state, as a child process for
    as long as the server runs: the very scheduler the command line has (its own locks
    keep it and the API's writes apart), with no second copy of its loop here."""

    STOP_SECONDS = 60.0

    def __init__(self, env: Environment, state_path: str | None) -> None:
        import subprocess
        import sys

        args = [sys.executable, "-m", "fgform", f"-chdir={env.dir}", "reconcile", "-watch"]
        if state_path:
            args += ["-state", state_path]
        # Its output goes to the server's stderr: what it restores is the server's log.
        try:
            out: int | None = env.stderr.fileno()
        except (AttributeError, OSError, ValueError):
            out = None  # an in-memory stderr (tests): the process's own
        # The lifeline stops it even when the server is killed (fgform/cli/lifeline.py).
        self.lifeline = Lifeline()
        try:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=out, start_new_session=True,
                                         env=self.lifeline.env, pass_fds=self.lifeline.fds)
        except BaseException:
            self.lifeline.close()
            raise
        finally:
            self.lifeline.started()
        env.err(f"service scheduler running (pid {self.proc.pid})")

    def stop(self) -> None:
        """Interrupt it as Ctrl-C would (it finishes its pass and records it), waiting at
        most STOP_SECONDS before killing it."""
        import signal
        import subprocess

        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(self.STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.lifeline.close()


@command("api-log")
@opt("json", "as_json", is_flag=True, help="The records as JSON lines, as stored.")
@opt("n", "count", type=Whole(0), default=None, metavar="N", help="Only the last N records.")
@opt("follow", is_flag=True, help="Keep printing records as requests arrive.")
@pass_env
def api_log(env: Environment, as_json: bool, count: int | None, follow: bool) -> None:
    """The API server's audit log: one line per request."""
    from fgform.api.audit import audit_path
    from fgform.safefile import read_regular

    path = audit_path(env.dir)
    try:
        data, _ = read_regular(path, nofollow=True)
    except FileNotFoundError:
        if not follow:
            raise FgformError(f"no audit log at {path}: `fgform serve` writes one when it "
                              "answers its first request") from None
        data = b""
    except OSError as exc:
        raise FgformError(f"cannot read the audit log {path}: {exc.strerror or exc}") from None
    lines = data.splitlines(keepends=True)
    offset = len(data)
    if data and not data.endswith(b"\n"):  # a line being written: wait for its end
        offset -= len(lines[-1])
        lines = lines[:-1]
    if count is not None:
        lines = lines[-count:] if count else []
    for line in lines:
        _print(env, line, as_json)
    if not follow:
        return
    try:
        _follow(env, path, offset, as_json)
    except KeyboardInterrupt:
        return


def _print(env: Environment, line: bytes, as_json: bool) -> None:
    from fgform.api.audit import format_record, parse_line

    rec = parse_line(line)
    if rec is None:
        return
    env.out(json.dumps(rec, separators=(",", ":"), ensure_ascii=False) if as_json
            else format_record(rec))


def _follow(env: Environment, path, offset: int, as_json: bool) -> None:
    """Print records appended after `offset`, polling the file (a restarted server appends
    to the same file; a file that shrank was replaced: read it from its start)."""
    from fgform.safefile import read_regular

    pending = b""
    while True:
        try:
            # Read as the first look was: never through a link, never from a FIFO.
            chunk, st = read_regular(path, nofollow=True, offset=offset)
            if st.st_size < offset:
                offset, pending = 0, b""
                chunk, _ = read_regular(path, nofollow=True)
        except FileNotFoundError:
            chunk = b""
        except OSError as exc:
            raise FgformError(f"cannot read the audit log {path}: "
                              f"{exc.strerror or exc}") from None
        if chunk:
            offset += len(chunk)
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for line in complete:
                _print(env, line, as_json)
        else:
            time.sleep(0.25)


COMMANDS = [serve, api_log]
