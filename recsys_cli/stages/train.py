"""train: fit ``model`` on the train window; save it with a popularity fallback."""

from __future__ import annotations

import json
import time
from typing import Any

from recsys_cli.atomic import atomic_dir
from recsys_cli.config import Config
from recsys_cli.models import build
from recsys_cli.models.popularity import Popularity
from recsys_cli.progress import status
from recsys_cli.schema import to_dict
from recsys_cli.stages.inputs import model_dir, train_data

BEST_PARAMS = "best_params.json"


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
    return dict(best["params"]), str(path)


def run(cfg: Config) -> None:
    data = train_data(cfg)
    overrides, source = tuned_params(cfg)
    model = build(cfg.model, overrides)
    if hasattr(model, "show_progress"):
        model.show_progress = True
    status(f"train: {cfg.model.name} on {data.matrix.nnz:,} user-item pairs; params from {source}")
    started = time.perf_counter()
    model.fit(data)
    fit_seconds = time.perf_counter() - started
    fallback = Popularity().fit(data)
    info = {
        "model": cfg.model.name,
        "params": to_dict(model.params),
        "params_source": source,
        "fit_seconds": round(fit_seconds, 3),
        "train_pairs": int(data.matrix.nnz),
        "n_users": data.n_users,
        "n_items": data.n_items,
        "seed": cfg.seed,
    }
    with atomic_dir(model_dir(cfg)) as tmp:
        model.save(tmp / "model")
        fallback.save(tmp / "fallback")
        (tmp / "train_info.json").write_text(json.dumps(info, indent=2) + "\n")
        (tmp / "config.yaml").write_text(cfg.to_yaml())
    status(f"train: {cfg.model.name} fit in {fit_seconds:.2f}s -> {model_dir(cfg)}")
