"""Full-ranking evaluation: recsys vs implicit.evaluation.ranking_metrics_at_k.

Same trained ALS factors, same train matrix (excluded items), same test
matrix and users. Target (issue 2): recsys at least 2x faster, with equal
values where the definitions agree: ndcg@K, map@K (implicit divides AP by
min(K, |relevant|): our ``map_capped``) and implicit's "precision"
(sum of hits / sum of min(K, |relevant|) over users: a micro-averaged capped
recall, reproduced from our per-user values).

    python bench/eval_speed.py [--ml100k DIR] [--repeats 7] [--k 10]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

import _report
from _data import dataset_matrices

from recsys_cli.evaluation.metrics import evaluate
from recsys_cli.models.als import ALS, ALSParams
from recsys_cli.models.base import TrainData


def implicit_twin(model: ALS):  # noqa: ANN201
    from implicit.cpu.als import AlternatingLeastSquares

    twin = AlternatingLeastSquares(factors=model.params.factors)
    twin.user_factors = model.user_factors
    twin.item_factors = model.item_factors
    return twin


def bench(name: str, train, test, k: int, repeats: int) -> dict:  # noqa: ANN001
    from implicit.evaluation import ranking_metrics_at_k

    model = ALS(ALSParams(factors=64, iterations=15), show_progress=False).fit(TrainData(matrix=train, seed=1))
    twin = implicit_twin(model)
    users = np.flatnonzero(np.diff(test.indptr) > 0)
    n_items = train.shape[1]

    def ours(ks):  # noqa: ANN001, ANN202
        return evaluate(model.recommend, users, test, n_items, ks, exclude=train, batch_size=2048)

    def theirs():  # noqa: ANN202
        return ranking_metrics_at_k(twin, train, test, K=k, show_progress=False)

    ours([k]), theirs()  # warm-up
    t_ours, t_full, t_theirs = [], [], []
    for _ in range(repeats):
        t = time.perf_counter(); res = ours([k]); t_ours.append(time.perf_counter() - t)
        t = time.perf_counter(); ref = theirs(); t_theirs.append(time.perf_counter() - t)
        t = time.perf_counter(); ours([5, 10, 20]); t_full.append(time.perf_counter() - t)
    n_rel = np.diff(test.indptr)[users]
    cap = np.minimum(k, n_rel)
    recall_capped = res.per_user[f"recall_capped@{k}"].to_numpy()
    micro = float((recall_capped * cap).sum() / cap.sum())
    values = {
        "ndcg": (res.summary[f"ndcg@{k}"], ref["ndcg"]),
        "map (capped)": (res.summary[f"map_capped@{k}"], ref["map"]),
        "implicit precision (micro capped recall)": (micro, ref["precision"]),
    }
    return {
        "dataset": name,
        "users_evaluated": int(users.size),
        "items": int(n_items),
        "k": k,
        "recsys_median_s": statistics.median(t_ours),
        "recsys_all_k_median_s": statistics.median(t_full),
        "implicit_median_s": statistics.median(t_theirs),
        "speedup": statistics.median(t_theirs) / statistics.median(t_ours),
        "values": {m: {"recsys": a, "implicit": b, "abs_diff": abs(a - b)} for m, (a, b) in values.items()},
        "max_abs_diff": max(abs(a - b) for a, b in values.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ml100k", default=str(Path(__file__).resolve().parents[2] / "shared" / "datasets" / "ml-100k"))
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args()
    rows = [bench(name, m["train"], m["test"], args.k, args.repeats) for name, m in dataset_matrices(args.ml100k).items()]
    table = [
        {"dataset": r["dataset"], "users": r["users_evaluated"], "items": r["items"],
         f"recsys s (K={r['k']}, 8 metrics)": round(r["recsys_median_s"], 4),
         "recsys s (K=5,10,20)": round(r["recsys_all_k_median_s"], 4),
         f"implicit s (K={r['k']}, 4 metrics)": round(r["implicit_median_s"], 4),
         "speedup": round(r["speedup"], 2), "target": ">= 2x", "max |diff|": f"{r['max_abs_diff']:.1e}"}
        for r in rows
    ]
    _report.write("eval_speed", {"results": rows}, table)


if __name__ == "__main__":
    main()
