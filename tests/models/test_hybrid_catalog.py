"""The hybrid adapts to the catalog: a component that cannot fit is left out with one warning line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from recsys_cli.errors import RecsysError, TooLarge
from recsys_cli.models.base import TrainData
from recsys_cli.models.ease import EASE, EASEParams
from recsys_cli.models.hybrid import Component, Hybrid, HybridParams
from recsys_cli.models.popularity import Popularity, PopularityParams

N_ITEMS = 55_000  # EASE's dense item x item inverse: ~73 GB, over the default 4 GB budget


def big_catalog() -> TrainData:
    rng = np.random.default_rng(0)
    users = rng.integers(0, 300, 6000)
    items = rng.zipf(1.3, 6000) % N_ITEMS
    matrix = sp.csr_matrix((np.ones(6000, dtype=np.float32), (users, items)), shape=(300, N_ITEMS))
    matrix.sum_duplicates()
    return TrainData(matrix=matrix, seed=1)


def test_ease_alone_refuses_the_catalog() -> None:
    with pytest.raises(TooLarge, match=r"ease: 55,000 items need about 72.6 GB"):
        EASE(EASEParams()).fit(big_catalog())


def test_hybrid_leaves_ease_out_with_one_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = big_catalog()
    params = HybridParams(mode="late", components=[Component("ease", 1.0, {"l2": 300.0}), Component("popularity", 0.3, {})])
    model = Hybrid(params).fit(data)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("warning: hybrid: component ease left out: ease: 55,000 items")
    assert [c.name for c in model.params.components] == ["popularity"]
    # what is left is exactly the popularity model (an independent fit of the same component)
    users = np.arange(20)
    expected = Popularity(PopularityParams()).fit(data).recommend(users, 10, exclude=data.matrix[users])
    got = model.recommend(users, 10, exclude=data.matrix[users])
    np.testing.assert_array_equal(got.items, expected.items)
    model.save(tmp_path / "m")
    again = Hybrid.load(tmp_path / "m")
    np.testing.assert_array_equal(again.recommend(users, 10, exclude=data.matrix[users]).items, got.items)


def test_no_component_left_is_an_error() -> None:
    params = HybridParams(mode="late", components=[Component("ease", 1.0, {})])
    with pytest.raises(RecsysError, match="no hybrid component could be fit"):
        Hybrid(params).fit(big_catalog())
