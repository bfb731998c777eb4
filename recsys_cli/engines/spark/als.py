"""ALS on Spark MLlib (implicit preferences), saved as recsys' own ALS model.

The summed event weights per (user, item) are MLlib's ratings; ``factors``,
``iterations``, ``alpha`` and ``regularization`` map to ``rank``, ``maxIter``,
``alpha`` and ``regParam`` (MLlib scales ``regParam`` by each user's and
item's number of ratings, implicit does not: the settings match, the
penalties differ; reports/bench/spark_vs_local shows both NDCG@10).
The factors come back in index order, so eval, export and serve read the
model exactly as if implicit had fit it.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from recsys_cli.config import EngineConfig
from recsys_cli.engines.spark import one_line, session, to_polars, to_spark
from recsys_cli.models.als import ALS
from recsys_cli.models.base import TrainData


@one_line
def fit(model: ALS, data: TrainData, engine: EngineConfig) -> ALS:
    from pyspark.ml.recommendation import ALS as SparkALS

    spark = session(engine)
    p = model.params
    coo = data.matrix.tocoo()
    ratings = to_spark(spark, pl.DataFrame({"user": coo.row.astype(np.int32), "item": coo.col.astype(np.int32),
                                            "rating": coo.data.astype(np.float32)})).repartition(engine.partitions)
    als = SparkALS(rank=p.factors, maxIter=p.iterations, regParam=p.regularization, alpha=p.alpha,
                   implicitPrefs=True, userCol="user", itemCol="item", ratingCol="rating", seed=data.seed,
                   numUserBlocks=engine.partitions, numItemBlocks=engine.partitions, coldStartStrategy="drop")
    fitted = als.fit(ratings)
    users = np.zeros((data.n_users, p.factors), dtype=np.float32)
    items = np.zeros((data.n_items, p.factors), dtype=np.float32)
    for target, frame in ((users, fitted.userFactors), (items, fitted.itemFactors)):
        got = to_polars(frame)
        if got.height:
            target[got["id"].to_numpy()] = np.asarray(got["features"].to_list(), dtype=np.float32)
    model._set_factors(users, items)
    return model
