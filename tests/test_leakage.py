"""Leakage guard: features and models learn from the train window only, or the stage fails clearly."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from recsys_cli import config
from recsys_cli.cli import app
from recsys_cli.data.leakage import Cutoff, check_fingerprint, check_frame, fingerprint
from recsys_cli.errors import DataError, StageInputError
from recsys_cli.stages.features import build

runner = CliRunner()
TINY = ["experiment=tiny"]


def _invoke(command: str, root: Path, *extra: str) -> tuple[int, str]:
    result = runner.invoke(app, [command, *TINY, f"paths.root={root}", *extra])
    return result.exit_code, result.output


def _pipeline(root: Path, *extra: str, stages: tuple[str, ...] = ("ingest", "split", "features")) -> Path:
    for stage in stages:
        code, output = _invoke(stage, root, *extra)
        assert code == 0, output
    return root


def _cfg(root: Path, *extra: str) -> config.Config:
    return config.load([*TINY, f"paths.root={root}", *extra])


def _windows(root: Path) -> dict[str, pl.DataFrame]:
    processed = root / "data" / "processed"
    return {name: pl.read_parquet(processed / f"{name}.parquet") for name in ("train", "valid", "test")}


def _split_report(root: Path) -> dict:
    return json.loads((root / "data" / "processed" / "split_report.json").read_text())


def _error_line(output: str) -> str:
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    return errors[0]


def _minute(ts: datetime | str) -> str:
    return (ts if isinstance(ts, str) else ts.strftime("%Y-%m-%d %H:%M:%S"))[:16]


@pytest.fixture(scope="module")
def temporal_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _pipeline(tmp_path_factory.mktemp("temporal"))


@pytest.fixture(scope="module")
def random_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _pipeline(tmp_path_factory.mktemp("random"), "split=random_ratio", stages=("ingest", "split"))


@pytest.fixture
def temporal_copy(temporal_root: Path, tmp_path: Path) -> Path:
    shutil.copytree(temporal_root, tmp_path / "copy")
    return tmp_path / "copy"


# ------------------------------------------------------------ the clean pipeline


def test_clean_pipeline_records_the_train_window_and_trains(temporal_copy: Path) -> None:
    report = json.loads((temporal_copy / "data" / "features" / "features_report.json").read_text())
    recorded = report["train_window"]
    train = _windows(temporal_copy)["train"]
    split = _split_report(temporal_copy)
    assert recorded["events"] == train.height == split["train"]["events"]
    assert recorded["split"] == "temporal" and recorded["cutoff"][:16] == _minute(split["t1"])
    assert recorded["last_ms"] == train["timestamp"].dt.epoch("ms").max()
    cutoff = Cutoff.from_split(temporal_copy / "data" / "processed")
    assert recorded["hash"] == fingerprint(train, cutoff)["hash"]
    assert recorded["hash"] != fingerprint(train.head(train.height - 1), cutoff)["hash"]
    check_fingerprint(recorded, cutoff, "train")  # no error
    for extra in ([], ["train.refit_with_valid=true"]):
        code, output = _invoke("train", temporal_copy, "model=popularity", *extra)
        assert code == 0, output


def test_part_of_the_train_window_passes(temporal_root: Path) -> None:
    cutoff = Cutoff.from_split(temporal_root / "data" / "processed")
    train = _windows(temporal_root)["train"]
    check_frame(train, cutoff, "features", "item popularity")
    check_frame(train.sample(fraction=0.5, seed=1), cutoff, "features", "item popularity")
    check_frame(train.head(0), cutoff, "features", "item popularity")


# ------------------------------------------------------------ planted leaks


def test_features_computed_over_all_events_are_caught(temporal_root: Path) -> None:
    windows = _windows(temporal_root)
    everything = pl.concat(list(windows.values()), how="vertical_relaxed")  # the interim events, indexed
    cutoff = Cutoff.from_split(temporal_root / "data" / "processed")
    with pytest.raises(DataError) as err:
        build(_cfg(temporal_root), everything, cutoff)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("features: item popularity")
    last = windows["test"]["timestamp"].max()
    t1 = _split_report(temporal_root)["t1"]
    assert f"up to {_minute(last)}" in message
    assert f"after the train cutoff {_minute(t1)}" in message and "(t1)" in message
    assert f"{windows['valid'].height + windows['test'].height:,} events" in message


def test_first_event_at_the_cutoff_is_caught(temporal_root: Path) -> None:
    windows = _windows(temporal_root)
    first_valid = windows["valid"].sort("timestamp").head(1)
    cutoff = Cutoff.from_split(temporal_root / "data" / "processed")
    assert first_valid["timestamp"][0] >= cutoff.t1
    with pytest.raises(DataError, match=r"user features reads 1 event up to .*, (at|after) the train cutoff"):
        check_frame(pl.concat([windows["train"], first_valid]), cutoff, "features", "user features")


def test_refit_window_ends_at_t2(temporal_root: Path) -> None:
    windows = _windows(temporal_root)
    cutoff = Cutoff.from_split(temporal_root / "data" / "processed")
    refit = cutoff.fit_on("train", "valid")
    train_valid = pl.concat([windows["train"], windows["valid"]])
    check_frame(train_valid, refit, "train", "the refit window")  # fine with t2
    with pytest.raises(DataError, match=r"after the train\+valid cutoff .* \(t2\)"):
        check_frame(pl.concat([train_valid, windows["test"].head(3)]), refit, "train", "the refit window")
    with pytest.raises(DataError, match=r"\(t1\)"):
        check_frame(train_valid, cutoff, "train", "the fit window")  # valid is past t1


def test_duplicated_train_events_are_caught(temporal_root: Path) -> None:
    train = _windows(temporal_root)["train"]
    cutoff = Cutoff.from_split(temporal_root / "data" / "processed")
    with pytest.raises(DataError, match="reads 2 events outside the train window"):
        check_frame(pl.concat([train, train.head(2)]), cutoff, "features", "item popularity")


def test_train_refuses_features_fingerprinted_over_all_data(temporal_copy: Path) -> None:
    windows = _windows(temporal_copy)
    everything = pl.concat(list(windows.values()), how="vertical_relaxed")
    cutoff = Cutoff.from_split(temporal_copy / "data" / "processed")
    path = temporal_copy / "data" / "features" / "features_report.json"
    report = json.loads(path.read_text())
    report["train_window"] = fingerprint(everything, cutoff)  # what features over all data would record
    path.write_text(json.dumps(report))
    code, output = _invoke("train", temporal_copy, "model=popularity")
    assert code == 1
    line = _error_line(output)
    t1 = _split_report(temporal_copy)["t1"]
    assert line.startswith("error: train: the features in ")
    assert f"up to {_minute(windows['test']['timestamp'].max())}" in line
    assert f"after the train cutoff {_minute(t1)}" in line and "rerun `recsys features`" in line
    assert not (temporal_copy / "data" / "models" / "popularity").exists()


def test_train_refuses_stale_features_from_another_split(temporal_copy: Path) -> None:
    code, output = _invoke("split", temporal_copy, "split.valid_frac=0.05")  # a later t1: a bigger train window
    assert code == 0, output
    code, output = _invoke("train", temporal_copy, "model=popularity")
    assert code == 1
    line = _error_line(output)
    train = _windows(temporal_copy)["train"]
    assert "not from the current train window" in line and f"({train.height:,} events" in line
    assert "rerun `recsys features`" in line
    # rerunning features makes them current again
    assert _invoke("features", temporal_copy)[0] == 0
    code, output = _invoke("train", temporal_copy, "model=popularity")
    assert code == 0, output


def test_features_without_a_fingerprint_are_refused(temporal_copy: Path) -> None:
    path = temporal_copy / "data" / "features" / "features_report.json"
    report = json.loads(path.read_text())
    del report["train_window"]
    path.write_text(json.dumps(report))
    code, output = _invoke("tune", temporal_copy, "model=als", "tune.trials=1")
    assert code == 1
    assert "no train-window fingerprint" in _error_line(output)
    with pytest.raises(StageInputError):
        check_fingerprint(None, Cutoff.from_split(temporal_copy / "data" / "processed"), "train")


# ------------------------------------------------------------ per-user splits


def test_random_ratio_clean_features_pass(random_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "copy"
    shutil.copytree(random_root, root)
    code, output = _invoke("features", root, "split=random_ratio")
    assert code == 0, output
    recorded = json.loads((root / "data" / "features" / "features_report.json").read_text())["train_window"]
    assert recorded["split"] == "random_ratio" and recorded["cutoff"] is None
    code, output = _invoke("train", root, "split=random_ratio", "model=popularity")
    assert code == 0, output


def _test_row_not_in_train(windows: dict[str, pl.DataFrame]) -> pl.DataFrame:
    keys = ["user_idx", "item_idx", "timestamp"]
    candidates = windows["test"].join(windows["train"].select(keys), on=keys, how="anti")
    assert candidates.height > 0
    # a late test event: its timestamp is inside the train window's time range (per-user splits have no clock)
    row = candidates.sort("timestamp").slice(candidates.height // 2, 1)
    assert windows["train"]["timestamp"].min() < row["timestamp"][0] < windows["train"]["timestamp"].max()
    return row


def test_random_ratio_test_row_in_the_features_input_is_caught(random_root: Path) -> None:
    windows = _windows(random_root)
    row = _test_row_not_in_train(windows)
    cutoff = Cutoff.from_split(random_root / "data" / "processed")
    assert cutoff.bound is None  # no global cutoff: membership is the rule
    leaked = pl.concat([windows["train"], row], how="vertical_relaxed")
    with pytest.raises(DataError) as err:
        build(_cfg(random_root, "split=random_ratio"), leaked, cutoff)
    message = str(err.value)
    assert message.startswith("features: ")
    assert "reads 1 event outside the train window" in message
    assert f"user {row['user_id'][0]}, item {row['item_id'][0]} at {_minute(row['timestamp'][0])}" in message
    assert "a test event" in message and "random_ratio" in message


def test_random_ratio_test_row_written_into_train_fails_the_cli(random_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "copy"
    shutil.copytree(random_root, root)
    windows = _windows(root)
    leaked = pl.concat([windows["train"], _test_row_not_in_train(windows)], how="vertical_relaxed")
    leaked.write_parquet(root / "data" / "processed" / "train.parquet")
    code, output = _invoke("features", root, "split=random_ratio")
    assert code == 1
    line = _error_line(output)
    assert line.startswith("error: features: ") and "train.parquet" in line
    assert f"holds {leaked.height:,} events but `recsys split` wrote {windows['train'].height:,}" in line
    assert not (root / "data" / "features").exists()


# ------------------------------------------------------------ hand-made split


def _hand_split(root: Path) -> Path:
    """Three users, a temporal split at 2024-01-10 / 2024-01-20, written like the split stage does."""
    t = datetime(2024, 1, 1)

    def frame(rows: list[tuple[int, int, datetime]]) -> pl.DataFrame:
        return pl.DataFrame(
            {"user_idx": pl.Series([r[0] for r in rows], dtype=pl.Int32),
             "item_idx": pl.Series([r[1] for r in rows], dtype=pl.Int32),
             "timestamp": pl.Series([r[2] for r in rows], dtype=pl.Datetime("ms"))}
        )

    windows = {
        "train": frame([(0, 0, t), (1, 1, t + timedelta(days=2)), (2, 0, t + timedelta(days=8, hours=23))]),
        "valid": frame([(0, 1, t + timedelta(days=9)), (1, 2, t + timedelta(days=15))]),
        "test": frame([(2, 2, t + timedelta(days=19, minutes=30)), (0, 2, t + timedelta(days=25))]),
    }
    processed = root / "processed"
    processed.mkdir(parents=True)
    info = {"method": "temporal", "t1": "2024-01-10 00:00:00", "t2": "2024-01-20 00:00:00"}
    for name, f in windows.items():
        f.write_parquet(processed / f"{name}.parquet")
        info[name] = {"events": f.height}
    (processed / "split_report.json").write_text(json.dumps(info))
    return processed


def test_hand_made_split_messages(tmp_path: Path) -> None:
    processed = _hand_split(tmp_path)
    cutoff = Cutoff.from_split(processed)
    assert cutoff.describe() == "train cutoff 2024-01-10 00:00 (t1)"
    train = pl.read_parquet(processed / "train.parquet")
    test = pl.read_parquet(processed / "test.parquet")
    with pytest.raises(DataError) as err:
        check_frame(pl.concat([train, test]), cutoff, "features", "item popularity")
    assert str(err.value) == (
        "features: item popularity reads 2 events up to 2024-01-26 00:00, after the train cutoff "
        "2024-01-10 00:00 (t1); features must learn from the train window only"
    )
    # a fingerprint of the wrong window is named with its last event and the cutoff
    with pytest.raises(DataError, match=r"up to 2024-01-26 00:00, after the train cutoff 2024-01-10 00:00 \(t1\)"):
        check_fingerprint(fingerprint(pl.concat([train, test]), cutoff), cutoff, "train")
    # a per-user view of the same windows: membership, with the held-out window named
    per_user = Cutoff("leave_last", None, None, cutoff.windows)
    with pytest.raises(DataError) as err:
        check_frame(pl.concat([train, test.head(1)]), per_user, "features", "user features")
    assert str(err.value) == (
        "features: user features reads 1 event outside the train window (e.g. user 2, item 2 at "
        "2024-01-20 00:30, a test event) of the per-user leave_last split; features must learn from the "
        "train window only"
    )
