"""The ASGI layer every request passes first: request id, size and depth limits, timing, one log line.

Pure ASGI (no BaseHTTPMiddleware): the body is read once, refused with a 413
past ``serve.max_body_bytes`` and with a 422 when its JSON nests deeper than
``MAX_DEPTH`` (Python's parser would otherwise recurse until it fails), then
handed on unchanged. After the response it records the endpoint's latency and
writes one JSON line: request id, method, route, user id, strategy, arm,
status, latency. Never the body.
"""

from __future__ import annotations

import json
import logging
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


async def _reply(send: Send, status: int, detail: str, request_id: str) -> None:
    body = json.dumps({"detail": detail}, separators=(",", ":")).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"x-request-id", request_id.encode())]})
    await send({"type": "http.response.body", "body": body})


class Guard:
    def __init__(self, app: ASGIApp, metrics: Metrics, max_body: int, log_requests: bool = True) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body = max_body
        self.log_requests = log_requests

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

        try:
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
            for key in ("user_id", "item_id", "strategy", "arm", "events"):
                if key in state:
                    record[key] = state[key]
            log.info(json.dumps(record, separators=(",", ":")))
