"""Business rules for batch lists (``recommend.rules``): what may be listed, and how many per category.

- ``exclude``: ``seen`` (the default: nothing a shopper interacted with is
  listed again), ``purchased`` (only what they bought is left out: viewed
  products may come back), ``none``;
- ``categories`` / ``exclude_categories``: category path prefixes
  (``"Home"`` matches ``"Home > Bath"``) a list is limited to / never holds;
- ``price_min`` / ``price_max``: the catalog price range (products without a
  price are left out when a range is set);
- ``max_per_category``: at most N products of one category in a list; the
  list is then filled from further down the ranking, so it still holds k
  products where the catalog allows.

Rules shape the ranking itself (masked scores, then a capped walk down each
row's order: score descending, index ascending), never a post-filter of a
top-k, so a rule never leaves a list short while allowed products remain.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import scipy.sparse as sp

from recsys_cli.bundle import PURCHASE_CODE as PURCHASE
from recsys_cli.config import RulesConfig
from recsys_cli.topk import PAD, Recs, rank



def category_match(categories: pl.Series, prefixes: list[str]) -> np.ndarray:
    """Per catalog row: its category equals one of ``prefixes`` or lies under one (``"A"`` -> ``"A > B"``)."""
    cats = categories.cast(pl.Utf8).fill_null("")
    hit = np.zeros(len(cats), dtype=bool)
    for prefix in prefixes:
        p = prefix.strip()
        hit |= ((cats == p) | cats.str.starts_with(p + " > ")).to_numpy()
    return hit


@dataclass
class BatchRules:
    """The rules resolved against one catalog (item-index order)."""

    allowed: np.ndarray | None  # bool per item; None: every item
    exclude: str  # seen | purchased | none
    cap: int | None
    category: np.ndarray  # int32 code per item (same code: same category; -1 none)

    @classmethod
    def build(cls, cfg: RulesConfig, catalog: pl.DataFrame) -> BatchRules | None:
        """None when no rule is set (the lists are then exactly the service's)."""
        if not cfg.active:
            return None
        n = catalog.height
        allowed = np.ones(n, dtype=bool)
        cats = catalog["category"] if "category" in catalog.columns else pl.Series([None] * n, dtype=pl.Utf8)
        if cfg.categories:
            allowed &= category_match(cats, cfg.categories)
        if cfg.exclude_categories:
            allowed &= ~category_match(cats, cfg.exclude_categories)
        if cfg.price_min is not None or cfg.price_max is not None:
            price = catalog["price"].cast(pl.Float64).to_numpy() if "price" in catalog.columns else np.full(n, np.nan)
            ok = np.isfinite(price)
            if cfg.price_min is not None:
                ok &= price >= cfg.price_min
            if cfg.price_max is not None:
                ok &= price <= cfg.price_max
            allowed &= ok
        codes = cats.cast(pl.Utf8).fill_null("").cast(pl.Categorical).to_physical().to_numpy().astype(np.int32)
        codes = np.where(cats.is_null().to_numpy(), -1, codes)
        return cls(allowed=None if allowed.all() else allowed, exclude=cfg.exclude, cap=cfg.max_per_category,
                   category=codes)

    def mask(self, scores: np.ndarray) -> np.ndarray:
        """Scores with every disallowed item at -inf (in place)."""
        if self.allowed is not None:
            scores[:, ~self.allowed] = -np.inf
        return scores

    def blocked(self, history: sp.csr_matrix) -> sp.csr_matrix:
        """What is never listed, per history row (``history.data``: strength codes, 3 = purchase)."""
        if self.exclude == "seen":
            return history
        if self.exclude == "none":
            return sp.csr_matrix(history.shape, dtype=history.dtype)
        out = history.copy()
        out.data = np.where(out.data >= PURCHASE, out.data, 0).astype(out.data.dtype)
        out.eliminate_zeros()
        return out

    def rank(self, scores: np.ndarray, k: int, blocked: sp.csr_matrix) -> Recs:
        """Top-k of each row under the cap: the best items in order, skipping a category once it is full."""
        if self.cap is None:
            return rank(scores, k, blocked)
        n_rows, n_items = scores.shape
        out = Recs(items=np.full((n_rows, k), PAD, dtype=np.int32), scores=np.full((n_rows, k), -np.inf, np.float32))
        todo = np.arange(n_rows)
        depth = min(n_items, k * 4)
        while todo.size:
            recs = rank(scores[todo].copy(), depth, blocked[todo])
            short = []
            for j, r in enumerate(todo.tolist()):
                items, values, exhausted = self.cap_one(recs.items[j], recs.scores[j], k)
                out.items[r, : items.size], out.scores[r, : items.size] = items, values
                if items.size < k and not exhausted and depth < n_items:
                    short.append(r)
            todo = np.array(short, dtype=np.int64)
            depth = min(n_items, depth * 4)
        return out

    def cap_one(self, items: np.ndarray, values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, bool]:
        """The first k of a ranked list with at most ``cap`` per category; and whether the list ran out."""
        keep = items >= 0
        exhausted = bool((~keep).any())  # padding: nothing further down is allowed
        items, values = items[keep], values[keep]
        if self.cap is None:
            return items[:k], values[:k], exhausted
        count: dict[int, int] = {}
        chosen: list[int] = []
        for j, item in enumerate(items.tolist()):
            code = int(self.category[item])
            if code >= 0 and count.get(code, 0) >= self.cap:
                continue
            count[code] = count.get(code, 0) + 1
            chosen.append(j)
            if len(chosen) == k:
                break
        idx = np.array(chosen, dtype=np.int64)
        return items[idx].astype(np.int32), values[idx].astype(np.float32), exhausted
