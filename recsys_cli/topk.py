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


def _check(scores: np.ndarray, k: int, exclude: sp.csr_matrix | None, items: np.ndarray | None) -> None:
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) or k <= 0:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if scores.ndim != 2:
        raise ValueError(f"scores must be 2-D (rows x candidates), got shape {scores.shape}")
    if exclude is not None and exclude.shape[0] != scores.shape[0]:
        raise ValueError(f"exclude has {exclude.shape[0]} rows for {scores.shape[0]} score rows")
    if items is not None and len(items) != scores.shape[1]:
        raise ValueError(f"items names {len(items)} candidates for {scores.shape[1]} score columns")
    if exclude is not None and items is None and exclude.shape[1] != scores.shape[1]:
        raise ValueError(f"exclude has {exclude.shape[1]} columns for {scores.shape[1]} items")


def top_columns(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices of each row's ``k`` best scores, best first; ties: lower column first.

    Exact and deterministic: ``argpartition`` finds the k-th best value of
    each row; where more cells share that value than fit in the list, the
    lowest-indexed of them are taken (never an arbitrary subset). ``k`` must
    be <= the number of columns. NaN must already be replaced (see ``rank``).
    """
    n_rows, n_cols = scores.shape
    if k < n_cols:
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        vals = np.take_along_axis(scores, top, axis=1)
        kth = vals.min(axis=1)
        # a row is tied at the cut when it holds more cells equal to its k-th value than were kept
        kept_eq = (vals == kth[:, None]).sum(axis=1)
        tied = np.flatnonzero((kth > -np.inf) & ((scores == kth[:, None]).sum(axis=1) > kept_eq))
        if tied.size:
            sub = scores[tied]
            t = kth[tied, None]
            above = sub > t
            need = k - above.sum(axis=1)
            pick = above | ((sub == t) & (np.cumsum(sub == t, axis=1) <= need[:, None]))
            top[tied] = np.nonzero(pick)[1].reshape(tied.size, k)  # row-major: ascending columns per row
    else:
        top = np.broadcast_to(np.arange(n_cols), (n_rows, n_cols))
    vals = np.take_along_axis(scores, top, axis=1)
    order = np.lexsort((top, -vals), axis=1)  # best first; ties: lower index first
    return np.take_along_axis(top, order, axis=1)


def rank(
    scores: np.ndarray,
    k: int,
    exclude: sp.csr_matrix | None = None,
    items: np.ndarray | None = None,
) -> Recs:
    """Top-k of each row of ``scores``: score descending, then item index ascending.

    ``exclude`` is a CSR matrix with one row per score row and one column per
    item in the full catalog; its non-zeros are never recommended. ``items``
    restricts the candidates: then column j of ``scores`` is item ``items[j]``.
    Rows are ranked independently (a row's result never depends on the batch
    it is in or on memory order); equal scores are ordered by item index, also
    at the cut-off. NaN and -inf scores never enter a list (``PAD`` instead).
    ``scores`` is consumed: excluded and NaN cells are overwritten with -inf
    (pass a copy to keep it). ``k <= 0`` and an ``exclude`` whose row count
    differs from the scored rows are errors.
    """
    scores = np.asarray(scores, dtype=np.float32)  # consumed: excluded cells are overwritten
    _check(scores, k, exclude, items)
    if not scores.flags.writeable:
        scores = scores.copy()
    n_rows, n_cols = scores.shape
    nan = np.isnan(scores)
    if nan.any():
        scores[nan] = -np.inf
    if exclude is not None and exclude.nnz:
        rows = np.repeat(np.arange(n_rows), np.diff(exclude.indptr))
        if items is None:
            scores[rows, exclude.indices] = -np.inf
        else:
            col_of = np.full(exclude.shape[1], -1, dtype=np.int64)
            col_of[items] = np.arange(len(items))
            cols = col_of[exclude.indices]
            keep = cols >= 0
            scores[rows[keep], cols[keep]] = -np.inf
    kk = min(k, n_cols)
    if kk == 0:  # no candidates at all
        return Recs(items=np.full((n_rows, k), PAD, dtype=np.int32),
                    scores=np.full((n_rows, k), -np.inf, dtype=np.float32))
    top = top_columns(scores, kk)
    top_scores = np.take_along_axis(scores, top, axis=1)
    out_items = top if items is None else np.asarray(items)[top]
    out_items = np.where(np.isneginf(top_scores), PAD, out_items).astype(np.int32)
    top_scores = np.where(out_items == PAD, -np.inf, top_scores)
    if kk < k:
        pad = k - kk
        out_items = np.pad(out_items, ((0, 0), (0, pad)), constant_values=PAD)
        top_scores = np.pad(top_scores, ((0, 0), (0, pad)), constant_values=-np.inf)
    return Recs(items=out_items, scores=top_scores.astype(np.float32))


def rank_one(scores: np.ndarray, k: int, exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The single-user fast path of :func:`rank`: one 1-D score row, excluded item indices.

    Same order and rules as ``rank`` (score descending, index ascending, NaN
    and -inf never listed) without building a CSR matrix; returns
    ``(items, scores)`` of length <= k, no padding. ``scores`` is consumed.
    """
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) or k <= 0:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    row = np.asarray(scores, dtype=np.float32)
    if row.ndim != 1:
        raise ValueError(f"rank_one takes one score row, got shape {row.shape}")
    if not row.flags.writeable:
        row = row.copy()
    row[np.isnan(row)] = -np.inf
    if exclude is not None and len(exclude):
        row[exclude] = -np.inf
    kk = min(k, row.size)
    if kk == 0:
        return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
    if kk < row.size:
        top = np.argpartition(-row, kk - 1)[:kk]
        kth = row[top].min()
        if kth > -np.inf and np.count_nonzero(row == kth) > np.count_nonzero(row[top] == kth):
            above = np.flatnonzero(row > kth)  # a tie at the cut: the lowest-indexed of the tied
            top = np.concatenate([above, np.flatnonzero(row == kth)[: kk - above.size]])
    else:
        top = np.arange(row.size)
    vals = row[top]
    order = np.lexsort((top, -vals))
    top, vals = top[order], vals[order]
    keep = vals > -np.inf
    return top[keep].astype(np.int32), vals[keep]


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
