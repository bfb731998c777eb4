"""Evaluation-protocol splits: rolling origins, held-out users with a fold-in window, new-item targets."""

from __future__ import annotations

import polars as pl
import pytest

from recsys_cli.config import PreprocessConfig, SplitConfig
from recsys_cli.data.preprocess import preprocess
from recsys_cli.data.sources.synthetic import generate
from recsys_cli.data.splits import Split, split_events
from recsys_cli.errors import ConfigError

COLD = ["cold_user", "cold_item"]
KEY = ["user_id", "item_id", "timestamp"]


@pytest.fixture(scope="module")
def events() -> pl.DataFrame:
    raw = generate("tiny", 3, show_progress=False)
    out, _ = preprocess(raw.events, PreprocessConfig())
    return out


def _ts(frame: pl.DataFrame, how: str):  # noqa: ANN202
    return getattr(frame["timestamp"], how)()


def _multiset_equal(a: pl.DataFrame, b: pl.DataFrame) -> bool:
    cols = [c for c in a.columns if c not in COLD]
    a, b = a.select(cols), b.select(cols)
    return a.height == b.height and a.sort(cols, nulls_last=True).equals(b.sort(cols, nulls_last=True))


# ------------------------------------------------------------------ rolling


@pytest.fixture(scope="module")
def rolling3(events: pl.DataFrame) -> Split:
    return split_events(events, SplitConfig(method="rolling", folds=3, valid_frac=0.1, test_frac=0.1))


def test_rolling_has_the_requested_number_of_folds(rolling3: Split) -> None:
    assert len(rolling3.folds) == 2
    assert [f.info["fold"] for f in [*rolling3.folds, rolling3]] == [0, 1, 2]
    assert all(not f.folds for f in rolling3.folds)


def test_each_rolling_fold_is_temporally_ordered(rolling3: Split) -> None:
    for fold in [*rolling3.folds, rolling3]:
        assert fold.train.height and fold.valid.height and fold.test.height
        assert _ts(fold.train, "max") < _ts(fold.valid, "min")
        assert _ts(fold.valid, "min") <= _ts(fold.valid, "max") < _ts(fold.test, "min")
        # each window is one contiguous stretch of time: nothing of another window falls inside it
        for frame in (fold.train, fold.valid):
            assert _ts(frame, "max") < _ts(fold.test, "min")


def test_rolling_test_windows_follow_one_another(rolling3: Split, events: pl.DataFrame) -> None:
    folds = [*rolling3.folds, rolling3]
    for earlier, later in zip(folds[:-1], folds[1:], strict=True):
        assert _ts(earlier.test, "max") < _ts(later.test, "min")
        assert _ts(earlier.test, "min") < _ts(later.test, "min")
        # the origin rolls forward: the later fold trains on more history
        assert later.train.height > earlier.train.height
        assert _ts(later.train, "max") > _ts(earlier.train, "max")
    # the last fold's test window runs to the end of the data; every test window is about test_frac of events
    assert _ts(rolling3.test, "max") == _ts(events, "max")
    for fold in folds:
        assert 0.07 <= fold.test.height / events.height <= 0.13
    # consecutive test windows tile time: the earlier test window is the later fold's valid window
    for earlier, later in zip(folds[:-1], folds[1:], strict=True):
        assert _multiset_equal(earlier.test, later.valid)


def test_rolling_with_one_fold_is_the_plain_temporal_split(events: pl.DataFrame) -> None:
    one = split_events(events, SplitConfig(method="rolling", folds=1, valid_frac=0.1, test_frac=0.1))
    plain = split_events(events, SplitConfig(method="temporal", valid_frac=0.1, test_frac=0.1))
    assert one.folds == []
    for name in ("train", "valid", "test"):
        assert getattr(one, name).equals(getattr(plain, name)), name
    assert one.info["t1"] == plain.info["t1"] and one.info["t2"] == plain.info["t2"]


@pytest.mark.parametrize(("folds", "test_frac", "valid_frac"), [(5, 0.2, 0.1), (10, 0.1, 0.1), (4, 0.25, 0.0)])
def test_too_many_folds_is_a_config_error(events: pl.DataFrame, folds: int, test_frac: float,
                                         valid_frac: float) -> None:
    cfg = SplitConfig(method="rolling", folds=folds, test_frac=test_frac, valid_frac=valid_frac)
    with pytest.raises(ConfigError, match="split.folds"):
        split_events(events, cfg)


# ------------------------------------------------------------- user holdout


def _holdout(events: pl.DataFrame, seed: int = 0, test_frac: float = 0.2) -> Split:
    return split_events(events, SplitConfig(method="user_holdout", valid_frac=0.1, test_frac=test_frac, seed=seed))


@pytest.fixture(scope="module")
def holdout(events: pl.DataFrame) -> Split:
    return _holdout(events)


def _users(frame: pl.DataFrame | None) -> set:
    return set() if frame is None else set(frame["user_id"].unique().to_list())


