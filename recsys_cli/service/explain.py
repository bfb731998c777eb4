"""Why an item is in a list, computed from the model (never a template picked at random).

Which explanation a model gives is decided once, at load, from what it is:

- item-item models (EASE, item-kNN, RP3beta; a hybrid's item-item component):
  the history item with the largest contribution ``h_j * W[j, i]`` to the
  item's score -> "because you bought X";
- latent-factor models (ALS, BPR, LMF, SVD; a hybrid's factor component): the
  history item whose factors are most cosine-similar to the item's;
- anything else: the history item whose text is most similar.

Cold-start lists say which signal placed the item (the stated preference,
"popular in CATEGORY with shoppers like you"); boosted new products "new in
CATEGORY"; the popularity fallback "popular in CATEGORY".
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from recsys_cli.bundle import STRENGTH_VERB
from recsys_cli.service.catalog import CatalogIndex

# (history items, their weights, recommended items) -> per recommended item the index into history, or -1
Attribution = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def _item_item(weights: np.ndarray | sp.csr_matrix) -> Attribution:
    def attribute(hist: np.ndarray, w: np.ndarray, recs: np.ndarray) -> np.ndarray:
        block = weights[hist][:, recs]
        block = np.asarray(block.toarray() if sp.issparse(block) else block, dtype=np.float32)
        contrib = block * w[:, None]
        best = np.argmax(contrib, axis=0)
        return np.where(contrib[best, np.arange(recs.size)] > 0, best, -1)

    return attribute


def _vectors(vectors: np.ndarray | sp.csr_matrix) -> Attribution:
    if sp.issparse(vectors):
        unit = vectors  # already unit rows (CatalogIndex.text)
    else:
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        unit = np.asarray(vectors / np.where(norms > 0, norms, 1.0), dtype=np.float32)

    def attribute(hist: np.ndarray, w: np.ndarray, recs: np.ndarray) -> np.ndarray:
        sims = unit[hist] @ unit[recs].T
        sims = np.asarray(sims.toarray() if sp.issparse(sims) else sims, dtype=np.float32)
        best = np.argmax(sims, axis=0)
        return np.where(sims[best, np.arange(recs.size)] > 0, best, -1)

    return attribute


def attribution_for(model: object, catalog: CatalogIndex) -> tuple[Attribution, str]:
    """How ``model``'s lists are attributed to history items, and the name of the method."""
    from recsys_cli.models.factors import FactorModel
    from recsys_cli.models.itemitem import ItemItemModel

    if isinstance(model, ItemItemModel):
        return _item_item(model.weights), "item-item contribution"
    if isinstance(model, FactorModel):
        width = model.item_factors.shape[1] - model.bias_columns
        return _vectors(model.item_factors[:, :width]), "factor similarity"
    parts = list(zip(getattr(model, "models", []), getattr(model, "weights", [])))
    for component, weight in sorted(parts, key=lambda p: -float(p[1])):  # a hybrid: its heaviest usable component
        if weight and isinstance(component, (ItemItemModel, FactorModel)):
            return attribution_for(component, catalog)
    factors = getattr(model, "item_factors", None)
    if isinstance(factors, np.ndarray) and factors.ndim == 2 and factors.shape[0] == catalog.n_items:
        return _vectors(factors), "factor similarity"
    return _vectors(catalog.text), "text similarity"


class Explainer:
    def __init__(self, model: object, catalog: CatalogIndex) -> None:
        self.catalog = catalog
        self.attribute, self.method = attribution_for(model, catalog)

    def because(self, recs: np.ndarray, hist: np.ndarray, weights: np.ndarray, strength: np.ndarray) -> list[str | None]:
        """"because you bought X" per recommended item (None where nothing in the history explains it)."""
        if hist.size == 0 or recs.size == 0:
            return [None] * int(recs.size)
        valid = recs < self.catalog.n_items
        out: list[str | None] = [None] * int(recs.size)
        if not valid.any():
            return out
        source = self.attribute(hist, weights.astype(np.float32), recs[valid])
        for slot, src in zip(np.flatnonzero(valid).tolist(), source.tolist()):
            if src >= 0:
                verb = STRENGTH_VERB.get(int(strength[src]), STRENGTH_VERB[0])
                out[slot] = f"because you {verb} {self.catalog.titles[hist[src]]}"
        return out

    def category_phrase(self, item: int, template: str, fallback: str) -> str:
        name = self.catalog.category_name(item)
        return template.format(category=name) if name else fallback
