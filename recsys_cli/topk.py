"""Top-k selection shared by models and evaluation: scores in, ranked item indices out."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

PAD = -1


@dataclass
class Recs:
    """Top-k per query row: item indices (``PAD`` where fewer than k) and scores."""

    items: np.ndarray  # int32 (n, k)
    scores: np.ndarray  # float32 (n, k); -inf where padded


def rank(
    scores: np.ndarray,
    k: int,
    exclude: sp.csr_matrix | None = None,
    items: np.ndarray | None = None,
) -> Recs:
    """Top-k of each row of ``scores``.

    ``exclude`` is a CSR matrix with one row per score row and one column per
    item in the full catalog; its non-zeros are never recommended. ``items``
    restricts the candidates: then column j of ``scores`` is item ``items[j]``.
    Rows are ranked independently (a row's result never depends on the batch
    it is in); within the top k, equal scores are ordered by item index.
    """
    scores = np.array(scores, dtype=np.float32, copy=True)
    n_rows, n_cols = scores.shape
    if exclude is not None and exclude.nnz:
        if items is None:
            rows = np.repeat(np.arange(n_rows), np.diff(exclude.indptr))
            scores[rows, exclude.indices] = -np.inf
        else:
            col_of = np.full(exclude.shape[1], -1, dtype=np.int64)
            col_of[items] = np.arange(len(items))
            rows = np.repeat(np.arange(n_rows), np.diff(exclude.indptr))
            cols = col_of[exclude.indices]
            keep = cols >= 0
            scores[rows[keep], cols[keep]] = -np.inf
    kk = min(k, n_cols)
    if 0 < kk < n_cols:
        top = np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
    else:
        top = np.broadcast_to(np.arange(n_cols), (n_rows, n_cols))
    vals = np.take_along_axis(scores, top, axis=1)
    order = np.lexsort((top, -vals), axis=1)  # best first; ties: lower index first
    top = np.take_along_axis(top, order, axis=1)
    top_scores = np.take_along_axis(vals, order, axis=1)
    out_items = top if items is None else np.asarray(items)[top]
    out_items = np.where(np.isneginf(top_scores), PAD, out_items).astype(np.int32)
    if kk < k:
        pad = k - kk
        out_items = np.pad(out_items, ((0, 0), (0, pad)), constant_values=PAD)
        top_scores = np.pad(top_scores, ((0, 0), (0, pad)), constant_values=-np.inf)
    return Recs(items=out_items, scores=top_scores.astype(np.float32))


MAX_CELLS = 1 << 24  # scores held at once: 16M floats (~64 MB, plus ~128 MB of top-k indices)


def row_batch(n_items: int, requested: int) -> int:
    """Users per scoring batch: as requested, but never more than MAX_CELLS scores."""
    return max(1, min(requested, MAX_CELLS // max(n_items, 1)))
