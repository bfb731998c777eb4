"""Pruning: stop a hopeless trial from its per-epoch validation scores.

Iterative models expose ``epoch_hook``: after each epoch (torch models,
``models/neural/loop.py``) or iteration (ALS, BPR, LMF) they call
``hook(epoch, score)``, where ``score(metric)`` returns a valid ranking metric
of the model as it stands (NDCG@10 is already measured by the torch loop for
early stopping; anything else, and everything for the implicit models, is
computed on demand, so an iteration nobody scores costs nothing).
:class:`EpochReporter` is that hook for one trial: every ``report_every``
epochs it reports the study's own metric (``tune.metric``, the one the study
optimises) to the trial and raises
``optuna.TrialPruned`` when the pruner says so. Models without epochs are
never pruned.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import optuna

from recsys_cli.config import TuneConfig


def make_pruner(tune: TuneConfig) -> optuna.pruners.BasePruner:
    """``median``: prune below the median of earlier trials at the same epoch; ``halving``: successive halving."""
    if tune.pruner == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=tune.prune_startup_trials, n_warmup_steps=tune.prune_warmup, interval_steps=1
        )
    if tune.pruner == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(
            min_resource=tune.prune_warmup or "auto", reduction_factor=3, min_early_stopping_rate=0
        )
    return optuna.pruners.NopPruner()


class EpochReporter:
    """The ``epoch_hook`` of one trial: report every ``every`` epochs, prune when told."""

    def __init__(self, trial: optuna.Trial, every: int = 1, metric: str = "ndcg@10") -> None:
        self.trial = trial
        self.every = every
        self.metric = metric  # the study's objective: prune on what is optimised
        self.curve: list[tuple[int, float]] = []  # (epoch, valid metric) as reported
        self.seconds = 0.0  # scoring: evaluation, not fitting
        self.inside = 0.0  # all time in the hook (scoring + reporting + asking the pruner): not fitting

    def __call__(self, epoch: int, score: Callable[..., float]) -> None:
        if epoch % self.every:
            return
        started = time.perf_counter()
        try:
            value = float(score(self.metric))
            self.seconds += time.perf_counter() - started
            self.curve.append((epoch, value))
            self.trial.report(value, epoch)
            prune = self.trial.should_prune()
        finally:
            self.inside += time.perf_counter() - started
        if prune:
            raise optuna.TrialPruned(f"pruned after epoch {epoch}: valid {self.metric} {value:.4f}")


def install(model: Any, trial: optuna.Trial, tune: TuneConfig) -> EpochReporter | None:
    """Hook a reporter into ``model`` when a pruner is on; the reporter, or None.

    Any model takes the attribute; only iterative ones ever call it.
    """
    if tune.pruner == "none":
        return None
    reporter = EpochReporter(trial, tune.report_every, tune.metric)
    model.epoch_hook = reporter
    return reporter
