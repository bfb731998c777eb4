"""The recsys CLI through Typer's runner: help, config, errors, and a whole tiny run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from recsys_cli.bundle import read_bundle
from recsys_cli.cli import app

runner = CliRunner()
STAGES = ["ingest", "split", "features", "train", "tune", "eval", "export", "batch-recommend"]


def test_help_lists_every_stage_run_and_config() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in [*STAGES, "run", "config"]:
        assert f" {name} " in result.output


@pytest.mark.parametrize("command", [*STAGES, "run", "config"])
def test_every_command_has_help(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output and "--params" in result.output


@pytest.mark.parametrize("command", [*STAGES, "run", "config"])
def test_help_lists_the_config_choices_from_conf(command: str) -> None:
    conf = Path(__file__).resolve().parents[1] / "conf"
    result = runner.invoke(app, [command, "--help"], terminal_width=400)
    text = " ".join(result.output.split())
    for group in ("model", "experiment", "split", "data"):
        options = sorted(p.stem for p in (conf / group).glob("*.yaml"))
        assert f"{group}: {', '.join(options)}" in text, (group, text[-800:])


def test_config_prints_composed_yaml() -> None:
    result = runner.invoke(app, ["config", "model.factors=99"])
    assert result.exit_code == 0
    assert "factors: 99" in result.output


def test_unknown_key_exits_2_with_one_line() -> None:
    result = runner.invoke(app, ["train", "model.factorz=128"])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "model.factorz: unknown key" in lines[0] and "factors" in lines[0]


def test_bad_value_exits_2() -> None:
    result = runner.invoke(app, ["config", "data.scale=huge"])
    assert result.exit_code == 2
    assert "data.scale: 'huge' is not allowed; choose one of: tiny, small, medium, full" in " ".join(result.output.split())


def test_stage_without_inputs_says_what_to_run(tmp_path: Path) -> None:
    result = runner.invoke(app, ["eval", f"paths.root={tmp_path}"])
    assert result.exit_code == 1
    assert "run `recsys split` first" in " ".join(result.output.split())


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny")
    result = runner.invoke(app, ["run", "data.scale=tiny", f"paths.root={root}", "tune.trials=2"])
    assert result.exit_code == 0, result.output
    return root


def test_run_writes_every_stage_output(tiny_run: Path) -> None:
    data = tiny_run / "data"
    for path in [
        "interim/events.parquet", "interim/items.parquet", "processed/train.parquet",
        "processed/split_report.json", "features/tfidf.npz", "features/item_popularity.parquet",
        "tune/best_params.json", "models/als/model/manifest.json", "recs/recommendations/part-00000.parquet",
        "bundle/manifest.json",
    ]:
        assert (data / path).is_file(), path
    leftovers = [p for p in tiny_run.rglob(".*tmp-*")]
    assert not leftovers


def test_metrics_json_has_flat_keys(tiny_run: Path) -> None:
    metrics = json.loads((tiny_run / "reports" / "metrics.json").read_text())
    assert metrics["model"] == "als"
    for k in (5, 10, 20):
        for name in ("ndcg", "recall", "recall_capped", "precision", "map", "mrr", "hit_rate", "coverage"):
            value = metrics[f"{name}@{k}"]
            assert 0.0 <= value <= 1.0
    assert metrics["users"] > 0
    assert metrics["recall@20"] >= metrics["recall@5"]


def test_batch_recommendations_cover_every_user_without_seen_items(tiny_run: Path) -> None:
    recs = pl.read_parquet(tiny_run / "data" / "recs" / "recommendations" / "*.parquet")
    events = pl.read_parquet(tiny_run / "data" / "interim" / "events.parquet")
    users = pl.read_parquet(tiny_run / "data" / "interim" / "users.parquet")
    assert set(recs["user_id"].unique()) == set(users["user_id"]) | set(events["user_id"])
    assert recs.group_by("user_id").len()["len"].max() == 10
    overlap = recs.join(events.select("user_id", "item_id").unique(), on=["user_id", "item_id"], how="inner")
    assert overlap.height == 0


def test_bundle_holds_a_production_fit_on_every_window(tiny_run: Path) -> None:
    bundle = read_bundle(tiny_run / "data" / "bundle")
    assert bundle.manifest["fit"]["windows"] == ["train", "valid", "test"] and bundle.manifest["fit"]["production"]
    assert len(bundle.items) == bundle.catalog.height


def test_params_file_drives_a_stage(tiny_run: Path, tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    result = runner.invoke(app, ["config", "--out", str(params), "data.scale=tiny", f"paths.root={tiny_run}", "model=popularity"])
    assert result.exit_code == 0
    result = runner.invoke(app, ["train", "--params", str(params)])
    assert result.exit_code == 0, result.output
    assert (tiny_run / "data" / "models" / "popularity" / "model" / "manifest.json").is_file()


def test_tune_a_model_whose_default_is_outside_its_space(tiny_run: Path) -> None:
    result = runner.invoke(app, ["tune", "data.scale=tiny", f"paths.root={tiny_run}", "model=tfidf", "tune.trials=2"])
    assert result.exit_code == 0, result.output
    best = json.loads((tiny_run / "data" / "tune" / "best_params.json").read_text())
    assert best["model"] == "tfidf" and "half_life_days" in best["params"]


def test_default_hybrid_trains_and_evaluates(tiny_run: Path) -> None:
    args = ["data.scale=tiny", f"paths.root={tiny_run}", "model=hybrid", "model.meta_trials=3", "tune.apply_best=false"]
    for command in ("train", "eval"):
        result = runner.invoke(app, [command, *args])
        assert result.exit_code == 0, result.output
    metrics = json.loads((tiny_run / "reports" / "metrics.json").read_text())
    assert metrics["model"] == "hybrid" and metrics["users"] > 0


def _write_ml100k(folder: Path, seed: int = 0) -> None:
    """A small ml-100k-format folder with real user and item effects in the ratings."""
    rng = np.random.default_rng(seed)
    n_users, n_items = 60, 40
    folder.mkdir()
    rows = []
    for u in range(1, n_users + 1):
        bias_u = rng.normal(0, 0.6)
        for i in rng.choice(np.arange(1, n_items + 1), size=18, replace=False):
            r = int(np.clip(np.rint(3.2 + bias_u + (i % 5 - 2) * 0.4 + rng.normal(0, 0.6)), 1, 5))
            rows.append(f"{u}\t{i}\t{r}\t{880000000 + int(rng.integers(0, 10**7))}")
    (folder / "u.data").write_text("\n".join(rows) + "\n")
    (folder / "u.item").write_text(
        "".join(f"{i}|Movie {i} (1995)|01-Jan-1995||http://x|" + "|".join("1" if g == i % 19 else "0" for g in range(19)) + "\n"
                for i in range(1, n_items + 1)), encoding="latin-1")
    (folder / "u.user").write_text("".join(f"{u}|30|M|other|12345\n" for u in range(1, n_users + 1)))


def test_rating_task_cross_validates(tmp_path: Path) -> None:
    data = tmp_path / "ml"
    _write_ml100k(data)
    args = ["experiment=ml100k_rating", f"data.path={data}", f"paths.root={tmp_path}", "eval.folds=3"]
    for command in ("ingest", "split", "eval"):  # CV fits its own model per fold: no train stage needed
        result = runner.invoke(app, [command, *args])
        assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "reports" / "metrics.json").read_text())
    assert metrics["folds"] == 3 and metrics["n"] == 60 * 18
    ratings = np.array([float(line.split("\t")[2]) for line in (data / "u.data").read_text().split("\n") if line])
    global_mean_rmse = float(np.sqrt(((ratings - ratings.mean()) ** 2).mean()))
    assert metrics["rmse"] < global_mean_rmse


def test_rating_task_scores_the_test_window(tmp_path: Path) -> None:
    data = tmp_path / "ml"
    _write_ml100k(data)
    args = ["experiment=ml100k_rating", f"data.path={data}", f"paths.root={tmp_path}", "eval.folds=0",
            "tune.trials=0", "model=svd", "tracking=none"]
    for command in ("ingest", "split", "features", "tune", "train", "eval"):
        result = runner.invoke(app, [command, *args])
        assert result.exit_code == 0, (command, result.output)
    metrics = json.loads((tmp_path / "reports" / "metrics.json").read_text())
    train = pl.read_parquet(tmp_path / "data" / "processed" / "train.parquet")
    test = pl.read_parquet(tmp_path / "data" / "processed" / "test.parquet")
    assert metrics["task"] == "rating" and metrics["n"] == test.height > 0
    baseline = float(np.sqrt(((test["rating"].to_numpy() - train["rating"].mean()) ** 2).mean()))
    assert metrics["rmse"] < baseline  # SVD beats predicting the train mean
