"""The HTTP API against a real uvicorn server: every endpoint, every error, never a 5xx for any user id."""

from __future__ import annotations

import json
import random
import string
import time
from urllib.parse import quote
from pathlib import Path

import httpx
import numpy as np
import polars as pl
import pytest
from prometheus_client.parser import text_string_to_metric_families

from recsys_cli.bundle import read_bundle
from tests.serve.conftest import TOKEN, Server


def _events(root: Path) -> pl.DataFrame:
    processed = root / "data" / "processed"
    return pl.concat([pl.read_parquet(processed / f"{w}.parquet") for w in ("train", "valid", "test")])


def _catalog(root: Path) -> pl.DataFrame:
    return read_bundle(root / "data" / "bundle").catalog


def test_health_and_docs(client: httpx.Client, shop: Path) -> None:
    assert client.get("/health/live").json() == {"status": "live"}
    ready = client.get("/health/ready").json()
    assert ready["status"] == "ready" and ready["model"] == "als"
    assert ready["bundle"] == read_bundle(shop / "data" / "bundle").version
    schema = client.get("/openapi.json").json()
    for path in ("/recommend", "/users/{user_id}/recommendations", "/items/{item_id}/similar", "/feedback",
                 "/health/live", "/health/ready", "/metrics", "/admin/reload"):
        assert path in schema["paths"], path
    assert client.get("/docs").status_code == 200


def test_known_shopper_gets_a_personalised_list_without_seen_items(client: httpx.Client, shop: Path) -> None:
    events = _events(shop)
    user = events["user_id"][0]
    seen = set(events.filter(pl.col("user_id") == user)["item_id"])
    r = client.post("/recommend", json={"user_id": user, "k": 7}, headers={"x-request-id": "abc-123"})
    assert r.status_code == 200
    body = r.json()
    assert body["strategy"] == "personalised" and body["model"] == "als" and len(body["items"]) == 7
    assert body["request_id"] == r.headers["x-request-id"] == "abc-123"
    ids = [i["item_id"] for i in body["items"]]
    assert not seen & set(ids) and len(set(ids)) == 7
    scores = [i["score"] for i in body["items"]]
    assert scores == sorted(scores, reverse=True)
    assert all(i["explanation"] for i in body["items"])
    same = client.get(f"/users/{user}/recommendations", params={"k": 7}).json()
    assert [i["item_id"] for i in same["items"]] == ids
    # the served list equals the batch path of the same bundle (what batch-recommend writes)
    from recsys_cli.service import RecommenderService

    batch = RecommenderService.load(shop / "data" / "bundle").recommend_many([user], 7)[0]
    assert [i.item_id for i in batch.items] == ids


def test_exclusions_and_filters(client: httpx.Client, shop: Path) -> None:
    user = _events(shop)["user_id"][0]
    first = client.post("/recommend", json={"user_id": user, "k": 5}).json()["items"]
    dropped = [first[0]["item_id"], first[2]["item_id"]]
    again = client.post("/recommend", json={"user_id": user, "k": 5, "exclude": dropped}).json()["items"]
    assert not set(dropped) & {i["item_id"] for i in again}
    catalog = _catalog(shop)
    category = catalog["category"].value_counts().sort(["count", "category"], descending=[True, False])["category"][0]
    top = category.split(" > ")[0]
    r = client.post("/recommend", json={"user_id": user, "k": 10,
                                        "filters": {"categories": [top], "price": {"max": 200.0}}}).json()
    prices = dict(zip(catalog["item_id"], catalog["price"]))
    cats = dict(zip(catalog["item_id"], catalog["category"]))
    assert r["items"]
    for item in r["items"]:
        assert cats[item["item_id"]].startswith(top) and prices[item["item_id"]] <= 200.0


def test_cold_start_follows_the_stated_preferences(client: httpx.Client, shop: Path) -> None:
    catalog = _catalog(shop)
    category = catalog["category"].value_counts().sort(["count", "category"], descending=[True, False])["category"][0]
    r = client.post("/recommend", json={"user_id": "brand-new-shopper", "k": 10,
                                        "preferences": {"categories": [category]},
                                        "demographics": {"age_band": "25-34"}})
    body = r.json()
    assert r.status_code == 200 and body["strategy"] == "cold_start"
    cats = dict(zip(catalog["item_id"], catalog["category"]))
    matching = [i for i in body["items"] if cats[i["item_id"]] == category]
    assert len(matching) >= 5, body
    assert any(category in (i["explanation"] or "") for i in matching)
    plain = client.post("/recommend", json={"user_id": "brand-new-shopper", "k": 10}).json()
    assert plain["strategy"] == "popular_fallback"
    assert sum(cats[i["item_id"]] == category for i in plain["items"]) < len(matching)


