"""The synthetic shop: determinism, schema, and the shop-like properties it promises."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl
import pytest

from recsys_cli.data import tables
from recsys_cli.data.sources.synthetic import SCALES, build_world, generate, vocab
from recsys_cli.data.tables import RawData

SEED = 1
EVENT_KINDS = {"view", "add_to_cart", "purchase"}


@pytest.fixture(scope="module")
def raw() -> RawData:
    return generate("tiny", SEED, show_progress=False)


@pytest.fixture(scope="module")
def events(raw: RawData) -> pl.DataFrame:
    return raw.events


# ---------------------------------------------------------------- determinism


def test_same_seed_gives_identical_tables(raw: RawData) -> None:
    again = generate("tiny", SEED, show_progress=False)
    assert again.events.equals(raw.events)
    assert again.items.equals(raw.items)
    assert again.users.equals(raw.users)
    assert again.description == raw.description


def test_other_seed_gives_other_events(events: pl.DataFrame) -> None:
    other = generate("tiny", SEED + 1, show_progress=False).events
    assert not other.equals(events)
    # not merely a reordering or a shifted copy: the (user, item, time) rows differ a lot
    key = ["user_id", "item_id", "timestamp"]
    shared = events.select(key).join(other.select(key), on=key, how="semi").height
    assert shared < 0.05 * events.height


def test_build_world_is_deterministic_and_sized_by_scale() -> None:
    a, b = build_world("tiny", SEED), build_world("tiny", SEED)
    np.testing.assert_array_equal(a.catalog.leaf, b.catalog.leaf)
    np.testing.assert_array_equal(a.catalog.price, b.catalog.price)
    np.testing.assert_array_equal(a.shoppers.taste, b.shoppers.taste)
    assert a.catalog.n == SCALES["tiny"].n_items
    assert a.shoppers.n == SCALES["tiny"].n_users
    c = build_world("tiny", SEED + 1)
    assert not np.array_equal(a.catalog.price, c.catalog.price)


# --------------------------------------------------------------------- schema


def test_schemas_match_the_interim_tables(raw: RawData) -> None:
    assert dict(raw.events.schema) == tables.EVENTS
    assert dict(raw.items.schema) == tables.ITEMS
    assert dict(raw.users.schema) == tables.USERS


def test_table_sizes_follow_the_scale(raw: RawData) -> None:
    spec = SCALES["tiny"]
    assert raw.items.height == spec.n_items
    assert raw.users.height == spec.n_users
    assert raw.items["item_id"].n_unique() == raw.items.height
    assert raw.users["user_id"].n_unique() == raw.users.height
    # the event count is a target the generator promises to land near
    assert abs(raw.events.height - spec.n_events) < 0.1 * spec.n_events


def test_event_kinds(events: pl.DataFrame) -> None:
    assert set(events["event"].unique().to_list()) == EVENT_KINDS
    assert events["event"].null_count() == 0
    assert events["user_id"].null_count() == 0
    assert events["item_id"].null_count() == 0
    assert events["timestamp"].null_count() == 0


def test_timestamps_span_two_years(events: pl.DataFrame) -> None:
    span = events["timestamp"].max() - events["timestamp"].min()
    assert span >= timedelta(days=700)


# ---------------------------------------------------------- referential rules


def test_no_product_is_seen_before_it_launches(raw: RawData) -> None:
    joined = raw.events.join(raw.items.select("item_id", "launch_date"), on="item_id", how="left")
    assert joined["launch_date"].null_count() == 0, "an event names an item missing from the catalog"
    early = joined.filter(pl.col("timestamp") < pl.col("launch_date"))
    assert early.height == 0, early.head()


def test_every_user_exists_and_acts_after_signup(raw: RawData) -> None:
    joined = raw.events.join(raw.users.select("user_id", "signup_date"), on="user_id", how="left")
    assert joined["signup_date"].null_count() == 0, "an event names a user missing from the users table"
    early = joined.filter(pl.col("timestamp") < pl.col("signup_date"))
    assert early.height == 0, early.head()


def test_purchases_are_at_the_catalog_price(raw: RawData) -> None:
    buys = raw.events.filter(pl.col("event") == "purchase").join(
        raw.items.select("item_id", catalog_price=pl.col("price")), on="item_id", how="left"
    )
    assert buys.height > 0
    assert buys["price"].null_count() == 0
    assert (buys["price"] > 0).all()
    assert (buys["price"] == buys["catalog_price"]).all()


def test_sessions_belong_to_one_user_and_device_and_are_short(events: pl.DataFrame) -> None:
    assert events["session_id"].null_count() == 0
    sessions = events.group_by("session_id").agg(
        users=pl.col("user_id").n_unique(),
        devices=pl.col("device").n_unique(),
        span=pl.col("timestamp").max() - pl.col("timestamp").min(),
    )
    assert (sessions["users"] == 1).all()
    assert (sessions["devices"] == 1).all()
    assert sessions["span"].max() <= timedelta(hours=6)
    assert set(events["device"].unique().to_list()) <= set(vocab.DEVICES)


# -------------------------------------------------------------------- catalog


def test_categories_are_top_and_leaf_paths(raw: RawData) -> None:
    leaves = {(top.name, leaf.name) for top, leaf in vocab.LEAVES}
    for category in raw.items["category"].to_list():
        parts = category.split(" > ")
        assert len(parts) == 2, category
        assert tuple(parts) in leaves, category
    tops = {top.name for top in vocab.TREE}
    seen_tops = set(raw.items["category"].str.split(" > ").list.first().unique().to_list())
    assert seen_tops <= tops
    assert len(seen_tops) > 1


def test_titles_name_the_brand(raw: RawData) -> None:
    items = raw.items
    assert items["brand"].null_count() == 0 and (items["brand"].str.len_chars() > 0).all()
    for title, brand in items.select("title", "brand").iter_rows():
        assert brand in title, (title, brand)


# --------------------------------------------------------------------- funnel


def _not_preceded(later: pl.DataFrame, earlier: pl.DataFrame) -> pl.DataFrame:
    """Rows of ``later`` with no row of ``earlier`` for the same session and item at or before them."""
    first = earlier.group_by("session_id", "item_id").agg(first=pl.col("timestamp").min())
    joined = later.join(first, on=["session_id", "item_id"], how="left")
    return joined.filter(pl.col("first").is_null() | (pl.col("first") > pl.col("timestamp")))


def test_add_to_cart_follows_a_view_in_the_session(events: pl.DataFrame) -> None:
    carts = events.filter(pl.col("event") == "add_to_cart")
    views = events.filter(pl.col("event") == "view")
    assert carts.height > 0
    bad = _not_preceded(carts, views)
    assert bad.height == 0, bad.head()


def test_purchase_follows_an_add_to_cart_in_the_session() -> None:
    bad_total = 0
    for seed in (SEED, SEED + 2):  # a couple of logs, each a fraction of a second
        events = generate("tiny", seed, show_progress=False).events
        buys = events.filter(pl.col("event") == "purchase")
        carts = events.filter(pl.col("event") == "add_to_cart")
        assert buys.height > 0
        bad_total += _not_preceded(buys, carts).height
    assert bad_total == 0


# ------------------------------------------------------- structure of the data


def test_cold_start_users_and_items_exist(events: pl.DataFrame) -> None:
    lo, hi = events["timestamp"].min(), events["timestamp"].max()
    late = lo + (hi - lo) * 0.9
    first_user = events.group_by("user_id").agg(first=pl.col("timestamp").min())
    first_item = events.group_by("item_id").agg(first=pl.col("timestamp").min())
    assert (first_user["first"] >= late).sum() > 0
    assert (first_item["first"] >= late).sum() > 0
    # ... but they are a minority: most users and items have history before then
    assert (first_user["first"] < late).mean() > 0.5
    assert (first_item["first"] < late).mean() > 0.5


def _mean_top_share(pairs: pl.DataFrame) -> float:
    """Mean over users of the share of their events in their most frequent top category."""
    counts = pairs.group_by("user_id", "top").len()
    shares = counts.group_by("user_id").agg(share=pl.col("len").max() / pl.col("len").sum())
    return float(shares["share"].mean())


def test_users_concentrate_on_categories(raw: RawData) -> None:
    top = raw.items.select("item_id", top=pl.col("category").str.split(" > ").list.first())
    ev = raw.events.select("user_id", "item_id")
    real = _mean_top_share(ev.join(top, on="item_id"))
    rng = np.random.default_rng(0)
    shuffled_items = pl.Series("item_id", rng.permutation(ev["item_id"].to_numpy()))
    shuffled = _mean_top_share(ev.with_columns(shuffled_items).join(top, on="item_id"))
    assert real > shuffled + 0.15, (real, shuffled)


def test_events_per_item_are_long_tailed(events: pl.DataFrame) -> None:
    per_item = events.group_by("item_id").len()["len"]
    assert per_item.mean() > 2 * per_item.median()
