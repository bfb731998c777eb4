"""The whole ALS pipeline at data.scale=full (or xl) on this machine: wall time and peak memory per stage.

Targets (issue 13): full <= 20 min and <= 8 GB, top-10 for all users (batch-recommend) <= 60 s;
xl <= 60 min and <= 16 GB. Runs the product's own command (`recsys run`, conf/ defaults plus the
overrides printed in the report) in a fresh process; figures come from its reports/stages.json.

    python bench/scale_pipeline.py --scale full
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import tempfile
import time
from pathlib import Path

import _report

TARGETS = {"full": {"seconds": 1200, "peak_mb": 8192, "batch_seconds": 60},
           "xl": {"seconds": 3600, "peak_mb": 16384, "batch_seconds": None}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", default="full", choices=sorted(TARGETS))
    parser.add_argument("--root", default=str(Path(tempfile.gettempdir()) / "recsys-bench-scale"))
    parser.add_argument("--engine", default="local")
    args = parser.parse_args()
    root = Path(args.root) / f"{args.scale}-{args.engine}"
    command = ["recsys", "run", f"data.scale={args.scale}", f"engine={args.engine}", f"paths.root={root}",
               "tracking=none"]  # the default pipeline: tuned ALS (tune.trials=8), bootstrap intervals and all
    load_before = list(__import__("os").getloadavg())
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    stages = json.loads((root / "reports" / "stages.json").read_text())
    metrics = json.loads((root / "reports" / "metrics.json").read_text())
    target = TARGETS[args.scale]
    batch = next(s for s in stages["stages"] if s["stage"] == "batch-recommend")
    result = {
        "scale": args.scale, "engine": args.engine, "pipeline_command": shlex.join(command),
        "wall_seconds": round(wall, 1), "stages": stages["stages"], "stage_seconds_total": stages["total_seconds"],
        "peak_mb": stages["peak_mb"], "ndcg@10": metrics.get("ndcg@10"), "users": metrics.get("users"),
        "targets": target,
        "meets": {"seconds": wall <= target["seconds"], "peak_mb": stages["peak_mb"] <= target["peak_mb"],
                  "batch_seconds": None if target["batch_seconds"] is None else batch["seconds"] <= target["batch_seconds"]},
        "load_average_before": load_before,  # 1/5/15-minute load on the 2 cores before the run
        "load_average_after": list(__import__("os").getloadavg()),
    }
    table = [{"stage": s["stage"], "engine": s["engine"], "wall s": s["seconds"], "peak MB": s["peak_mb"]}
             for s in stages["stages"]]
    table.append({"stage": "total (wall)", "engine": args.engine, "wall s": round(wall, 1), "peak MB": stages["peak_mb"]})
    _report.write(f"scale_{args.scale}_{args.engine}", result, table)


if __name__ == "__main__":
    main()
