"""The ASGI layer every request passes first: request id, admin auth, load shedding, size and depth limits,
timing, one log line.

Pure ASGI (no BaseHTTPMiddleware), in this order:

1. ``/admin/*`` without ``Authorization: Bearer <serve.admin_token>`` is a 401
   before anything of the request is read (no 422 that tells a stranger what
   the endpoint expects).
2. Load shedding (:class:`Shedder`): a request that waited longer than
   ``serve.max_queue_ms`` in the server's queue, or arrives while
   ``serve.max_in_flight`` are being handled, gets a 503 with ``Retry-After``:
   it costs a fraction of a real answer, so the requests the server does take
   stay fast and it recovers as soon as the load drops. Health checks,
   ``/metrics`` and ``/admin/*`` are never shed.
3. The body is read once, refused with a 413 past ``serve.max_body_bytes`` and
   with a 422 when its JSON nests deeper than ``MAX_DEPTH`` (Python's parser
   would otherwise recurse until it fails), then handed on unchanged.

After the response it records the endpoint's latency and writes one JSON line:
request id, method, route, user id, strategy, arm, status, latency. Never the
body, never a header.
"""

from __future__ import annotations

import asyncio
import contextvars
import hmac
import json
import logging
import os
import re
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from recsys_cli.serve.metrics import Metrics

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_DEPTH = 32
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
log = logging.getLogger("recsys.serve.access")


