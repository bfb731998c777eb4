"""EASE: the closed-form shallow autoencoder (Steck 2019).

W = I - P / diag(P) with P = (G + l2 I)^-1 and a zero diagonal, where G is
the item co-occurrence X'X. With ``sequence_weight`` > 0, G mixes in a
co-occurrence weighted by closeness in each user's time-ordered history
(items used one after the other count more: sessions, browsing order),
rescaled to the same trace: G = (1 - s) X'X + s S. Needs a dense items x
items inverse: the memory check runs before anything is allocated and
refuses catalogs that would not fit ``memory_budget_gb``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

import numpy as np
import scipy.linalg

from recsys_cli.errors import RecsysError, TooLarge
from recsys_cli.models.base import TrainData
from recsys_cli.models.itemitem import ItemItemModel, history, sequence_cooccurrence
from recsys_cli.schema import bound

DENSE_COPIES = 3  # Gram matrix, its inverse (in place), the float32 weights


@dataclass
class EASEParams:
    l2: float = bound(500.0, gt=0.0)
    binary: bool = True  # fit on 0/1 interactions (EASE's usual input) rather than event weights
    memory_budget_gb: float = bound(4.0, gt=0.0)
    sequence_weight: float = bound(0.0, ge=0.0, le=1.0)
    sequence_window: float = bound(15.0, gt=0.0)  # positions in a user's history


def memory_needed_gb(n_items: int) -> float:
    return DENSE_COPIES * 8.0 * n_items * n_items / 1e9


class EASE(ItemItemModel):
    name: ClassVar[str] = "ease"
    Params: ClassVar[type] = EASEParams

    def fit(self, data: TrainData) -> Self:
        n = data.n_items
        need = memory_needed_gb(n)
        if need > self.params.memory_budget_gb:
            raise TooLarge(
                f"ease: {n:,} items need about {need:.1f} GB for the dense item x item inverse, over "
                f"model.memory_budget_gb={self.params.memory_budget_gb:g}; raise it, or use itemknn or rp3beta"
            )
        x = history(data, self.params.binary)
        gram = (x.T @ x).toarray().astype(np.float64)
        s = self.params.sequence_weight
        if s > 0:
            if data.events is None:
                raise RecsysError("ease: sequence_weight > 0 needs the fit-window events with timestamps")
            seq = sequence_cooccurrence(data.events, n, self.params.sequence_window).toarray().astype(np.float64)
            scale = np.trace(gram) / max(np.trace(seq), 1e-12)
            gram = (1.0 - s) * gram + s * scale * seq
        gram[np.diag_indices(n)] += self.params.l2
        p = scipy.linalg.inv(gram, overwrite_a=True, check_finite=False)
        w = -p / np.diag(p)[None, :]
        np.fill_diagonal(w, 0.0)
        self._set(history(data, binary=self.params.binary), w.astype(np.float32))
        return self
