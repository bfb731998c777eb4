"""The whole ranking evaluation (every metric, segment and interval) vs implicit's four metrics.

Same trained ALS (``recsys train``), same split, same excluded items and
targets. ``recsys`` time is :func:`recsys_cli.stages.eval_ranking.score`: full
ranking of every test user (warm and cold), 8 accuracy metrics at K=5,10,20,
beyond-accuracy metrics (novelty, popularity percentile, serendipity, ILD by
category and text, coverage, Gini), segments (activity, user attributes,
new vs existing items) and bootstrap intervals. ``implicit`` time is
``implicit.evaluation.ranking_metrics_at_k`` (precision, map, ndcg, auc at
K=10) on the users with history. Setup that both share (reading the split,
loading the model) is timed apart, and so is the whole ``recsys eval`` stage
(reading inputs, business proxies, writing reports and PNG charts).

Targets (issue 4): small: recsys >= 2x faster than implicit; full
(100K users x 50K products): the whole ``recsys eval`` stage <= 120 s.

    python bench/eval_full.py --scale small --repeats 5
    python bench/eval_full.py --scale full --repeats 1
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

import _report

from recsys_cli import config
from recsys_cli.stages import evaluate, features, ingest, split, train
from recsys_cli.stages.eval_ranking import score
from recsys_cli.stages.eval_setup import load_setup
from recsys_cli.stages.inputs import trained_model


def prepare(scale: str) -> config.Config:
    root = Path(tempfile.gettempdir()) / "recsys-bench" / f"eval-{scale}"
    cfg = config.load([f"paths.root={root}", f"data.scale={scale}", "model=als", "tune.apply_best=false"])
    if not (cfg.paths.models / "als" / "model").exists():
        for stage in (ingest, split, features, train):
            stage.run(cfg)
    return cfg


def timed(fn, repeats: int) -> tuple[list[float], object]:  # noqa: ANN001
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return times, out


def main() -> None:
    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.evaluation import ranking_metrics_at_k

    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", default="small", choices=["tiny", "small", "medium", "full"])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    cfg = prepare(args.scale)

    t = time.perf_counter()
    setup = load_setup(cfg, ["train"])
    model, fallback = trained_model(cfg)
    setup_s = time.perf_counter() - t

    twin = AlternatingLeastSquares(factors=model.params.factors)
    twin.user_factors, twin.item_factors = model.user_factors, model.item_factors
    warm = setup.known & (np.diff(setup.relevant.indptr) > 0)
    test = sp.csr_matrix(sp.diags(warm.astype(np.float32)) @ setup.relevant)  # users with history only
    test.eliminate_zeros()
    train_m = setup.seen

    ours = lambda: score(cfg, setup, model, fallback, show_progress=False)  # noqa: E731
    theirs = lambda: ranking_metrics_at_k(twin, train_m, test, K=10, show_progress=False)  # noqa: E731
    ours(), theirs()  # warm-up (imports, caches)
    t_ours, outcome = timed(ours, args.repeats)
    t_theirs, ref = timed(theirs, args.repeats)
    t_stage, _ = timed(lambda: evaluate.run(cfg), 1)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    m = outcome.metrics
    agree = {"ndcg@10": (m["ndcg@10"], float(ref["ndcg"])), "map_capped@10": (m["map_capped@10"], float(ref["map"]))}
    result = {
        "scale": args.scale,
        "users_scored": int(setup.test_users.size),
        "users_with_history": int(m["users"]),
        "items": setup.n_items,
        "recsys_score_s": t_ours,
        "implicit_s": t_theirs,
        "speedup": statistics.median(t_theirs) / statistics.median(t_ours),
        "setup_s": setup_s,
        "recsys_eval_stage_s": t_stage[0],
        "peak_rss_mb": peak_mb,
        "agreement": {k: {"recsys": a, "implicit": b, "abs_diff": abs(a - b)} for k, (a, b) in agree.items()},
        "batch_size": cfg.eval.batch_size,
    }
    table = [{
        "scale": args.scale, "users": result["users_scored"], "items": result["items"],
        "recsys all metrics+segments+CIs s (median)": round(statistics.median(t_ours), 3),
        "implicit 4 metrics s (median)": round(statistics.median(t_theirs), 3),
        "speedup": round(result["speedup"], 2),
        "whole `recsys eval` s": round(t_stage[0], 1),
        "peak RSS MB": round(peak_mb),
        "ndcg@10 |diff|": f"{agree['ndcg@10'][0] - agree['ndcg@10'][1]:.1e}",
    }]
    _report.write(f"eval_full_{args.scale}", result, table)
    print(table)


if __name__ == "__main__":
    main()
