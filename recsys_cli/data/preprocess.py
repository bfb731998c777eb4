"""Clean an event log: known events, rating threshold, de-duplication, k-core, weights."""

from __future__ import annotations

from typing import Any

import polars as pl

from recsys_cli.config import PreprocessConfig
from recsys_cli.errors import DataError


def preprocess(events: pl.DataFrame, cfg: PreprocessConfig) -> tuple[pl.DataFrame, dict[str, Any]]:
    """The cleaned events with a ``weight`` column, and how many rows each step removed."""
    stats: dict[str, Any] = {"input": events.height}
    found = events["event"].value_counts(sort=True).head(20) if events.height else None
    if found is not None:
        stats["event_values"] = {str(k): int(n) for k, n in found.iter_rows()}
    known = list(cfg.event_weights)
    is_known = pl.col("event").is_in(known).fill_null(False)
    unknown = events.filter(~is_known)
    if unknown.height:
        kinds = sorted(str(k) for k in unknown["event"].unique().to_list())
        if not cfg.drop_unknown_events:
            raise DataError(
                f"events: event type(s) {kinds} have no weight in data.preprocess.event_weights "
                f"(known: {', '.join(known)}); add them or set data.preprocess.drop_unknown_events=true"
            )
        events = events.filter(is_known)
    stats["dropped_unknown_event"] = unknown.height

    if cfg.rating_threshold is not None:
        before = events.height
        events = events.filter(pl.col("rating").is_null() | (pl.col("rating") >= cfg.rating_threshold))
        stats["dropped_below_rating_threshold"] = before - events.height

    if cfg.dedupe:
        before = events.height
        keys = ["user_id", "item_id", "event", "timestamp"]
        quantity = "quantity" in events.columns and events["quantity"].null_count() < events.height
        if quantity and cfg.quantity_weight != "none":  # the same product twice in one order: add the units
            order = events.columns
            events = events.group_by(keys, maintain_order=True).agg(
                pl.exclude("quantity").first(), pl.col("quantity").sum()
            ).select(order)
        else:
            events = events.unique(subset=keys, keep="first", maintain_order=True)
        stats["dropped_duplicates"] = before - events.height

    if cfg.min_user_interactions > 1 or cfg.min_item_interactions > 1:
        before = events.height
        events = kcore(events, cfg.min_user_interactions, cfg.min_item_interactions)
        stats["dropped_kcore"] = before - events.height

    weights = pl.DataFrame({"event": known, "w": [float(cfg.event_weights[k]) for k in known]})
    events = events.join(weights, on="event", how="left", maintain_order="left")
    weight = pl.col("w")
    if cfg.rating_as_weight:
        weight = pl.when(pl.col("rating").is_not_null()).then(pl.col("rating") * pl.col("w")).otherwise(pl.col("w"))
    if cfg.quantity_weight != "none" and "quantity" in events.columns:
        units = pl.col("quantity").clip(lower_bound=1.0)
        factor = units if cfg.quantity_weight == "linear" else 1.0 + units.log()
        weight = weight * pl.when(pl.col("quantity").is_not_null()).then(factor).otherwise(1.0)
    events = events.with_columns(weight.cast(pl.Float32).alias("weight")).drop("w")
    stats["output"] = events.height
    if events.height == 0:
        raise DataError(_nothing_left(stats, known))
    return events, stats


def _nothing_left(stats: dict[str, Any], known: list[str]) -> str:
    """Why no event survived: which step removed them, and the event values against the known ones."""
    values = stats.get("event_values") or {}
    found = ", ".join(f"{k} ({n:,})" for k, n in values.items()) or "none"
    steps = {k: n for k, n in stats.items() if k.startswith("dropped_") and n}
    removed = ", ".join(f"{k.removeprefix('dropped_')} {n:,}" for k, n in steps.items())
    hint = ""
    if stats.get("dropped_unknown_event") == stats.get("input"):
        hint = (
            "; map the log's values with data.event_map (e.g. data.event_map={pv: view, buy: purchase}) "
            "or weight them in data.preprocess.event_weights"
        )
    return (
        f"events: no events left after preprocessing ({removed or 'no input'}); values in the event column: "
        f"{found}; known (data.preprocess.event_weights): {', '.join(known) or 'none'}{hint}"
    )


def kcore(events: pl.DataFrame, min_user: int, min_item: int) -> pl.DataFrame:
    """Repeatedly drop users and items with too few distinct partners until stable."""
    while True:
        pairs = events.select("user_id", "item_id").unique()
        users = pairs.group_by("user_id").len().filter(pl.col("len") >= min_user)["user_id"]
        items = pairs.group_by("item_id").len().filter(pl.col("len") >= min_item)["item_id"]
        kept = events.filter(pl.col("user_id").is_in(users.implode()) & pl.col("item_id").is_in(items.implode()))
        if kept.height == events.height:
            return kept
        events = kept
