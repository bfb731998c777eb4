"""What a study leaves for ``train`` and for people: best_params.json, trials.json, summary.json.

Both are written as single files (temporary + rename), never by replacing
``data/tune/`` as a directory, so the stored study next to them survives.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from recsys_cli import layout
from recsys_cli.atomic import write_text

BEST_PARAMS = layout.BEST_PARAMS  # read by recsys_cli.stages.train.tuned_params
TRIALS = "trials.json"


def trial_rows(study: optuna.Study) -> list[dict[str, Any]]:
    rows = []
    for t in study.get_trials(deepcopy=False):
        measured = t.user_attrs.get("measured", {})
        rows.append({
            "number": t.number,
            "state": t.state.name.lower(),
            "value": t.value if t.state == TrialState.COMPLETE else None,  # a pruned trial has only its curve
            "params": t.params,
            "default": bool(t.user_attrs.get("default")),
            "retry_of": t.user_attrs.get("retry_of"),
            "curve": measured.get("curve", []),  # [epoch, valid ndcg@10] as reported for pruning
            "fit_seconds": measured.get("fit_seconds"),
            "eval_seconds": measured.get("eval_seconds"),
            "seconds": round(t.duration.total_seconds(), 4) if t.duration else None,
        })
    return rows


def summary(study: optuna.Study, model: str, metric: str) -> dict[str, Any]:
    """The best trial (the winner ``train`` applies), the default's value and the trial counts."""
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    states = {s.name.lower(): sum(t.state == s for t in trials) for s in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)}
    default = next((t for t in complete if t.user_attrs.get("default")), None)
    out: dict[str, Any] = {"model": model, "params": {}, "metric": metric, "value": None}
    if complete:
        best = study.best_trial
        out.update(params=best.params, value=best.value, best_trial=best.number)
    else:
        out["note"] = "no trial completed"
    out.update(
        default_value=default.value if default else None,
        default_params=default.params if default else None,
        trials=states["complete"] + states["pruned"],
        **states,
        study=study.study_name,
    )
    return out


def write(directory: Path, best: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    write_text(directory / BEST_PARAMS, json.dumps(best, indent=2) + "\n")
    write_text(directory / TRIALS, json.dumps(rows, indent=2) + "\n")


def write_summary(directory: Path, summary: dict[str, Any]) -> None:
    """reports/tune/summary.json: the study at a glance (best and default value, counts, plots drawn)."""
    write_text(directory / "summary.json", json.dumps(summary, indent=2) + "\n")
