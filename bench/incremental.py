"""Incremental updates vs a full retrain: replay 14 days after the train cut-off, one day at a time.

Base: the product pipeline on the shop's log up to --start (ingest, then the log cut at --start, split,
train ALS, export: the production fit on everything before the cut-off). Then each later day's events go through `recsys update` twice, into two copies of the bundle: the
incremental fold-in (update.sweeps from conf/) and a full retrain (update.retrain=true: ALS refit from
scratch on the whole history with the same params). After each day both are scored on the FOLLOWING
day: NDCG@10 over the shoppers the bundle knows who act that day, full catalogue, everything they
interacted with before excluded. Target (issue 13): within 2% of the retrain at <= 20% of its time.

    python bench/incremental.py --scale medium
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import scipy.sparse as sp

import _report
from recsys_cli import config
from recsys_cli.bundle import read_bundle
from recsys_cli.evaluation.metrics import metric_at
from recsys_cli.stages import export, ingest, split, train, update


def score(bundle_dir: Path, nxt: pl.DataFrame) -> tuple[float, int]:
    b = read_bundle(bundle_dir)
    users = b.users.index(nxt["user_id"])
    items = b.items.index(nxt["item_id"])
    ok = (users >= 0) & (items >= 0)
    users, items = users[ok], items[ok]
    ok = b.history.known[users]
    users, items = users[ok], items[ok]
    n_users, n_items = len(b.users), len(b.items)
    rel = sp.csr_matrix((np.ones(users.size, np.float32), (users, items)), shape=(n_users, n_items))
    rel.sum_duplicates()
    rel.data[:] = 1.0
    hist = b.history.matrix
    seen = sp.csr_matrix((np.ones(hist.nnz, np.float32), hist.indices, hist.indptr), shape=hist.shape)
    rel = rel - rel.multiply(seen)
    rel.eliminate_zeros()
    scored = np.flatnonzero(np.diff(rel.indptr) > 0)
    return metric_at(b.model.recommend, scored, sp.csr_matrix(rel), n_items, "ndcg@10", exclude=hist), int(scored.size)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", default="medium")
    parser.add_argument("--start", default="2025-12-17")
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--root", default=str(Path(tempfile.gettempdir()) / "recsys-bench-incremental"))
    args = parser.parse_args()
    root = Path(args.root) / args.scale
    start = date.fromisoformat(args.start)
    end = start + timedelta(days=args.days)
    base = [f"data.scale={args.scale}", f"paths.root={root}", "tracking=none", "tune.trials=0"]
    cfg = config.load(base)
    ingest.run(cfg)
    # the served bundle knows the shop up to the cut-off; the days after it arrive one at a time
    interim = root / "data/interim/events.parquet"
    everything = pl.read_parquet(interim)
    cut = pl.lit(start).cast(pl.Datetime("ms"))
    everything.filter(pl.col("timestamp") < cut).write_parquet(interim)
    events = everything.filter(pl.col("timestamp") >= cut)
    for stage in (split, train, export):  # export: the production fit on every window before the cut-off
        stage.run(cfg)
    events = events.select("user_id", "item_id", "timestamp", "event").with_columns(day=pl.col("timestamp").dt.date())
    copies = {"incremental": root / "bundle-incremental", "retrain": root / "bundle-retrain"}
    for path in copies.values():
        shutil.rmtree(path, ignore_errors=True)
        shutil.copytree(root / "data/bundle", path)
    rows = []
    for d in range(args.days):
        day = start + timedelta(days=d)
        batch = events.filter(pl.col("day") == day).drop("day")
        nxt = events.filter(pl.col("day") == day + timedelta(days=1))
        file = root / f"day-{day}.parquet"
        batch.write_parquet(file)
        row = {"day": str(day), "events": batch.height}
        for name, path in copies.items():
            extra = ["update.retrain=true"] if name == "retrain" else []
            ucfg = config.load([*base, f"bundle={path}", f"update.events={file}", *extra])
            t = time.perf_counter()
            update.run(ucfg)
            row[f"{name}_s"] = round(time.perf_counter() - t, 2)
            row[f"{name}_ndcg@10"], row["next_day_users"] = score(path, nxt)
        row["ndcg_ratio"] = round(row["incremental_ndcg@10"] / max(row["retrain_ndcg@10"], 1e-12), 4)
        row["time_ratio"] = round(row["incremental_s"] / max(row["retrain_s"], 1e-12), 4)
        rows.append(row)
        print(row, flush=True)
    worst = min(r["ndcg_ratio"] for r in rows)
    mean_time = sum(r["time_ratio"] for r in rows) / len(rows)
    result = {"scale": args.scale, "start": args.start, "days": args.days, "per_day": rows,
              "worst_ndcg_ratio": worst, "mean_time_ratio": round(mean_time, 4),
              "max_time_ratio": max(r["time_ratio"] for r in rows),
              "targets": {"ndcg_ratio_min": 0.98, "time_ratio_max": 0.2},
              "meets": {"ndcg": worst >= 0.98, "time": max(r["time_ratio"] for r in rows) <= 0.2},
              "note": "times are whole `recsys update` runs (load + verify + fold-in or refit + write the bundle); "
                      "2 shared cores, other workers running"}
    _report.write(f"incremental_{args.scale}", result, rows)


if __name__ == "__main__":
    main()
