"""`recsys tui` on the data.scale=full bundle: time to the first screen, and moving between shoppers.

The bundle is the product's own pipeline at full scale (100,000 shoppers,
50,000 products), built once with the commands a user types:
`recsys ingest|split|features|train|export data.scale=full tracking=none`.

Each measurement runs in a fresh Python process (interpreter start and every
import counted), the app headless at 120x40 through Textual's own test
driver (the same compositor and widgets as in a terminal):

- first screen: from the spawn of the process (interpreter, `recsys_cli.cli`
  and the app imported, config composed as `recsys tui` does) to the
  shoppers table drawn with its rows (the service keeps loading in its
  worker meanwhile);
- service ready: when recommendations become available (reported, no target);
- moving between shoppers: on the shopper screen, `n` pressed again and again;
  per press, the time from the key's handler to the new history and both
  lists (the model's and a second model's) drawn (`ShopperDetailScreen.update_ms`).

Targets (issue 12): first screen <= 2 s; moving between shoppers <= 100 ms.

    python bench/tui_explorer.py [--work /tmp/recsys-bench-tui] [--moves 60] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import _report

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("ingest", "split", "features", "train", "export")


def overrides(work: Path) -> list[str]:
    return ["data.scale=full", "tracking=none", f"paths.root={work}"]


def build(work: Path) -> None:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    if not (work / "data" / "bundle" / "manifest.json").is_file():
        for stage in STAGES:
            print(f"building the full bundle: recsys {stage} {' '.join(overrides(work))}", flush=True)
            subprocess.run([sys.executable, "-m", "recsys_cli.cli", stage, *overrides(work)], env=env, check=True,
                           cwd=ROOT)
    if not (work / "data" / "models" / "popularity" / "model").is_dir():
        print("the second model: recsys train model=popularity", flush=True)
        subprocess.run([sys.executable, "-m", "recsys_cli.cli", "train", "model=popularity", *overrides(work)],
                       env=env, check=True, cwd=ROOT)


async def measure(work: Path, spawned: float, moves: int) -> dict:
    import recsys_cli.cli  # noqa: F401 - what `recsys tui` imports first
    from recsys_cli.tui.app import ExplorerApp
    from recsys_cli.tui.run import load_config
    from recsys_cli.tui.widgets.virtual_table import VirtualTable

    cfg = load_config(overrides(work), None)  # as the command does
    app = ExplorerApp(cfg, cursor_blink=False)
    out: dict = {}
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.screen.query_one(VirtualTable)
        while not table.row_count:
            await asyncio.sleep(0.005)
        await pilot.pause()  # the rows painted
        out["first_screen_s"] = time.time() - spawned
        out["shoppers"] = table.row_count
        while app.service is None:
            await asyncio.sleep(0.05)
        out["service_ready_s"] = time.time() - spawned
        app.load_second("popularity")
        while app.second is None:
            await asyncio.sleep(0.05)
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        detail = app.screen
        walls = []
        for _ in range(moves):
            done = len(detail.update_ms)
            started = time.perf_counter()
            await pilot.press("n")
            while len(detail.update_ms) == done:
                await asyncio.sleep(0.001)
            walls.append((time.perf_counter() - started) * 1000)
        out["move_ms"] = detail.update_ms[-moves:]
        out["move_wall_ms"] = walls
        out["second_model"] = app.second.model_name
    return out


def pct(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(values, q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/recsys-bench-tui"))
    parser.add_argument("--moves", type=int, default=60)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(asyncio.run(measure(args.work, args.child, args.moves))))
        return
    build(args.work)
    runs = []
    for i in range(args.runs):
        done = subprocess.run([sys.executable, __file__, "--work", str(args.work), "--moves", str(args.moves),
                               "--child", repr(time.time())], capture_output=True, text=True, cwd=ROOT,
                              env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
        if done.returncode:
            raise SystemExit(f"run {i + 1} failed:\n{done.stderr[-3000:]}")
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"run {i + 1}: first screen {runs[-1]['first_screen_s']:.2f} s, service {runs[-1]['service_ready_s']:.1f} s, "
              f"move p50 {pct(runs[-1]['move_ms'], 50):.1f} ms", flush=True)
    first = sorted(r["first_screen_s"] for r in runs)
    moves = [m for r in runs for m in r["move_ms"]]
    walls = [m for r in runs for m in r["move_wall_ms"]]
    result = {
        "data": "synthetic data.scale=full",
        "shoppers": runs[0]["shoppers"],
        "second_model": runs[0]["second_model"],
        "first_screen_s": {"median": first[len(first) // 2], "max": first[-1], "runs": first},
        "service_ready_s": [r["service_ready_s"] for r in runs],
        "move_ms": {"p50": pct(moves, 50), "p95": pct(moves, 95), "max": max(moves), "n": len(moves)},
        "move_wall_ms": {"p50": pct(walls, 50), "p95": pct(walls, 95), "max": max(walls)},
        "targets": {"first_screen_s": 2.0, "move_ms": 100.0},
    }
    table = [
        {"measure": "first screen (process spawn -> shoppers drawn)", "median": f"{result['first_screen_s']['median']:.2f} s",
         "worst": f"{result['first_screen_s']['max']:.2f} s", "target": "<= 2 s"},
        {"measure": "moving between shoppers (key -> history + both lists drawn)",
         "median": f"{result['move_ms']['p50']:.1f} ms", "worst": f"p95 {result['move_ms']['p95']:.1f} ms, "
         f"max {result['move_ms']['max']:.1f} ms", "target": "<= 100 ms"},
        {"measure": "same, as the test driver sees it (press -> drawn)", "median": f"{result['move_wall_ms']['p50']:.1f} ms",
         "worst": f"p95 {result['move_wall_ms']['p95']:.1f} ms", "target": ""},
        {"measure": "service ready (recommendations available)",
         "median": f"{sorted(result['service_ready_s'])[len(runs) // 2]:.1f} s",
         "worst": f"{max(result['service_ready_s']):.1f} s", "target": "(none)"},
    ]
    _report.write("tui_explorer", result, table)


if __name__ == "__main__":
    main()
