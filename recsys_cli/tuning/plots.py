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

import threading

import optuna
from optuna.trial import TrialState

from recsys_cli.atomic import atomic_file, write_text

HISTORY = "history.png"
IMPORTANCE = "importance.png"


def save(study: optuna.Study, directory: Path, seed: int = 0, target: str = "objective",
         warm_up: threading.Thread | None = None) -> dict[str, Any]:
    """Write the plots that can be drawn; what was written (file name) or skipped (reason), per plot."""
    if warm_up is not None:
        warm_up.join()
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
        _save(ax.figure, directory / HISTORY, right=0.74)  # the legend sits right of the axes
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
        ax = vis.plot_param_importances(study, evaluator=_known(importances))  # the same numbers, not refit
        _save(ax.figure, directory / IMPORTANCE, left=0.22)  # param names left of the bars
        plt.close(ax.figure)
        out["importance"] = IMPORTANCE
    return out


def _known(importances: dict[str, float]) -> Any:
    """An evaluator that hands Optuna's importance plot the importances already computed."""
    from optuna.importance import BaseImportanceEvaluator

    class Known(BaseImportanceEvaluator):
        def evaluate(self, study: optuna.Study, params: Any = None, *, target: Any = None) -> dict[str, float]:
            return dict(importances)

    return Known()


def _warm_up() -> None:
    """Import matplotlib, Optuna's plotting and importance modules (scikit-learn) and load the fonts."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna.importance  # noqa: F401  (imports scikit-learn's ensemble for fANOVA: about a second)
    from optuna.visualization import matplotlib as _vis  # noqa: F401

    fig = plt.figure(figsize=(1, 1))
    fig.text(0.5, 0.5, "warm")
    fig.savefig(io.BytesIO(), format="png")
    plt.close(fig)


def prepare() -> threading.Thread:
    """Start the plots' one-off warm-up in the background, while the study's trials run.

    The study mostly waits on native code (BLAS, implicit, numpy ranking) that
    leaves a core idle; the imports and font loading take that time instead of
    adding a second or more after the last trial. :func:`save` waits for it.
    """
    thread = threading.Thread(target=_warm_up, name="tune-plots-warm-up", daemon=True)
    thread.start()
    return thread


def _why_no_importance(complete: list[optuna.trial.FrozenTrial]) -> str | None:
    if len(complete) < 2:
        return "needs at least 2 completed trials"
    if len({t.value for t in complete}) < 2:
        return "every completed trial has the same value"
    shared = set.intersection(*(set(t.params) for t in complete))
    if not any(len({repr(t.params[p]) for t in complete}) > 1 for p in shared):
        return "no param varies across the completed trials"
    return None


def _save(figure: Any, path: Path, left: float = 0.1, right: float = 0.97) -> None:
    figure.set_size_inches(8, 4)
    figure.subplots_adjust(left=left, right=right, top=0.9, bottom=0.14)  # fixed margins: tight_layout costs ~0.2 s a plot
    with atomic_file(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100)
