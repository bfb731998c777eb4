"""Time-series cross-validation (``split=rolling``): refit and score the model on every earlier origin.

The main split is the last fold (what tune, train and batch-recommend use).
For each earlier fold the features are recomputed from that fold's train
window and the model is refit with the same (tuned) params, then scored like
the main fold. Headline metrics become the mean over all folds, with
``<metric>.std`` and ``fold<i>.<metric>``; beyond-accuracy metrics and
segments stay those of the main (latest) fold. Tuned params come from the
main fold's valid window, which lies after the earlier folds' test windows:
set ``tune.apply_best=false`` for strictly untouched earlier folds.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from recsys_cli import layout
from recsys_cli.config import Config
from recsys_cli.features.store import TFIDF
from recsys_cli.models.popularity import Popularity
from recsys_cli.progress import progress_bar

HEADLINE_PREFIXES = ("ndcg@", "recall@", "precision@", "map@", "mrr@", "hit_rate@", "recall_capped@", "map_capped@")


def fold_names(cfg: Config) -> list[str]:
    root = cfg.paths.processed / layout.FOLDS
    if cfg.paths.fold is not None or not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / layout.window_file("train")).is_file())


def fold_config(cfg: Config, name: str) -> Config:
    return dataclasses.replace(cfg, paths=dataclasses.replace(cfg.paths, fold=name))


def rolling(cfg: Config, main: dict[str, Any]) -> dict[str, Any]:
    """Score every earlier fold; return mean/std over all folds (the main one last) of each headline metric."""
    from recsys_cli.stages import features
    from recsys_cli.stages.eval_ranking import score
    from recsys_cli.stages.eval_setup import load_setup
    from recsys_cli.stages.train import fit_model, tuned_params

    names = fold_names(cfg)
    overrides, _ = tuned_params(cfg)
    per_fold: list[dict[str, Any]] = []
    with progress_bar() as bar:
        task = bar.add_task(f"rolling origin: refitting {cfg.model.name} on {len(names)} earlier folds", total=len(names))
        for name in names:
            fcfg = fold_config(cfg, name)
            if (cfg.paths.features / TFIDF).is_file():
                features.run(fcfg)
            model, data = fit_model(fcfg, overrides, show_progress=False)
            fallback = Popularity().fit(data)
            fitted = ["train", "valid"] if cfg.train.refit_with_valid else ["train"]
            outcome = score(fcfg, load_setup(fcfg, fitted), model, fallback, show_progress=False, with_segments=False)
            per_fold.append(outcome.metrics)
            bar.advance(task)
    per_fold.append(main)
    keys = [k for k in main if k.startswith(HEADLINE_PREFIXES) and ".ci_" not in k]
    out: dict[str, Any] = {"folds": len(per_fold)}
    for key in keys:
        values = np.array([m.get(key, np.nan) for m in per_fold], dtype=float)
        out[key] = round(float(np.nanmean(values)), 6)
        out[f"{key}.std"] = round(float(np.nanstd(values)), 6)
        for i, v in enumerate(values):
            out[f"fold{i}.{key}"] = round(float(v), 6)
    for i, m in enumerate(per_fold):
        out[f"fold{i}.users"] = m.get("users", 0)
    return out
