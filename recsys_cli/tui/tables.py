"""What the explorer lists, read straight from the bundle's files: shoppers and products as columns.

The first screen must show in well under two seconds on 100,000 shoppers, so
these tables are read without loading the model (the service loads in a
worker meanwhile): ids, the user table, the catalog and the history arrays.
Filtering is one vectorised polars pass that returns row indices; nothing
here formats or renders. The bundle's checksums are verified when the
service loads it (a damaged bundle is then reported and nothing is served).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from recsys_cli.errors import RecsysError

# the bundle's files (recsys_cli/bundle.py names them; not imported here: it pulls in every model, and the
# first screen must not wait for that)
HISTORY = "history.npz"

DAY_MS = 86_400_000
SEGMENTS = ("cold", "warm", "hot")
# recency of a shopper's last event, against the newest event in the bundle (the data's own clock)
ACTIVITY = ("last 30 days", "31-180 days", "over 180 days", "never")
ATTRIBUTES = ("age_band", "gender", "location")
EVENT = {0: "event", 1: "view", 2: "cart", 3: "purchase"}


@dataclass
class Filter:
    """What the shoppers screen asks for (None: any)."""

    text: str = ""
    segment: str | None = None
    activity: str | None = None
    age_band: str | None = None
    gender: str | None = None
    location: str | None = None
    sort: str = "id"  # id | items | recent


@dataclass
class ProductFilter:
    text: str = ""
    category: str | None = None  # a category or a top-level one (matches everything under it)
    brand: str | None = None
    price_min: float | None = None
    price_max: float | None = None


@dataclass
class Timeline:
    """One shopper's history, newest first: per product, the strongest event and its last time."""

    items: np.ndarray
    events: list[str]
    last_ms: np.ndarray


