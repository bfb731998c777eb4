"""TF-IDF content model: a user's profile is the weighted mean TF-IDF vector of their items.

Item vectors are TF-IDF rows over title, description, category and brand.
They come from the features stage (``data.features.tfidf``: vocabulary fit on
train-time items only, every catalog item transformed); without it the
model fits its own vocabulary, with the features stage's defaults, on the
catalog rows that occur in the fit window, so no later item's words leak
in. Items outside the fit window (new products) still get a vector from the
words they share with that vocabulary, so they can be recommended.

Score = cosine(profile, item vector); profiles are built by
:mod:`recsys_cli.models.profiles` (event weights x recency decay).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Self

import numpy as np
import scipy.sparse as sp

from recsys_cli.models.base import Recs, TrainData, rank
from recsys_cli.models.profiles import (
    TEXT_FIELDS,
    catalog_texts,
    cosine_scores,
    normalise_rows,
    similar_by_vectors,
    user_profiles,
)
from recsys_cli.models.store import load_arrays, save_arrays
from recsys_cli.schema import bound


@dataclass
class TFIDFParams:
    half_life_days: float | None = bound(None, gt=0)  # recency decay of a user's events; null: none


def fit_window_items(data: TrainData) -> np.ndarray:
    """Item indices with at least one event in the fit window."""
    if data.events is not None and data.events.height:
        return np.unique(data.events["item_idx"].to_numpy()).astype(np.int64)
    return np.flatnonzero(np.diff(data.matrix.tocsc().indptr) > 0)


def own_tfidf(data: TrainData) -> tuple[sp.csr_matrix, np.ndarray]:
    """TF-IDF with the vocabulary fit on fit-window items only (features-stage defaults)."""
    from recsys_cli.config import FeaturesConfig
    from recsys_cli.features.text import fit_tfidf

    cfg = FeaturesConfig(text_fields=list(TEXT_FIELDS))
    return fit_tfidf(catalog_texts(data, cfg.text_fields), fit_window_items(data), cfg)


def _csr_arrays(prefix: str, m: sp.csr_matrix) -> dict[str, np.ndarray]:
    return {f"{prefix}_data": m.data, f"{prefix}_indices": m.indices, f"{prefix}_indptr": m.indptr,
            f"{prefix}_shape": np.array(m.shape, dtype=np.int64)}


def _csr_from(prefix: str, arrays: dict[str, np.ndarray]) -> sp.csr_matrix:
    return sp.csr_matrix((arrays[f"{prefix}_data"], arrays[f"{prefix}_indices"], arrays[f"{prefix}_indptr"]),
                         shape=tuple(int(s) for s in arrays[f"{prefix}_shape"]))


class TFIDF:
    name: ClassVar[str] = "tfidf"
    Params: ClassVar[type] = TFIDFParams

    def __init__(self, params: TFIDFParams | None = None) -> None:
        self.params = params or TFIDFParams()
        self.item_vectors = sp.csr_matrix((0, 0), dtype=np.float32)  # items x vocabulary, unit rows
        self.user_profiles = sp.csr_matrix((0, 0), dtype=np.float32)  # users x vocabulary, unit rows
        self.vocabulary = np.array([], dtype=str)
        self._item_vectors_t = self.item_vectors.T.tocsr()
        self.n_users = 0
        self.n_items = 0

    def fit(self, data: TrainData) -> Self:
        features = data.features
        if features is not None and getattr(features, "tfidf", None) is not None:
            if features.tfidf.shape[0] != data.n_items:
                raise ValueError(
                    f"features TF-IDF has {features.tfidf.shape[0]} rows for {data.n_items} items: re-run `recsys features`"
                )
            tfidf, vocab = features.tfidf, features.vocabulary
        else:
            tfidf, vocab = own_tfidf(data)
        items = normalise_rows(tfidf)
        self._set(items, user_profiles(data, items, self.params.half_life_days), np.asarray(vocab))
        return self

    def _set(self, items: sp.csr_matrix, users: sp.csr_matrix, vocab: np.ndarray) -> None:
        self.item_vectors = sp.csr_matrix(items, dtype=np.float32)
        self.user_profiles = sp.csr_matrix(users, dtype=np.float32)
        self.vocabulary = vocab.astype(str)
        self._item_vectors_t = self.item_vectors.T.tocsr()
        self.n_users, self.n_items = self.user_profiles.shape[0], self.item_vectors.shape[0]

    def score(self, users: np.ndarray, items: np.ndarray | None = None) -> np.ndarray:
        if items is None:  # the common case: all items, with the transpose kept from fit
            return np.asarray((self.user_profiles[np.asarray(users, dtype=np.int64)] @ self._item_vectors_t).toarray(),
                              dtype=np.float32)
        return cosine_scores(self.user_profiles, self.item_vectors, users, items)

    def recommend(
        self, users: np.ndarray, k: int, exclude: sp.csr_matrix | None = None, items: np.ndarray | None = None
    ) -> Recs:
        return rank(self.score(users, items), k, exclude, items)

    def similar_items(self, items: np.ndarray, k: int) -> Recs:
        return similar_by_vectors(self.item_vectors, items, k)

    def save(self, path: Path) -> None:
        arrays = {**_csr_arrays("item", self.item_vectors), **_csr_arrays("user", self.user_profiles),
                  "vocabulary": self.vocabulary}
        save_arrays(path, self.name, self.params, arrays, n_users=self.n_users, n_items=self.n_items,
                    vocabulary_size=int(self.vocabulary.size))

    @classmethod
    def load(cls, path: Path) -> Self:
        params, arrays, _ = load_arrays(path, cls.name, cls.Params)
        model = cls(params)
        model._set(_csr_from("item", arrays), _csr_from("user", arrays), arrays["vocabulary"])
        return model
