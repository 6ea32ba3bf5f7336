"""SigV4 verification (fgform.api.sigv4) against requests signed for real: by botocore's
SigV4Auth on an AWSRequest, and by a boto3 ECS client (captured at its before-send event,
no network). Good key, wrong secret, unknown key, the 15-minute window both ways, missing
and malformed Authorization, tampered body and headers; no message leaks the expected
signature."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import boto3
import botocore.auth
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from fgform.api.errors import ApiError
from fgform.api.keys import ApiKey
from fgform.api.sigv4 import MISMATCH_MESSAGE, verify

KEY = ApiKey("ci", "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
             (), "2026-01-01T00:00:00Z")
OTHER = ApiKey("dev", "AKIAI44QH8DHBEXAMPLE", "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
               (), "2026-01-01T00:00:00Z")
KEYS = {k.access_key_id: k for k in (KEY, OTHER)}
WHEN = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
BODY = b'{"cluster": "default", "service": "web", "desiredCount": 4}'
TARGET = "AmazonEC2ContainerServiceV20141113.UpdateService"


def find(key_id: str) -> ApiKey | None:
    return KEYS.get(key_id)


def signed(key: ApiKey = KEY, *, when: datetime = WHEN, body: bytes = BODY,
           url: str = "http://127.0.0.1:4566/", region: str = "us-east-1",
           service: str = "ecs", extra: dict | None = None,
           monkeypatch: pytest.MonkeyPatch | None = None) -> tuple[str, str, dict, bytes]:
    """(path, query, headers, body) of a request botocore signed at `when`, with the Host
    header an HTTP client sends."""
    headers = {"X-Amz-Target": TARGET, "Content-Type": "application/x-amz-json-1.1",
               **(extra or {})}
    request = AWSRequest(method="POST", url=url, data=body, headers=headers)
    mp = monkeypatch or pytest.MonkeyPatch()
    try:
        # botocore signs at the current time: make that `when`.
        mp.setattr(botocore.auth, "get_current_datetime", lambda: when.replace(tzinfo=None))
        SigV4Auth(Credentials(key.access_key_id, key.secret_access_key), service,
                  region).add_auth(request)
    finally:
        if monkeypatch is None:
            mp.undo()
    parts = urlsplit(url)
    out = dict(request.headers.items())
    out["Host"] = parts.netloc
    return parts.path, parts.query, out, body


def check(path, query, headers, body, now=WHEN, **kw) -> ApiKey:
    return verify("POST", path, query, headers, body, find, now=now, **kw)


def error(path, query, headers, body, now=WHEN, **kw) -> ApiError:
    with pytest.raises(ApiError) as info:
        check(path, query, headers, body, now=now, **kw)
    return info.value


def test_a_good_signature_names_its_key() -> None:
    assert check(*signed()) is KEY
    assert check(*signed(OTHER)) is OTHER


def test_headers_are_looked_up_case_insensitively() -> None:
    path, query, headers, body = signed()
    assert check(path, query, {k.lower(): v for k, v in headers.items()}, body) is KEY
    assert check(path, query, {k.upper(): v for k, v in headers.items()}, body) is KEY


def test_a_boto3_ecs_client_request_verifies() -> None:
    """A real boto3 client's request, as it would go on the wire (captured before sending)."""
    client = boto3.client("ecs", endpoint_url="http://127.0.0.1:4566", region_name="eu-west-1",
                          aws_access_key_id=KEY.access_key_id,
                          aws_secret_access_key=KEY.secret_access_key)
    seen = []

    class Sent(Exception):
        pass

    def capture(request, **_):
        url = urlsplit(request.url)
        headers = dict(request.headers.items())  # bytes values, as botocore prepares them
        headers["Host"] = url.netloc
        seen.append(verify(request.method, url.path, url.query, headers, request.body or b"",
                           find, region="eu-west-1"))
        tampered = request.body.replace(b"web", b"api")
        with pytest.raises(ApiError) as info:
            verify(request.method, url.path, url.query, headers, tampered, find)
        seen.append(info.value.code)
        raise Sent

    client.meta.events.register("before-send.ecs", capture)
    with pytest.raises(Sent):
        client.update_service(cluster="default", service="web", desiredCount=4)
    assert seen == [KEY, "InvalidSignatureException"]


