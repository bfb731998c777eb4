"""The contract every model inherits: subclass ``RecommenderContract`` and set
``make`` (a fresh, small, fast model). Checks, on a checkerboard of two user
groups that each like half the items:

- personalised models put an unseen item of the user's own half at the top;
- scoring a batch equals scoring users one by one;
- items passed in ``exclude`` never appear; k larger than the catalog pads;
- ``items=`` restricts candidates; ``similar_items`` never returns the item itself;
- save/load gives identical scores and params; the params dataclass round-trips;
- the same seed gives the same scores.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from recsys_cli.models.base import PAD, TrainData
from recsys_cli.schema import from_dict, to_dict

N_USERS, N_ITEMS = 40, 24


def checkerboard(seed: int = 0) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Users 0..19 like even items, 20..39 odd items; one liked item per user held out."""
    rng = np.random.default_rng(seed)
    rows, cols, held = [], [], []
    for u in range(N_USERS):
        mine = np.arange(u // (N_USERS // 2), N_ITEMS, 2)
        hold = rng.choice(mine)
        held.append(hold)
        for i in mine:
            if i != hold and rng.random() < 0.8:
                rows.append(u)
                cols.append(i)
    train = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(N_USERS, N_ITEMS))
    test = sp.csr_matrix((np.ones(N_USERS, dtype=np.float32), (np.arange(N_USERS), held)), shape=(N_USERS, N_ITEMS))
    return train, test


class RecommenderContract:
    personalised = True

    def make(self):  # noqa: ANN201 - returns the model under test
        raise NotImplementedError  # each concrete test class provides its model

    @pytest.fixture(scope="class")
    def data(self) -> TrainData:
        train, _ = checkerboard()
        return TrainData(matrix=train, seed=7)

    @pytest.fixture(scope="class")
    def fitted(self, data: TrainData):  # noqa: ANN201
        return self.make().fit(data)

    def test_top1_is_from_own_group(self, fitted, data: TrainData) -> None:
        users = np.arange(N_USERS)
        recs = fitted.recommend(users, 1, exclude=data.matrix)
        top = recs.items[:, 0]
        group = users // (N_USERS // 2)
        if self.personalised:
            assert np.mean(top % 2 == group) >= 0.9
        else:  # one list for everyone: without exclusions every user gets the same top item
            same = fitted.recommend(users, 1).items[:, 0]
            assert len(set(same.tolist())) == 1

    def test_scores_shape_and_items_subset(self, fitted) -> None:
        users = np.array([0, 5, 30])
        full = fitted.score(users)
        assert full.shape == (3, N_ITEMS)
        sub_items = np.array([3, 0, 17])
        np.testing.assert_allclose(fitted.score(users, sub_items), full[:, sub_items], rtol=1e-5, atol=1e-6)

    def test_batch_equals_one_by_one(self, fitted, data: TrainData) -> None:
        users = np.arange(N_USERS)
        batch = fitted.recommend(users, 5, exclude=data.matrix)
        for u in users:
            single = fitted.recommend(np.array([u]), 5, exclude=data.matrix[u])
            np.testing.assert_array_equal(single.items[0], batch.items[u])
            np.testing.assert_allclose(single.scores[0], batch.scores[u], rtol=1e-5, atol=1e-6)

    def test_seen_items_excluded(self, fitted, data: TrainData) -> None:
        users = np.arange(N_USERS)
        recs = fitted.recommend(users, 10, exclude=data.matrix)
        for u in users:
            seen = set(data.matrix[u].indices.tolist())
            assert not seen & set(recs.items[u].tolist())

    def test_k_larger_than_catalog_pads(self, fitted, data: TrainData) -> None:
        users = np.array([0, 21])
        recs = fitted.recommend(users, N_ITEMS + 5, exclude=data.matrix[users])
        assert recs.items.shape == (2, N_ITEMS + 5)
        for row, u in enumerate(users):
            real = recs.items[row][recs.items[row] != PAD]
            assert len(real) == N_ITEMS - data.matrix[u].nnz
            assert len(set(real.tolist())) == len(real)
            assert np.all(recs.items[row][len(real):] == PAD)
            assert np.all(np.diff(recs.scores[row][: len(real)]) <= 1e-6)  # best first

    def test_candidate_restriction(self, fitted) -> None:
        cands = np.array([1, 4, 9, 16])
        recs = fitted.recommend(np.array([0, 25]), 3, items=cands)
        assert set(recs.items.ravel().tolist()) <= set(cands.tolist())

    def test_similar_items_exclude_self(self, fitted) -> None:
        items = np.array([0, 1, 7])
        recs = fitted.similar_items(items, 4)
        assert recs.items.shape == (3, 4)
        for row, i in enumerate(items):
            assert i not in recs.items[row].tolist()

    def test_save_load_identical(self, fitted, tmp_path: Path) -> None:
        fitted.save(tmp_path / "m")
        loaded = type(fitted).load(tmp_path / "m")
        users = np.arange(N_USERS)
        np.testing.assert_array_equal(loaded.score(users), fitted.score(users))
        assert loaded.params == fitted.params

    def test_params_round_trip(self, fitted) -> None:
        params = fitted.params
        assert dataclasses.is_dataclass(params)
        assert from_dict(type(params), to_dict(params)) == params

    def test_same_seed_same_scores(self, data: TrainData) -> None:
        a = self.make().fit(data).score(np.arange(N_USERS))
        b = self.make().fit(data).score(np.arange(N_USERS))
        np.testing.assert_array_equal(a, b)

    def test_tampered_artifact_refused(self, fitted, tmp_path: Path) -> None:
        from recsys_cli.errors import RecsysError

        fitted.save(tmp_path / "m")
        target = tmp_path / "m" / "arrays.npz"
        blob = bytearray(target.read_bytes())
        blob[len(blob) // 2] ^= 0xFF
        target.write_bytes(bytes(blob))
        with pytest.raises(RecsysError, match="checksum"):
            type(fitted).load(tmp_path / "m")
