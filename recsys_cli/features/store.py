"""The features stage's files, read back as one object for the models."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp

from recsys_cli.features.side import SideMatrix
from recsys_cli.features.text import load_tfidf

ITEM_TABLE = "item_features.parquet"
USER_TABLE = "user_features.parquet"
ITEM_SIDE = "item_side.npz"
USER_SIDE = "user_side.npz"
TFIDF = "tfidf.npz"
REPORT = "features_report.json"
FINGERPRINT_KEY = "train_window"  # in REPORT: recsys_cli.data.leakage.fingerprint of the events used


@dataclass
class Features:
    tfidf: sp.csr_matrix  # items x vocabulary, L2-normalised rows
    vocabulary: np.ndarray
    items: pl.DataFrame  # item_features.parquet (item-index order)
    users: pl.DataFrame  # user_features.parquet (user-index order)
    item_side: SideMatrix  # one-hot category / brand / price band
    user_side: SideMatrix  # one-hot demographics / price band / favourite category


def save_side(path: Path, side: SideMatrix) -> None:
    m = side.matrix.tocsr()
    with open(path, "wb") as fh:
        np.savez(fh, indptr=m.indptr, indices=m.indices, data=m.data, shape=np.array(m.shape), names=side.names)


def load_side(path: Path) -> SideMatrix:
    with np.load(path, allow_pickle=False) as z:
        m = sp.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=tuple(z["shape"]))
        return SideMatrix(m, z["names"])


def load_features(directory: Path) -> Features:
    tfidf, vocab = load_tfidf(directory / TFIDF)
    return Features(
        tfidf=tfidf,
        vocabulary=vocab,
        items=pl.read_parquet(directory / ITEM_TABLE),
        users=pl.read_parquet(directory / USER_TABLE),
        item_side=load_side(directory / ITEM_SIDE),
        user_side=load_side(directory / USER_SIDE),
    )


def load_fingerprint(directory: Path) -> dict[str, Any] | None:
    """The train-window fingerprint the features stage recorded, or None if there is none."""
    path = directory / REPORT
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text()).get(FINGERPRINT_KEY)
    except (json.JSONDecodeError, AttributeError):
        return None
