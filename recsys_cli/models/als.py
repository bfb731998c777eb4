"""ALS: weighted matrix factorisation for implicit feedback, via benfred/implicit.

Confidence is ``alpha * summed event weight``; the factors are fit by
implicit's conjugate-gradient ALS with a single-threaded BLAS underneath
(implicit runs its own threads). Scoring and top-k are recsys' own batched
code, so every model ranks the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np
from threadpoolctl import threadpool_limits

from recsys_cli.evaluation.metrics import metric_at
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


EpochHook = Callable[[int, Callable[..., float]], None]  # hook(epoch, score); score(metric='ndcg@10')


def iteration_hook(wrapper: FactorModel, fitting: Any, data: TrainData) -> Callable[..., None]:
    """implicit's per-iteration callback that calls ``wrapper.epoch_hook(iteration, score)``.

    ``score(metric)`` measures a valid ranking metric (NDCG@10 by default) of the factors as they stand after the
    iteration (seen train items excluded), only when the hook asks for it;
    the tuner uses this to prune (recsys_cli/tuning/pruning.py). Without a
    hook, or without a valid window, the callback does nothing.
    """
    hook: EpochHook | None = getattr(wrapper, "epoch_hook", None)
    rel = data.valid
    if hook is None or rel is None:
        return lambda *_: None
    users = np.flatnonzero((np.diff(data.matrix.indptr) > 0) & (np.diff(rel.indptr) > 0))

    def score(metric: str = "ndcg@10") -> float:
        wrapper._set_factors(fitting.user_factors, fitting.item_factors)
        return metric_at(wrapper.recommend, users, rel, data.n_items, metric, exclude=data.matrix)

    def callback(iteration: int, *_: Any) -> None:
        if users.size:
            hook(iteration + 1, score)

    return callback


class ALS(FactorModel):
    name: ClassVar[str] = "als"
    Params: ClassVar[type] = ALSParams

    def __init__(self, params: ALSParams | None = None, show_progress: bool = False) -> None:
        super().__init__(params)
        self.show_progress = show_progress
        self.epoch_hook: EpochHook | None = None  # called after each iteration (see iteration_hook)

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
            hook = iteration_hook(self, model, data)

            def callback(*args: Any) -> None:
                bar.advance(task)
                hook(*args)

            model.fit(matrix, show_progress=False, callback=callback)
        self._set_factors(model.user_factors, model.item_factors)
        return self
