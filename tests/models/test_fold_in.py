"""Fold-in (``score_history``): scoring users from a history row the model never trained on.

- for item-item models and popularity, folding in a training user's own row
  gives exactly that user's ``score``;
- ALS fold-in equals implicit's ``AlternatingLeastSquares.recalculate_user``
  on the same item factors (an independent reference);
- Mult-VAE fold-in of a training row equals ``score`` (eval mode, no dropout);
- on a planted block structure, a new user's fold-in puts their block first.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys_cli.models.als import ALS, ALSParams
from recsys_cli.models.base import TrainData
from recsys_cli.models.ease import EASE, EASEParams
from recsys_cli.models.itemknn import ItemKNN, ItemKNNParams
from recsys_cli.models.neural.multvae import MultVAE, MultVAEParams
from recsys_cli.models.popularity import Popularity
from recsys_cli.models.rp3beta import RP3beta, RP3betaParams

N_BLOCKS, BLOCK_ITEMS, USERS_PER_BLOCK = 3, 10, 20
N_ITEMS = N_BLOCKS * BLOCK_ITEMS
N_USERS = N_BLOCKS * USERS_PER_BLOCK


def blocks(seed: int = 0) -> sp.csr_matrix:
    """Users of block b interact with ~70% of block b's items (weights 1, 3 or 5) and rarely anything else."""
    rng = np.random.default_rng(seed)
    rows, cols, vals = [], [], []
    for u in range(N_USERS):
        b = u // USERS_PER_BLOCK
        mine = np.arange(b * BLOCK_ITEMS, (b + 1) * BLOCK_ITEMS)
        liked = mine[rng.random(BLOCK_ITEMS) < 0.7]
        if rng.random() < 0.3:  # a little noise outside the block
            liked = np.append(liked, rng.integers(N_ITEMS))
        liked = np.unique(liked)
        rows += [u] * liked.size
        cols += liked.tolist()
        vals += rng.choice([1.0, 3.0, 5.0], size=liked.size).tolist()
    return sp.csr_matrix((np.array(vals, dtype=np.float32), (rows, cols)), shape=(N_USERS, N_ITEMS))


def new_users(seed: int = 1, per_block: int = 2, n_items: int = 4) -> tuple[sp.csr_matrix, np.ndarray]:
    """Rows of users the models never saw: ``n_items`` items of one block each (weighted); and their blocks."""
    rng = np.random.default_rng(seed)
    rows, cols, vals, owner = [], [], [], []
    for r in range(N_BLOCKS * per_block):
        b = r % N_BLOCKS
        items = rng.choice(np.arange(b * BLOCK_ITEMS, (b + 1) * BLOCK_ITEMS), size=n_items, replace=False)
        rows += [r] * n_items
        cols += items.tolist()
        vals += rng.choice([1.0, 5.0], size=n_items).tolist()
        owner.append(b)
    m = sp.csr_matrix((np.array(vals, dtype=np.float32), (rows, cols)), shape=(len(owner), N_ITEMS))
    return m, np.array(owner)


@pytest.fixture(scope="module")
def data() -> TrainData:
    return TrainData(matrix=blocks(), seed=3)


ITEM_ITEM = {
    "ease": lambda: EASE(EASEParams(l2=10.0)),
    "ease_weighted": lambda: EASE(EASEParams(l2=10.0, binary=False)),
    "itemknn": lambda: ItemKNN(ItemKNNParams(k=20, shrink=2.0)),
    "itemknn_weighted": lambda: ItemKNN(ItemKNNParams(k=20, shrink=2.0, binary_history=False)),
    "rp3beta": lambda: RP3beta(RP3betaParams(k=20)),
    "popularity": lambda: Popularity(),
}


def tiny_als() -> ALS:
    return ALS(ALSParams(factors=8, iterations=10, regularization=0.05, alpha=2.0, num_threads=1))


def tiny_multvae() -> MultVAE:
    return MultVAE(MultVAEParams(hidden=[32], latent=8, epochs=30, lr=0.01, batch_size=8, total_anneal_steps=50,
                                 device="cpu", num_threads=1))


@pytest.fixture(scope="module")
def fitted(data: TrainData) -> dict:
    out = {name: make().fit(data) for name, make in ITEM_ITEM.items()}
    out["als"] = tiny_als().fit(data)
    out["multvae"] = tiny_multvae().fit(data)
    return out


