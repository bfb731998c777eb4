"""Popularity: the same ranking for everyone, by train-window popularity.

The dependency-free reference model every other model must beat, and the
fallback for users with no history.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal, Self

import numpy as np
import polars as pl
import scipy.sparse as sp

from recsys_cli.models.base import Recs, TrainData, rank
from recsys_cli.topk import popular_lists
from recsys_cli.models.store import load_arrays, save_arrays
from recsys_cli.schema import bound


@dataclass
class PopularityParams:
    by: Literal["users", "weight"] = "users"
    half_life_days: float | None = bound(None, gt=0)


class Popularity:
    name: ClassVar[str] = "popularity"
    Params: ClassVar[type] = PopularityParams

    def __init__(self, params: PopularityParams | None = None) -> None:
        self.params = params or PopularityParams()
        self.item_scores = np.zeros(0, dtype=np.float32)
        self.n_users = 0
        self.n_items = 0

    def fit(self, data: TrainData) -> Self:
        self.n_users, self.n_items = data.n_users, data.n_items
        if self.params.half_life_days is not None:
            self.item_scores = self._decayed(data)
        elif self.params.by == "users":
            self.item_scores = np.asarray((data.matrix > 0).sum(axis=0)).ravel().astype(np.float32)
        else:
            self.item_scores = np.asarray(data.matrix.sum(axis=0)).ravel().astype(np.float32)
        return self

    def _decayed(self, data: TrainData) -> np.ndarray:
        if data.events is None:
            raise ValueError("popularity with half_life_days needs the train events")
        ev = data.events
        t_end = ev["timestamp"].max()
        age_days = (t_end - ev["timestamp"]).dt.total_seconds() / 86400.0
        decay = (0.5 ** (age_days / self.params.half_life_days)).to_numpy()
        base = ev["weight"].to_numpy() if self.params.by == "weight" else np.ones(ev.height)
        if self.params.by == "users":
            # each user counts once per item, at their most recent interaction
            last = ev.with_columns(_d=pl.Series(decay)).group_by("user_idx", "item_idx").agg(pl.col("_d").max())
            items, vals = last["item_idx"].to_numpy(), last["_d"].to_numpy()
        else:
            items, vals = ev["item_idx"].to_numpy(), base * decay
        return np.bincount(items, weights=vals, minlength=data.n_items).astype(np.float32)

    def score(self, users: np.ndarray, items: np.ndarray | None = None) -> np.ndarray:
        row = self.item_scores if items is None else self.item_scores[items]
        return np.broadcast_to(row, (len(users), row.size)).copy()

    def recommend(
        self, users: np.ndarray, k: int, exclude: sp.csr_matrix | None = None, items: np.ndarray | None = None
    ) -> Recs:
        if items is not None or not np.isfinite(self.item_scores).all():
            return rank(self.score(users, items), k, exclude, items)
        # every user gets the same order: walk its head, skipping each user's excluded items
        order = self.order()
        if exclude is None:
            exclude = sp.csr_matrix((len(users), self.n_items), dtype=np.float32)
        top = popular_lists(order, exclude, k).astype(np.int32)
        scores = np.where(top >= 0, self.item_scores[np.maximum(top, 0)], -np.inf).astype(np.float32)
        return Recs(items=top, scores=scores)

    def order(self) -> np.ndarray:
        """Item indices, most popular first; ties: lower index first, as :func:`rank` orders them."""
        return np.argsort(-self.item_scores, kind="stable")

    def score_history(self, rows: sp.csr_matrix, items: np.ndarray | None = None) -> np.ndarray:
        """Fold in new users: popularity does not depend on the history."""
        return self.score(np.zeros(rows.shape[0], dtype=np.int64), items)

    def similar_items(self, items: np.ndarray, k: int) -> Recs:
        # popularity knows nothing about similarity: the most popular other items
        exclude = sp.csr_matrix(
            (np.ones(len(items)), (np.arange(len(items)), items)), shape=(len(items), self.n_items)
        )
        return rank(self.score(np.zeros(len(items), dtype=np.int64)), k, exclude)

    def save(self, path: Path) -> None:
        save_arrays(path, self.name, self.params, {"item_scores": self.item_scores},
                    n_users=self.n_users, n_items=self.n_items)

    @classmethod
    def load(cls, path: Path) -> Self:
        params, arrays, manifest = load_arrays(path, cls.name, cls.Params)
        model = cls(params)
        model.item_scores = arrays["item_scores"]
        model.n_users, model.n_items = manifest["n_users"], manifest["n_items"]
        return model
