"""User profiles for the content models: the weighted mean of the user's item vectors.

Each fit-window event contributes ``event weight x 0.5 ** (age_days /
half_life_days)``, age measured from the last event of the fit window
(``half_life_days=None``: no decay). Summed per user and item, these weights
``W`` (users x items) give ``profile = normalise(W @ item_vectors)``; the
mean's denominator drops out under the L2 normalisation. A user with no
history keeps a zero profile, so every item scores 0 for them (the pipeline
routes such users to its popularity fallback).

Works for dense item vectors (embeddings) and CSR ones (TF-IDF), and shares
the item-text and cosine helpers both content models use.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import scipy.sparse as sp

from recsys_cli.models.base import Recs, TrainData, rank

TEXT_FIELDS = ["title", "description", "category", "brand"]


def interaction_weights(data: TrainData, half_life_days: float | None) -> sp.csr_matrix:
    """Users x items: summed (decayed) event weights of the fit window."""
    ev = data.events
    if ev is None or ev.height == 0 or "weight" not in ev.columns:
        if half_life_days is not None and (ev is None or ev.height):
            raise ValueError(
                "a content model with half_life_days needs the fit-window events (user_idx, item_idx, timestamp, weight)"
            )
        return sp.csr_matrix(data.matrix, dtype=np.float64)
    weights = ev["weight"].cast(pl.Float64).fill_null(1.0).to_numpy()
    if half_life_days is not None:
        age_days = ((ev["timestamp"].max() - ev["timestamp"]).dt.total_seconds() / 86400.0).to_numpy()
        weights = weights * 0.5 ** (age_days / half_life_days)
    w = sp.csr_matrix(
        (weights, (ev["user_idx"].to_numpy(), ev["item_idx"].to_numpy())),
        shape=(data.n_users, data.n_items),
    )
    w.sum_duplicates()
    return w


def normalise_rows(x: np.ndarray | sp.csr_matrix) -> np.ndarray | sp.csr_matrix:
    """Unit L2 rows (zero rows stay zero), float32; CSR in, CSR out."""
    if sp.issparse(x):
        x = sp.csr_matrix(x, dtype=np.float64)
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
        inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
        out = sp.csr_matrix(sp.diags(inv) @ x, dtype=np.float32)
        out.eliminate_zeros()
        out.sort_indices()
        return out
    x = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0).astype(np.float32)


def user_profiles(
    data: TrainData, item_vectors: np.ndarray | sp.csr_matrix, half_life_days: float | None
) -> np.ndarray | sp.csr_matrix:
    """Users x dims: the L2-normalised, weighted mean item vector of each user's history."""
    w = interaction_weights(data, half_life_days)
    if sp.issparse(item_vectors):
        return normalise_rows(w @ sp.csr_matrix(item_vectors, dtype=np.float64))
    return normalise_rows(w @ np.asarray(item_vectors, dtype=np.float64))


def cosine_scores(profiles: np.ndarray | sp.csr_matrix, item_vectors: np.ndarray | sp.csr_matrix,
                  users: np.ndarray, items: np.ndarray | None) -> np.ndarray:
    """Dense float32 ``profiles[users] . item_vectors[items]`` (both sides unit rows: cosine)."""
    users = np.asarray(users, dtype=np.int64)
    vecs = item_vectors if items is None else item_vectors[np.asarray(items, dtype=np.int64)]
    if sp.issparse(profiles):
        out = (profiles[users] @ vecs.T).toarray()
    else:
        out = profiles[users] @ vecs.T
    return np.asarray(out, dtype=np.float32)


def similar_by_vectors(item_vectors: np.ndarray | sp.csr_matrix, items: np.ndarray, k: int) -> Recs:
    """The k items most cosine-similar to each of ``items``, never the item itself."""
    items = np.asarray(items, dtype=np.int64)
    n = item_vectors.shape[0]
    sims = cosine_scores(item_vectors, item_vectors, items, None)
    exclude = sp.csr_matrix((np.ones(len(items)), (np.arange(len(items)), items)), shape=(len(items), n))
    return rank(sims, k, exclude)


def catalog_texts(data: TrainData, fields: list[str]) -> list[str]:
    """One text per item index (empty where the catalog has no row or no text)."""
    from recsys_cli.features.text import item_text

    if data.items is None:
        raise ValueError("a content model needs the catalog (TrainData.items) to read item text")
    if data.items.height != data.n_items:
        raise ValueError(f"catalog has {data.items.height} rows for {data.n_items} indexed items")
    return item_text(data.items, fields)
