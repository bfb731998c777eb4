"""Preprocessing: unknown events, rating threshold, de-duplication, weights, k-core."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import numpy as np
import polars as pl
import pytest

from recsys_cli.config import PreprocessConfig
from recsys_cli.data import tables
from recsys_cli.data.preprocess import kcore, preprocess
from recsys_cli.errors import DataError

T0 = datetime(2024, 3, 1)


def _events(rows: list[dict]) -> pl.DataFrame:
    """Events in the interim schema; each row gives at least user, item and event."""
    full = [
        {
            "user_id": r["user"],
            "item_id": r["item"],
            "timestamp": T0 + timedelta(minutes=r.get("t", 0)),
            "event": r["event"],
            "rating": r.get("rating"),
            "price": r.get("price"),
            "session_id": r.get("session"),
            "device": r.get("device"),
        }
        for r in rows
    ]
    return pl.DataFrame(full, schema=tables.EVENTS)


def _pairs(rows: list[tuple[str, str]]) -> pl.DataFrame:
    return _events([{"user": u, "item": i, "event": "view", "t": k} for k, (u, i) in enumerate(rows)])


# -------------------------------------------------------------- unknown events


def test_unknown_events_are_dropped_and_counted() -> None:
    ev = _events(
        [
            {"user": "a", "item": "x", "event": "view"},
            {"user": "a", "item": "y", "event": "wishlist", "t": 1},
            {"user": "b", "item": "x", "event": "purchase", "t": 2},
            {"user": "b", "item": "z", "event": "wishlist", "t": 3},
        ]
    )
    out, stats = preprocess(ev, PreprocessConfig())
    assert set(out["event"].to_list()) == {"view", "purchase"}
    assert out.height == 2
    assert stats["dropped_unknown_event"] == 2
    assert stats["input"] == 4 and stats["output"] == 2


def test_unknown_events_name_the_event_when_not_dropped() -> None:
    ev = _events(
        [
            {"user": "a", "item": "x", "event": "view"},
            {"user": "a", "item": "y", "event": "wishlist", "t": 1},
        ]
    )
    with pytest.raises(DataError, match="wishlist"):
        preprocess(ev, PreprocessConfig(drop_unknown_events=False))


def test_only_unknown_events_is_a_data_error() -> None:
    ev = _events([{"user": "a", "item": "x", "event": "wishlist"}])
    with pytest.raises(DataError, match="no events left"):
        preprocess(ev, PreprocessConfig())


# ------------------------------------------------------------ rating threshold


def test_rating_threshold_keeps_high_and_unrated() -> None:
    ratings = [1.0, 2.5, 3.0, 4.5, None]
    ev = _events(
        [{"user": "a", "item": f"i{k}", "event": "rating", "rating": r, "t": k} for k, r in enumerate(ratings)]
    )
    out, stats = preprocess(ev, PreprocessConfig(rating_threshold=3.0))
    kept = out["rating"].to_list()
    assert sorted(kept, key=lambda r: (r is None, r)) == [3.0, 4.5, None]
    assert stats["dropped_below_rating_threshold"] == 2

    out_all, stats_all = preprocess(ev, PreprocessConfig())
    assert out_all.height == len(ratings)
    assert "dropped_below_rating_threshold" not in stats_all


# --------------------------------------------------------------------- dedupe


def test_dedupe_removes_exact_duplicates_only() -> None:
    base = {"user": "a", "item": "x", "event": "view", "t": 0, "session": "s1", "device": "mobile"}
    ev = _events(
        [
            base,
            dict(base),  # exact duplicate
            dict(base),  # and another
            {**base, "t": 1},  # later
            {**base, "item": "y"},  # other item
            {**base, "user": "b"},  # other user
            {**base, "event": "add_to_cart"},  # other event
        ]
    )
    out, stats = preprocess(ev, PreprocessConfig())
    assert out.height == 5
    assert stats["dropped_duplicates"] == 2
    key = ["user_id", "item_id", "event", "timestamp"]
    assert out.select(key).is_unique().all()
    assert out.drop("weight").unique().height == ev.unique().height

    kept, stats_kept = preprocess(ev, PreprocessConfig(dedupe=False))
    assert kept.height == ev.height
    assert "dropped_duplicates" not in stats_kept


# -------------------------------------------------------------------- weights


def test_weights_come_from_event_weights() -> None:
    weights = {"view": 1.0, "add_to_cart": 2.5, "purchase": 7.0}
    ev = _events(
        [{"user": "a", "item": "x", "event": e, "t": k} for k, e in enumerate(["view", "purchase", "add_to_cart", "view"])]
    )
    out, _ = preprocess(ev, PreprocessConfig(event_weights=weights))
    assert out["weight"].dtype == pl.Float32
    for event, weight in out.select("event", "weight").iter_rows():
        assert weight == pytest.approx(weights[event])
    # order and rows are preserved
    assert out["event"].to_list() == ev["event"].to_list()


def test_rating_as_weight_multiplies_by_the_rating() -> None:
    weights = {"rating": 2.0, "view": 1.5}
    ev = _events(
        [
            {"user": "a", "item": "x", "event": "rating", "rating": 4.0},
            {"user": "a", "item": "y", "event": "rating", "rating": None, "t": 1},
            {"user": "b", "item": "x", "event": "view", "t": 2},
        ]
    )
    out, _ = preprocess(ev, PreprocessConfig(event_weights=weights, rating_as_weight=True))
    assert out["weight"].to_list() == pytest.approx([8.0, 2.0, 1.5])
    plain, _ = preprocess(ev, PreprocessConfig(event_weights=weights))
    assert plain["weight"].to_list() == pytest.approx([2.0, 2.0, 1.5])


# ---------------------------------------------------------------------- kcore


def _degrees(ev: pl.DataFrame) -> tuple[dict[str, int], dict[str, int]]:
    pairs = set(ev.select("user_id", "item_id").iter_rows())
    users: dict[str, int] = {}
    items: dict[str, int] = {}
    for u, i in pairs:
        users[u] = users.get(u, 0) + 1
        items[i] = items.get(i, 0) + 1
    return users, items


def _largest_core(rows: list[tuple[str, str]], min_user: int, min_item: int) -> set[tuple[str, str]]:
    """Brute force: the union of every (users, items) subset whose induced pairs meet the minimums."""
    users = sorted({u for u, _ in rows})
    items = sorted({i for _, i in rows})
    pairs = set(rows)
    best: set[tuple[str, str]] = set()
    for nu in range(len(users) + 1):
        for us in itertools.combinations(users, nu):
            for ni in range(len(items) + 1):
                for its in itertools.combinations(items, ni):
                    sub = {(u, i) for u, i in pairs if u in us and i in its}
                    du = {u: sum(1 for uu, _ in sub if uu == u) for u in us}
                    di = {i: sum(1 for _, ii in sub if ii == i) for i in its}
                    if all(d >= min_user for d in du.values()) and all(d >= min_item for d in di.values()):
                        best |= sub
    return best


def test_kcore_cascades_to_the_largest_core() -> None:
    # d has one item, so item 3 loses d, then c is left with one item: only a, b x 1, 2 remain
    rows = [("a", "1"), ("a", "2"), ("b", "1"), ("b", "2"), ("c", "2"), ("c", "3"), ("d", "3"), ("a", "1")]
    out = kcore(_pairs(rows), 2, 2)
    assert set(out.select("user_id", "item_id").iter_rows()) == {("a", "1"), ("a", "2"), ("b", "1"), ("b", "2")}
    assert out.height == 5  # a's repeated view of 1 is kept: kcore drops users/items, not events
    assert set(out.select("user_id", "item_id").iter_rows()) == _largest_core(rows, 2, 2)


@pytest.mark.parametrize("seed", range(8))
def test_kcore_matches_brute_force_on_random_small_logs(seed: int) -> None:
    rng = np.random.default_rng(seed)
    users, items = ["u0", "u1", "u2", "u3", "u4"], ["i0", "i1", "i2", "i3"]
    rows = [(users[u], items[i]) for u, i in zip(rng.integers(0, 5, 16), rng.integers(0, 4, 16), strict=True)]
    min_user, min_item = int(rng.integers(2, 4)), int(rng.integers(2, 4))
    out = kcore(_pairs(rows), min_user, min_item)
    got = set(out.select("user_id", "item_id").iter_rows())
    assert got == _largest_core(rows, min_user, min_item)
    du, di = _degrees(out)
    assert all(d >= min_user for d in du.values())
    assert all(d >= min_item for d in di.values())
    # every event of a kept (user, item) pair is kept
    assert out.height == sum(1 for r in rows if r in got)


def test_preprocess_applies_kcore_and_counts_it() -> None:
    rows = [("a", "1"), ("a", "2"), ("b", "1"), ("b", "2"), ("c", "1")]
    out, stats = preprocess(_pairs(rows), PreprocessConfig(min_user_interactions=2, min_item_interactions=2))
    assert set(out.select("user_id", "item_id").iter_rows()) == {("a", "1"), ("a", "2"), ("b", "1"), ("b", "2")}
    assert stats["dropped_kcore"] == 1
    du, di = _degrees(out)
    assert min(du.values()) >= 2 and min(di.values()) >= 2


def test_kcore_that_removes_everything_is_a_data_error() -> None:
    rows = [("a", "1"), ("b", "2"), ("c", "3")]
    with pytest.raises(DataError, match="no events left"):
        preprocess(_pairs(rows), PreprocessConfig(min_user_interactions=2))


def test_null_event_counts_as_unknown() -> None:
    import datetime as dt

    from recsys_cli.config import PreprocessConfig
    from recsys_cli.data.preprocess import preprocess
    from recsys_cli.errors import DataError

    frame = pl.DataFrame(
        {
            "user_id": ["a", "b"],
            "item_id": ["x", "y"],
            "timestamp": [dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 2)],
            "event": ["view", None],
            "rating": [None, None],
        },
        schema_overrides={"rating": pl.Float32},
    )
    out, stats = preprocess(frame, PreprocessConfig())
    assert out.height == 1 and stats["dropped_unknown_event"] == 1
    assert out["weight"].null_count() == 0
    with pytest.raises(DataError):
        preprocess(frame, PreprocessConfig(drop_unknown_events=False))
