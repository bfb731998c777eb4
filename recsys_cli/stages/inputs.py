"""Reading what earlier stages wrote, with a clear error when a stage has not run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp

from recsys_cli import layout
from recsys_cli.config import Config
from recsys_cli.data.ids import IdMap, load_ids
from recsys_cli.data.interactions import to_matrix
from recsys_cli.errors import StageInputError
from recsys_cli.layout import Layout
from recsys_cli.models import Recommender, TrainData, load_model

WINDOWS = layout.WINDOWS


def need(path: Path, stage: str) -> Path:
    if not path.exists():
        raise StageInputError(f"{path} not found: run `recsys {stage}` first")
    return path


def read_json(path: Path, stage: str) -> dict[str, Any]:
    return json.loads(need(path, stage).read_text())


def ids(cfg: Config) -> tuple[IdMap, IdMap]:
    return load_ids(need(Layout.of(cfg).ids, "split"))


def window(cfg: Config, name: str) -> pl.DataFrame:
    return pl.read_parquet(need(Layout.of(cfg).window(name), "split"))


def catalog(cfg: Config, items: IdMap) -> pl.DataFrame:
    """The catalog in item-index order (rows for every indexed item)."""
    frame = pl.read_parquet(need(Layout.of(cfg).items, "ingest"))
    order = pl.DataFrame({"item_id": items.ids})
    return order.join(frame, on="item_id", how="left", maintain_order="left")


def matrix(frame: pl.DataFrame, users: IdMap, items: IdMap, value: str | None = "weight") -> sp.csr_matrix:
    return to_matrix(frame, len(users), len(items), value)


def user_table(cfg: Config, users: IdMap) -> pl.DataFrame:
    """The user table in user-index order (rows for every indexed user)."""
    frame = pl.read_parquet(need(Layout.of(cfg).users, "ingest"))
    order = pl.DataFrame({"user_id": users.ids})
    return order.join(frame, on="user_id", how="left", maintain_order="left")


def ratings(frame: pl.DataFrame, users: IdMap, items: IdMap) -> sp.csr_matrix | None:
    """Explicit ratings (the latest per user and item), or None if the data has none."""
    rated = frame.filter(pl.col("rating").is_not_null())
    if rated.height == 0:
        return None
    last = rated.sort("timestamp").group_by("user_idx", "item_idx").agg(pl.col("rating").last())
    return matrix(last, users, items, value="rating")


def train_data(cfg: Config, refit: bool = False, stage: str = "train") -> TrainData:
    """The fit window as models see it: train (or train+valid when ``refit``), valid relevance, features.

    The leakage guard runs first: the fit window must end before the cutoff
    (t1, or t2 when ``refit``) and hold only its own events, and features on
    disk must carry the fingerprint of exactly the current train window.
    """
    from recsys_cli.data.leakage import Cutoff, check_fingerprint, check_frame
    from recsys_cli.features.store import TFIDF, load_features, load_fingerprint

    users, items = ids(cfg)
    cutoff = Cutoff.from_split(cfg.paths.processed, stage=stage)
    train = window(cfg, "train")
    valid = window(cfg, "valid")
    fit = pl.concat([train, valid], how="vertical_relaxed") if refit else train
    check_frame(fit, cutoff.fit_on("train", "valid") if refit else cutoff, stage, "the fit window")
    fit_matrix = matrix(fit, users, items)
    valid_rel = None
    if not refit and valid.height:
        valid_rel = relevant(cfg, valid, users, items, fit_matrix)
    feature_dir = cfg.paths.features
    features = None
    if (feature_dir / TFIDF).is_file():
        check_fingerprint(load_fingerprint(feature_dir), cutoff, stage, f"the features in {feature_dir}")
        features = load_features(feature_dir)
    return fit_data(cfg, fit, features, valid_rel, fit_matrix)


def fit_data(cfg: Config, fit: pl.DataFrame, features: Any = None, valid: sp.csr_matrix | None = None,
             fit_matrix: sp.csr_matrix | None = None) -> TrainData:
    """``TrainData`` over the events of ``fit`` (already checked against the split by the caller)."""
    users, items = ids(cfg)
    columns = [c for c in ("user_idx", "item_idx", "timestamp", "weight", "event", "rating", "session_id") if c in fit.columns]
    return TrainData(
        matrix=fit_matrix if fit_matrix is not None else matrix(fit, users, items),
        events=fit.select(columns),
        items=catalog(cfg, items),
        users=user_table(cfg, users),
        features=features,
        valid=valid,
        ratings=ratings(fit, users, items),
        seed=cfg.seed,
    )


def seen(cfg: Config, users: IdMap, items: IdMap) -> sp.csr_matrix:
    """What counts as already seen at evaluation time: the ``eval.exclude_windows`` windows."""
    frames = [window(cfg, name) for name in cfg.eval.exclude_windows]
    return matrix(pl.concat([f.select("user_idx", "item_idx", "weight") for f in frames]), users, items)


def relevant(cfg: Config, frame: pl.DataFrame, users: IdMap, items: IdMap, seen: sp.csr_matrix | None) -> sp.csr_matrix:
    """Binary relevance from a window's events (``eval.relevant_events``), minus seen items."""
    if cfg.eval.relevant_events is not None:
        frame = frame.filter(pl.col("event").is_in(cfg.eval.relevant_events))
    rel = matrix(frame, users, items, value=None)
    rel.data[:] = 1.0
    if seen is not None and cfg.eval.exclude_seen:
        rel = rel - rel.multiply(seen > 0)
        rel.eliminate_zeros()
    rel.sort_indices()
    return sp.csr_matrix(rel, dtype=np.float32)


def model_dir(cfg: Config, name: str | None = None) -> Path:
    return Layout.of(cfg).model_dir(name or cfg.model.name)


def trained_model(cfg: Config) -> tuple[Recommender, Recommender]:
    """The trained model of ``cfg.model.name`` and its popularity fallback."""
    path = need(model_dir(cfg) / layout.MODEL, f"train model={cfg.model.name}")
    return load_model(path), load_model(need(model_dir(cfg) / layout.FALLBACK, "train"))