def test_a_path_and_query_string_are_signed_too() -> None:
    path, query, headers, body = signed(url="http://localhost:4566/a%20b/c?b=2&a=1")
    assert (path, query) == ("/a%20b/c", "b=2&a=1")
    assert check(path, query, headers, body) is KEY
    assert error("/a%20b/d", query, headers, body).code == "InvalidSignatureException"
    assert error(path, "b=3&a=1", headers, body).code == "InvalidSignatureException"


def test_a_wrong_secret_is_a_signature_mismatch_without_the_expected_signature() -> None:
    impostor = ApiKey("ci", KEY.access_key_id, "x" * 40, (), KEY.created)
    path, query, headers, body = signed(impostor)
    err = error(path, query, headers, body)
    assert (err.code, err.status, err.message) == ("InvalidSignatureException", 400,
                                                   MISMATCH_MESSAGE)
    assert MISMATCH_MESSAGE.startswith("The request signature we calculated does not match "
                                       "the signature you provided.")
    # Nothing about the right signature (or what it is computed from) is in the answer.
    right = signed()[2]["Authorization"].rsplit("Signature=", 1)[1]
    text = repr(err.body())
    assert right not in text
    for leak in ("AWS4-HMAC-SHA256\n", "aws4_request\n", "x-amz-target:", BODY.decode()):
        assert leak not in text


def test_an_unknown_key_id_is_unrecognized() -> None:
    stranger = ApiKey("x", "AKIAZZZZZZZZZZZZZZZZ", KEY.secret_access_key, (), KEY.created)
    err = error(*signed(stranger))
    assert (err.code, err.message) == ("UnrecognizedClientException",
                                       "The security token included in the request is "
                                       "invalid.")
    assert err.status == 400


def test_a_revoked_key_is_unrecognized_at_once() -> None:
    keys = dict(KEYS)
    request = signed()
    assert verify("POST", *request, keys.get, now=WHEN) is KEY
    del keys[KEY.access_key_id]
    with pytest.raises(ApiError) as info:
        verify("POST", *request, keys.get, now=WHEN)
    assert info.value.code == "UnrecognizedClientException"


@pytest.mark.parametrize("age", [timedelta(minutes=14, seconds=59), timedelta(minutes=15),
                                 timedelta(minutes=-15), timedelta(0)])
def test_within_the_15_minute_window(age) -> None:
    assert check(*signed(when=WHEN), now=WHEN + age) is KEY


def test_a_16_minute_old_request_has_expired() -> None:
    err = error(*signed(when=WHEN), now=WHEN + timedelta(minutes=16))
    assert err.code == "InvalidSignatureException"
    assert err.message == ("Signature expired: 20260301T120000Z is now earlier than "
                           "20260301T120100Z (20260301T121600Z - 15 min.)")


def test_a_request_from_the_future_is_not_yet_current() -> None:
    err = error(*signed(when=WHEN), now=WHEN - timedelta(minutes=16))
    assert err.code == "InvalidSignatureException"
    assert err.message == ("Signature not yet current: 20260301T120000Z is still later than "
                           "20260301T115900Z (20260301T114400Z + 15 min.)")


def test_the_date_is_signed() -> None:
    path, query, headers, body = signed()
    headers["X-Amz-Date"] = "20260301T120500Z"  # a replay with a fresher date
    assert error(path, query, headers, body).code == "InvalidSignatureException"


def test_the_window_uses_the_current_time_by_default() -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    assert verify("POST", *signed(when=now), find) is KEY
    with pytest.raises(ApiError) as info:
        verify("POST", *signed(when=now - timedelta(minutes=16)), find)
    assert info.value.message.startswith("Signature expired: ")


def test_an_unsigned_request_misses_its_token() -> None:
    path, query, headers, body = signed()
    del headers["Authorization"]
    err = error(path, query, headers, body)
    assert (err.code, err.message, err.status) == ("MissingAuthenticationTokenException",
                                                   "Missing Authentication Token", 403)
    headers["Authorization"] = "  "
    assert error(path, query, headers, body).code == "MissingAuthenticationTokenException"


def test_a_query_string_signature_is_refused_clearly() -> None:
    path, _, headers, body = signed()
    del headers["Authorization"]
    query = ("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20260301"
             "%2Fus-east-1%2Fecs%2Faws4_request&X-Amz-Signature=abc")
    err = error(path, query, headers, body)
    assert err.code == "IncompleteSignatureException"
    assert "Query-string (presigned) signatures are not supported" in err.message


