"""SVD++: biased matrix factorisation plus implicit feedback, fit by surprise.SVDpp.

Prediction ``mu + b_u + b_i + q_i . (p_u + |N(u)|^-1/2 sum_{j in N(u)} y_j)``
where N(u) is the set of items u rated in training, clipped to the rating
scale. The SGD is surprise's own (seeded with ``data.seed``); ``mu, bu, bi,
pu, qi, yj`` and N(u) (a CSR pattern) are copied into numpy arrays in our
index space, each user's effective factor is computed once, and scoring is
ours, vectorised. Unknown users or items get surprise's fallback: the known
biases only.

Without explicit ratings (``data.ratings`` is None) the model fits
pseudo-ratings: summed event weight per (user, item), clipped to [1, 5]
(see :mod:`recsys_cli.models.surprise_base`).

``score`` is the unclipped estimate (for ranking); ``predict`` clips.
``similar_items`` is the cosine of the item factors ``q_i``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp

from recsys_cli.models import surprise_base as sb
from recsys_cli.models.base import Recs, TrainData, rank
from recsys_cli.models.store import load_arrays, save_arrays
from recsys_cli.progress import status
from recsys_cli.schema import bound


@dataclass
class SVDppParams:
    """surprise.SVDpp's own defaults; a per-parameter ``lr_*``/``reg_*`` of null means ``lr_all``/``reg_all``."""

    n_factors: int = bound(20, ge=1)
    n_epochs: int = bound(20, ge=0)
    init_mean: float = 0.0
    init_std_dev: float = bound(0.1, ge=0.0)
    lr_all: float = bound(0.007, ge=0.0)
    reg_all: float = bound(0.02, ge=0.0)
    lr_bu: float | None = bound(None, ge=0.0)
    lr_bi: float | None = bound(None, ge=0.0)
    lr_pu: float | None = bound(None, ge=0.0)
    lr_qi: float | None = bound(None, ge=0.0)
    lr_yj: float | None = bound(None, ge=0.0)
    reg_bu: float | None = bound(None, ge=0.0)
    reg_bi: float | None = bound(None, ge=0.0)
    reg_pu: float | None = bound(None, ge=0.0)
    reg_qi: float | None = bound(None, ge=0.0)
    reg_yj: float | None = bound(None, ge=0.0)
    cache_ratings: bool = False  # surprise's speed/memory switch; same result either way


def effective_user_factors(pu: np.ndarray, yj: np.ndarray, rated: sp.csr_matrix) -> np.ndarray:
    """p_u + |N(u)|^-1/2 sum_{j in N(u)} y_j for every user (p_u, zeros, for users without ratings)."""
    counts = np.diff(rated.indptr)
    implicit = rated @ yj
    scale = np.zeros(len(counts))
    scale[counts > 0] = 1.0 / np.sqrt(counts[counts > 0])
    return pu + implicit * scale[:, None]


