"""One trial: sample a point of the space, fit on train, score on valid.

The test window is never passed in: the objective gets the train-window
``TrainData`` (whose ``valid`` relevance it ranks against) and nothing else.
Each trial records how long the fit and the evaluations took (``fit_seconds``,
``eval_seconds``; per-epoch scoring for pruning counts as evaluation, reporting
to the pruner as neither) and its per-epoch valid curve, so the study's own
overhead can be told apart.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna

from recsys_cli.config import ModelConfig, TuneConfig
from recsys_cli.errors import ConfigError
from recsys_cli.evaluation.metrics import METRICS, evaluate
from recsys_cli.models import TrainData, build
from recsys_cli.tuning.pruning import install
from recsys_cli.tuning.space import sample


def metric_cutoff(metric: str) -> int:
    """The k of a ``name@k`` ranking metric; a config error for anything else."""
    name, sep, k = metric.partition("@")
    if not sep or name not in METRICS or not k.isdigit() or int(k) < 1:
        raise ConfigError(
            f"tune.metric: {metric!r} is not a ranking metric at a cutoff; use NAME@K with NAME one of: {', '.join(METRICS)}"
        )
    return int(k)


def valid_users(data: TrainData) -> np.ndarray:
    """Users scored on valid: a train history and at least one valid item."""
    if data.valid is None:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero((np.diff(data.matrix.indptr) > 0) & (np.diff(data.valid.indptr) > 0))


@dataclass
class Objective:
    model: ModelConfig
    tune: TuneConfig
    data: TrainData
    batch_size: int = 2048

    def __post_init__(self) -> None:
        self.k = metric_cutoff(self.tune.metric)
        self.users = valid_users(self.data)

    def __call__(self, trial: optuna.Trial) -> float:
        params = sample(trial, self.tune.space)
        model = build(self.model, params)
        if hasattr(model, "show_progress"):
            model.show_progress = False
        reporter = install(model, trial, self.tune)
        fit = scoring = 0.0
        try:
            started = time.perf_counter()
            try:
                model.fit(self.data)
            finally:  # the hook's reporting and pruning bookkeeping count as neither fit nor evaluation
                scoring = reporter.seconds if reporter else 0.0
                fit = time.perf_counter() - started - (reporter.inside if reporter else 0.0)
            started = time.perf_counter()
            assert self.data.valid is not None
            result = evaluate(model.recommend, self.users, self.data.valid, self.data.n_items, [self.k],
                              exclude=self.data.matrix, batch_size=self.batch_size)
            scoring += time.perf_counter() - started
            return float(result.summary[self.tune.metric])
        finally:  # one storage write per trial, pruned or not
            curve = reporter.curve if reporter else _history(model)
            trial.set_user_attr("measured", {
                "fit_seconds": round(fit, 4), "eval_seconds": round(scoring, 4),
                "curve": [[e, round(v, 6)] for e, v in curve],
            })


def _history(model: Any) -> list[tuple[int, float]]:
    history = getattr(model, "history", None)
    valid = getattr(history, "valid", None) or []
    return [(i + 1, float(v)) for i, v in enumerate(valid)]
