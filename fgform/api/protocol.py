"""One API request, from its bytes to its response: the ECS JSON 1.1 protocol, apart from
any HTTP server (`fgform.api.server` adapts it to ASGI).

The steps, each answering an error in ECS's shape when it fails (never a 500 for a
client's mistake): `POST /` only -> the body's size limit -> the `X-Amz-Target` and
`Content-Type` headers -> SigV4 (`fgform.api.sigv4`, the key from `fgform.api.keys`) -> the
key's rate limit -> the JSON body -> the action (`fgform.api.actions.ACTIONS`) -> the
resources it acts on (`targets`) -> IAM-style authorization of each (`fgform.api.policy`)
-> the handler, on a worker thread (handlers block) -> one audit log line.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
import sys
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TextIO

from fgform.api import policy, sigv4
from fgform.api.actions import ACTIONS, TARGET_PREFIX, ActionSpec, ApiContext, Target
from fgform.api.audit import AuditLog, now_rfc3339, redact
from fgform.api.ecs_model import ecs_model, type_problem
from fgform.api.errors import ApiError
from fgform.api.limits import DEFAULT_MAX_REQUEST_SIZE, BodyTooLarge, RateLimiter

CONTENT_TYPE = "application/x-amz-json-1.1"

# The audit log's decisions: before authentication succeeds a request is
# "unauthenticated"; after it, the policy's decision ("allow", "explicit-deny",
# "implicit-deny"), or null when the request failed before authorization was evaluated
# (rate limit, bad JSON, unknown action).
UNAUTHENTICATED = "unauthenticated"
# Handlers block (a write waits for the state lock, a RunTask for its containers): enough
# worker threads that writes queued on the lock do not leave reads without one.
WORKER_THREADS = 64


@dataclass
class Request:
    """An HTTP request as the pipeline needs it. `headers`: lower-case names (repeated
    headers joined by ","); `source`: the client's "host:port"."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    source: str | None = None


