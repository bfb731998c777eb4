"""Shared by latent-factor models (ALS, BPR, LMF): scoring, neighbours, saving.

``FactorModel`` supplies everything but ``fit`` for a model whose state is a
user-factor and an item-factor matrix; the three implicit wrappers only
differ in how they fit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp

from recsys_cli.models.base import Recs, rank
from recsys_cli.models.store import load_arrays, save_arrays


def dot_scores(user_factors: np.ndarray, item_factors: np.ndarray, users: np.ndarray, items: np.ndarray | None) -> np.ndarray:
    item_f = item_factors if items is None else item_factors[items]
    return np.asarray(user_factors[users] @ item_f.T, dtype=np.float32)


def cosine_neighbours(vectors: np.ndarray, items: np.ndarray, k: int) -> Recs:
    """The k items whose vectors are most cosine-similar to each of ``items`` (never itself)."""
    norms = np.linalg.norm(vectors, axis=1)
    norms[norms == 0] = 1.0
    unit = vectors / norms[:, None]
    sims = unit[items] @ unit.T
    n = vectors.shape[0]
    exclude = sp.csr_matrix((np.ones(len(items)), (np.arange(len(items)), items)), shape=(len(items), n))
    return rank(sims, k, exclude)


class FactorModel:
    """Score, recommend, neighbours and save/load for user/item factor matrices."""

    name: ClassVar[str]
    Params: ClassVar[type]
    bias_columns: ClassVar[int] = 0  # trailing bias columns left out of item similarity

    def __init__(self, params: Any = None) -> None:
        self.params = params or self.Params()
        self.show_progress = False
        self.user_factors = np.zeros((0, 0), dtype=np.float32)
        self.item_factors = np.zeros((0, 0), dtype=np.float32)
        self.n_users = 0
        self.n_items = 0

    def _set_factors(self, user_factors: np.ndarray, item_factors: np.ndarray) -> None:
        self.user_factors = np.ascontiguousarray(user_factors, dtype=np.float32)
        self.item_factors = np.ascontiguousarray(item_factors, dtype=np.float32)
        self.n_users, self.n_items = self.user_factors.shape[0], self.item_factors.shape[0]

    def score(self, users: np.ndarray, items: np.ndarray | None = None) -> np.ndarray:
        return dot_scores(self.user_factors, self.item_factors, users, items)

    def recommend(
        self, users: np.ndarray, k: int, exclude: sp.csr_matrix | None = None, items: np.ndarray | None = None
    ) -> Recs:
        return rank(self.score(users, items), k, exclude, items)

    def score_history(self, rows: sp.csr_matrix, items: np.ndarray | None = None) -> np.ndarray:
        item_f = self.item_factors if items is None else self.item_factors[items]
        return np.asarray(self.fold_in_factors(rows) @ item_f.T, dtype=np.float32)

    def fold_in_factors(self, rows: sp.csr_matrix) -> np.ndarray:
        """Fold in new users: each row's factors by one weighted least-squares step on the item factors.

        Confidence ``c = alpha * weight`` on the row's items (1 elsewhere),
        preference 1 there and 0 elsewhere, ridge ``regularization``: exactly
        the user update of implicit's ALS (its ``recalculate_user``); for BPR/LMF
        factors the same projection is a sound fold-in.
        """
        alpha = float(getattr(self.params, "alpha", 1.0))
        gram = self.fold_in_gram()
        rows = sp.csr_matrix(rows)
        factors = np.zeros((rows.shape[0], self.item_factors.shape[1]))
        for r in range(rows.shape[0]):
            idx = rows.indices[rows.indptr[r] : rows.indptr[r + 1]]
            if idx.size == 0:
                continue
            conf = alpha * rows.data[rows.indptr[r] : rows.indptr[r + 1]]
            yi = self.item_factors[idx].astype(np.float64)
            a = gram + (yi.T * (conf - 1.0)) @ yi
            factors[r] = np.linalg.solve(a, (yi.T * conf).sum(axis=1))
        return factors.astype(np.float32)

    def fold_in_gram(self) -> np.ndarray:
        """``YᵀY + λI`` of the item factors: computed once, reused by every fold-in."""
        cached = getattr(self, "_gram", None)
        if cached is None or cached[0] is not self.item_factors:
            y = self.item_factors.astype(np.float64)
            reg = float(getattr(self.params, "regularization", 0.01)) or 1e-6
            cached = (self.item_factors, y.T @ y + reg * np.eye(y.shape[1]))
            self._gram = cached
        return cached[1]

    def similar_items(self, items: np.ndarray, k: int) -> Recs:
        width = self.item_factors.shape[1] - self.bias_columns
        return cosine_neighbours(self.item_factors[:, :width], items, k)

    def save(self, path: Path) -> None:
        save_arrays(path, self.name, self.params,
                    {"user_factors": self.user_factors, "item_factors": self.item_factors},
                    n_users=self.n_users, n_items=self.n_items)

    @classmethod
    def load(cls, path: Path) -> Self:
        params, arrays, _ = load_arrays(path, cls.name, cls.Params)
        model = cls(params)
        model._set_factors(arrays["user_factors"], arrays["item_factors"])
        return model
