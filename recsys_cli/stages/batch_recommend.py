"""batch-recommend: top-k for every known user to data/recs/recommendations.parquet.

Users without train history get the popularity fallback; items a user has
interacted with in any window are not recommended again.

Next to the lists: ``config.yaml`` (the config this stage ran with) and
``recs_info.json`` naming it and the model's training config by fingerprint
(``config.fingerprint``), so a recommendation file always says what made it.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import polars as pl

from recsys_cli.atomic import atomic_dir
from recsys_cli.config import Config, fingerprint, load
from recsys_cli.errors import ConfigError
from recsys_cli.models.base import row_batch
from recsys_cli.models.fallback import WithFallback
from recsys_cli.progress import progress_bar, status
from recsys_cli.stages.inputs import WINDOWS, ids, matrix, model_dir, trained_model, window

INFO = "recs_info.json"


def provenance(cfg: Config, rows: int, users: int) -> dict[str, Any]:
    """What made the recommendation file: this stage's config and the trained model's, by fingerprint."""
    model_config = model_dir(cfg) / "config.yaml"
    try:
        model_sha: str | None = fingerprint(load(params_file=model_config))
    except ConfigError:  # a model trained before configs were saved with it, or by an older schema
        model_sha = None
    return {
        "model": cfg.model.name,
        "k": cfg.recommend.k,
        "users": users,
        "rows": rows,
        "config_sha256": fingerprint(cfg),
        "model_config_sha256": model_sha,
        "seed": cfg.seed,
    }


def run(cfg: Config) -> None:
    users, items = ids(cfg)
    frames = {name: window(cfg, name) for name in WINDOWS}
    seen_train = matrix(frames["train"], users, items)
    history = matrix(pl.concat([f.select("user_idx", "item_idx", "weight") for f in frames.values()]), users, items)
    model, fallback = trained_model(cfg)
    recommender = WithFallback.from_history(model, fallback, seen_train)
    k, n = cfg.recommend.k, len(users)
    size = row_batch(len(items), cfg.recommend.batch_size)
    top_items = np.empty((n, k), dtype=np.int32)
    top_scores = np.empty((n, k), dtype=np.float32)
    with progress_bar() as bar:
        task = bar.add_task(f"top-{k} for {n:,} users", total=n)
        for start in range(0, n, size):
            batch = np.arange(start, min(start + size, n))
            recs = recommender.recommend(batch, k, history[batch])
            top_items[batch], top_scores[batch] = recs.items, recs.scores
            bar.advance(task, batch.size)
    user_idx = np.repeat(np.arange(n), k)
    flat_items = top_items.ravel()
    keep = flat_items >= 0
    frame = pl.DataFrame(
        {
            "user_id": users.external(user_idx[keep]),
            "rank": (np.tile(np.arange(1, k + 1), n)[keep]).astype(np.int16),
            "item_id": items.external(flat_items[keep]),
            "score": top_scores.ravel()[keep],
            "fallback": ~recommender.known[user_idx[keep]],
        }
    )
    info = provenance(cfg, frame.height, n)
    with atomic_dir(cfg.paths.recs) as tmp:
        frame.write_parquet(tmp / "recommendations.parquet")
        (tmp / "config.yaml").write_text(cfg.to_yaml())
        (tmp / INFO).write_text(json.dumps(info, indent=2) + "\n")
    status(f"batch-recommend: {frame.height:,} rows for {n:,} users -> {cfg.paths.recs / 'recommendations.parquet'}")
