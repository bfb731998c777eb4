"""Metrics: hand-computed cases, ranx on random runs, batch-size invariance."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from recsys_cli.evaluation.metrics import evaluate, hits_matrix, per_user
from recsys_cli.models.base import Recs, rank


def rel_matrix(sets: list[set[int]], n_items: int) -> sp.csr_matrix:
    rows = [u for u, s in enumerate(sets) for _ in s]
    cols = [i for s in sets for i in sorted(s)]
    return sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(sets), n_items))


def test_hand_computed_case() -> None:
    top = np.array([[3, 1, 4, 0]])
    rel = rel_matrix([{1, 0, 7}], 8)
    hits = hits_matrix(top, rel)
    assert hits.tolist() == [[False, True, False, True]]
    m = per_user(hits, np.array([3]), [2, 4])
    l2 = math.log2
    assert m["precision@4"][0] == pytest.approx(0.5)
    assert m["recall@4"][0] == pytest.approx(2 / 3)
    assert m["recall_capped@4"][0] == pytest.approx(2 / 3)
    assert m["ndcg@4"][0] == pytest.approx((1 / l2(3) + 1 / l2(5)) / (1 + 1 / l2(3) + 1 / l2(4)))
    assert m["mrr@4"][0] == pytest.approx(0.5)
    assert m["map@4"][0] == pytest.approx((1 / 2 + 2 / 4) / 3)
    assert m["hit_rate@4"][0] == 1.0
    assert m["precision@2"][0] == pytest.approx(0.5)
    assert m["recall@2"][0] == pytest.approx(1 / 3)
    assert m["recall_capped@2"][0] == pytest.approx(1 / 2)
    assert m["ndcg@2"][0] == pytest.approx((1 / l2(3)) / (1 + 1 / l2(3)))
    assert m["map@2"][0] == pytest.approx((1 / 2) / 3)
    assert m["map_capped@2"][0] == pytest.approx((1 / 2) / 2)


def test_no_hits_and_padding_never_hit() -> None:
    top = np.array([[-1, -1, 2]])
    rel = rel_matrix([{0}], 3)
    m = per_user(hits_matrix(top, rel), np.array([1]), [3])
    assert m["ndcg@3"][0] == 0.0 and m["mrr@3"][0] == 0.0 and m["hit_rate@3"][0] == 0.0


def _random_case(seed: int, n_users: int = 60, n_items: int = 40, k: int = 10):
    rng = np.random.default_rng(seed)
    sets = [set(rng.choice(n_items, size=rng.integers(1, 15), replace=False).tolist()) for _ in range(n_users)]
    lengths = rng.integers(1, k + 1, n_users)  # some lists shorter than k
    top = np.full((n_users, k), -1, dtype=np.int64)
    for u in range(n_users):
        top[u, : lengths[u]] = rng.choice(n_items, size=lengths[u], replace=False)
    return sets, top


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equals_ranx_on_random_runs(seed: int) -> None:
    import ranx
    k = 10
    sets, top = _random_case(seed)
    rel = rel_matrix(sets, 40)
    ours = per_user(hits_matrix(top, rel), np.diff(rel.indptr), [5, k])
    qrels = ranx.Qrels({f"u{u}": {f"i{i}": 1 for i in s} for u, s in enumerate(sets)})
    run = ranx.Run(
        {f"u{u}": {f"i{i}": float(k - r) for r, i in enumerate(row) if i >= 0} for u, row in enumerate(top)}
    )
    names = {"ndcg": "ndcg", "recall": "recall", "precision": "precision", "mrr": "mrr", "hit_rate": "hit_rate", "map": "map"}
    for kk in (5, k):
        wanted = [f"{theirs}@{kk}" for theirs in names.values()]
        ref = ranx.evaluate(qrels, run, wanted, make_comparable=True)
        for mine, theirs in names.items():
            assert ours[f"{mine}@{kk}"].mean() == pytest.approx(ref[f"{theirs}@{kk}"], abs=1e-9), (mine, kk)
    # the capped forms differ from ranx's only in the denominator
    n_rel = np.diff(rel.indptr)
    np.testing.assert_allclose(ours["map_capped@10"] * np.minimum(10, n_rel), ours["map@10"] * n_rel, atol=1e-12)
    np.testing.assert_allclose(ours["recall_capped@10"] * np.minimum(10, n_rel), ours["recall@10"] * n_rel, atol=1e-12)


class FixedScores:
    """A stand-in recommender over a fixed score matrix (uses the real ``rank``)."""

    def __init__(self, scores: np.ndarray) -> None:
        self.scores = scores

    def recommend(self, users: np.ndarray, k: int, exclude: sp.csr_matrix | None = None) -> Recs:
        return rank(self.scores[users], k, exclude)


def test_results_identical_for_any_batch_size() -> None:
    rng = np.random.default_rng(5)
    n_users, n_items = 97, 50
    scores = rng.standard_normal((n_users, n_items)).astype(np.float32)
    scores[:, :5] = 1.0  # ties
    rel = sp.csr_matrix((rng.random((n_users, n_items)) < 0.1).astype(np.float32))
    seen = sp.csr_matrix((rng.random((n_users, n_items)) < 0.2).astype(np.float32))
    model = FixedScores(scores)
    users = np.arange(n_users)
    results = [
        evaluate(model.recommend, users, rel, n_items, [5, 10], exclude=seen, batch_size=b) for b in (1, 7, 1000)
    ]
    for other in results[1:]:
        assert other.summary == results[0].summary
        assert other.per_user.equals(results[0].per_user)


def test_users_without_relevant_items_are_not_scored() -> None:
    scores = np.tile(np.arange(6, dtype=np.float32)[::-1], (3, 1))  # everyone: 0,1,2,...
    rel = rel_matrix([{0}, set(), {5}], 6)
    res = evaluate(FixedScores(scores).recommend, np.arange(3), rel, 6, [1])
    assert res.summary["users"] == 2  # user 1 is left out, not scored 0 or 1
    assert res.per_user["user_idx"].to_list() == [0, 2]
    assert res.summary["hit_rate@1"] == pytest.approx(0.5)
    assert res.summary["coverage@1"] == pytest.approx(1 / 6)
