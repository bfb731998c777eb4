"""The same data through engine=local and engine=spark (local mode): per-stage wall time and peak
memory side by side, split counts, and NDCG@10 of implicit's ALS vs Spark MLlib's ALS with the same
settings (factors, iterations, alpha, regularization) on the same split.

    python bench/spark_vs_local.py --scale full
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


def run(root: Path, scale: str, engine: list[str]) -> dict:
    for stage in STAGES:
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
    args = parser.parse_args()
    base = Path(args.root) / args.scale
    local = run(base / "local", args.scale, ["engine=local"])
    spark = run(base / "spark", args.scale, ["engine=spark"])
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
