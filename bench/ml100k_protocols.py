"""MovieLens 100K under published protocols: the documented command vs its peers.

For each split seed the benchmark runs exactly what a user types,

    recsys run experiment=ml100k_<protocol> data.path=<ml-100k> split.seed=<S>

(plus ``paths.root=<scratch>`` and ``tracking=none``, which change where files
go, not the numbers), and reads its test NDCG@10 from reports/metrics.json.
The experiment's model is its own configuration (conf/model/hybrid_ml100k_*.yaml,
tune.components in conf/experiment/ml100k_*.yaml); nothing is set up here.
``--models NAME ...`` adds rows of single models run by the same command with
``model=NAME``.

Peers run on the identical split files the command wrote (data/processed/)
and are scored by ranx, an independent implementation: a plain numpy EASE
(l2 = 500) and implicit's ALS (32 factors) and BPR (defaults), fit on the
protocol's fit window (MSR: train+valid; RecBole: train), train and valid
items masked. The recsys model's own top-10 lists are scored by ranx too, as a
check on recsys' figure.

Protocols (conf/experiment/): ``msr`` (Microsoft Recommenders: per-user
stratified random 75/25, every rating relevant, K=10, seen removed; 7.5% carved
out of the 75% as valid, final model refit on the 75%) and ``recbole`` (per-user
random 80/10/10, fit on the 80%, train and valid items masked at test).

Target (issue 9): on each split seed, the command's NDCG@10 is at least 2%
above the numpy EASE peer and above the implicit ALS peer.

    python bench/ml100k_protocols.py --protocol msr [--split-seeds 42 0 1] [--models ease]
    python bench/ml100k_protocols.py --protocol recbole [--split-seeds 2020 0 1]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl
import scipy.sparse as sp

import _report

from recsys_cli import config

REPO = Path(__file__).resolve().parents[1]
ML100K = str(REPO.parent / "shared" / "datasets" / "ml-100k")
DEFAULT_SEEDS = {"msr": [42, 0, 1], "recbole": [2020, 0, 1]}
COLUMNS = {
    "msr": ["ndcg@10", "map@10", "precision@10", "recall@10"],
    "recbole": ["ndcg@10", "recall@10", "mrr@10", "hit_rate@10", "precision@10"],
}
RANX = {"ndcg@10": "ndcg@10", "map@10": "map@10", "precision@10": "precision@10", "recall@10": "recall@10",
        "mrr@10": "mrr@10", "hit_rate@10": "hit_rate@10"}
MARGIN = 0.02


def recsys_command() -> list[str]:
    exe = Path(sys.executable).with_name("recsys")
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", "recsys_cli.cli"]


def run_command(protocol: str, data: str, seed: int, root: Path, model: str | None) -> tuple[str, dict, float]:
    """`recsys run` as a user types it; returns the command, its metrics.json and the wall seconds."""
    args = ["run", f"experiment=ml100k_{protocol}", f"data.path={data}", f"split.seed={seed}"]
    if model:
        args.append(f"model={model}")
    where = [f"paths.root={root}", "tracking=none"]
    shown = "recsys " + " ".join(shlex.quote(a) for a in args)
    log = root.with_suffix(".log")
    print(f"  {shown}  (log: {log})", flush=True)
    started = time.perf_counter()
    with open(log, "w") as out:
        done = subprocess.run([*recsys_command(), *args, *where], cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                              env={**os.environ, "COLUMNS": "120"})
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{shown} failed with exit {done.returncode}; see {log}")
    return shown, json.loads((root / "reports" / "metrics.json").read_text()), seconds


def split_matrices(cfg: config.Config) -> dict:
    """The command's own split files as matrices: fit window, masked items, test relevance."""
    from recsys_cli.stages.inputs import ids, window

    users, items = ids(cfg)
    shape = (len(users), len(items))
    fit_windows = ["train", "valid"] if cfg.train.refit_with_valid else ["train"]

    def csr(frame: pl.DataFrame) -> sp.csr_matrix:
        m = sp.csr_matrix((np.ones(frame.height, np.float32), (frame["user_idx"].to_numpy(), frame["item_idx"].to_numpy())),
                          shape=shape)
        m.sum_duplicates()
        m.data[:] = 1.0
        return m

    fit = csr(pl.concat([window(cfg, w) for w in fit_windows]))
    seen = csr(pl.concat([window(cfg, w) for w in sorted(set(fit_windows) | set(cfg.eval.exclude_windows))]))
    test = window(cfg, "test")
    qrels: dict[str, dict[str, int]] = {}
    for u, i in zip(test["user_idx"].to_list(), test["item_idx"].to_list(), strict=True):
        if not seen[u, i]:
            qrels.setdefault(str(u), {})[str(i)] = 1
    return {"fit": fit, "seen": seen, "qrels": qrels, "users": np.array(sorted(int(u) for u in qrels)), "shape": shape}


