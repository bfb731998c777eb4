"""Hybrid: contract in each mode, learned weights, early fusion for cold items."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp

from recsys_cli.errors import RecsysError
from recsys_cli.features.side import SideMatrix
from recsys_cli.features.store import Features
from recsys_cli.models.base import TrainData
from recsys_cli.models.hybrid import Component, Hybrid, HybridParams, from_sticks, normalise, to_sticks
from tests.models.contract import N_ITEMS, N_USERS, RecommenderContract, checkerboard

FAST = [
    Component("itemknn", 1.0, {"k": 10}),
    Component("ease", 1.0, {"l2": 5.0}),
    Component("popularity", 0.2, {}),
]


def with_valid(seed: int = 0) -> TrainData:
    train, held = checkerboard(seed)
    return TrainData(matrix=train, valid=held, seed=3)


def group_features() -> Features:
    """Item side features: a one-hot 'group' column per half (even / odd items)."""
    rows = np.arange(N_ITEMS)
    side = sp.csr_matrix((np.ones(N_ITEMS, dtype=np.float32), (rows, rows % 2)), shape=(N_ITEMS, 2))
    empty = pl.DataFrame()
    return Features(
        tfidf=sp.csr_matrix((N_ITEMS, 0), dtype=np.float32), vocabulary=np.array([], dtype=str),
        items=empty, users=empty, item_side=SideMatrix(side, np.array(["g=even", "g=odd"])),
        user_side=SideMatrix(sp.csr_matrix((N_USERS, 0), dtype=np.float32), np.array([], dtype=str)),
    )


class TestLateHybrid(RecommenderContract):
    def make(self) -> Hybrid:
        return Hybrid(HybridParams(mode="late", components=FAST))


class TestMetaHybrid(RecommenderContract):
    @pytest.fixture(scope="class")
    def data(self) -> TrainData:
        return with_valid()

    def make(self) -> Hybrid:
        return Hybrid(HybridParams(mode="meta", components=FAST, meta_trials=5))


class TestEarlyHybrid(RecommenderContract):
    @pytest.fixture(scope="class")
    def data(self) -> TrainData:
        train, _ = checkerboard()
        return TrainData(matrix=train, features=group_features(), seed=3)

    def make(self) -> Hybrid:
        return Hybrid(HybridParams(mode="early", early_l2=5.0, early_side_weight=1.0))


def test_normalise_per_user() -> None:
    s = np.array([[1.0, 2.0, 3.0], [10.0, 10.0, 10.0]], dtype=np.float32)
    z = normalise(s, "zscore")
    np.testing.assert_allclose(z[0], (s[0] - 2.0) / np.std(s[0]), rtol=1e-6)
    assert np.all(z[1] == 0.0)
    m = normalise(s, "minmax")
    np.testing.assert_allclose(m[0], [0.0, 0.5, 1.0])


def test_meta_weights_never_worse_than_any_single_component_on_valid() -> None:
    model = Hybrid(HybridParams(mode="meta", components=FAST, meta_trials=10)).fit(with_valid())
    report = model.meta_report
    assert report["ndcg@10"] >= max(report["singles"].values()) - 1e-12
    assert len(model.weights) == len(FAST)


def test_stick_breaking_maps_the_unit_cube_onto_the_weight_simplex_and_back() -> None:
    rng = np.random.default_rng(0)
    for n in (2, 3, 5):
        for _ in range(20):
            w = rng.random(n) * rng.integers(0, 2, n)  # some weights exactly zero
            if not w.any():
                continue
            sticks = to_sticks(w)
            assert len(sticks) == n - 1 and all(0.0 <= b <= 1.0 for b in sticks)
            np.testing.assert_allclose(from_sticks(sticks), w / w.sum(), atol=1e-12)
        b = rng.random(n - 1)
        weights = from_sticks(list(b))
        assert weights.min() >= 0.0 and abs(weights.sum() - 1.0) < 1e-12
        np.testing.assert_allclose(to_sticks(weights), b, atol=1e-9)
    np.testing.assert_allclose(from_sticks(to_sticks(np.zeros(4))), np.full(4, 0.25))
    np.testing.assert_allclose(from_sticks(to_sticks(np.eye(3)[2])), [0.0, 0.0, 1.0])


def test_meta_with_one_component_keeps_it_whole() -> None:
    model = Hybrid(HybridParams(mode="meta", components=FAST[:1], meta_trials=10)).fit(with_valid())
    assert model.weights.tolist() == [1.0] and model.meta_report["ndcg@10"] > 0


def test_meta_requires_a_valid_window() -> None:
    train, _ = checkerboard()
    with pytest.raises(RecsysError, match="valid window"):
        Hybrid(HybridParams(mode="meta", components=FAST)).fit(TrainData(matrix=train))


def test_fitted_params_reproduce_the_learned_blend() -> None:
    data = with_valid()
    meta = Hybrid(HybridParams(mode="meta", components=FAST, meta_trials=5)).fit(data)
    late = Hybrid(meta.fitted_params()).fit(data.without_valid())
    assert late.params.mode == "late"
    users = np.arange(N_USERS)
    np.testing.assert_allclose(late.score(users), meta.score(users), rtol=1e-5, atol=1e-6)


def test_early_fusion_scores_a_cold_item_from_its_features() -> None:
    train, _ = checkerboard()
    train = train.tolil()
    cold = 22  # an even item nobody has interacted with
    train[:, cold] = 0
    data = TrainData(matrix=sp.csr_matrix(train), features=group_features(), seed=1)
    model = Hybrid(HybridParams(mode="early", early_l2=5.0, early_side_weight=2.0)).fit(data)
    scores = model.score(np.arange(N_USERS))
    even_users, odd_users = np.arange(N_USERS // 2), np.arange(N_USERS // 2, N_USERS)
    # the cold even item scores higher for users of the even group than for the odd group
    assert scores[even_users, cold].mean() > scores[odd_users, cold].mean() + 1e-3


def test_early_fusion_needs_features() -> None:
    train, _ = checkerboard()
    from recsys_cli.errors import StageInputError

    with pytest.raises(StageInputError, match="recsys features"):
        Hybrid(HybridParams(mode="early")).fit(TrainData(matrix=train))


def test_rating_blend_learns_weights_on_a_holdout_and_predicts_ratings() -> None:
    """Two noisy predictors of the same ratings: the least-squares blend beats both on new data."""
    rng = np.random.default_rng(0)
    n_users, n_items = 60, 40
    truth = np.clip(3 + rng.normal(0, 1, (n_users, 1)) * 0.5 + rng.normal(0, 1, (1, n_items)) * 0.7, 1, 5)
    mask = rng.random((n_users, n_items)) < 0.6
    ratings = sp.csr_matrix(np.where(mask, np.round(truth * 2) / 2, 0.0))
    data = TrainData(matrix=(ratings > 0).astype(np.float32), ratings=ratings, seed=1)
    comps = [Component("svd", 1.0, {"n_factors": 4, "n_epochs": 30}), Component("knnbaseline", 1.0, {"k": 10})]
    model = Hybrid(HybridParams(mode="meta", objective="rating", components=comps)).fit(data)
    report = model.meta_report
    assert report["blend"]["rmse"] <= min(report["singles"].values()) + 1e-9
    users, items = np.nonzero(~mask)
    pred = model.predict(users, items)
    assert pred.min() >= 1.0 and pred.max() <= 5.0
    late = Hybrid(model.fitted_params()).fit(data)
    np.testing.assert_allclose(late.predict(users, items), pred, rtol=1e-6)