@pytest.mark.parametrize("name", list(ITEM_ITEM))
def test_fold_in_of_a_train_row_equals_score(fitted: dict, data: TrainData, name: str) -> None:
    model = fitted[name]
    users = np.array([0, 7, 25, 41, 59])
    expected = model.score(users)
    np.testing.assert_allclose(model.score_history(data.matrix[users]), expected, rtol=1e-5, atol=1e-6)
    for u in users:  # one row at a time, too
        np.testing.assert_allclose(model.score_history(data.matrix[[u]])[0], model.score(np.array([u]))[0],
                                   rtol=1e-5, atol=1e-6)
    items = np.array([3, 0, 29, 12])
    np.testing.assert_allclose(model.score_history(data.matrix[users], items), expected[:, items], rtol=1e-5, atol=1e-6)


def test_weighted_history_is_used_when_the_model_is_not_binary(fitted: dict) -> None:
    """binary=False models must score the summed weights, binary ones the 0/1 pattern."""
    rows = sp.csr_matrix(np.array([[5.0, 1.0] + [0.0] * (N_ITEMS - 2)], dtype=np.float32))
    ones = rows.copy()
    ones.data[:] = 1.0
    for name in ("ease", "itemknn", "rp3beta"):  # fresh copies: see the in-place test below
        np.testing.assert_allclose(fitted[name].score_history(rows.copy()), fitted[name].score_history(ones.copy()),
                                   rtol=1e-6)
    for name in ("ease_weighted", "itemknn_weighted"):
        assert not np.allclose(fitted[name].score_history(rows.copy()), fitted[name].score_history(ones.copy()))


@pytest.mark.parametrize("name", ["ease", "itemknn", "rp3beta"])
def test_fold_in_leaves_the_callers_rows_alone(fitted: dict, name: str) -> None:
    rows, _ = new_users()
    before = rows.copy()
    fitted[name].score_history(rows)
    np.testing.assert_array_equal(rows.toarray(), before.toarray())


def test_fold_in_of_an_empty_row_scores_nothing_or_popularity(fitted: dict) -> None:
    empty = sp.csr_matrix((2, N_ITEMS), dtype=np.float32)
    for name in ("ease", "itemknn", "rp3beta", "als"):
        np.testing.assert_array_equal(fitted[name].score_history(empty), np.zeros((2, N_ITEMS), dtype=np.float32))
    pop = fitted["popularity"]
    np.testing.assert_array_equal(pop.score_history(empty), np.broadcast_to(pop.item_scores, (2, N_ITEMS)))


def test_als_fold_in_equals_implicit_recalculate_user(fitted: dict, data: TrainData) -> None:
    from implicit.cpu.als import AlternatingLeastSquares

    model = fitted["als"]
    p = model.params
    reference = AlternatingLeastSquares(factors=p.factors, regularization=p.regularization, alpha=p.alpha,
                                        iterations=1, use_cg=False, num_threads=1, random_state=0)
    reference.item_factors = model.item_factors.copy()
    reference.user_factors = np.zeros((1, p.factors), dtype=np.float32)
    rows, _ = new_users()
    rows = sp.vstack([rows, data.matrix[[0, 33]]]).tocsr().astype(np.float32)
    factors = reference.recalculate_user(np.arange(rows.shape[0]), rows)
    expected = factors @ model.item_factors.T
    got = model.score_history(rows)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=2e-3, atol=2e-4)
    sub = np.array([5, 1, 22])
    np.testing.assert_allclose(model.score_history(rows, sub), expected[:, sub], rtol=2e-3, atol=2e-4)


def test_multvae_fold_in_of_a_train_row_equals_score(fitted: dict, data: TrainData) -> None:
    model = fitted["multvae"]
    assert not model.net.training  # fit leaves the net in eval mode: no dropout, the mean code
    users = np.array([0, 21, 45])
    before = model.score(users)
    np.testing.assert_allclose(model.score_history(data.matrix[users]), before, rtol=1e-5, atol=1e-5)
    # the rows are binarised, like the training rows
    bigger = data.matrix[users] * 7.0
    np.testing.assert_allclose(model.score_history(bigger), before, rtol=1e-5, atol=1e-5)
    # and folding in leaves the model's own users untouched
    np.testing.assert_array_equal(model.score(users), before)
    assert model.rows.shape == (N_USERS, N_ITEMS) and model.n_users == N_USERS


@pytest.mark.parametrize("name", ["ease", "itemknn", "rp3beta", "als", "multvae"])
def test_fold_in_ranks_the_users_own_block_first(fitted: dict, name: str) -> None:
    rows, owner = new_users()
    scores = fitted[name].score_history(rows).astype(np.float64)
    scores[rows.nonzero()] = -np.inf  # what they already have is not recommended
    top = np.argsort(-scores, axis=1, kind="stable")[:, :5]
    in_block = (top // BLOCK_ITEMS) == owner[:, None]
    assert in_block.mean() >= 0.9, (name, top, owner)
    assert in_block[:, 0].all(), (name, top[:, 0], owner)
