"""ALS: weighted matrix factorisation for implicit feedback, via benfred/implicit.

Confidence is ``alpha * summed event weight``; the factors are fit by
implicit's conjugate-gradient ALS with a single-threaded BLAS underneath
(implicit runs its own threads). Scoring and top-k are recsys' own batched
code, so every model ranks the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

import numpy as np
from threadpoolctl import threadpool_limits

from recsys_cli.models.base import TrainData
from recsys_cli.models.factors import FactorModel
from recsys_cli.progress import progress_bar
from recsys_cli.schema import bound


@dataclass
class ALSParams:
    factors: int = bound(64, ge=1)
    regularization: float = bound(0.05, ge=0.0)
    alpha: float = bound(2.0, gt=0.0)
    iterations: int = bound(15, ge=1)
    use_cg: bool = True
    num_threads: int = bound(0, ge=0)  # 0: all cores (ALS is reproducible either way)


class ALS(FactorModel):
    name: ClassVar[str] = "als"
    Params: ClassVar[type] = ALSParams

    def __init__(self, params: ALSParams | None = None, show_progress: bool = False) -> None:
        super().__init__(params)
        self.show_progress = show_progress

    def fit(self, data: TrainData) -> Self:
        from implicit.cpu.als import AlternatingLeastSquares

        p = self.params
        matrix = data.matrix.astype(np.float32)
        with progress_bar(transient=True) as bar, threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(
                factors=p.factors, regularization=p.regularization, alpha=p.alpha, iterations=p.iterations,
                use_cg=p.use_cg, num_threads=p.num_threads, random_state=data.seed,
            )
            task = bar.add_task("ALS iterations", total=p.iterations, visible=self.show_progress)
            model.fit(matrix, show_progress=False, callback=lambda *_: bar.advance(task))
        self._set_factors(model.user_factors, model.item_factors)
        return self
