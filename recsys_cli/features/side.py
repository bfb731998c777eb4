"""Item and user side features from the train window, as tables and sparse matrices.

Everything behavioural (counts, recency, affinities, trends) is computed from
train events only, at the train cutoff (the last train timestamp). Catalog
and profile attributes (category, brand, price, demographics) are metadata
and come from the catalog and user tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import scipy.sparse as sp

PRICE_BANDS = 5


def item_popularity(train: pl.DataFrame, n_items: int) -> pl.DataFrame:
    """Per item index: events, distinct users, summed weight, per-event counts, last seen."""
    stats = train.group_by("item_idx").agg(
        events=pl.len(),
        users=pl.col("user_idx").n_unique(),
        weight=pl.col("weight").sum(),
        views=(pl.col("event") == "view").sum(),
        carts=(pl.col("event") == "add_to_cart").sum(),
        purchases=(pl.col("event") == "purchase").sum(),
        last_seen=pl.col("timestamp").max(),
    )
    full = pl.DataFrame({"item_idx": pl.int_range(n_items, eager=True).cast(pl.Int32)})
    stats = stats.with_columns(pl.col("item_idx").cast(pl.Int32))
    out = full.join(stats, on="item_idx", how="left", maintain_order="left")
    counts = ["events", "users", "weight", "views", "carts", "purchases"]
    return out.with_columns([pl.col(c).fill_null(0) for c in counts])


def _top_category(col: str = "category") -> pl.Expr:
    text = pl.col(col).cast(pl.Utf8)
    return pl.when(text.str.contains(" > ")).then(text.str.split(" > ").list.first()).otherwise(
        text.str.split("|").list.first()
    )


def _days(delta: pl.Expr) -> pl.Expr:
    return delta.dt.total_seconds() / 86400.0


def item_features(train: pl.DataFrame, catalog: pl.DataFrame) -> pl.DataFrame:
    """One row per item index: catalog attributes plus train-window behaviour."""
    n_items = catalog.height
    cutoff = train["timestamp"].max()
    pop = item_popularity(train, n_items)
    recent = train.filter(pl.col("timestamp") > cutoff - pl.duration(days=28)).group_by("item_idx").len("recent")
    before = train.filter(
        (pl.col("timestamp") <= cutoff - pl.duration(days=28)) & (pl.col("timestamp") > cutoff - pl.duration(days=112))
    ).group_by("item_idx").len("before")
    season = train.filter(pl.col("timestamp").dt.month() >= 11).group_by("item_idx").len("holiday")
    out = (
        catalog.select("category", "brand", "price", "launch_date")
        .with_row_index("item_idx")
        .with_columns(pl.col("item_idx").cast(pl.Int32), top=_top_category())
        .join(pop, on="item_idx", how="left", maintain_order="left")
    )
    for extra in (recent, before, season):
        out = out.join(extra.with_columns(pl.col("item_idx").cast(pl.Int32)), on="item_idx", how="left", maintain_order="left")
    prices = out["price"].drop_nulls()
    if prices.len():
        edges = np.unique(np.quantile(prices.to_numpy(), np.linspace(0, 1, PRICE_BANDS + 1)[1:-1]))
        band = pl.Series(np.searchsorted(edges, out["price"].fill_null(np.nan).to_numpy(), side="right"))
        out = out.with_columns(price_band=pl.when(pl.col("price").is_null()).then(None).otherwise(band).cast(pl.Int8))
    else:
        out = out.with_columns(price_band=pl.lit(None, dtype=pl.Int8))
    return out.select(
        "item_idx", "top", "category", "brand", "price", "price_band", "events", "users", "purchases",
        recency_days=_days(pl.lit(cutoff) - pl.col("last_seen")),
        age_days=pl.when(pl.col("launch_date") <= cutoff).then(_days(pl.lit(cutoff) - pl.col("launch_date"))),
        trend=(pl.col("recent").fill_null(0) + 1) / (pl.col("before").fill_null(0) / 3.0 + 1),
        holiday_share=pl.col("holiday").fill_null(0) / pl.col("events").clip(lower_bound=1),
    )


def user_features(train: pl.DataFrame, users: pl.DataFrame, item_feats: pl.DataFrame, n_users: int) -> pl.DataFrame:
    """One row per user index: profile attributes plus train-window behaviour."""
    cutoff = train["timestamp"].max()
    ev = train.join(item_feats.select("item_idx", "top", "brand", "price_band"), on="item_idx", how="left")
    has_sessions = "session_id" in ev.columns and ev["session_id"].null_count() < ev.height
    agg = ev.group_by("user_idx").agg(
        events=pl.len(),
        purchases=(pl.col("event") == "purchase").sum(),
        first_seen=pl.col("timestamp").min(),
        last_seen=pl.col("timestamp").max(),
        sessions=pl.col("session_id").n_unique() if has_sessions else pl.lit(None, dtype=pl.UInt32),
        price_band=pl.col("price_band").median(),
        top_category=pl.col("top").drop_nulls().mode().first(),
        top_category_share=(pl.col("top") == pl.col("top").drop_nulls().mode().first()).mean(),
        favourite_brand=pl.col("brand").drop_nulls().mode().first(),
    )
    full = pl.DataFrame({"user_idx": pl.int_range(n_users, eager=True).cast(pl.Int32)})
    out = full.join(agg.with_columns(pl.col("user_idx").cast(pl.Int32)), on="user_idx", how="left", maintain_order="left")
    out = out.hstack(users.select("age_band", "gender", "location")) if users.height == n_users else out.with_columns(
        age_band=pl.lit(None, dtype=pl.Utf8), gender=pl.lit(None, dtype=pl.Utf8), location=pl.lit(None, dtype=pl.Utf8)
    )
    active_days = _days(pl.col("last_seen") - pl.col("first_seen")) + 1.0
    return out.select(
        "user_idx", "age_band", "gender", "location",
        events=pl.col("events").fill_null(0),
        purchases=pl.col("purchases").fill_null(0),
        sessions=pl.col("sessions").fill_null(0),
        events_per_session=pl.col("events") / pl.col("sessions").cast(pl.Float64),
        purchases_per_30_days=pl.col("purchases") / active_days * 30.0,
        recency_days=_days(pl.lit(cutoff) - pl.col("last_seen")),
        price_band=pl.col("price_band").round(0).cast(pl.Int8),
        top_category="top_category",
        top_category_share="top_category_share",
        favourite_brand="favourite_brand",
    )


@dataclass
class SideMatrix:
    """One-hot (and share) columns of an entity table, with column names."""

    matrix: sp.csr_matrix
    names: np.ndarray


def one_hot(frame: pl.DataFrame, columns: list[str], multi_sep: dict[str, str] | None = None) -> SideMatrix:
    """Sparse one-hot encoding of categorical columns (``multi_sep``: split multi-valued ones)."""
    multi_sep = multi_sep or {}
    blocks, names = [], []
    for col in columns:
        if col not in frame.columns:
            continue
        lists = frame[col].cast(pl.Utf8).str.split(multi_sep.get(col, "\x00"))
        exploded = pl.DataFrame({"row": np.arange(frame.height), "v": lists}).explode("v").drop_nulls()
        vocab = sorted(exploded["v"].unique().to_list())
        if not vocab:
            continue
        index = {v: i for i, v in enumerate(vocab)}
        cols = np.array([index[v] for v in exploded["v"].to_list()], dtype=np.int64)
        rows = exploded["row"].to_numpy()
        block = sp.csr_matrix((np.ones(rows.size, dtype=np.float32), (rows, cols)), shape=(frame.height, len(vocab)))
        block.sum_duplicates()
        block.data[:] = 1.0
        blocks.append(block)
        names += [f"{col}={v}" for v in vocab]
    if not blocks:
        return SideMatrix(sp.csr_matrix((frame.height, 0), dtype=np.float32), np.array([], dtype=str))
    return SideMatrix(sp.hstack(blocks, format="csr", dtype=np.float32), np.array(names, dtype=str))
