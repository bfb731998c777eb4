"""Route users with no train history to a fallback model (popularity by default)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recsys_cli.models.base import Recommender, Recs


class WithFallback:
    """``recommend`` of ``primary`` for known users, of ``fallback`` for the rest."""

    def __init__(self, primary: Recommender, fallback: Recommender, known: np.ndarray) -> None:
        self.primary = primary
        self.fallback = fallback
        self.known = np.asarray(known, dtype=bool)

    @classmethod
    def from_history(cls, primary: Recommender, fallback: Recommender, history: sp.csr_matrix) -> "WithFallback":
        return cls(primary, fallback, np.diff(history.indptr) > 0)

    def recommend(
        self, users: np.ndarray, k: int, exclude: sp.csr_matrix | None = None, items: np.ndarray | None = None
    ) -> Recs:
        users = np.asarray(users)
        warm = self.known[users]
        if warm.all():
            return self.primary.recommend(users, k, exclude, items)
        if not warm.any():
            return self.fallback.recommend(users, k, exclude, items)
        out = Recs(np.empty((users.size, k), dtype=np.int32), np.empty((users.size, k), dtype=np.float32))
        for mask, model in ((warm, self.primary), (~warm, self.fallback)):
            rows = np.flatnonzero(mask)
            sub = model.recommend(users[rows], k, exclude[rows] if exclude is not None else None, items)
            out.items[rows], out.scores[rows] = sub.items, sub.scores
        return out