def ranx_scores(split: dict, scores: np.ndarray, users: np.ndarray) -> dict:
    """Top-10 of ``scores`` (rows = ``users``; seen items removed; ties to the lower item index), scored by ranx."""
    import ranx

    s = np.array(scores, dtype=np.float64)
    s[split["seen"][users].toarray() > 0] = -np.inf
    top = np.argsort(-s, axis=1, kind="stable")[:, :10]
    run = {str(u): {str(i): float(10 - r) for r, i in enumerate(row)} for u, row in zip(users, top, strict=True)}
    out = ranx.evaluate(ranx.Qrels(split["qrels"]), ranx.Run(run), list(RANX.values()), make_comparable=True)
    return {ours: float(out[theirs]) for ours, theirs in RANX.items()}


def peers(split: dict) -> dict[str, dict]:
    """Reference implementations on the identical split, scored by ranx."""
    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.cpu.bpr import BayesianPersonalizedRanking
    from threadpoolctl import threadpool_limits

    x, users = split["fit"], split["users"]
    gram = (x.T @ x).toarray().astype(np.float64)
    gram[np.diag_indices(x.shape[1])] += 500.0
    p = np.linalg.inv(gram)
    b = -p / np.diag(p)
    np.fill_diagonal(b, 0.0)
    out = {"numpy EASE l2=500": ranx_scores(split, x[users] @ b, users)}
    with threadpool_limits(1, "blas"):
        als = AlternatingLeastSquares(factors=32, random_state=0)
        als.fit(x, show_progress=False)
        out["implicit ALS (32 factors)"] = ranx_scores(split, als.user_factors[users] @ als.item_factors.T, users)
        bpr = BayesianPersonalizedRanking(random_state=0, num_threads=1)
        bpr.fit(x, show_progress=False)
        out["implicit BPR (defaults)"] = ranx_scores(split, bpr.user_factors[users] @ bpr.item_factors.T, users)
    return out


def model_by_ranx(cfg: config.Config, split: dict) -> float:
    """The trained model's own top-10 lists, scored by ranx (a check on recsys' eval)."""
    from recsys_cli.stages.inputs import trained_model

    model, _ = trained_model(cfg)
    users = split["users"]
    return ranx_scores(split, model.score(users), users)["ndcg@10"]


