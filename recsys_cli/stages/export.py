"""export: the served artifact, data/bundle/ (model, id maps, catalog, history, manifest).

With tracking on, the bundle is also logged as an MLflow pyfunc model (models
from code, ``recsys_cli/mlflow_model.py``) and registered under
``tracking.registered_model``: ``mlflow models serve -m models:/recsys/<version>``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import polars as pl

from recsys_cli import tracking
from recsys_cli.bundle import write_bundle
from recsys_cli.config import Config
from recsys_cli.progress import status
from recsys_cli.stages.inputs import WINDOWS, catalog, ids, matrix, model_dir, need, read_json, window

HISTORY = "history.npz"  # read by recsys_cli/mlflow_model.py (the same name there)


def write_history(path: Path, cfg: Config, fit_windows: list[str]) -> None:
    """Seen items per user over every window (never recommended again) and who has fit-window history."""
    users, items = ids(cfg)
    frames = {name: window(cfg, name) for name in WINDOWS}
    seen = matrix(pl.concat([f.select("user_idx", "item_idx", "weight") for f in frames.values()]), users, items)
    seen.sum_duplicates()
    seen.sort_indices()
    fit = matrix(pl.concat([frames[w].select("user_idx", "item_idx", "weight") for w in fit_windows]), users, items)
    with open(path, "wb") as fh:
        np.savez(fh, indptr=seen.indptr.astype(np.int64), indices=seen.indices.astype(np.int32),
                 known=np.diff(fit.indptr) > 0)


def run(cfg: Config) -> None:
    users, items = ids(cfg)
    src = need(model_dir(cfg) / "model", f"train model={cfg.model.name}").parent
    train_info = read_json(src / "train_info.json", "train")
    with tempfile.TemporaryDirectory(prefix="recsys-export-") as tmp:
        history = Path(tmp) / HISTORY
        write_history(history, cfg, [w for w in train_info.get("fit_windows", ["train"]) if w in WINDOWS])
        manifest = write_bundle(
            cfg.paths.bundle,
            model_dir=src,
            ids_file=cfg.paths.processed / "ids.npz",
            catalog=catalog(cfg, items),
            extra_files={
                "config.yaml": src / "config.yaml",
                "train_info.json": src / "train_info.json",
                "metrics.json": cfg.paths.reports_dir / "metrics.json",
                HISTORY: history,
            },
            info={"model": cfg.model.name, "params": train_info["params"], "n_users": len(users), "n_items": len(items)},
        )
    status(f"export: {len(manifest['files'])} files with sha256 -> {cfg.paths.bundle}")
    version = tracking.register_bundle(cfg.paths.bundle, cfg.tracking.registered_model, k=cfg.recommend.k)
    if version is not None:
        name = cfg.tracking.registered_model
        status(f"export: registered as MLflow model {name!r} version {version} -> models:/{name}/{version}")
