"""`fgform serve`: the request pipeline over real HTTP (uvicorn in a subprocess), driven by
boto3, the aws CLI and raw signed requests; the audit log and `fgform api-log`; TLS, the
listen address rule, startup errors and graceful shutdown."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from botocore import UNSIGNED
from botocore.exceptions import ClientError

from fgform.api.sigv4 import MISMATCH_CODE

from .conftest import TARGET_PREFIX, ApiServer, StartServer, fgform, http, server_env

TEST_ACTIONS = "actions_for_tests"


def _code(exc: ClientError) -> str:
    return exc.response["Error"]["Code"]


# -- the protocol's errors -----------------------------------------------------------------------
def test_unsigned_request_is_missing_authentication_token(api_server: ApiServer) -> None:
    ecs = api_server.boto3("x", "y", signature_version=UNSIGNED)
    with pytest.raises(ClientError) as err:
        ecs.describe_capacity_providers()
    assert _code(err.value) == "MissingAuthenticationTokenException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    rec = api_server.audit()[-1]
    assert rec["key"] is None and rec["decision"] == "unauthenticated"
    assert rec["result"] == "MissingAuthenticationTokenException" and rec["status"] == 403


def test_unknown_action_is_invalid_action_for_boto3_and_the_aws_cli(
        api_server: ApiServer) -> None:
    key_id, secret = api_server.key("reader")
    ecs = api_server.boto3(key_id, secret)
    with pytest.raises(ClientError) as err:
        ecs.describe_capacity_providers()
    assert _code(err.value) == "InvalidAction"
    assert err.value.response["Error"]["Message"] == \
        "The action DescribeCapacityProviders is not valid for this web service."
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert err.value.response["ResponseMetadata"]["RequestId"] == \
        api_server.audit()[-1]["request_id"]

    rc, out, errtext = api_server.aws(["list-account-settings"], key_id, secret)
    assert rc == 255, errtext  # aws CLI v1's exit status for a service error
    assert "(InvalidAction) when calling the ListAccountSettings operation" in errtext
    assert errtext.rstrip().endswith(
        "The action ListAccountSettings is not valid for this web service."), errtext
    status, headers, body = api_server.call("NoSuchThing", {}, key_id, secret)
    assert (status, body["__type"]) == (400, "InvalidAction")
    assert headers["content-type"] == "application/x-amz-json-1.1"
    assert len(headers["x-amzn-requestid"]) == 36


def test_signature_failures_through_the_pipeline(api_server: ApiServer) -> None:
    key_id, secret = api_server.key("k")
    cases = [(key_id, secret[:-1] + ("A" if secret[-1] != "A" else "B"),
              MISMATCH_CODE),
             ("AKIA" + "Z" * 16, secret, "UnrecognizedClientException")]
    for kid, sec, code in cases:
        with pytest.raises(ClientError) as err:
            api_server.boto3(kid, sec).describe_capacity_providers()
        assert _code(err.value) == code
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert secret not in json.dumps(err.value.response, default=str)
        rc, _, errtext = api_server.aws(["list-account-settings"], kid, sec)
        assert rc == 255 and f"({code})" in errtext, errtext
    # Signed for another region than the server's.
    ecs = api_server.boto3(key_id, secret, region_name="eu-west-1")
    with pytest.raises(ClientError) as err:
        ecs.describe_capacity_providers()
    assert _code(err.value) == "InvalidSignatureException"
    records = api_server.audit()
    assert [r["decision"] for r in records] == ["unauthenticated"] * 5
    assert all(r["key"] is None for r in records)


def test_wrong_method_path_target_and_content_type_are_ecs_errors(
        api_server: ApiServer) -> None:
    status, headers, body = http("GET", api_server.url + "/", None, {})
    assert status == 405 and body["__type"] == "UnknownOperationException", body
    assert headers["content-type"] == "application/x-amz-json-1.1"
    status, _, body = http("POST", api_server.url + "/v1/things", b"{}", {})
    assert status == 404 and body["__type"] == "UnknownOperationException", body
    status, _, body = api_server.call("ListClusters", headers={"X-Amz-Target": ""})
    assert status == 400 and "no X-Amz-Target" in body["message"], body
    status, _, body = api_server.call(
        "x", headers={"X-Amz-Target": "DynamoDB_20120810.ListTables"})
    assert status == 400 and body["__type"] == "UnknownOperationException", body
    status, _, body = api_server.call("ListClusters",
                                      headers={"Content-Type": "application/json"})
    assert status == 400 and body == {
        "__type": "SerializationException",
        "message": "Content-Type must be application/x-amz-json-1.1, not application/json."}
    assert all(r["status"] < 500 for r in api_server.audit())


def test_bad_json_is_a_serialization_exception(api_server: ApiServer) -> None:
    key_id, secret = api_server.key("k")
    for body in (b"{not json", b"[1, 2]", b"\xff\xfe"):
        status, _, resp = api_server.call("ListClusters", body=body, key_id=key_id,
                                          secret=secret)
        assert status == 400 and resp["__type"] == "SerializationException", (body, resp)
    # A member of the wrong type is refused before the action runs, and named.
    for params, where in (({"maxResults": "10"}, "ListClusters: maxResults must be an "
                           "integer, not a string."),
                          ({"clusters": ["a", 7]}, "DescribeClusters: clusters[1] must be "
                           "a string, not a number.")):
        action = where.split(":", 1)[0]
        status, _, resp = api_server.call(action, params, key_id, secret)
        assert (status, resp) == (400, {"__type": "SerializationException",
                                        "message": where}), resp
    assert [r["result"] for r in api_server.audit()] == ["SerializationException"] * 5
    assert all(r["key"]["name"] == "k" for r in api_server.audit())


def test_oversized_body_is_413_by_content_length_and_while_reading(
        start_api_server: StartServer) -> None:
    server = start_api_server(None, "-max-request-size", "1000")
    key_id, secret = server.key("k")
    status, _, body = server.call("ListClusters", {"pad": "x" * 2000}, key_id, secret)
    assert status == 413 and body["__type"] == "RequestEntityTooLargeException", body
    assert "1000 bytes" in body["message"]
    # Chunked (no Content-Length): the limit is enforced while the body is read.
    url = urlsplit(server.url)
    conn = HTTPConnection(url.hostname, url.port, timeout=30)
    chunks = iter([b"{", b'"pad": "' + b"x" * 600, b"x" * 600 + b'"}'])
    conn.request("POST", "/", body=chunks, encode_chunked=True,
                 headers={"Content-Type": "application/x-amz-json-1.1",
                          "X-Amz-Target": TARGET_PREFIX + "ListClusters"})
    resp = conn.getresponse()
    assert resp.status == 413 and json.loads(resp.read())["__type"] == \
        "RequestEntityTooLargeException"
    conn.close()
    # Under the limit it goes on to authentication (this one is signed: InvalidAction or
    # an answer, never 413).
    status, _, body = server.call("DescribeCapacityProviders", {"pad": "x" * 800}, key_id,
                                  secret)
    assert status == 400 and body["__type"] == "InvalidAction", body
    assert [r["status"] for r in server.audit()] == [413, 413, 400]


def test_rate_limit_per_key(start_api_server: StartServer) -> None:
    server = start_api_server(None, "-rate-limit", "1")
    a_id, a_secret = server.key("a")
    b_id, b_secret = server.key("b")
    answers = [server.call("DescribeCapacityProviders", {}, a_id, a_secret)
               for _ in range(6)]
    codes = [body["__type"] for _, _, body in answers]
    # A burst of twice the rate (2) passes, then "Rate exceeded" (a token a second comes
    # back: at most one more passes while these six are made).
    assert codes[:3] == ["InvalidAction", "InvalidAction", "ThrottlingException"], codes
    assert codes.count("InvalidAction") <= 3, codes
    assert answers[2][0] == 400 and answers[2][2] == {"__type": "ThrottlingException",
                                                       "message": "Rate exceeded"}
    # Another key has its own bucket.
    assert server.call("DescribeCapacityProviders", {}, b_id, b_secret)[2]["__type"] == \
        "InvalidAction"
    # And the bucket refills.
    time.sleep(1.2)
    assert server.call("DescribeCapacityProviders", {}, a_id, a_secret)[2]["__type"] == \
        "InvalidAction"
    assert "ThrottlingException" in [r["result"] for r in server.audit()]


def test_unexpected_exception_is_a_server_exception_without_detail(
        start_api_server: StartServer) -> None:
    server = start_api_server(preload=TEST_ACTIONS)
    key_id, secret = server.key("k")
    status, headers, body = server.call("TestBoom", {"secret": "s3cr3t-value"}, key_id,
                                        secret)
    assert status == 500 and body["__type"] == "ServerException", body
    assert "s3cr3t" not in json.dumps(body) and "boom" not in body["message"]
    assert headers["x-amzn-requestid"] in body["message"]
    # The detail is in the server's own log.
    deadline = time.monotonic() + 10
    while "RuntimeError" not in server.text and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "RuntimeError: boom" in server.text


# -- authorization in the pipeline ------------------------------------------------------------
def test_policy_is_evaluated_for_every_target(start_api_server: StartServer) -> None:
    server = start_api_server(preload=TEST_ACTIONS)
    arn = "arn:aws:ecs:us-east-1:000000000000:cluster/"
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ecs:TestEcho", "Resource": arn + "team-*"},
        {"Effect": "Deny", "Action": "ecs:*", "Resource": arn + "team-secret"}]}
    key_id, secret = server.key("team", policy)
    status, _, body = server.call("TestEcho", {"cluster": "team-a"}, key_id, secret)
    assert status == 200 and body == {"params": {"cluster": "team-a"}}
    status, _, body = server.call("TestEcho", {"cluster": "team-secret"}, key_id, secret)
    assert status == 400 and body["__type"] == "AccessDeniedException", body
    assert "ecs:TestEcho" in body["message"] and arn + "team-secret" in body["message"]
    status, _, body = server.call("TestEcho", {"cluster": "other"}, key_id, secret)
    assert body["__type"] == "AccessDeniedException", body
    assert [r["decision"] for r in server.audit()] == ["allow", "explicit-deny",
                                                       "implicit-deny"]
    assert server.audit()[0]["resources"] == [arn + "team-a"]


# -- the audit log -----------------------------------------------------------------------------
def test_audit_log_one_private_line_per_request_with_redaction(
        start_api_server: StartServer) -> None:
    server = start_api_server(preload=TEST_ACTIONS)
    key_id, secret = server.key("deployer")
    params = {"family": "web", "containerDefinitions": [{
        "name": "web", "image": "nginx",
        "environment": [{"name": "DB_PASSWORD", "value": "hunter2"},
                        {"name": "MODE", "value": "plain-but-redacted"}],
        "secrets": [{"name": "TOKEN", "valueFrom": "arn:aws:ssm:token-ref"}]}],
        "overrides": {"containerOverrides": [{"name": "web", "environment": [
            {"name": "X", "value": "override-value"}]}]}}
    status, _, body = server.call("TestEcho", params, key_id, secret)
    assert status == 200 and body["params"] == params  # the handler saw it all
    server.call("TestEcho", {}, None, None)  # unsigned

    mode = os.stat(server.audit_path).st_mode
    assert stat.S_IMODE(mode) == 0o600
    raw = server.audit_path.read_text()
    for secret_text in ("hunter2", "plain-but-redacted", "token-ref", "override-value",
                        secret):
        assert secret_text not in raw
    ok, unsigned = server.audit()
    assert ok["key"] == {"name": "deployer", "access_key_id": key_id}
    assert ok["action"] == "TestEcho" and ok["decision"] == "allow"
    assert ok["result"] == "ok" and ok["status"] == 200 and ok["duration_ms"] >= 0
    assert ok["resources"] == ["arn:aws:ecs:us-east-1:000000000000:cluster/default"]
    assert ok["source"].startswith("127.0.0.1:")
    assert dt.datetime.fromisoformat(ok["time"]).tzinfo is not None
    assert ok["time"].endswith("Z")
    env = ok["params"]["containerDefinitions"][0]["environment"]
    assert env == [{"name": "DB_PASSWORD", "value": "(redacted)"},
                   {"name": "MODE", "value": "(redacted)"}]
    assert ok["params"]["containerDefinitions"][0]["secrets"] == [
        {"name": "TOKEN", "valueFrom": "(redacted)"}]
    assert ok["params"]["overrides"]["containerOverrides"][0]["environment"][0]["value"] \
        == "(redacted)"
    assert unsigned["key"] is None and unsigned["result"] == \
        "MissingAuthenticationTokenException"
    assert ok["request_id"] != unsigned["request_id"]


def test_audit_lines_never_interleave_under_concurrency(
        start_api_server: StartServer) -> None:
    server = start_api_server(None, "-rate-limit", "0", preload=TEST_ACTIONS)
    key_id, secret = server.key("k")
    big = {"cluster": "c", "pad": "y" * 20000}

    def hammer() -> None:
        for _ in range(10):
            assert server.call("TestEcho", big, key_id, secret)[0] == 200

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    records = server.audit()  # every line parses
    assert len(records) == 80 and {r["result"] for r in records} == {"ok"}


def test_api_log_prints_the_log(start_api_server: StartServer) -> None:
    server = start_api_server(preload=TEST_ACTIONS)
    key_id, secret = server.key("ops")
    server.call("TestEcho", {"cluster": "c1"}, key_id, secret)
    server.call("NoSuch", {}, key_id, secret)
    server.call("TestEcho", {}, None, None)
    res = fgform(server.dir, "api-log")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert len(lines) == 3
    assert "200" in lines[0] and "ok" in lines[0] and "ops" in lines[0] \
        and "TestEcho" in lines[0] and "cluster/c1" in lines[0]
    assert "InvalidAction" in lines[1]
    assert "MissingAuthenticationTokenException" in lines[2] and "unauthenticated" in lines[2]
    res = fgform(server.dir, "api-log", "-json", "-n", "1")
    assert res.returncode == 0
    (only,) = [json.loads(x) for x in res.stdout.splitlines()]
    assert only["result"] == "MissingAuthenticationTokenException"

    follow = subprocess.Popen(
        [sys.executable, "-m", "fgform", f"-chdir={server.dir}", "api-log", "-follow", "-n",
         "0", "-json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=server_env())
    try:
        time.sleep(1.0)
        server.call("TestEcho", {"cluster": "followed"}, key_id, secret)
        line = follow.stdout.readline()  # type: ignore[union-attr]
        assert json.loads(line)["resources"][0].endswith("cluster/followed")
    finally:
        follow.send_signal(signal.SIGINT)
        assert follow.wait(20) == 0


def test_api_log_without_a_log_is_a_clear_error(tmp_path: Path) -> None:
    res = fgform(tmp_path, "api-log")
    assert res.returncode == 1 and res.stderr.startswith("Error: no audit log at ")
    assert "Traceback" not in res.stderr


def test_audit_log_refuses_a_symlink_and_a_readable_file(start_api_server: StartServer,
                                                        tmp_path: Path) -> None:
    config = tmp_path / "linked"
    (config / ".fgform").mkdir(parents=True)
    (tmp_path / "elsewhere").write_text("")
    (config / ".fgform" / "api-audit.log").symlink_to(tmp_path / "elsewhere")
    server = start_api_server(config, wait=False)
    assert server.proc.wait(60) == 1
    assert "Error: refusing to open the audit log" in server.text
    assert "symbolic link" in server.text and "Traceback" not in server.text

    config2 = tmp_path / "loose"
    (config2 / ".fgform").mkdir(parents=True)
    (config2 / ".fgform" / "api-audit.log").write_text("")
    os.chmod(config2 / ".fgform" / "api-audit.log", 0o644)
    server = start_api_server(config2, wait=False)
    assert server.proc.wait(60) == 1
    assert "lets other users read it" in server.text


# -- the listen address, TLS, startup errors --------------------------------------------------
def test_non_loopback_needs_tls_or_insecure(start_api_server: StartServer) -> None:
    server = start_api_server(listen="0.0.0.0:0", wait=False)
    assert server.proc.wait(60) == 1
    assert server.text.startswith("Error: refusing to serve plain HTTP on 0.0.0.0:0"), \
        server.text
    server = start_api_server(None, "-insecure", listen="0.0.0.0:0")
    port = urlsplit(server.url).port
    key_id, secret = server.key("k")
    server.url = f"http://127.0.0.1:{port}"
    assert server.call("DescribeCapacityProviders", {}, key_id, secret)[2]["__type"] == \
        "InvalidAction"


def test_startup_errors_are_one_error_line(start_api_server: StartServer,
                                           tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        server = start_api_server(listen=f"127.0.0.1:{port}", wait=False)
        assert server.proc.wait(60) == 1
    assert server.text.startswith(f"Error: cannot listen on 127.0.0.1:{port}: "), server.text
    assert "Traceback" not in server.text

    (tmp_path / "bad.pem").write_text("not a certificate")
    server = start_api_server(None, "-tls-cert", str(tmp_path / "bad.pem"), "-tls-key",
                              str(tmp_path / "bad.pem"), wait=False)
    assert server.proc.wait(60) == 1
    assert server.text.startswith("Error: cannot use the TLS certificate"), server.text
    for flags, message in [(["-tls-cert", str(tmp_path / "bad.pem")], "go together"),
                           (["-region", "Mars"], "-region"),
                           (["-account-id", "12"], "-account-id"),
                           (["-listen", "nowhere"], "-listen")]:
        server = start_api_server(None, *flags, wait=False)
        assert server.proc.wait(60) == 1, flags
        assert server.text.startswith("Error:") and message in server.text, server.text


def _self_signed(dir: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fgform-test")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = dir / "cert.pem", dir / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_tls(start_api_server: StartServer, tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    server = start_api_server(None, "-tls-cert", str(cert), "-tls-key", str(key),
                              verify=str(cert))
    assert server.url.startswith("https://127.0.0.1:")
    key_id, secret = server.key("k")
    client = server.boto3(key_id, secret)
    with pytest.raises(ClientError) as err:
        client.describe_capacity_providers()
    assert _code(err.value) == "InvalidAction"
    rc, _, errtext = server.aws(["list-account-settings"], key_id, secret)
    assert rc == 255 and "(InvalidAction)" in errtext, errtext
    # Plain HTTP to the TLS port gets no answer in ECS's shape (nor a crash).
    with pytest.raises(Exception):  # noqa: B017  (a reset or an empty reply, by platform)
        http("POST", server.url.replace("https:", "http:"), b"{}", {}, timeout=10)
    # A non-loopback address with TLS starts.
    other = start_api_server(None, "-tls-cert", str(cert), "-tls-key", str(key),
                             listen="0.0.0.0:0", verify=False)
    assert other.url.startswith("https://0.0.0.0:")
    # The boto3 client still holds an idle keep-alive connection it is not reading: SIGTERM
    # does not wait asyncio's 30 s for its close_notify.
    assert client.describe_clusters()["clusters"] == []
    assert server.stop(timeout=15) == 0


# -- graceful shutdown ---------------------------------------------------------------------------
def test_sigterm_finishes_requests_in_flight_then_exits_0(
        start_api_server: StartServer) -> None:
    server = start_api_server(preload=TEST_ACTIONS)
    key_id, secret = server.key("k")
    results: list[tuple[int, dict]] = []

    def slow() -> None:
        status, _, body = server.call("TestSleep", {"seconds": 3}, key_id, secret)
        results.append((status, body))

    threads = [threading.Thread(target=slow) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(1.0)  # the requests are in their handlers
    started = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    # No new connections once shutting down.
    port = urlsplit(server.url).port
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    for t in threads:
        t.join(30)
    assert server.proc.wait(30) == 0, server.text
    assert time.monotonic() - started >= 1.0
    assert results == [(200, {"slept": 3})] * 3
    assert [r["action"] for r in server.audit()] == ["TestSleep"] * 3
    assert "stopped" in server.text and "Traceback" not in server.text


def test_sigint_stops_an_idle_server_with_exit_0(api_server: ApiServer) -> None:
    api_server.proc.send_signal(signal.SIGINT)
    assert api_server.proc.wait(30) == 0, api_server.text
