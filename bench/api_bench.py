"""The ECS API server, `fgform serve` (issue 13, its three figures).

    python bench/api_bench.py                       # all three figures
    python bench/api_bench.py --only 1 --seconds 5  # one figure, shorter
    python bench/api_bench.py --clients 50 --processes 2 --repeat 5 --updates 100

Set-up (untimed): a configuration of one cluster (2 capacity instances), a task definition
of the benchmarks' busybox image (fleet_common.IMAGE, built once, offline from
debian:bookworm-slim), 10 services of 10 tasks each (100 tasks) and a one-second task
definition (`sh -c 'sleep 1; exit 3'`), applied with `fgform apply`; `fgform serve` on a free
127.0.0.1 port in that directory; one key (`fgform api-key create -json`) whose policy allows
`ecs:*` on `*`, so authorization is evaluated on every request and always allows.

1. DescribeServices (the 10 services in one call, as ECS allows) and ListTasks (the
   cluster's 100 tasks in one page), each for `--seconds` with `--clients` concurrent
   clients: threads spread over `--processes` processes (one Python process cannot sign and
   send fast enough for 50 clients on its own), each thread on its own keep-alive HTTP
   connection, every request signed afresh with botocore's SigV4 signer, the raw request
   sent with http.client (no boto3 client: its per-call overhead, a few ms of Python, would
   be measured instead of the server). Requests per second over the run, p50/p99 latency
   of the successful requests, failures by error code (a ThrottlingException is the key's
   rate limit answering).
2. RunTask of the one-second task through the API (boto3): from the request to the
   task's exit code visible in DescribeTasks (polled every 50 ms), against `fgform run-task`
   of the same task definition (the command's wall time: it waits for the exit and exits
   with the task's code), runs interleaved, median of `--repeat`.
3. `--updates` concurrent UpdateService calls (one thread and one boto3 client each, all
   released at once by a barrier) spread round-robin over the 10 services, desired counts
   drawn at random from 0..3 (seeded), with boto3's standard retry mode (ThrottlingException
   is retried with backoff, up to `--attempts` attempts). Every call must either succeed
   or fail with an error the client sees: a call that did neither is lost. Then, for each
   service, the desired count DescribeServices answers and the one in the state file must
   equal the last successful write to it (the order of the responses: the writes serialize
   on the state lock and each answers after its apply), and `fgform plan -json` must show
   exactly those services, each as an update from that count back to the configuration's
   10, and nothing else.

Everything is removed at the end, also when a figure fails: the server is stopped
(SIGTERM), `fgform destroy`, then whatever still carries the state's lineage or the
cluster's label, and the directory (with the key).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import multiprocessing
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1]))
import fleet_common as F  # noqa: E402
from lb_load import LoadResult  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TARGET = "AmazonEC2ContainerServiceV20141113."
REGION = "us-east-1"
SERVICES = 10
TASKS_PER_SERVICE = 10
ONE_EXIT = 3  # the one-second task's exit code: both sides must report it
POLICY = {"Version": "2012-10-17",
          "Statement": [{"Effect": "Allow", "Action": "ecs:*", "Resource": "*"}]}


# -- the configuration and the server ------------------------------------------------------------
def config(cluster: str, cidr: str) -> str:
    out = [f'''resource "fg_cluster" "main" {{
  name       = "{cluster}"
  cidr_block = "{cidr}"
  capacity {{
    instance_count  = 2
    instance_cpu    = 4096
    instance_memory = 4096
  }}
}}

resource "fg_task_definition" "web" {{
  family = "{cluster}-web"
  cpu    = 16
  memory = 16

  container "web" {{
    image        = "{F.IMAGE}"
    stop_timeout = 1
  }}
}}

resource "fg_task_definition" "one" {{
  family = "{cluster}-one"
  cpu    = 16
  memory = 16

  container "one" {{
    image   = "{F.IMAGE}"
    command = ["sh", "-c", "sleep 1; exit {ONE_EXIT}"]
  }}
}}
''']
    for i in range(SERVICES):
        out.append(f'''
resource "fg_service" "s{i}" {{
  name            = "s{i}"
  cluster         = fg_cluster.main.id
  task_definition = fg_task_definition.web.arn
  desired_count   = {TASKS_PER_SERVICE}
}}
''')
    return "".join(out)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`fgform serve -listen 127.0.0.1:PORT` in the configuration directory, its output in
    a file there."""

    def __init__(self, d: Path, extra: list[str]) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log = d / "serve.log"
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen(
                [*F.FGFORM, "serve", "-listen", f"127.0.0.1:{self.port}", *extra], cwd=d,
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"fgform serve did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.1)

    def stop(self) -> int | None:
        """SIGTERM (in-flight requests finish), SIGKILL after 60 s; the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode


def create_key(d: Path) -> dict[str, str]:
    policy = d / "bench-policy.json"
    policy.write_text(json.dumps(POLICY))
    run = F.fgform(["api-key", "create", "bench", "-policy", str(policy), "-json"], d)
    return json.loads(run.out.strip().splitlines()[-1])


def boto_client(endpoint: str, key: dict[str, str], attempts: int = 1,
                read_timeout: float = 300) -> Any:
    """A boto3 ECS client on the server with `key`, its own session (sessions are not
    thread-safe), standard retries up to `attempts` attempts in all."""
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(aws_access_key_id=key["access_key_id"],
                                    aws_secret_access_key=key["secret_access_key"],
                                    region_name=REGION)
    return session.client("ecs", endpoint_url=endpoint, config=Config(
        retries={"mode": "standard", "max_attempts": attempts}, read_timeout=read_timeout,
        connect_timeout=10, max_pool_connections=4))


# -- figure 1: read load, raw signed requests ------------------------------------------------------
def _signed(creds: Any, endpoint: str, action: str, body: bytes) -> dict[str, str]:
    """The headers of a request signed with SigV4 by botocore (as the SDKs sign it)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    req = AWSRequest(method="POST", url=endpoint + "/", data=body, headers={
        "X-Amz-Target": TARGET + action, "Content-Type": "application/x-amz-json-1.1"})
    SigV4Auth(creds, "ecs", REGION).add_auth(req)
    return dict(req.headers.items())


def _load_child(endpoint: str, key: dict[str, str], action: str, body: bytes, threads: int,
                start_at: float, seconds: float) -> dict[str, Any]:
    """One process's share of figure 1: `threads` clients from `start_at` (monotonic clock,
    one for every process) for `seconds`; its LoadResult as a dict."""
    from botocore.credentials import Credentials

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    creds = Credentials(key["access_key_id"], key["secret_access_key"])
    port = int(endpoint.rsplit(":", 1)[1])
    result = LoadResult()
    lock = threading.Lock()
    end = start_at + seconds

    def client() -> None:
        conn: http.client.HTTPConnection | None = None
        while (now := time.monotonic()) < end:
            if now < start_at:
                time.sleep(start_at - now)
                continue
            headers = _signed(creds, endpoint, action, body)
            t0 = time.monotonic()
            kind = None
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                conn.request("POST", "/", body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                if resp.status != 200:
                    with contextlib.suppress(ValueError, AttributeError):
                        kind = json.loads(data).get("__type")
                    kind = kind or f"HTTP {resp.status}"
                if resp.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as exc:
                kind = type(exc).__name__
                if conn is not None:
                    conn.close()
                conn = None
            took = time.monotonic() - t0
            with lock:
                result.sent += 1
                sec = int(t0)
                result.per_second[sec] = result.per_second.get(sec, 0) + 1
                if kind is None:
                    result.latencies.append(took)
                else:
                    result.failed += 1
                    result.errors[kind] = result.errors.get(kind, 0) + 1
        if conn is not None:
            conn.close()

    pool = [threading.Thread(target=client, daemon=True) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(seconds + 120)
    result.seconds = seconds
    return asdict(result)


def read_load(endpoint: str, key: dict[str, str], action: str, params: dict[str, Any],
              clients: int, processes: int, seconds: float) -> LoadResult:
    """Figure 1 for one action: `clients` threads over `processes` processes."""
    body = json.dumps(params).encode()
    shares = [clients // processes + (1 if i < clients % processes else 0)
              for i in range(processes)]
    start_at = time.monotonic() + 3  # every process ready (spawned, imported) by then
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(processes) as pool:
        jobs = [pool.apply_async(_load_child, (endpoint, key, action, body, n, start_at,
                                               seconds)) for n in shares if n]
        parts = [j.get(seconds + 300) for j in jobs]
    total = LoadResult()
    for part in parts:
        total.merge(LoadResult(**part))
    total.seconds = seconds
    return total


def check_reads(api: Any, cluster: str) -> None:
    """Figure 1 reads what it says it reads: 10 services of 10 running tasks, 100 tasks."""
    svcs = api.describe_services(cluster=cluster, services=[f"s{i}" for i in range(SERVICES)])
    counts = sorted((s["serviceName"], s["runningCount"]) for s in svcs["services"])
    want = sorted((f"s{i}", TASKS_PER_SERVICE) for i in range(SERVICES))
    if counts != want or svcs.get("failures"):
        raise RuntimeError(f"DescribeServices: {counts}, failures {svcs.get('failures')}")
    arns = api.list_tasks(cluster=cluster, maxResults=100)["taskArns"]
    if len(arns) != SERVICES * TASKS_PER_SERVICE:
        raise RuntimeError(f"ListTasks: {len(arns)} tasks, not {SERVICES * TASKS_PER_SERVICE}")


# -- figure 2: RunTask to exit code ----------------------------------------------------------------
def api_run_task(api: Any, cluster: str, family: str, timeout: float = 120) -> float:
    """Seconds from RunTask to the task's exit code in DescribeTasks."""
    t0 = time.perf_counter()
    resp = api.run_task(cluster=cluster, taskDefinition=family, count=1)
    if resp.get("failures") or not resp.get("tasks"):
        raise RuntimeError(f"RunTask: {resp.get('failures')}")
    arn = resp["tasks"][0]["taskArn"]
    while time.perf_counter() - t0 < timeout:
        tasks = api.describe_tasks(cluster=cluster, tasks=[arn]).get("tasks") or []
        codes = [c.get("exitCode") for t in tasks for c in t.get("containers") or []]
        if codes and codes[0] is not None:
            took = time.perf_counter() - t0
            if codes[0] != ONE_EXIT:
                raise RuntimeError(f"RunTask: exit code {codes[0]}, not {ONE_EXIT}")
            return took
        time.sleep(0.05)
    raise RuntimeError(f"RunTask: no exit code for {arn} after {timeout} s")


def cli_run_task(d: Path, cluster: str, family: str) -> float:
    """Wall time of `fgform run-task FAMILY -cluster C` in a fresh process (it waits for the
    task and exits with its exit code)."""
    t0 = time.perf_counter()
    proc = subprocess.run([*F.FGFORM, "run-task", family, "-cluster", cluster], cwd=d,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    took = time.perf_counter() - t0
    if proc.returncode != ONE_EXIT:
        raise RuntimeError(f"fgform run-task exited {proc.returncode}, not {ONE_EXIT}:\n"
                           f"{(proc.stdout + proc.stderr)[-2000:]}")
    return took


# -- figure 3: concurrent UpdateService ------------------------------------------------------------
def concurrent_updates(endpoint: str, key: dict[str, str], cluster: str, n: int,
                       attempts: int, seed: int) -> tuple[list[dict[str, Any]], float]:
    """`n` UpdateService calls at once; one record per call (service, count, outcome, when
    its answer came, retries) and the wall time of them all."""
    rng = random.Random(seed)
    plan = [(f"s{i % SERVICES}", rng.randint(0, 3)) for i in range(n)]
    clients = [boto_client(endpoint, key, attempts) for _ in range(n)]  # untimed
    records: list[dict[str, Any] | None] = [None] * n
    gate = threading.Barrier(n + 1)

    def one(i: int) -> None:
        service, count = plan[i]
        rec: dict[str, Any] = {"service": service, "count": count}
        gate.wait()
        try:
            resp = clients[i].update_service(cluster=cluster, service=service,
                                             desiredCount=count)
            rec["ok"] = resp["service"]["desiredCount"] == count
            rec["answered"] = resp["service"]["desiredCount"]
            rec["retries"] = resp["ResponseMetadata"].get("RetryAttempts", 0)
        except Exception as exc:  # noqa: BLE001 - a visible failure, recorded
            err = getattr(exc, "response", {}) or {}
            rec["ok"] = False
            rec["error"] = (err.get("Error") or {}).get("Code") or type(exc).__name__
            rec["retries"] = (err.get("ResponseMetadata") or {}).get("RetryAttempts", 0)
        rec["done"] = time.monotonic()
        records[i] = rec

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    gate.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join(900)
    wall = time.perf_counter() - t0
    # A call that neither answered nor failed visibly (its thread never recorded) is lost.
    return [r if r is not None else {"service": plan[i][0], "count": plan[i][1],
                                     "ok": False, "error": "LOST", "lost": True}
            for i, r in enumerate(records)], wall


def check_updates(d: Path, api: Any, cluster: str, records: list[dict[str, Any]]
                  ) -> dict[str, Any]:
    """The final state against the last successful write to each service."""
    last: dict[str, int] = {}
    for rec in sorted((r for r in records if r["ok"]), key=lambda r: r["done"]):
        last[rec["service"]] = rec["count"]
    described = {s["serviceName"]: s["desiredCount"] for s in api.describe_services(
        cluster=cluster, services=[f"s{i}" for i in range(SERVICES)])["services"]}
    in_state: dict[str, int] = {}
    for r in F.state(d)["resources"]:
        if r["type"] == "fg_service":
            for inst in r["instances"]:
                in_state[inst["attributes"]["name"]] = inst["attributes"]["desired_count"]
    doc = json.loads(F.fgform(["plan", "-json"], d).out)
    drift: dict[str, tuple[int, int]] = {}
    other: list[str] = []
    for rc in doc.get("resource_changes", []):
        actions = rc["change"]["actions"]
        if actions == ["no-op"]:
            continue
        if rc["type"] == "fg_service" and actions == ["update"]:
            before, after = rc["change"]["before"], rc["change"]["after"]
            drift[before["name"]] = (before["desired_count"], after["desired_count"])
            changed = sorted(k for k in set(before) | set(after)
                             if k not in ("desired_count", "running_count", "tasks", "targets",
                                          "deployments", "events")
                             and before.get(k) != after.get(k) and k in after)
            if changed:
                other.append(f"{rc['address']} also changes {changed}")
        else:
            other.append(f"{rc['address']} {actions}")
    mismatches = []
    for name, want in sorted(last.items()):
        if described.get(name) != want:
            mismatches.append(f"{name}: DescribeServices {described.get(name)}, last write {want}")
        if in_state.get(name) != want:
            mismatches.append(f"{name}: state {in_state.get(name)}, last write {want}")
        if drift.get(name) != (want, TASKS_PER_SERVICE) and want != TASKS_PER_SERVICE:
            mismatches.append(f"{name}: plan {drift.get(name)}, want ({want}, "
                              f"{TASKS_PER_SERVICE})")
    for name in sorted(set(drift) - set(last)):
        mismatches.append(f"{name}: in the plan {drift[name]} but never written")
    return {"last": last, "described": described, "state": in_state, "drift": drift,
            "other": other, "mismatches": mismatches}


def update_answers(d: Path) -> str:
    """What the server answered the UpdateService requests (retries included), from its
    audit log: `ok x100, ThrottlingException x71`."""
    counts: dict[str, int] = {}
    with contextlib.suppress(FileNotFoundError):
        for line in (d / ".fgform" / "api-audit.log").read_text().splitlines():
            with contextlib.suppress(ValueError):
                rec = json.loads(line)
                if rec.get("action") == "UpdateService":
                    counts[str(rec.get("result"))] = counts.get(str(rec.get("result")), 0) + 1
    return ", ".join(f"{k} x{v}" for k, v in sorted(counts.items())) or "(no audit log)"


# -- the run -----------------------------------------------------------------------------------------
def row(cells: list[str], widths: list[int]) -> str:
    return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))


def table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(row(r, widths) for r in rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", type=int, choices=(1, 2, 3), action="append",
                    help="only this figure (repeatable)")
    ap.add_argument("--seconds", type=float, default=10.0, help="figure 1: per action")
    ap.add_argument("--clients", type=int, default=50, help="figure 1: concurrent clients")
    ap.add_argument("--processes", type=int, default=max(1, min(4, os.cpu_count() or 1)),
                    help="figure 1: client processes the clients are spread over")
    ap.add_argument("--repeat", type=int, default=5, help="figure 2: runs of each side")
    ap.add_argument("--updates", type=int, default=100, help="figure 3: concurrent calls")
    ap.add_argument("--attempts", type=int, default=10,
                    help="figure 3: boto3 standard-mode attempts per call (first included)")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--serve-arg", action="append", default=None,
                    help="a flag for `fgform serve` (repeatable; default: -rate-limit=0, so "
                         "figure 1 measures the server, not the key's token bucket)")
    args = ap.parse_args()
    figures = set(args.only or (1, 2, 3))

    # The fgform of this checkout, in every process the bench starts.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(REPO)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
    c = F.client()
    F.ensure_image(c)
    print(f"machine: {F.machine()}")
    cluster = F.run_id()
    d = Path(tempfile.mkdtemp(prefix="fgbench-api-"))
    server: Server | None = None
    lineage = None
    out: list[list[str]] = [["figure", "what", "result"]]
    failed: list[str] = []
    try:
        (d / "main.tf").write_text(config(cluster, F.free_subnet(c, 24)))
        t0 = time.perf_counter()
        F.fgform(["apply", "-auto-approve"], d)
        lineage = F.state(d)["lineage"]
        print(f"set-up: {SERVICES} services x {TASKS_PER_SERVICE} tasks applied in "
              f"{time.perf_counter() - t0:.1f} s")
        serve_args = args.serve_arg if args.serve_arg is not None else ["-rate-limit=0"]
        server = Server(d, serve_args)
        print(f"fgform serve {' '.join(serve_args)} on {server.endpoint}")
        key = create_key(d)
        api = boto_client(server.endpoint, key)

        if 1 in figures:
            check_reads(api, cluster)
            reads = [("DescribeServices", {"cluster": cluster,
                                           "services": [f"s{i}" for i in range(SERVICES)]}),
                     ("ListTasks", {"cluster": cluster, "maxResults": 100})]
            for action, params in reads:
                res = read_load(server.endpoint, key, action, params, args.clients,
                                args.processes, args.seconds)
                errors = ", ".join(f"{k} x{v}" for k, v in sorted(res.errors.items())) or "none"
                out.append(["1", f"{action}, {args.clients} clients, {args.seconds:g} s",
                            f"{len(res.latencies) / res.seconds:.0f} ok req/s, p50 "
                            f"{res.quantile(0.5):.1f} ms, p99 {res.quantile(0.99):.1f} ms; "
                            f"{res.sent} sent, failed: {errors}"])
                print(table(out[-1:]), flush=True)

        if 2 in figures:
            family = f"{cluster}-one"
            api_runs, cli_runs = [], []
            for _ in range(args.repeat):
                api_runs.append(api_run_task(api, cluster, family))
                cli_runs.append(cli_run_task(d, cluster, family))
            out.append(["2", "RunTask -> exit code in DescribeTasks (API)",
                        f"median {F.median(api_runs):.2f} s ({F.fmt_runs(api_runs)})"])
            out.append(["2", "fgform run-task (wall time)",
                        f"median {F.median(cli_runs):.2f} s ({F.fmt_runs(cli_runs)})"])
            print(table(out[-2:]), flush=True)

        if 3 in figures:
            records, wall = concurrent_updates(server.endpoint, key, cluster, args.updates,
                                               args.attempts, args.seed)
            ok = [r for r in records if r["ok"]]
            errors: dict[str, int] = {}
            for r in records:
                if not r["ok"]:
                    errors[r.get("error", "wrong answer")] = errors.get(
                        r.get("error", "wrong answer"), 0) + 1
            lost = sum(1 for r in records if r.get("lost"))
            retries = sum(r.get("retries", 0) for r in records)
            check = check_updates(d, api, cluster, records)
            answers = update_answers(d)
            out.append(["3", f"{args.updates} concurrent UpdateService on {SERVICES} services",
                        f"{len(ok)} succeeded, {sum(errors.values())} failed visibly "
                        f"({', '.join(f'{k} x{v}' for k, v in sorted(errors.items())) or '-'}), "
                        f"{lost} lost; {retries} retries; {wall:.1f} s in all; the server "
                        f"answered {answers}"])
            out.append(["3", "final desired counts = last successful writes",
                        "yes (DescribeServices, state, plan -json)" if not check["mismatches"]
                        else "NO: " + "; ".join(check["mismatches"])])
            out.append(["3", "plan -json: only those drifts",
                        f"{len(check['drift'])} services "
                        + " ".join(f"{k}:{v[0]}->{v[1]}" for k, v in sorted(check["drift"].items()))
                        + ("" if not check["other"] else "; ALSO: " + "; ".join(check["other"]))])
            print(table(out[-3:]), flush=True)
            if check["mismatches"] or check["other"] or lost:
                failed.append("figure 3")
    except Exception as exc:
        failed.append(f"{type(exc).__name__}: {exc}")
        raise
    finally:
        if server is not None:
            code = server.stop()
            if code not in (0, None):
                print(f"warning: fgform serve exited {code} on SIGTERM; its log:\n"
                      f"{server.log.read_text()[-2000:]}", file=sys.stderr)
        with contextlib.suppress(OSError, ValueError, KeyError):
            lineage = lineage or F.state(d)["lineage"]  # an apply that failed half-way
        try:
            F.fgform(["destroy", "-auto-approve"], d)
        except RuntimeError as exc:  # what destroy left is removed by label below
            print(f"warning: {exc}", file=sys.stderr)
        if lineage:
            F.remove_by_label(c, f"fgform.lineage={lineage}")
        F.cleanup_fgform_cluster(c, cluster)
        shutil.rmtree(d, ignore_errors=True)
    print()
    print(table(out))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
