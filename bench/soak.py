"""Soak and overload: `recsys serve` under open-loop mixed traffic for minutes, then past its capacity.

The server is the product's own command (`recsys serve`, default config:
one worker, JSON access log, in-process cache, the SQLite event store, load
shedding at serve.max_queue_ms) over the default bundle (`recsys run`). The
traffic (bench/openloop.py, open loop: latency counts from each request's due
time) is a seeded mix:

- 60% POST /recommend (80% known shoppers, 20% visitors, k=10),
- 20% GET /items/{id}/similar (k=10, random catalog products),
- 20% POST /feedback (view, click, add_to_cart, purchase of those shoppers).

1. Soak: --soak-rate (500/s) for --soak-minutes (10). Targets: zero errors;
   resident memory (the server process, sampled every second) grows < 5% from
   minute 2 to minute 10 (median of each minute); per-minute percentiles in
   the report; every feedback event that got a 2xx is in the event store.
2. The highest sustainable rate: steps of --step-seconds until one has an
   error (a 503 included) or a p95 above --p95-ms; for the soak mix, and for
   a heavy mix (the same endpoints: every list for a new visitor who states
   preferences, cold start with MMR, k=50, never cached; similar items by
   content, k=50). The heavy mix is what the overload runs: on a 2-core
   machine this single generator process tops out near 1,000 requests/s,
   short of twice the soak mix's capacity, but well past twice the heavy one.
3. Overload: 2x the heavy mix's sustainable rate for --overload-seconds.
   Target: the server sheds with 503 + Retry-After, answers every request (no
   timeout, no reset, no 5xx other than 503: never hangs), and then recovers:
   --recovery-seconds at the sustainable rate, the seconds until no more 503s
   reported.

    python bench/soak.py [--soak-minutes 10] [--soak-rate 500] [--work /tmp/recsys-bench-soak]

Writes reports/bench/soak.json and soak.md (with the load average it ran under).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import threading
import time
from pathlib import Path
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import psutil

import _report
import openloop
from serve_load import RecsysServer, recsys

KINDS = ("recommend", "similar", "feedback")
EVENTS = ("view", "view", "view", "click", "click", "add_to_cart", "purchase")


def bundle(work: Path) -> Path:
    """The default pipeline's bundle (`recsys run`, the small synthetic shop, ALS), built once."""
    root = work / "default"
    if not (root / "data" / "bundle" / "manifest.json").is_file():
        print("building the default bundle: recsys run", flush=True)
        recsys("run", f"paths.root={root}", "tracking=none")
    return root


def mix(root: Path, n: int = 30_000, seed: int = 0, heavy: bool = False) -> tuple[list[openloop.Request], np.ndarray]:
    """The seeded request mix and each request's kind (0 recommend, 1 similar, 2 feedback).

    ``heavy``: every list is for a new visitor who states preferences (cold start with MMR, k=50; handed
    out by :func:`fresh`, never repeated, so never cached) and similar items are by content (k=50): the
    same endpoints at about a third of the capacity.
    """
    import polars as pl

    with np.load(root / "data" / "bundle" / "ids.npz", allow_pickle=False) as z:
        users, items = z["users"].tolist(), z["items"].tolist()
    catalog = pl.read_parquet(root / "data" / "bundle" / "catalog.parquet")
    categories = sorted({c.split(" > ")[0] for c in catalog["category"].drop_nulls()})
    brands = sorted(set(catalog["brand"].drop_nulls()))
    rng = random.Random(seed)
    visitors = [f"visitor-{i:05d}" for i in range(2000)]  # a bounded pool: they come back
    out: list[openloop.Request] = []
    kinds = np.zeros(n, dtype=np.int8)
    for i in range(n):
        user = rng.choice(users) if rng.random() < 0.8 else rng.choice(visitors)
        draw = rng.random()
        if draw < 0.6 and heavy:
            body = {"user_id": f"newcomer-{i:06d}", "k": 50, "preferences": {
                "categories": rng.sample(categories, 2), "brands": rng.sample(brands, 3),
                "price": {"max": rng.choice([50, 100, 300, 1000])}}}
            out.append(("POST", "/recommend", json.dumps(body).encode()))
        elif draw < 0.6:
            out.append(("POST", "/recommend", json.dumps({"user_id": user, "k": 10}).encode()))
        elif draw < 0.8:
            method = "&method=content" if heavy else ""
            out.append(("GET", f"/items/{rng.choice(items)}/similar?k={50 if heavy else 10}{method}", None))
            kinds[i] = 1
        else:
            event = rng.choice(EVENTS)
            body = {"user_id": user, "item_id": rng.choice(items), "event": event}
            if event == "purchase":
                body["price"] = round(rng.uniform(5, 200), 2)
            out.append(("POST", "/feedback", json.dumps(body).encode()))
            kinds[i] = 2
    return out, kinds


