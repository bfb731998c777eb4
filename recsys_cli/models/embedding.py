"""Sentence-embedding content model: profiles are weighted means of item text embeddings.

Item vectors are all-MiniLM-L6-v2 (or another local sentence-transformers
model) embeddings of each item's title, description, category and brand,
L2-normalised. The encoder is a frozen, pre-trained model, so every catalog
item with text gets a vector, including items launched after the fit window
(new products can be recommended from their text alone). Encodings are
cached on disk by text hash (:mod:`recsys_cli.features.embeddings`), so a
re-fit or a tuning trial never re-encodes; a saved model holds its vectors
and never needs the encoder again.

Score = cosine(profile, item vector); profiles are built by
:mod:`recsys_cli.models.profiles` (event weights x recency decay).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Self

import numpy as np
import scipy.sparse as sp

from recsys_cli.features.embeddings import DEFAULT_CACHE_DIR, DEFAULT_MODEL, encode_texts
from recsys_cli.models.base import Recs, TrainData, rank
from recsys_cli.models.profiles import TEXT_FIELDS, catalog_texts, cosine_scores, similar_by_vectors, user_profiles
from recsys_cli.models.store import load_arrays, save_arrays
from recsys_cli.schema import bound


@dataclass
class EmbeddingParams:
    half_life_days: float | None = bound(None, gt=0)  # recency decay of a user's events; null: none
    model_name: str = DEFAULT_MODEL  # names the cache file; all-MiniLM-L6-v2 is bundled (deep extra)
    model_path: str | None = None  # a local sentence-transformers directory (null: the bundled model)
    text_fields: list[str] = field(default_factory=lambda: list(TEXT_FIELDS))
    batch_size: int = bound(32, ge=1)  # texts per encoder call
    cache_dir: str | None = DEFAULT_CACHE_DIR  # relative to the working directory; null: no cache


class Embedding:
    name: ClassVar[str] = "embedding"
    Params: ClassVar[type] = EmbeddingParams

    def __init__(self, params: EmbeddingParams | None = None, show_progress: bool = False) -> None:
        self.params = params or EmbeddingParams()
        self.show_progress = show_progress
        self.item_vectors = np.zeros((0, 0), dtype=np.float32)  # items x dim, unit rows (zero: no text)
        self.user_profiles = np.zeros((0, 0), dtype=np.float32)  # users x dim, unit rows (zero: no history)
        self.n_users = 0
        self.n_items = 0

    def item_embeddings(self, data: TrainData) -> np.ndarray:
        p = self.params
        return encode_texts(catalog_texts(data, p.text_fields), model_name=p.model_name, model_path=p.model_path,
                            cache_dir=p.cache_dir, batch_size=p.batch_size, show_progress=self.show_progress)

    def fit(self, data: TrainData) -> Self:
        items = self.item_embeddings(data)
        self._set(items, user_profiles(data, items, self.params.half_life_days))
        return self

    def _set(self, items: np.ndarray, users: np.ndarray) -> None:
        self.item_vectors = np.ascontiguousarray(items, dtype=np.float32)
        self.user_profiles = np.ascontiguousarray(users, dtype=np.float32)
        self.n_users, self.n_items = self.user_profiles.shape[0], self.item_vectors.shape[0]

    def score(self, users: np.ndarray, items: np.ndarray | None = None) -> np.ndarray:
        return cosine_scores(self.user_profiles, self.item_vectors, users, items)

    def recommend(
        self, users: np.ndarray, k: int, exclude: sp.csr_matrix | None = None, items: np.ndarray | None = None
    ) -> Recs:
        return rank(self.score(users, items), k, exclude, items)

    def similar_items(self, items: np.ndarray, k: int) -> Recs:
        return similar_by_vectors(self.item_vectors, items, k)

    def save(self, path: Path) -> None:
        save_arrays(path, self.name, self.params,
                    {"item_vectors": self.item_vectors, "user_profiles": self.user_profiles},
                    n_users=self.n_users, n_items=self.n_items, dim=int(self.item_vectors.shape[1]))

    @classmethod
    def load(cls, path: Path) -> Self:
        params, arrays, _ = load_arrays(path, cls.name, cls.Params)
        model = cls(params)
        model._set(arrays["item_vectors"], arrays["user_profiles"])
        return model
