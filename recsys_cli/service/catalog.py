"""What the service knows about products, as arrays in item-index order.

Categories, brands and prices for filters and preferences; how many shoppers
interacted with each product (the new ones have none); launch dates for the
new-product boost; unit text vectors (the bundle's TF-IDF, or one fit here
from the catalog text) for content similarity. Built once at load.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import scipy.sparse as sp

from recsys_cli.service.types import Filters

TEXT_FIELDS = ("title", "description", "category", "brand")


def _codes(frame: pl.DataFrame, column: str) -> tuple[np.ndarray, list[str]]:
    """Integer code per row (-1 for missing) and the sorted values."""
    if column not in frame.columns:
        return np.full(frame.height, -1, dtype=np.int32), []
    values = frame[column].cast(pl.Utf8)
    names = sorted(v for v in values.unique().to_list() if v is not None and v != "")
    lookup = {v: i for i, v in enumerate(names)}
    return np.array([lookup.get(v, -1) if v is not None else -1 for v in values.to_list()], dtype=np.int32), names


def _unit_rows(m: sp.csr_matrix) -> sp.csr_matrix:
    m = sp.csr_matrix(m, dtype=np.float32)
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms) @ m, dtype=np.float32)


@dataclass
class CatalogIndex:
    titles: np.ndarray  # str per item
    category: np.ndarray  # int code per item (-1: none)
    categories: list[str]  # code -> full category path, e.g. "Electronics > Laptops"
    brand: np.ndarray
    brands: list[str]
    price: np.ndarray  # float32, NaN where unknown
    launch_ms: np.ndarray  # int64 epoch ms, -1 where unknown
    interactions: np.ndarray  # shoppers who interacted with each item in the bundle's history
    text: sp.csr_matrix  # unit-norm text vectors (items x terms)

    @classmethod
    def build(cls, catalog: pl.DataFrame, history: sp.csr_matrix, tfidf: sp.csr_matrix | None) -> CatalogIndex:
        category, categories = _codes(catalog, "category")
        brand, brands = _codes(catalog, "brand")
        price = (catalog["price"].cast(pl.Float32).to_numpy().astype(np.float32) if "price" in catalog.columns
                 else np.full(catalog.height, np.nan, dtype=np.float32))
        if "launch_date" in catalog.columns:
            launch = catalog["launch_date"].cast(pl.Datetime("ms")).dt.epoch("ms").fill_null(-1).to_numpy()
        else:
            launch = np.full(catalog.height, -1, dtype=np.int64)
        titles = (catalog["title"].cast(pl.Utf8).fill_null(catalog["item_id"]).to_numpy().astype(str)
                  if "title" in catalog.columns else catalog["item_id"].to_numpy().astype(str))
        counts = np.bincount(history.indices, minlength=catalog.height)[: catalog.height] if history.nnz else (
            np.zeros(catalog.height, dtype=np.int64))
        if tfidf is None or tfidf.shape[0] != catalog.height or tfidf.shape[1] == 0:
            tfidf = _fit_text(catalog)
        return cls(titles=titles, category=category, categories=categories, brand=brand, brands=brands,
                   price=price, launch_ms=launch.astype(np.int64), interactions=counts.astype(np.int64),
                   text=_unit_rows(tfidf))

    @property
    def n_items(self) -> int:
        return int(self.category.size)

    # ------------------------------------------------------------ matching

    def category_codes(self, names: list[str]) -> np.ndarray:
        """Codes of categories equal to, or under, any of ``names`` ("Electronics" matches "Electronics > Laptops")."""
        wanted = [n.strip().lower() for n in names if n and n.strip()]
        out = [i for i, c in enumerate(self.categories)
               if any(c.lower() == w or c.lower().startswith(w + " > ") for w in wanted)]
        return np.array(out, dtype=np.int32)

    def brand_codes(self, names: list[str]) -> np.ndarray:
        wanted = {n.strip().lower() for n in names if n and n.strip()}
        return np.array([i for i, b in enumerate(self.brands) if b.lower() in wanted], dtype=np.int32)

    def in_categories(self, names: list[str]) -> np.ndarray:
        return np.isin(self.category, self.category_codes(names))

    def in_brands(self, names: list[str]) -> np.ndarray:
        return np.isin(self.brand, self.brand_codes(names))

    def in_price(self, low: float | None, high: float | None) -> np.ndarray:
        ok = np.ones(self.n_items, dtype=bool)
        if low is not None:
            ok &= self.price >= low
        if high is not None:
            ok &= self.price <= high
        return ok

    def allowed(self, filters: Filters | None) -> np.ndarray | None:
        """Items a request's hard filters allow (None: no filter)."""
        if filters is None or filters.empty():
            return None
        ok = np.ones(self.n_items, dtype=bool)
        if filters.categories:
            ok &= self.in_categories(filters.categories)
        if filters.brands:
            ok &= self.in_brands(filters.brands)
        if filters.price_min is not None or filters.price_max is not None:
            ok &= self.in_price(filters.price_min, filters.price_max)
        return ok

    def category_name(self, item: int) -> str | None:
        code = int(self.category[item])
        return self.categories[code] if code >= 0 else None

    # ------------------------------------------------------------ content

    def profile_scores(self, items: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """Cosine of every item's text with the weighted sum of ``items``' text (a content fold-in)."""
        items = np.asarray(items, dtype=np.int64)
        if items.size == 0 or self.text.shape[1] == 0:
            return np.zeros(self.n_items, dtype=np.float32)
        w = np.ones(items.size, dtype=np.float32) if weights is None else np.asarray(weights, dtype=np.float32)
        profile = sp.csr_matrix(w[None, :]) @ self.text[items]
        norm = np.sqrt(profile.multiply(profile).sum())
        if norm == 0:
            return np.zeros(self.n_items, dtype=np.float32)
        return np.asarray((self.text @ (profile.T / norm)).todense()).ravel().astype(np.float32)

    def content_neighbours(self, items: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """For each of ``items``: its ``k`` most text-similar products that have interactions, and weights.

        Weights are the positive cosines normalised to sum to 1 (uniform where
        no neighbour shares a word). Ties go to the lower index.
        """
        established = np.flatnonzero(self.interactions > 0)
        items = np.asarray(items, dtype=np.int64)
        k = max(1, min(k, established.size))
        neighbours = np.zeros((items.size, k), dtype=np.int64)
        weights = np.full((items.size, k), 1.0 / k, dtype=np.float32)
        if items.size == 0 or established.size == 0:
            return neighbours, weights
        from recsys_cli.topk import rank

        # candidates: the established products of the same category (the text shares its words, so the
        # nearest neighbours live there), all of them where the category is unknown or too small;
        # in blocks of rows, so memory is bounded by block x candidates
        neighbours = np.empty((items.size, k), dtype=np.int64)
        top_scores = np.empty((items.size, k), dtype=np.float32)
        by_category = {c: established[self.category[established] == c] for c in np.unique(self.category[items])}
        for code, pool in by_category.items():
            rows = np.flatnonzero(self.category[items] == code)
            if code < 0 or pool.size < k:
                pool = established
            text_t = sp.csr_matrix(self.text[pool].T)
            block = max(1, (1 << 22) // max(pool.size, 1))
            for lo in range(0, rows.size, block):
                part = rows[lo : lo + block]
                sims = (self.text[items[part]] @ text_t).toarray().astype(np.float32, copy=False)
                top = rank(sims, k)
                neighbours[part] = pool[np.maximum(top.items, 0)]
                top_scores[part] = np.where(top.items >= 0, top.scores, 0)
        top_items = np.zeros_like(neighbours)  # every slot is filled (k <= pool size)
        vals = np.where(top_items >= 0, np.maximum(top_scores, 0), 0)
        total = vals.sum(axis=1, keepdims=True)
        weights = np.where(total > 0, vals / np.where(total > 0, total, 1), 1.0 / k).astype(np.float32)
        return neighbours, weights

    def profile_rows(self, history: sp.csr_matrix) -> np.ndarray:
        """``profile_scores`` for every row of a (weighted) history matrix at once: rows x items, dense."""
        if self.text.shape[1] == 0:
            return np.zeros(history.shape, dtype=np.float32)
        profile = sp.csr_matrix(history, dtype=np.float32) @ self.text
        norms = np.sqrt(np.asarray(profile.multiply(profile).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        profile = sp.diags(1.0 / norms) @ profile
        return np.asarray((profile @ self.text.T).todense(), dtype=np.float32)

    def similar(self, item: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` items whose text is closest to ``item``'s (never itself); ties by index."""
        from recsys_cli.topk import rank_one

        sims = np.asarray((self.text @ self.text[item].T).todense()).ravel().astype(np.float32)
        return rank_one(sims, k, np.array([item]))


def _fit_text(catalog: pl.DataFrame) -> sp.csr_matrix:
    """TF-IDF over the catalog's own text when the bundle carries no features."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    cols = [c for c in TEXT_FIELDS if c in catalog.columns]
    if not cols:
        return sp.csr_matrix((catalog.height, 0), dtype=np.float32)
    texts = catalog.select(
        pl.concat_str([pl.col(c).cast(pl.Utf8).fill_null("").str.replace_all(r" > |\|", " ") for c in cols],
                      separator=" ")
    ).to_series().to_list()
    if not any(t.strip() for t in texts):
        return sp.csr_matrix((catalog.height, 0), dtype=np.float32)
    try:
        return TfidfVectorizer(sublinear_tf=True, dtype=np.float32).fit_transform(texts).tocsr()
    except ValueError:
        return sp.csr_matrix((catalog.height, 0), dtype=np.float32)
