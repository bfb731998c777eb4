"""BPR: Bayesian personalised ranking (pairwise SGD on binary feedback), via implicit.

implicit appends an item-bias column to the item factors (and ones to the
user factors). With ``num_threads`` > 1 implicit's SGD is lock-free (Hogwild)
and not reproducible; the default of one thread is.
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
class BPRParams:
    factors: int = bound(64, ge=1)
    learning_rate: float = bound(0.05, gt=0.0)
    regularization: float = bound(0.01, ge=0.0)
    iterations: int = bound(100, ge=1)
    num_threads: int = bound(1, ge=0)  # 1: reproducible; 0: all cores (Hogwild)


class BPR(FactorModel):
    name: ClassVar[str] = "bpr"
    Params: ClassVar[type] = BPRParams
    epoch_hook: EpochHook | None = None  # called after each iteration (see als.iteration_hook)
    bias_columns: ClassVar[int] = 1

    def fit(self, data: TrainData) -> Self:
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        p = self.params
        with threadpool_limits(1, "blas"):
            model = BayesianPersonalizedRanking(
                factors=p.factors, learning_rate=p.learning_rate, regularization=p.regularization,
                iterations=p.iterations, num_threads=p.num_threads, random_state=data.seed,
            )
            model.fit((data.matrix > 0).astype(np.float32).tocsr(), show_progress=self.show_progress,
                      callback=iteration_hook(self, model, data))
        self._set_factors(model.user_factors, model.item_factors)
        return self
