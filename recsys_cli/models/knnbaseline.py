"""KNNBaseline: neighbourhood model on baseline residuals (Koren 2010, eq. 3), fit by surprise.KNNBaseline.

Item-based (``user_based: false``)::

    r^_ui = b_ui + sum_{j in N^k_u(i)} s(i, j) (r_uj - b_uj) / sum_{j in N^k_u(i)} s(i, j)

with ``b_ui = mu + b_u + b_i``; user-based swaps the roles (neighbours are the
users who rated i). surprise fits the baselines (ALS or SGD, ``bsl_*``) and the
similarity matrix (``sim_name``: msd, cosine, pearson or pearson_baseline,
with ``min_support`` and, for pearson_baseline, ``shrinkage``); we copy
``mu, b_u, b_i`` and the similarity matrix into numpy arrays in our index
space, keep the training ratings (CSR), and predict with our own vectorised
code that reproduces ``KNNBaseline.estimate`` exactly:

- N^k is the ``k`` candidates with the largest similarity (ties: the lower
  index first, which is surprise's order since ratings are fed to it in index
  order); of those only the ones with similarity > 0 count;
- fewer than ``min_k`` counted neighbours (or none): the baseline alone;
- an unknown user or item (no training rating): ``mu`` plus the known biases.

Without explicit ratings (``data.ratings`` is None) the model fits
pseudo-ratings: summed event weight per (user, item), clipped to [1, 5]
(see :mod:`recsys_cli.models.surprise_base`).

``score`` is the unclipped estimate (for ranking); ``predict`` clips.
``similar_items``: item-based, the learned item-item similarity; user-based
models learn no item-item similarity, so there it is the cosine between the
items' baseline-residual columns ``r_ui - b_ui`` over the training ratings
(computed on demand, nothing extra stored).

The defaults are surprise's own (``sim_name: msd, user_based: true``, as in
surprise's benchmark); ``pearson_baseline`` item-based is what the surprise
docs recommend for accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

import numpy as np
import scipy.sparse as sp

from recsys_cli.errors import TooLarge
from recsys_cli.models import surprise_base as sb
from recsys_cli.models.base import Recs, TrainData, rank
from recsys_cli.models.store import load_arrays, save_arrays
from recsys_cli.progress import status
from recsys_cli.schema import bound

CHUNK_CELLS = 1 << 22  # (neighbour, candidate) similarities gathered at once when scoring user-based


@dataclass
class KNNBaselineParams:
    """surprise.KNNBaseline's own defaults (sim_options / bsl_options flattened)."""

    k: int = bound(40, ge=1)
    min_k: int = bound(1, ge=0)
    sim_name: Literal["msd", "cosine", "pearson", "pearson_baseline"] = "msd"
    user_based: bool = True
    min_support: int = bound(1, ge=0)
    shrinkage: float = bound(100.0, ge=0.0)  # pearson_baseline only
    bsl_method: Literal["als", "sgd"] = "als"
    bsl_n_epochs: int | None = bound(None, ge=0)  # null: surprise's default (als 10, sgd 20)
    bsl_reg_u: float = bound(15.0, ge=0.0)  # als
    bsl_reg_i: float = bound(10.0, ge=0.0)  # als
    bsl_reg: float = bound(0.02, ge=0.0)  # sgd
    bsl_learning_rate: float = bound(0.005, ge=0.0)  # sgd
    memory_budget_gb: float = bound(4.0, gt=0.0)  # the dense similarity matrix (surprise's and ours) must fit