@dataclass
class Response:
    """What to answer: status, headers (Content-Type and x-amzn-RequestId included), body."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


ReadBody = Callable[[int], Awaitable[bytes]]


@dataclass
class _Audit:
    """The audit record of one request, filled in as the pipeline goes."""

    request_id: str
    source: str | None
    started: float
    time: str = field(default_factory=now_rfc3339)
    key: Any = None
    action: str | None = None
    resources: list[str] = field(default_factory=list)
    decision: str | None = UNAUTHENTICATED
    params: Any = None

    def record(self, status: int, result: str) -> dict[str, Any]:
        key = None
        if self.key is not None:
            key = {"name": self.key.name, "access_key_id": self.key.access_key_id}
        return {
            "time": self.time, "request_id": self.request_id, "key": key,
            "source": self.source, "action": self.action, "resources": self.resources,
            "decision": self.decision, "result": result, "status": status,
            "duration_ms": round((time.monotonic() - self.started) * 1000, 1),
            "params": self.params,
        }


class Pipeline:
    """The request -> response pipeline of one server: its context, keys, limits and
    audit log. `find_key(access_key_id)` is `KeyStore(dir).find`; `errors` is where the
    detail of a server error goes (the server's stderr, never the client)."""

    def __init__(self, ctx: ApiContext, find_key: Callable[[str], Any], *,
                 audit: AuditLog | None = None, limiter: RateLimiter | None = None,
                 max_request_size: int = DEFAULT_MAX_REQUEST_SIZE,
                 errors: TextIO | None = None) -> None:
        import fgform.api.handlers  # noqa: F401  (registers every action)

        self.ctx = ctx
        self.find_key = find_key
        self.audit = audit
        self.limiter = limiter or RateLimiter()
        self.max_request_size = max_request_size
        self.errors = errors if errors is not None else sys.stderr
        self._workers = ThreadPoolExecutor(WORKER_THREADS, thread_name_prefix="fgform-api")
        # Loaded now, not by the first request's type check on the event loop (a few
        # hundred ms of JSON in which no other request would be answered).
        ecs_model()

    async def _in_worker(self, fn: Callable[..., Any], *args: Any) -> Any:
        """`fn(*args)` on a worker thread (the event loop keeps serving meanwhile)."""
        return await asyncio.get_running_loop().run_in_executor(
            self._workers, functools.partial(fn, *args))

    async def handle(self, req: Request, read_body: ReadBody) -> Response:
        """Answer one request. `read_body(limit)` returns the whole body, raising
        `BodyTooLarge` once it is longer than `limit`."""
        rec = _Audit(request_id=str(uuid.uuid4()), source=req.source,
                     started=time.monotonic())
        try:
            body = await self._run(req, read_body, rec)
            response = self._respond(rec.request_id, 200, body)
            result = "ok"
        except ApiError as exc:
            response = self._respond(rec.request_id, exc.status, exc.body())
            result = exc.code
        except Exception as exc:  # a bug: the client learns only that it happened
            self._log_error(rec, exc)
            err = ApiError("ServerException", "The server encountered an internal error "
                           f"(request {rec.request_id}).")
            response = self._respond(rec.request_id, err.status, err.body())
            result = err.code
        if self.audit is not None:
            try:
                self.audit.write(rec.record(response.status, result))
            except Exception as exc:  # the answer stands; the operator must hear of it
                self._log_error(rec, exc)
        return response

    async def _run(self, req: Request, read_body: ReadBody, rec: _Audit) -> dict[str, Any]:
        if req.path != "/":
            raise ApiError("UnknownOperationException", f"No operation at {req.path}: the "
                           "ECS API answers POST / only.", 404)
        if req.method != "POST":
            raise ApiError("UnknownOperationException", f"Method {req.method} is not "
                           "allowed: the ECS API answers POST / only.", 405)
        target = req.headers.get("x-amz-target", "")
        if target.startswith(TARGET_PREFIX):
            rec.action = target[len(TARGET_PREFIX):]
        length = req.headers.get("content-length")
        if length is not None and length.strip().isdigit() \
                and int(length) > self.max_request_size:
            raise _too_large(self.max_request_size)
        try:
            body = await read_body(self.max_request_size)
        except BodyTooLarge:
            raise _too_large(self.max_request_size) from None
        if not target:
            raise ApiError("UnknownOperationException", "The request has no X-Amz-Target "
                           f"header: it must be {TARGET_PREFIX}<Action>.")
        if not target.startswith(TARGET_PREFIX):
            raise ApiError("UnknownOperationException", f"X-Amz-Target {target!r} is not an "
                           f"ECS operation: it must be {TARGET_PREFIX}<Action>.")
        media = req.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media != CONTENT_TYPE:
            raise ApiError("SerializationException", f"Content-Type must be {CONTENT_TYPE}"
                           + (f", not {media}." if media else "; the request has none."))

        # Credentials scoped to another region are refused, as AWS's regional endpoints do.
        key = sigv4.verify(req.method, req.path, req.query, req.headers, body, self.find_key,
                           region=self.ctx.identity.region)
        rec.key = key
        rec.decision = None
        if not self.limiter.allow(key.access_key_id):
            raise ApiError("ThrottlingException", "Rate exceeded")

        params = _parse_json(body)
        rec.params = redact(params)
        action = rec.action or ""
        spec = ACTIONS.get(action)
        if spec is None:
            raise ApiError("InvalidAction",
                           f"The action {action} is not valid for this web service.")
        problem = type_problem(action, params)
        if problem:
            raise ApiError("SerializationException", problem)

        result = await self._in_worker(self._act, key, spec, params, rec)
        return result if result is not None else {}

    def _act(self, key: Any, spec: ActionSpec, params: dict[str, Any], rec: _Audit) -> Any:
        """On a worker thread, in one trip: the action's targets, their authorization, then
        its handler."""
        targets: list[Target] = spec.targets(self.ctx, params)
        rec.resources = [t.resource for t in targets]
        self._authorize(key, spec.name, targets, rec)
        return spec.handler(self.ctx, params)

    def _authorize(self, key: Any, action: str, targets: list[Target], rec: _Audit) -> None:
        """Evaluate the key's policies for every resource; the first denied one (an
        explicit deny before an implicit one) answers AccessDeniedException."""
        name = f"ecs:{action}"
        identity = self.ctx.identity
        denied: tuple[Any, str] | None = None
        for t in targets:
            context = policy.request_context(key, t.cluster, region=identity.region,
                                             account=identity.account)
            decision = policy.evaluate(key.policies, name, t.resource, context)
            if decision.allowed:
                continue
            if denied is None or (decision.kind == "explicit-deny"
                                  and denied[0].kind != "explicit-deny"):
                denied = (decision, t.resource)
        if denied is not None:
            rec.decision = denied[0].kind
            raise ApiError("AccessDeniedException", policy.access_denied_message(
                key, name, denied[1], decision=denied[0], account=identity.account))
        rec.decision = "allow"

    def _respond(self, request_id: str, status: int, body: dict[str, Any]) -> Response:
        data = json.dumps(body, separators=(",", ":"), default=_json_default).encode()
        return Response(status, [("content-type", CONTENT_TYPE),
                                 ("x-amzn-requestid", request_id),
                                 ("content-length", str(len(data)))], data)

    def _log_error(self, rec: _Audit, exc: BaseException) -> None:
        text = "".join(traceback.format_exception(exc))
        try:
            self.errors.write(f"fgform serve: internal error in request {rec.request_id} "
                              f"({rec.action}):\n{text}")
            self.errors.flush()
        except (OSError, ValueError):
            pass


def _too_large(limit: int) -> ApiError:
    return ApiError("RequestEntityTooLargeException",
                    f"Request body is larger than the server's limit of {limit} bytes.")


def _parse_json(body: bytes) -> dict[str, Any]:
    """The request's parameters: a JSON object (an empty body is `{}`, as AWS reads it)."""
    if not body.strip():
        return {}
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ApiError("SerializationException",
                       "The request body is not valid JSON.") from None
    if not isinstance(value, dict):
        raise ApiError("SerializationException",
                       "The request body must be a JSON object.")
    return value


def _json_default(value: Any) -> Any:
    """ECS's JSON 1.1 timestamps are seconds since the epoch."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.timestamp()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
