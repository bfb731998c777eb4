"""Item-kNN: item-item cosine similarity with weighting, shrinkage and k neighbours.

Items are vectors over users. ``weighting`` reweights that item x user matrix
first: ``none``, ``tfidf`` (users who touch many items count less) or
``bm25`` (as tf-idf, with saturation of repeated interactions and item length
normalisation; k1, b). Similarity ``dot(i, j) / (|i| |j| + shrink)``; each
item keeps its ``k`` most similar items. A user's score for item j is the
sum of the similarities of j to the items in their history.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal, Self

import numpy as np
import scipy.sparse as sp

from recsys_cli.models.base import TrainData
from recsys_cli.models.itemitem import ItemItemModel, history, topk_rows
from recsys_cli.schema import bound


@dataclass
class ItemKNNParams:
    k: int = bound(100, ge=1)
    shrink: float = bound(10.0, ge=0.0)
    weighting: Literal["none", "tfidf", "bm25"] = "bm25"
    bm25_k1: float = bound(1.2, ge=0.0)
    bm25_b: float = bound(0.75, ge=0.0, le=1.0)
    binary_history: bool = True  # score from 0/1 history (else summed event weights)


def weigh(item_user: sp.csr_matrix, params: ItemKNNParams) -> sp.csr_matrix:
    """Reweight an item x user matrix (items are documents, users are terms)."""
    x = item_user.tocoo(copy=True)
    if params.weighting == "none":
        return x.tocsr()
    n_items = item_user.shape[0]
    df = np.bincount(x.col, minlength=item_user.shape[1])
    idf = np.log(n_items / np.maximum(df, 1)).astype(np.float32)
    if params.weighting == "tfidf":
        x.data = np.sqrt(x.data) * idf[x.col]
        return x.tocsr()
    lengths = np.asarray(item_user.sum(axis=1)).ravel()
    norm = (1.0 - params.bm25_b) + params.bm25_b * lengths / max(lengths.mean(), 1e-12)
    k1 = params.bm25_k1
    x.data = x.data * (k1 + 1.0) / (k1 * norm[x.row] + x.data) * idf[x.col]
    return x.tocsr()


class ItemKNN(ItemItemModel):
    name: ClassVar[str] = "itemknn"
    Params: ClassVar[type] = ItemKNNParams

    def fit(self, data: TrainData) -> Self:
        p = self.params
        vectors = weigh(data.matrix.T.tocsr().astype(np.float32), p)
        norms = np.sqrt(np.asarray(vectors.multiply(vectors).sum(axis=1)).ravel())
        vectors_t = vectors.T.tocsr()

        def block(rows: np.ndarray) -> np.ndarray:
            dots = (vectors[rows] @ vectors_t).toarray()
            sims = dots / (norms[rows, None] * norms[None, :] + p.shrink + 1e-12)
            sims[np.arange(rows.size), rows] = 0.0
            return sims

        weights = topk_rows(block, data.n_items, data.n_items, p.k)
        self._set(history(data, p.binary_history), weights)
        return self
