"""IdMap (external ids <-> dense indices), its files, and the interaction matrix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from recsys_cli.data.ids import IdMap, load_ids, save_ids
from recsys_cli.data.interactions import binary, load_matrix, save_matrix, to_matrix


def test_ids_are_sorted_and_unique() -> None:
    m = IdMap(["u3", "u1", "u2", "u1"])
    assert m.ids.tolist() == ["u1", "u2", "u3"]
    assert len(m) == 3


def test_index_and_external_round_trip() -> None:
    ids = ["zeta", "alpha", "mid", "beta"]
    m = IdMap(ids)
    idx = m.index(ids)
    assert idx.dtype == np.int32
    assert sorted(idx.tolist()) == list(range(len(ids)))
    assert m.external(idx).tolist() == ids
    # indices follow the sorted order of the ids
    assert m.index(sorted(ids)).tolist() == list(range(len(ids)))
    assert m.index(pl.Series(["mid", "alpha"])).tolist() == m.index(["mid", "alpha"]).tolist()


def test_unknown_ids_are_minus_one_and_padding_is_empty() -> None:
    m = IdMap(["a", "b"])
    assert m.index(["b", "nope", "a", ""]).tolist() == [1, -1, 0, -1]
    assert m.external(np.array([1, -1, 0, -1])).tolist() == ["b", "", "a", ""]
    assert m.external(np.array([[0, -1], [-1, 1]])).tolist() == [["a", ""], ["", "b"]]


def test_an_empty_map_knows_nothing() -> None:
    m = IdMap([])
    assert len(m) == 0
    assert m.index(["a"]).tolist() == [-1]
    assert m.external(np.array([-1, -1])).tolist() == ["", ""]


def test_from_values_merges_columns_and_drops_nulls() -> None:
    m = IdMap.from_values(pl.Series(["b", None, "a"]), ["c", "a"])
    assert m.ids.tolist() == ["a", "b", "c"]


def test_save_and_load_ids(tmp_path: Path) -> None:
    users = IdMap([f"u{k:03d}" for k in range(7)])
    items = IdMap(["p9", "p1", "p5"])
    path = tmp_path / "ids.npz"
    save_ids(path, users, items)
    users2, items2 = load_ids(path)
    assert users2.ids.tolist() == users.ids.tolist()
    assert items2.ids.tolist() == items.ids.tolist()
    probe = ["p5", "p0", "p9"]
    assert items2.index(probe).tolist() == items.index(probe).tolist()


# ----------------------------------------------------------------- interactions


def _frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "user_idx": [0, 0, 1, 0, 2, 1],
            "item_idx": [1, 1, 0, 3, 2, 0],
            "weight": [1.0, 3.0, 5.0, 1.0, 2.0, 0.5],
        }
    )


def test_to_matrix_sums_duplicate_pairs() -> None:
    frame = _frame()
    mat = to_matrix(frame, 4, 5)
    assert mat.shape == (4, 5)
    assert mat.dtype == np.float32
    expected = np.zeros((4, 5), dtype=np.float32)
    for u, i, w in frame.iter_rows():
        expected[u, i] += w
    np.testing.assert_allclose(mat.toarray(), expected)
    assert mat.nnz == len(set(zip(frame["user_idx"], frame["item_idx"], strict=True)))  # one entry per pair
    assert mat.has_sorted_indices


def test_to_matrix_counts_rows_without_a_value() -> None:
    frame = _frame()
    mat = to_matrix(frame, 3, 4, value=None)
    expected = np.zeros((3, 4), dtype=np.float32)
    for u, i, _ in frame.iter_rows():
        expected[u, i] += 1
    np.testing.assert_array_equal(mat.toarray(), expected)
    np.testing.assert_array_equal(binary(mat).toarray(), (expected > 0).astype(np.float32))


def test_matrix_file_round_trip(tmp_path: Path) -> None:
    mat = to_matrix(_frame(), 3, 4)
    save_matrix(tmp_path / "m.npz", mat)
    back = load_matrix(tmp_path / "m.npz")
    assert back.shape == mat.shape
    np.testing.assert_array_equal(back.toarray(), mat.toarray())


@pytest.mark.parametrize("n", [1, 50])
def test_index_of_many_ids_is_a_bijection(n: int) -> None:
    rng = np.random.default_rng(n)
    ids = [f"x{v}" for v in rng.permutation(n * 3)[:n]]
    m = IdMap(ids)
    idx = m.index(ids)
    assert len(set(idx.tolist())) == n and idx.min() == 0 and idx.max() == n - 1
    assert m.external(idx).tolist() == ids
