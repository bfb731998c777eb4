"""Features: item text, TF-IDF fit on train-time items only, popularity, train-time items."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp

from recsys_cli import config
from recsys_cli.config import FeaturesConfig, SplitConfig
from recsys_cli.data.splits import report, split_events
from recsys_cli.features.side import item_popularity
from recsys_cli.features.text import fit_tfidf, item_text, load_tfidf, save_tfidf
from recsys_cli.stages.features import train_time_items

# ------------------------------------------------------------------ item text


def test_item_text_joins_fields_and_splits_category_paths() -> None:
    cat = pl.DataFrame(
        {
            "item_id": ["p1", "p2"],
            "title": ["Red Kettle", None],
            "category": ["Home & Kitchen > Appliances", "Books|Fiction"],
            "brand": ["Acme", "Zed"],
        }
    )
    texts = item_text(cat, ["title", "description", "category", "brand"])  # no description column
    assert len(texts) == 2
    assert texts[0].split() == ["Red", "Kettle", "Home", "&", "Kitchen", "Appliances", "Acme"]
    assert texts[1].split() == ["Books", "Fiction", "Zed"]
    assert ">" not in " ".join(texts) and "|" not in " ".join(texts)


def test_item_text_without_known_fields_is_empty() -> None:
    cat = pl.DataFrame({"item_id": ["p1", "p2", "p3"]})
    assert item_text(cat, ["title", "brand"]) == ["", "", ""]


# --------------------------------------------------------------------- TF-IDF


TEXTS = [
    "red apple juice",
    "green apple pie",
    "red cherry pie",
    "blue whale",  # only words never fit on
    "red whale song",  # one known word, two unknown
    "",
]


def _row_norms(matrix: sp.csr_matrix) -> np.ndarray:
    return np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())


def test_tfidf_vocabulary_comes_from_the_fit_rows_only() -> None:
    fit_rows = np.array([0, 1, 2])
    matrix, vocab = fit_tfidf(TEXTS, fit_rows, FeaturesConfig(tfidf_min_df=1))
    fit_words = {w for k in fit_rows for w in TEXTS[k].split()}
    assert set(vocab.tolist()) == fit_words
    assert "whale" not in vocab and "blue" not in vocab and "song" not in vocab
    assert matrix.shape == (len(TEXTS), len(vocab))

    col = {w: k for k, w in enumerate(vocab.tolist())}
    dense = matrix.toarray()
    # an item outside the fit still gets a vector over the words the vocabulary knows
    assert np.flatnonzero(dense[4]).tolist() == [col["red"]]
    assert not dense[3].any() and not dense[5].any()
    # each fit row uses exactly its own words
    for k in fit_rows:
        assert {vocab[j] for j in np.flatnonzero(dense[k])} == set(TEXTS[k].split())


def test_tfidf_rows_are_l2_normalised() -> None:
    matrix, _ = fit_tfidf(TEXTS, np.arange(5), FeaturesConfig(tfidf_min_df=1))
    norms = _row_norms(matrix)
    nonzero = norms > 0
    assert nonzero.sum() == 5  # every non-empty text
    np.testing.assert_allclose(norms[nonzero], 1.0, rtol=1e-5)
    assert matrix.dtype == np.float32


def test_tfidf_min_df_and_max_features() -> None:
    matrix, vocab = fit_tfidf(TEXTS, np.array([0, 1, 2]), FeaturesConfig(tfidf_min_df=2))
    # words in at least two of the three fit texts
    assert sorted(vocab.tolist()) == ["apple", "pie", "red"]
    _, capped = fit_tfidf(TEXTS, np.array([0, 1, 2]), FeaturesConfig(tfidf_min_df=1, tfidf_max_features=2))
    assert capped.size == 2
    assert matrix.shape[1] == 3


def test_tfidf_with_nothing_to_fit_has_no_columns() -> None:
    matrix, vocab = fit_tfidf(TEXTS, np.array([5]), FeaturesConfig())
    assert matrix.shape == (len(TEXTS), 0) and vocab.size == 0


def test_tfidf_file_round_trip(tmp_path: Path) -> None:
    matrix, vocab = fit_tfidf(TEXTS, np.arange(5), FeaturesConfig(tfidf_min_df=1))
    save_tfidf(tmp_path / "t.npz", matrix, vocab)
    back, vocab2 = load_tfidf(tmp_path / "t.npz")
    assert vocab2.tolist() == vocab.tolist()
    np.testing.assert_array_equal(back.toarray(), matrix.toarray())


# ----------------------------------------------------------------- popularity


def test_item_popularity_counts_only_the_given_frame() -> None:
    t = datetime(2024, 5, 1)
    rows = [
        (0, 2, 1.0, "view", t),
        (0, 2, 3.0, "add_to_cart", t + timedelta(hours=1)),
        (1, 2, 5.0, "purchase", t + timedelta(hours=2)),
        (1, 0, 1.0, "view", t + timedelta(days=1)),
        (2, 0, 1.0, "view", t - timedelta(days=1)),
    ]
    train = pl.DataFrame(
        rows,
        schema={"user_idx": pl.Int32, "item_idx": pl.Int32, "weight": pl.Float32, "event": pl.Utf8,
                "timestamp": pl.Datetime("ms")},
        orient="row",
    )
    n_items = 5
    pop = item_popularity(train, n_items)
    assert pop.height == n_items
    assert pop["item_idx"].to_list() == list(range(n_items))
    for idx in range(n_items):
        mine = [r for r in rows if r[1] == idx]
        row = pop.row(idx, named=True)
        assert row["events"] == len(mine)
        assert row["users"] == len({r[0] for r in mine})
        assert row["weight"] == pytest.approx(sum(r[2] for r in mine))
        assert row["views"] == sum(r[3] == "view" for r in mine)
        assert row["carts"] == sum(r[3] == "add_to_cart" for r in mine)
        assert row["purchases"] == sum(r[3] == "purchase" for r in mine)
        assert row["last_seen"] == (max(r[4] for r in mine) if mine else None)

    # a smaller frame gives smaller counts: nothing outside the frame leaks in
    first_two = item_popularity(train.head(2), n_items)
    assert first_two["events"].to_list() == [0, 0, 2, 0, 0]


# ------------------------------------------------------------ train-time items


def _cfg(root: Path) -> config.Config:
    return config.load([f"paths.root={root}"])


def _write_split_report(cfg: config.Config, info: dict) -> None:
    cfg.paths.processed.mkdir(parents=True, exist_ok=True)
    (cfg.paths.processed / "split_report.json").write_text(json.dumps(info))


def _log() -> pl.DataFrame:
    t = datetime(2024, 1, 1)
    rows = [("a", 0, t), ("b", 1, t + timedelta(days=5)), ("a", 2, t + timedelta(days=20)), ("c", 3, t + timedelta(days=40))]
    return pl.DataFrame(
        {
            "user_id": [r[0] for r in rows],
            "item_idx": pl.Series([r[1] for r in rows], dtype=pl.Int32),
            "item_id": [f"p{r[1]}" for r in rows],
            "timestamp": pl.Series([r[2] for r in rows], dtype=pl.Datetime("ms")),
            "event": ["view"] * len(rows),
            "weight": [1.0] * len(rows),
        }
    )


def test_train_time_items_adds_launched_items_for_temporal_splits(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    split = split_events(_log(), SplitConfig(valid_start="2024-01-15", test_start="2024-02-01"))
    _write_split_report(cfg, report(split))  # the report exactly as the split stage writes it
    t1 = datetime(2024, 1, 15)
    launch = [
        t1 - timedelta(days=30),  # 0: in train anyway
        t1 + timedelta(days=3),  # 1: in train (seen), launch date says later: still known
        t1 + timedelta(days=1),  # 2: not in train, launched after t1
        None,  # 3: not in train, no launch date
        t1 - timedelta(days=1),  # 4: not in train, launched before t1
        t1,  # 5: launched exactly at t1: not before it
    ]
    cat = pl.DataFrame(
        {"item_id": [f"p{k}" for k in range(6)], "launch_date": pl.Series(launch, dtype=pl.Datetime("ms"))}
    )
    rows = train_time_items(cfg, cat, split.train)
    seen = set(split.train["item_idx"].to_list())
    launched = {k for k, d in enumerate(launch) if d is not None and d < t1}
    assert seen == {0, 1}
    assert rows.tolist() == sorted(seen | launched) == [0, 1, 4]


def test_train_time_items_is_only_train_items_for_leave_last(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    split = split_events(_log(), SplitConfig(method="leave_last", n_valid=0, n_test=1, min_train=1))
    _write_split_report(cfg, report(split))
    cat = pl.DataFrame(
        {"item_id": [f"p{k}" for k in range(5)],
         "launch_date": pl.Series([datetime(2000, 1, 1)] * 5, dtype=pl.Datetime("ms"))}
    )
    rows = train_time_items(cfg, cat, split.train)
    assert split.test["item_idx"].to_list() == [2]  # user a's last event
    assert rows.tolist() == sorted(set(split.train["item_idx"].to_list())) == [0, 1, 3]
    # launched long ago, but leave_last has no global cutoff to compare a launch date with
