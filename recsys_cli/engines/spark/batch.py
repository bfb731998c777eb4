"""batch-recommend on Spark: MLlib's ``recommendForUserSubset`` over the bundle's ALS factors.

The bundle (verified) gives the factors; they become an MLlib ``ALSModel``
(the constructor MLlib's own ``ALS.fit`` uses), which ranks the catalog for
every user the model knows. Items a user already interacted with are removed
by an anti-join with the bundle's history (MLlib asks for ``k`` plus the
longest history, so a list never runs short); ties go to the lower item index.
Users the model does not know get the popularity fallback. The files are the
local engine's: ``recommendations/part-NNNNN.parquet`` with user_id, rank,
item_id, score, strategy, fallback. (The local engine's lists also place
brand-new products by content and fold in unseen histories, as ``recsys serve``
does; these are the model's plain top-k.)
"""

from __future__ import annotations

import json

import numpy as np
import polars as pl

from recsys_cli import layout
from recsys_cli.atomic import atomic_dir
from recsys_cli.config import Config, fingerprint
from recsys_cli.engines.spark import one_line, session, to_polars, to_spark
from recsys_cli.errors import ConfigError
from recsys_cli.layout import Layout
from recsys_cli.models.factors import FactorModel
from recsys_cli.progress import status
from recsys_cli.topk import popular_lists


def als_model(spark, model: FactorModel):  # noqa: ANN001, ANN201
    """An MLlib ALSModel holding ``model``'s factors (ids = recsys indices)."""
    from pyspark.ml.recommendation import ALSModel

    def frame(factors: np.ndarray):  # noqa: ANN202
        return to_spark(spark, pl.DataFrame({"id": np.arange(factors.shape[0], dtype=np.int32),
                                             "features": factors.astype(np.float32)}))

    users, items = frame(model.user_factors), frame(model.item_factors)
    jvm = spark.sparkContext._jvm
    java = jvm.org.apache.spark.ml.recommendation.ALSModel("recsys-als", int(model.user_factors.shape[1]),
                                                           users._jdf, items._jdf)
    java.setUserCol("user").setItemCol("item")  # recommendFor* read the Java side
    return ALSModel(java)


