"""Contract tests for the item-to-item and implicit factor models, plus their own checks."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys_cli.errors import RecsysError
from recsys_cli.models.base import TrainData
from recsys_cli.models.bpr import BPR, BPRParams
from recsys_cli.models.ease import EASE, EASEParams
from recsys_cli.models.itemknn import ItemKNN, ItemKNNParams
from recsys_cli.models.lmf import LMF, LMFParams
from recsys_cli.models.rp3beta import RP3beta, RP3betaParams
from tests.models.contract import RecommenderContract


class TestEASE(RecommenderContract):
    def make(self) -> EASE:
        return EASE(EASEParams(l2=5.0))


class TestItemKNN(RecommenderContract):
    def make(self) -> ItemKNN:
        return ItemKNN(ItemKNNParams(k=10, shrink=1.0))


class TestItemKNNTfidf(RecommenderContract):
    def make(self) -> ItemKNN:
        return ItemKNN(ItemKNNParams(k=10, weighting="tfidf"))


class TestItemKNNPlain(RecommenderContract):
    def make(self) -> ItemKNN:
        return ItemKNN(ItemKNNParams(k=10, weighting="none", shrink=0.0))


class TestRP3beta(RecommenderContract):
    def make(self) -> RP3beta:
        return RP3beta(RP3betaParams(k=10))


class TestBPR(RecommenderContract):
    def make(self) -> BPR:
        return BPR(BPRParams(factors=8, iterations=200, learning_rate=0.05))


class TestLMF(RecommenderContract):
    def make(self) -> LMF:
        return LMF(LMFParams(factors=8, iterations=40))


def random_matrix(seed: int, n_users: int = 30, n_items: int = 12, density: float = 0.3) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    return sp.csr_matrix((rng.random((n_users, n_items)) < density).astype(np.float32))


def test_ease_matches_the_closed_form_by_direct_least_squares() -> None:
    """Each column of W solves min ||X - XW||^2 + l2 ||W||^2 with W_jj = 0 (independent check)."""
    x = random_matrix(0)
    l2 = 3.0
    model = EASE(EASEParams(l2=l2)).fit(TrainData(matrix=x))
    w = model.weights
    xd = x.toarray().astype(np.float64)
    for j in range(xd.shape[1]):
        others = [i for i in range(xd.shape[1]) if i != j]
        a = xd[:, others]
        ridge = np.linalg.solve(a.T @ a + l2 * np.eye(len(others)), a.T @ xd[:, j])
        np.testing.assert_allclose(w[others, j], ridge, rtol=1e-4, atol=1e-5)
        assert w[j, j] == 0.0


def test_ease_refuses_before_allocating_when_over_budget() -> None:
    x = sp.csr_matrix((5, 60_000), dtype=np.float32)
    with pytest.raises(RecsysError, match=r"ease: 60,000 items need about 86.4 GB .* model.memory_budget_gb=4"):
        EASE().fit(TrainData(matrix=x))


def test_itemknn_similarity_is_shrunk_cosine() -> None:
    x = random_matrix(1, density=0.4)
    shrink = 2.0
    model = ItemKNN(ItemKNNParams(k=x.shape[1], shrink=shrink, weighting="none")).fit(TrainData(matrix=x))
    dense = x.toarray().T.astype(np.float64)
    norms = np.linalg.norm(dense, axis=1)
    expected = dense @ dense.T / (np.outer(norms, norms) + shrink)
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(model.weights.toarray(), expected, rtol=1e-5, atol=1e-6)


def test_itemknn_keeps_k_neighbours() -> None:
    x = random_matrix(2, n_items=20, density=0.5)
    model = ItemKNN(ItemKNNParams(k=3, weighting="none")).fit(TrainData(matrix=x))
    assert np.diff(model.weights.indptr).max() <= 3


def test_rp3beta_matches_the_dense_formula() -> None:
    x = random_matrix(3, density=0.4)
    alpha, beta = 0.8, 0.5
    model = RP3beta(RP3betaParams(alpha=alpha, beta=beta, k=x.shape[1])).fit(TrainData(matrix=x))
    d = x.toarray().astype(np.float64)
    p_ui = d / np.maximum(d.sum(1, keepdims=True), 1)
    p_iu = d.T / np.maximum(d.T.sum(1, keepdims=True), 1)
    w = (p_iu**alpha) @ (p_ui**alpha) / np.maximum(d.sum(0), 1)[None, :] ** beta
    np.fill_diagonal(w, 0.0)
    np.testing.assert_allclose(model.weights.toarray(), w, rtol=1e-4, atol=1e-6)


def test_sequence_cooccurrence_weights_by_distance_in_history() -> None:
    import datetime as dt

    import polars as pl

    from recsys_cli.models.itemitem import sequence_cooccurrence

    t0 = dt.datetime(2024, 1, 1)
    events = pl.DataFrame({
        "user_idx": [0, 0, 0, 1, 1],
        "item_idx": [0, 1, 2, 2, 0],
        "timestamp": [t0 + dt.timedelta(minutes=m) for m in (0, 1, 2, 0, 1)],
    })
    w = 2.0
    s = sequence_cooccurrence(events, 3, w).toarray()
    near, far = np.exp(-1 / w), np.exp(-2 / w)
    assert s[0, 1] == pytest.approx(near) and s[1, 0] == pytest.approx(near)
    assert s[1, 2] == pytest.approx(near)
    assert s[0, 2] == pytest.approx(far + near)  # user 0 two apart, user 1 adjacent
    np.testing.assert_allclose(np.diag(s), [2, 1, 2])


def test_ease_with_sequence_weight_zero_is_plain_ease() -> None:
    import datetime as dt

    import polars as pl

    x = random_matrix(4)
    coo = x.tocoo()
    events = pl.DataFrame({"user_idx": coo.row, "item_idx": coo.col,
                           "timestamp": [dt.datetime(2024, 1, 1)] * coo.nnz})
    a = EASE(EASEParams(l2=3.0)).fit(TrainData(matrix=x)).weights
    b = EASE(EASEParams(l2=3.0, sequence_weight=0.0)).fit(TrainData(matrix=x, events=events)).weights
    np.testing.assert_array_equal(a, b)
    c = EASE(EASEParams(l2=3.0, sequence_weight=0.5)).fit(TrainData(matrix=x, events=events)).weights
    assert not np.allclose(a, c)
