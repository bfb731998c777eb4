"""features: item/user side features and TF-IDF text vectors, from the train window only.

The leakage guard (recsys_cli.data.leakage) checks the events every feature is
computed from against the split before anything is computed, and the report
records a fingerprint of them that train and tune verify.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp

from recsys_cli.atomic import atomic_dir
from recsys_cli.config import Config
from recsys_cli.config import fingerprint as config_fingerprint
from recsys_cli.data.leakage import Cutoff, check_frame, fingerprint
from recsys_cli.features.side import SideMatrix, item_features, item_popularity, one_hot, user_features
from recsys_cli.features.store import (
    FINGERPRINT_KEY,
    ITEM_SIDE,
    ITEM_TABLE,
    REPORT,
    TFIDF,
    USER_SIDE,
    USER_TABLE,
    Features,
    save_side,
)
from recsys_cli.features.text import fit_tfidf, item_text, save_tfidf, with_reviews
from recsys_cli.layout import Layout
from recsys_cli.progress import status
from recsys_cli.schema import to_dict
from recsys_cli.stages.inputs import catalog, ids, read_json, user_table, window


def train_time_items(cfg: Config, cat: pl.DataFrame, train: pl.DataFrame) -> np.ndarray:
    """Rows of the catalog known by the train cutoff: seen in train, or launched before it."""
    known = np.zeros(cat.height, dtype=bool)
    known[train["item_idx"].unique().to_numpy()] = True
    split_info = read_json(Layout.of(cfg).split_report, "split")
    if "t1" in split_info and "launch_date" in cat.columns:  # a global train cutoff (temporal, rolling)
        t1 = pl.Series([split_info["t1"]]).str.to_datetime().cast(pl.Datetime("ms"))[0]
        launched = cat["launch_date"].is_not_null() & (cat["launch_date"] < t1)
        known |= launched.to_numpy()
    return np.flatnonzero(known)


@dataclass
class Built:
    """Everything the features stage writes, before it is written."""

    popularity: pl.DataFrame
    tfidf: sp.csr_matrix
    vocabulary: np.ndarray
    item_table: pl.DataFrame
    user_table: pl.DataFrame
    item_side: SideMatrix
    user_side: SideMatrix
    report: dict[str, Any]


def build(cfg: Config, train: pl.DataFrame, cutoff: Cutoff) -> Built:
    """Compute the features from ``train``, after the leakage guard has checked it against ``cutoff``.

    ``train`` must be the train window (or part of it): any event at or after
    the temporal cutoff, or not in the train window of a per-user split,
    raises :class:`~recsys_cli.errors.DataError` before anything is computed.
    """
    # every event-derived feature below (popularity, recency, trend, holiday share,
    # user behaviour, review text, and which items count as known to the TF-IDF fit) reads `train`
    what = "item popularity, recency and trend counts, user features and TF-IDF fit items"
    check_frame(train, cutoff, "features", what)
    users, items = ids(cfg)
    cat = catalog(cfg, items)
    popularity = item_popularity(train, len(items))
    fit_rows = train_time_items(cfg, cat, train)
    texts = with_reviews(item_text(cat, cfg.features.text_fields), train, cfg.features.text_fields)
    tfidf, vocab = fit_tfidf(texts, fit_rows, cfg.features)
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
        FINGERPRINT_KEY: fingerprint(train, cutoff),
        "features_config": to_dict(cfg.features),  # the params this stage reads (dvc.yaml: features)
        "config_sha256": config_fingerprint(cfg),  # the whole config of the run that made these files
    }
    return Built(popularity, tfidf, vocab, item_table, user_table_, item_side, user_side, report)


def write(built: Built, directory: Path) -> None:
    """The features files into ``directory`` (an empty staging directory)."""
    directory.mkdir(parents=True, exist_ok=True)
    built.popularity.write_parquet(directory / "item_popularity.parquet")
    save_tfidf(directory / TFIDF, built.tfidf, built.vocabulary)
    built.item_table.write_parquet(directory / ITEM_TABLE)
    built.user_table.write_parquet(directory / USER_TABLE)
    save_side(directory / ITEM_SIDE, built.item_side)
    save_side(directory / USER_SIDE, built.user_side)
    (directory / REPORT).write_text(json.dumps(built.report, indent=2) + "\n")


def as_features(built: Built) -> Features:
    """What models see of ``built`` (as ``load_features`` would read it back)."""
    return Features(tfidf=built.tfidf, vocabulary=built.vocabulary, items=built.item_table, users=built.user_table,
                    item_side=built.item_side, user_side=built.user_side)


def run(cfg: Config) -> None:
    cutoff = Cutoff.from_split(cfg.paths.processed, stage="features")
    built = build(cfg, window(cfg, "train"), cutoff)
    with atomic_dir(cfg.paths.features) as tmp:
        write(built, tmp)
    report = built.report
    status(
        f"features: {report['items']:,} items ({report['item_side_columns']} side columns), {report['users']:,} users "
        f"({report['user_side_columns']} side columns), TF-IDF vocabulary of {report['tfidf_vocabulary']:,} words "
        f"(fit on {report['tfidf_fit_items']:,} train-time items); train window checked against the "
        f"{cutoff.describe()} -> {cfg.paths.features}"
    )
