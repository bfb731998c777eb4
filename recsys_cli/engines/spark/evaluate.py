"""eval on Spark: the test shoppers' rankings computed by MLlib, the metrics by the same code as the local engine.

The expensive part of an evaluation is ranking the whole catalog for every
test shopper; on Spark that is MLlib's ``recommendForUserSubset`` over the
trained ALS factors (as an ``ALSModel``), asked for ``k`` plus the longest
excluded history, then the excluded items anti-joined away and ties ordered
by item index. The resulting top-K lists (shoppers x K, small) come back to
the driver and feed the unchanged evaluation code (accuracy, beyond accuracy,
segments, intervals, business proxies), so every metric has one definition
whichever engine ranked. Spark's own ``RankingEvaluator`` scores the same
lists too (``spark.ndcg@K``, ``spark.precision@K``, ``spark.recall@K``) as an
independent check of those definitions.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp

from recsys_cli.config import Config
from recsys_cli.engines.spark import one_line, session, to_polars, to_spark
from recsys_cli.errors import ConfigError
from recsys_cli.models.base import Recs
from recsys_cli.models.factors import FactorModel
from recsys_cli.topk import PAD


class RankedOnSpark:
    """A model whose ``recommend`` for the evaluated shoppers returns lists Spark computed."""

    def __init__(self, model: FactorModel, items: np.ndarray, scores: np.ndarray) -> None:
        self.model = model
        self.items, self.scores = items, scores
        self.name = model.name
        self.n_users, self.n_items = model.n_users, model.n_items

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.model, attr)

    def recommend(self, users: np.ndarray, k: int, exclude: sp.csr_matrix | None = None,
                  items: np.ndarray | None = None) -> Recs:
        users = np.asarray(users, dtype=np.int64)
        if items is not None or k > self.items.shape[1]:
            return self.model.recommend(users, k, exclude, items)
        return Recs(self.items[users, :k].copy(), self.scores[users, :k].copy())

    def score(self, users: np.ndarray, items: np.ndarray | None = None) -> np.ndarray:
        return self.model.score(users, items)


@one_line
def rank(cfg: Config, model: Any, users: np.ndarray, seen: sp.csr_matrix, relevant: sp.csr_matrix, k: int
         ) -> tuple[RankedOnSpark, dict[str, float]]:
    """Top-``k`` of ``users`` on Spark (``seen`` excluded) and RankingEvaluator's metrics of them."""
    from pyspark.ml.evaluation import RankingEvaluator
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from recsys_cli.engines.spark.batch import als_model

    if not isinstance(model, FactorModel):
        raise ConfigError(f"engine=spark: eval ranks with factor models (als), not {model.name!r}; use engine=local")
    spark = session(cfg.engine)
    users = np.asarray(users, dtype=np.int64)
    lengths = np.diff(seen.indptr)
    depth = int(min(model.n_items, k + (lengths[users].max() if users.size else 0)))
    subset = to_spark(spark, pl.DataFrame({"user": users.astype(np.int32)})).repartition(cfg.engine.partitions)
    recs = als_model(spark, model).recommendForUserSubset(subset, depth)
    flat = recs.select("user", F.explode("recommendations").alias("rec")).select(
        "user", F.col("rec.item").alias("item"), F.col("rec.rating").alias("score"))
    rows = np.repeat(np.arange(seen.shape[0], dtype=np.int32), lengths)
    excluded = to_spark(spark, pl.DataFrame({"user": rows, "item": seen.indices.astype(np.int32)}))
    order = Window.partitionBy("user").orderBy(F.col("score").desc(), F.col("item").asc())
    top = (flat.join(excluded, ["user", "item"], "left_anti").withColumn("rank", F.row_number().over(order))
           .filter(F.col("rank") <= k)).cache()
    lists = to_polars(top)
    items = np.full((model.n_users, k), PAD, dtype=np.int32)
    scores = np.full((model.n_users, k), -np.inf, dtype=np.float32)
    if lists.height:
        u = lists["user"].to_numpy().astype(np.int64)
        r = lists["rank"].to_numpy().astype(np.int64) - 1
        items[u, r] = lists["item"].to_numpy()
        scores[u, r] = lists["score"].to_numpy()
    # Spark's own metrics of the same lists, against the same targets
    rel_rows = np.repeat(np.arange(relevant.shape[0], dtype=np.int32), np.diff(relevant.indptr))
    labels = to_spark(spark, pl.DataFrame({"user": rel_rows, "item": relevant.indices.astype(np.int32)})).groupBy(
        "user").agg(F.collect_list(F.col("item").cast("double")).alias("label"))
    predicted = top.groupBy("user").agg(F.sort_array(F.collect_list(F.struct("rank", "item"))).alias("ranked")).select(
        "user", F.col("ranked.item").cast("array<double>").alias("prediction"))
    scored = predicted.join(labels, "user", "inner").join(subset, "user", "inner").cache()
    out = {}
    for kk in sorted(set(cfg.eval.k)):
        if kk > k:
            continue
        for metric, name in (("ndcgAtK", "ndcg"), ("precisionAtK", "precision"), ("recallAtK", "recall")):
            evaluator = RankingEvaluator(predictionCol="prediction", labelCol="label", metricName=metric, k=kk)
            out[f"spark.{name}@{kk}"] = round(float(evaluator.evaluate(scored)), 6)
    out["spark.users"] = int(scored.count())
    top.unpersist(), scored.unpersist()
    return RankedOnSpark(model, items, scores), out
