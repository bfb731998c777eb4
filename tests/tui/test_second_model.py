"""A trained model next to the served one: same answers as a service built from scratch; wrong split refused."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from recsys_cli.bundle import BundleError, History
from recsys_cli.models import load_model
from recsys_cli.service import RecommenderService
from recsys_cli.service.models import service_for_model, trained_models
from recsys_cli.service.types import Preferences, RecommendRequest


def test_trained_models_are_listed(tui_shop: Path) -> None:
    assert trained_models(tui_shop / "data" / "models") == ["als", "popularity"]
    assert trained_models(tui_shop / "nowhere") == []


@pytest.mark.parametrize("name", ["popularity", "als"])
def test_shared_service_equals_one_built_from_scratch(tui_shop: Path, name: str) -> None:
    base = RecommenderService.load(tui_shop / "data" / "bundle")
    processed = tui_shop / "data" / "processed"
    second = service_for_model(base, tui_shop / "data" / "models" / name, processed)
    # from scratch: the model and who it was fit on (train-window shoppers, read here independently)
    known = np.zeros(base.n_users, dtype=bool)
    known[pl.read_parquet(processed / "train.parquet")["user_idx"].unique().to_numpy()] = True
    h = base.history
    bundle = dataclasses.replace(
        base.bundle, model=load_model(tui_shop / "data" / "models" / name / "model"),
        fallback=load_model(tui_shop / "data" / "models" / name / "fallback"),
        history=History(matrix=h.matrix, last_ms=h.last_ms, known=known, weight=h.weight),
        manifest={**base.bundle.manifest, "model": name})
    scratch = RecommenderService(bundle, base.config)
    assert second.model_name == name and second.model is not base.model
    for user_id in [str(u) for u in base.user_ids[:120]] + ["someone-new"]:
        got, want = second.recommend(user_id, k=10), scratch.recommend(user_id, k=10)
        assert [(s.item_id, s.score, s.explanation) for s in got.items] == \
            [(s.item_id, s.score, s.explanation) for s in want.items]
        assert got.strategy == want.strategy
    prefs = RecommendRequest(user_id="new", preferences=Preferences(categories=["Beauty"]))
    assert [s.item_id for s in second.recommend(prefs).items] == [s.item_id for s in scratch.recommend(prefs).items]
    second.live.add("u000001", str(base.item_ids[0]), "purchase")  # its own live state
    assert base.live.row("u000001")[0] == []


def test_a_model_from_another_split_is_refused(tui_shop: Path, tmp_path: Path) -> None:
    base = RecommenderService.load(tui_shop / "data" / "bundle")
    other = tmp_path / "processed"
    shutil.copytree(tui_shop / "data" / "processed", other)
    ids = dict(np.load(other / "ids.npz", allow_pickle=False))
    ids["users"] = ids["users"][::-1].copy()
    with open(other / "ids.npz", "wb") as fh:
        np.savez(fh, **ids)
    with pytest.raises(BundleError, match="not the one .* was exported from"):
        service_for_model(base, tui_shop / "data" / "models" / "popularity", other)
    with pytest.raises(BundleError, match="run `recsys train model=nothing`"):
        service_for_model(base, tui_shop / "data" / "models" / "nothing", tui_shop / "data" / "processed")
