"""Full-ranking top-k metrics, vectorised over batches of users.

Binary relevance. For a user with relevant set R (|R| >= 1) and a ranked list
whose first k positions hold hits h_1..h_k:

  precision@k       sum(h) / k
  recall@k          sum(h) / |R|                  (RecBole, ranx)
  recall_capped@k   sum(h) / min(k, |R|)          (Mult-VAE/EASE papers)
  hit_rate@k        1 if sum(h) > 0
  mrr@k             1 / rank of the first hit (0 if none in the top k)
  ndcg@k            sum(h_i / log2(i+1)) / sum_{i <= min(k,|R|)} 1 / log2(i+1)
  map@k             sum(h_i * precision@i) / |R|            (ranx, trec_eval)
  map_capped@k      sum(h_i * precision@i) / min(k, |R|)    (implicit, Spark)
  coverage@k        share of the catalog in at least one top-k list

Users with no relevant item are not scored (they are counted and reported,
never silently given 0 or 1). Padding (-1, fewer than k items available)
never counts as a hit.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp

from recsys_cli.topk import Recs, in_rows, row_batch
from recsys_cli.progress import progress_bar

METRICS = ("ndcg", "recall", "recall_capped", "precision", "map", "map_capped", "mrr", "hit_rate")

RecommendFn = Callable[[np.ndarray, int, sp.csr_matrix | None], Recs]
ExtraFn = Callable[[np.ndarray, np.ndarray, np.ndarray, sp.csr_matrix | None], dict[str, np.ndarray]]


def hits_matrix(top: np.ndarray, relevant: sp.csr_matrix) -> np.ndarray:
    """``hits[i, r]``: is ``top[i, r]`` among the non-zeros of ``relevant`` row i (padding never is)."""
    return in_rows(top, relevant)


def per_user(hits: np.ndarray, n_relevant: np.ndarray, ks: list[int]) -> dict[str, np.ndarray]:
    """Every metric at every k for each row (rows must have n_relevant >= 1)."""
    n_rel = n_relevant.astype(np.float64)
    kmax = max(ks)
    if hits.shape[1] < kmax:
        hits = np.pad(hits, ((0, 0), (0, kmax - hits.shape[1])))
    h = hits[:, :kmax].astype(np.float64)
    disc = 1.0 / np.log2(np.arange(2, kmax + 2))
    idcg_cum = np.cumsum(disc)
    cum_hits = np.cumsum(h, axis=1)
    prec_at = cum_hits / np.arange(1, kmax + 1)
    ap_terms = np.cumsum(h * prec_at, axis=1)
    dcg = np.cumsum(h * disc, axis=1)
    first = np.where(h.any(axis=1), h.argmax(axis=1), kmax)  # 0-based rank of first hit
    out: dict[str, np.ndarray] = {}
    for k in ks:
        nh = cum_hits[:, k - 1]
        cap = np.minimum(k, n_rel)
        out[f"ndcg@{k}"] = dcg[:, k - 1] / idcg_cum[cap.astype(np.int64) - 1]
        out[f"recall@{k}"] = nh / n_rel
        out[f"recall_capped@{k}"] = nh / cap
        out[f"precision@{k}"] = nh / k
        out[f"map@{k}"] = ap_terms[:, k - 1] / n_rel
        out[f"map_capped@{k}"] = ap_terms[:, k - 1] / cap
        out[f"mrr@{k}"] = np.where(first < k, 1.0 / (first + 1), 0.0)
        out[f"hit_rate@{k}"] = (nh > 0).astype(np.float64)
    return out


@dataclass
class EvalResult:
    summary: dict[str, float]
    per_user: pl.DataFrame
    top: np.ndarray = field(repr=False)  # (n_users, kmax) recommended item indices
    users: np.ndarray = field(repr=False)
    top_scores: np.ndarray | None = field(default=None, repr=False)  # (n_users, kmax) their scores


def evaluate(
    recommend: RecommendFn,
    users: np.ndarray,
    relevant: sp.csr_matrix,
    n_items: int,
    ks: list[int],
    exclude: sp.csr_matrix | None = None,
    batch_size: int = 2048,
    show_progress: bool = False,
    description: str = "evaluating",
    extra: ExtraFn | None = None,
    workers: int = 0,
) -> EvalResult:
    """Rank all items for ``users`` and score the top-k against ``relevant``.

    ``relevant`` and ``exclude`` are full user x item matrices; only the rows
    of ``users`` with at least one relevant item are evaluated. ``extra(users,
    top, hits, exclude)`` adds per-user columns computed batch by batch
    (beyond-accuracy metrics), so memory stays bounded by the batch size
    (times ``workers``, the batches scored at once; 0: up to 4, one per core).
    ``recommend`` and ``extra`` must be safe to call from several threads.
    """
    ks = sorted(set(ks))
    kmax = max(ks)
    users = np.asarray(users, dtype=np.int64)
    n_rel_all = np.diff(relevant.indptr)
    users = users[n_rel_all[users] > 0]
    top = np.full((users.size, kmax), -1, dtype=np.int32)
    top_scores = np.full((users.size, kmax), -np.inf, dtype=np.float32)
    batch_size = row_batch(n_items, batch_size)
    workers = workers or min(os.cpu_count() or 1, 4)

    def one(start: int) -> tuple[int, Any, dict[str, np.ndarray]]:
        batch = users[start : start + batch_size]
        excl = exclude[batch] if exclude is not None else None
        recs = recommend(batch, kmax, excl)
        hits = hits_matrix(recs.items, relevant[batch])
        cols = per_user(hits, n_rel_all[batch], ks)
        if extra is not None:
            cols |= extra(batch, recs.items, hits, excl)
        return start, recs, cols

    scores: dict[str, list[np.ndarray]] = {}
    starts = range(0, users.size, batch_size)
    # batches run on a few threads (numpy and BLAS release the GIL while ranking); results
    # are gathered in batch order, so they never depend on the thread count or batch size
    workers = min(workers, len(starts))
    with progress_bar(transient=True) as bar, ThreadPoolExecutor(max_workers=max(workers, 1)) as pool:
        task = bar.add_task(description, total=users.size, visible=show_progress)
        try:
            for start, recs, cols in (pool.map(one, starts) if workers > 1 else map(one, starts)):
                items = recs.items
                top[start : start + items.shape[0]] = items
                top_scores[start : start + items.shape[0]] = recs.scores
                for name, values in cols.items():
                    scores.setdefault(name, []).append(values)
                bar.advance(task, items.shape[0])
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    columns = {name: np.concatenate(parts) for name, parts in scores.items()} if users.size else {}
    summary: dict[str, float] = {name: float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")
                                 for name, values in columns.items()}
    for k in ks:
        shown = np.unique(top[:, :k])
        summary[f"coverage@{k}"] = float((shown >= 0).sum() / n_items) if n_items else 0.0
    summary["users"] = int(users.size)
    frame = pl.DataFrame({"user_idx": users.astype(np.int32), **columns}) if users.size else pl.DataFrame()
    return EvalResult(summary=summary, per_user=frame, top=top, users=users, top_scores=top_scores)


def metric_at(recommend: RecommendFn, users: np.ndarray, relevant: sp.csr_matrix, n_items: int, metric: str,
              exclude: sp.csr_matrix | None = None) -> float:
    """One ``name@k`` ranking metric (e.g. ``recall@50``) of ``recommend`` over ``users``."""
    name, _, k = metric.partition("@")
    if name not in METRICS or not k.isdigit() or int(k) < 1:
        raise ValueError(f"{metric!r} is not a ranking metric at a cutoff (NAME@K, NAME one of {', '.join(METRICS)})")
    summary = evaluate(recommend, users, relevant, n_items, [int(k)], exclude=exclude).summary
    return float(summary.get(metric, float("nan")))  # NaN: no user with a relevant item
