"""Metrics beyond accuracy, from the top-k lists, per user where they are per-list.

  ild_category@k   intra-list diversity: mean pairwise (1 - cosine) of the items'
                   category vectors (one-hot, or multi-hot genres)
  ild_text@k       the same over item text vectors (embeddings or reduced TF-IDF)
  novelty@k        mean self-information -log2(p_i), p_i = share of train users with item i
  serendipity@k    share of the list that is relevant and NOT in the user's popularity top-k
  popularity@k     mean popularity percentile of the list (1 = the most popular item)
  gini@k           (catalog level) inequality of how often items are recommended:
                   0 = every item equally often, -> 1 = a few items take all slots
  coverage@k       (catalog level) share of the catalog in at least one list

Padding (-1) is ignored: a list of length m < k is measured on its m items.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp




@dataclass
class ItemContext:
    """What the beyond-accuracy metrics know about items (all in item-index order)."""

    train_users: np.ndarray  # distinct train users per item
    n_users: int  # users with train history (denominator of p_i)
    category: np.ndarray | None = None  # unit-norm rows (items x categories), dense float32
    text: np.ndarray | None = None  # unit-norm rows (items x dims), dense float32

    @property
    def popularity_percentile(self) -> np.ndarray:
        """Share of the other items strictly less popular: 1.0 for a sole most popular item.

        Tied items share one percentile (the lowest rank of their group), so
        the items no train user touched all get 0.
        """
        counts = np.asarray(self.train_users)
        below = np.searchsorted(np.sort(counts, kind="stable"), counts, side="left")
        return below / max(counts.size - 1, 1)

    @property
    def self_information(self) -> np.ndarray:
        p = (self.train_users + 1.0) / (self.n_users + 1.0)  # add-one: unseen items are finite
        return -np.log2(p)


def unit_rows(m: np.ndarray | sp.spmatrix) -> np.ndarray:
    dense = np.asarray(m.toarray() if sp.issparse(m) else m, dtype=np.float32)
    norms = np.linalg.norm(dense, axis=1, keepdims=True)
    return dense / np.where(norms > 0, norms, 1.0)


def reduce_text(tfidf: sp.csr_matrix, dims: int = 64, seed: int = 0) -> np.ndarray:
    """TF-IDF rows reduced by truncated SVD and L2-normalised (for ILD over text)."""
    if tfidf.shape[1] == 0:
        return np.zeros((tfidf.shape[0], 1), dtype=np.float32)
    from sklearn.decomposition import TruncatedSVD

    k = max(1, min(dims, min(tfidf.shape) - 1))
    if k < 2:
        return unit_rows(tfidf)
    return unit_rows(TruncatedSVD(n_components=k, random_state=seed).fit_transform(tfidf))


def ild_at(top: np.ndarray, vectors: np.ndarray, ks: list[int]) -> dict[int, np.ndarray]:
    """Intra-list distance of each row's first k items, for every k at once.

    For unit (or zero) vectors the sum of pairwise cosines of a list is
    ||sum v||^2 - sum ||v||^2, so running sums over list positions give every
    k in O(rows x k x dims) instead of O(rows x k^2 x dims). Mean over item
    pairs of (1 - cosine); NaN for lists with fewer than 2 items.
    """
    valid = top >= 0
    v = vectors[np.where(valid, top, 0)] * valid[..., None]
    total = np.zeros((top.shape[0], vectors.shape[1]), dtype=np.float64)
    norms = np.zeros(top.shape[0], dtype=np.float64)
    counts = np.zeros(top.shape[0], dtype=np.float64)
    out, done = {}, 0
    for k in sorted(ks):
        kk = min(k, top.shape[1])
        block = v[:, done:kk]
        total += block.sum(axis=1)
        norms += np.einsum("bkd,bkd->b", block, block)
        counts += valid[:, done:kk].sum(axis=1)
        done = kk
        pairs = counts * (counts - 1)
        sim_sum = np.einsum("bd,bd->b", total, total) - norms
        with np.errstate(invalid="ignore", divide="ignore"):
            out[k] = np.where(pairs > 0, 1.0 - sim_sum / pairs, np.nan)
    return out


def intra_list_distance(top: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Per row: mean over item pairs of (1 - cosine); NaN for lists with fewer than 2 items."""
    return ild_at(top, vectors, [top.shape[1]])[top.shape[1]]


def per_list(top: np.ndarray, hits: np.ndarray, pop_top: np.ndarray | None, ctx: ItemContext, ks: list[int]) -> dict[str, np.ndarray]:
    """Per-user beyond-accuracy metrics at each k."""
    out: dict[str, np.ndarray] = {}
    info, pct = ctx.self_information, ctx.popularity_percentile
    ild = {name: ild_at(top, vectors, ks) for name, vectors in (("category", ctx.category), ("text", ctx.text))
           if vectors is not None}
    valid_all = top >= 0
    safe_all = np.where(valid_all, top, 0)
    in_pop_all = None
    if pop_top is not None:
        in_pop_all = (top[:, :, None] == pop_top[:, None, :])  # (rows, k, k_pop): slot j of the list vs pop rank r
    for k in ks:
        valid = valid_all[:, :k]
        n = np.maximum(valid.sum(axis=1), 1)
        safe = safe_all[:, :k]
        out[f"novelty@{k}"] = (info[safe] * valid).sum(axis=1) / n
        out[f"popularity@{k}"] = (pct[safe] * valid).sum(axis=1) / n
        for name, values in ild.items():
            out[f"ild_{name}@{k}"] = values[k]
        if in_pop_all is not None:
            in_pop = in_pop_all[:, :k, :k].any(axis=2)
            out[f"serendipity@{k}"] = (hits[:, :k] & ~in_pop & valid).sum(axis=1) / k
    return out


def gini(counts: np.ndarray) -> float:
    """Gini coefficient of non-negative counts (0: all equal)."""
    x = np.sort(np.asarray(counts, dtype=np.float64))
    n = x.size
    if n == 0 or x.sum() == 0:
        return 0.0
    cum = np.cumsum(x)
    return float((n + 1 - 2 * (cum / cum[-1]).sum()) / n)


def catalog_level(top: np.ndarray, n_items: int, ks: list[int]) -> dict[str, float]:
    out = {}
    for k in ks:
        t = top[:, :k]
        counts = np.bincount(t[t >= 0], minlength=n_items)
        out[f"coverage@{k}"] = float((counts > 0).sum() / n_items) if n_items else 0.0
        out[f"gini@{k}"] = gini(counts)
    return out


def category_vectors(categories: list[str | None], separator: str = "|") -> np.ndarray:
    """Unit-norm multi-hot rows of each item's categories (``a|b`` lists several); zero rows when unknown."""
    names: dict[str, int] = {}
    rows, cols = [], []
    for i, value in enumerate(categories):
        for part in (value or "").split(separator):
            if part:
                rows.append(i)
                cols.append(names.setdefault(part, len(names)))
    m = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(categories), max(len(names), 1)))
    return unit_rows(m)
