"""ALS fit through recsys vs calling implicit directly on the same matrix.

Target (issue 2): recsys time / implicit time <= 1.10. Same params, same
matrix, same thread settings; runs alternate between the two and the median
of each is compared (machine noise hits both sides alike).

    python bench/als_fit.py [--ml100k ../shared/datasets/ml-100k] [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

import _report
from _data import dataset_matrices

from recsys_cli.models.als import ALS, ALSParams
from recsys_cli.models.base import TrainData


def fit_implicit(matrix, p: ALSParams, seed: int):  # noqa: ANN001, ANN201
    from implicit.cpu.als import AlternatingLeastSquares

    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(
            factors=p.factors, regularization=p.regularization, alpha=p.alpha,
            iterations=p.iterations, use_cg=p.use_cg, num_threads=p.num_threads, random_state=seed,
        )
        model.fit(matrix, show_progress=False)
    return model


def fit_recsys(matrix, p: ALSParams, seed: int) -> ALS:  # noqa: ANN001
    model = ALS(p, show_progress=False)
    return model.fit(TrainData(matrix=matrix, seed=seed))


def bench(name: str, matrix, repeats: int) -> dict:  # noqa: ANN001
    p = ALSParams(factors=64, iterations=15)
    fit_implicit(matrix, p, 1)  # warm-up (thread pools, page cache)
    ours, theirs = [], []
    for r in range(repeats):
        order = [("recsys", fit_recsys), ("implicit", fit_implicit)]
        if r % 2:
            order.reverse()
        for label, fn in order:
            t = time.perf_counter()
            fn(matrix, p, 1)
            (ours if label == "recsys" else theirs).append(time.perf_counter() - t)
    a = fit_recsys(matrix, p, 3)
    b = fit_implicit(matrix, p, 3)
    same = bool(np.allclose(a.item_factors, b.item_factors, atol=1e-5))
    return {
        "dataset": name,
        "shape": list(matrix.shape),
        "nnz": int(matrix.nnz),
        "recsys_median_s": statistics.median(ours),
        "implicit_median_s": statistics.median(theirs),
        "ratio": statistics.median(ours) / statistics.median(theirs),
        "identical_factors": same,
        "recsys_runs_s": ours,
        "implicit_runs_s": theirs,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ml100k", default=str(Path(__file__).resolve().parents[2] / "shared" / "datasets" / "ml-100k"))
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    rows = [bench(name, mats["train"], args.repeats) for name, mats in dataset_matrices(args.ml100k).items()]
    table = [
        {"dataset": r["dataset"], "users x items": "x".join(map(str, r["shape"])), "nnz": r["nnz"],
         "recsys s": round(r["recsys_median_s"], 3), "implicit s": round(r["implicit_median_s"], 3),
         "ratio": round(r["ratio"], 3), "target": "<= 1.10", "same factors": r["identical_factors"]}
        for r in rows
    ]
    _report.write("als_fit", {"results": rows, "params": "factors=64, iterations=15, regularization=0.05, alpha=2"}, table)


if __name__ == "__main__":
    main()