class RssSampler:
    """The server process's resident memory, once a second, on the perf_counter clock (the load generator's)."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append((time.perf_counter(), self.process.memory_info().rss))
            except psutil.Error:
                return
            self._stop.wait(1.0)

    def stop(self) -> list[tuple[float, int]]:
        self._stop.set()
        self._thread.join()
        return self.samples


def stored_feedback(root: Path) -> int:
    with sqlite3.connect(root / "data" / "events" / "events.db") as con:
        return int(con.execute("SELECT COUNT(*) FROM events WHERE event != 'impression'").fetchone()[0])


def per_window(raw: dict[str, Any], rate: float, window: float, kinds: np.ndarray | None = None) -> list[dict]:
    """Requests, errors and latency percentiles (ms, of the 2xx) per ``window`` seconds of due time."""
    latency, status = raw["latency"], raw["status"]
    due = np.arange(status.size) / rate
    rows = []
    for start in np.arange(0, due[-1] + 1e-9, window):
        sel = (due >= start) & (due < start + window)
        ok = sel & (status >= 200) & (status < 300)
        row: dict[str, Any] = {"from_s": round(float(start), 1), "requests": int(sel.sum()),
                               "ok": int(ok.sum()), "shed_503": int((sel & (status == 503)).sum()),
                               "failed": int((sel & ((status < 200) | (status >= 300)) & (status != 503)).sum())}
        if ok.any():
            q = np.percentile(latency[ok], [50, 95, 99]) * 1000
            row.update(p50_ms=round(float(q[0]), 2), p95_ms=round(float(q[1]), 2), p99_ms=round(float(q[2]), 2),
                       max_ms=round(float(latency[ok].max() * 1000), 1))
        if kinds is not None:
            k = kinds[np.arange(status.size) % kinds.size]
            for code, name in enumerate(KINDS):
                mine = ok & (k == code)
                if mine.any():
                    row[f"{name}_p99_ms"] = round(float(np.percentile(latency[mine], 99) * 1000), 2)
        rows.append(row)
    return rows


def soak(server: RecsysServer, requests: list[openloop.Request], kinds: np.ndarray, rate: float,
         minutes: float) -> dict[str, Any]:
    before = stored_feedback(server.root)
    sampler = RssSampler(server.proc.pid)
    raw = openloop.run_mixed(server.url, rate, minutes * 60, requests)
    samples = sampler.stop()
    n = raw["status"].size
    k = kinds[np.arange(n) % kinds.size]
    feedback_ok = int(((k == 2) & (raw["status"] == 200)).sum())
    warm_up = int((kinds[: min(256, n)] == 2).sum())  # the generator's warm-up: one per connection (not kept)
    time.sleep(1.0)  # the writer thread commits before it answers; impressions are queued
    stored = stored_feedback(server.root) - before - warm_up
    t = np.array([s[0] for s in samples]) - raw["t0"]
    rss = np.array([s[1] for s in samples], dtype=np.float64) / 2**20
    minutes_rss = []
    for m in range(int(np.ceil(minutes))):
        sel = (t >= 60 * m) & (t < 60 * (m + 1))
        if sel.any():
            minutes_rss.append({"minute": m + 1, "rss_mib_median": round(float(np.median(rss[sel])), 1),
                                "rss_mib_max": round(float(rss[sel].max()), 1)})
    first = next((r for r in minutes_rss if r["minute"] == 2), minutes_rss[0])
    last = minutes_rss[-1]
    growth = (last["rss_mib_median"] - first["rss_mib_median"]) / first["rss_mib_median"]
    return {
        **openloop.summary(rate, minutes * 60, raw),
        "per_minute": per_window(raw, rate, 60, kinds),
        "by_kind": {name: openloop.percentiles(raw["latency"][(k == code) & (raw["status"] == 200)])
                    for code, name in enumerate(KINDS)},
        "rss_per_minute": minutes_rss,
        "rss_growth_minute_2_to_last": round(growth, 4),
        "feedback_2xx": feedback_ok, "feedback_stored": stored,
    }


Take = Callable[[int], list[openloop.Request]]
"""The requests of the next run of ``n``: the same cycled list, or fresh ones each time (never cached)."""


def fresh(requests: list[openloop.Request]) -> Take:
    """Hand out consecutive, never repeated slices of ``requests``."""
    offset = [0]

    def take(n: int) -> list[openloop.Request]:
        if offset[0] + n > len(requests):
            raise SystemExit(f"the heavy mix has {len(requests):,} requests; raise mix(n=...) for these runs")
        out = requests[offset[0] : offset[0] + n]
        offset[0] += n
        return out

    return take


def search(server: RecsysServer, take: Take, rates: list[float], seconds: float,
           p95_ms: float) -> tuple[float | None, list[dict]]:
    best, steps = None, []
    for rate in rates:
        requests = take(int(rate * seconds))
        result = openloop.summary(rate, seconds, openloop.run_mixed(server.url, rate, seconds, requests))
        steps.append({"rate": rate, "errors": result["errors"], "status": result["status"],
                      "p95_ms": result.get("p95_ms"), "p99_ms": result.get("p99_ms"), "achieved": result["achieved_rate"],
                      "generator_lag_p99_ms": result["generator_lag_p99_ms"]})
        print(f"  {rate:g}/s: {result['status']}, p95 {result.get('p95_ms')} ms, p99 {result.get('p99_ms')} ms",
              flush=True)
        if result["errors"] or (result.get("p95_ms") or 1e9) > p95_ms:
            break
        best = rate
        time.sleep(2)
    return best, steps


def overload(server: RecsysServer, take: Take, rate: float, seconds: float,
             recovery_rate: float, recovery_seconds: float) -> dict[str, Any]:
    raw = openloop.run_mixed(server.url, rate, seconds, take(int(rate * seconds)), timeout=30)
    status = raw["status"]
    answered = np.isin(status, (200, 503))
    after = openloop.run_mixed(server.url, recovery_rate, recovery_seconds, take(int(recovery_rate * recovery_seconds)))
    seconds_rows = per_window(after, recovery_rate, 1.0)
    shed_seconds = [r["from_s"] for r in seconds_rows if r["shed_503"] or r["failed"]]
    recovered_after = (max(shed_seconds) + 1.0) if shed_seconds else 0.0
    return {
        "overload": {**openloop.summary(rate, seconds, raw, ok=(200,)),
                     "answered_200_or_503": int(answered.sum()), "hung_or_failed": int((~answered).sum()),
                     "max_latency_any_ms": round(float(np.nanmax(raw["latency"]) * 1000), 1),
                     "per_5s": per_window(raw, rate, 5.0)},
        "recovery": {**openloop.summary(recovery_rate, recovery_seconds, after),
                     "seconds_until_no_503": recovered_after, "per_second": seconds_rows},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--soak-minutes", type=float, default=10)
    ap.add_argument("--soak-rate", type=float, default=500)
    ap.add_argument("--rates", type=float, nargs="+", default=[500, 750, 1000, 1250, 1500])
    ap.add_argument("--heavy-rates", type=float, nargs="+", default=[100, 150, 200, 250, 300, 350, 400, 500, 600])
    ap.add_argument("--step-seconds", type=float, default=20)
    ap.add_argument("--p95-ms", type=float, default=100)
    ap.add_argument("--overload-seconds", type=float, default=60)
    ap.add_argument("--recovery-seconds", type=float, default=30)
    ap.add_argument("--work", type=Path, default=Path("/tmp/recsys-bench-soak"))
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    root = bundle(args.work)
    events = root / "data" / "events"
    if events.exists():  # a fresh event store for this run
        for f in events.iterdir():
            f.unlink()
    requests, kinds = mix(root)
    load_before = os.getloadavg()
    server = RecsysServer(root, args.work / "soak-server.log")
    try:
        print(f"soak: {args.soak_rate:g}/s for {args.soak_minutes:g} min", flush=True)
        soaked = soak(server, requests, kinds, args.soak_rate, args.soak_minutes)
        load_soak = os.getloadavg()
        print(json.dumps({k: v for k, v in soaked.items() if k not in ("per_second_p99_ms", "per_minute")}),
              flush=True)
        print("searching the highest sustainable rate of the soak mix", flush=True)
        best_mix, steps_mix = search(server, lambda n: requests, args.rates, args.step_seconds, args.p95_ms)
        needed = sum(args.heavy_rates) * args.step_seconds + 2 * max(args.heavy_rates) * args.overload_seconds \
            + max(args.heavy_rates) * args.recovery_seconds + 50 * (len(args.heavy_rates) + 2)
        heavy = fresh(mix(root, n=int(needed), seed=1, heavy=True)[0])  # every heavy request new: never cached
        print("searching the highest sustainable rate of the heavy mix", flush=True)
        best, steps = search(server, heavy, args.heavy_rates, args.step_seconds, args.p95_ms)
        sustainable = best or args.heavy_rates[0]
        print(f"overload: {2 * sustainable:g}/s of the heavy mix for {args.overload_seconds:g} s", flush=True)
        over = overload(server, heavy, 2 * sustainable, args.overload_seconds, sustainable, args.recovery_seconds)
        metrics = httpx.get(f"{server.url}/metrics", timeout=10).text
        shed_total = sum(float(line.split()[-1]) for line in metrics.splitlines()
                         if line.startswith("recsys_shed_requests_total{"))
    finally:
        server.stop()
    load_after = os.getloadavg()
    o, r = over["overload"], over["recovery"]
    targets = {
        "soak_zero_errors": soaked["errors"] == 0,
        "soak_rss_growth_lt_5pct": soaked["rss_growth_minute_2_to_last"] < 0.05,
        "soak_feedback_2xx_all_stored": soaked["feedback_stored"] == soaked["feedback_2xx"],
        "overload_sheds_with_503": o["status"].get("503", 0) > 0,
        "overload_never_hangs": o["hung_or_failed"] == 0,
        "recovers": r["errors"] == 0 or r["seconds_until_no_503"] < args.recovery_seconds,
    }
    result = {
        "targets": targets,
        "load_average": {"before": [round(x, 2) for x in load_before], "after_soak": [round(x, 2) for x in load_soak],
                         "after_all": [round(x, 2) for x in load_after], "cpus": os.cpu_count()},
        "bundle": str(root),
        "mix": {"recommend": 0.6, "similar": 0.2, "feedback": 0.2, "known_shoppers": 0.8},
        "soak": {k: v for k, v in soaked.items() if k != "per_second_p99_ms"},
        "sustainable_soak_mix": {"rate": best_mix, "steps": steps_mix},
        "sustainable": {"rate": best, "mix": "heavy: cold-start visitors with preferences (k=50), similar by "
                        "content (k=50), feedback", "criterion": f"no error and p95 <= {args.p95_ms:g} ms over "
                                                                f"{args.step_seconds:g} s", "steps": steps},
        "overload": {k: v for k, v in o.items() if k != "per_second_p99_ms"},
        "recovery": {k: v for k, v in r.items() if k != "per_second_p99_ms"},
        "shed_total_from_metrics": shed_total,
    }
    rows = [{"phase": f"soak minute {m['from_s'] / 60 + 1:.0f}", "rate": args.soak_rate, "requests": m["requests"],
             "ok": m["ok"], "503": m["shed_503"], "failed": m["failed"], "p50 ms": m.get("p50_ms"),
             "p95 ms": m.get("p95_ms"), "p99 ms": m.get("p99_ms"), "max ms": m.get("max_ms"),
             "rss MiB": next((x["rss_mib_median"] for x in soaked["rss_per_minute"]
                              if x["minute"] == round(m["from_s"] / 60) + 1), "")}
            for m in soaked["per_minute"]]
    for label, found in (("search, soak mix", steps_mix), ("search, heavy mix", steps)):
        rows += [{"phase": label, "rate": step["rate"], "requests": sum(step["status"].values()),
                  "ok": step["status"].get("200", 0), "503": step["status"].get("503", 0),
                  "failed": step["errors"] - step["status"].get("503", 0), "p95 ms": step["p95_ms"],
                  "p99 ms": step["p99_ms"]}
                 for step in found]
    for name, part in (("overload 2x, heavy mix", o), ("recovery, heavy mix", r)):
        rows.append({"phase": name, "rate": part["rate"], "requests": part["requests"],
                     "ok": part["status"].get("200", 0), "503": part["status"].get("503", 0),
                     "failed": part["errors"] - part["status"].get("503", 0), "p50 ms": part.get("p50_ms"),
                     "p95 ms": part.get("p95_ms"), "p99 ms": part.get("p99_ms"), "max ms": part.get("max_ms")})
    _report.write("soak", result, rows)


if __name__ == "__main__":
    main()
