"""Metrics side by side with ranx on the same top-K lists of a trained ALS.

Every test user's top-20 list is ranked once (exclusion of train items, recsys'
own top-k); the top-K lists for K = 5, 10, 20 are its prefixes. Both tools score
exactly those lists:

* recsys: ``hits_matrix`` + ``per_user`` (numpy arrays in, per-user arrays out;
  per_user computes all 8 of its metrics, 6 of which ranx defines);
* ranx: the lists and the relevant sets as dicts (``{user: {item: score}}``, scores
  strictly decreasing by rank so ranx keeps the list order), then ``Qrels`` /
  ``Run`` construction, then ``ranx.evaluate(..., return_mean=False)`` for ndcg,
  recall, precision, map, mrr, hit_rate at K. The three steps are timed
  separately; ranx's first (numba JIT / cache load) call is timed on its own and
  left out of the medians. ranx runs with its default threads (all cores).

The per-user values must agree to 1e-9 on every metric (the script fails
otherwise). Each round repeats every timing ``--repeats`` times (median);
``--rounds`` rounds show the machine noise.

    python bench/ranx_side_by_side.py [--rounds 2] [--repeats 7] [--ml100k DIR]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import _report
from _data import matrices, prepare

from recsys_cli.evaluation.metrics import hits_matrix, per_user
from recsys_cli.models.als import ALS, ALSParams
from recsys_cli.models.base import TrainData

RANX = ("ndcg", "recall", "precision", "map", "mrr", "hit_rate")  # same names in both
KS = (5, 10, 20)
TOL = 1e-9


def qid(u: int) -> str:
    return f"u{u:07d}"  # zero-padded: ranx's sorted query order is user order


def median_time(fn, repeats: int):  # noqa: ANN001, ANN201
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def ranx_dicts(users: np.ndarray, top: np.ndarray, rel) -> tuple[dict, dict]:  # noqa: ANN001
    qrels = {qid(u): {f"i{i}": 1 for i in rel[r].indices.tolist()} for r, u in enumerate(users.tolist())}
    width = top.shape[1]
    run = {qid(u): {f"i{i}": float(width - j) for j, i in enumerate(row) if i >= 0}
           for u, row in zip(users.tolist(), top.tolist())}
    return qrels, run


def bench(name: str, train, test, repeats: int, rounds: int) -> list[dict]:  # noqa: ANN001
    import ranx

    model = ALS(ALSParams(factors=64, iterations=15), show_progress=False).fit(TrainData(matrix=train, seed=1))
    users = np.flatnonzero(np.diff(test.indptr) > 0)
    rel = test[users]
    n_rel = np.diff(rel.indptr)
    top20 = model.recommend(users, max(KS), train[users]).items
    assert (top20[:, 0] >= 0).all(), "every user needs a non-empty list (no make_comparable)"
    padded = int((top20 < 0).sum())

    # ranx's first call: numba JIT compile or cache load, reported apart
    q0, r0 = ranx_dicts(users, top20[:, :5], rel)
    t = time.perf_counter()
    ranx.evaluate(ranx.Qrels(q0), ranx.Run(r0), [f"{m}@5" for m in RANX], return_mean=False,
                  save_results_in_run=False)
    first_call = time.perf_counter() - t

    cases = [(str(k), top20[:, :k], [k]) for k in KS] + [("5,10,20", top20, list(KS))]
    rows = []
    for rnd in range(1, rounds + 1):
        for label, top, ks in cases:
            wanted = [f"{m}@{k}" for m in RANX for k in ks]
            t_ours, ours = median_time(lambda: per_user(hits_matrix(top, rel), n_rel, ks), repeats)  # noqa: B023
            t_dicts, (qd, rd) = median_time(lambda: ranx_dicts(users, top, rel), repeats)  # noqa: B023
            t_build, (qrels, run) = median_time(lambda: (ranx.Qrels(qd), ranx.Run(rd)), repeats)  # noqa: B023
            t_eval, ref = median_time(
                lambda: ranx.evaluate(qrels, run, wanted, return_mean=False, save_results_in_run=False),  # noqa: B023
                repeats,
            )
            assert run.get_query_ids() == [qid(u) for u in users.tolist()]
            diffs = {m: float(np.max(np.abs(ours[m] - ref[m]))) for m in wanted}
            means = {m: {"recsys": float(ours[m].mean()), "ranx": float(np.mean(ref[m]))} for m in wanted}
            bad = {m: d for m, d in diffs.items() if not d < TOL}
            if bad:
                raise SystemExit(f"{name} K={label}: per-user values differ from ranx: {bad}")
            ranx_total = t_dicts + t_build + t_eval
            rows.append({
                "dataset": name, "round": rnd, "k": label, "users": int(users.size), "items": int(train.shape[1]),
                "padded_slots": padded, "metrics_compared": len(wanted),
                "recsys_s": t_ours, "ranx_dicts_s": t_dicts, "ranx_build_s": t_build, "ranx_eval_s": t_eval,
                "ranx_total_s": ranx_total, "ranx_first_call_s": first_call,
                "ratio_eval": t_eval / t_ours, "ratio_build_eval": (t_build + t_eval) / t_ours,
                "ratio_total": ranx_total / t_ours,
                "max_abs_diff": max(diffs.values()), "abs_diff": diffs, "means": means,
            })
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--ml100k", default=None, help="also run ML-100K (leave-last-5) from this directory")
    args = parser.parse_args()
    datasets = {"synthetic-small": prepare("synthetic-small", ["data.scale=small"])}
    if args.ml100k:
        datasets["ml-100k"] = prepare("ml100k", ["data=movielens", f"data.path={args.ml100k}", "split=leave_last",
                                                 "split.n_test=5", "split.n_valid=5"])
    rows = []
    for name, cfg in datasets.items():
        m = matrices(cfg)
        rows += bench(name, m["train"], m["test"], args.repeats, args.rounds)
    table = [
        {"dataset": r["dataset"], "round": r["round"], "K": r["k"], "users": r["users"], "items": r["items"],
         "recsys s (hits+per_user)": round(r["recsys_s"], 5),
         "ranx dicts s": round(r["ranx_dicts_s"], 5), "ranx Qrels+Run s": round(r["ranx_build_s"], 5),
         "ranx evaluate s": round(r["ranx_eval_s"], 5),
         "ranx eval / recsys": round(r["ratio_eval"], 1), "ranx build+eval / recsys": round(r["ratio_build_eval"], 1),
         "ranx all / recsys": round(r["ratio_total"], 1),
         "metrics": r["metrics_compared"], "max |diff|": f"{r['max_abs_diff']:.1e}"}
        for r in rows
    ]
    first = {r["dataset"]: r["ranx_first_call_s"] for r in rows}
    _report.write("ranx_side_by_side", {"repeats": args.repeats, "rounds": args.rounds, "tolerance": TOL,
                                        "ranx_first_call_s": first, "results": rows}, table)


if __name__ == "__main__":
    main()