def json_depth_exceeds(body: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether brackets nest deeper than ``limit`` outside JSON strings (a linear scan, no parsing)."""
    if body.count(b"[") + body.count(b"{") <= limit:  # the usual case: cannot nest that deep
        return False
    depth = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False


def _utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def setup_access_log(enabled: bool) -> None:
    if not enabled:
        log.disabled = True
        return
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


async def _reply(send: Send, status: int, detail: str, request_id: str,
                 headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps({"detail": detail}, separators=(",", ":")).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"x-request-id", request_id.encode()), *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


ADMIN_PREFIX = "/admin"
UNAUTHORISED = "admin endpoints need 'Authorization: Bearer <serve.admin_token>'"
NEVER_SHED = ("/health/live", "/health/ready", "/metrics")


def admin_token(configured: str | None) -> str | None:
    """The admin bearer token: ``serve.admin_token``, else ``$RECSYS_ADMIN_TOKEN``; None: admin is closed."""
    return configured or os.environ.get("RECSYS_ADMIN_TOKEN") or None


def authorised(authorization: str, configured: str | None) -> bool:
    """Whether an ``Authorization`` header value carries the admin token (constant-time compare)."""
    token = admin_token(configured)
    scheme, _, value = authorization.partition(" ")
    if not token or scheme.lower() != "bearer" or not value:
        return False
    return hmac.compare_digest(value.strip().encode(), token.encode())


def document(openapi: dict[str, Any]) -> dict[str, Any]:
    """Add what the Guard may answer to every operation of an OpenAPI schema (in place).

    A body over the limit (413) or nested too deep / not UTF-8 (422) where an
    operation takes a body; a 503 + ``Retry-After`` where load shedding
    applies; a 401 on ``/admin/*``. All are ``{"detail": "<one line>"}``.
    """
    problem = {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    openapi.setdefault("components", {}).setdefault("schemas", {}).setdefault("Problem", {
        "title": "Problem", "type": "object", "required": ["detail"],
        "properties": {"detail": {"title": "Detail", "type": "string"}}})
    retry = {"Retry-After": {"description": "seconds to wait before trying again", "schema": {"type": "integer"}}}
    for path, operations in openapi.get("paths", {}).items():
        admin = path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if "requestBody" in operation:
                responses.setdefault("413", {"description": "Request body over serve.max_body_bytes",
                                             "content": problem})
                responses.setdefault("422", {"description": "Invalid request", "content": problem})
            if admin:
                responses.setdefault("401", {"description": "No or wrong admin token", "content": problem})
                responses.setdefault("503", {"description": "The event store is down", "content": problem})
            elif path not in NEVER_SHED:
                responses.setdefault("503", {"description": "Not ready, a dependency is down, or overloaded "
                                                            "(load shedding: see Retry-After)", "content": problem})
                responses["503"].setdefault("headers", retry)
    return openapi


ARRIVED: contextvars.ContextVar[float] = contextvars.ContextVar("recsys_arrived")
"""When the server's event loop created this request's task (the request's headers had just been read)."""


def _stamping(previous: Any) -> Any:
    """An event-loop task factory that records each task's creation time in :data:`ARRIVED`."""

    def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Future[Any]:
        context = kwargs.pop("context", None)
        context = contextvars.copy_context() if context is None else context.copy()
        context.run(ARRIVED.set, loop.time())
        if previous is not None:
            return previous(loop, coro, context=context, **kwargs)
        return asyncio.Task(coro, loop=loop, context=context, **kwargs)

    factory.recsys_stamping = True  # type: ignore[attr-defined]
    return factory


class Shedder:
    """Admission control: which requests get a 503 + ``Retry-After`` because the server is behind.

    The handlers run on one event loop, one after another; when requests
    arrive faster than they are answered, they wait in the loop's queue. Two
    measures of that wait:

    - per request: each request's task is stamped when the loop creates it
      (its headers were just read; a task factory installed at the first
      request), so the Guard knows how long this request waited;
    - for the server: a timer due every ``TICK_S`` measures how late it
      fires, smoothed (an exponential average over about ``1 / SMOOTHING``
      ticks), so one slow request or a pause of the machine is not a backlog.

    While the server is behind (the smoothed lag above ``max_queue_ms``), a
    request that waited longer than ``max_queue_ms`` is answered 503 at once:
    a few hundred microseconds instead of a full answer its client has likely
    given up on, so the queue drains and the requests behind it are served in
    time (the sojourn-time rule of CoDel, gated by a standing backlog). Also
    shed: any request while ``max_in_flight`` are being handled at once (e.g.
    waiting for the event store to commit).
    """

    TICK_S = 0.01
    SMOOTHING = 0.2

    def __init__(self, max_in_flight: int, max_queue_ms: float) -> None:
        self.max_in_flight = max_in_flight
        self.target = max_queue_ms / 1000.0
        self.in_flight = 0
        self.lag = 0.0  # seconds, smoothed
        self._loop: asyncio.AbstractEventLoop | None = None

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        current = loop.get_task_factory()
        if not getattr(current, "recsys_stamping", False):
            loop.set_task_factory(_stamping(current))
        due = loop.time() + self.TICK_S
        loop.call_at(due, self._tick, due)

    def _tick(self, due: float) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        now = loop.time()
        self.lag += self.SMOOTHING * (max(0.0, now - due) - self.lag)
        loop.call_at(now + self.TICK_S, self._tick, now + self.TICK_S)

    def refuse(self) -> str | None:
        """Why this request is shed, or None to let it in (the caller then counts it in flight)."""
        if self.in_flight >= self.max_in_flight:
            return f"{self.in_flight} requests in flight (serve.max_in_flight={self.max_in_flight})"
        if self.target > 0:
            loop = asyncio.get_running_loop()
            if self._loop is not loop:
                self._start(loop)
            if self.lag > self.target:
                arrived = ARRIVED.get(None)
                waited = 0.0 if arrived is None else loop.time() - arrived
                if waited > self.target:
                    return (f"waited {waited * 1000:.0f} ms to be handled (serve.max_queue_ms="
                            f"{self.target * 1000:g}; the server runs {self.lag * 1000:.0f} ms behind)")
        return None


class Guard:
    def __init__(self, app: ASGIApp, metrics: Metrics, max_body: int, log_requests: bool = True,
                 admin_token: str | None = None, max_in_flight: int = 512, max_queue_ms: float = 200.0) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body = max_body
        self.log_requests = log_requests
        self.admin_token = admin_token
        self.shedder = Shedder(max_in_flight, max_queue_ms)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if REQUEST_ID.match(given) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        status_box = [500]

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_box[0] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        path = scope.get("path", "")
        admitted = False
        try:
            if path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/"):
                if not authorised(headers.get(b"authorization", b"").decode("latin-1"), self.admin_token):
                    status_box[0] = 401
                    await _reply(send, 401, UNAUTHORISED, request_id, [(b"www-authenticate", b"Bearer")])
                    return
            elif path not in NEVER_SHED:
                reason = self.shedder.refuse()
                if reason is not None:
                    status_box[0] = 503
                    state["shed"] = reason
                    self.metrics.shed.labels("in_flight" if "in flight" in reason else "queue").inc()
                    await _reply(send, 503, f"overloaded: {reason}; retry after 1 s", request_id,
                                 [(b"retry-after", b"1")])
                    return
                self.shedder.in_flight += 1
                admitted = True
            if scope["method"] in ("POST", "PUT", "PATCH"):
                length = headers.get(b"content-length")
                if length is not None and length.isdigit() and int(length) > self.max_body:
                    status_box[0] = 413
                    await _reply(send, 413, f"body: {int(length):,} bytes is over the limit of {self.max_body:,}",
                                 request_id)
                    return
                chunks, size = [], 0
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > self.max_body:
                        status_box[0] = 413
                        await _reply(send, 413, f"body: over the limit of {self.max_body:,} bytes", request_id)
                        return
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        break
                body = b"".join(chunks)
                if b"json" in headers.get(b"content-type", b"") and not _utf8(body):
                    status_box[0] = 422
                    await _reply(send, 422, "body: invalid JSON (not UTF-8 text)", request_id)
                    return
                if json_depth_exceeds(body):
                    status_box[0] = 422
                    await _reply(send, 422, f"body: JSON nested deeper than {MAX_DEPTH} levels", request_id)
                    return
                replayed = False

                async def replay() -> Message:
                    nonlocal replayed
                    if not replayed:
                        replayed = True
                        return {"type": "http.request", "body": body, "more_body": False}
                    return await receive()

                await self.app(scope, replay, send_wrapper)
            else:
                await self.app(scope, receive, send_wrapper)
        finally:
            if admitted:
                self.shedder.in_flight -= 1
            self._record(scope, state, status_box[0], time.perf_counter() - started, request_id)

    def _record(self, scope: Scope, state: dict[str, Any], status: int, seconds: float, request_id: str) -> None:
        route = scope.get("route")
        endpoint = getattr(route, "path", None) or "other"
        strategy = state.get("strategy", "")
        self.metrics.requests.labels(endpoint, strategy, str(status)).inc()
        self.metrics.latency.labels(endpoint, strategy).observe(seconds)
        if self.log_requests and not log.disabled:
            record = {"ts": round(time.time(), 3), "request_id": request_id, "method": scope.get("method"),
                      "endpoint": endpoint, "status": status, "latency_ms": round(seconds * 1000, 3)}
            for key in ("user_id", "item_id", "strategy", "arm", "events", "shed"):
                if key in state:
                    record[key] = state[key]
            log.info(json.dumps(record, separators=(",", ":")))
