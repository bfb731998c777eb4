"""rank() orders by score descending, then item index ascending, exactly, on heavy ties.

The reference is a full stable sort of every row (``np.lexsort`` on index then
-score): no partitioning, so nothing arbitrary at the cut-off.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys_cli.models.itemitem import topk_rows
from recsys_cli.models.popularity import Popularity
from recsys_cli.models.base import TrainData
from recsys_cli.topk import PAD, popular_lists, rank, rank_one


def reference(scores: np.ndarray, k: int, exclude: sp.csr_matrix | None = None) -> np.ndarray:
    """Full sort: score desc, index asc; excluded / NaN / -inf cells padded."""
    s = np.array(scores, dtype=np.float32)
    s[np.isnan(s)] = -np.inf
    if exclude is not None:
        s[exclude.toarray() != 0] = -np.inf
    out = np.full((s.shape[0], k), PAD, dtype=np.int64)
    for r, row in enumerate(s):
        order = np.lexsort((np.arange(row.size), -row))
        order = order[np.isfinite(row[order]) | (row[order] == np.inf)][:k]
        out[r, : order.size] = order
    return out


def test_one_outlier_among_zeros_then_lowest_indices() -> None:
    scores = np.zeros((1, 10_000), dtype=np.float32)
    scores[0, 9000] = 3.0
    np.testing.assert_array_equal(rank(scores, 3).items[0], [9000, 0, 1])


def test_all_equal_rows_give_the_first_k_indices() -> None:
    scores = np.full((5, 1000), 0.25, dtype=np.float32)
    np.testing.assert_array_equal(rank(scores, 10).items, np.tile(np.arange(10), (5, 1)))


@pytest.mark.parametrize("seed", range(8))
def test_integer_counts_with_heavy_ties_equal_a_full_sort(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_items = int(rng.integers(50, 3000))
    scores = rng.integers(0, 4, size=(30, n_items)).astype(np.float32)  # 4 distinct values: ties everywhere
    exclude = sp.random(30, n_items, density=0.2, random_state=seed, format="csr")
    k = int(rng.integers(1, 60))
    got = rank(scores.copy(), k, exclude).items
    np.testing.assert_array_equal(got, reference(scores, k, exclude))


def test_ties_exactly_at_the_kth_place() -> None:
    # values 5,4,4,4,4 with k=3: the 2 slots after 5 go to the two lowest-indexed 4s, wherever they are
    scores = np.array([[4, 1, 4, 5, 0, 4, 4]], dtype=np.float32)
    np.testing.assert_array_equal(rank(scores, 3).items[0], [3, 0, 2])
    np.testing.assert_array_equal(rank(scores[:, ::-1].copy(), 3).items[0], [3, 0, 1])


def test_rank_is_independent_of_the_batch_and_of_memory_order() -> None:
    rng = np.random.default_rng(1)
    scores = rng.integers(0, 3, size=(40, 500)).astype(np.float32)
    whole = rank(scores.copy(), 7).items
    one_by_one = np.vstack([rank(scores[i : i + 1].copy(), 7).items for i in range(40)])
    fortran = rank(np.asfortranarray(scores), 7).items
    np.testing.assert_array_equal(whole, one_by_one)
    np.testing.assert_array_equal(whole, fortran)


def test_nan_never_enters_a_list() -> None:
    scores = np.array([[np.nan, 1.0, np.nan, 0.5], [np.nan] * 4], dtype=np.float32)
    recs = rank(scores, 3)
    np.testing.assert_array_equal(recs.items, [[1, 3, PAD], [PAD, PAD, PAD]])
    assert np.isneginf(recs.scores[0, 2]) and np.isneginf(recs.scores[1]).all()
    items, vals = rank_one(scores[0].copy(), 3)
    np.testing.assert_array_equal(items, [1, 3])


@pytest.mark.parametrize("k", [0, -1])
def test_non_positive_k_is_an_error(k: int) -> None:
    with pytest.raises(ValueError, match="k must be a positive integer"):
        rank(np.zeros((2, 5), dtype=np.float32), k)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        rank_one(np.zeros(5, dtype=np.float32), k)


def test_exclude_with_another_row_count_is_an_error() -> None:
    one_row = sp.csr_matrix(([1.0], ([0], [2])), shape=(1, 5))
    with pytest.raises(ValueError, match="exclude has 1 rows for 3 score rows"):
        rank(np.zeros((3, 5), dtype=np.float32), 2, one_row)


def test_rank_one_equals_rank() -> None:
    rng = np.random.default_rng(5)
    row = rng.integers(0, 3, size=800).astype(np.float32)
    excluded = np.array([0, 5, 17, 300])
    exclude = sp.csr_matrix((np.ones(4), (np.zeros(4, int), excluded)), shape=(1, 800))
    items, vals = rank_one(row.copy(), 25, excluded)
    recs = rank(row[None].copy(), 25, exclude)
    np.testing.assert_array_equal(items, recs.items[0])
    np.testing.assert_array_equal(vals, recs.scores[0])


def test_k_beyond_the_candidates_pads() -> None:
    recs = rank(np.array([[1.0, 2.0]], dtype=np.float32), 4, items=np.array([7, 3]))
    np.testing.assert_array_equal(recs.items[0], [3, 7, PAD, PAD])


def test_popular_lists_equal_ranking_a_shared_score() -> None:
    rng = np.random.default_rng(3)
    item_scores = rng.permutation(300).astype(np.float32)
    exclude = sp.random(40, 300, density=0.3, random_state=3, format="csr")
    order = np.argsort(-item_scores, kind="stable")
    ranked = rank(np.tile(item_scores, (40, 1)), 25, exclude).items
    np.testing.assert_array_equal(popular_lists(order, exclude, 25), ranked)


@pytest.mark.parametrize("seed", range(4))
def test_popularity_on_integer_counts_agrees_with_rank(seed: int) -> None:
    """Popularity.recommend (walks one global order) == rank of its scores == a full sort."""
    rng = np.random.default_rng(seed)
    n_users, n_items = 200, 400
    data = (rng.random((n_users, n_items)) < rng.random(n_items) * 0.05).astype(np.float32)  # many equal counts
    model = Popularity().fit(TrainData(matrix=sp.csr_matrix(data)))
    exclude = sp.random(30, n_items, density=0.05, random_state=seed, format="csr")
    users = np.arange(30)
    walked = model.recommend(users, 10, exclude).items
    ranked = rank(model.score(users), 10, exclude).items
    np.testing.assert_array_equal(walked, ranked)
    np.testing.assert_array_equal(walked, reference(model.score(users), 10, exclude))


def test_item_item_neighbours_keep_the_lowest_indices_on_ties() -> None:
    dense = np.zeros((3, 50), dtype=np.float32)
    dense[:, 10:40] = 1.0  # 30 tied neighbours, 5 kept
    dense[1, 45] = 2.0
    w = topk_rows(lambda rows: dense[rows], 3, 50, 5)
    assert w[0].indices.tolist() == [10, 11, 12, 13, 14]
    assert w[1].indices.tolist() == [10, 11, 12, 13, 45]
