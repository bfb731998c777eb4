"""MovieLens 100K under published protocols: every recsys model, peers side by side.

Protocols (conf/experiment/): ``msr`` (Microsoft Recommenders: per-user
stratified random 75/25, every rating relevant, K=10, seen removed; a 7.5%
valid share is carved out for tuning and the final model is refit on the full
75%) and ``recbole`` (per-user random 80/10/10, fit on the 80%, train and valid
items masked at test). Each model is tuned on valid (``--trials``), trained
and evaluated once on test. Peers run on the identical split and are scored
with ranx (an independent implementation): a plain numpy EASE (l2=500),
implicit's ALS (32 factors) and BPR called directly.

Targets (issue 3): best NDCG@10 >= 0.500 (msr) and >= 0.355 (recbole).

    python bench/ml100k_protocols.py --protocol msr [--trials 20] [--split-seeds 42] [--models ...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl
import scipy.sparse as sp

import _report

from recsys_cli import config
from recsys_cli.stages import evaluate, features, ingest, split, train, tune

ML100K = str(Path(__file__).resolve().parents[2] / "shared" / "datasets" / "ml-100k")
MODELS = ["popularity", "als", "bpr", "lmf", "ease", "itemknn", "rp3beta", "svd", "svdpp", "knnbaseline",
          "tfidf", "embedding", "neumf", "multvae", "widedeep", "twotower"]
SLOW = {"svdpp", "knnbaseline", "embedding", "neumf", "multvae", "widedeep", "twotower"}
COLUMNS = {
    "msr": ["map@10", "ndcg@10", "precision@10", "recall@10"],
    "recbole": ["recall@10", "mrr@10", "ndcg@10", "hit_rate@10", "precision@10"],
}


def overrides(protocol: str, root: Path, seed: int, data_path: str) -> list[str]:
    return [f"experiment=ml100k_{protocol}", f"data.path={data_path}", f"paths.root={root}", f"split.seed={seed}",
            "eval.k=[10]"]


def run_model(base: list[str], model: str, trials: int, extra: list[str] | None = None) -> dict:
    from recsys_cli.models import REGISTRY

    if model not in REGISTRY:
        return {"model": model, "status": "not available"}
    cfg = config.load([*base, f"model={model}", f"tune.trials={trials}", *(extra or [])])
    tune.run(cfg)
    started = time.perf_counter()
    train.run(cfg)
    fit = time.perf_counter() - started
    evaluate.run(cfg)
    metrics = json.loads((cfg.paths.reports_dir / "metrics.json").read_text())
    tuned = json.loads((cfg.paths.tune / "best_params.json").read_text()).get("params", {})
    return {"model": model, **{k: metrics[k] for k in metrics if "@" in k and not k.startswith("cold.")},
            "fit s": round(fit, 2), "tuned": tuned}


def peers(cfg: config.Config) -> list[dict]:
    """Reference implementations on the identical split, scored by ranx."""
    import ranx
    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.cpu.bpr import BayesianPersonalizedRanking
    from threadpoolctl import threadpool_limits

    from recsys_cli.stages.inputs import ids, window

    users, items = ids(cfg)
    fit_windows = ["train", "valid"] if cfg.train.refit_with_valid else ["train"]
    fit = pl.concat([window(cfg, w) for w in fit_windows])
    masked = pl.concat([window(cfg, w) for w in sorted(set(fit_windows) | set(cfg.eval.exclude_windows))])
    test = window(cfg, "test")
    shape = (len(users), len(items))

    def csr(frame: pl.DataFrame) -> sp.csr_matrix:
        m = sp.csr_matrix((np.ones(frame.height, np.float32), (frame["user_idx"].to_numpy(), frame["item_idx"].to_numpy())), shape=shape)
        m.sum_duplicates()
        m.data[:] = 1.0
        return m

    x, seen = csr(fit), csr(masked)
    qrels = {}
    for u, i in zip(test["user_idx"].to_list(), test["item_idx"].to_list(), strict=True):
        qrels.setdefault(str(u), {})[str(i)] = 1
    test_users = np.array(sorted(int(u) for u in qrels))

    def score(scores: np.ndarray) -> dict:
        s = np.array(scores, dtype=np.float64)
        s[seen.nonzero()] = -np.inf
        top = np.argsort(-s[test_users], axis=1)[:, :10]
        run = {str(u): {str(i): float(10 - r) for r, i in enumerate(row)} for u, row in zip(test_users, top, strict=True)}
        names = ["map@10", "ndcg@10", "precision@10", "recall@10", "mrr@10", "hit_rate@10"]
        return dict(ranx.evaluate(ranx.Qrels(qrels), ranx.Run(run), names, make_comparable=True))

    out = []
    gram = (x.T @ x).toarray().astype(np.float64)
    gram[np.diag_indices(shape[1])] += 500.0
    p = np.linalg.inv(gram)
    b = -p / np.diag(p)
    np.fill_diagonal(b, 0.0)
    out.append({"model": "peer: numpy EASE l2=500", **score(x @ b)})
    with threadpool_limits(1, "blas"):
        als = AlternatingLeastSquares(factors=32, random_state=0)
        als.fit(x, show_progress=False)
        out.append({"model": "peer: implicit ALS (32 factors)", **score(als.user_factors @ als.item_factors.T)})
        bpr = BayesianPersonalizedRanking(random_state=0, num_threads=1)
        bpr.fit(x, show_progress=False)
        out.append({"model": "peer: implicit BPR (defaults)", **score(bpr.user_factors @ bpr.item_factors.T)})
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--protocol", choices=["msr", "recbole"], default="msr")
    parser.add_argument("--slow-trials", type=int, default=5,
                        help="trials for the slow models (surprise SVD++/KNN, content embeddings, torch models)")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--split-seeds", type=int, nargs="+", default=None)
    parser.add_argument("--models", nargs="+", default=MODELS)
    parser.add_argument("--hybrid", nargs="*", default=["ease", "als", "rp3beta", "itemknn", "multvae", "neumf"],
                        help="components of the meta hybrid (tuned params taken from the single runs)")
    parser.add_argument("--data", default=ML100K)
    args = parser.parse_args()
    default_seed = config.load([f"experiment=ml100k_{args.protocol}", f"data.path={args.data}"]).split.seed
    seeds = args.split_seeds or [default_seed]
    per_seed = []
    for seed in seeds:
        root = Path(tempfile.mkdtemp(prefix=f"recsys-{args.protocol}-{seed}-"))
        base = overrides(args.protocol, root, seed, args.data)
        cfg = config.load(base)
        ingest.run(cfg)
        split.run(cfg)
        features.run(cfg)
        rows = [run_model(base, m, args.slow_trials if m in SLOW else args.trials) for m in args.models]
        tuned = {r["model"]: r.get("tuned", {}) for r in rows}
        comps = [m for m in args.hybrid if any(r["model"] == m and "ndcg@10" in r for r in rows)]
        if comps:
            spec = ", ".join("{name: %s, weight: 1.0, params: %s}" % (m, json.dumps(tuned[m]).replace('"', "")) for m in comps)
            rows.append(run_model(base, "hybrid", 0, [f"model.components=[{spec}]", "model.mode=meta"]))
            rows[-1]["model"] = "hybrid (" + " + ".join(comps) + ")"
        rows += peers(cfg)
        per_seed.append({"split_seed": seed, "rows": rows})
    names = [r["model"] for r in per_seed[0]["rows"] if "ndcg@10" in r]
    cols = COLUMNS[args.protocol]
    table = []
    for name in names:
        entry = {"model": name}
        for col in cols:
            vals = [r[col] for s in per_seed for r in s["rows"] if r["model"] == name and col in r]
            entry[col] = round(statistics.mean(vals), 4) if vals else None
        fits = [r.get("fit s") for s in per_seed for r in s["rows"] if r["model"] == name and r.get("fit s") is not None]
        entry["fit s"] = round(statistics.mean(fits), 2) if fits else "-"
        if len(seeds) > 1:
            nd = [r["ndcg@10"] for s in per_seed for r in s["rows"] if r["model"] == name]
            entry["ndcg@10 std"] = round(statistics.pstdev(nd), 4)
        table.append(entry)
    best = max((t for t in table if not t["model"].startswith("peer")), key=lambda t: t["ndcg@10"])
    target = {"msr": 0.500, "recbole": 0.355}[args.protocol]
    summary = {"best": best["model"], "best ndcg@10": best["ndcg@10"], "target": target,
               "meets target": best["ndcg@10"] >= target, "split seeds": seeds, "trials": args.trials}
    _report.write(f"ml100k_{args.protocol}", {"summary": summary, "per_seed": per_seed}, table)


if __name__ == "__main__":
    main()
