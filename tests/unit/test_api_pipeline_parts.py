"""The API server's parts that need no server: the token bucket, the audit log's
redaction, file rules and formatting, the -listen address rule, and the pipeline itself
driven in-process (signed with botocore, as a client signs)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import stat
from pathlib import Path

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from fgform.api.actions import ACTIONS, ApiContext, Target, action
from fgform.api.audit import AuditLog, format_record, read_records, redact
from fgform.api.keys import KeyStore
from fgform.api.limits import BodyTooLarge, RateLimiter, TokenBucket
from fgform.api.protocol import Pipeline, Request
from fgform.api.server import parse_listen
from fgform.errors import FgformError


def test_token_bucket_bursts_then_refills() -> None:
    b = TokenBucket(rate=2, burst=4)
    assert [b.take(0.0) for _ in range(5)] == [True] * 4 + [False]
    assert b.take(0.4) is False  # 0.8 of a token
    assert b.take(0.5) is True
    assert [b.take(100.0) for _ in range(5)] == [True] * 4 + [False]  # capped at the burst


def test_rate_limiter_is_per_key_and_can_be_off() -> None:
    now = [0.0]
    limiter = RateLimiter(1, clock=lambda: now[0])
    assert [limiter.allow("a") for _ in range(3)] == [True, True, False]
    assert limiter.allow("b")
    assert all(RateLimiter(0).allow("a") for _ in range(1000))


def test_redact_every_environment_value_and_secret_at_any_depth() -> None:
    params = {"containerDefinitions": [{"name": "w", "environment": [
        {"name": "A", "value": "1"}], "secrets": [{"name": "S", "valueFrom": "arn"}]}],
        "overrides": {"containerOverrides": [{"environment": [{"name": "B", "value": "2"}]}]},
        "environment": ["odd"], "family": "f"}
    out = redact(params)
    assert out["containerDefinitions"][0]["environment"] == [{"name": "A",
                                                               "value": "(redacted)"}]
    assert out["containerDefinitions"][0]["secrets"][0]["valueFrom"] == "(redacted)"
    assert out["overrides"]["containerOverrides"][0]["environment"][0]["value"] == \
        "(redacted)"
    assert out["environment"] == ["(redacted)"] and out["family"] == "f"
    assert params["containerDefinitions"][0]["environment"][0]["value"] == "1"  # a copy


def test_audit_log_is_private_appended_and_refuses_links(tmp_path: Path) -> None:
    path = tmp_path / ".fgform" / "api-audit.log"
    log = AuditLog(path)
    log.write({"a": 1})
    log.close()
    AuditLog(path).write({"a": 2})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert read_records(path) == [{"a": 1}, {"a": 2}]
    path.unlink()
    path.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(FgformError, match="symbolic link"):
        AuditLog(path)
    assert not (tmp_path / "elsewhere").exists()


def test_format_record() -> None:
    line = format_record({"time": "T", "status": 400, "result": "InvalidAction",
                          "decision": None, "key": {"name": "k", "access_key_id": "AK"},
                          "source": "127.0.0.1:5", "action": "X", "resources": [],
                          "duration_ms": 1.5})
    assert line.split() == ["T", "400", "InvalidAction", "-", "k", "127.0.0.1:5", "X", "-",
                            "1.5ms"]


@pytest.mark.parametrize("text,host,port,loopback", [
    ("127.0.0.1:4566", "127.0.0.1", 4566, True), ("localhost:0", "localhost", 0, True),
    ("[::1]:80", "::1", 80, True), ("0.0.0.0:1", "0.0.0.0", 1, False),
    (":8080", "0.0.0.0", 8080, False), ("example.com:1", "example.com", 1, False)])
def test_parse_listen(text: str, host: str, port: int, loopback: bool) -> None:
    listen = parse_listen(text)
    assert (listen.host, listen.port, listen.loopback) == (host, port, loopback)


@pytest.mark.parametrize("text", ["4566", "host:", "host:99999", "host:x"])
def test_parse_listen_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_listen(text)


# -- the pipeline in-process --------------------------------------------------------------------
ARN = "arn:aws:ecs:us-east-1:000000000000:cluster/"


def _fail(ctx: ApiContext, params: dict) -> dict:
    raise KeyError("hidden-detail")


def _double(ctx: ApiContext, params: dict) -> dict:
    return {"value": params["n"] * 2}


@pytest.fixture
def unit_actions():
    """Two actions registered for one test only (the table is global)."""
    action("UnitTestFail", lambda ctx, p: [Target("*")])(_fail)
    action("UnitTestDouble", lambda ctx, p: [Target(ARN + p.get("name", "a"))])(_double)
    yield
    for name in ("UnitTestFail", "UnitTestDouble"):
        ACTIONS.pop(name, None)


def _run(pipeline: Pipeline, action_name: str, body: bytes, key=None,
         limit_body: bool = False):
    headers = {"Content-Type": "application/x-amz-json-1.1", "Host": "127.0.0.1:4566",
               "X-Amz-Target": "AmazonEC2ContainerServiceV20141113." + action_name}
    if key is not None:
        req = AWSRequest("POST", "http://127.0.0.1:4566/", data=body, headers=headers)
        SigV4Auth(Credentials(*key), "ecs", "us-east-1").add_auth(req)
        headers = dict(req.headers.items())

    async def read_body(limit: int) -> bytes:
        if len(body) > limit:
            raise BodyTooLarge(limit)
        return body

    request = Request("POST", "/", "", {k.lower(): v for k, v in headers.items()},
                      "127.0.0.1:1")
    response = asyncio.run(pipeline.handle(request, read_body))
    return response.status, json.loads(response.body)


def test_pipeline_in_process(tmp_path: Path, unit_actions: None) -> None:
    store = KeyStore(tmp_path)
    k = store.create("k", [{"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["ecs:UnitTestDouble", "ecs:UnitTestFail"],
         "Resource": "*"},
        {"Effect": "Deny", "Action": "*", "Resource": ARN + "no"}]}])
    errors = io.StringIO()
    audit = AuditLog(tmp_path / "audit.log")
    pipeline = Pipeline(ApiContext(dir=tmp_path, fleet=None), store.find, audit=audit,
                        errors=errors, max_request_size=100)
    cred = (k.access_key_id, k.secret_access_key)
    assert _run(pipeline, "UnitTestDouble", b'{"n": 21}', cred) == (200, {"value": 42})
    status, body = _run(pipeline, "UnitTestDouble", b'{"n": 1, "name": "no"}', cred)
    assert (status, body["__type"]) == (400, "AccessDeniedException")
    status, body = _run(pipeline, "UnitTestFail", b"{}", cred)
    assert (status, body["__type"]) == (500, "ServerException")
    assert "hidden-detail" not in body["message"] and "hidden-detail" in errors.getvalue()
    assert _run(pipeline, "UnitTestDouble", b"{}")[1]["__type"] == \
        "MissingAuthenticationTokenException"
    assert _run(pipeline, "UnitTestDouble", b"x" * 101, cred)[0] == 413
    assert _run(pipeline, "Nope", b"{}", cred)[1]["message"] == \
        "The action Nope is not valid for this web service."
    audit.close()
    records = read_records(tmp_path / "audit.log")
    assert [(r["result"], r["decision"]) for r in records] == [
        ("ok", "allow"), ("AccessDeniedException", "explicit-deny"),
        ("ServerException", "allow"), ("MissingAuthenticationTokenException", "unauthenticated"),
        ("RequestEntityTooLargeException", "unauthenticated"), ("InvalidAction", None)]
