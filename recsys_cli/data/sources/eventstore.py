"""The event store as a training log: what was served and what shoppers did with it.

``recsys ingest data=eventstore`` reads the feedback events ``recsys serve``
stored (views, clicks, carts, purchases; never impressions: being shown is
not a choice) with their times and prices; clicks count as views. The catalog
and the user table come from the served bundle (``data.items_path``: its
catalog.parquet, with users.parquet beside it; default: the ``bundle``, i.e.
data/bundle), so products and shoppers keep their attributes. With
``data.base_path`` (e.g. the interim events.parquet of the run that made the
bundle) the earlier log is learnt from too, and the served period's events
come last in time, where a temporal split puts them in the newest windows.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from recsys_cli.config import Config
from recsys_cli.data.tables import EVENTS, EVENTS_REQUIRED, ITEMS, ITEMS_REQUIRED, USERS, USERS_REQUIRED, RawData, conform
from recsys_cli.errors import DataError, StageInputError

CHOICES = ("view", "click", "add_to_cart", "purchase", "favorite")


def load(cfg: Config) -> RawData:
    from recsys_cli.serve.events import EventStore, store_url

    spec = cfg.data.store or cfg.serve.events
    url = store_url(spec, cfg.paths.data_dir)
    if url is None:
        raise DataError("data=eventstore: no event store (data.store / serve.events is none)")
    if url.startswith("sqlite:///") and not Path(url.split("sqlite:///", 1)[1]).is_file():
        raise StageInputError(f"{url.split('sqlite:///', 1)[1]}: no event store yet; run `recsys serve` first")
    store = EventStore(url)
    try:
        rows = store.query("SELECT ts, user_id, item_id, event, price, quantity FROM events "
                           "WHERE event IN ('view', 'click', 'add_to_cart', 'purchase', 'favorite') ORDER BY id")
    finally:
        store.close_sync()
    logged = pl.DataFrame(rows, schema={"ts": pl.Float64, "user_id": pl.Utf8, "item_id": pl.Utf8, "event": pl.Utf8,
                                        "price": pl.Float64, "quantity": pl.Float64}, orient="row")
    logged = logged.with_columns(
        timestamp=(pl.col("ts") * 1000).cast(pl.Int64).cast(pl.Datetime("ms")),
        event=pl.col("event").replace({"click": "view"}),
    ).drop("ts")
    parts = []
    if cfg.data.base_path:
        base = Path(cfg.data.base_path)
        if not base.is_file():
            raise DataError(f"{base}: data.base_path not found (an interim events.parquet of an earlier run)")
        parts.append(pl.read_parquet(base))
    parts.append(conform(logged, EVENTS, EVENTS_REQUIRED))
    events = pl.concat([conform(p, EVENTS, EVENTS_REQUIRED) for p in parts])
    if events.height == 0:
        raise DataError(f"{spec}: the event store holds no feedback events yet (post some to /feedback)")
    catalog = Path(cfg.data.items_path) if cfg.data.items_path else cfg.bundle_path / "catalog.parquet"
    if cfg.data.items_path and not catalog.is_file():
        raise DataError(f"{catalog}: data.items_path not found (a bundle's catalog.parquet)")
    items = pl.read_parquet(catalog) if catalog.is_file() else None
    users_file = catalog.with_name("users.parquet")  # the bundle's user table sits next to its catalog
    users = pl.read_parquet(users_file) if users_file.is_file() else None
    return RawData.build(
        events,
        conform(items, ITEMS, ITEMS_REQUIRED) if items is not None else None,
        conform(users, USERS, USERS_REQUIRED) if users is not None else None,
        description=f"event store {spec}: {logged.height:,} served-era events"
                    + (f" after {events.height - logged.height:,} from {cfg.data.base_path}" if parts[:-1] else ""),
        notes={"store_events": logged.height, "base_events": events.height - logged.height},
    )