def _with_auth(auth: str) -> tuple:
    path, query, headers, body = signed()
    headers["Authorization"] = auth
    return path, query, headers, body


GOOD_CREDENTIAL = "Credential=AKIAIOSFODNN7EXAMPLE/20260301/us-east-1/ecs/aws4_request"
SIG = "Signature=" + "0" * 64


@pytest.mark.parametrize(("auth", "message"), [
    ("Bearer abc", "Unsupported AWS 'algorithm': 'Bearer'"),
    ("AWS4-HMAC-SHA256", "Authorization header requires 'Credential' parameter. Authorization "
     "header requires 'SignedHeaders' parameter. Authorization header requires 'Signature' "
     "parameter."),
    (f"AWS4-HMAC-SHA256 {GOOD_CREDENTIAL}, SignedHeaders=host;x-amz-date",
     "Authorization header requires 'Signature' parameter."),
    (f"AWS4-HMAC-SHA256 {GOOD_CREDENTIAL}, {SIG}",
     "Authorization header requires 'SignedHeaders' parameter."),
    ("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260301/us-east-1/ecs, "
     f"SignedHeaders=host, {SIG}", "Credential must have exactly 5 slash-delimited elements"),
    ("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/2026-03-01/us-east-1/ecs/aws4_request,"
     f" SignedHeaders=host, {SIG}", "Credential's date must be YYYYMMDD."),
    (f"AWS4-HMAC-SHA256 {GOOD_CREDENTIAL}, SignedHeaders=x-amz-date;x-amz-target, {SIG}",
     "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."),
    (f"AWS4-HMAC-SHA256 {GOOD_CREDENTIAL}, SignedHeaders=host;;x-amz-date, {SIG}",
     "Authorization header's 'SignedHeaders' parameter has an empty name."),
])
def test_a_malformed_authorization_header_is_an_incomplete_signature(auth, message) -> None:
    err = error(*_with_auth(auth))
    assert err.code == "IncompleteSignatureException"
    assert err.status == 400
    assert err.message.startswith(message), err.message


def test_a_bad_date_header_is_an_incomplete_signature() -> None:
    path, query, headers, body = signed()
    headers["X-Amz-Date"] = "2026-03-01T12:00:00Z"
    assert error(path, query, headers, body).code == "IncompleteSignatureException"
    del headers["X-Amz-Date"]
    err = error(path, query, headers, body)
    assert err.message == ("Authorization header requires existence of either a 'X-Amz-Date' "
                           "or a 'Date' header.")


def test_a_signature_that_is_not_hex_is_a_mismatch() -> None:
    path, query, headers, body = signed()
    headers["Authorization"] = headers["Authorization"].rsplit("=", 1)[0] + "=" + "Z" * 64
    assert error(path, query, headers, body).message == MISMATCH_MESSAGE


def test_a_tampered_body_is_a_mismatch() -> None:
    path, query, headers, _ = signed()
    err = error(path, query, headers, BODY.replace(b"4", b"40"))
    assert (err.code, err.message) == ("InvalidSignatureException", MISMATCH_MESSAGE)


def test_a_tampered_signed_header_is_a_mismatch() -> None:
    path, query, headers, body = signed()
    headers["X-Amz-Target"] = "AmazonEC2ContainerServiceV20141113.DeleteService"
    assert error(path, query, headers, body).code == "InvalidSignatureException"
    path, query, headers, body = signed()
    headers["Host"] = "127.0.0.1:4567"
    assert error(path, query, headers, body).code == "InvalidSignatureException"


def test_a_signed_header_left_out_is_a_mismatch() -> None:
    path, query, headers, body = signed()
    del headers["X-Amz-Target"]
    assert error(path, query, headers, body).code == "InvalidSignatureException"


def test_unsigned_headers_may_change() -> None:
    path, query, headers, body = signed()
    headers["User-Agent"] = "something else"
    headers["X-Forwarded-For"] = "10.0.0.1"
    assert check(path, query, headers, body) is KEY


