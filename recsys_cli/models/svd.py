"""SVD: biased matrix factorisation of explicit ratings (Funk / Koren), fit by surprise.SVD.

Prediction ``mu + b_u + b_i + q_i . p_u``, clipped to the rating scale. The
SGD is surprise's own (seeded with ``data.seed``); the learned ``mu, bu, bi,
pu, qi`` are copied into numpy arrays in our index space and all scoring is
ours, vectorised. Unknown users or items (no training rating) get surprise's
fallback: the known biases only (``mu + b_u`` or ``mu + b_i`` or ``mu``); with
``biased: false`` an unknown user or item gets the global mean.

Without explicit ratings (``data.ratings`` is None) the model fits
pseudo-ratings: summed event weight per (user, item), clipped to [1, 5]
(see :mod:`recsys_cli.models.surprise_base`).

``score`` returns the *unclipped* estimate, so items above the top of the
scale still rank apart; ``predict`` clips like ``surprise.AlgoBase.predict``.
``similar_items`` is the cosine of the item factors.
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
class SVDParams:
    """surprise.SVD's own defaults; a per-parameter ``lr_*``/``reg_*`` of null means ``lr_all``/``reg_all``."""

    n_factors: int = bound(100, ge=1)
    n_epochs: int = bound(20, ge=0)
    biased: bool = True
    init_mean: float = 0.0
    init_std_dev: float = bound(0.1, ge=0.0)
    lr_all: float = bound(0.005, ge=0.0)
    reg_all: float = bound(0.02, ge=0.0)
    lr_bu: float | None = bound(None, ge=0.0)
    lr_bi: float | None = bound(None, ge=0.0)
    lr_pu: float | None = bound(None, ge=0.0)
    lr_qi: float | None = bound(None, ge=0.0)
    reg_bu: float | None = bound(None, ge=0.0)
    reg_bi: float | None = bound(None, ge=0.0)
    reg_pu: float | None = bound(None, ge=0.0)
    reg_qi: float | None = bound(None, ge=0.0)


class SVD:
    name: ClassVar[str] = "svd"
    Params: ClassVar[type] = SVDParams

    def __init__(self, params: SVDParams | None = None, show_progress: bool = False) -> None:
        self.params = params or SVDParams()
        self.show_progress = show_progress
        self.n_users = 0
        self.n_items = 0
        self.scale = np.array(sb.PSEUDO_SCALE)
        self.factors = sb.Factors.empty(self.params.biased)

    # ------------------------------------------------------------------ fit

    def algo(self, seed: int) -> Any:
        """The surprise algorithm this model fits (unfitted)."""
        from surprise import SVD as SurpriseSVD

        p = self.params
        return SurpriseSVD(
            n_factors=p.n_factors, n_epochs=p.n_epochs, biased=p.biased, init_mean=p.init_mean,
            init_std_dev=p.init_std_dev, lr_all=p.lr_all, reg_all=p.reg_all,
            lr_bu=p.lr_bu, lr_bi=p.lr_bi, lr_pu=p.lr_pu, lr_qi=p.lr_qi,
            reg_bu=p.reg_bu, reg_bi=p.reg_bi, reg_pu=p.reg_pu, reg_qi=p.reg_qi,
            random_state=seed, verbose=False,
        )

    def fit(self, data: TrainData) -> Self:
        ratings = sb.ratings_of(data)
        ts = sb.trainset(ratings)
        if self.show_progress:
            status(f"svd: SGD, {self.params.n_epochs} epochs on {ts.n_ratings:,} ratings"
                   + (" (pseudo-ratings from event weights)" if ratings.pseudo else ""))
        return self.adopt(self.algo(data.seed).fit(ts), ratings, data.n_users, data.n_items)

    def adopt(self, algo: Any, ratings: sb.Ratings, n_users: int, n_items: int) -> Self:
        """Copy what a fitted surprise SVD learned into our arrays (our index space)."""
        ts = algo.trainset
        users, items = sb.id_maps(ts)
        self.n_users, self.n_items = n_users, n_items
        self.scale = sb.scale_array(ratings.scale)
        self.factors = sb.Factors(
            mu=float(ts.global_mean),
            bu=sb.spread(algo.bu, users, n_users),
            bi=sb.spread(algo.bi, items, n_items),
            user_vec=sb.spread(algo.pu, users, n_users),
            qi=sb.spread(algo.qi, items, n_items),
            known_users=sb.known(users, n_users),
            known_items=sb.known(items, n_items),
            biased=self.params.biased,
        )
        return self

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
            {"mu": np.array(f.mu), "bu": f.bu, "bi": f.bi, "pu": f.user_vec, "qi": f.qi,
             "known_users": f.known_users, "known_items": f.known_items, "scale": self.scale},
            n_users=self.n_users, n_items=self.n_items,
        )

    @classmethod
    def load(cls, path: Path) -> Self:
        params, a, manifest = load_arrays(path, cls.name, cls.Params)
        model = cls(params)
        model.n_users, model.n_items = manifest["n_users"], manifest["n_items"]
        model.scale = a["scale"]
        model.factors = sb.Factors(float(a["mu"]), a["bu"], a["bi"], a["pu"], a["qi"],
                                   a["known_users"], a["known_items"], params.biased)
        return model
