"""Zero-downtime reload under load, a refused bad bundle, the Redis cache, new products, several workers."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from recsys_cli import config
from recsys_cli.bundle import read_bundle
from recsys_cli.config import NewItemsConfig, ServeConfig
from recsys_cli.service import RecommenderService
from recsys_cli.stages import export
from tests.serve.conftest import BASE, TOKEN, Server, free_port

AUTH = {"authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def second_bundle(shop: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same shop exported as its held-out fit (export.production=false): another bundle version."""
    root = tmp_path_factory.mktemp("second")
    for name in ("interim", "processed", "features", "models"):
        shutil.copytree(shop / "data" / name, root / "data" / name)
    cfg = config.load([*BASE, f"paths.root={root}", "export.production=false"])
    export.run(cfg)
    return root / "data" / "bundle"


def test_reload_under_concurrent_requests_has_zero_errors(shop: Path, second_bundle: Path,
                                                          tmp_path: Path) -> None:
    srv = Server(shop)
    try:
        first = httpx.get(f"{srv.url}/health/ready").json()["bundle"]
        second = read_bundle(second_bundle).version
        assert first != second
        stop = threading.Event()
        results: list[tuple[int, str]] = []
        lock = threading.Lock()

        def hammer(worker: int) -> None:
            with httpx.Client(base_url=srv.url, timeout=10) as c:
                i = 0
                while not stop.is_set():
                    r = c.post("/recommend", json={"user_id": f"u{(worker * 7919 + i) % 700:06d}", "k": 10})
                    with lock:
                        results.append((r.status_code, r.json().get("bundle", "")))
                    i += 1

        threads = [threading.Thread(target=hammer, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        with httpx.Client(base_url=srv.url, timeout=60) as admin:
            r = admin.post("/admin/reload", json={"bundle": str(second_bundle)}, headers=AUTH)
            assert r.status_code == 200 and r.json()["bundle"] == second and r.json()["previous"] == first
            time.sleep(0.5)
            # a tampered bundle is refused, naming the file, and the good one keeps serving
            bad = tmp_path / "bad"
            shutil.copytree(second_bundle, bad)
            (bad / "catalog.parquet").write_bytes(b"not a parquet file")
            r = admin.post("/admin/reload", json={"bundle": str(bad)}, headers=AUTH)
            assert r.status_code == 422 and "catalog.parquet" in r.json()["detail"]
            assert f"still serving {second}" in r.json()["detail"]
            r = admin.post("/admin/reload", json={"bundle": str(tmp_path / "nowhere")}, headers=AUTH)
            assert r.status_code == 422
            time.sleep(0.3)
            r = admin.post("/admin/reload", json={"bundle": str(shop / "data" / "bundle")}, headers=AUTH)
            assert r.status_code == 200 and r.json()["bundle"] == first
            time.sleep(0.5)
        stop.set()
        for t in threads:
            t.join()
        statuses = Counter(code for code, _ in results)
        assert statuses == {200: len(results)} and len(results) > 50, statuses
        versions = [v for _, v in results]
        assert versions[0] == first and second in versions and versions[-1] == first
        assert httpx.get(f"{srv.url}/health/ready").json()["bundle"] == first
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on a free port (installed by .ci/run with apt)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed (apt-get install redis-server; .ci/run does this)")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen([binary, "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(workdir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis

    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(timeout=10)


def test_redis_cache_serves_hits_and_feedback_invalidates(shop: Path, redis_url: str) -> None:
    import redis

    srv = Server(shop, f"serve.cache={redis_url}")
    try:
        with httpx.Client(base_url=srv.url, timeout=10) as c:
            body = {"user_id": "redis-shopper", "k": 5}
            first = c.post("/recommend", json=body).json()
            store = redis.Redis.from_url(redis_url)
            keys = [k.decode() for k in store.keys("recsys:resp:redis-shopper:*")]
            assert len(keys) == 1 and first["bundle"] in keys[0]
            cached = json.loads(next(iter(store.hgetall(keys[0]).values())))
            assert cached["items"] == first["items"]  # what Redis holds is the response
            second = c.post("/recommend", json=body).json()
            assert second["items"] == first["items"] and second["request_id"] != first["request_id"]
            c.post("/feedback", json={"user_id": "redis-shopper", "item_id": first["items"][0]["item_id"],
                                      "event": "purchase"})
            assert store.keys("recsys:resp:redis-shopper:*") == []  # invalidated
            third = c.post("/recommend", json=body).json()
            assert third["strategy"] == "fold_in"
            metrics = c.get("/metrics").text
            assert 'recsys_cache_requests_total{result="hit"} 1.0' in metrics
        bad = subprocess.run([*srv.proc.args[:-1], "serve.cache=redis://127.0.0.1:1/0"], capture_output=True,
                             text=True, timeout=60)
        assert bad.returncode == 2 and "serve.cache: cannot reach Redis" in bad.stdout + bad.stderr
        assert "Traceback" not in bad.stdout + bad.stderr
    finally:
        srv.stop()


def test_new_products_are_placed_by_content_and_boosted(shop: Path) -> None:
    bundle = read_bundle(shop / "data" / "bundle")
    plain = RecommenderService(bundle, ServeConfig(new_items=NewItemsConfig(boost=0.0)))
    boosted = RecommenderService(bundle, ServeConfig(new_items=NewItemsConfig(boost=3.0, half_life_days=1e9,
                                                                              max_age_days=1e9)))
    new = set(np.flatnonzero(boosted.catalog.interactions == 0).tolist())
    assert new, "the tiny shop has products nobody interacted with"
    users = [str(u) for u in bundle.users.ids[:40]]
    shown_plain = sum(len({plain.item_index(i.item_id) for i in plain.recommend(u, 10).items} & new) for u in users)
    lists = [boosted.recommend(u, 10) for u in users]
    shown_boosted = sum(len({boosted.item_index(i.item_id) for i in r.items} & new) for r in lists)
    assert shown_boosted > 2 * shown_plain  # placed by content without a boost; the boost lifts them further
    explained = [i.explanation for r in lists for i in r.items if boosted.item_index(i.item_id) in new]
    assert explained and all(e.startswith("new in ") for e in explained)
    # placement is by content: a new product takes the weighted mean score the shopper gives the ten most
    # text-similar established products of its category (cosines from scikit-learn on the bundle's TF-IDF)
    from sklearn.metrics.pairwise import cosine_similarity

    established_all = np.flatnonzero(boosted.catalog.interactions > 0)
    category = bundle.catalog["category"].to_numpy()
    user = 0
    raw = bundle.model.score(np.array([user]))[0].astype(np.float64)
    spread = raw[established_all].std()  # the boost is in units of the shopper's spread of scores
    got = {boosted.item_index(i.item_id): i.score for i in boosted.recommend(str(bundle.users.ids[user]), 60).items}
    checked = 0
    for item in sorted(new):
        established = established_all[category[established_all] == category[item]]  # its category's products
        if established.size < 10:
            established = established_all
        sims = cosine_similarity(bundle.features.tfidf[[item]], bundle.features.tfidf[established])[0]
        order = np.lexsort((np.arange(established.size), -sims))[:10]
        w = np.maximum(sims[order], 0)
        want = float((raw[established[order]] * w).sum() / w.sum()) + 3.0 * spread
        if item in got:
            assert got[item] == pytest.approx(want, abs=1e-4), item
            checked += 1
    assert checked >= 1


def test_served_model_arrays_are_memory_mapped_read_only(shop: Path) -> None:
    """Several workers share one copy: the service maps the bundle's arrays instead of reading them."""
    service = RecommenderService.load(shop / "data" / "bundle")
    factors = service.model.item_factors
    assert not factors.flags.writeable and not factors.flags.owndata
    base = factors
    while getattr(base, "base", None) is not None and not isinstance(base, np.memmap):
        base = base.base
    assert isinstance(base, np.memmap)
    loaded = read_bundle(shop / "data" / "bundle")  # the plain loader reads into memory
    assert loaded.model.item_factors.flags.writeable
    np.testing.assert_array_equal(loaded.model.item_factors, factors)