def test_five_purchases_in_one_category_fold_in_at_once(client: httpx.Client, shop: Path) -> None:
    """A new shopper posts five purchases in one category; the next top 10 holds at least 5 of that category."""
    catalog = _catalog(shop)
    # the three largest categories, ties broken by name, so every run tests the same ones
    counts = catalog["category"].value_counts().sort(["count", "category"], descending=[True, False])
    cats = dict(zip(catalog["item_id"], catalog["category"]))
    rng = random.Random(0)
    for n, category in enumerate(counts["category"][:3]):
        user = f"newcomer-{n}"
        items = sorted(catalog.filter(pl.col("category") == category)["item_id"])
        bought = rng.sample(items, 5)
        r = client.post("/feedback", json={"events": [
            {"user_id": user, "item_id": i, "event": "purchase", "price": 10.0} for i in bought]})
        assert r.status_code == 200 and r.json()["accepted"] == 5
        body = client.post("/recommend", json={"user_id": user, "k": 10}).json()
        assert body["strategy"] == "fold_in"
        ids = [i["item_id"] for i in body["items"]]
        assert not set(bought) & set(ids)
        assert sum(cats[i] == category for i in ids) >= 5, (category, ids)
        assert any((i["explanation"] or "").startswith("because you bought") for i in body["items"])


def test_session_context_adapts_without_feedback(client: httpx.Client, shop: Path) -> None:
    catalog = _catalog(shop)
    category = catalog["category"].value_counts().sort(["count", "category"], descending=[True, False])["category"][1]
    viewed = sorted(catalog.filter(pl.col("category") == category)["item_id"])[:3]
    body = client.post("/recommend", json={"user_id": "window-shopper", "k": 10,
                                           "context": {"device": "mobile", "session_items": viewed}}).json()
    assert body["strategy"] == "fold_in" and not set(viewed) & {i["item_id"] for i in body["items"]}
    later = client.post("/recommend", json={"user_id": "window-shopper", "k": 10}).json()
    assert later["strategy"] == "popular_fallback"  # the session was context, not feedback


def test_similar_items_collaborative_and_content(client: httpx.Client, shop: Path) -> None:
    bundle = read_bundle(shop / "data" / "bundle")
    item = str(bundle.items.ids[5])
    collab = client.get(f"/items/{item}/similar", params={"k": 5}).json()
    ref = bundle.model.similar_items(np.array([5]), 5)
    assert [i["item_id"] for i in collab["items"]] == [str(bundle.items.ids[j]) for j in ref.items[0]]
    content = client.get(f"/items/{item}/similar", params={"k": 5, "method": "content"}).json()
    assert content["method"] == "content" and len(content["items"]) == 5
    tfidf = bundle.features.tfidf.toarray()
    unit = tfidf / np.maximum(np.linalg.norm(tfidf, axis=1, keepdims=True), 1e-12)
    sims = unit @ unit[5]
    sims[5] = -np.inf
    expected = np.lexsort((np.arange(sims.size), -sims))[:5]  # score desc, index asc
    assert [i["item_id"] for i in content["items"]] == [str(bundle.items.ids[j]) for j in expected]
    assert item not in {i["item_id"] for i in content["items"]}


@pytest.mark.parametrize("method,path,body,status,message", [
    ("get", "/items/no-such-item/similar", None, 404, "not in the catalog"),
    ("post", "/recommend", {"user_id": "u", "k": 0}, 422, "body.k:"),
    ("post", "/recommend", {"user_id": "u", "k": 10_000}, 422, "body.k: 10000 is above serve.max_k"),
    ("get", "/users/u/recommendations?k=-5", None, 422, "query.k:"),
    ("get", "/users/u/recommendations?k=abc", None, 422, "query.k:"),
    ("post", "/recommend", {"user_id": 12}, 422, "body.user_id:"),
    ("post", "/recommend", {"k": 3}, 422, "body.user_id: Field required"),
    ("post", "/recommend", {"user_id": "u", "filters": {"price": {"min": "cheap"}}}, 422, "body.filters.price.min:"),
    ("post", "/recommend", {"user_id": "u", "filters": {"price": {"min": 9, "max": 1}}}, 422, "body.filters.price"),
    ("post", "/recommend", {"user_id": "u", "colour": "red"}, 422, "body.colour: Extra inputs"),
    ("post", "/recommend", {"user_id": "u", "exclude": "p1"}, 422, "body.exclude:"),
    ("post", "/feedback", {"user_id": "u", "item_id": "p", "event": "buy"}, 422, "body.event:"),
    ("post", "/feedback", {"events": [{"user_id": "u", "item_id": "p", "event": "view"}, {"user_id": "u"}]}, 422,
     "body.events[1].item_id: Field required"),
    ("post", "/feedback", {"user_id": "u", "item_id": "p", "event": "purchase", "price": -3}, 422, "body.price:"),
    ("post", "/feedback", {"events": []}, 422, "body.events:"),
    ("post", "/admin/reload", {}, 401, "Bearer"),
])
def test_errors_are_4xx_with_one_line_naming_the_json_path(client: httpx.Client, method: str, path: str, body,
                                                           status: int, message: str) -> None:  # noqa: ANN001
    r = client.request(method.upper(), path, json=body)
    assert r.status_code == status, r.text
    detail = r.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail and message in detail, detail


