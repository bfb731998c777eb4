"""LMF: logistic matrix factorisation (Johnson 2014), via implicit.

implicit keeps a user-bias and an item-bias column in the factors. With
``num_threads`` > 1 its SGD is not reproducible; the default of one thread is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

import numpy as np
from threadpoolctl import threadpool_limits

from recsys_cli.models.als import EpochHook, iteration_hook
from recsys_cli.models.base import TrainData
from recsys_cli.models.factors import FactorModel
from recsys_cli.schema import bound


@dataclass
class LMFParams:
    factors: int = bound(30, ge=1)
    learning_rate: float = bound(1.0, gt=0.0)
    regularization: float = bound(0.6, ge=0.0)
    iterations: int = bound(30, ge=1)
    neg_prop: int = bound(30, ge=1)
    num_threads: int = bound(1, ge=0)  # 1: reproducible; 0: all cores


class LMF(FactorModel):
    name: ClassVar[str] = "lmf"
    Params: ClassVar[type] = LMFParams
    epoch_hook: EpochHook | None = None  # called after each iteration (see als.iteration_hook)
    bias_columns: ClassVar[int] = 2

    def fit(self, data: TrainData) -> Self:
        from implicit.cpu.lmf import LogisticMatrixFactorization

        p = self.params
        with threadpool_limits(1, "blas"):
            model = LogisticMatrixFactorization(
                factors=p.factors, learning_rate=p.learning_rate, regularization=p.regularization,
                iterations=p.iterations, neg_prop=p.neg_prop, num_threads=p.num_threads, random_state=data.seed,
            )
            model.fit(data.matrix.astype(np.float32).tocsr(), show_progress=self.show_progress,
                      callback=iteration_hook(self, model, data))
        self._set_factors(model.user_factors, model.item_factors)
        return self
