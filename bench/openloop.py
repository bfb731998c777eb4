"""An open-loop HTTP load generator (the coordinated-omission correction of wrk2 / vegeta).

Request i is *due* at ``t0 + i / rate`` and is sent then whether or not
earlier ones have answered; its latency counts from the due time, so a server
that stalls is charged for every request that queued behind the stall
(closed-loop tools such as wrk, hey or locust wait instead, and hide it).

    python bench/openloop.py URL --rate 1000 --seconds 60 --body-file bodies.jsonl [--json out.json]

Bodies: one JSON request per line (cycled); with ``--method GET`` the lines are
paths. Runs on uvloop with aiohttp; prints and writes percentiles, errors,
achieved rate and the generator's own lag (how late it sent requests: if it
cannot keep up, the run says so instead of under-reporting). Mixed traffic
(several endpoints, each request its own method, path and body) goes through
:func:`run_mixed`, which returns every request's status and latency for the
caller to slice (bench/soak.py: per minute and per endpoint).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

import numpy as np


def percentiles(values: np.ndarray) -> dict[str, float]:
    if values.size == 0:
        return {}
    q = np.percentile(values, [50, 90, 95, 99, 99.9]) * 1000
    return {"p50_ms": round(float(q[0]), 3), "p90_ms": round(float(q[1]), 3), "p95_ms": round(float(q[2]), 3),
            "p99_ms": round(float(q[3]), 3), "p999_ms": round(float(q[4]), 3),
            "max_ms": round(float(values.max() * 1000), 3), "mean_ms": round(float(values.mean() * 1000), 3)}


Request = tuple[str, str, bytes | None]
"""(method, path, body): one request of a mix; the path is appended to the base URL."""


async def _run_mixed(base: str, rate: float, seconds: float, requests: list[Request], connections: int,
                     timeout: float) -> dict[str, Any]:
    """Send ``requests[i % len]`` due at ``t0 + i / rate``; the raw per-request outcome of every one."""
    import aiohttp

    n = int(rate * seconds)
    latency = np.full(n, np.nan)
    lag = np.zeros(n)
    status = np.zeros(n, dtype=np.int32)
    connector = aiohttp.TCPConnector(limit=connections, keepalive_timeout=30, ttl_dns_cache=300)
    headers = {"content-type": "application/json"}
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout) as session:

        async def one(i: int, due: float) -> None:
            method, path, body = requests[i % len(requests)]
            try:
                async with session.request(method, base + path, data=body,
                                           headers=headers if body is not None else None) as r:
                    await r.read()
                    status[i] = r.status
            except Exception:  # noqa: BLE001 - timeouts, resets: counted as errors (status -1)
                status[i] = -1
            latency[i] = time.perf_counter() - due

        # warm the connections so the first second measures the server, not TCP handshakes
        await asyncio.gather(*(one(i, time.perf_counter()) for i in range(min(connections, n))))
        latency[:] = np.nan
        status[:] = 0
        tasks = []
        t0 = time.perf_counter() + 0.05  # perf_counter: uvloop's loop.time() has millisecond resolution
        for i in range(n):
            due = t0 + i / rate
            now = time.perf_counter()
            if due > now:
                await asyncio.sleep(due - now)
            lag[i] = time.perf_counter() - due
            tasks.append(asyncio.ensure_future(one(i, due)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - t0
    return {"t0": t0, "elapsed": elapsed, "latency": latency, "status": status, "lag": lag}


def summary(rate: float, seconds: float, raw: dict[str, Any], ok: tuple[int, ...] = (200,)) -> dict[str, Any]:
    """Percentiles (of the requests answered ``ok``), errors, statuses, achieved rate and generator lag."""
    latency, status, lag = raw["latency"], raw["status"], raw["lag"]
    n = status.size
    good = np.isin(status, ok)
    return {
        "rate": rate, "seconds": seconds, "requests": n, "errors": int((~good).sum()),
        "status": {str(k): int(v) for k, v in zip(*np.unique(status, return_counts=True))},
        "achieved_rate": round(n / raw["elapsed"], 1) if raw["elapsed"] > 0 else None,
        **percentiles(latency[good] if good.any() else latency[~np.isnan(latency)]),
        "generator_lag_p99_ms": round(float(np.percentile(lag, 99) * 1000), 3) if n else None,
        "per_second_p99_ms": [round(float(np.percentile(latency[s : s + int(rate)], 99) * 1000), 2)
                              for s in range(0, n, max(int(rate), 1)) if np.isfinite(latency[s : s + int(rate)]).any()],
    }


def run_mixed(base: str, rate: float, seconds: float, requests: list[Request], connections: int = 256,
              timeout: float = 10.0) -> dict[str, Any]:
    """Open-loop mixed traffic (``(method, path, body)`` cycled); the raw outcome (see :func:`summary`).

    ``t0`` is on the ``time.perf_counter()`` clock, so other samplers can line up with it.
    """
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    return asyncio.run(_run_mixed(base, rate, seconds, requests, connections, timeout))


def run(url: str, rate: float, seconds: float, bodies: list[bytes], method: str = "POST", connections: int = 256,
        timeout: float = 10.0) -> dict[str, Any]:
    """One endpoint: POST each body to ``url`` (or, with GET, each body is a path appended to it)."""
    requests: list[Request] = [("GET", b.decode(), None) if method == "GET" else ("POST", "", b) for b in bodies]
    return summary(rate, seconds, run_mixed(url, rate, seconds, requests, connections, timeout))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("url")
    ap.add_argument("--rate", type=float, default=1000)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--body-file", type=Path, required=True)
    ap.add_argument("--method", default="POST", choices=["POST", "GET"])
    ap.add_argument("--connections", type=int, default=256)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    bodies = [line.encode() for line in args.body_file.read_text().splitlines() if line.strip()]
    started = time.perf_counter()
    result = run(args.url, args.rate, args.seconds, bodies, args.method, args.connections)
    result["wall_s"] = round(time.perf_counter() - started, 2)
    text = json.dumps(result, indent=2)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
