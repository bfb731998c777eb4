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
    ``scores`` is consumed: excluded cells are overwritten with -inf (pass a
    copy to keep it).
    """
    scores = np.asarray(scores, dtype=np.float32)  # consumed: excluded cells are overwritten
    if not scores.flags.writeable:
        scores = scores.copy()
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


def in_rows(top: np.ndarray, matrix: sp.csr_matrix) -> np.ndarray:
    """``out[i, r]``: is ``top[i, r]`` a non-zero column of ``matrix`` row i (``PAD`` never is).

    One sorted key per non-zero (row * n_cols + col) and a vectorised
    ``searchsorted``: no Python loop over rows.
    """
    n_rows, n_cols = matrix.shape
    m = matrix.tocsr()
    if not m.has_sorted_indices:
        m = m.sorted_indices()
    rows = np.repeat(np.arange(n_rows, dtype=np.int64), np.diff(m.indptr))
    keys = rows * n_cols + m.indices
    if keys.size == 0:
        return np.zeros(top.shape, dtype=bool)
    query = np.arange(n_rows, dtype=np.int64)[:, None] * n_cols + top
    pos = np.minimum(np.searchsorted(keys, query), keys.size - 1)
    return (keys[pos] == query) & (top >= 0)


def popular_lists(order: np.ndarray, exclude: sp.csr_matrix | None, k: int) -> np.ndarray:
    """Per row, the first ``k`` items of one global ``order`` not in that row of ``exclude``.

    Equals ranking a score shared by every user (popularity) with the same
    exclusion, without scoring the whole catalog: only the head of ``order``
    (k + the longest excluded row) is examined. Padded with ``PAD``.
    """
    n_rows = exclude.shape[0] if exclude is not None else 1
    longest = int(np.diff(exclude.indptr).max()) if exclude is not None and exclude.nnz else 0
    head = np.asarray(order[: k + longest], dtype=np.int64)
    cand = np.broadcast_to(head, (n_rows, head.size))
    keep = ~in_rows(cand, exclude) if exclude is not None and exclude.nnz else np.ones(cand.shape, dtype=bool)
    rank_in_row = np.cumsum(keep, axis=1) - 1
    out = np.full((n_rows, k), PAD, dtype=np.int64)
    rows, cols = np.nonzero(keep & (rank_in_row < k))
    out[rows, rank_in_row[rows, cols]] = cand[rows, cols]
    return out
