"""features: item/user side features and TF-IDF text vectors, from the train window only."""

from __future__ import annotations

import json

import numpy as np
import polars as pl

from recsys_cli.atomic import atomic_dir
from recsys_cli.config import Config
from recsys_cli.features.side import item_features, item_popularity, one_hot, user_features
from recsys_cli.features.store import ITEM_SIDE, ITEM_TABLE, TFIDF, USER_SIDE, USER_TABLE, save_side
from recsys_cli.features.text import fit_tfidf, item_text, save_tfidf
from recsys_cli.progress import status
from recsys_cli.stages.inputs import catalog, ids, read_json, user_table, window


def train_time_items(cfg: Config, cat: pl.DataFrame, train: pl.DataFrame) -> np.ndarray:
    """Rows of the catalog known by the train cutoff: seen in train, or launched before it."""
    known = np.zeros(cat.height, dtype=bool)
    known[train["item_idx"].unique().to_numpy()] = True
    split_info = read_json(cfg.paths.processed / "split_report.json", "split")
    if split_info.get("method") == "temporal" and "launch_date" in cat.columns:
        t1 = pl.Series([split_info["t1"]]).str.to_datetime().cast(pl.Datetime("ms"))[0]
        launched = cat["launch_date"].is_not_null() & (cat["launch_date"] < t1)
        known |= launched.to_numpy()
    return np.flatnonzero(known)


def run(cfg: Config) -> None:
    users, items = ids(cfg)
    train = window(cfg, "train")
    cat = catalog(cfg, items)
    popularity = item_popularity(train, len(items))
    fit_rows = train_time_items(cfg, cat, train)
    tfidf, vocab = fit_tfidf(item_text(cat, cfg.features.text_fields), fit_rows, cfg.features)
    item_table = item_features(train, cat)
    user_table_ = user_features(train, user_table(cfg, users), item_table, len(users))
    item_side = one_hot(item_table, ["top", "category", "brand", "price_band"], {"category": "|"})
    user_side = one_hot(user_table_, ["age_band", "gender", "location", "price_band", "top_category"])
    report = {
        "items": len(items),
        "users": len(users),
        "item_side_columns": int(item_side.names.size),
        "user_side_columns": int(user_side.names.size),
        "tfidf_fit_items": int(fit_rows.size),
        "tfidf_vocabulary": int(vocab.size),
        "tfidf_nnz": int(tfidf.nnz),
        "items_with_train_events": int((popularity["events"] > 0).sum()),
    }
    with atomic_dir(cfg.paths.features) as tmp:
        popularity.write_parquet(tmp / "item_popularity.parquet")
        save_tfidf(tmp / TFIDF, tfidf, vocab)
        item_table.write_parquet(tmp / ITEM_TABLE)
        user_table_.write_parquet(tmp / USER_TABLE)
        save_side(tmp / ITEM_SIDE, item_side)
        save_side(tmp / USER_SIDE, user_side)
        (tmp / "features_report.json").write_text(json.dumps(report, indent=2) + "\n")
    status(
        f"features: {len(items):,} items ({item_side.names.size} side columns), {len(users):,} users "
        f"({user_side.names.size} side columns), TF-IDF vocabulary of {vocab.size:,} words "
        f"(fit on {fit_rows.size:,} train-time items) -> {cfg.paths.features}"
    )
