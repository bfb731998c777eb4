"""ingest: read the configured source, clean it, write data/interim/*.parquet."""

from __future__ import annotations

import json

import polars as pl

from recsys_cli import layout
from recsys_cli.atomic import atomic_dir
from recsys_cli.config import Config
from recsys_cli.data.preprocess import preprocess
from recsys_cli.data.profile import profile
from recsys_cli.data.tables import ITEMS, RawData, conform
from recsys_cli.progress import status


def load_source(cfg: Config) -> RawData:
    source = cfg.data.source
    if source == "synthetic":
        from recsys_cli.data.sources import synthetic

        return synthetic.load(cfg.data)
    if source == "movielens":
        from recsys_cli.data.sources import movielens

        return movielens.load(cfg.data, cfg.paths.raw)
    if source == "eventstore":
        from recsys_cli.data.sources import eventstore

        return eventstore.load(cfg)
    from recsys_cli.data.sources import events

    return events.load(cfg.data)


def complete_catalog(items: pl.DataFrame, events: pl.DataFrame) -> pl.DataFrame:
    """Every item that has events gets a catalog row (text unknown if the source has none)."""
    seen = events.select("item_id").unique()
    missing = seen.join(items.select("item_id"), on="item_id", how="anti")
    if missing.height:
        items = pl.concat([items, conform(missing, ITEMS, ("item_id",))])
    return items.unique("item_id", keep="first", maintain_order=True).sort("item_id")


def run(cfg: Config) -> None:
    from recsys_cli.engines import runs_on

    if runs_on(cfg, "ingest") == "spark":
        from recsys_cli.engines.spark import data

        data.ingest(cfg)
        return
    raw = load_source(cfg)
    status(f"ingest: {raw.description or cfg.data.source}")
    events, stats = preprocess(raw.events, cfg.data.preprocess)
    events = events.sort(["timestamp", "user_id", "item_id"])
    items = complete_catalog(raw.items, events)
    users = raw.users.unique("user_id", keep="first", maintain_order=True).sort("user_id")
    report = {
        "source": cfg.data.source,
        "description": raw.description,
        **({"read": raw.notes} if raw.notes else {}),
        "preprocess": stats,
        "catalog_items": items.height,
        "users_table_rows": users.height,
        "profile": profile(events, items),
    }
    with atomic_dir(cfg.paths.interim) as tmp:
        events.write_parquet(tmp / layout.EVENTS)
        items.write_parquet(tmp / layout.ITEMS)
        users.write_parquet(tmp / layout.USERS)
        (tmp / layout.INGEST_REPORT).write_text(json.dumps(report, indent=2) + "\n")
    status(
        f"ingest: {events.height:,} events, {events['user_id'].n_unique():,} users, "
        f"{items.height:,} catalog items -> {cfg.paths.interim}"
    )
