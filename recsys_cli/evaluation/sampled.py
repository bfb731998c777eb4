"""Sampled-candidate ranking: ONLY for reproducing old papers.

Each user's relevant items are ranked among ``n_negatives`` items drawn
uniformly (seeded per user) from what the user has neither seen nor finds
relevant; everything else is masked out. Krichene & Rendle (KDD 2020) showed
that metrics computed this way can rank models inconsistently with full
ranking, so ``recsys eval`` warns whenever this mode is on.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from recsys_cli.topk import Recs, rank

WARNING = (
    "eval.sampled={n}: metrics over {n} sampled negatives per user, NOT full ranking; sampled metrics "
    "can rank models inconsistently with full ranking (Krichene & Rendle, KDD 2020); use only to reproduce old papers"
)


def candidates(users: np.ndarray, relevant: sp.csr_matrix, seen: sp.csr_matrix | None, n_items: int,
               n_negatives: int, seed: int) -> sp.csr_matrix:
    """A 0/1 users x items matrix of each user's candidates: relevant items plus sampled negatives."""
    rows, cols = [], []
    for r, u in enumerate(np.asarray(users)):
        rel = relevant.indices[relevant.indptr[u] : relevant.indptr[u + 1]]
        blocked = np.zeros(n_items, dtype=bool)
        blocked[rel] = True
        if seen is not None:
            blocked[seen.indices[seen.indptr[u] : seen.indptr[u + 1]]] = True
        pool = np.flatnonzero(~blocked)
        rng = np.random.default_rng([seed, int(u)])  # per user: independent of the batch
        neg = rng.choice(pool, size=min(n_negatives, pool.size), replace=False)
        chosen = np.concatenate([rel, neg])
        rows.append(np.full(chosen.size, r))
        cols.append(chosen)
    data_rows = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    data_cols = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
    return sp.csr_matrix((np.ones(data_rows.size, dtype=np.float32), (data_rows, data_cols)),
                         shape=(len(users), n_items))


def sampled_recommender(score: Callable[[np.ndarray], np.ndarray], relevant: sp.csr_matrix,
                        seen: sp.csr_matrix | None, n_items: int, n_negatives: int, seed: int):  # noqa: ANN201
    """A ``recommend(users, k, exclude)`` that ranks only each user's sampled candidates."""

    def recommend(users: np.ndarray, k: int, exclude: sp.csr_matrix | None = None) -> Recs:
        cand = candidates(users, relevant, seen, n_items, n_negatives, seed)
        scores = np.asarray(score(users), dtype=np.float32)
        masked = np.full(scores.shape, -np.inf, dtype=np.float32)
        rows = np.repeat(np.arange(len(users)), np.diff(cand.indptr))
        masked[rows, cand.indices] = scores[rows, cand.indices]
        return rank(masked, k)

    return recommend
