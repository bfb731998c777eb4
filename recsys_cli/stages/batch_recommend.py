"""batch-recommend: top-k for every user of the exported bundle -> data/recs/recommendations/.

The lists come from the bundle through the same service that ``recsys serve``
answers with (``RecommenderService.recommend_batch``), so they equal what the
server and the MLflow model return for each user: the production fit for
users it knows, a fold-in of the history of those it was not fit on, cold start
from their attributes or the popularity fallback for the rest (the ``strategy``
column), never an item the user already interacted with in any window.

Scale: users go in parts of ``recommend.batch_size``; each part is scored in
row batches that hold at most ``topk.MAX_CELLS`` scores, ``recommend.threads``
parts at a time (numpy's matrix products and top-k release the GIL), and is
written as soon as it is done to ``recommendations/part-NNNNN.parquet`` (users
in index order; columns user_id, rank, item_id, score, strategy, fallback), so
memory is bounded by the parts in flight, never by the number of users. Any
Parquet reader loads the directory (``pl.read_parquet("data/recs/recommendations")``,
``pd.read_parquet``, Spark, DuckDB ``'.../*.parquet'``). Business rules
(``recommend.rules``: exclude purchased only, category and price rules,
per-category caps) shape the ranking; with none set the lists are the service's.

Next to the lists: ``config.yaml`` (the config this stage ran with) and
``recs_info.json`` naming it, the bundle (its manifest sha256) and the model's
training config by fingerprint, so a recommendation file always says what made it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from recsys_cli import layout
from recsys_cli.atomic import atomic_dir
from recsys_cli.config import Config, fingerprint
from recsys_cli.layout import Layout
from recsys_cli.progress import progress_bar, status
from recsys_cli.schema import to_dict
from recsys_cli.service import RecommenderService
from recsys_cli.service.rules import BatchRules
from recsys_cli.topk import row_batch

INFO = layout.RECS_INFO


def provenance(cfg: Config, service: RecommenderService, rows: int, parts: int) -> dict[str, Any]:
    """What made the recommendation files: this stage's config, the bundle and its model."""
    manifest = service.bundle.manifest
    return {
        "model": service.model_name,
        "k": cfg.recommend.k,
        "users": service.n_users,
        "rows": rows,
        "parts": parts,
        "layout": f"{layout.RECS}/part-NNNNN.parquet (users in index order)",
        "rules": to_dict(cfg.recommend.rules),
        "engine": "local",
        "bundle": str(cfg.bundle_path),
        "bundle_version": service.version,
        "fit": manifest.get("fit"),
        "config_sha256": fingerprint(cfg),
        "model_config_sha256": manifest.get("config_sha256"),
        "seed": cfg.seed,
    }


def part_frame(service: RecommenderService, users: np.ndarray, k: int, rules: BatchRules | None = None) -> pl.DataFrame:
    """user_id, rank, item_id, score, strategy, fallback for a run of users, scored in bounded row batches."""
    size = row_batch(service.n_items, users.size)
    items = np.empty((users.size, k), dtype=np.int32)
    scores = np.empty((users.size, k), dtype=np.float32)
    for lo in range(0, users.size, size):
        recs = service.recommend_batch(users[lo : lo + size], k, rules)
        items[lo : lo + size], scores[lo : lo + size] = recs.items, recs.scores
    flat = items.ravel()
    keep = flat >= 0
    user_idx = np.repeat(users, k)[keep]
    strategies = np.array([service.strategy_of(int(u)) for u in users.tolist()])
    strategy = np.repeat(strategies, k)[keep]
    return pl.DataFrame(
        {
            "user_id": service.user_ids[user_idx],
            "rank": np.tile(np.arange(1, k + 1, dtype=np.int16), users.size)[keep],
            "item_id": service.item_ids[flat[keep]],
            "score": scores.ravel()[keep],
            "strategy": pl.Series(strategy, dtype=pl.Categorical),
            "fallback": strategy == "popular_fallback",
        }
    )


def write_parts(service: RecommenderService, directory: Path, k: int, part_users: int, threads: int,
                rules: BatchRules | None = None, advance: Callable[[int], None] | None = None) -> tuple[int, int]:
    """Every user's list into ``directory``/part-NNNNN.parquet, ``threads`` parts at a time. (rows, parts)"""
    n = service.n_users
    starts = list(range(0, n, part_users))
    threads = max(1, threads or os.cpu_count() or 1)
    rows = 0

    def work(index: int, start: int) -> int:
        users = np.arange(start, min(start + part_users, n))
        frame = part_frame(service, users, k, rules)
        frame.write_parquet(directory / layout.part_file(index))
        if advance is not None:
            advance(users.size)
        return frame.height

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="recsys-batch") as pool:
        running: set[Future[int]] = set()
        try:
            for index, start in enumerate(starts):
                if len(running) >= threads:  # bounded: at most `threads` parts in memory
                    done, running = wait(running, return_when=FIRST_COMPLETED)
                    rows += sum(f.result() for f in done)
                running.add(pool.submit(work, index, start))
            for future in running:
                rows += future.result()
        except BaseException:
            for future in running:
                future.cancel()
            raise
    return rows, len(starts)


def read_recommendations(recs_dir: Path) -> pl.DataFrame:
    """Every part, users in index order (what downstream code loads)."""
    return pl.read_parquet(Path(recs_dir) / "*.parquet")


def run(cfg: Config) -> None:
    from recsys_cli.engines import runs_on

    if runs_on(cfg, "batch-recommend") == "spark":
        from recsys_cli.engines.spark import batch as spark_batch

        spark_batch.run(cfg)
        return
    from recsys_cli.bundle import read_bundle

    service = RecommenderService(read_bundle(cfg.bundle_path, mmap=True), cfg.serve)
    rules = BatchRules.build(cfg.recommend.rules, service.bundle.catalog)
    k = cfg.recommend.k
    lay = Layout.of(cfg)
    with atomic_dir(cfg.paths.recs) as tmp, progress_bar() as bar:
        task = bar.add_task(f"top-{k} for {service.n_users:,} users", total=service.n_users)
        (tmp / layout.RECS).mkdir()
        rows, parts = write_parts(service, tmp / layout.RECS, k, cfg.recommend.batch_size, cfg.recommend.threads,
                                  rules, lambda n: bar.advance(task, n))
        info = provenance(cfg, service, rows, parts)
        (tmp / "config.yaml").write_text(cfg.to_yaml())
        (tmp / INFO).write_text(json.dumps(info, indent=2) + "\n")
    ruled = " under business rules" if rules is not None else ""
    status(f"batch-recommend: {rows:,} rows for {service.n_users:,} users{ruled} from the bundle "
           f"({service.model_name}, {service.version}) -> {lay.recs} ({parts} parts)")
