"""Online experiments end to end: simulated shoppers against `recsys serve` with three model arms.

On the default small shop: bundles of popularity, ALS (the default pipeline)
and the default hybrid; `recsys serve ab=models` (Thompson sampling on clicks)
driven by `recsys ab simulate` (20,000 requests), then the same arms in a
hashed equal split (`ab=models_hashed`). Then the store's durability (8
clients for 60 s, posted with a 2xx == stored, SQLite and PostgreSQL) and the
cost of logging impressions and feedback (open-loop 500 req/s, store on vs off).

Targets (issue 11): >= 80% of the last 5,000 impressions to the truly best arm
(by the generator's expected CTR) and `recsys ab report` naming it best with
P >= 0.95; the hashed split reaches the same winner; nothing lost; the store
adds <= 1 ms to the p95 of /recommend at 500 req/s.

    python bench/ab_simulate.py [--requests 20000] [--work /tmp/recsys-bench-ab] [--soak 60] [--load-seconds 30]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import _report
import openloop
from serve_load import RecsysServer, bodies

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def recsys(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "recsys_cli.cli", *args], env=env, capture_output=True, text=True)
    if check and done.returncode:
        raise SystemExit(f"recsys {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done


def arms(work: Path) -> None:
    base = [f"paths.root={work}", "tracking=none"]
    if not (work / "data" / "models" / "als" / "model").is_dir():
        print("recsys run (default small shop, ALS)", flush=True)
        recsys("run", *base)
    for model in ("popularity", "hybrid"):
        if not (work / "data" / "models" / model / "model").is_dir():
            print(f"recsys train model={model}", flush=True)
            recsys("train", f"model={model}", *base)
    for model in ("popularity", "als", "hybrid"):
        if not (work / "data" / "bundles" / model / "manifest.json").is_file():
            print(f"recsys export model={model} bundle=data/bundles/{model}", flush=True)
            recsys("export", f"model={model}", f"bundle=data/bundles/{model}", *base)


def experiment(work: Path, ab: str, requests: int) -> dict:
    db = work / "data" / "events" / f"{ab}.db"
    db.unlink(missing_ok=True)
    events = f"serve.events=sqlite:///{db}"
    server = RecsysServer(work, work / f"{ab}.log", f"ab={ab}", events, "serve.log_requests=false")
    try:
        started = time.perf_counter()
        recsys("ab", "simulate", f"ab={ab}", f"paths.root={work}", "tracking=none", events, f"ab.url={server.url}",
               f"ab.requests={requests}")
        seconds = time.perf_counter() - started
    finally:
        server.stop()
    sim = json.loads((work / "reports" / "ab" / f"{ab}_simulation.json").read_text())
    report = json.loads((work / "reports" / "ab" / f"{ab}.json").read_text())
    shutil.copy(work / "reports" / "ab" / f"{ab}.png", _report.OUT / f"ab_simulate_{ab}.png")
    return {"seconds": round(seconds, 1), "simulation": sim,
            "report": {k: v for k, v in report.items() if k != "timeline"}}


def soak(work: Path, url: str, seconds: float) -> dict:
    from tests.serve.test_experiments import _soak, _stored
    from tests.serve.conftest import Server

    server = Server(work, f"serve.events={url}", "serve.log_requests=false")
    try:
        posted, served = _soak(server, seconds)
    finally:
        server.stop()
    from recsys_cli.serve.events import store_url

    stored = _stored(store_url(url, work / "data"))
    return {"seconds": seconds, "posted_2xx": posted, "stored": stored, "lists": served, "lost": posted - stored}


def overhead(work: Path, seconds: float, rate: float = 500) -> dict:
    payload = bodies(work)
    out = {}
    for name, events in (("store off", "serve.events=none"),
                         ("store on (sqlite)", f"serve.events=sqlite:///{work / 'data' / 'events' / 'load.db'}")):
        server = RecsysServer(work, work / "load.log", events, "serve.log_requests=false", "serve.cache=none")
        try:
            out[name] = openloop.run(f"{server.url}/recommend", rate, seconds, payload)
        finally:
            server.stop()
        out[name].pop("per_second_p99_ms", None)
        print(name, out[name], flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--work", type=Path, default=Path("/tmp/recsys-bench-ab"))
    ap.add_argument("--soak", type=float, default=60)
    ap.add_argument("--load-seconds", type=float, default=30)
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    arms(args.work)
    result = {}
    for ab in ("models", "models_hashed"):
        print(f"experiment ab={ab}: {args.requests:,} simulated requests", flush=True)
        result[ab] = experiment(args.work, ab, args.requests)
        print(json.dumps(result[ab]["simulation"], indent=1), flush=True)
    from tests.servers import Postgres

    pg = Postgres()
    try:
        result["nothing_lost"] = {
            "sqlite": soak(args.work, f"sqlite:///{args.work / 'data' / 'events' / 'soak.db'}", args.soak),
            "postgresql": soak(args.work, pg.url, args.soak),
        }
    finally:
        pg.close()
    result["overhead"] = overhead(args.work, args.load_seconds)
    thompson, hashed = result["models"], result["models_hashed"]
    best = thompson["simulation"]["true_best"]
    p95 = {k: v.get("p95_ms") for k, v in result["overhead"].items()}
    targets = {
        "thompson_last_5000_share_to_true_best_ge_0.8": thompson["simulation"]["share_of_last_5000"].get(best, 0) >= 0.8,
        "report_names_true_best_p_ge_0.95": thompson["report"]["best_arm"] == best and thompson["report"]["best_p"] >= 0.95,
        "hashed_same_winner": hashed["report"]["best_arm"] == best,
        "nothing_lost": all(v["lost"] == 0 for v in result["nothing_lost"].values()),
        "store_adds_le_1ms_p95": (p95["store on (sqlite)"] - p95["store off"]) <= 1.0,
    }
    rows = []
    for ab in ("models", "models_hashed"):
        sim = result[ab]["simulation"]
        for arm, a in sim["arms"].items():
            rep = next(r for r in result[ab]["report"]["arms"] if r["arm"] == arm)
            rows.append({"experiment": ab, "arm": arm, "lists": a["lists"], "simulated CTR %": round(100 * a["ctr"], 3),
                         "expected CTR %": round(100 * a["expected_ctr"], 3),
                         "CTR CI %": f"{100 * rep['ctr_ci'][0]:.2f}-{100 * rep['ctr_ci'][1]:.2f}",
                         "P(best)": round(rep["p_best_ctr"], 3),
                         "share of last 5000": round(sim["share_of_last_5000"].get(arm, 0), 3)})
    _report.write("ab_simulate", {"targets": targets, "true_best": best, **result}, rows)


if __name__ == "__main__":
    main()
