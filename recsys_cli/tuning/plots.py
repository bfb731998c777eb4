"""Optuna's optimisation-history and param-importance plots, as PNGs under reports/tune/.

History needs one completed trial; importance (fANOVA, seeded) needs two
completed trials whose values differ and a param that varies. Where a plot
cannot be drawn the reason is recorded instead of an error; the importances
also go to ``importance.json`` so they can be diffed.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import optuna
from optuna.importance import BaseImportanceEvaluator
from optuna.trial import TrialState

from recsys_cli.atomic import atomic_file, write_text

HISTORY = "history.png"
IMPORTANCE = "importance.png"


def save(study: optuna.Study, directory: Path, seed: int = 0, target: str = "objective") -> dict[str, Any]:
    """Write the plots that can be drawn; what was written (file name) or skipped (reason), per plot."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    out: dict[str, Any] = {}
    directory.mkdir(parents=True, exist_ok=True)
    if not complete:
        return {"history": "skipped: no completed trial", "importance": "skipped: no completed trial"}
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.importance import FanovaImportanceEvaluator
    from optuna.visualization import matplotlib as vis

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        ax = vis.plot_optimization_history(study, target_name=f"valid {target}")
        _save(ax.figure, directory / HISTORY)
        plt.close(ax.figure)
        out["history"] = HISTORY
        reason = _why_no_importance(complete)
        if reason:
            for stale in (IMPORTANCE, "importance.json"):
                (directory / stale).unlink(missing_ok=True)
            out["importance"] = f"skipped: {reason}"
            return out
        importances = optuna.importance.get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=seed))
        write_text(directory / "importance.json", json.dumps(importances, indent=2) + "\n")
        ax = vis.plot_param_importances(study, evaluator=_Known(importances))  # the same numbers, not refit
        _save(ax.figure, directory / IMPORTANCE)
        plt.close(ax.figure)
        out["importance"] = IMPORTANCE
    return out


class _Known(BaseImportanceEvaluator):
    """Hands Optuna's importance plot the importances already computed."""

    def __init__(self, importances: dict[str, float]) -> None:
        self.importances = importances

    def evaluate(self, study: optuna.Study, params: Any = None, *, target: Any = None) -> dict[str, float]:
        return dict(self.importances)


def _why_no_importance(complete: list[optuna.trial.FrozenTrial]) -> str | None:
    if len(complete) < 2:
        return "needs at least 2 completed trials"
    if len({t.value for t in complete}) < 2:
        return "every completed trial has the same value"
    shared = set.intersection(*(set(t.params) for t in complete))
    if not any(len({repr(t.params[p]) for t in complete}) > 1 for p in shared):
        return "no param varies across the completed trials"
    return None


def _save(figure: Any, path: Path) -> None:
    figure.set_size_inches(8, 4)
    figure.tight_layout()
    with atomic_file(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100)
