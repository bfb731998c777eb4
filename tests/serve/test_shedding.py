"""Load shedding: past its capacity the server answers 503 + Retry-After, stays responsive, and recovers.

A real `recsys serve` with a low ``serve.max_queue_ms`` gets a burst of
requests from 200 connections at once, far more than it can handle in that
time. It must answer every request (200 or 503, no timeout, no reset, no other
status), shed some with ``Retry-After``, keep answering ``/health/live`` at
once during the burst (health checks are never shed), and serve normally
again right after. With a small ``serve.max_in_flight``, concurrent feedback
is shed by the in-flight bound, and exactly the events that got a 2xx are
stored (a shed event is not half-kept).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import aiohttp
import httpx
import numpy as np
from prometheus_client.parser import text_string_to_metric_families

from tests.serve.conftest import Server

CONNECTIONS = 200
BURST = 4000


async def _burst(url: str, bodies: list[dict], path: str) -> tuple[list[int], list[str | None], list[float]]:
    """Send every body with CONNECTIONS in flight; meanwhile probe /health/live every 50 ms."""
    statuses: list[int] = []
    retry: list[str | None] = []
    probes: list[float] = []
    connector = aiohttp.TCPConnector(limit=CONNECTIONS)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        queue: asyncio.Queue[dict] = asyncio.Queue()
        for body in bodies:
            queue.put_nowait(body)

        async def worker() -> None:
            while not queue.empty():
                body = queue.get_nowait()
                try:
                    async with session.post(url + path, json=body) as r:
                        await r.read()
                        statuses.append(r.status)
                        retry.append(r.headers.get("Retry-After") if r.status == 503 else None)
                except aiohttp.ClientError:
                    statuses.append(-1)

        done = asyncio.Event()

        async def probe() -> None:
            async with aiohttp.ClientSession(timeout=timeout) as own:  # its own connection, never queued
                while not done.is_set():
                    started = time.perf_counter()
                    async with own.get(url + "/health/live") as r:
                        await r.read()
                        assert r.status == 200
                    probes.append(time.perf_counter() - started)
                    await asyncio.sleep(0.05)

        prober = asyncio.ensure_future(probe())
        await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))
        done.set()
        await prober
    return statuses, retry, probes


def _shed(url: str) -> dict[str, float]:
    families = {f.name: f for f in text_string_to_metric_families(httpx.get(f"{url}/metrics").text)}
    return {s.labels["reason"]: s.value for s in families["recsys_shed_requests"].samples
            if s.name == "recsys_shed_requests_total"}


def test_an_overloaded_server_sheds_with_503_and_recovers(shop: Path) -> None:
    srv = Server(shop, "serve.max_queue_ms=20", "serve.cache=none", "serve.events=none", "serve.log_requests=false")
    try:
        bodies = [{"user_id": f"u{i % 700:06d}", "k": 50} for i in range(BURST)]
        statuses, retry, probes = asyncio.run(_burst(srv.url, bodies, "/recommend"))
        counts = {int(k): int(v) for k, v in zip(*np.unique(statuses, return_counts=True))}
        print(f"burst: {counts}, slowest /health/live {max(probes or [0]) * 1000:.0f} ms")
        assert set(counts) <= {200, 503} and sum(counts.values()) == BURST, counts  # every request answered
        assert counts.get(503, 0) > 0 and counts.get(200, 0) > 0, counts  # shed some, served others
        assert all(r == "1" for s, r in zip(statuses, retry) if s == 503)
        assert probes and max(probes) < 2.0, max(probes)  # health answered throughout
        assert _shed(srv.url).get("queue", 0) == counts[503]
        time.sleep(0.5)
        with httpx.Client(base_url=srv.url, timeout=10) as c:  # recovered: normal service again
            answers = [c.post("/recommend", json={"user_id": f"u{i:06d}", "k": 10}).status_code for i in range(30)]
        assert answers == [200] * 30
    finally:
        srv.stop()


def test_too_many_requests_in_flight_are_shed_and_no_shed_event_is_stored(shop: Path, tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    srv = Server(shop, "serve.max_in_flight=4", "serve.max_queue_ms=0", f"serve.events=sqlite:///{db}",
                 "serve.log_requests=false")
    try:
        bodies = [{"user_id": f"inflight-{i}", "item_id": "p000001", "event": "click"} for i in range(600)]
        statuses, _, _ = asyncio.run(_burst(srv.url, bodies, "/feedback"))
        counts = {int(k): int(v) for k, v in zip(*np.unique(statuses, return_counts=True))}
        print(f"feedback burst: {counts}")
        assert set(counts) <= {200, 503} and counts.get(503, 0) > 0 and counts.get(200, 0) > 0, counts
        assert _shed(srv.url).get("in_flight", 0) == counts[503]
    finally:
        srv.stop()
    with sqlite3.connect(db) as con:
        stored = con.execute("SELECT COUNT(*) FROM events WHERE event = 'click'").fetchone()[0]
    assert stored == counts[200]  # posted (2xx) == stored; a shed event was never half-kept
