"""train: fit ``model`` on the train window; save it with a popularity fallback."""

from __future__ import annotations

import json
import time
from typing import Any

from recsys_cli import engines, layout
from recsys_cli.atomic import atomic_dir
from recsys_cli.config import Config
from recsys_cli.manifest import write_manifest
from recsys_cli.models import TrainData, build, params_of
from recsys_cli.models.popularity import Popularity
from recsys_cli.progress import status
from recsys_cli.schema import to_dict
from recsys_cli.stages.inputs import model_dir, train_data

BEST_PARAMS = layout.BEST_PARAMS


def tuned_params(cfg: Config) -> tuple[dict[str, Any], str]:
    """The tuned params that apply to this model, and where they came from."""
    path = cfg.paths.tune / BEST_PARAMS
    if not cfg.tune.apply_best:
        return {}, "config (tune.apply_best=false)"
    if not path.is_file():
        return {}, "config (no tuned params yet)"
    best = json.loads(path.read_text())
    if best.get("model") != cfg.model.name or not best.get("params"):
        return {}, "config"
    tuned = best["params"].get("components") if cfg.model.name == "hybrid" else None
    if tuned is not None:  # tuned per component (tune.components): only for the same components, in order
        configured = [c.name for c in params_of(cfg.model).components]
        if [c.get("name") for c in tuned] != configured:
            return {}, f"config (the tuned components in {path} are not model.components: tune again)"
    return dict(best["params"]), str(path)


def fit_model(cfg: Config, overrides: dict[str, Any] | None = None, show_progress: bool = True) -> tuple[Any, TrainData]:
    """Fit ``cfg.model`` on train (with valid for early stopping / blend weights).

    With ``train.refit_with_valid`` the model is then refit on train+valid
    with what the first fit learned (``fitted_params()``: epochs, weights).
    Returns the model and the data of its final fit.
    """
    data = train_data(cfg)
    model = build(cfg.model, overrides)
    if hasattr(model, "show_progress"):
        model.show_progress = show_progress
    engines.fit(cfg, model, data)
    if cfg.train.refit_with_valid:
        params = model.fitted_params() if hasattr(model, "fitted_params") else model.params
        data = train_data(cfg, refit=True)
        model = type(model)(params)
        if hasattr(model, "show_progress"):
            model.show_progress = show_progress
        engines.fit(cfg, model, data)
    return model, data


def run(cfg: Config) -> None:
    overrides, source = tuned_params(cfg)
    status(f"train: {cfg.model.name}; params from {source}" + ("; refit on train+valid" if cfg.train.refit_with_valid else ""))
    started = time.perf_counter()
    model, data = fit_model(cfg, overrides)
    fit_seconds = time.perf_counter() - started
    fallback = Popularity().fit(data)
    info = {
        "model": cfg.model.name,
        "params": to_dict(model.params),
        # what a refit without a valid window reuses (epochs, blend weights): the production fit of export
        "fitted_params": to_dict(model.fitted_params() if hasattr(model, "fitted_params") else model.params),
        "params_source": source,
        "fit_windows": ["train", "valid"] if cfg.train.refit_with_valid else ["train"],
        "fit_seconds": round(fit_seconds, 3),
        "train_pairs": int(data.matrix.nnz),
        "n_users": data.n_users,
        "n_items": data.n_items,
        "seed": cfg.seed,
    }
    with atomic_dir(model_dir(cfg)) as tmp:
        model.save(tmp / layout.MODEL)
        fallback.save(tmp / layout.FALLBACK)
        (tmp / layout.TRAIN_INFO).write_text(json.dumps(info, indent=2) + "\n")
        (tmp / "config.yaml").write_text(cfg.to_yaml())
        write_manifest(tmp, {"artifact": "recsys-model", "model": cfg.model.name})  # every file, checked on load
    status(f"train: {cfg.model.name} fit in {fit_seconds:.2f}s -> {model_dir(cfg)}")
