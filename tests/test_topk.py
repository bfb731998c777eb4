"""The fast top-k selection equals a plain argpartition, and rank() keeps its ordering rules."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys_cli.topk import popular_lists, rank, top_columns


@pytest.mark.parametrize(("n_cols", "kk"), [(50, 5), (2_500, 20), (20_000, 10), (20_000, 1), (9_000, 100)])
def test_top_columns_selects_the_same_set_as_argpartition(n_cols: int, kk: int) -> None:
    rng = np.random.default_rng(n_cols + kk)
    scores = rng.standard_normal((64, n_cols)).astype(np.float32)
    scores[:3, : n_cols - 2] = -np.inf  # mostly excluded rows take the plain path
    scores[3:6] = np.sort(scores[3:6], axis=1)  # best items at the end: the sample still bounds them
    scores[6:9] = np.sort(scores[6:9], axis=1)[:, ::-1]
    fast = np.sort(top_columns(scores.copy(), kk), axis=1)
    plain = np.sort(np.argpartition(-scores, kk - 1, axis=1)[:, :kk], axis=1)
    np.testing.assert_array_equal(fast, plain)


def test_rank_orders_best_first_and_breaks_ties_by_index() -> None:
    scores = np.zeros((2, 10_000), dtype=np.float32)
    scores[0, [7, 3, 9000]] = [2.0, 1.0, 3.0]
    scores[1, [5, 4]] = 1.0
    exclude = sp.csr_matrix(([1.0], ([1], [4])), shape=(2, 10_000))
    recs = rank(scores, 3, exclude)
    np.testing.assert_array_equal(recs.items[0], [9000, 7, 3])
    assert recs.items[1, 0] == 5 and 4 not in recs.items[1]


def test_popular_lists_equal_ranking_a_shared_score() -> None:
    rng = np.random.default_rng(3)
    item_scores = rng.permutation(300).astype(np.float32)
    exclude = sp.random(40, 300, density=0.3, random_state=3, format="csr")
    order = np.argsort(-item_scores, kind="stable")
    ranked = rank(np.tile(item_scores, (40, 1)), 25, exclude).items
    np.testing.assert_array_equal(popular_lists(order, exclude, 25), ranked)