class KNNBaseline:
    name: ClassVar[str] = "knnbaseline"
    Params: ClassVar[type] = KNNBaselineParams

    def __init__(self, params: KNNBaselineParams | None = None, show_progress: bool = False) -> None:
        self.params = params or KNNBaselineParams()
        self.show_progress = show_progress
        self.n_users = 0
        self.n_items = 0
        self.scale = np.array(sb.PSEUDO_SCALE)
        self.mu = 0.0
        self.bu = np.zeros(0)
        self.bi = np.zeros(0)
        self.known_users = np.zeros(0, bool)
        self.known_items = np.zeros(0, bool)
        self.sim = np.zeros((0, 0))  # users x users (user-based) or items x items, our indices
        self.ratings = sp.csr_matrix((0, 0))  # users x items training ratings, float64
        self.neighbours = sp.csr_matrix((0, 0))  # owner x neighbour, data = r - b (see _set)

    # ------------------------------------------------------------------ fit

    def options(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """surprise's ``sim_options`` and ``bsl_options`` for these params."""
        p = self.params
        sim = {"name": p.sim_name, "user_based": p.user_based, "min_support": p.min_support}
        if p.sim_name == "pearson_baseline":
            sim["shrinkage"] = p.shrinkage
        if p.bsl_method == "als":
            bsl: dict[str, Any] = {"method": "als", "reg_u": p.bsl_reg_u, "reg_i": p.bsl_reg_i}
        else:
            bsl = {"method": "sgd", "reg": p.bsl_reg, "learning_rate": p.bsl_learning_rate}
        if p.bsl_n_epochs is not None:
            bsl["n_epochs"] = p.bsl_n_epochs
        return sim, bsl

    def algo(self, seed: int) -> Any:
        """The surprise algorithm this model fits (unfitted; its fit uses no randomness)."""
        from surprise import KNNBaseline as SurpriseKNNBaseline

        sim, bsl = self.options()
        return SurpriseKNNBaseline(k=self.params.k, min_k=self.params.min_k, sim_options=sim,
                                   bsl_options=bsl, verbose=False)

    def fit(self, data: TrainData) -> Self:
        side, n_side = ("user", data.n_users) if self.params.user_based else ("item", data.n_items)
        need = 2 * 8 * n_side * n_side / 1e9  # surprise's float64 similarity and ours
        if need > self.params.memory_budget_gb:
            raise TooLarge(
                f"knnbaseline: a {side}-{side} similarity over {n_side:,} {side}s needs about {need:.1f} GB, over "
                f"model.memory_budget_gb={self.params.memory_budget_gb:g}; raise it"
                + (", or set model.user_based=false" if self.params.user_based and data.n_items < n_side else "")
                + ", or use itemknn (sparse neighbours)")
        ratings = sb.ratings_of(data)
        ts = sb.trainset(ratings)
        if self.show_progress:
            side = "user" if self.params.user_based else "item"
            status(f"knnbaseline: baselines + {self.params.sim_name} {side}-{side} similarity on "
                   f"{ts.n_ratings:,} ratings" + (" (pseudo-ratings from event weights)" if ratings.pseudo else ""))
        return self.adopt(self.algo(data.seed).fit(ts), ratings, data.n_users, data.n_items)

    def adopt(self, algo: Any, ratings: sb.Ratings, n_users: int, n_items: int) -> Self:
        """Copy what a fitted surprise KNNBaseline learned into our arrays (our index space)."""
        ts = algo.trainset
        users, items = sb.id_maps(ts)
        self.n_users, self.n_items = n_users, n_items
        side, n_side = (users, n_users) if self.params.user_based else (items, n_items)
        sim = np.zeros((n_side, n_side), dtype=np.float64)
        sim[np.ix_(side, side)] = algo.sim
        self._set(
            scale=sb.scale_array(ratings.scale), mu=float(ts.global_mean),
            bu=sb.spread(algo.bu, users, n_users), bi=sb.spread(algo.bi, items, n_items),
            known_users=sb.known(users, n_users), known_items=sb.known(items, n_items),
            sim=sim, ratings=ratings.matrix,
        )
        return self

    def _set(self, *, scale: np.ndarray, mu: float, bu: np.ndarray, bi: np.ndarray, known_users: np.ndarray,
             known_items: np.ndarray, sim: np.ndarray, ratings: sp.csr_matrix) -> None:
        self.scale, self.mu, self.bu, self.bi = scale, mu, bu, bi
        self.known_users, self.known_items, self.sim, self.ratings = known_users, known_items, sim, ratings
        # Neighbour lists with their baseline residuals, in surprise's order (ascending index):
        # item-based, owner u -> items j rated by u, r_uj - (mu + b_j + b_u);
        # user-based, owner i -> users v who rated i, r_vi - (mu + b_v + b_i).
        if self.params.user_based:
            nbr = sp.csr_matrix(ratings.T)  # items x users
            nbr.sort_indices()
            owners = np.repeat(np.arange(nbr.shape[0]), np.diff(nbr.indptr))
            nbr.data = nbr.data - ((mu + bu[nbr.indices]) + bi[owners])
        else:
            nbr = ratings.copy()
            owners = np.repeat(np.arange(nbr.shape[0]), np.diff(nbr.indptr))
            nbr.data = nbr.data - ((mu + bi[nbr.indices]) + bu[owners])
        self.neighbours = nbr

    # -------------------------------------------------------------- predict

    def _estimate(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Unclipped ``KNNBaseline.estimate`` of each (user, item) pair."""
        est = (self.mu + self.bu[users]) + self.bi[items]  # zeros stand in for unknown biases
        both = np.flatnonzero(self.known_users[users] & self.known_items[items])
        if both.size == 0:
            return est
        x, owner = (users[both], items[both]) if self.params.user_based else (items[both], users[both])
        order = np.argsort(owner, kind="stable")
        owners, starts = np.unique(owner[order], return_index=True)
        bounds = np.append(starts, order.size)
        for o, lo, hi in zip(owners.tolist(), bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            rows = both[order[lo:hi]]
            est[rows] += self._aggregate(o, x[order[lo:hi]])
        return est

    def _aggregate(self, owner: int, xs: np.ndarray) -> np.ndarray:
        """The neighbour term of ``KNNBaseline.estimate`` for one owner and candidates ``xs``.

        Item-based, the owner is a user u, its neighbours the items j it rated and
        ``xs`` candidate items i; user-based, the owner is an item i, its neighbours
        the users v who rated it and ``xs`` candidate users u. For each candidate:
        ``sum s (r - b) / sum s`` over the ``k`` most similar neighbours that have
        similarity > 0, or 0 when fewer than ``min_k`` (or none) count.
        """
        nbr, k, min_k = self.neighbours, self.params.k, self.params.min_k
        lo, hi = nbr.indptr[owner], nbr.indptr[owner + 1]
        n_nb = hi - lo
        if n_nb == 0:
            return np.zeros(xs.size)
        nb, resid = nbr.indices[lo:hi], nbr.data[lo:hi]
        sims = self.sim[nb][:, xs]  # (neighbours, candidates); similarities are symmetric
        positive = sims > 0
        if n_nb > k:
            # the k largest per column; ties at the k-th value go to the lower neighbour index
            # (rows are in ascending index, which is the order surprise's heapq.nlargest keeps)
            kth = np.partition(sims, n_nb - k, axis=0)[n_nb - k]
            chosen = sims >= kth
            over = np.flatnonzero(chosen.sum(axis=0) > k)
            if over.size:
                sub = sims[:, over]
                above = sub > kth[over]
                tied = sub == kth[over]
                need = k - above.sum(axis=0)
                chosen[:, over] = above | (tied & (np.cumsum(tied, axis=0) <= need))
            positive &= chosen
        weights = np.where(positive, sims, 0.0)
        num = resid @ weights
        den = weights.sum(axis=0)
        ok = den > 0
        if min_k > 1:
            ok &= positive.sum(axis=0) >= min_k
        return np.where(ok, num / np.where(ok, den, 1.0), 0.0)

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Predicted ratings of (user, item) pairs, clipped to the rating scale (float64)."""
        users, items = sb.pairs(users, items)
        return sb.clip(self._estimate(users, items), self.scale)

    def score(self, users: np.ndarray, items: np.ndarray | None = None) -> np.ndarray:
        users = np.asarray(users, dtype=np.int64)
        cols = np.arange(self.n_items) if items is None else np.asarray(items, dtype=np.int64)
        out = ((self.mu + self.bu[users])[:, None] + self.bi[cols][None, :]).astype(np.float64)
        warm_rows = np.flatnonzero(self.known_users[users])
        warm_cols = np.flatnonzero(self.known_items[cols])
        if warm_rows.size == 0 or warm_cols.size == 0:
            return out.astype(np.float32)
        if self.params.user_based:  # owners are items: one pass per item over a batch of users
            longest = int(np.diff(self.neighbours.indptr).max())
            step = max(1, CHUNK_CELLS // max(longest, 1))
            for s in range(0, warm_rows.size, step):
                rows = warm_rows[s : s + step]
                for c in warm_cols.tolist():
                    out[rows, c] += self._aggregate(int(cols[c]), users[rows])
        else:  # owners are users: one pass per user over the candidate items
            for r in warm_rows.tolist():
                out[r, warm_cols] += self._aggregate(int(users[r]), cols[warm_cols])
        return out.astype(np.float32)

    def recommend(
        self, users: np.ndarray, k: int, exclude: sp.csr_matrix | None = None, items: np.ndarray | None = None
    ) -> Recs:
        return rank(self.score(users, items), k, exclude, items)

    def similar_items(self, items: np.ndarray, k: int) -> Recs:
        items = np.asarray(items, dtype=np.int64)
        if not self.params.user_based:
            sims = self.sim[items]
        else:  # no item-item similarity learned: cosine of the items' residual columns
            vectors = self.neighbours  # items x users, data = r_vi - b_vi
            norms = np.sqrt(np.asarray(vectors.multiply(vectors).sum(axis=1)).ravel())
            norms[norms == 0] = 1.0
            sims = (vectors[items] @ vectors.T).toarray() / (norms[items, None] * norms[None, :])
        return rank(sims, k, sb.self_exclusion(items, self.n_items))

    # ----------------------------------------------------------- save/load

    def save(self, path: Path) -> None:
        save_arrays(
            path, self.name, self.params,
            {"mu": np.array(self.mu), "bu": self.bu, "bi": self.bi, "sim": self.sim,
             "known_users": self.known_users, "known_items": self.known_items, "scale": self.scale,
             "ratings_data": self.ratings.data, "ratings_indices": self.ratings.indices,
             "ratings_indptr": self.ratings.indptr},
            n_users=self.n_users, n_items=self.n_items,
        )

    @classmethod
    def load(cls, path: Path) -> Self:
        params, a, manifest = load_arrays(path, cls.name, cls.Params)
        model = cls(params)
        model.n_users, model.n_items = manifest["n_users"], manifest["n_items"]
        ratings = sp.csr_matrix((a["ratings_data"], a["ratings_indices"], a["ratings_indptr"]),
                                shape=(model.n_users, model.n_items))
        model._set(scale=a["scale"], mu=float(a["mu"]), bu=a["bu"], bi=a["bi"], known_users=a["known_users"],
                   known_items=a["known_items"], sim=a["sim"], ratings=ratings)
        return model
