"""Evaluation protocols end to end through the CLI: rolling origins, held-out users, new-item targets,
sampled mode, segments, intervals, beyond-accuracy metrics, plots and `recsys eval compare`.

One tiny synthetic shop is ingested once; each protocol gets its own root with a copy of it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from recsys_cli.cli import app

runner = CliRunner()
BASE = ["experiment=tiny", "tune.trials=0", "eval.bootstrap=200"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def invoke(root: Path, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, [*args, *BASE, f"paths.root={root}"])
    assert result.exit_code == code, result.output
    return result.output


def metrics(root: Path, reports: str = "reports") -> dict:
    return json.loads((root / reports / "metrics.json").read_text())


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("shop")
    invoke(root, "ingest")
    return root


def project(shop: Path, tmp_path_factory: pytest.TempPathFactory, name: str, *split: str,
            features: bool = True) -> Path:
    """A new root holding a copy of the ingested shop, split (and featurised) with ``split`` overrides."""
    root = tmp_path_factory.mktemp(name)
    shutil.copytree(shop / "data" / "interim", root / "data" / "interim")
    invoke(root, "split", *split)
    if features:
        invoke(root, "features", *split)
    return root


# ---------------------------------------------------------------- temporal: reports, sampled, compare


@pytest.fixture(scope="module")
def temporal(shop: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = project(shop, tmp_path_factory, "temporal")
    out: dict = {"root": root}
    for model in ("popularity", "als"):
        invoke(root, "train", f"model={model}")
    for model in ("popularity", "als"):  # als last: its reports stay on disk
        invoke(root, "eval", f"model={model}")
        out[model] = metrics(root)
    out["sampled_output"] = invoke(root, "eval", "model=als", "eval.sampled=20", "paths.reports=reports_sampled")
    out["sampled"] = metrics(root, "reports_sampled")
    out["compare_output"] = invoke(root, "eval", "compare", "popularity", "als")
    return out


def test_segments_by_activity_add_up_to_the_evaluated_users(temporal: dict) -> None:
    m = temporal["als"]
    seg = json.loads((temporal["root"] / "reports" / "segments.json").read_text())
    activity = seg["activity"]
    assert set(activity) == {"cold", "warm", "hot"}
    assert activity["warm"]["users"] + activity["hot"]["users"] == m["users"] > 0
    assert activity["cold"]["users"] == m["cold.users"] > 0
    assert sum(r["users"] for r in activity.values()) == m["test_users"] - m["users_without_relevant"]
    # the users-weighted mean of the warm and hot segments is the headline
    weighted = sum(activity[level]["users"] * activity[level]["ndcg@10"] for level in ("warm", "hot"))
    assert weighted / m["users"] == pytest.approx(m["ndcg@10"], abs=1e-5)
    assert activity["cold"]["ndcg@10"] == pytest.approx(m["cold.ndcg@10"], abs=1e-6)


def test_item_and_user_attribute_segments(temporal: dict) -> None:
    m = temporal["als"]
    seg = json.loads((temporal["root"] / "reports" / "segments.json").read_text())
    items = seg["items"]
    assert set(items) == {"new", "existing"}
    assert 0 < items["existing"]["users"] <= m["users"]
    assert items["new"]["users"] <= m["users"]
    assert items["new"]["users"] + items["existing"]["users"] >= m["users"]  # every target is new or existing
    for column in ("age_band", "gender", "device"):
        levels = seg["users"][column]
        assert len(levels) >= 2, column
        assert sum(r["users"] for r in levels.values()) == m["users"], column
        for row in levels.values():
            assert 0.0 <= row["ndcg@10"] <= 1.0


def test_bootstrap_interval_brackets_the_headline(temporal: dict) -> None:
    for model in ("popularity", "als"):
        m = temporal[model]
        for k in (5, 10, 20):
            assert m[f"ndcg@{k}.ci_low"] <= m[f"ndcg@{k}"] <= m[f"ndcg@{k}.ci_high"], (model, k)
        assert m["ndcg@10.ci_low"] < m["ndcg@10.ci_high"]
        assert m["recall@10.ci_low"] <= m["recall@10"] <= m["recall@10.ci_high"]


def test_beyond_accuracy_metrics_are_present_and_in_range(temporal: dict) -> None:
    for model in ("popularity", "als"):
        m = temporal[model]
        n_users_max = 600
        assert 0.0 < m["novelty@10"] <= np.log2(n_users_max + 1)
        for name in ("serendipity", "ild_category", "gini", "coverage", "popularity"):
            assert 0.0 <= m[f"{name}@10"] <= 1.0, (model, name)
        assert m["coverage@10"] > 0.0
        assert m["serendipity@10"] <= m["precision@10"] + 1e-9  # relevant and unpopular <= relevant
        assert m["coverage@5"] <= m["coverage@10"] <= m["coverage@20"]
    pop, als = temporal["popularity"], temporal["als"]
    # popularity's lists are the popularity lists: never serendipitous, the most popular, concentrated
    assert pop["serendipity@10"] == 0.0
    assert pop["popularity@10"] > als["popularity@10"]
    assert pop["novelty@10"] < als["novelty@10"]
    assert pop["coverage@10"] < als["coverage@10"]
    assert pop["gini@10"] > als["gini@10"]


def test_per_user_parquet_has_activity(temporal: dict) -> None:
    m = temporal["als"]
    frame = pl.read_parquet(temporal["root"] / "reports" / "per_user.parquet")
    assert {"user_idx", "ndcg@10", "activity", "history"} <= set(frame.columns)
    assert frame.height == m["users"] + m["cold.users"]
    assert frame["user_idx"].n_unique() == frame.height
    counts = dict(frame.group_by("activity").len().iter_rows())
    assert set(counts) == {"cold", "warm", "hot"}
    assert counts["cold"] == m["cold.users"]
    assert (frame.filter(pl.col("activity") == "cold")["history"] == 0).all()
    assert (frame.filter(pl.col("activity") != "cold")["history"] > 0).all()
    warm = frame.filter(pl.col("activity") != "cold")
    assert warm["ndcg@10"].mean() == pytest.approx(m["ndcg@10"], abs=1e-5)


def test_plots_are_written(temporal: dict) -> None:
    import matplotlib.image as mpimg

    plots = temporal["root"] / "reports" / "plots"
    for name in ("metrics_at_k", "beyond_at_k", "segments_activity"):
        path = plots / f"{name}.png"
        assert path.is_file(), name
        assert path.read_bytes()[:8] == PNG_MAGIC, name
        image = mpimg.imread(path)
        assert image.ndim == 3 and image.shape[0] > 50 and image.shape[1] > 50
    m = temporal["als"]
    curve = json.loads((plots / "metrics_at_k.json").read_text())
    assert [row["k"] for row in curve] == [5, 10, 20]
    for row in curve:
        assert row["ndcg"] == m[f"ndcg@{row['k']}"]
    beyond = json.loads((plots / "beyond_at_k.json").read_text())
    assert [row["k"] for row in beyond] == [5, 10, 20]
    assert all(row["novelty"] == m[f"novelty@{row['k']}"] for row in beyond)
    seg = json.loads((plots / "segments.json").read_text())
    assert {row["segment"] for row in seg} == {"cold", "warm", "hot"}


def test_sampled_mode_warns_and_scores_at_least_full_ranking(temporal: dict) -> None:
    text = " ".join(temporal["sampled_output"].split())
    assert "warning" in text and "eval.sampled=20" in text and "NOT full ranking" in text
    full, sampled = temporal["als"], temporal["sampled"]
    assert "sampled (20 negatives)" in sampled["protocol"] and "full ranking" in full["protocol"]
    assert sampled["users"] == full["users"]
    for k in (5, 10, 20):
        for name in ("ndcg", "recall", "hit_rate", "mrr", "precision"):
            assert sampled[f"{name}@{k}"] >= full[f"{name}@{k}"] - 1e-9, (name, k)
    assert sampled["ndcg@10"] > full["ndcg@10"]  # 20 negatives instead of ~300 items: strictly easier


def test_compare_writes_a_paired_test_matching_each_models_metrics(temporal: dict) -> None:
    path = temporal["root"] / "reports" / "compare" / "popularity_vs_als.json"
    result = json.loads(path.read_text())
    for key in ("mean_a", "mean_b", "diff", "p_wilcoxon", "significant"):
        assert key in result, key
    assert result["a"] == "popularity" and result["b"] == "als" and result["metric"] == "ndcg@10"
    assert result["mean_a"] == pytest.approx(temporal["popularity"]["ndcg@10"], abs=1e-6)
    assert result["mean_b"] == pytest.approx(temporal["als"]["ndcg@10"], abs=1e-6)
    assert result["diff"] == pytest.approx(result["mean_b"] - result["mean_a"], abs=1e-9)
    assert 0.0 <= result["p_wilcoxon"] <= 1.0
    assert isinstance(result["significant"], bool)
    assert result["n_users"] == temporal["als"]["users"]


def test_compare_a_model_with_itself_or_one_name_exits_2(temporal: dict) -> None:
    root = temporal["root"]
    out = invoke(root, "eval", "compare", "als", "als", code=2)
    assert "als" in out
    invoke(root, "eval", "compare", "als", code=2)
    invoke(root, "eval", "compare", code=2)
    assert not (root / "reports" / "compare" / "als_vs_als.json").exists()


# ------------------------------------------------------------------------------------ rolling origin


@pytest.fixture(scope="module")
def rolling(shop: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = project(shop, tmp_path_factory, "rolling", "split=rolling")
    invoke(root, "train", "split=rolling", "model=itemknn")
    invoke(root, "eval", "split=rolling", "model=itemknn")
    return root


def test_rolling_eval_reports_mean_spread_and_every_fold(rolling: Path) -> None:
    m = metrics(rolling)
    assert m["folds"] == 3
    for key in ("ndcg@10", "recall@20", "hit_rate@5"):
        values = [m[f"fold{i}.{key}"] for i in range(3)]
        assert m[key] == pytest.approx(np.mean(values), abs=2e-6), key
        assert m[f"{key}.std"] == pytest.approx(np.std(values), abs=2e-6), key
    assert "fold3.ndcg@10" not in m
    assert all(m[f"fold{i}.users"] > 0 for i in range(3))
    assert m["fold2.users"] == m["users"]  # the last fold is the main split
    assert len({m[f"fold{i}.ndcg@10"] for i in range(3)}) > 1  # the folds really differ
    assert m["ndcg@10.std"] > 0
    assert not any(".ci_" in k for k in m)


def test_rolling_folds_are_written_by_the_split_stage(rolling: Path) -> None:
    folds = rolling / "data" / "processed" / "folds"
    assert sorted(p.name for p in folds.iterdir()) == ["fold_0", "fold_1"]
    main_train = pl.read_parquet(rolling / "data" / "processed" / "train.parquet")
    previous = None
    for name in ("fold_0", "fold_1"):
        train = pl.read_parquet(folds / name / "train.parquet")
        test = pl.read_parquet(folds / name / "test.parquet")
        assert train["timestamp"].max() < test["timestamp"].min()
        assert train.height < main_train.height
        if previous is not None:
            assert previous["timestamp"].max() < test["timestamp"].min()
        previous = test


def test_earlier_fold_features_come_from_that_folds_train_window(rolling: Path) -> None:
    from recsys_cli.data.leakage import _hash_sum, row_hashes

    fold_features = rolling / "data" / "eval" / "folds" / "fold_0" / "features"
    report = json.loads((fold_features / "features_report.json").read_text())
    train = pl.read_parquet(rolling / "data" / "processed" / "folds" / "fold_0" / "train.parquet")
    split_info = json.loads((rolling / "data" / "processed" / "folds" / "fold_0" / "split_report.json").read_text())
    window = report["train_window"]
    assert window["events"] == train.height
    assert window["last_ms"] == int(train["timestamp"].dt.epoch("ms").max())
    assert window["hash"] == _hash_sum(row_hashes(train))
    assert window["cutoff"] == split_info["t1"][:19]
    popularity = pl.read_parquet(fold_features / "item_popularity.parquet")
    assert int(popularity["events"].sum()) == train.height
    main = json.loads((rolling / "data" / "features" / "features_report.json").read_text())["train_window"]
    assert main["events"] > window["events"] and main["last_ms"] > window["last_ms"]


def test_too_many_rolling_folds_exit_2(shop: Path, tmp_path: Path) -> None:
    shutil.copytree(shop / "data" / "interim", tmp_path / "data" / "interim")
    out = invoke(tmp_path, "split", "split=rolling", "split.folds=9", code=2)
    assert "split.folds" in out
    assert not (tmp_path / "data" / "processed").exists()


def test_rolling_main_fold_features_equal_the_temporal_splits(rolling: Path, temporal: dict) -> None:
    from recsys_cli.features.text import load_tfidf

    main = json.loads((rolling / "data" / "features" / "features_report.json").read_text())
    plain = json.loads((temporal["root"] / "data" / "features" / "features_report.json").read_text())
    assert main["train_window"]["cutoff"] == plain["train_window"]["cutoff"]  # same cutoff t1
    assert main["train_window"]["hash"] == plain["train_window"]["hash"]  # the same train events
    assert main["tfidf_fit_items"] == plain["tfidf_fit_items"]
    a, vocab_a = load_tfidf(rolling / "data" / "features" / "tfidf.npz")
    b, vocab_b = load_tfidf(temporal["root"] / "data" / "features" / "tfidf.npz")
    assert list(vocab_a) == list(vocab_b)


# ------------------------------------------------------------------------------------- user holdout


@pytest.fixture(scope="module")
def holdout(shop: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return project(shop, tmp_path_factory, "holdout", "split=user_holdout", features=False)


def test_user_holdout_scores_held_out_users_by_fold_in(holdout: Path) -> None:
    invoke(holdout, "train", "split=user_holdout", "model=itemknn")
    invoke(holdout, "eval", "split=user_holdout", "model=itemknn")
    m = metrics(holdout)
    assert m["users"] > 0 and m["cold.users"] == 0
    assert m["ndcg@10"] > 0
    test = pl.read_parquet(holdout / "data" / "processed" / "test.parquet")
    train = pl.read_parquet(holdout / "data" / "processed" / "train.parquet")
    assert m["test_users"] == test["user_id"].n_unique()
    assert not set(test["user_id"].to_list()) & set(train["user_id"].to_list())
    assert "user_holdout split" in m["protocol"]


@pytest.mark.parametrize("model", ["svd", "tfidf"])
def test_user_holdout_with_a_model_that_cannot_fold_in_exits_2(holdout: Path, model: str) -> None:
    if model == "tfidf":
        invoke(holdout, "features", "split=user_holdout")
    invoke(holdout, "train", "split=user_holdout", f"model={model}")
    out = invoke(holdout, "eval", "split=user_holdout", f"model={model}", code=2)
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1, out
    assert repr(model) in lines[0] and "fold in" in lines[0]


# ---------------------------------------------------------------------------------------- new items


@pytest.fixture(scope="module")
def new_items(shop: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = project(shop, tmp_path_factory, "new_items", "split=new_items")
    out: dict = {"root": root}
    for model in ("tfidf", "als"):
        invoke(root, "train", "split=new_items", f"model={model}")
        invoke(root, "eval", "split=new_items", f"model={model}")
        out[model] = metrics(root)
    return out


def test_new_item_targets_only_content_models_can_hit(new_items: dict) -> None:
    test = pl.read_parquet(new_items["root"] / "data" / "processed" / "test.parquet")
    assert test.height > 0 and test["cold_item"].all()
    tfidf, als = new_items["tfidf"], new_items["als"]
    assert tfidf["users"] == als["users"] > 0
    assert "new items only" in als["protocol"]
    assert tfidf["ndcg@10"] > 0
    for k in (5, 10, 20):
        assert als[f"ndcg@{k}"] == 0.0 and als[f"hit_rate@{k}"] == 0.0
