"""tune: an Optuna study over the model's search space, scored on the valid window.

Each trial fits on train and ranks for users with train history against
their valid-window items; the test window is never read. The config's own
params are the first trial, so the best is never worse than the default on
validation. The winner goes to data/tune/best_params.json for ``train``.
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
import optuna

from recsys_cli.atomic import atomic_dir
from recsys_cli.config import Config, ParamSpace
from recsys_cli.evaluation.metrics import evaluate
from recsys_cli.models import build, params_of
from recsys_cli.progress import progress_bar, status
from recsys_cli.schema import to_dict
from recsys_cli.errors import StageInputError
from recsys_cli.stages.inputs import train_data
from recsys_cli.stages.train import BEST_PARAMS


def suggest(trial: optuna.Trial, name: str, spec: ParamSpace) -> Any:
    if spec.type == "categorical":
        return trial.suggest_categorical(name, spec.choices)  # type: ignore[arg-type]
    if spec.type == "int":
        step = int(spec.step or 1)
        return trial.suggest_int(name, int(spec.low), int(spec.high), step=step, log=spec.log)  # type: ignore[arg-type]
    return trial.suggest_float(name, float(spec.low), float(spec.high), step=spec.step, log=spec.log)  # type: ignore[arg-type]


def _in_space(value: Any, spec: ParamSpace) -> bool:
    if spec.type == "categorical":
        return value in (spec.choices or [])
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return spec.low is not None and spec.high is not None and spec.low <= value <= spec.high


def run(cfg: Config) -> None:
    space = cfg.tune.space
    out = cfg.paths.tune
    if not space or cfg.tune.trials == 0:
        reason = "no search space for this model" if not space else "tune.trials=0"
        _write(cfg, {"model": cfg.model.name, "params": {}, "note": reason}, [])
        status(f"tune: nothing to tune for {cfg.model.name} ({reason}) -> {out / BEST_PARAMS}")
        return

    data = train_data(cfg, stage="tune")
    if data.valid is None:
        raise StageInputError("tune: the valid window is empty; use a split with valid_frac > 0 (or n_valid > 0)")
    rel = data.valid
    n_items = data.n_items
    known = np.diff(data.matrix.indptr) > 0
    valid_users = np.flatnonzero(known & (np.diff(rel.indptr) > 0))
    metric = cfg.tune.metric
    ks = sorted({int(metric.split("@")[1]), *cfg.eval.k}) if "@" in metric else cfg.eval.k
    defaults = to_dict(params_of(cfg.model))

    def objective(trial: optuna.Trial) -> float:
        chosen: dict[str, Any] = {}
        for name, spec in space.items():  # in file order, so a condition sees the params before it
            if all(chosen.get(p) == v for p, v in (spec.when or {}).items()):
                chosen[name] = suggest(trial, name, spec)
        model = build(cfg.model, chosen)
        if hasattr(model, "show_progress"):
            model.show_progress = False
        model.fit(data)
        result = evaluate(model.recommend, valid_users, rel, n_items, ks, exclude=data.matrix,
                          batch_size=cfg.eval.batch_size)
        if metric not in result.summary:
            raise optuna.TrialPruned(f"metric {metric} not computed")
        return result.summary[metric]

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=cfg.tune.seed))
    first = {k: defaults[k] for k in space if k in defaults and _in_space(defaults[k], space[k])}
    if len(first) == len(space):
        study.enqueue_trial(first)
    started = time.perf_counter()
    with progress_bar() as bar:
        task = bar.add_task(f"tuning {cfg.model.name} ({metric} on valid)", total=cfg.tune.trials)

        def advance(st: optuna.Study, tr: optuna.trial.FrozenTrial) -> None:
            best = st.best_value if st.best_trial is not None else float("nan")
            bar.update(task, advance=1, description=f"tuning {cfg.model.name}: best {metric} {best:.4f}")

        study.optimize(objective, n_trials=cfg.tune.trials, timeout=cfg.tune.timeout, callbacks=[advance])
    trials = [
        {"number": t.number, "value": t.value, "params": t.params, "seconds": t.duration.total_seconds() if t.duration else None}
        for t in study.trials
    ]
    best = {
        "model": cfg.model.name,
        "params": study.best_params,
        "metric": metric,
        "value": study.best_value,
        "default_value": trials[0]["value"] if first and len(first) == len(space) else None,
        "trials": len(study.trials),
        "valid_users": int(valid_users.size),
        "seconds": round(time.perf_counter() - started, 2),
    }
    _write(cfg, best, trials)
    status(f"tune: best {metric} {study.best_value:.4f} on valid with {study.best_params} -> {out / BEST_PARAMS}")


def _write(cfg: Config, best: dict[str, Any], trials: list[dict[str, Any]]) -> None:
    with atomic_dir(cfg.paths.tune) as tmp:
        (tmp / BEST_PARAMS).write_text(json.dumps(best, indent=2) + "\n")
        (tmp / "trials.json").write_text(json.dumps(trials, indent=2) + "\n")
