"""RecommenderService: one loaded bundle, answering in external ids.

The HTTP API, the MLflow pyfunc model, ``recsys batch-recommend`` and the TUI
all call this; none of them holds model code. Two paths over the same rules:

- ``recommend_batch``: many users by index (batch-recommend, the pyfunc);
- ``recommend``: one user by id, the fast path (dict lookup, seen items sliced
  from the history's CSR ``indptr``, one score row, a 1-D top-k).

Both list the same items in the same order for the same user: known users
(history in the model's fit windows) get the model, everyone else the
popularity fallback; items the user already interacted with are never listed;
ties go to the lower item index.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from recsys_cli.bundle import Bundle, read_bundle
from recsys_cli.models.base import Recs
from recsys_cli.models.fallback import WithFallback
from recsys_cli.service.types import Recommendation, ScoredItem, Similar
from recsys_cli.topk import rank_one, row_batch


class RecommenderService:
    """Loads a bundle once (checksums verified); recommend, similar items, batch top-k."""

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        self.model = bundle.model
        self.fallback = bundle.fallback
        self.history = bundle.history
        self.n_users, self.n_items = len(bundle.users), len(bundle.items)
        self.user_ids = bundle.users.ids
        self.item_ids = bundle.items.ids
        self._user_index = {u: i for i, u in enumerate(self.user_ids.tolist())}
        self._item_index = {t: i for i, t in enumerate(self.item_ids.tolist())}
        self.model_name = str(bundle.manifest.get("model", getattr(self.model, "name", "model")))
        self.version = bundle.version
        self._routed = WithFallback(self.model, self.fallback, self.history.known)

    @classmethod
    def load(cls, path: str | Path) -> RecommenderService:
        return cls(read_bundle(Path(path)))

    # ------------------------------------------------------------------ ids

    def user_index(self, user_id: str) -> int:
        """Index of a user id, -1 if the bundle has never seen them."""
        return self._user_index.get(str(user_id), -1)

    def item_index(self, item_id: str) -> int:
        return self._item_index.get(str(item_id), -1)

    def seen(self, user: int) -> np.ndarray:
        """Item indices the user interacted with (never recommended again): a slice of the CSR."""
        if user < 0:
            return np.zeros(0, dtype=np.int32)
        return self.history.items_of(user)

    # ----------------------------------------------------------- batch path

    def recommend_batch(self, users: np.ndarray, k: int) -> Recs:
        """Top-k for user indices (all known to the bundle), seen items excluded."""
        users = np.asarray(users, dtype=np.int64)
        exclude = self.history.matrix[users]
        return self._routed.recommend(users, k, exclude)

    def batches(self, k: int, batch_size: int = 4096):  # noqa: ANN201 - a generator of (users, Recs)
        """Every user's top-k, batch by batch (memory bounded by the batch)."""
        size = row_batch(self.n_items, batch_size)
        for start in range(0, self.n_users, size):
            users = np.arange(start, min(start + size, self.n_users))
            yield users, self.recommend_batch(users, k)

    def recommend_many(self, user_ids: list[str], k: int) -> list[Recommendation]:
        """Lists for many user ids at once through the batch path (unknown ids get the fallback)."""
        idx = np.array([self.user_index(u) for u in user_ids], dtype=np.int64)
        items = np.full((idx.size, k), -1, dtype=np.int32)
        scores = np.full((idx.size, k), -np.inf, dtype=np.float32)
        indexed = np.flatnonzero(idx >= 0)
        if indexed.size:
            recs = self.recommend_batch(idx[indexed], k)
            items[indexed], scores[indexed] = recs.items, recs.scores
        unknown = np.flatnonzero(idx < 0)
        if unknown.size:
            recs = self.fallback.recommend(np.zeros(1, dtype=np.int64), k, None)
            items[unknown], scores[unknown] = recs.items[0], recs.scores[0]
        warm = (idx >= 0) & self.history.known[np.maximum(idx, 0)]
        out = []
        for r, user_id in enumerate(user_ids):
            keep = items[r] >= 0
            out.append(Recommendation(
                user_id=str(user_id),
                items=[ScoredItem(str(self.item_ids[i]), float(v)) for i, v in zip(items[r][keep], scores[r][keep])],
                strategy="personalised" if warm[r] else "popular_fallback",
                model=self.model_name if warm[r] else "popularity", bundle=self.version,
            ))
        return out

    # ----------------------------------------------------------- single path

    def recommend(self, user_id: str, k: int, exclude: list[str] | None = None,
                  request_id: str | None = None) -> Recommendation:
        """One shopper's list, by id; unknown or cold shoppers get the popularity fallback."""
        user = self.user_index(user_id)
        warm = user >= 0 and bool(self.history.known[user])
        blocked = self.seen(user)
        if exclude:
            extra = np.array([i for i in (self.item_index(x) for x in exclude) if i >= 0], dtype=np.int32)
            blocked = np.concatenate([blocked, extra])
        if warm:
            scores = self.model.score(np.array([user], dtype=np.int64))[0]
            strategy = "personalised"
        else:
            scores = self.fallback.score(np.zeros(1, dtype=np.int64))[0]
            strategy = "popular_fallback"
        items, values = rank_one(np.array(scores, dtype=np.float32), k, blocked)
        return Recommendation(
            user_id=str(user_id),
            items=[ScoredItem(str(self.item_ids[i]), float(v)) for i, v in zip(items.tolist(), values.tolist())],
            strategy=strategy, model=self.model_name if warm else "popularity", bundle=self.version,
            request_id=request_id,
        )

    def similar(self, item_id: str, k: int) -> Similar | None:
        """Items like ``item_id`` by the model's own similarity; None for an unknown item."""
        item = self.item_index(item_id)
        if item < 0:
            return None
        recs = self.model.similar_items(np.array([item], dtype=np.int64), k)
        pairs = [(int(i), float(s)) for i, s in zip(recs.items[0], recs.scores[0]) if i >= 0 and i != item]
        return Similar(
            item_id=str(item_id),
            items=[ScoredItem(str(self.item_ids[i]), s) for i, s in pairs[:k]],
            method="collaborative", model=self.model_name, bundle=self.version,
        )