def test_a_signed_user_agent_is_verified_as_signed() -> None:
    """botocore's signer never signs User-Agent; other SDKs may. The header list is the
    request's own, so such a request verifies, and changing the header breaks it."""
    path, query, headers, body = signed(extra={"User-Agent": "aws-sdk-go/1.0"})
    auth = headers["Authorization"]
    assert "user-agent" not in auth
    # Re-sign by hand with user-agent in SignedHeaders through a signer that keeps it.

    class KeepAll(SigV4Auth):
        def headers_to_sign(self, request):
            out = super().headers_to_sign(request)
            out["user-agent"] = request.headers["User-Agent"]
            return out

    request = AWSRequest(method="POST", url="http://127.0.0.1:4566/", data=BODY,
                         headers={"X-Amz-Target": TARGET, "User-Agent": "aws-sdk-go/1.0"})
    mp = pytest.MonkeyPatch()
    mp.setattr(botocore.auth, "get_current_datetime", lambda: WHEN.replace(tzinfo=None))
    try:
        KeepAll(Credentials(KEY.access_key_id, KEY.secret_access_key), "ecs",
                "us-east-1").add_auth(request)
    finally:
        mp.undo()
    headers = {**dict(request.headers.items()), "Host": "127.0.0.1:4566"}
    assert "user-agent" in headers["Authorization"]
    assert check("/", "", headers, BODY) is KEY
    headers["User-Agent"] = "curl/8"
    assert error("/", "", headers, BODY).code == "InvalidSignatureException"


