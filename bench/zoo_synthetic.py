"""Every model on the default synthetic shop: temporal test window NDCG@10 and fit time.

Each single model is tuned on the valid window (``--trials`` Optuna trials;
0 = its default params), trained on train and evaluated once on test. The
hybrid (meta mode: weights learned on valid) blends the single models with
their tuned params. Targets (issue 3): the hybrid beats every single model
on test NDCG@10 and popularity by at least 50%; every model trains on the
small data in under 2 minutes.

    python bench/zoo_synthetic.py [--trials 10] [--scale small] [--models als ease ...]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import _report

from recsys_cli import config
from recsys_cli.stages import evaluate, features, ingest, split, train, tune

SINGLES = ["popularity", "als", "bpr", "lmf", "ease", "itemknn", "rp3beta", "tfidf", "embedding",
           "neumf", "multvae", "widedeep", "twotower", "svd", "svdpp", "knnbaseline"]
BLEND = ["ease", "itemknn", "rp3beta", "als", "popularity"]


def stage_cfg(root: Path, scale: str, extra: list[str]) -> config.Config:
    return config.load([f"paths.root={root}", f"data.scale={scale}", *extra])


def run_model(root: Path, scale: str, model: str, trials: int, extra: list[str] | None = None) -> dict:
    from recsys_cli.models import REGISTRY

    if model not in REGISTRY:
        return {"model": model, "status": "not available"}
    cfg = stage_cfg(root, scale, [f"model={model}", f"tune.trials={trials}", *(extra or [])])
    tune.run(cfg)
    started = time.perf_counter()
    train.run(cfg)
    fit = time.perf_counter() - started
    evaluate.run(cfg)
    metrics = json.loads((cfg.paths.reports_dir / "metrics.json").read_text())
    best = json.loads((cfg.paths.tune / "best_params.json").read_text())
    return {"model": model, "test ndcg@10": metrics["ndcg@10"], "test recall@10": metrics["recall@10"],
            "fit s": round(fit, 2), "tuned params": best.get("params", {}), "users": metrics["users"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--slow-trials", type=int, default=5,
                        help="trials for the slow models (surprise SVD++/KNN, content embeddings, torch models)")
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--scale", default="small")
    parser.add_argument("--models", nargs="+", default=SINGLES)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="recsys-zoo-"))
    cfg = stage_cfg(root, args.scale, [])
    ingest.run(cfg)
    split.run(cfg)
    features.run(cfg)
    slow = {"svdpp", "knnbaseline", "embedding", "neumf", "multvae", "widedeep", "twotower"}
    rows = [run_model(root, args.scale, m, args.slow_trials if m in slow else args.trials) for m in args.models]
    tuned = {r["model"]: r.get("tuned params", {}) for r in rows}
    comps = ", ".join(
        "{name: %s, weight: 1.0, params: %s}" % (m, json.dumps(tuned.get(m, {})).replace('"', ""))
        for m in BLEND
    )
    hybrid = run_model(root, args.scale, "hybrid", 0, [f"model.components=[{comps}]"])
    rows.append(hybrid)
    done = [r for r in rows if "test ndcg@10" in r]
    singles = [r for r in done if r["model"] != "hybrid"]
    best_single = max(singles, key=lambda r: r["test ndcg@10"])
    pop = next(r for r in done if r["model"] == "popularity")
    summary = {
        "best single": best_single["model"],
        "best single ndcg@10": best_single["test ndcg@10"],
        "hybrid ndcg@10": hybrid.get("test ndcg@10"),
        "hybrid beats every single model": hybrid.get("test ndcg@10", 0) > best_single["test ndcg@10"],
        "hybrid / popularity": round(hybrid.get("test ndcg@10", 0) / pop["test ndcg@10"], 3),
        "slowest fit s": max(r["fit s"] for r in done),
    }
    table = [{k: v for k, v in r.items() if k != "tuned params"} for r in rows]
    _report.write(f"zoo_synthetic_{args.scale}", {"trials": args.trials, "results": rows, "summary": summary}, table)


if __name__ == "__main__":
    main()