def test_held_out_users_never_appear_in_train(holdout: Split) -> None:
    assert holdout.foldin is not None and holdout.foldin.height > 0
    held = _users(holdout.test) | _users(holdout.foldin)
    assert held and not held & _users(holdout.train)
    assert not held & _users(holdout.valid)
    assert not holdout.test["cold_user"].is_empty() and holdout.test["cold_user"].all()


def test_user_holdout_partitions_all_events(holdout: Split, events: pl.DataFrame) -> None:
    union = pl.concat([w.drop(COLD) for w in holdout.windows().values()])
    assert _multiset_equal(union, events)


def test_foldin_plus_test_is_each_held_out_users_whole_history(holdout: Split, events: pl.DataFrame) -> None:
    held = sorted(_users(holdout.test) | _users(holdout.foldin))
    theirs = events.filter(pl.col("user_id").is_in(held))
    both = pl.concat([holdout.foldin.drop(COLD), holdout.test.drop(COLD)])
    assert _multiset_equal(both, theirs)
    # the fold-in window is about (1 - test_frac) of each user's events, and never empty
    counts = (
        theirs.group_by("user_id").len("n")
        .join(holdout.foldin.group_by("user_id").len("f"), on="user_id", how="left")
        .with_columns(pl.col("f").fill_null(0))
    )
    assert (counts["f"] >= 1).all()
    assert ((counts["f"] - 0.8 * counts["n"]).abs() <= 1.0).all()


def test_foldin_events_precede_the_users_test_events(holdout: Split) -> None:
    last_in = holdout.foldin.group_by("user_id").agg(pl.col("timestamp").max().alias("last_foldin"))
    first_test = holdout.test.group_by("user_id").agg(pl.col("timestamp").min().alias("first_test"))
    both = last_in.join(first_test, on="user_id", how="inner")
    assert both.height == first_test.height  # every test user has fold-in history
    assert (both["last_foldin"] <= both["first_test"]).all()
    assert (both["last_foldin"] < both["first_test"]).mean() > 0.95


def test_valid_users_keep_early_history_in_train(holdout: Split) -> None:
    valid_users = _users(holdout.valid)
    assert valid_users and valid_users <= _users(holdout.train)
    early = holdout.train.filter(pl.col("user_id").is_in(sorted(valid_users))).group_by("user_id").agg(
        pl.col("timestamp").max().alias("last_train"))
    late = holdout.valid.group_by("user_id").agg(pl.col("timestamp").min().alias("first_valid"))
    both = early.join(late, on="user_id")
    assert (both["last_train"] <= both["first_valid"]).all()


@pytest.mark.parametrize("test_frac", [0.2, 0.3])
def test_about_test_frac_of_users_are_held_out(events: pl.DataFrame, test_frac: float) -> None:
    split = _holdout(events, test_frac=test_frac)
    n_users = events["user_id"].n_unique()
    held = _users(split.test) | _users(split.foldin)
    assert split.info["test_users"] == len(held)
    assert abs(len(held) / n_users - test_frac) < 0.06
    assert abs(split.info["valid_users"] / n_users - 0.1) < 0.05


def test_user_holdout_is_seeded(events: pl.DataFrame, holdout: Split) -> None:
    again = _holdout(events, seed=0)
    for name, frame in holdout.windows().items():
        assert frame.equals(again.windows()[name]), name
    other = _holdout(events, seed=1)
    assert _users(other.foldin) != _users(holdout.foldin)


# ---------------------------------------------------------------- new items


def test_new_item_targets_are_absent_from_train(events: pl.DataFrame) -> None:
    cfg = SplitConfig(method="temporal", valid_frac=0.1, test_frac=0.1, targets="new_items")
    split = split_events(events, cfg)
    train_items = _items(split.train)
    assert split.test.height > 0
    for frame in (split.valid, split.test):
        assert not set(frame["item_id"].to_list()) & train_items
        assert frame["cold_item"].all()
    # nothing else was dropped: exactly the plain split's valid/test events of items unseen in train
    plain = split_events(events, SplitConfig(method="temporal", valid_frac=0.1, test_frac=0.1))
    assert plain.train.equals(split.train)
    for name in ("valid", "test"):
        expected = getattr(plain, name).filter(~pl.col("item_id").is_in(sorted(train_items)))
        assert _multiset_equal(getattr(split, name), expected), name
    assert split.info["targets"] == "new_items"


def test_new_item_targets_apply_to_every_rolling_fold(events: pl.DataFrame) -> None:
    cfg = SplitConfig(method="rolling", folds=2, valid_frac=0.1, test_frac=0.1, targets="new_items")
    split = split_events(events, cfg)
    assert len(split.folds) == 1
    for fold in [*split.folds, split]:
        train_items = _items(fold.train)
        for frame in (fold.valid, fold.test):
            assert not set(frame["item_id"].to_list()) & train_items


def _items(frame: pl.DataFrame) -> set:
    return set(frame["item_id"].unique().to_list())
