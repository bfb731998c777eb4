"""Shared by item-to-item models (EASE, item-kNN, RP3beta): score = history x W.

``ItemItemModel`` keeps the fit-window user history (CSR) and an item x item
weight matrix W (dense or sparse); a user's scores are their history row
times W. Subclasses only compute W in ``fit``. ``topk_rows`` builds a sparse
W that keeps the k largest entries per row, block by block, so memory stays
bounded by ``block x n_items``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import polars as pl
import scipy.sparse as sp

from recsys_cli.models.base import Recs, TrainData, rank
from recsys_cli.topk import top_columns
from recsys_cli.models.store import load_arrays, save_arrays


def topk_rows(block_fn: Callable[[np.ndarray], np.ndarray], n_rows: int, n_cols: int, k: int, block: int = 512) -> sp.csr_matrix:
    """Sparse matrix of the k largest (positive) entries of each row; rows come from ``block_fn``."""
    k = min(k, n_cols)
    if k <= 0:
        return sp.csr_matrix((n_rows, n_cols), dtype=np.float32)
    indptr, indices, data = [0], [], []
    for start in range(0, n_rows, block):
        rows = np.arange(start, min(start + block, n_rows))
        dense = np.asarray(block_fn(rows), dtype=np.float32)
        dense[np.isnan(dense)] = -np.inf
        top = top_columns(dense, k)  # deterministic: ties at the cut go to the lower index
        vals = np.take_along_axis(dense, top, axis=1)
        for r in range(rows.size):
            keep = vals[r] > 0
            cols = top[r][keep]
            order = np.argsort(cols)
            indices.append(cols[order])
            data.append(vals[r][keep][order])
            indptr.append(indptr[-1] + int(keep.sum()))
    return sp.csr_matrix(
        (np.concatenate(data) if data else np.zeros(0, np.float32),
         np.concatenate(indices) if indices else np.zeros(0, np.int32),
         np.array(indptr)),
        shape=(n_rows, n_cols),
    )


def sequence_cooccurrence(events: pl.DataFrame, n_items: int, window: float) -> sp.csr_matrix:
    """Item x item co-occurrence weighted by closeness in each user's time-ordered history.

    Two events d positions apart in a user's sequence add exp(-d / window) to
    their pair (both directions; the diagonal gets 1 per event). Pairs more
    than 3 windows apart are ignored. Vectorised over offsets, not users.
    """
    ordered = events.select("user_idx", "item_idx", "timestamp").sort(["user_idx", "timestamp"], maintain_order=True)
    users = ordered["user_idx"].to_numpy()
    items = ordered["item_idx"].to_numpy().astype(np.int64)
    rows, cols, vals = [items], [items], [np.ones(items.size, dtype=np.float32)]
    for d in range(1, int(np.ceil(3 * window)) + 1):
        same = users[:-d] == users[d:]
        if not same.any():
            break
        a, b = items[:-d][same], items[d:][same]
        w = np.full(a.size, np.exp(-d / window), dtype=np.float32)
        rows += [a, b]
        cols += [b, a]
        vals += [w, w]
    out = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n_items, n_items), dtype=np.float32
    )
    out.sum_duplicates()
    return out


def history(data: TrainData, binary: bool) -> sp.csr_matrix:
    m = data.matrix.astype(np.float32).tocsr()
    if binary:
        m = m.copy()
        m.data[:] = 1.0
    return m


class ItemItemModel:
    name: ClassVar[str]
    Params: ClassVar[type]

    def __init__(self, params: Any = None) -> None:
        self.params = params or self.Params()
        self.show_progress = False
        self.history = sp.csr_matrix((0, 0), dtype=np.float32)
        self.weights: np.ndarray | sp.csr_matrix = np.zeros((0, 0), dtype=np.float32)
        self.n_users = 0
        self.n_items = 0

    def _set(self, hist: sp.csr_matrix, weights: np.ndarray | sp.csr_matrix) -> None:
        self.history = hist.tocsr()
        self.weights = weights.astype(np.float32) if sp.issparse(weights) else np.ascontiguousarray(weights, dtype=np.float32)
        self.n_users, self.n_items = hist.shape

    def score(self, users: np.ndarray, items: np.ndarray | None = None) -> np.ndarray:
        w = self.weights if items is None else self.weights[:, items]
        out = self.history[users] @ w
        return np.asarray(out.toarray() if sp.issparse(out) else out, dtype=np.float32)

    def recommend(
        self, users: np.ndarray, k: int, exclude: sp.csr_matrix | None = None, items: np.ndarray | None = None
    ) -> Recs:
        return rank(self.score(users, items), k, exclude, items)

    def score_history(self, rows: sp.csr_matrix, items: np.ndarray | None = None) -> np.ndarray:
        """Fold in users the model never saw: scores of each row of ``rows`` (their summed event weights)."""
        binary = getattr(self.params, "binary", getattr(self.params, "binary_history", False))
        hist = sp.csr_matrix(rows, dtype=np.float32, copy=True)
        if binary:
            hist.data[:] = 1.0
        w = self.weights if items is None else self.weights[:, items]
        out = hist @ w
        return np.asarray(out.toarray() if sp.issparse(out) else out, dtype=np.float32)

    def similar_items(self, items: np.ndarray, k: int) -> Recs:
        rows = self.weights[items]
        sims = np.asarray(rows.toarray() if sp.issparse(rows) else rows, dtype=np.float32).copy()
        sims[np.arange(len(items)), items] = -np.inf
        return rank(sims, k)

    def save(self, path: Path) -> None:
        h = self.history
        arrays = {"h_indptr": h.indptr, "h_indices": h.indices, "h_data": h.data}
        if sp.issparse(self.weights):
            w = self.weights.tocsr()
            arrays |= {"w_indptr": w.indptr, "w_indices": w.indices, "w_data": w.data}
        else:
            arrays["w_dense"] = self.weights
        save_arrays(path, self.name, self.params, arrays, n_users=self.n_users, n_items=self.n_items)

    @classmethod
    def load(cls, path: Path) -> Self:
        params, a, m = load_arrays(path, cls.name, cls.Params)
        shape = (m["n_users"], m["n_items"])
        hist = sp.csr_matrix((a["h_data"], a["h_indices"], a["h_indptr"]), shape=shape)
        if "w_dense" in a:
            weights: np.ndarray | sp.csr_matrix = a["w_dense"]
        else:
            weights = sp.csr_matrix((a["w_data"], a["w_indices"], a["w_indptr"]), shape=(shape[1], shape[1]))
        model = cls(params)
        model._set(hist, weights)
        return model
