"""AWS Signature Version 4 verification: the signature of a received request is recomputed
with botocore's own signer (`botocore.auth.SigV4Auth`: its canonical request, string to
sign and signing key) for the request's own date, signed headers and credential scope, with
the secret of the key the request names, and compared in constant time.

Errors are AWS's, as a JSON-protocol service (ECS) answers them: MissingAuthenticationToken
for an unsigned request, IncompleteSignature for a malformed Authorization header,
UnrecognizedClient for an unknown access key id, InvalidSignature for a date outside the
15-minute window, a wrong credential scope or a wrong signature. No message ever contains
the expected signature, the canonical request or the string to sign.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

from fgform.api.errors import ApiError
from fgform.api.keys import ApiKey

ALGORITHM = "AWS4-HMAC-SHA256"
# AWS accepts a request whose date is within 15 minutes of its own clock, either way.
WINDOW = timedelta(minutes=15)
SERVICE = "ecs"
# What a JSON-protocol service (ECS, DynamoDB...) answers for a wrong signature; the XML
# and query services call it SignatureDoesNotMatch.
MISMATCH_CODE = "InvalidSignatureException"
MISMATCH_MESSAGE = ("The request signature we calculated does not match the signature you "
                    "provided. Check your AWS Secret Access Key and signing method. Consult "
                    "the service documentation for details.")
_SIGNATURE_RE = re.compile(r"[0-9a-f]{64}")


class _Headers:
    """Case-insensitive lookups in whatever mapping the server passes."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        # Values as bytes (a raw ASGI scope's, botocore's prepared request's) are read as
        # HTTP reads header bytes: latin-1.
        self._h = {_text(k).lower(): _text(v) for k, v in headers.items()}

    def get(self, name: str) -> str | None:
        return self._h.get(name.lower())


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes | bytearray) else value


class _Verifier(SigV4Auth):
    """botocore's SigV4 signer, made to reproduce a received request's signature: the
    headers signed are exactly those the request's SignedHeaders lists (botocore would
    drop some, such as user-agent, and add host), and the payload hash is the body's."""

    def __init__(self, credentials: Credentials, service: str, region: str,
                 signed: list[str], headers: _Headers) -> None:
        super().__init__(credentials, service, region)
        self._signed = signed
        self._received = headers

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        out = HTTPHeaders()
        for name in self._signed:
            value = self._received.get(name)
            if value is not None:
                out[name] = value
        return out

    def payload(self, request: AWSRequest) -> str:
        return hashlib.sha256(request.body or b"").hexdigest()


def verify(method: str, path: str, query: str, headers: Mapping[str, str], body: bytes,
           find_key: Callable[[str], ApiKey | None], now: datetime | None = None, *,
           region: str | None = None, service: str = SERVICE) -> ApiKey:
    """The key that signed this request, or ApiError with AWS's code and wording.

    `path` and `query` are the request target as received (still percent-encoded, the
    query without its "?"); `headers` the received headers (looked up case-insensitively);
    `now` the server's clock (default: the current time); `region`, when given, is the
    only region a credential scope may name; `service` the service it must name."""
    h = _Headers(headers)
    auth = h.get("authorization")
    if not auth or not auth.strip():
        if re.search(r"(^|&)X-Amz-(Signature|Algorithm|Credential)=", query or "", re.I):
            raise ApiError("IncompleteSignatureException",
                           "Query-string (presigned) signatures are not supported by "
                           "fgform's ECS API; sign the request with an Authorization header.")
        raise ApiError("MissingAuthenticationTokenException", "Missing Authentication Token")
    params = _parse_authorization(auth)
    key_id, scope_date, scope_region, scope_service = _parse_credential(params["Credential"])
    signed = [n.strip().lower() for n in params["SignedHeaders"].split(";")]
    if not all(signed):
        raise ApiError("IncompleteSignatureException",
                       "Authorization header's 'SignedHeaders' parameter has an empty name.")
    if "host" not in signed and ":authority" not in signed:
        raise ApiError("IncompleteSignatureException",
                       "'Host' or ':authority' must be a 'SignedHeader' in the AWS "
                       "Authorization.")
    signature = params["Signature"].strip()
    when, timestamp = _request_time(h)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    _check_window(when, now)
    if scope_date != timestamp[:8]:
        raise ApiError("InvalidSignatureException",
                       f"Date in Credential scope does not match YYYYMMDD from ISO-8601 "
                       f"version of date from HTTP: '{scope_date}' != '{timestamp[:8]}', "
                       f"from '{timestamp}'.")
    if scope_service != service:
        raise ApiError("InvalidSignatureException",
                       f"Credential should be scoped to correct service: '{service}'. ")
    if region is not None and scope_region != region:
        raise ApiError("InvalidSignatureException",
                       f"Credential should be scoped to a valid region, not "
                       f"'{scope_region}'. ")
    key = find_key(key_id)
    # fgform's keys are long-term keys: a session token (STS credentials, or a stale
    # AWS_SESSION_TOKEN beside fgform's key) is one AWS would not recognise either.
    if key is None or h.get("x-amz-security-token") is not None:
        raise ApiError("UnrecognizedClientException",
                       "The security token included in the request is invalid.")
    content_sha = h.get("x-amz-content-sha256")
    if content_sha is not None and content_sha != hashlib.sha256(body).hexdigest():
        # botocore would sign the header's value in place of the body's hash: a body changed
        # in transit with the header kept would otherwise pass.
        raise ApiError(MISMATCH_CODE, MISMATCH_MESSAGE)
    try:
        expected = _expected_signature(method, path, query, h, body, key, signed, timestamp,
                                       scope_region, scope_service)
    except (ValueError, UnicodeError):
        # A request target botocore cannot parse cannot have been signed by it.
        raise ApiError(MISMATCH_CODE, MISMATCH_MESSAGE) from None
    if not (_SIGNATURE_RE.fullmatch(signature)
            and hmac.compare_digest(expected.encode(), signature.encode())):
        raise ApiError(MISMATCH_CODE, MISMATCH_MESSAGE)
    return key


