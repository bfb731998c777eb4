"""The three interim tables every source produces, and their exact schemas.

events  one row per user action: who, what, when, which kind (+ optional
        rating, price, session, device, quantity, text such as a review)
items   the catalog: text, category path, brand, price, launch date
users   optional attributes: age band, gender, location, signup date

Sources may leave optional columns out; :func:`conform` adds them as nulls and
casts everything to the schema, so later stages can rely on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

EVENTS: dict[str, pl.DataType] = {
    "user_id": pl.Utf8(),
    "item_id": pl.Utf8(),
    "timestamp": pl.Datetime("ms"),
    "event": pl.Utf8(),
    "rating": pl.Float32(),
    "price": pl.Float32(),
    "session_id": pl.Utf8(),
    "device": pl.Utf8(),
    "quantity": pl.Float32(),
    "text": pl.Utf8(),
}
EVENTS_REQUIRED = ("user_id", "item_id", "timestamp", "event")

ITEMS: dict[str, pl.DataType] = {
    "item_id": pl.Utf8(),
    "title": pl.Utf8(),
    "description": pl.Utf8(),
    "category": pl.Utf8(),
    "brand": pl.Utf8(),
    "price": pl.Float32(),
    "launch_date": pl.Datetime("ms"),
}
ITEMS_REQUIRED = ("item_id",)

USERS: dict[str, pl.DataType] = {
    "user_id": pl.Utf8(),
    "age_band": pl.Utf8(),
    "gender": pl.Utf8(),
    "location": pl.Utf8(),
    "signup_date": pl.Datetime("ms"),
}
USERS_REQUIRED = ("user_id",)


def conform(
    frame: pl.DataFrame, schema: dict[str, pl.DataType], required: tuple[str, ...]
) -> pl.DataFrame:
    """Cast ``frame`` to ``schema``, adding missing optional columns as nulls.

    Sources validate their own input (with file/row context) before calling
    this; a failure here is a bug in a source, not bad user data.
    """
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(f"source produced no column(s) {missing}")
    exprs = []
    for name, dtype in schema.items():
        if name in frame.columns:
            exprs.append(pl.col(name).cast(dtype))
        else:
            exprs.append(pl.lit(None, dtype=dtype).alias(name))
    return frame.select(exprs)


def empty(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)


@dataclass
class RawData:
    """What a source hands to ingest: events plus optional catalog and users."""

    events: pl.DataFrame
    items: pl.DataFrame
    users: pl.DataFrame
    description: str = ""
    notes: dict[str, Any] = field(default_factory=dict)  # what the source left out, for the ingest report

    @classmethod
    def build(
        cls,
        events: pl.DataFrame,
        items: pl.DataFrame | None = None,
        users: pl.DataFrame | None = None,
        description: str = "",
        notes: dict[str, Any] | None = None,
    ) -> RawData:
        return cls(
            events=conform(events, EVENTS, EVENTS_REQUIRED),
            items=conform(items, ITEMS, ITEMS_REQUIRED) if items is not None else empty(ITEMS),
            users=conform(users, USERS, USERS_REQUIRED) if users is not None else empty(USERS),
            description=description,
            notes=dict(notes or {}),
        )
