"""Open-loop load on `recsys serve` (POST /recommend), side by side with a trivial FastAPI endpoint.

The server is the product's own command (`recsys serve`, default config: one
worker, JSON access log, in-process cache) over the default small bundle
(`recsys run`), and the same over the hybrid. Shoppers: 80% known, 20%
unknown, in a random order (seeded). Latency counts from each request's due
time (bench/openloop.py). The trivial endpoint parses the same body with
pydantic and returns a constant list: the framework's own share.

Targets (issue 10): ALS at 1,000 req/s for 60 s: zero errors, p95 <= 10 ms,
p99 <= 30 ms. Reported: the hybrid at the same rate, and the highest rate that
keeps p99 <= 50 ms (a step search, 15 s per step).

    python bench/serve_load.py [--seconds 60] [--rate 1000] [--work /tmp/recsys-bench-serve]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

import _report
import openloop

ROOT = Path(__file__).resolve().parents[1]
TRIVIAL = '''
from fastapi import FastAPI
from pydantic import BaseModel

class Body(BaseModel):
    user_id: str
    k: int | None = None

app = FastAPI()
ITEMS = [{"item_id": f"p{i:06d}", "score": 1.0 - i / 100, "explanation": None} for i in range(10)]

@app.post("/recommend")
async def recommend(body: Body) -> dict:
    return {"user_id": body.user_id, "items": ITEMS, "strategy": "popular_fallback"}

@app.get("/health/ready")
async def ready() -> dict:
    return {"status": "ready"}
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def recsys(*args: str) -> None:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "recsys_cli.cli", *args], env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"recsys {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")


def bundles(work: Path) -> dict[str, Path]:
    """The default small pipeline (ALS) and the default hybrid on the same data, built once."""
    als, hybrid = work / "als", work / "hybrid"
    if not (als / "data" / "bundle" / "manifest.json").is_file():
        print("building the default small bundle: recsys run", flush=True)
        recsys("run", f"paths.root={als}", "tracking=none")
    if not (hybrid / "data" / "bundle" / "manifest.json").is_file():
        print("building the hybrid bundle: recsys train model=hybrid && recsys export model=hybrid", flush=True)
        for name in ("interim", "processed", "features"):
            shutil.copytree(als / "data" / name, hybrid / "data" / name, dirs_exist_ok=True)
        recsys("train", "model=hybrid", f"paths.root={hybrid}", "tracking=none")
        recsys("export", "model=hybrid", f"paths.root={hybrid}", "tracking=none")
    return {"als": als, "hybrid": hybrid}


def bodies(root: Path, n: int = 20_000, seed: int = 0) -> list[bytes]:
    import numpy as np

    with np.load(root / "data" / "bundle" / "ids.npz", allow_pickle=False) as z:
        users = z["users"].tolist()
    rng = random.Random(seed)
    out = []
    for i in range(n):
        user = rng.choice(users) if rng.random() < 0.8 else f"visitor-{rng.getrandbits(48):012x}"
        out.append(json.dumps({"user_id": user, "k": 10}).encode())
    return out


class Server:
    def __init__(self, args: list[str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
        self.proc = subprocess.Popen([*args, *self._port_args()], env=env, stdout=subprocess.DEVNULL,
                                     stderr=open(log, "w"))  # noqa: SIM115
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"server did not become ready: {args}")

    def _port_args(self) -> list[str]:
        return []

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)


class RecsysServer(Server):
    def __init__(self, root: Path, log: Path, *extra: str) -> None:
        self.root, self.extra = root, extra
        super().__init__([sys.executable, "-m", "recsys_cli.cli", "serve", f"paths.root={root}", "tracking=none",
                          *extra], log)

    def _port_args(self) -> list[str]:
        return [f"serve.port={self.port}"]


class TrivialServer(Server):
    def __init__(self, work: Path, log: Path) -> None:
        (work / "trivial_app.py").write_text(TRIVIAL)
        self.work = work
        super().__init__([sys.executable, "-m", "uvicorn", "--app-dir", str(work), "trivial_app:app",
                          "--log-level", "warning", "--no-access-log", "--no-server-header"], log)

    def _port_args(self) -> list[str]:
        return ["--port", str(self.port)]


def load(server: Server, rate: float, seconds: float, payload: list[bytes]) -> dict:
    return openloop.run(f"{server.url}/recommend", rate, seconds, payload)


def search(server: Server, payload: list[bytes], rates: list[int], seconds: float) -> tuple[int | None, list[dict]]:
    """The highest rate whose p99 stays <= 50 ms with zero errors (steps up until one fails)."""
    best, steps = None, []
    for rate in rates:
        result = load(server, rate, seconds, payload)
        steps.append({"rate": rate, "p99_ms": result.get("p99_ms"), "errors": result["errors"],
                      "achieved": result["achieved_rate"]})
        print(f"  {rate}/s: p99 {result.get('p99_ms')} ms, errors {result['errors']}", flush=True)
        if result["errors"] or (result.get("p99_ms") or 1e9) > 50:
            break
        best = rate
    return best, steps


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--rate", type=float, default=1000)
    ap.add_argument("--search-seconds", type=float, default=15)
    ap.add_argument("--rates", type=int, nargs="+", default=[500, 1000, 1500, 2000, 2500, 3000, 4000])
    ap.add_argument("--work", type=Path, default=Path("/tmp/recsys-bench-serve"))
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    roots = bundles(args.work)
    payload = bodies(roots["als"])
    rows, results = [], {}
    runs = [
        ("trivial FastAPI endpoint", lambda: TrivialServer(args.work, args.work / "trivial.log")),
        ("recsys serve, ALS", lambda: RecsysServer(roots["als"], args.work / "als.log")),
        ("recsys serve, ALS, serve.cache=none", lambda: RecsysServer(roots["als"], args.work / "als-nocache.log",
                                                                     "serve.cache=none")),
        ("recsys serve, hybrid", lambda: RecsysServer(roots["hybrid"], args.work / "hybrid.log")),
        ("recsys serve, hybrid, serve.cache=none", lambda: RecsysServer(roots["hybrid"], args.work / "hyb-nc.log",
                                                                        "serve.cache=none")),
    ]
    for name, start in runs:
        print(f"{name}: {args.rate:g}/s for {args.seconds:g} s", flush=True)
        server = start()
        try:
            result = load(server, args.rate, args.seconds, payload)
            if isinstance(server, RecsysServer):
                metrics = httpx.get(f"{server.url}/metrics").text
                hits = sum(float(line.split()[-1]) for line in metrics.splitlines()
                           if line.startswith('recsys_cache_requests_total{result="hit"}'))
                result["cache_hit_rate"] = round(hits / max(result["requests"], 1), 3)
                best, steps = search(server, payload, args.rates, args.search_seconds) if "none" in name else (None, [])
                if steps:
                    result["max_rate_p99_50ms"], result["search"] = best, steps
        finally:
            server.stop()
        results[name] = result
        rows.append({"server": name, "rate": args.rate, "requests": result["requests"], "errors": result["errors"],
                     "p50 ms": result.get("p50_ms"), "p95 ms": result.get("p95_ms"), "p99 ms": result.get("p99_ms"),
                     "max ms": result.get("max_ms"), "cache hits": result.get("cache_hit_rate", ""),
                     "max rate p99<=50ms": result.get("max_rate_p99_50ms", "")})
        print(json.dumps({k: v for k, v in result.items() if k != "per_second_p99_ms"}), flush=True)
    als = results["recsys serve, ALS"]
    verdict = {
        "als_zero_errors": als["errors"] == 0,
        "als_p95_le_10ms": (als.get("p95_ms") or 1e9) <= 10,
        "als_p99_le_30ms": (als.get("p99_ms") or 1e9) <= 30,
    }
    _report.write("serve_load", {"targets": verdict, "results": results, "bundle": str(roots["als"])}, rows)


if __name__ == "__main__":
    main()
