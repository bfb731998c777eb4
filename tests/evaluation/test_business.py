"""Business proxies (expected CTR, conversion, revenue per 1,000) under the calibrated shopper model."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest

from recsys_cli.config import DataConfig
from recsys_cli.data.sources.synthetic import generate
from recsys_cli.data.sources.synthetic.shopper import ShopperResponse, position_bias
from recsys_cli.evaluation.business import METRICS, business_metrics, for_config

SCALE, SEED, K = "tiny", 42, 10


@pytest.fixture(scope="module")
def model() -> ShopperResponse:
    return ShopperResponse.from_config(SCALE, SEED)


@pytest.fixture(scope="module")
def popular(model: ShopperResponse) -> list[str]:
    """The K products with the most events in the generated log."""
    events = generate(SCALE, SEED, show_progress=False).events
    counts = events.group_by("item_id").len().sort(["len", "item_id"], descending=[True, False])
    return counts["item_id"][:K].to_list()


def test_true_appeal_ranking_beats_popularity_which_beats_random(model: ShopperResponse, popular: list[str]) -> None:
    users = model.user_ids
    click = model.expected_catalog(users)["click_prob"]
    oracle = np.asarray(model.item_ids, dtype=object)[np.argsort(-click, axis=1, kind="stable")[:, :K]]
    m = business_metrics(model, users, oracle, popular_item_ids=popular)
    assert m["users"] == len(users) and m["slots"] == len(users) * K
    assert m["ctr"] > m["popularity.ctr"] > m["random.ctr"] > 0
    # what real click logs show: popular products are clicked well above random, and the best
    # personal list beats popularity by a believable factor, not by an order of magnitude
    assert m["lift_vs_random.ctr"] > 2.0
    assert 0.3 < m["lift_vs_popularity.ctr"] < 3.0
    for metric in METRICS:
        assert m[metric] > m[f"random.{metric}"]
        assert m[f"lift_vs_random.{metric}"] == pytest.approx(m[metric] / m[f"random.{metric}"] - 1)
        assert m[f"lift_vs_popularity.{metric}"] == pytest.approx(m[metric] / m[f"popularity.{metric}"] - 1)
    direct = model.expected(users, [popular] * len(users))
    assert m["popularity.ctr"] == pytest.approx(direct["click_prob"].mean())
    assert m["popularity.revenue_per_1000"] == pytest.approx(1000 * direct["revenue"].mean())


def test_position_bias_and_the_no_click_option(model: ShopperResponse) -> None:
    users = model.user_ids[:50]
    item = "p000007"
    by_position = [model.expected(users, [[None] * r + [item]] * len(users))["click_prob"][:, r] for r in range(5)]
    for r in range(1, 5):  # the same product one slot lower is clicked less, by the examination ratio
        np.testing.assert_allclose(by_position[r], by_position[0] * position_bias(5)[r], rtol=1e-12)
    top = model.expected_catalog(users)["click_prob"]
    assert top.max() < 0.5 and np.median(top) < 0.05  # doing nothing dominates


def test_random_baseline_is_a_random_product_at_a_random_position(model: ShopperResponse) -> None:
    rng = np.random.default_rng(5)
    users = [model.user_ids[u] for u in rng.choice(model.n_users, 20, replace=False)]
    lists = [[model.item_ids[j] for j in rng.choice(model.n_items, K, replace=False)] for _ in users]
    m = business_metrics(model, users, lists)
    # Monte Carlo reference: many random lists of K for the same users
    draws = 400
    total = np.zeros(3)
    for _ in range(draws):
        random_lists = [[model.item_ids[j] for j in rng.choice(model.n_items, K, replace=False)] for _ in users]
        r = model.expected(users, random_lists)
        total += [r["click_prob"].mean(), r["purchase_prob"].mean(), 1000 * r["revenue"].mean()]
    for value, metric in zip(total / draws, METRICS):
        assert m[f"random.{metric}"] == pytest.approx(value, rel=0.03)
    assert "popularity.ctr" not in m and "lift_vs_popularity.ctr" not in m


def test_sampled_shoppers_click_and_buy_at_the_expected_rates(model: ShopperResponse) -> None:
    """ShopperResponse.sample (what `recsys ab simulate` uses) against the expectation, by Monte Carlo."""
    rng = np.random.default_rng(11)
    user = model.user_ids[3]
    click = model.expected_catalog([user])["click_prob"][0]
    items = [model.item_ids[j] for j in np.argsort(-click, kind="stable")[:5]]
    want = model.expected([user], [items])
    n = 20_000
    clicks, buys = np.zeros(5), np.zeros(5)
    for _ in range(n):
        for item, event, _ in model.sample(user, items, rng):
            slot = items.index(item)
            clicks[slot] += event == "click"
            buys[slot] += event == "purchase"
    p = want["click_prob"][0]
    np.testing.assert_allclose(clicks / n, p, atol=4 * np.sqrt(p * (1 - p) / n).max())
    q = want["purchase_prob"][0]
    np.testing.assert_allclose(buys / n, q, atol=4 * np.sqrt(q * (1 - q) / n).max() + 1e-4)


def test_padding_never_counts(model: ShopperResponse) -> None:
    users = model.user_ids[:4]
    plain = [["p000010", "p000020"], ["p000030"], ["p000040", "p000050", "p000060"], ["p000070"]]
    padded = [["p000010", "p000020", None], ["p000030", None, None], ["p000040", "p000050", "p000060"],
              ["p000070", float("nan"), ""]]
    a, b = business_metrics(model, users, plain), business_metrics(model, users, padded)
    assert a["ctr"] == pytest.approx(b["ctr"]) and b["slots"] == 7
    empty = business_metrics(model, users[:1], [[None, None]])
    assert empty["slots"] == 0 and empty["ctr"] is None and empty["lift_vs_random.ctr"] is None


def test_unknown_ids_raise(model: ShopperResponse) -> None:
    with pytest.raises(ValueError, match="user id"):
        business_metrics(model, ["nobody"], [["p000001"]])
    with pytest.raises(ValueError, match="item id"):
        business_metrics(model, ["u000001"], [["p000001"]], popular_item_ids=["not-an-item"])


def test_for_config_only_for_the_synthetic_shop() -> None:
    got = for_config(SimpleNamespace(data=DataConfig(source="synthetic", scale=SCALE, seed=SEED)))
    assert isinstance(got, ShopperResponse) and got.n_users == 600
    assert for_config(DataConfig(source="synthetic", scale=SCALE, seed=SEED)) is got
    assert for_config(SimpleNamespace(data=DataConfig(source="movielens"))) is None
    assert for_config(DataConfig(source="events", path="x.csv")) is None


def test_metrics_on_the_generated_events_table_ids(model: ShopperResponse) -> None:
    events = generate(SCALE, SEED, show_progress=False).events
    last = events.sort("timestamp").group_by("user_id", maintain_order=True).agg(pl.col("item_id").tail(3))
    m = business_metrics(model, last["user_id"], last["item_id"].to_list())
    assert m["users"] == last.height and m["ctr"] > m["random.ctr"]
