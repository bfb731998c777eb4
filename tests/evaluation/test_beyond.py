"""Beyond-accuracy metrics on hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from recsys_cli.evaluation.beyond import ItemContext, catalog_level, gini, intra_list_distance, per_list, unit_rows


def test_ild_one_hot_categories_is_the_share_of_differing_pairs() -> None:
    cats = unit_rows(np.eye(3)[[0, 0, 1, 2]])  # items 0,1 in cat 0; 2 in cat 1; 3 in cat 2
    top = np.array([[0, 1, 2], [0, 1, -1], [3, -1, -1]])
    ild = intra_list_distance(top, cats)
    assert ild[0] == pytest.approx(2 / 3)  # pairs (0,1) same, (0,2) and (1,2) differ
    assert ild[1] == pytest.approx(0.0)
    assert math.isnan(ild[2])  # one item: no pairs


def test_novelty_popularity_and_serendipity() -> None:
    ctx = ItemContext(train_users=np.array([9.0, 3.0, 0.0, 1.0]), n_users=9)
    top = np.array([[2, 1]])
    hits = np.array([[True, True]])
    pop_top = np.array([[0, 1]])  # the popularity list for this user
    m = per_list(top, hits, pop_top, ctx, [2])
    assert m["novelty@2"][0] == pytest.approx((-math.log2(1 / 10) - math.log2(4 / 10)) / 2)
    assert m["popularity@2"][0] == pytest.approx((0 / 3 + 2 / 3) / 2)  # ranks among 4 items, 1 = most popular
    assert m["serendipity@2"][0] == pytest.approx(1 / 2)  # item 2 is relevant and not a popularity pick


def test_gini_and_coverage() -> None:
    assert gini(np.array([5, 5, 5, 5])) == pytest.approx(0.0)
    assert gini(np.array([0, 0, 0, 12])) == pytest.approx(0.75)  # (n-1)/n for one item taking everything
    out = catalog_level(np.array([[0, 1], [0, 2]]), 5, [1, 2])
    assert out["coverage@1"] == pytest.approx(1 / 5) and out["coverage@2"] == pytest.approx(3 / 5)
    assert out["gini@1"] == pytest.approx(gini(np.array([2, 0, 0, 0, 0])))


def test_popularity_percentile_ties_share_one_value_and_untouched_items_get_zero() -> None:
    from scipy.stats import rankdata

    rng = np.random.default_rng(0)
    counts = rng.integers(0, 6, size=500).astype(float)  # heavy ties, many zeros
    ctx = ItemContext(train_users=counts, n_users=100)
    pct = ctx.popularity_percentile
    reference = (rankdata(counts, method="min") - 1) / (counts.size - 1)  # scipy: ties take the group's lowest rank
    np.testing.assert_allclose(pct, reference)
    assert (pct[counts == 0] == 0).all()
    for value in np.unique(counts):
        assert np.unique(pct[counts == value]).size == 1
    assert ItemContext(train_users=np.array([1.0, 7.0, 3.0]), n_users=9).popularity_percentile.tolist() == [0, 1, 0.5]
