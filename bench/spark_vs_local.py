"""The same data through engine=local and engine=spark (local mode): per-stage wall time and peak
memory side by side, split counts, and NDCG@10 of implicit's ALS vs Spark MLlib's ALS with the same
settings (factors, iterations, alpha, regularization) on the same split.

    python bench/spark_vs_local.py --scale full [--resume]

``--resume`` keeps the stages a previous, interrupted run of the same root finished
(as recorded in its reports/stages.json) and runs only the rest.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import _report

STAGES = ["ingest", "split", "features", "train", "eval", "export", "batch-recommend"]


def run(root: Path, scale: str, engine: list[str], resume: bool = False) -> dict:
    done: set[str] = set()
    if resume and (root / "reports/stages.json").is_file():
        done = {s["stage"] for s in json.loads((root / "reports/stages.json").read_text())["stages"]}
    for stage in STAGES:
        if stage in done:
            continue
        subprocess.run([sys.executable, "-m", "recsys_cli.cli", stage, f"data.scale={scale}", f"paths.root={root}", "tracking=none",
                        "tune.trials=0", "eval.bootstrap=0", *engine], check=True, stdout=subprocess.DEVNULL)
    stages = {s["stage"]: s for s in json.loads((root / "reports/stages.json").read_text())["stages"]}
    split = json.loads((root / "data/processed/split_report.json").read_text())
    metrics = json.loads((root / "reports/metrics.json").read_text())
    return {"stages": stages, "split": {w: split[w]["events"] for w in ("train", "valid", "test")},
            "ndcg@10": metrics["ndcg@10"], "users": metrics["users"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", default="full")
    parser.add_argument("--root", default=str(Path(tempfile.gettempdir()) / "recsys-bench-spark"))
    parser.add_argument("--resume", action="store_true", help="keep the stages an interrupted run finished")
    args = parser.parse_args()
    base = Path(args.root) / args.scale
    local = run(base / "local", args.scale, ["engine=local"], args.resume)
    spark = run(base / "spark", args.scale, ["engine=spark"], args.resume)
    table = [{"stage": s, "local s": local["stages"][s]["seconds"], "spark s": spark["stages"][s]["seconds"],
              "local peak MB": local["stages"][s]["peak_mb"], "spark peak MB": spark["stages"][s]["peak_mb"],
              "spark engine": spark["stages"][s]["engine"]} for s in STAGES]
    result = {"scale": args.scale, "local": local, "spark": spark,
              "split_counts_identical": local["split"] == spark["split"],
              "ndcg_ratio_spark_over_local": round(spark["ndcg@10"] / local["ndcg@10"], 4),
              "targets": {"split_identical": True, "ndcg_within": 0.05},
              "note": "2 shared cores; Spark in local[*] mode in the same machine"}
    table.append({"stage": "ndcg@10", "local s": local["ndcg@10"], "spark s": spark["ndcg@10"],
                  "local peak MB": "", "spark peak MB": "", "spark engine": ""})
    _report.write(f"spark_vs_local_{args.scale}", result, table)


if __name__ == "__main__":
    main()
