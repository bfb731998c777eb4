"""export: the served artifact, data/bundle/ (model, id maps, catalog, history, features, manifest).

By default (``export.production=true``) the served model is a *production
fit*: the trained model's params (tuned, and what its held-out fit learned:
epochs, blend weights) refit on every window — train, valid and test — with
features and the popularity fallback recomputed over the same events, so what
is served has seen the newest events. Evaluation numbers keep coming from the
held-out fit of ``recsys train``. ``export.production=false`` bundles that
held-out fit as it is. The manifest records the windows and the cut-off the
served model saw.

With tracking on, the bundle is also logged as an MLflow pyfunc model (models
from code, ``recsys_cli/mlflow_model.py``) and registered under
``tracking.registered_model``: ``mlflow models serve -m models:/recsys/<version>``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import polars as pl

from recsys_cli import engines, layout, tracking
from recsys_cli.atomic import scratch
from recsys_cli.bundle import BundleParts, history_from_events, write_bundle
from recsys_cli.config import Config, fingerprint
from recsys_cli.data.leakage import Cutoff
from recsys_cli.features.store import TFIDF
from recsys_cli.layout import Layout
from recsys_cli.models import model_class
from recsys_cli.models.popularity import Popularity
from recsys_cli.progress import status
from recsys_cli.schema import from_dict, to_dict
from recsys_cli.stages.inputs import catalog, fit_data, ids, model_dir, need, read_json, user_table, window

FIT_WINDOWS = ("train", "valid", "test", "foldin")


def fit_windows(cfg: Config, train_info: dict[str, Any]) -> list[str]:
    """The windows the bundled model learns from: all of them for a production fit, else the trained ones."""
    present = [w for w in FIT_WINDOWS if Layout.of(cfg).window(w).is_file()]
    if cfg.export.production:
        return present
    return [w for w in train_info.get("fit_windows", ["train"]) if w in present]


def production_fit(cfg: Config, train_info: dict[str, Any], events: pl.DataFrame, windows: list[str],
                   staging: Path) -> dict[str, Any]:
    """Refit the trained model on ``events`` (every window) into ``staging``/model, fallback, features."""
    from recsys_cli.stages import features as features_stage

    cutoff = Cutoff.from_split(cfg.paths.processed, stage="export").fit_on(*windows)
    features = None
    if (cfg.paths.features / TFIDF).is_file():  # the features stage ran: recompute them over the same events
        built = features_stage.build(cfg, events, cutoff)
        features_stage.write(built, staging / "features")
        features = features_stage.as_features(built)
    data = fit_data(cfg, events, features)
    cls = model_class(cfg.model.name)
    params = from_dict(cls.Params, train_info.get("fitted_params") or train_info["params"], where="train_info params")
    model = cls(params)
    if hasattr(model, "show_progress"):
        model.show_progress = True
    started = time.perf_counter()
    engines.fit(cfg, model, data, stage="export")
    seconds = time.perf_counter() - started
    model.save(staging / "fit" / "model")
    Popularity().fit(data).save(staging / "fit" / "fallback")
    return {"params": to_dict(model.params), "fit_seconds": round(seconds, 3)}


def run(cfg: Config) -> None:
    users, items = ids(cfg)
    src = need(model_dir(cfg) / "model", f"train model={cfg.model.name}").parent
    train_info = read_json(src / layout.TRAIN_INFO, "train")
    windows = fit_windows(cfg, train_info)
    events = pl.concat([window(cfg, w) for w in windows], how="vertical_relaxed")
    all_events = pl.concat([window(cfg, w) for w in FIT_WINDOWS if Layout.of(cfg).window(w).is_file()],
                           how="vertical_relaxed")
    with scratch(cfg.bundle_path) as staging:
        if cfg.export.production:
            status(f"export: production fit of {cfg.model.name} on {'+'.join(windows)} ({events.height:,} events)")
            fit = production_fit(cfg, train_info, events, windows, staging)
            model_root, features_dir = staging / "fit", staging / "features"
        else:
            fit = {"params": train_info["params"], "fit_seconds": train_info.get("fit_seconds")}
            model_root, features_dir = src, None
        fit_users = events["user_idx"].unique().to_numpy()
        # seen over every window (never listed again); known: who has history in the fit windows
        history = history_from_events(all_events, len(users), len(items), fit_users)
        last = events["timestamp"].max()
        first = events["timestamp"].min()
        info = {
            "model": cfg.model.name,
            "params": fit["params"],
            "n_users": len(users),
            "n_items": len(items),
            "fit": {
                "production": cfg.export.production,
                "windows": windows,
                "events": events.height,
                "users": int(fit_users.size),
                "first_event": first.isoformat() if first is not None else None,
                "cutoff": last.isoformat() if last is not None else None,  # the newest event the model saw
                "fit_seconds": fit["fit_seconds"],
            },
            "heldout_fit_windows": train_info.get("fit_windows", ["train"]),
            "config_sha256": fingerprint(cfg),
        }
        manifest = write_bundle(
            cfg.bundle_path,
            BundleParts(
                model_dir=model_root,
                ids_file=Layout.of(cfg).ids,
                catalog=catalog(cfg, items),
                users=user_table(cfg, users),
                history=history,
                info=info,
                features_dir=features_dir,
                extra_files={
                    "config.yaml": src / "config.yaml",
                    layout.TRAIN_INFO: src / layout.TRAIN_INFO,
                    layout.METRICS: Layout.of(cfg).metrics,
                },
            ),
        )
    what = f"production fit on {'+'.join(windows)} up to {info['fit']['cutoff']}" if cfg.export.production else (
        f"held-out fit on {'+'.join(windows)}")
    status(f"export: {cfg.model.name}, {what}; {len(manifest['files'])} files with sha256 -> {cfg.bundle_path}")
    if cfg.export.uri:
        from recsys_cli import remote

        sent = remote.upload(cfg.bundle_path, cfg.export.uri, cfg.s3)
        status(f"export: uploaded {sent['files']} files (manifest last, version {sent['version']}) -> {sent['uri']}"
               + (f"; removed {sent['removed']} stale keys" if sent["removed"] else ""))
    version = tracking.register_bundle(cfg.bundle_path, cfg.tracking.registered_model, k=cfg.recommend.k)
    if version is not None:
        name = cfg.tracking.registered_model
        status(f"export: registered as MLflow model {name!r} version {version} -> models:/{name}/{version}")
