"""How a stage computes: the local engine (the stages' own code) or Apache Spark (``engine=spark``).

Every engine reads and writes the files ``recsys_cli/layout.py`` names, so the
stages after one engine's output run unchanged. ``runs_on`` says which engine
a stage uses under a config: Spark runs ingest, split, ALS training, the
ranking of eval (its metrics are computed from Spark's lists by the shared
code) and batch-recommend (export's production refit of ALS too); features
and tune stay local.
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
    if stage in ("train", "export", "eval") and cfg.model.name not in SPARK_MODELS:
        return "local"
    return "spark"


def fit(cfg: Config, model, data, stage: str = "train"):  # noqa: ANN001, ANN201
    """Fit ``model`` on ``data`` with the configured engine (ALS on Spark MLlib under engine=spark)."""
    if runs_on(cfg, stage) == "spark":
        from recsys_cli.engines.spark import als

        return als.fit(model, data, cfg.engine)
    return model.fit(data)
