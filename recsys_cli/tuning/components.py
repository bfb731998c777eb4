"""A hybrid's components tuned one by one before the blend (``tune.components``).

Every component whose model is named in ``tune.components`` (with a search
space and trials > 0) gets its own study: exactly the study
``recsys tune model=<name>`` would run, with the component's configured
params as trial 0 and the same objective (fit on train, score on valid). The
studies share the storage file, one per component and objective, so a rerun
resumes each. The winners replace those components' params; the blend
weights are learned afterwards by the hybrid's own fit (``train``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import optuna

from recsys_cli.config import Config, ModelConfig
from recsys_cli.models import TrainData, params_of
from recsys_cli.models.hybrid import Component
from recsys_cli.schema import to_dict
from recsys_cli.tuning import results

__all__ = ["ComponentStudy", "plan", "tuned_components"]


@dataclass
class ComponentStudy:
    index: int  # position in model.components
    cfg: Config  # the config of its own study: model = the component, tune.space = its space


def plan(cfg: Config) -> list[ComponentStudy]:
    """The component studies ``cfg`` asks for, in component order (none unless model=hybrid)."""
    if cfg.model.name != "hybrid":
        return []
    out = []
    for i, comp in enumerate(params_of(cfg.model).components):
        entry = cfg.tune.components.get(comp.name)
        if entry is None or not entry.space:
            continue
        trials = cfg.tune.trials if entry.trials is None else entry.trials
        if trials == 0:
            continue
        tune = replace(cfg.tune, space=entry.space, trials=trials, components={})
        out.append(ComponentStudy(i, replace(cfg, model=ModelConfig(comp.name, dict(comp.params)), tune=tune)))
    return out


def run(cfg: Config, data: TrainData, directory: Path) -> list[tuple[ComponentStudy, optuna.Study, int]]:
    """Run (or resume) every planned component study; each with how many finished trials it held before."""
    from recsys_cli.tuning import tune

    done = []
    for study_plan in plan(cfg):
        study, resumed = tune(study_plan.cfg, data, directory)
        done.append((study_plan, study, resumed))
    return done


def tuned_components(cfg: Config, winners: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    """``model.components`` with each tuned component's params updated by its study's winner."""
    out = []
    for i, comp in enumerate(params_of(cfg.model).components):
        out.append(to_dict(Component(comp.name, comp.weight, {**comp.params, **winners.get(i, {})})))
    return out


def summary(cfg: Config, done: list[tuple[ComponentStudy, optuna.Study, int]]) -> tuple[dict[str, Any], list[dict]]:
    """best_params.json for the hybrid (its tuned components) and the trial rows of every study."""
    per_component, rows, winners = [], [], {}
    for study_plan, study, resumed in done:
        name = study_plan.cfg.model.name
        best = results.summary(study, name, cfg.tune.metric)
        best.update(component=study_plan.index, resumed_from=resumed)
        per_component.append(best)
        if best["value"] is not None:
            winners[study_plan.index] = best["params"]
        rows += [{"component": study_plan.index, "model": name, **row} for row in results.trial_rows(study)]
    out = {
        "model": "hybrid",
        "params": {"components": tuned_components(cfg, winners)} if winners else {},
        "metric": cfg.tune.metric,
        "components": per_component,
    }
    return out, rows