@dataclass
class Tables:
    shoppers: pl.DataFrame  # idx, user_id, segment, items, purchases, last_ms, activity, attributes
    products: pl.DataFrame  # idx, item_id, title, category, top, brand, price, shoppers
    indptr: np.ndarray
    indices: np.ndarray
    strength: np.ndarray
    last_ms: np.ndarray
    now_ms: int  # the newest event in the bundle
    hot_threshold: int

    # ------------------------------------------------------------ reading

    @classmethod
    def read(cls, bundle: Path, hot_quantile: float = 0.8) -> Tables:
        bundle = Path(bundle)
        if not (bundle / "manifest.json").is_file():
            raise RecsysError(f"{bundle}: no bundle there: run `recsys run` (or `recsys export` after `recsys train`)")
        with np.load(bundle / "ids.npz", allow_pickle=False) as z:
            users, items = z["users"].astype(str), z["items"].astype(str)
        with np.load(bundle / HISTORY, allow_pickle=False) as z:
            indptr, indices = z["indptr"].astype(np.int64), z["indices"].astype(np.int32)
            strength, last_ms = z["strength"].astype(np.int8), z["last_ms"].astype(np.int64)
            known = z["known"].astype(bool)
        n_users, n_items = users.size, items.size
        counts = np.diff(indptr)
        rows = np.repeat(np.arange(n_users, dtype=np.int32), counts)
        purchases = np.bincount(rows, weights=(strength == 3), minlength=n_users).astype(np.int32)
        last = np.full(n_users, -1, dtype=np.int64)
        busy = counts > 0
        if busy.any():
            last[busy] = np.maximum.reduceat(last_ms, indptr[:-1][busy])
        now = int(last_ms.max()) if last_ms.size else 0
        # as eval labels shoppers: cold = no history the model was fit on; hot = above the quantile of the rest
        fit_on = known & busy
        hot = int(np.quantile(counts[fit_on], hot_quantile)) if fit_on.any() else 0
        segment = np.where(~fit_on, "cold", np.where(counts > hot, "hot", "warm"))
        age = (now - last) / DAY_MS
        activity = np.where(last < 0, ACTIVITY[3], np.where(age <= 30, ACTIVITY[0],
                                                            np.where(age <= 180, ACTIVITY[1], ACTIVITY[2])))
        shoppers = pl.DataFrame({
            "idx": np.arange(n_users, dtype=np.int32), "user_id": users, "segment": segment,
            "items": counts.astype(np.int32), "purchases": purchases, "last_ms": last, "activity": activity,
        })
        user_file = bundle / "users.parquet"
        if user_file.is_file():
            table = pl.read_parquet(user_file)
            cols = [c for c in (*ATTRIBUTES, "signup_date") if c in table.columns]
            if table.height == n_users and cols:
                shoppers = shoppers.with_columns(table.select(cols).cast({c: pl.Utf8 for c in cols if c in ATTRIBUTES}))
        catalog = pl.read_parquet(bundle / "catalog.parquet")
        products = pl.DataFrame({"idx": np.arange(n_items, dtype=np.int32), "item_id": items})
        for col in ("title", "category", "brand", "price", "description", "launch_date"):
            if col in catalog.columns and catalog.height == n_items:
                products = products.with_columns(catalog[col])
        if "title" not in products.columns:
            products = products.with_columns(pl.col("item_id").alias("title"))
        products = products.with_columns(
            pl.col("title").cast(pl.Utf8).fill_null(pl.col("item_id")),
            pl.Series("shoppers", np.bincount(indices, minlength=n_items)[:n_items].astype(np.int32)),
        )
        if "category" in products.columns:
            products = products.with_columns(pl.col("category").cast(pl.Utf8).str.split(" > ").list.first().alias("top"))
        return cls(shoppers=shoppers, products=products, indptr=indptr, indices=indices, strength=strength,
                   last_ms=last_ms, now_ms=now, hot_threshold=hot)

    # ------------------------------------------------------------ shoppers

    @property
    def n_shoppers(self) -> int:
        return self.shoppers.height

    def options(self, column: str) -> list[str]:
        """The distinct values of a shopper column, sorted (empty when the bundle has no such column)."""
        if column not in self.shoppers.columns:
            return []
        return sorted(v for v in self.shoppers[column].unique().to_list() if v not in (None, ""))

    def filter(self, f: Filter) -> np.ndarray:
        """Shopper indices matching ``f``, in the asked order (ties by index)."""
        cond = pl.lit(True)
        if f.text.strip():
            cond &= pl.col("user_id").str.to_lowercase().str.contains(f.text.strip().lower(), literal=True)
        for column in ("segment", "activity", *ATTRIBUTES):
            value = getattr(f, column)
            if value is not None and column in self.shoppers.columns:
                cond &= pl.col(column) == value
        frame = self.shoppers.lazy().filter(cond)
        if f.sort == "items":
            frame = frame.sort(["items", "idx"], descending=[True, False])
        elif f.sort == "recent":
            frame = frame.sort(["last_ms", "idx"], descending=[True, False])
        return frame.select("idx").collect()["idx"].to_numpy().astype(np.int64)

    def timeline(self, user: int) -> Timeline:
        lo, hi = int(self.indptr[user]), int(self.indptr[user + 1])
        order = np.lexsort((self.indices[lo:hi], -self.last_ms[lo:hi]))  # newest first, ties by item index
        codes = self.strength[lo:hi][order]
        return Timeline(items=self.indices[lo:hi][order], events=[EVENT.get(int(c), "event") for c in codes],
                        last_ms=self.last_ms[lo:hi][order])

    # ------------------------------------------------------------ products

    @property
    def n_products(self) -> int:
        return self.products.height

    def categories(self) -> list[str]:
        """Top-level categories, each followed by its sub-categories (full paths), sorted."""
        if "category" not in self.products.columns:
            return []
        full = sorted(v for v in self.products["category"].unique().to_list() if v)
        tops = sorted({c.split(" > ")[0] for c in full})
        out: list[str] = []
        for top in tops:
            out.append(top)
            out.extend(c for c in full if c != top and c.startswith(top + " > "))
        return out

    def brands(self) -> list[str]:
        if "brand" not in self.products.columns:
            return []
        return sorted(v for v in self.products["brand"].unique().to_list() if v)

    def price_bands(self) -> list[tuple[float | None, float | None]]:
        """Four price bands cut at the catalog's price quartiles (rounded)."""
        if "price" not in self.products.columns:
            return []
        prices = self.products["price"].drop_nulls().drop_nans().to_numpy()
        if prices.size < 4:
            return []
        cuts = sorted({float(_round(q)) for q in np.quantile(prices, [0.25, 0.5, 0.75])})
        edges: list[float | None] = [None, *cuts, None]
        return [(edges[i], edges[i + 1]) for i in range(len(edges) - 1)]

    def filter_products(self, f: ProductFilter) -> np.ndarray:
        cond = pl.lit(True)
        text = f.text.strip().lower()
        if text:
            hay = pl.col("title").str.to_lowercase()
            if "brand" in self.products.columns:
                hay = pl.concat_str([hay, pl.col("brand").cast(pl.Utf8).fill_null("").str.to_lowercase()], separator=" ")
            cond &= hay.str.contains(text, literal=True) | pl.col("item_id").str.to_lowercase().str.contains(text, literal=True)
        if f.category and "category" in self.products.columns:
            cond &= (pl.col("category") == f.category) | pl.col("category").str.starts_with(f.category + " > ")
        if f.brand and "brand" in self.products.columns:
            cond &= pl.col("brand") == f.brand
        if "price" in self.products.columns:
            if f.price_min is not None:
                cond &= pl.col("price") >= f.price_min
            if f.price_max is not None:
                cond &= pl.col("price") <= f.price_max
        return self.products.lazy().filter(cond).select("idx").collect()["idx"].to_numpy().astype(np.int64)


def _round(value: float) -> float:
    """A readable price cut: two significant digits."""
    if value <= 0:
        return 0.0
    digits = int(np.floor(np.log10(value))) - 1
    return float(round(value, -digits))
