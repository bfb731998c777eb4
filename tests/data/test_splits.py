"""Train / valid / test splits: windows, partition, explicit dates, cold flags, leave-last."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
import pytest

from recsys_cli.config import PreprocessConfig, SplitConfig
from recsys_cli.data.preprocess import preprocess
from recsys_cli.data.sources.synthetic import generate
from recsys_cli.data.splits import Split, report, split_events
from recsys_cli.errors import ConfigError, DataError

COLD = ["cold_user", "cold_item"]


@pytest.fixture(scope="module")
def events() -> pl.DataFrame:
    raw = generate("tiny", 3, show_progress=False)
    out, _ = preprocess(raw.events, PreprocessConfig())
    return out


def _windows(split: Split) -> list[pl.DataFrame]:
    return [split.train, split.valid, split.test]


def _union(split: Split) -> pl.DataFrame:
    return pl.concat([w.drop(COLD) for w in _windows(split)])


def _assert_partition(split: Split, events: pl.DataFrame) -> None:
    """The three windows together are the input, row for row (as a multiset)."""
    assert sum(w.height for w in _windows(split)) == events.height
    union = _union(split)
    assert union.columns == events.columns
    cols = events.columns
    assert union.sort(cols, nulls_last=True).equals(events.sort(cols, nulls_last=True))
    assert union.join(events, on=cols, how="anti", nulls_equal=True).height == 0
    assert events.join(union, on=cols, how="anti", nulls_equal=True).height == 0


def _at(day: int, hour: int = 0) -> datetime:
    return datetime(2024, 1, 1) + timedelta(days=day, hours=hour)


def _frame(rows: list[tuple[str, str, datetime]]) -> pl.DataFrame:
    users, items, times = zip(*rows, strict=True)
    return pl.DataFrame(
        {
            "user_id": list(users),
            "item_id": list(items),
            "timestamp": pl.Series(list(times), dtype=pl.Datetime("ms")),
            "event": ["view"] * len(rows),
            "weight": [1.0] * len(rows),
        }
    )


# -------------------------------------------------------------------- temporal


def test_temporal_windows_follow_the_clock(events: pl.DataFrame) -> None:
    split = split_events(events, SplitConfig())
    t1 = datetime.fromisoformat(split.info["t1"])
    t2 = datetime.fromisoformat(split.info["t2"])
    assert split.info["method"] == "temporal"
    assert t1 < t2
    assert split.train.height and split.valid.height and split.test.height
    assert split.train["timestamp"].max() < t1
    assert split.valid["timestamp"].min() >= t1 and split.valid["timestamp"].max() < t2
    assert split.test["timestamp"].min() >= t2
    # the cutoffs come from the configured fractions of events
    n = events.height
    assert abs(split.test.height / n - 0.1) < 0.02
    assert abs(split.valid.height / n - 0.1) < 0.02


def test_temporal_windows_partition_the_input(events: pl.DataFrame) -> None:
    _assert_partition(split_events(events, SplitConfig(valid_frac=0.15, test_frac=0.2)), events)


def test_explicit_dates_are_honoured(events: pl.DataFrame) -> None:
    cfg = SplitConfig(valid_start="2025-06-01", test_start="2025-09-15")
    split = split_events(events, cfg)
    t1, t2 = datetime(2025, 6, 1), datetime(2025, 9, 15)
    assert datetime.fromisoformat(split.info["t1"]) == t1
    assert datetime.fromisoformat(split.info["t2"]) == t2
    ts = events["timestamp"]
    assert split.train.height == (ts < t1).sum()
    assert split.valid.height == ((ts >= t1) & (ts < t2)).sum()
    assert split.test.height == (ts >= t2).sum()
    assert split.train["timestamp"].max() < t1 <= split.valid["timestamp"].min()
    assert split.valid["timestamp"].max() < t2 <= split.test["timestamp"].min()
    _assert_partition(split, events)


def test_events_exactly_at_a_cutoff_belong_to_the_later_window() -> None:
    frame = _frame(
        [
            ("a", "x", _at(0)),
            ("a", "y", _at(10)),  # exactly t1
            ("b", "x", _at(15)),
            ("b", "y", _at(20)),  # exactly t2
            ("c", "z", _at(25)),
        ]
    )
    cfg = SplitConfig(valid_start=str(_at(10).date()), test_start=str(_at(20).date()))
    split = split_events(frame, cfg)
    assert split.train["timestamp"].to_list() == [_at(0)]
    assert split.valid["timestamp"].to_list() == [_at(10), _at(15)]
    assert split.test["timestamp"].to_list() == [_at(20), _at(25)]


def test_no_valid_window_when_valid_frac_is_zero(events: pl.DataFrame) -> None:
    split = split_events(events, SplitConfig(valid_frac=0.0, test_frac=0.2))
    assert split.valid.height == 0
    assert split.info["t1"] == split.info["t2"]
    _assert_partition(split, events)


def test_valid_start_after_test_start_is_a_config_error(events: pl.DataFrame) -> None:
    with pytest.raises(ConfigError, match="valid_start"):
        split_events(events, SplitConfig(valid_start="2025-10-01", test_start="2025-06-01"))


def test_early_test_start_alone_says_to_set_valid_start(events: pl.DataFrame) -> None:
    with pytest.raises(ConfigError, match=r"split.test_start: .* set split.valid_start too"):
        split_events(events, SplitConfig(test_start="2024-06-01"))


def test_a_bad_date_is_a_config_error(events: pl.DataFrame) -> None:
    with pytest.raises(ConfigError, match="split.test_start"):
        split_events(events, SplitConfig(test_start="next tuesday"))


def test_a_cutoff_after_all_events_names_the_key(events: pl.DataFrame) -> None:  # a config value: exit 2
    later = (events["timestamp"].max() + timedelta(days=30)).date().isoformat()
    with pytest.raises(ConfigError, match=r"split.test_start: .* is after the last event .*test window would be empty"):
        split_events(events, SplitConfig(test_start=later, valid_frac=0.0))


def test_a_cutoff_before_all_events_names_the_key(events: pl.DataFrame) -> None:
    earlier = (events["timestamp"].min() - timedelta(days=30)).date().isoformat()
    with pytest.raises(ConfigError, match=r"split.valid_start: .* before the first event .*train window would be empty"):
        split_events(events, SplitConfig(valid_start=earlier, test_start="2025-09-01"))


# ------------------------------------------------------------------ cold flags


def _assert_cold_flags(split: Split) -> None:
    train_users = set(split.train["user_id"].to_list())
    train_items = set(split.train["item_id"].to_list())
    for frame in _windows(split):
        expect_user = [u not in train_users for u in frame["user_id"].to_list()]
        expect_item = [i not in train_items for i in frame["item_id"].to_list()]
        assert frame["cold_user"].to_list() == expect_user
        assert frame["cold_item"].to_list() == expect_item


def test_cold_flags_mark_what_train_never_saw(events: pl.DataFrame) -> None:
    split = split_events(events, SplitConfig())
    _assert_cold_flags(split)
    assert not split.train["cold_user"].any() and not split.train["cold_item"].any()
    # a two-year shop with signups and launches throughout has cold rows in test
    assert split.test["cold_user"].any() and split.test["cold_item"].any()


def test_cold_flags_on_a_hand_made_log() -> None:
    frame = _frame(
        [
            ("a", "x", _at(0)),
            ("b", "y", _at(1)),
            ("a", "y", _at(20)),  # warm user, warm item
            ("c", "x", _at(21)),  # cold user, warm item
            ("a", "z", _at(22)),  # warm user, cold item
            ("d", "w", _at(23)),  # both cold
        ]
    )
    split = split_events(frame, SplitConfig(valid_start="2024-01-10", test_start="2024-01-20"))
    test = split.test.sort("timestamp")
    assert test["cold_user"].to_list() == [False, True, False, True]
    assert test["cold_item"].to_list() == [False, False, True, True]


# ------------------------------------------------------------------ leave_last


def test_leave_last_holds_out_each_users_latest_events(events: pl.DataFrame) -> None:
    cfg = SplitConfig(method="leave_last", n_valid=2, n_test=3, min_train=4)
    split = split_events(events, cfg)
    _assert_partition(split, events)
    _assert_cold_flags(split)
    held = cfg.n_valid + cfg.n_test
    per_user = events.group_by("user_id").len()
    eligible = set(per_user.filter(pl.col("len") >= cfg.min_train + held)["user_id"].to_list())
    small = set(per_user["user_id"].to_list()) - eligible
    assert eligible and small  # the tiny log has both kinds of users

    def times(frame: pl.DataFrame) -> dict[str, list[datetime]]:
        grouped = frame.group_by("user_id").agg(pl.col("timestamp").sort())
        return dict(zip(grouped["user_id"].to_list(), grouped["timestamp"].to_list(), strict=True))

    all_t, train_t, valid_t, test_t = (times(f) for f in (events, split.train, split.valid, split.test))
    assert set(test_t) == eligible and set(valid_t) == eligible
    for user in eligible:
        ordered = all_t[user]  # every timestamp of the user, ascending
        # by time: test is the last n_test, valid the n_valid before (compared as timestamps,
        # which is robust to ties between events at the same instant)
        assert test_t[user] == ordered[-cfg.n_test :]
        assert valid_t[user] == ordered[-held : -cfg.n_test]
        assert train_t[user] == ordered[:-held]
    for user in small:
        assert train_t[user] == all_t[user]


def test_leave_last_on_a_hand_made_log() -> None:
    rows = [("a", f"i{k}", _at(k)) for k in (5, 1, 4, 2, 3)]  # shuffled times
    rows += [("b", "i1", _at(7)), ("b", "i2", _at(8))]  # too few events to hold out
    split = split_events(_frame(rows), SplitConfig(method="leave_last", n_valid=1, n_test=1, min_train=2))
    assert split.test.select("user_id", "item_id").rows() == [("a", "i5")]
    assert split.valid.select("user_id", "item_id").rows() == [("a", "i4")]
    assert sorted(split.train.select("user_id", "item_id").rows()) == [
        ("a", "i1"), ("a", "i2"), ("a", "i3"), ("b", "i1"), ("b", "i2"),
    ]
    # user b has only 2 events: below min_train + n_valid + n_test = 4
    assert not split.test["cold_user"].any()


# ---------------------------------------------------------------------- report


def test_report_counts_agree_with_the_windows(events: pl.DataFrame) -> None:
    split = split_events(events, SplitConfig())
    info = report(split)
    assert info["method"] == "temporal"
    for name, frame in split.windows().items():
        entry = info[name]
        assert entry["events"] == frame.height
        assert entry["users"] == len(set(frame["user_id"].to_list()))
        assert entry["items"] == len(set(frame["item_id"].to_list()))
        assert entry["first"] == str(frame["timestamp"].min())
        assert entry["last"] == str(frame["timestamp"].max())
        if name == "train":
            assert "cold_users" not in entry
            continue
        cold_users = {u for u, c in zip(frame["user_id"], frame["cold_user"], strict=True) if c}
        cold_items = {i for i, c in zip(frame["item_id"], frame["cold_item"], strict=True) if c}
        assert entry["cold_users"] == len(cold_users)
        assert entry["cold_items"] == len(cold_items)
        assert entry["cold_user_share"] == pytest.approx(len(cold_users) / entry["users"], abs=1e-4)
        assert entry["cold_item_share"] == pytest.approx(len(cold_items) / entry["items"], abs=1e-4)
        assert entry["cold_user_event_share"] == pytest.approx(
            sum(frame["cold_user"].to_list()) / frame.height, abs=1e-4
        )


def test_report_of_an_empty_window_has_no_dates() -> None:
    frame = _frame([("a", "x", _at(0)), ("a", "y", _at(20))])
    split = split_events(frame, SplitConfig(valid_start="2024-01-21", test_start="2024-01-21"))
    info = report(split)
    assert info["valid"]["events"] == 0 and "first" not in info["valid"]
    assert info["train"]["events"] == 1 and info["test"]["events"] == 1