def one_seed(args: argparse.Namespace, seed: int, scratch: Path) -> dict:
    root = scratch / f"{args.protocol}-{seed}"
    shutil.rmtree(root, ignore_errors=True)
    command, metrics, seconds = run_command(args.protocol, args.data, seed, root, None)
    cfg = config.load([f"experiment=ml100k_{args.protocol}", f"data.path={args.data}", f"split.seed={seed}",
                       f"paths.root={root}", "tracking=none"])
    split = split_matrices(cfg)
    assert len(split["users"]) == metrics["users"], (len(split["users"]), metrics["users"])
    cols = COLUMNS[args.protocol]
    rows = [{"model": f"recsys: {metrics['model']} (experiment default)", "command": command, "seconds": round(seconds, 1),
             **{c: metrics[c] for c in cols}, "ndcg@10 by ranx on its lists": round(model_by_ranx(cfg, split), 6)}]
    for name in args.models:
        single_root = scratch / f"{args.protocol}-{seed}-{name}"
        shutil.rmtree(single_root, ignore_errors=True)
        command, single, seconds = run_command(args.protocol, args.data, seed, single_root, name)
        rows.append({"model": f"recsys: {name}", "command": command, "seconds": round(seconds, 1),
                     **{c: single[c] for c in cols}})
    found = peers(split)
    rows += [{"model": f"peer: {name}", **{c: values[c] for c in cols}} for name, values in found.items()]
    ours = rows[0]["ndcg@10"]
    margins = {name: ours / values["ndcg@10"] - 1.0 for name, values in found.items()}
    checked = ["numpy EASE l2=500", "implicit ALS (32 factors)"]
    meets = margins[checked[0]] >= MARGIN and margins[checked[1]] > 0.0
    print(f"  seed {seed}: recsys NDCG@10 {ours:.4f}; " + ", ".join(f"{n} {found[n]['ndcg@10']:.4f} ({margins[n]:+.1%})"
                                                                  for n in found) + f" -> {'met' if meets else 'NOT met'}",
          flush=True)
    return {"split_seed": seed, "users": metrics["users"], "rows": rows,
            "margin over peer": {n: round(m, 4) for n, m in margins.items()}, "meets target": meets}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--protocol", choices=["msr", "recbole"], default="msr")
    parser.add_argument("--split-seeds", type=int, nargs="+", default=None)
    parser.add_argument("--models", nargs="*", default=[],
                        help="single models to add, each run as `recsys run experiment=... model=NAME`")
    parser.add_argument("--data", default=ML100K)
    args = parser.parse_args()
    seeds = args.split_seeds or DEFAULT_SEEDS[args.protocol]
    if Path(args.data).is_absolute() and Path(args.data).is_relative_to(REPO.parent):
        args.data = os.path.relpath(args.data, REPO)  # as typed in the repo root (the command runs there)
    scratch = Path(tempfile.gettempdir()) / "recsys-bench-ml100k"
    scratch.mkdir(parents=True, exist_ok=True)
    per_seed = []
    for seed in seeds:
        print(f"split seed {seed}", flush=True)
        per_seed.append(one_seed(args, seed, scratch))

    cols = COLUMNS[args.protocol]
    table = []
    for i, row in enumerate(per_seed[0]["rows"]):
        name = row["model"]
        vals = [s["rows"][i] for s in per_seed]
        entry = {"model": name}
        for col in cols:
            entry[col] = round(statistics.mean(v[col] for v in vals), 4)
        entry["ndcg@10 per seed"] = " / ".join(f"{v['ndcg@10']:.4f}" for v in vals)
        entry["ndcg@10 std"] = round(statistics.pstdev(v["ndcg@10"] for v in vals), 4) if len(vals) > 1 else 0.0
        ease = [next(r for r in s["rows"] if r["model"] == "peer: numpy EASE l2=500")["ndcg@10"] for s in per_seed]
        entry["vs numpy EASE per seed"] = " / ".join(f"{v['ndcg@10'] / e - 1:+.1%}" for v, e in zip(vals, ease, strict=True))
        table.append(entry)
    ours = [s["rows"][0]["ndcg@10"] for s in per_seed]
    summary = {
        "protocol": args.protocol,
        "documented command": f"recsys run experiment=ml100k_{args.protocol} data.path=../shared/datasets/ml-100k",
        "split seeds": seeds,
        "recsys ndcg@10 per seed": ours,
        "recsys ndcg@10 mean": round(statistics.mean(ours), 4),
        "recsys ndcg@10 std": round(statistics.pstdev(ours), 4) if len(ours) > 1 else 0.0,
        "target": f">= {MARGIN:.0%} above numpy EASE l2=500 and above implicit ALS, NDCG@10 on each split seed",
        "min margin over numpy EASE": round(min(s["margin over peer"]["numpy EASE l2=500"] for s in per_seed), 4),
        "min margin over implicit ALS": round(min(s["margin over peer"]["implicit ALS (32 factors)"] for s in per_seed), 4),
        "meets target on every seed": all(s["meets target"] for s in per_seed),
    }
    _report.write(f"ml100k_{args.protocol}", {"summary": summary, "per_seed": per_seed}, table)


if __name__ == "__main__":
    main()
