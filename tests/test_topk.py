"""rank() keeps its ordering rules; popular_lists equals ranking a shared score."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recsys_cli.topk import popular_lists, rank


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
