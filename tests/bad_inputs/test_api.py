"""Bad HTTP requests against one real `recsys serve` (the session's server over the tiny shop).

Each case is one request: wrong types, huge, zero and negative ``k``, unknown
ids, oversized, malformed and deeply nested bodies, admin calls without the
token. It must get its 4xx with ``{"detail": "<one line>"}`` naming the JSON
path (``body.filters.price.min``, ``query.k``, ...), never a 5xx; and nothing
it sent may be half-kept: the event store holds exactly as many events as
before a refused ``/feedback``, and the bundle served is the same.

Unknown ids are not errors where the API promises an answer: an unknown
shopper gets a cold-start list, feedback on an unknown product is stored and
counted as ``unknown_items``; an unknown product has no similar items (404).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.serve.conftest import TOKEN, Server

AUTH = {"authorization": f"Bearer {TOKEN}"}
JSON = {"content-type": "application/json"}
EVENT = {"user_id": "bad-input-user", "item_id": "p000001", "event": "view"}


@dataclass
class Req:
    id: str
    method: str
    path: str
    status: int
    names: list[str] = field(default_factory=list)  # fragments of the one-line detail
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    stored: int = 0  # events the store gains (refused requests: none)

    def param(self) -> object:
        return pytest.param(self, id=self.id)


def rec(case: str, body: Any, status: int = 422, *names: str) -> Req:
    return Req(case, "POST", "/recommend", status, list(names), json=body)


def fb(case: str, body: Any, status: int = 422, *names: str, stored: int = 0) -> Req:
    return Req(case, "POST", "/feedback", status, list(names), json=body, stored=stored)


def nested(depth: int) -> bytes:
    return b'{"user_id": "u", "context": ' + b'{"a": ' * depth + b"1" + b"}" * depth + b"}"


def chunks(total: int) -> Iterator[bytes]:
    yield b'{"user_id": "u", "exclude": ["'
    for _ in range(total // 1000):
        yield b"x" * 1000
    yield b'"]}'


CASES = [
    # k: huge, zero, negative, fractional, text, in the body and in the query
    rec("k-huge", {"user_id": "u", "k": 1_000_000}, 422, "body.k", "1000000 is above serve.max_k=100"),
    rec("k-zero", {"user_id": "u", "k": 0}, 422, "body.k", "greater than or equal to 1"),
    rec("k-negative", {"user_id": "u", "k": -5}, 422, "body.k"),
    rec("k-fraction", {"user_id": "u", "k": 2.5}, 422, "body.k"),
    rec("k-text", {"user_id": "u", "k": "ten"}, 422, "body.k"),
    rec("k-boolean", {"user_id": "u", "k": True}, 422, "body.k", "valid integer"),
    rec("k-numeric-string", {"user_id": "u", "k": "5"}, 422, "body.k", "valid integer"),
    Req("k-query-huge", "GET", "/users/u/recommendations?k=99999999999999999999999", 422, ["query.k"]),
    Req("k-query-negative", "GET", "/users/u/recommendations?k=-1", 422, ["query.k"]),
    Req("k-similar-zero", "GET", "/items/p000001/similar?k=0", 422, ["query.k"]),
    # wrong types and shapes
    rec("user-id-number", {"user_id": 12}, 422, "body.user_id", "string"),
    rec("user-id-empty", {"user_id": ""}, 422, "body.user_id"),
    rec("user-id-too-long", {"user_id": "u" * 257}, 422, "body.user_id", "256"),
    rec("user-id-null", {"user_id": None}, 422, "body.user_id"),
    rec("user-id-missing", {"k": 3}, 422, "body.user_id: Field required"),
    rec("unknown-field", {"user_id": "u", "colour": "red"}, 422, "body.colour", "Extra inputs"),
    rec("exclude-not-a-list", {"user_id": "u", "exclude": "p1"}, 422, "body.exclude"),
    rec("exclude-of-numbers", {"user_id": "u", "exclude": ["p1", 7]}, 422, "body.exclude[1]"),
    rec("exclude-too-long", {"user_id": "u", "exclude": [f"p{i}" for i in range(1001)]}, 422, "body.exclude"),
    rec("price-negative", {"user_id": "u", "filters": {"price": {"min": -1}}}, 422, "body.filters.price.min"),
    rec("price-band-reversed", {"user_id": "u", "filters": {"price": {"min": 9, "max": 1}}}, 422,
        "body.filters.price", "min is above max"),
    rec("session-items-not-a-list", {"user_id": "u", "context": {"session_items": "p1"}}, 422,
        "body.context.session_items"),
    Req("body-a-list", "POST", "/recommend", 422, ["body"], json=[{"user_id": "u"}]),
    Req("body-a-string", "POST", "/recommend", 422, ["body"], json="u"),
    # malformed, oversized, deeply nested
    Req("json-cut-short", "POST", "/recommend", 422, ["body: invalid JSON"], content=b'{"user_id": "u", "k": ',
        headers=JSON),
    Req("json-not-utf8", "POST", "/recommend", 422, ["body: invalid JSON (not UTF-8 text)"],
        content=b'{"user_id": "\xff\xfe"}', headers=JSON),
    Req("json-empty", "POST", "/recommend", 422, ["body"], content=b"", headers=JSON),
    Req("json-nan-k", "POST", "/recommend", 422, ["body.k"], content=b'{"user_id": "u", "k": NaN}', headers=JSON),
    Req("json-nested-deep", "POST", "/recommend", 422, ["body: JSON nested deeper than 32 levels"],
        content=nested(40), headers=JSON),
    Req("json-brackets-deep", "POST", "/feedback", 422, ["nested deeper"], content=b"[" * 10_000 + b"]" * 10_000,
        headers=JSON),
    Req("body-oversized", "POST", "/recommend", 413, ["body", "over the limit of 65,536"],
        json={"user_id": "u", "exclude": ["x" * 200] * 1000}),
    Req("body-oversized-chunked", "POST", "/feedback", 413, ["over the limit of 65,536 bytes"],
        content=chunks(200_000), headers=JSON),
    # feedback
    fb("event-unknown-type", {**EVENT, "event": "buy"}, 422, "body.event"),
    fb("event-price-negative", {**EVENT, "event": "purchase", "price": -3}, 422, "body.price"),
    Req("event-price-nan", "POST", "/feedback", 422, ["body.price"],
        content=json.dumps({**EVENT, "event": "purchase", "price": float("nan")}).encode(), headers=JSON),
    fb("event-quantity-zero", {**EVENT, "quantity": 0}, 422, "body.quantity"),
    fb("event-timestamp-negative", {**EVENT, "timestamp": -1}, 422, "body.timestamp"),
    fb("event-timestamp-boolean", {**EVENT, "timestamp": False}, 422, "body.timestamp", "valid number"),
    fb("batch-one-bad-event", {"events": [EVENT, {"user_id": "u"}]}, 422, "body.events[1].item_id: Field required"),
    fb("batch-empty", {"events": []}, 422, "body.events"),
    fb("batch-over-max", {"events": [{"user_id": "u", "item_id": "p", "event": "view"}] * 1001}, 422,
       "body.events", "serve.max_batch=1,000"),
    # unknown ids: answered as promised
    rec("unknown-shopper-gets-a-fallback-list", {"user_id": "never-seen-before-42", "k": 3}, 200),
    fb("unknown-product-is-stored-and-counted", {**EVENT, "item_id": "no-such-product"}, 200, stored=1),
    Req("unknown-product-has-no-similar", "GET", "/items/no-such-product/similar", 404, ["'no-such-product'",
                                                                                       "not in the catalog"]),
    Req("item-id-too-long", "GET", "/items/" + "p" * 300 + "/similar", 422, ["path.item_id"]),
    Req("method-unknown", "GET", "/items/p000001/similar?method=vibes", 422, ["query.method"]),
    # routes and admin
    Req("route-unknown", "GET", "/no/such/route", 404, ["Not Found"]),
    Req("method-not-allowed", "GET", "/recommend", 405, ["Method Not Allowed"]),
    Req("admin-without-token", "POST", "/admin/reload", 401, ["Bearer"], json={"bundle": "/etc"}),
    Req("admin-wrong-token-bad-json", "POST", "/admin/reload", 401, ["Bearer"], content=b"{not json",
        headers={**JSON, "authorization": "Bearer nope"}),
    Req("admin-experiment-without-token", "POST", "/admin/experiments", 401, ["Bearer"], json={"name": 1}),
    Req("admin-action-without-token", "POST", "/admin/experiments/x/explode", 401, ["Bearer"]),
    Req("admin-reload-bad-json", "POST", "/admin/reload", 422, ["body: invalid JSON"], content=b"{not json",
        headers={**JSON, **AUTH}),
    Req("admin-reload-missing-bundle", "POST", "/admin/reload", 422, ["reload refused, still serving", "nowhere"],
        json={"bundle": "/nowhere/bundle"}, headers=AUTH),
    Req("admin-reload-nul-in-path", "POST", "/admin/reload", 422, ["reload refused"],
        json={"bundle": "bundle\u0000x"}, headers=AUTH),
    Req("admin-unknown-action", "POST", "/admin/experiments/x/explode", 422, ["path.action"], headers=AUTH),
]


def stored_events(shop: Path) -> int:
    db = shop / "data" / "events" / "events.db"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        return int(con.execute("SELECT COUNT(*) FROM events WHERE event != 'impression'").fetchone()[0])


@pytest.fixture(scope="module")
def api(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30.0) as c:
        yield c


@pytest.mark.parametrize("case", [c.param() for c in CASES])
def test_a_bad_request_is_a_4xx_with_one_line_naming_the_json_path(case: Req, api: httpx.Client, shop: Path) -> None:
    served = api.get("/health/ready").json()["bundle"]
    before = stored_events(shop)
    r = api.request(case.method, case.path, json=case.json, content=case.content, headers=case.headers)
    assert r.status_code == case.status, r.text
    assert r.headers["x-request-id"]
    body = r.json()
    if case.status >= 400:
        detail = body["detail"]
        assert isinstance(detail, str) and "\n" not in detail and "Traceback" not in detail, detail
        for part in case.names:
            assert part in detail, f"{part!r} not in {detail!r}"
    assert stored_events(shop) == before + case.stored  # a refused event is never half-kept
    assert api.get("/health/ready").json()["bundle"] == served
    if case.id == "unknown-shopper-gets-a-fallback-list":
        assert body["strategy"] in ("cold_start", "popular_fallback") and len(body["items"]) == 3
    if case.id == "unknown-product-is-stored-and-counted":
        assert body == {"accepted": 1, "unknown_items": 1, "stored": True}