def test_malformed_oversized_and_deep_bodies(client: httpx.Client) -> None:
    headers = {"content-type": "application/json"}
    r = client.post("/recommend", content=b'{"user_id": "u", "k": ', headers=headers)
    assert r.status_code == 422 and r.json()["detail"].startswith("body: invalid JSON")
    r = client.post("/recommend", content=b"\xff\xfe garbage", headers=headers)
    assert r.status_code == 422
    r = client.post("/recommend", content=b"[" * 5000 + b"]" * 5000, headers=headers)
    assert r.status_code == 422 and "nested deeper" in r.json()["detail"]
    big = json.dumps({"user_id": "u", "exclude": ["x" * 200] * 1000}).encode()
    r = client.post("/recommend", content=big, headers=headers)
    assert r.status_code == 413
    r = client.post("/feedback", json={"events": [{"user_id": "u", "item_id": "p", "event": "view"}] * 1001})
    assert r.status_code in (413, 422)


def test_no_user_id_ever_gets_a_5xx(client: httpx.Client, shop: Path) -> None:
    rng = random.Random(7)
    alphabet = string.printable + "éß漢字🙂\u200b\u202e"
    ids = ["", " ", "../../etc/passwd", "%00", "null", "0", "-1", "1e999", "u" * 256, "u" * 257, "\u0000x",
           *(("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40)))) for _ in range(60))]
    ids += list(_events(shop)["user_id"].unique().sort()[:20])
    for user in ids:
        r = client.post("/recommend", json={"user_id": user, "k": 5})
        assert r.status_code < 500, (user, r.status_code, r.text)
        assert r.status_code in (200, 422)
        if r.status_code == 200:
            assert r.json()["user_id"] == user
        g = client.get(f"/users/{quote(user, safe='') or 'x'}/recommendations")
        assert g.status_code < 500, (user, g.status_code)


def test_metrics_parse_and_count_what_happened(client: httpx.Client) -> None:
    for _ in range(3):
        client.post("/recommend", json={"user_id": "metrics-user", "k": 3})
    client.post("/feedback", json={"user_id": "metrics-user", "item_id": "p000001", "event": "click"})
    client.get("/items/no-such/similar")
    text = client.get("/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    requests = {(s.labels["endpoint"], s.labels["status"]): s.value
                for s in families["recsys_requests"].samples if s.name == "recsys_requests_total"}
    assert requests[("/recommend", "200")] >= 3
    assert requests[("/items/{item_id}/similar", "404")] >= 1
    latency = [s for s in families["recsys_request_seconds"].samples
               if s.name.endswith("_count") and s.labels["endpoint"] == "/recommend"]
    assert sum(s.value for s in latency) >= 3
    cache = {s.labels["result"]: s.value for s in families["recsys_cache_requests"].samples
             if s.name == "recsys_cache_requests_total"}
    assert cache["hit"] >= 2 and cache["miss"] >= 1  # the same request three times: two hits
    assert any(s.labels["event"] == "click" and s.value >= 1 for s in families["recsys_feedback_events"].samples
               if s.name == "recsys_feedback_events_total")
    bundle = [s for s in families["recsys_bundle_info"].samples if s.value == 1]
    assert len(bundle) == 1 and bundle[0].labels["model"] == "als"


def test_feedback_invalidates_that_shoppers_cached_list(client: httpx.Client, shop: Path) -> None:
    user = "cache-shopper"
    before = client.post("/recommend", json={"user_id": user, "k": 5}).json()
    assert client.post("/recommend", json={"user_id": user, "k": 5}).json()["items"] == before["items"]
    client.post("/feedback", json={"user_id": user, "item_id": before["items"][0]["item_id"], "event": "purchase"})
    after = client.post("/recommend", json={"user_id": user, "k": 5}).json()
    assert after["strategy"] == "fold_in" and before["items"][0]["item_id"] not in {i["item_id"] for i in after["items"]}


def test_access_log_is_one_json_line_per_request_with_ids_never_bodies(client: httpx.Client, server: Server) -> None:
    secret = "Secret-Brand-Zz9"
    r = client.post("/recommend", json={"user_id": "log-user", "k": 2, "preferences": {"brands": [secret]}})
    request_id = r.headers["x-request-id"]
    for _ in range(50):  # the line is written right after the response is sent
        lines = [json.loads(line) for line in server.access_log()]
        mine = [line for line in lines if line["request_id"] == request_id]
        if mine:
            break
        time.sleep(0.05)
    assert len(mine) == 1
    assert mine[0]["user_id"] == "log-user" and mine[0]["status"] == 200 and mine[0]["endpoint"] == "/recommend"
    assert mine[0]["latency_ms"] > 0 and mine[0]["strategy"] == "cold_start"
    assert secret not in server.log.read_text()


def test_admin_needs_the_right_token(client: httpx.Client) -> None:
    assert client.post("/admin/reload").status_code == 401
    assert client.post("/admin/reload", headers={"authorization": "Bearer wrong"}).status_code == 401
    assert client.post("/admin/reload", headers={"authorization": f"Basic {TOKEN}"}).status_code == 401
    r = client.post("/admin/reload", headers={"authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200 and r.json()["status"] == "reloaded"
