"""batch-recommend: top-k for every user of the exported bundle -> data/recs/recommendations.parquet.

The lists come from the bundle through the same service that ``recsys serve``
answers with (``RecommenderService.recommend_batch``), so they equal what the
server and the MLflow model return for each user: the production fit for
users it knows, a fold-in of the history of those it was not fit on, cold start
from their attributes or the popularity fallback for the rest (the ``strategy``
column), never an item the user already interacted with in any window.

Next to the lists: ``config.yaml`` (the config this stage ran with) and
``recs_info.json`` naming it, the bundle (its manifest sha256) and the model's
training config by fingerprint, so a recommendation file always says what made it.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import polars as pl

from recsys_cli.atomic import atomic_dir
from recsys_cli.config import Config, fingerprint
from recsys_cli.progress import progress_bar, status
from recsys_cli.service import RecommenderService

INFO = "recs_info.json"


def provenance(cfg: Config, service: RecommenderService, rows: int) -> dict[str, Any]:
    """What made the recommendation file: this stage's config, the bundle and its model."""
    manifest = service.bundle.manifest
    return {
        "model": service.model_name,
        "k": cfg.recommend.k,
        "users": service.n_users,
        "rows": rows,
        "bundle": str(cfg.bundle_path),
        "bundle_version": service.version,
        "fit": manifest.get("fit"),
        "config_sha256": fingerprint(cfg),
        "model_config_sha256": manifest.get("config_sha256"),
        "seed": cfg.seed,
    }


def recommend_all(service: RecommenderService, k: int, batch_size: int) -> pl.DataFrame:
    """user_id, rank, item_id, score, fallback for every user of the bundle."""
    n = service.n_users
    top_items = np.empty((n, k), dtype=np.int32)
    top_scores = np.empty((n, k), dtype=np.float32)
    with progress_bar() as bar:
        task = bar.add_task(f"top-{k} for {n:,} users", total=n)
        for users, recs in service.batches(k, batch_size):
            top_items[users], top_scores[users] = recs.items, recs.scores
            bar.advance(task, users.size)
    user_idx = np.repeat(np.arange(n), k)
    flat_items = top_items.ravel()
    keep = flat_items >= 0
    strategies = np.array([service.strategy_of(u) for u in range(n)])
    strategy = strategies[user_idx[keep]]
    return pl.DataFrame(
        {
            "user_id": service.user_ids[user_idx[keep]],
            "rank": (np.tile(np.arange(1, k + 1), n)[keep]).astype(np.int16),
            "item_id": service.item_ids[flat_items[keep]],
            "score": top_scores.ravel()[keep],
            "strategy": pl.Series(strategy, dtype=pl.Categorical),
            "fallback": strategy == "popular_fallback",
        }
    )


def run(cfg: Config) -> None:
    from recsys_cli.bundle import read_bundle

    service = RecommenderService(read_bundle(cfg.bundle_path), cfg.serve)
    frame = recommend_all(service, cfg.recommend.k, cfg.recommend.batch_size)
    info = provenance(cfg, service, frame.height)
    with atomic_dir(cfg.paths.recs) as tmp:
        frame.write_parquet(tmp / "recommendations.parquet")
        (tmp / "config.yaml").write_text(cfg.to_yaml())
        (tmp / INFO).write_text(json.dumps(info, indent=2) + "\n")
    status(f"batch-recommend: {frame.height:,} rows for {service.n_users:,} users from the bundle "
           f"({service.model_name}, {service.version}) -> {cfg.paths.recs / 'recommendations.parquet'}")