def test_a_content_sha256_header_must_be_the_body_s() -> None:
    path, query, headers, body = signed(extra={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    # botocore signs the header's value instead of the body's hash: the signature is right
    # for any body, so the header itself is checked against the body.
    assert error(path, query, headers, body).message == MISMATCH_MESSAGE
    import hashlib

    digest = hashlib.sha256(BODY).hexdigest()
    path, query, headers, body = signed(extra={"X-Amz-Content-SHA256": digest})
    assert check(path, query, headers, body) is KEY
    assert error(path, query, headers, b"{}").message == MISMATCH_MESSAGE


def test_the_credential_scope_must_be_ecs_and_the_server_s_region() -> None:
    err = error(*signed(service="s3"))
    assert (err.code, err.message) == ("InvalidSignatureException",
                                       "Credential should be scoped to correct service: "
                                       "'ecs'. ")
    request = signed(region="eu-west-1")
    assert check(*request) is KEY  # any region, unless the server names one
    assert check(*request, region="eu-west-1") is KEY
    err = error(*request, region="us-east-1")
    assert err.message == "Credential should be scoped to a valid region, not 'eu-west-1'. "


def test_the_scope_date_must_be_the_request_s() -> None:
    path, query, headers, body = signed()
    headers["Authorization"] = headers["Authorization"].replace("/20260301/", "/20260302/")
    err = error(path, query, headers, body)
    assert err.code == "InvalidSignatureException"
    assert err.message.startswith("Date in Credential scope does not match YYYYMMDD")


def test_a_date_header_instead_of_x_amz_date() -> None:
    """Clients that sign the Date header (RFC 1123) and send no X-Amz-Date."""

    class DateSigner(SigV4Auth):
        # botocore's signer, less X-Amz-Date in the signed headers (the timestamp in the
        # string to sign is the same instant).
        def headers_to_sign(self, request):
            out = super().headers_to_sign(request)
            del out["x-amz-date"]
            out["date"] = "Sun, 01 Mar 2026 12:00:00 GMT"
            return out

    request = AWSRequest(method="POST", url="http://127.0.0.1:4566/", data=BODY,
                         headers={"X-Amz-Target": TARGET})
    mp = pytest.MonkeyPatch()
    mp.setattr(botocore.auth, "get_current_datetime", lambda: WHEN.replace(tzinfo=None))
    try:
        DateSigner(Credentials(KEY.access_key_id, KEY.secret_access_key), "ecs",
                   "us-east-1").add_auth(request)
    finally:
        mp.undo()
    headers = dict(request.headers.items())
    del headers["X-Amz-Date"]
    headers["Date"] = "Sun, 01 Mar 2026 12:00:00 GMT"
    headers["Host"] = "127.0.0.1:4566"
    assert "SignedHeaders=date;host;x-amz-target" in headers["Authorization"]
    assert check("/", "", headers, BODY) is KEY
    assert error("/", "", headers, BODY, now=WHEN + timedelta(minutes=20)).message.startswith(
        "Signature expired: 20260301T120000Z")
    headers["Date"] = "Sun, 01 Mar 2026 12:00:01 GMT"
    assert error("/", "", headers, BODY).message == MISMATCH_MESSAGE
    headers["Date"] = "yesterday"
    assert error("/", "", headers, BODY).code == "IncompleteSignatureException"


def test_a_session_token_is_unrecognized() -> None:
    """fgform's keys have no session tokens: a request carrying one (a stale
    AWS_SESSION_TOKEN in the environment) is refused as AWS refuses a bad token."""
    path, query, headers, body = signed(extra={"X-Amz-Security-Token": "FwoGZXIvYXdzE"})
    err = error(path, query, headers, body)
    assert (err.code, err.message) == ("UnrecognizedClientException",
                                       "The security token included in the request is "
                                       "invalid.")


def test_the_aws_cli_over_real_http(tmp_path) -> None:
    """`aws ecs list-clusters` signs a request that goes over a real HTTP connection to a
    small server here (127.0.0.1), which verifies it as received; a wrong secret gets the
    mismatch, shown by the aws CLI as AWS's would be."""
    import json
    import os
    import shutil
    import subprocess
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    aws = shutil.which("aws")
    assert aws is not None, "the aws CLI is a test dependency (pyproject.toml)"
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            path, _, query = self.path.partition("?")
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            try:
                key = verify("POST", path, query, dict(self.headers.items()), body, find,
                             region="us-east-1")
                seen.append(key.name)
                status, answer = 200, {"clusterArns": []}
            except ApiError as exc:
                seen.append(exc.code)
                status, answer = exc.status, exc.body()
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        def start(secret: str) -> subprocess.Popen:
            env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path),
                   "AWS_ACCESS_KEY_ID": KEY.access_key_id, "AWS_SECRET_ACCESS_KEY": secret,
                   "AWS_DEFAULT_REGION": "us-east-1", "AWS_MAX_ATTEMPTS": "1",
                   "AWS_CONFIG_FILE": str(tmp_path / "none"),
                   "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
            return subprocess.Popen(
                [aws, "ecs", "list-clusters", "--endpoint-url",
                 f"http://127.0.0.1:{server.server_port}", "--output", "json"],
                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        # Both at once: the aws CLI takes seconds to start.
        good, bad = start(KEY.secret_access_key), start("x" * 40)
        good_out, good_err = good.communicate(timeout=60)
        _, bad_err = bad.communicate(timeout=60)
        assert good.returncode == 0, good_err
        assert json.loads(good_out) == {"clusterArns": []}
        assert bad.returncode != 0
        assert ("An error occurred (InvalidSignatureException) when calling the ListClusters "
                f"operation: {MISMATCH_MESSAGE}") in bad_err
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    assert sorted(seen) == ["InvalidSignatureException", "ci"]


def test_mangled_requests_are_refused_with_aws_errors_never_a_crash() -> None:
    """Random edits of a good request's Authorization, dates, Host, content hash, path and
    query: every outcome is the key (an edit of an unsigned part) or an ApiError (the
    server's 400 or 403), never another exception (a 500)."""
    import random
    import string

    rng = random.Random(13)
    chars = string.printable + "\x00\xff\u2603"
    path, query, headers, body = signed()
    fields = ["Authorization", "X-Amz-Date", "Host", "Date", "X-Amz-Content-SHA256", "path",
              "query"]
    outcomes: set[str] = set()
    for _ in range(3000):
        h, p, q = dict(headers), path, query
        field = rng.choice(fields)
        text = list(p if field == "path" else q if field == "query" else h.get(field, ""))
        for _ in range(rng.randint(1, 5)):
            r = rng.random()
            if r < 0.3 and text:
                del text[rng.randrange(len(text))]
            elif r < 0.6:
                text.insert(rng.randrange(len(text) + 1), rng.choice(chars))
            elif text:
                text[rng.randrange(len(text))] = rng.choice(chars)
        value = "".join(text)
        if field == "path":
            p = value
        elif field == "query":
            q = value
        else:
            h[field] = value
        try:
            verify("POST", p, q, h, body, find, now=WHEN)
            outcomes.add("ok")
        except ApiError as exc:
            # A 4xx the SDKs show as the request's fault; a 5xx would be a server crash.
            assert exc.status in (400, 403), (exc.code, exc.status)
            outcomes.add(exc.code)
    assert {"IncompleteSignatureException", "InvalidSignatureException",
            "UnrecognizedClientException"} <= outcomes
