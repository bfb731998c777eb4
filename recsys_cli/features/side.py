"""Item side features from the train window: popularity counts and recency."""

from __future__ import annotations

import polars as pl


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
