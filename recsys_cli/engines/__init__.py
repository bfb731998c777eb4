"""How a stage computes: the local engine (the stages' own code) or Apache Spark (``engine=spark``).

Every engine reads and writes the files ``recsys_cli/layout.py`` names, so the
stages after one engine's output run unchanged. ``runs_on`` says which engine
a stage uses under a config: Spark runs ingest, split, ALS training, eval and
batch-recommend; features, tune and export stay local (export's production
refit of ALS goes through Spark too).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from recsys_cli.config import Config

SPARK_STAGES = ("ingest", "split", "train", "eval", "batch-recommend", "export")
SPARK_MODELS = ("als",)


def runs_on(cfg: Config, stage: str) -> str:
    if cfg.engine.name != "spark" or stage not in SPARK_STAGES:
        return "local"
    if stage in ("train", "eval", "export") and cfg.model.name not in SPARK_MODELS:
        return "local"
    return "spark"
