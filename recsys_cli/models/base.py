"""The one model interface: integer indices, CSR matrices, batches.

Every model is a class with a ``Params`` dataclass that implements
:class:`Recommender`. Scoring returns dense ``(n_users, n_items)`` (or
``(n_users, len(items))``) float32 arrays; :func:`rank` turns scores into
top-k :class:`Recs`, excluding whatever the caller asks (seen items).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar, Protocol, Self

import numpy as np
import polars as pl
import scipy.sparse as sp

from recsys_cli.topk import PAD, MAX_CELLS, Recs, rank, row_batch

__all__ = ["PAD", "MAX_CELLS", "Recs", "Recommender", "TrainData", "rank", "row_batch"]

@dataclass
class TrainData:
    """What ``fit`` sees: the fit window (train, or train+valid on a refit) and no later data.

    ``valid`` is the binary valid-window relevance (seen items removed) for
    early stopping and blend weights; it is None on a refit. ``ratings``
    holds explicit ratings where the data has them (else None).
    """

    matrix: sp.csr_matrix  # users x items, summed event weights
    events: pl.DataFrame | None = None  # fit-window events with user_idx, item_idx, timestamp, weight, event
    items: pl.DataFrame | None = None  # catalog rows in item-index order
    users: pl.DataFrame | None = None  # user rows in user-index order
    features: Any = None  # recsys_cli.features.store.Features, when the features stage has run
    valid: sp.csr_matrix | None = None
    ratings: sp.csr_matrix | None = None
    seed: int = 42

    def without_valid(self) -> TrainData:
        return replace(self, valid=None)

    @property
    def n_users(self) -> int:
        return int(self.matrix.shape[0])

    @property
    def n_items(self) -> int:
        return int(self.matrix.shape[1])


class Recommender(Protocol):
    name: ClassVar[str]
    Params: ClassVar[type]
    params: Any
    n_users: int
    n_items: int

    def fit(self, data: TrainData) -> Self: ...

    def score(self, users: np.ndarray, items: np.ndarray | None = None) -> np.ndarray: ...

    def recommend(
        self,
        users: np.ndarray,
        k: int,
        exclude: sp.csr_matrix | None = None,
        items: np.ndarray | None = None,
    ) -> Recs: ...

    def similar_items(self, items: np.ndarray, k: int) -> Recs: ...

    def save(self, path: Path) -> None: ...

    @classmethod
    def load(cls, path: Path) -> Self: ...
