"""Business proxies (expected CTR, conversion, revenue per 1,000) on the synthetic shop."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest

from recsys_cli.config import DataConfig
from recsys_cli.data.sources.synthetic import generate
from recsys_cli.evaluation.business import METRICS, ResponseModel, business_metrics, for_config

SCALE, SEED, K = "tiny", 42, 10


@pytest.fixture(scope="module")
def model() -> ResponseModel:
    return ResponseModel.from_config(SCALE, SEED)


@pytest.fixture(scope="module")
def popular(model: ResponseModel) -> list[str]:
    """The K products with the most events in the generated log."""
    events = generate(SCALE, SEED, show_progress=False).events
    counts = events.group_by("item_id").len().sort(["len", "item_id"], descending=[True, False])
    return counts["item_id"][:K].to_list()


def test_true_utility_ranking_beats_popularity_which_beats_random(model: ResponseModel, popular: list[str]) -> None:
    users = model.user_ids
    click = model.expected_catalog(users)["click_prob"]
    oracle = np.asarray(model.item_ids, dtype=object)[np.argsort(-click, axis=1, kind="stable")[:, :K]]
    m = business_metrics(model, users, oracle, popular_item_ids=popular)
    assert m["users"] == len(users) and m["slots"] == len(users) * K
    assert m["ctr"] > m["popularity.ctr"] > m["random.ctr"] > 0
    assert m["lift_vs_random.ctr"] > 3.0  # the shop's own preferences: far above chance
    assert m["lift_vs_popularity.ctr"] > 1.0
    assert m["popularity.conversion"] > m["random.conversion"]
    for metric in METRICS:
        assert m[metric] > m[f"random.{metric}"]
        assert m[f"lift_vs_random.{metric}"] == pytest.approx(m[metric] / m[f"random.{metric}"] - 1)
        assert m[f"lift_vs_popularity.{metric}"] == pytest.approx(m[metric] / m[f"popularity.{metric}"] - 1)
    # the popularity list is the same for all: its metrics are the plain means over the slots shown
    direct = model.expected(users, [popular] * len(users))
    assert m["popularity.ctr"] == pytest.approx(direct["click_prob"].mean())
    assert m["popularity.revenue_per_1000"] == pytest.approx(1000 * direct["revenue"].mean())


def test_random_baseline_is_the_exact_mean_over_the_catalog(model: ResponseModel) -> None:
    rng = np.random.default_rng(5)
    users = [model.user_ids[u] for u in rng.choice(model.n_users, 25, replace=False)]
    lists = [[model.item_ids[j] for j in rng.choice(model.n_items, rng.integers(0, 6), replace=False)] for _ in users]
    m = business_metrics(model, users, lists)
    everything = [model.item_ids] * len(users)
    brute = model.expected(users, everything)  # every product shown to every user
    shown = np.array([len(r) for r in lists], dtype=float)
    for metric, key in zip(METRICS, ("click_prob", "purchase_prob", "revenue")):
        scale = 1000.0 if metric == "revenue_per_1000" else 1.0
        want = scale * (brute[key].mean(axis=1) * shown).sum() / shown.sum()
        assert m[f"random.{metric}"] == pytest.approx(want, rel=1e-9)
    assert "popularity.ctr" not in m and "lift_vs_popularity.ctr" not in m


def test_padding_never_counts(model: ResponseModel) -> None:
    users = model.user_ids[:4]
    plain = [["p000010", "p000020"], ["p000030"], ["p000040", "p000050", "p000060"], ["p000070"]]
    padded = [
        ["p000010", None, "p000020", None],
        ["", "p000030", float("nan"), None],
        ["p000040", "p000050", "p000060", None],
        ["p000070", None, None, None],
    ]
    a, b = business_metrics(model, users, plain), business_metrics(model, users, padded)
    assert a == pytest.approx(b)
    assert b["slots"] == 7
    # a user shown nothing adds nothing, to the model or to the random baseline
    c = business_metrics(model, [*users, "u000100"], [*padded, [None, None, None, None]])
    assert c == pytest.approx({**b, "users": 5})
    empty = business_metrics(model, users[:1], [[None, None]])
    assert empty["slots"] == 0 and empty["ctr"] is None and empty["lift_vs_random.ctr"] is None


def test_popularity_list_is_cut_to_the_list_length_and_may_be_per_user(model: ResponseModel) -> None:
    users = model.user_ids[:3]
    top = [["p000001", "p000002"]] * 3
    longer = [f"p{j:06d}" for j in range(100, 110)]
    one = business_metrics(model, users, top, popular_item_ids=longer)
    per_user = business_metrics(model, users, top, popular_item_ids=np.array([longer[:2]] * 3, dtype=object))
    assert one == pytest.approx(per_user)
    direct = model.expected(users, [longer[:2]] * 3)
    assert one["popularity.ctr"] == pytest.approx(direct["click_prob"].mean())


def test_unknown_ids_raise(model: ResponseModel) -> None:
    with pytest.raises(ValueError, match="user id"):
        business_metrics(model, ["nobody"], [["p000001"]])
    with pytest.raises(ValueError, match="item id"):
        business_metrics(model, ["u000001"], [["p000001"]], popular_item_ids=["not-an-item"])


def test_for_config_only_for_the_synthetic_shop() -> None:
    got = for_config(SimpleNamespace(data=DataConfig(source="synthetic", scale=SCALE, seed=SEED)))
    assert isinstance(got, ResponseModel) and got.n_users == 600
    assert for_config(DataConfig(source="synthetic", scale=SCALE, seed=SEED)) is got  # a DataConfig works too
    assert for_config(SimpleNamespace(data=DataConfig(source="movielens"))) is None
    assert for_config(DataConfig(source="events", path="x.csv")) is None


def test_metrics_on_the_generated_events_table_ids(model: ResponseModel) -> None:
    """Ids straight from the generated tables (polars) are accepted."""
    events = generate(SCALE, SEED, show_progress=False).events
    last = events.sort("timestamp").group_by("user_id", maintain_order=True).agg(pl.col("item_id").tail(3))
    m = business_metrics(model, last["user_id"], last["item_id"].to_list())
    assert m["users"] == last.height and m["ctr"] > m["random.ctr"]
