"""Reading what earlier stages wrote, with a clear error when a stage has not run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp

from recsys_cli.config import Config
from recsys_cli.data.ids import IdMap, load_ids
from recsys_cli.data.interactions import to_matrix
from recsys_cli.errors import StageInputError
from recsys_cli.models import Recommender, TrainData, load_model

WINDOWS = ("train", "valid", "test")


def need(path: Path, stage: str) -> Path:
    if not path.exists():
        raise StageInputError(f"{path} not found: run `recsys {stage}` first")
    return path


def read_json(path: Path, stage: str) -> dict[str, Any]:
    return json.loads(need(path, stage).read_text())


def ids(cfg: Config) -> tuple[IdMap, IdMap]:
    return load_ids(need(cfg.paths.processed / "ids.npz", "split"))


def window(cfg: Config, name: str) -> pl.DataFrame:
    return pl.read_parquet(need(cfg.paths.processed / f"{name}.parquet", "split"))


def catalog(cfg: Config, items: IdMap) -> pl.DataFrame:
    """The catalog in item-index order (rows for every indexed item)."""
    frame = pl.read_parquet(need(cfg.paths.interim / "items.parquet", "ingest"))
    order = pl.DataFrame({"item_id": items.ids})
    return order.join(frame, on="item_id", how="left", maintain_order="left")


def matrix(frame: pl.DataFrame, users: IdMap, items: IdMap, value: str | None = "weight") -> sp.csr_matrix:
    return to_matrix(frame, len(users), len(items), value)


def train_data(cfg: Config) -> TrainData:
    users, items = ids(cfg)
    train = window(cfg, "train")
    return TrainData(
        matrix=matrix(train, users, items),
        events=train.select("user_idx", "item_idx", "timestamp", "weight", "event"),
        items=catalog(cfg, items),
        seed=cfg.seed,
    )


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
    return cfg.paths.models / (name or cfg.model.name)


def trained_model(cfg: Config) -> tuple[Recommender, Recommender]:
    """The trained model of ``cfg.model.name`` and its popularity fallback."""
    path = need(model_dir(cfg) / "model", f"train model={cfg.model.name}")
    return load_model(path), load_model(need(model_dir(cfg) / "fallback", "train"))