class SVDpp:
    name: ClassVar[str] = "svdpp"
    Params: ClassVar[type] = SVDppParams

    def __init__(self, params: SVDppParams | None = None, show_progress: bool = False) -> None:
        self.params = params or SVDppParams()
        self.show_progress = show_progress
        self.n_users = 0
        self.n_items = 0
        self.scale = np.array(sb.PSEUDO_SCALE)
        self.pu = np.zeros((0, 0))
        self.yj = np.zeros((0, 0))
        self.rated = sp.csr_matrix((0, 0))
        self.factors = sb.Factors.empty()

    # ------------------------------------------------------------------ fit

    def algo(self, seed: int) -> Any:
        """The surprise algorithm this model fits (unfitted)."""
        from surprise import SVDpp as SurpriseSVDpp

        p = self.params
        return SurpriseSVDpp(
            n_factors=p.n_factors, n_epochs=p.n_epochs, init_mean=p.init_mean, init_std_dev=p.init_std_dev,
            lr_all=p.lr_all, reg_all=p.reg_all,
            lr_bu=p.lr_bu, lr_bi=p.lr_bi, lr_pu=p.lr_pu, lr_qi=p.lr_qi, lr_yj=p.lr_yj,
            reg_bu=p.reg_bu, reg_bi=p.reg_bi, reg_pu=p.reg_pu, reg_qi=p.reg_qi, reg_yj=p.reg_yj,
            random_state=seed, verbose=False, cache_ratings=p.cache_ratings,
        )

    def fit(self, data: TrainData) -> Self:
        ratings = sb.ratings_of(data)
        ts = sb.trainset(ratings)
        if self.show_progress:
            status(f"svdpp: SGD, {self.params.n_epochs} epochs on {ts.n_ratings:,} ratings"
                   + (" (pseudo-ratings from event weights)" if ratings.pseudo else ""))
        return self.adopt(self.algo(data.seed).fit(ts), ratings, data.n_users, data.n_items)

    def adopt(self, algo: Any, ratings: sb.Ratings, n_users: int, n_items: int) -> Self:
        """Copy what a fitted surprise SVDpp learned into our arrays (our index space)."""
        ts = algo.trainset
        users, items = sb.id_maps(ts)
        self.n_users, self.n_items = n_users, n_items
        self.scale = sb.scale_array(ratings.scale)
        self.pu = sb.spread(algo.pu, users, n_users)
        self.yj = sb.spread(algo.yj, items, n_items)
        rated = ratings.matrix.copy()
        rated.data = np.ones_like(rated.data)
        self.rated = rated
        self._set(float(ts.global_mean), sb.spread(algo.bu, users, n_users), sb.spread(algo.bi, items, n_items),
                  sb.spread(algo.qi, items, n_items), sb.known(users, n_users), sb.known(items, n_items))
        return self

    def _set(self, mu: float, bu: np.ndarray, bi: np.ndarray, qi: np.ndarray,
             known_users: np.ndarray, known_items: np.ndarray) -> None:
        user_vec = effective_user_factors(self.pu, self.yj, self.rated)
        self.factors = sb.Factors(mu, bu, bi, user_vec, qi, known_users, known_items)

    # -------------------------------------------------------------- predict

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Predicted ratings of (user, item) pairs, clipped to the rating scale (float64)."""
        users, items = sb.pairs(users, items)
        return sb.clip(self.factors.estimate(users, items), self.scale)

    def score(self, users: np.ndarray, items: np.ndarray | None = None) -> np.ndarray:
        return self.factors.grid(np.asarray(users, dtype=np.int64), items).astype(np.float32)

    def recommend(
        self, users: np.ndarray, k: int, exclude: sp.csr_matrix | None = None, items: np.ndarray | None = None
    ) -> Recs:
        return rank(self.score(users, items), k, exclude, items)

    def similar_items(self, items: np.ndarray, k: int) -> Recs:
        return sb.factor_similar(self.factors.qi, items, k)

    # ----------------------------------------------------------- save/load

    def save(self, path: Path) -> None:
        f = self.factors
        save_arrays(
            path, self.name, self.params,
            {"mu": np.array(f.mu), "bu": f.bu, "bi": f.bi, "pu": self.pu, "qi": f.qi, "yj": self.yj,
             "rated_indptr": self.rated.indptr, "rated_indices": self.rated.indices,
             "known_users": f.known_users, "known_items": f.known_items, "scale": self.scale},
            n_users=self.n_users, n_items=self.n_items,
        )

    @classmethod
    def load(cls, path: Path) -> Self:
        params, a, manifest = load_arrays(path, cls.name, cls.Params)
        model = cls(params)
        model.n_users, model.n_items = manifest["n_users"], manifest["n_items"]
        model.scale = a["scale"]
        model.pu, model.yj = a["pu"], a["yj"]
        indices = a["rated_indices"]
        model.rated = sp.csr_matrix((np.ones(indices.size), indices, a["rated_indptr"]),
                                    shape=(model.n_users, model.n_items))
        model._set(float(a["mu"]), a["bu"], a["bi"], a["qi"], a["known_users"], a["known_items"])
        return model