def _parse_authorization(auth: str) -> dict[str, str]:
    """The Authorization header's parameters (Credential, SignedHeaders, Signature)."""
    algorithm, _, rest = auth.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise ApiError("IncompleteSignatureException",
                       f"Unsupported AWS 'algorithm': '{algorithm[:40]}' (fgform verifies "
                       f"{ALGORITHM} signatures).")
    params: dict[str, str] = {}
    for part in rest.split(","):
        name, eq, value = part.strip().partition("=")
        if eq and name:
            params[name] = value.strip()
    missing = [n for n in ("Credential", "SignedHeaders", "Signature") if not params.get(n)]
    if missing:
        raise ApiError("IncompleteSignatureException",
                       " ".join(f"Authorization header requires '{n}' parameter."
                                for n in missing))
    return params


def _parse_credential(credential: str) -> tuple[str, str, str, str]:
    parts = credential.split("/")
    if len(parts) != 5 or not all(parts) or parts[4] != "aws4_request":
        raise ApiError("IncompleteSignatureException",
                       "Credential must have exactly 5 slash-delimited elements, e.g. "
                       "keyid/date/region/service/term, got a malformed Credential.")
    if not re.fullmatch(r"\d{8}", parts[1]):
        raise ApiError("IncompleteSignatureException",
                       "Credential's date must be YYYYMMDD.")
    return parts[0], parts[1], parts[2], parts[3]


def _request_time(h: _Headers) -> tuple[datetime, str]:
    """The request's date (X-Amz-Date, else Date) and the SigV4 timestamp signed with it."""
    amz = h.get("x-amz-date")
    if amz is not None:
        try:
            when = datetime.strptime(amz.strip(), SIGV4_TIMESTAMP).replace(tzinfo=UTC)
        except ValueError:
            raise ApiError("IncompleteSignatureException",
                           "X-Amz-Date must be in the ISO8601 Long Format "
                           "\"yyyyMMdd'T'HHmmss'Z'\"") from None
        return when, amz.strip()
    date = h.get("date")
    if date is None:
        raise ApiError("IncompleteSignatureException",
                       "Authorization header requires existence of either a 'X-Amz-Date' or "
                       "a 'Date' header.")
    try:
        when = parsedate_to_datetime(date).astimezone(UTC)
    except (TypeError, ValueError):
        raise ApiError("IncompleteSignatureException",
                       "Date header must be an RFC 1123 date.") from None
    return when, when.strftime(SIGV4_TIMESTAMP)


def _check_window(when: datetime, now: datetime) -> None:
    fmt = SIGV4_TIMESTAMP
    if when < now - WINDOW:
        raise ApiError("InvalidSignatureException",
                       f"Signature expired: {when.strftime(fmt)} is now earlier than "
                       f"{(now - WINDOW).strftime(fmt)} ({now.strftime(fmt)} - 15 min.)")
    if when > now + WINDOW:
        raise ApiError("InvalidSignatureException",
                       f"Signature not yet current: {when.strftime(fmt)} is still later than "
                       f"{(now + WINDOW).strftime(fmt)} ({now.strftime(fmt)} + 15 min.)")


def _expected_signature(method: str, path: str, query: str, h: _Headers, body: bytes,
                        key: ApiKey, signed: list[str], timestamp: str, region: str,
                        service: str) -> str:
    """botocore's signature of the request as received, for `key`."""
    # The URL only carries the path and query to botocore (the Host header signed is the
    # received one, from `headers_to_sign`): a fixed host keeps a malformed Host header from
    # breaking the URL's parsing.
    if not path.startswith("/"):
        path = "/" + path
    url = f"http://localhost{path}" + (f"?{query}" if query else "")
    request = AWSRequest(method=method.upper(), url=url, data=body)
    content_sha = h.get("x-amz-content-sha256")
    if content_sha is not None:
        # botocore uses this header's value as the payload hash (checked against the body).
        request.headers["X-Amz-Content-SHA256"] = content_sha
    # botocore's add_auth would stamp the current time; the signature is for the request's.
    request.context["timestamp"] = timestamp
    signer = _Verifier(Credentials(key.access_key_id, key.secret_access_key), service,
                       region, signed, h)
    canonical = signer.canonical_request(request)
    return signer.signature(signer.string_to_sign(request, canonical), request)
