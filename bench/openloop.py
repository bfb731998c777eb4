"""An open-loop HTTP load generator (the coordinated-omission correction of wrk2 / vegeta).

Request i is *due* at ``t0 + i / rate`` and is sent then whether or not
earlier ones have answered; its latency counts from the due time, so a server
that stalls is charged for every request that queued behind the stall
(closed-loop tools such as wrk, hey or locust wait instead, and hide it).

    python bench/openloop.py URL --rate 1000 --seconds 60 --body-file bodies.jsonl [--json out.json]

Bodies: one JSON request per line (cycled); with ``--method GET`` the lines are
paths. Runs on uvloop with aiohttp; prints and writes percentiles, errors,
achieved rate and the generator's own lag (how late it sent requests: if it
cannot keep up, the run says so instead of under-reporting).
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


async def _run(url: str, rate: float, seconds: float, bodies: list[bytes], method: str, connections: int,
               timeout: float) -> dict[str, Any]:
    import aiohttp

    n = int(rate * seconds)
    latency = np.full(n, np.nan)
    lag = np.zeros(n)
    status = np.zeros(n, dtype=np.int32)
    connector = aiohttp.TCPConnector(limit=connections, keepalive_timeout=30, ttl_dns_cache=300)
    headers = {"content-type": "application/json"}
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout) as session:
        loop = asyncio.get_running_loop()

        async def one(i: int, due: float) -> None:
            body = bodies[i % len(bodies)]
            try:
                if method == "GET":
                    async with session.get(url + body.decode()) as r:
                        await r.read()
                        status[i] = r.status
                else:
                    async with session.post(url, data=body, headers=headers) as r:
                        await r.read()
                        status[i] = r.status
            except Exception:  # noqa: BLE001 - timeouts, resets: counted as errors
                status[i] = -1
            latency[i] = time.perf_counter() - due

        # warm the connections so the first second measures the server, not TCP handshakes
        await asyncio.gather(*(one(i, time.perf_counter()) for i in range(min(connections, 50))))
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
    ok = status == 200
    errors = int((~ok).sum())
    return {
        "rate": rate, "seconds": seconds, "requests": n, "errors": errors,
        "status": {str(k): int(v) for k, v in zip(*np.unique(status, return_counts=True))},
        "achieved_rate": round(n / elapsed, 1),
        **percentiles(latency[ok] if ok.any() else latency[~np.isnan(latency)]),
        "generator_lag_p99_ms": round(float(np.percentile(lag, 99) * 1000), 3),
        "per_second_p99_ms": [round(float(np.percentile(latency[s : s + int(rate)], 99) * 1000), 2)
                              for s in range(0, n, int(rate)) if np.isfinite(latency[s : s + int(rate)]).any()],
    }


def run(url: str, rate: float, seconds: float, bodies: list[bytes], method: str = "POST", connections: int = 256,
        timeout: float = 10.0) -> dict[str, Any]:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    return asyncio.run(_run(url, rate, seconds, bodies, method, connections, timeout))


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
