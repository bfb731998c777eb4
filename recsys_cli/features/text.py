"""TF-IDF over product text, with the vocabulary fit on train-time items only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from recsys_cli.config import FeaturesConfig


def item_text(catalog: pl.DataFrame, fields: list[str]) -> list[str]:
    """One string per catalog row: the configured fields joined, category path split."""
    cols = [f for f in fields if f in catalog.columns]
    if not cols:
        return [""] * catalog.height
    exprs = [pl.col(c).cast(pl.Utf8).fill_null("").str.replace_all(r" > |\|", " ") for c in cols]
    return catalog.select(pl.concat_str(exprs, separator=" ").alias("text"))["text"].to_list()


REVIEWS = "reviews"
"""The text field that stands for the fit window's event text (reviews) of each item."""


def review_text(train: pl.DataFrame, n_items: int, max_chars: int = 20_000) -> list[str]:
    """One string per item index: the text of its events in ``train`` (reviews), oldest first, capped."""
    out = [""] * n_items
    if "text" not in train.columns or train["text"].null_count() == train.height:
        return out
    joined = (
        train.filter(pl.col("text").is_not_null())
        .sort("timestamp")
        .group_by("item_idx")
        .agg(pl.col("text").str.join(" ").str.slice(0, max_chars))
    )
    for idx, text in joined.iter_rows():
        out[int(idx)] = text
    return out


def with_reviews(texts: list[str], train: pl.DataFrame, fields: list[str]) -> list[str]:
    """``texts`` plus each item's train-window review text, when ``fields`` asks for reviews."""
    if REVIEWS not in fields:
        return texts
    reviews = review_text(train, len(texts))
    return [f"{a} {b}".strip() for a, b in zip(texts, reviews, strict=True)]


def fit_tfidf(texts: list[str], fit_rows: np.ndarray, cfg: FeaturesConfig) -> tuple[sp.csr_matrix, np.ndarray]:
    """Fit on ``texts[fit_rows]``, transform all; L2-normalised rows and the vocabulary."""
    fit_texts = [texts[i] for i in fit_rows if texts[i].strip()]
    if not fit_texts:
        return sp.csr_matrix((len(texts), 0), dtype=np.float32), np.array([], dtype=str)
    vectorizer = TfidfVectorizer(
        max_features=cfg.tfidf_max_features,
        min_df=min(cfg.tfidf_min_df, len(fit_texts)),
        ngram_range=(1, cfg.tfidf_max_ngram),
        sublinear_tf=True,
        dtype=np.float32,
    )
    try:
        vectorizer.fit(fit_texts)
    except ValueError:  # nothing left after min_df / stop words
        return sp.csr_matrix((len(texts), 0), dtype=np.float32), np.array([], dtype=str)
    matrix = vectorizer.transform(texts).tocsr().astype(np.float32)
    return matrix, np.array(vectorizer.get_feature_names_out(), dtype=str)


def save_tfidf(path: Path, matrix: sp.csr_matrix, vocabulary: np.ndarray) -> None:
    with open(path, "wb") as fh:
        np.savez(fh, indptr=matrix.indptr, indices=matrix.indices, data=matrix.data,
                 shape=np.array(matrix.shape), vocabulary=vocabulary)


def load_tfidf(path: Path) -> tuple[sp.csr_matrix, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        matrix = sp.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=tuple(z["shape"]))
        return matrix, z["vocabulary"]
