"""RP3beta: three-step random walks user -> item -> user -> item, popularity-discounted.

Paudel et al. 2017. W[i, j] = sum_u P(i -> u)^alpha P(u -> j)^alpha / pop(j)^beta,
where P are the row-normalised item->user and user->item transition
probabilities; each item keeps its ``k`` largest weights. A user's scores are
their history row times W.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

import numpy as np
import scipy.sparse as sp

from recsys_cli.models.base import TrainData
from recsys_cli.models.itemitem import ItemItemModel, history, topk_rows
from recsys_cli.schema import bound


@dataclass
class RP3betaParams:
    alpha: float = bound(1.0, gt=0.0)
    beta: float = bound(0.6, ge=0.0)
    k: int = bound(200, ge=1)
    binary: bool = True


def row_normalise(m: sp.csr_matrix, power: float) -> sp.csr_matrix:
    m = m.tocsr(copy=True).astype(np.float32)
    sums = np.asarray(m.sum(axis=1)).ravel()
    sums[sums == 0] = 1.0
    m = sp.diags(1.0 / sums) @ m
    m = m.tocsr()
    if power != 1.0:
        m.data = np.power(m.data, power)
    return m


class RP3beta(ItemItemModel):
    name: ClassVar[str] = "rp3beta"
    Params: ClassVar[type] = RP3betaParams

    def fit(self, data: TrainData) -> Self:
        p = self.params
        x = history(data, p.binary)
        p_ui = row_normalise(x, p.alpha)
        p_iu = row_normalise(x.T.tocsr(), p.alpha)
        popularity = np.asarray((x > 0).sum(axis=0)).ravel().astype(np.float64)
        discount = np.power(np.maximum(popularity, 1.0), -p.beta).astype(np.float32)

        def block(rows: np.ndarray) -> np.ndarray:
            w = (p_iu[rows] @ p_ui).toarray() * discount[None, :]
            w[np.arange(rows.size), rows] = 0.0
            return w

        self._set(history(data, p.binary), topk_rows(block, data.n_items, data.n_items, p.k))
        return self
