"""export and batch-recommend: one meaning of "known user", a production fit, lists equal everywhere.

One tiny pipeline with ``train.refit_with_valid`` is exported twice: the
held-out fit (``export.production=false``) and the production fit on every
window. For each, every user's list from the service's single-user path, its
batch path for many ids (the MLflow model's) and ``batch-recommend``'s file
are the same; a shopper first seen in valid is personalised everywhere.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp

from recsys_cli import config
from recsys_cli.bundle import read_bundle
from recsys_cli.models.als import ALS, ALSParams
from recsys_cli.schema import from_dict
from recsys_cli.service import RecommenderService
from recsys_cli.stages import batch_recommend, evaluate, export, features, ingest, split, train

BASE = ["experiment=tiny", "tracking=none", "train.refit_with_valid=true", "model.num_threads=1"]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("export")
    cfg = config.load([*BASE, f"paths.root={root}"])
    for stage in (ingest, split, features, train, evaluate):
        stage.run(cfg)
    return root


def _cfg(root: Path, *extra: str) -> config.Config:
    return config.load([*BASE, f"paths.root={root}", *extra])


def _lists(root: Path) -> dict[str, tuple[list[str], bool]]:
    recs = pl.read_parquet(root / "data/recs/recommendations/*.parquet").sort("user_id", "rank")
    grouped = recs.group_by("user_id", maintain_order=True).agg(pl.col("item_id"), pl.col("strategy").first())
    return {row["user_id"]: (row["item_id"], row["strategy"]) for row in grouped.iter_rows(named=True)}


def _first_seen_in_valid(root: Path) -> set[str]:
    processed = root / "data" / "processed"
    train_users = set(pl.read_parquet(processed / "train.parquet")["user_id"])
    return set(pl.read_parquet(processed / "valid.parquet")["user_id"]) - train_users


def _check_every_list_is_the_same(root: Path) -> dict[str, tuple[list[str], bool]]:
    batch = _lists(root)
    service = RecommenderService.load(root / "data" / "bundle")
    users = service.user_ids.tolist()
    assert set(batch) == set(users)
    many = {r.user_id: r for r in service.recommend_many(users, 10)}
    for user in users:
        one = service.recommend(user, 10)
        items = [i.item_id for i in one.items]
        assert items == batch[user][0] == [i.item_id for i in many[user].items], user
        assert one.strategy == batch[user][1] == many[user].strategy, user
        assert [i.score for i in one.items] == pytest.approx([i.score for i in many[user].items], rel=1e-5, abs=1e-5)
    return batch


def test_heldout_bundle_personalises_a_shopper_first_seen_in_valid(root: Path) -> None:
    cfg = _cfg(root, "export.production=false")
    export.run(cfg)
    batch_recommend.run(cfg)
    bundle = read_bundle(root / "data" / "bundle")
    assert bundle.manifest["fit"]["windows"] == ["train", "valid"] and not bundle.manifest["fit"]["production"]
    batch = _check_every_list_is_the_same(root)
    newcomers = _first_seen_in_valid(root)
    assert newcomers, "the tiny data should have shoppers whose first event is in valid"
    assert all(batch[u][1] == "personalised" for u in newcomers)  # personalised, not the fallback
    cold = {u for u, (_, strategy) in batch.items() if strategy != "personalised"}
    processed = root / "data" / "processed"
    fit_users = set(pl.concat([pl.read_parquet(processed / f"{w}.parquet") for w in ("train", "valid")])["user_id"])
    assert cold == set(bundle.users.ids.tolist()) - fit_users  # cold == no train+valid history, nothing else
    # eval counts the same users as known: its cold segment is the test users without train+valid history
    metrics = json.loads((root / "reports" / "metrics.json").read_text())
    test_users = set(pl.read_parquet(processed / "test.parquet")["user_id"])
    assert metrics["cold.users"] == len((test_users - fit_users) & set(_relevant_users(root)))


def _relevant_users(root: Path) -> list[str]:
    per_user = pl.read_parquet(root / "reports" / "per_user.parquet")
    return per_user["user_id"].to_list()


def test_production_bundle_is_the_trained_params_refit_on_every_window(root: Path) -> None:
    cfg = _cfg(root)
    export.run(cfg)
    batch_recommend.run(cfg)
    bundle = read_bundle(root / "data" / "bundle")
    processed = root / "data" / "processed"
    events = pl.concat([pl.read_parquet(processed / f"{w}.parquet") for w in ("train", "valid", "test")])
    fit = bundle.manifest["fit"]
    assert fit["windows"] == ["train", "valid", "test"] and fit["production"] and fit["events"] == events.height
    assert fit["cutoff"] == events["timestamp"].max().isoformat()
    # an independent refit: the trained (fitted) params on the summed weights of every window
    info = json.loads((root / "data/models/als/train_info.json").read_text())
    n_users, n_items = len(bundle.users), len(bundle.items)
    m = sp.csr_matrix((events["weight"].to_numpy(), (events["user_idx"].to_numpy(), events["item_idx"].to_numpy())),
                      shape=(n_users, n_items))
    m.sum_duplicates()
    from recsys_cli.models.base import TrainData

    reference = ALS(from_dict(ALSParams, info["fitted_params"])).fit(TrainData(matrix=m, seed=cfg.seed))
    users = np.arange(n_users)
    np.testing.assert_allclose(bundle.model.score(users), reference.score(users), atol=1e-5)
    counts = np.asarray((m > 0).sum(axis=0)).ravel()
    np.testing.assert_array_equal(bundle.fallback.item_scores, counts)  # popularity over every window too
    batch = _check_every_list_is_the_same(root)
    assert {strategy for _, strategy in batch.values()} == {"personalised"}  # every shopper has history somewhere
    recs_info = json.loads((root / "data/recs/recs_info.json").read_text())
    assert recs_info["bundle_version"] == RecommenderService.load(root / "data" / "bundle").version


def test_eval_lists_recompute_the_headline_with_ranx(root: Path) -> None:
    """reports/eval_lists.parquet + the test window are enough to recompute NDCG@10 with an independent tool."""
    ranx = pytest.importorskip("ranx")
    lists = pl.read_parquet(root / "reports" / "eval_lists.parquet")
    assert lists.columns[:4] == ["user_id", "rank", "item_id", "score"]
    processed = root / "data" / "processed"
    seen = pl.concat([pl.read_parquet(processed / f"{w}.parquet") for w in ("train", "valid")]).select(
        "user_id", "item_id").unique()
    test = pl.read_parquet(processed / "test.parquet").select("user_id", "item_id").unique()
    targets = test.join(seen, on=["user_id", "item_id"], how="anti")
    warm = lists.filter(~pl.col("cold") & (pl.col("rank") <= 10))
    users = sorted(set(warm["user_id"]) & set(targets["user_id"]))
    qrels = {u: {} for u in users}
    for row in targets.filter(pl.col("user_id").is_in(users)).iter_rows(named=True):
        qrels[row["user_id"]][row["item_id"]] = 1
    run = {u: {} for u in users}
    for row in warm.filter(pl.col("user_id").is_in(users)).iter_rows(named=True):
        run[row["user_id"]][row["item_id"]] = float(11 - row["rank"])  # rank order, ties impossible
    value = ranx.evaluate(ranx.Qrels(qrels), ranx.Run(run), "ndcg@10")
    metrics = json.loads((root / "reports" / "metrics.json").read_text())
    assert metrics["users"] == len(users)
    assert value == pytest.approx(metrics["ndcg@10"], abs=1e-6)
    per_user = pl.read_parquet(root / "reports" / "per_user.parquet")
    assert per_user.columns[0] == "user_id" and set(per_user["user_id"]) >= set(users)
