"""One tiny shop for every TUI test: ALS served from the bundle, popularity trained next to it, reports written.

Built once per session, in-process, with the product's own stages and
``experiment=tiny`` (600 shoppers, 300 products): ingest, split, features,
train ALS, eval, train popularity, ``eval compare popularity als``, export.
Deterministic (seeded, one thread), so the SVG snapshots are too.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import polars as pl
import pytest

from recsys_cli import config
from recsys_cli.config import ModelConfig

BASE = ["experiment=tiny", "tracking=none", "model.num_threads=1"]


def overrides(root: Path) -> list[str]:
    return [*BASE, f"paths.root={root}"]


@pytest.fixture(scope="session")
def tui_shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from recsys_cli.stages import eval_compare, evaluate, export, features, ingest, split, train

    root = tmp_path_factory.mktemp("tui-shop")
    cfg = config.load(overrides(root))
    for stage in (ingest, split, features, train, evaluate):
        stage.run(cfg)
    train.run(dataclasses.replace(cfg, model=ModelConfig(name="popularity")))
    eval_compare.run(cfg, "popularity", "als")
    export.run(cfg)
    return root


@pytest.fixture(scope="session")
def tui_cfg(tui_shop: Path) -> config.Config:
    return config.load(overrides(tui_shop))


@pytest.fixture(scope="session")
def events(tui_shop: Path) -> pl.DataFrame:
    """Every event of every window: the independent reference for histories."""
    processed = tui_shop / "data" / "processed"
    frames = [pl.read_parquet(processed / f"{w}.parquet") for w in ("train", "valid", "test")
              if (processed / f"{w}.parquet").is_file()]
    return pl.concat(frames, how="vertical_relaxed")


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def child_env() -> dict[str, str]:
    return {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
