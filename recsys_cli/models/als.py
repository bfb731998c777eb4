"""ALS: weighted matrix factorisation for implicit feedback, via benfred/implicit.

Confidence is ``alpha * summed event weight``; the factors are fit by
implicit's conjugate-gradient ALS with a single-threaded BLAS underneath
(implicit runs its own threads). Scoring and top-k are recsys' own batched
code, so every model ranks the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Self

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from recsys_cli.models.base import Recs, TrainData, rank
from recsys_cli.models.store import load_arrays, save_arrays
from recsys_cli.progress import progress_bar
from recsys_cli.schema import bound


@dataclass
class ALSParams:
    factors: int = bound(64, ge=1)
    regularization: float = bound(0.05, ge=0.0)
    alpha: float = bound(2.0, gt=0.0)
    iterations: int = bound(15, ge=1)
    use_cg: bool = True
    num_threads: int = bound(0, ge=0)  # 0: all cores


class ALS:
    name: ClassVar[str] = "als"
    Params: ClassVar[type] = ALSParams

    def __init__(self, params: ALSParams | None = None, show_progress: bool = False) -> None:
        self.params = params or ALSParams()
        self.show_progress = show_progress
        self.user_factors = np.zeros((0, self.params.factors), dtype=np.float32)
        self.item_factors = np.zeros((0, self.params.factors), dtype=np.float32)
        self.n_users = 0
        self.n_items = 0

    def _implicit_model(self, seed: int):  # noqa: ANN202 - implicit's own class
        from implicit.cpu.als import AlternatingLeastSquares

        p = self.params
        return AlternatingLeastSquares(
            factors=p.factors,
            regularization=p.regularization,
            alpha=p.alpha,
            iterations=p.iterations,
            use_cg=p.use_cg,
            num_threads=p.num_threads,
            random_state=seed,
        )

    def fit(self, data: TrainData) -> Self:
        matrix = data.matrix.astype(np.float32)
        with progress_bar(transient=True) as bar, threadpool_limits(1, "blas"):
            model = self._implicit_model(data.seed)
            task = bar.add_task("ALS iterations", total=self.params.iterations, visible=self.show_progress)
            model.fit(matrix, show_progress=False, callback=lambda *_: bar.advance(task))
        self.user_factors = np.ascontiguousarray(model.user_factors, dtype=np.float32)
        self.item_factors = np.ascontiguousarray(model.item_factors, dtype=np.float32)
        self.n_users, self.n_items = data.n_users, data.n_items
        return self

    def score(self, users: np.ndarray, items: np.ndarray | None = None) -> np.ndarray:
        item_f = self.item_factors if items is None else self.item_factors[items]
        return self.user_factors[users] @ item_f.T

    def recommend(
        self, users: np.ndarray, k: int, exclude: sp.csr_matrix | None = None, items: np.ndarray | None = None
    ) -> Recs:
        return rank(self.score(users, items), k, exclude, items)

    def similar_items(self, items: np.ndarray, k: int) -> Recs:
        norms = np.linalg.norm(self.item_factors, axis=1)
        norms[norms == 0] = 1.0
        unit = self.item_factors / norms[:, None]
        sims = unit[items] @ unit.T
        exclude = sp.csr_matrix(
            (np.ones(len(items)), (np.arange(len(items)), items)), shape=(len(items), self.n_items)
        )
        return rank(sims, k, exclude)

    def save(self, path: Path) -> None:
        save_arrays(
            path, self.name, self.params,
            {"user_factors": self.user_factors, "item_factors": self.item_factors},
            n_users=self.n_users, n_items=self.n_items,
        )

    @classmethod
    def load(cls, path: Path) -> Self:
        params, arrays, manifest = load_arrays(path, cls.name, cls.Params)
        model = cls(params)
        model.user_factors = arrays["user_factors"]
        model.item_factors = arrays["item_factors"]
        model.n_users, model.n_items = manifest["n_users"], manifest["n_items"]
        return model
