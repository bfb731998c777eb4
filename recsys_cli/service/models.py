"""A second model next to the served one: any trained model under data/models/, answering through the service.

``recsys train model=NAME`` writes ``data/models/NAME/`` (the held-out fit
on the train window, in the split's index space). The TUI compares it with
the served bundle's model on the same shoppers: :func:`service_for_model`
wraps it in a :class:`RecommenderService` over the served bundle's ids,
catalog and history, so the same rules apply (seen items excluded, fold-in
for history the model never saw, cold start, ties by index). Shoppers the
model was fit on are those with events in its fit windows.

Everything the service derives from the catalog and the history (the
catalog index, segment popularity, new products' content neighbours: tens
of seconds at full scale) is the bundle's and shared with ``base``; only
what depends on the model is derived again (:func:`rebind`). A test checks
the result equals a service built from scratch.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import numpy as np
import polars as pl

from recsys_cli.bundle import BundleError, History
from recsys_cli.manifest import read_manifest, sha256_file
from recsys_cli.models import load_model
from recsys_cli.service.core import RecommenderService
from recsys_cli.service.explain import Explainer
from recsys_cli.service.live import LiveState


def trained_models(models_dir: Path) -> list[str]:
    """Names of the trained models under ``models_dir`` (each a ``recsys train`` output), sorted."""
    if not Path(models_dir).is_dir():
        return []
    return sorted(p.name for p in Path(models_dir).iterdir()
                  if (p / "model").is_dir() and (p / "train_info.json").is_file())


def _fit_users(processed: Path, windows: list[str], n_users: int) -> np.ndarray:
    """Per user: whether they have events in the model's fit windows."""
    known = np.zeros(n_users, dtype=bool)
    for window in windows:
        path = processed / f"{window}.parquet"
        if not path.is_file():
            raise BundleError(f"{path} not found: run `recsys split` (the model's fit window)")
        users = pl.scan_parquet(path).select(pl.col("user_idx").unique()).collect()["user_idx"].to_numpy()
        known[users[(users >= 0) & (users < n_users)]] = True
    return known


def service_for_model(base: RecommenderService, model_dir: Path, processed: Path) -> RecommenderService:
    """The model in ``model_dir`` served over ``base``'s bundle (ids, catalog, history, features).

    Refuses a model trained on another split than the bundle was exported
    from (its index space would not match), naming both files.
    """
    model_dir = Path(model_dir)
    info_file = model_dir / "train_info.json"
    if not info_file.is_file():
        raise BundleError(f"{model_dir}: no trained model there (run `recsys train model={model_dir.name}`)")
    ids_file = processed / "ids.npz"
    if not ids_file.is_file():
        raise BundleError(f"{ids_file} not found: run `recsys split`")
    if sha256_file(ids_file) != sha256_file(base.bundle.path / "ids.npz"):
        raise BundleError(f"{model_dir}: trained on the split in {processed}, not the one {base.bundle.path} "
                          "was exported from; run `recsys export` again")
    info = json.loads(info_file.read_text())
    read_manifest(model_dir, verify=True)  # every file's checksum
    model = load_model(model_dir / "model")
    fallback = load_model(model_dir / "fallback")
    history = base.history
    known = _fit_users(processed, list(info.get("fit_windows", ["train"])), base.n_users)
    bundle = dataclasses.replace(
        base.bundle, model=model, fallback=fallback,
        history=History(matrix=history.matrix, last_ms=history.last_ms, known=known, weight=history.weight),
        manifest={**base.bundle.manifest, "model": str(info.get("model", model_dir.name))},
    )
    return rebind(base, bundle)


def rebind(base: RecommenderService, bundle) -> RecommenderService:  # noqa: ANN001 - a Bundle
    """``base`` with another model, fallback and history over the same ids and catalog.

    What ``RecommenderService.__init__`` derives from the model is derived
    again here; the rest is shared (read-only) with ``base``.
    """
    service = copy.copy(base)
    service.bundle, service.model, service.fallback, service.history = (
        bundle, bundle.model, bundle.fallback, bundle.history)
    service.model_name = str(bundle.manifest.get("model", getattr(bundle.model, "name", "model")))
    service.explainer = Explainer(service.model, service.catalog)
    service.live = LiveState(base.live.weights)
    service._popularity = np.asarray(service.fallback.score(np.zeros(1, dtype=np.int64))[0], dtype=np.float32)
    can = getattr(service.model, "can_fold_in", None)
    service.can_fold_in = bool(can()) if callable(can) else hasattr(service.model, "score_history")
    service.retriever, service._factor_model = service._build_retriever()
    return service