@one_line
def run(cfg: Config) -> None:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from recsys_cli.bundle import read_bundle

    bundle = read_bundle(cfg.paths.bundle)
    if not isinstance(bundle.model, FactorModel):
        raise ConfigError(f"engine=spark: batch-recommend ranks factor models (als); the bundle holds "
                          f"{bundle.manifest.get('model')!r}: use engine=local")
    spark = session(cfg.engine)
    k = cfg.recommend.k
    hist = bundle.history.matrix
    lengths = np.diff(hist.indptr)
    known = np.flatnonzero(bundle.history.known)
    n_items = bundle.model.item_factors.shape[0]
    model = als_model(spark, bundle.model)
    rows = np.repeat(np.arange(hist.shape[0], dtype=np.int32), lengths)
    seen = to_spark(spark, pl.DataFrame({"user": rows, "item": hist.indices.astype(np.int32)}))
    order = Window.partitionBy("user").orderBy(F.col("score").desc(), F.col("item").asc())

    def ranked(users: np.ndarray, depth: int) -> pl.DataFrame:
        """Each user's top ``depth`` by MLlib, seen items removed, the best k kept."""
        subset = to_spark(spark, pl.DataFrame({"user": users.astype(np.int32)})).repartition(cfg.engine.partitions)
        recs = model.recommendForUserSubset(subset, depth)
        flat = recs.select("user", F.posexplode("recommendations").alias("pos", "rec")).select(
            "user", F.col("rec.item").alias("item"), F.col("rec.rating").alias("score"))
        top = (flat.join(seen, ["user", "item"], "left_anti").withColumn("rank", F.row_number().over(order))
               .filter(F.col("rank") <= k))
        return to_polars(top)

    # depth k + (a typical history's length) for everyone: a depth set by the heaviest shopper would make
    # every shopper's list that long (100,000 x thousands of rows: out of memory); the few shoppers whose
    # seen items crowd out their top k get a second, deeper pass of their own
    typical = int(np.percentile(lengths[known], 99)) if known.size else 0
    depth = int(min(n_items, k + typical))
    personal = ranked(known, depth) if known.size else pl.DataFrame(
        {"user": [], "item": [], "score": [], "rank": []})
    got = np.bincount(personal["user"].to_numpy().astype(np.int64), minlength=hist.shape[0]) if personal.height \
        else np.zeros(hist.shape[0], dtype=np.int64)
    short = known[got[known] < np.minimum(k, n_items - lengths[known])]
    if short.size:
        deeper = ranked(short, int(min(n_items, k + lengths[short].max())))  # recorded: the users it took
        personal = pl.concat([personal.filter(~pl.col("user").is_in(short.tolist())),
                              deeper.cast(personal.schema)])
    personal = personal.with_columns(strategy=pl.lit("personalised"))
    cold = np.flatnonzero(~bundle.history.known)
    fallback_items = popular_lists(bundle.fallback.order(), hist[cold], k)
    keep = fallback_items >= 0
    cold_frame = pl.DataFrame({
        "user": np.repeat(cold, k)[keep.ravel()].astype(np.int32),
        "item": fallback_items.ravel()[keep.ravel()].astype(np.int32),
        "score": bundle.fallback.item_scores[np.maximum(fallback_items, 0)].ravel()[keep.ravel()],
        "rank": np.tile(np.arange(1, k + 1), cold.size)[keep.ravel()],
        "strategy": "popular_fallback",
    })
    both = pl.concat([personal.select("user", "item", "score", "rank", "strategy").cast(
        {"user": pl.Int32, "item": pl.Int32, "score": pl.Float32, "rank": pl.Int16}),
        cold_frame.cast({"user": pl.Int32, "item": pl.Int32, "score": pl.Float32, "rank": pl.Int16})]).sort(
        "user", "rank")
    frame = both.select(
        user_id=pl.Series(bundle.users.ids)[both["user"]] if both.height else pl.Series([], dtype=pl.Utf8),
        rank=pl.col("rank"),
        item_id=pl.Series(bundle.items.ids)[both["item"]] if both.height else pl.Series([], dtype=pl.Utf8),
        score=pl.col("score"),
        strategy=pl.col("strategy").cast(pl.Categorical),
        fallback=pl.col("strategy") == "popular_fallback",
    ).with_columns(user_idx=both["user"])
    part_users = cfg.recommend.batch_size
    parts = 0
    with atomic_dir(cfg.paths.recs) as tmp:
        (tmp / layout.RECS).mkdir()
        for index, start in enumerate(range(0, len(bundle.users), part_users)):
            part = frame.filter((pl.col("user_idx") >= start) & (pl.col("user_idx") < start + part_users))
            part.drop("user_idx").write_parquet(tmp / layout.RECS / layout.part_file(index))
            parts += 1
        info = {"model": bundle.manifest.get("model"), "k": k, "users": len(bundle.users), "rows": frame.height,
                "parts": parts, "engine": "spark", "master": cfg.engine.master, "mllib_depth": depth, "deeper_pass_users": int(short.size),
                "bundle": str(cfg.paths.bundle), "bundle_version": bundle.version, "fit": bundle.manifest.get("fit"),
                "config_sha256": fingerprint(cfg), "model_config_sha256": bundle.manifest.get("config_sha256")}
        (tmp / "config.yaml").write_text(cfg.to_yaml())
        (tmp / layout.RECS_INFO).write_text(json.dumps(info, indent=2) + "\n")
    status(f"batch-recommend (spark {cfg.engine.master}): {frame.height:,} rows for {len(bundle.users):,} users "
           f"(MLlib recommendForUserSubset, depth {depth}; {short.size:,} shoppers deeper) -> {Layout.of(cfg).recs} ({parts} parts)")
