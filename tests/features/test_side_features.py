"""User/item side features: computed from the train frame only, one row per index, one-hots."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from recsys_cli.features.side import item_features, one_hot, user_features

T0 = dt.datetime(2024, 1, 1)


def frames() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    catalog = pl.DataFrame({
        "category": ["Electronics > Phones", "Electronics > Laptops", "Grocery > Snacks", "Books|Fiction"],
        "brand": ["A", "B", "C", None],
        "price": [500.0, 900.0, 3.0, None],
        "launch_date": [T0 - dt.timedelta(days=100), T0, T0 + dt.timedelta(days=10), None],
    })
    train = pl.DataFrame({
        "user_idx": [0, 0, 0, 1, 1],
        "item_idx": [0, 1, 2, 2, 2],
        "event": ["view", "view", "purchase", "view", "purchase"],
        "weight": [1.0, 1.0, 5.0, 1.0, 5.0],
        "session_id": ["s1", "s1", "s2", "s3", "s3"],
        "timestamp": [T0 + dt.timedelta(days=d) for d in (1, 1, 20, 30, 30)],
    })
    users = pl.DataFrame({"user_id": ["a", "b", "c"], "age_band": ["18-24", "65+", None],
                          "gender": ["F", "M", None], "location": ["X", "Y", None]})
    return catalog, train, users


def test_item_features_from_train_only() -> None:
    catalog, train, _ = frames()
    feats = item_features(train, catalog)
    assert feats.height == 4 and feats["item_idx"].to_list() == [0, 1, 2, 3]
    assert feats["top"].to_list() == ["Electronics", "Electronics", "Grocery", "Books"]
    assert feats["events"].to_list() == [1, 1, 3, 0]
    assert feats["purchases"].to_list() == [0, 0, 2, 0]
    cutoff = T0 + dt.timedelta(days=30)
    assert feats["recency_days"][0] == (cutoff - (T0 + dt.timedelta(days=1))).days
    assert feats["age_days"][0] == 130 and feats["age_days"][3] is None
    bands = feats["price_band"].to_list()
    assert bands[3] is None and bands[2] < bands[0] < bands[1]  # cheaper items in lower bands
    # a later event (not in the frame) changes nothing: features only see what they are given
    later = pl.concat([train, train.head(1).with_columns(timestamp=pl.lit(T0 + dt.timedelta(days=400)))])
    assert item_features(train, catalog).equals(feats)
    assert not item_features(later, catalog).equals(feats)


def test_user_features() -> None:
    catalog, train, users = frames()
    feats = user_features(train, users, item_features(train, catalog), 3)
    assert feats.height == 3
    row0, row2 = feats.row(0, named=True), feats.row(2, named=True)
    assert row0["age_band"] == "18-24" and row0["events"] == 3 and row0["purchases"] == 1 and row0["sessions"] == 2
    assert row0["events_per_session"] == 1.5
    assert row0["top_category"] == "Electronics" and abs(row0["top_category_share"] - 2 / 3) < 1e-9
    assert row2["events"] == 0 and row2["top_category"] is None  # no history: nothing invented


def test_one_hot_single_and_multi_valued() -> None:
    frame = pl.DataFrame({"category": ["a|b", "b", None], "brand": ["x", None, "x"]})
    side = one_hot(frame, ["category", "brand"], {"category": "|"})
    assert side.names.tolist() == ["category=a", "category=b", "brand=x"]
    np.testing.assert_array_equal(side.matrix.toarray(), [[1, 1, 1], [0, 1, 0], [0, 0, 1]])
