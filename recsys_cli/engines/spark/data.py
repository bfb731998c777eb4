"""ingest and split on Spark: cleaning, k-core, weights, cut-offs, id indexing and cold flags as Spark jobs.

The source readers (synthetic generator, MovieLens, CSV/Parquet/JSON logs)
are the local ones, reading in chunks; everything after them runs on Spark.
Both stages write the local engine's files: single Parquet files (collected
through Arrow, sorted as the local engine sorts them), ``ids.npz`` and the
same reports, so the split counts and the leakage fingerprints are identical.
"""

from __future__ import annotations

import json
import math
from datetime import datetime

import polars as pl

from recsys_cli import layout
from recsys_cli.atomic import atomic_dir
from recsys_cli.config import Config, PreprocessConfig, SplitConfig
from recsys_cli.data.ids import IdMap, save_ids
from recsys_cli.data.profile import profile
from recsys_cli.engines.spark import one_line, session, to_polars, to_spark
from recsys_cli.errors import ConfigError, DataError
from recsys_cli.layout import Layout
from recsys_cli.progress import status

ORDER = ["timestamp", "user_id", "item_id"]


def preprocess(df, cfg: PreprocessConfig):  # noqa: ANN001, ANN201 - Spark DataFrames in and out
    """``recsys_cli.data.preprocess.preprocess`` as Spark operations (same rows, same weights)."""
    from pyspark.sql import functions as F

    if cfg.quantity_weight != "none":
        raise ConfigError("engine=spark: data.preprocess.quantity_weight is not supported on Spark; use engine=local")
    stats: dict = {"input": df.count()}
    known = list(cfg.event_weights)
    is_known = F.coalesce(F.col("event").isin(known), F.lit(False))
    unknown = df.filter(~is_known).count()
    if unknown and not cfg.drop_unknown_events:
        raise DataError(f"events: {unknown:,} events have no weight in data.preprocess.event_weights "
                        f"(known: {', '.join(known)}); set data.preprocess.drop_unknown_events=true")
    df = df.filter(is_known)
    stats["dropped_unknown_event"] = unknown
    if cfg.rating_threshold is not None:
        before = df.count()
        df = df.filter(F.col("rating").isNull() | (F.col("rating") >= cfg.rating_threshold))
        stats["dropped_below_rating_threshold"] = before - df.count()
    if cfg.dedupe:
        before = df.count()
        df = df.dropDuplicates(["user_id", "item_id", "event", "timestamp"])
        stats["dropped_duplicates"] = before - df.count()
    if cfg.min_user_interactions > 1 or cfg.min_item_interactions > 1:
        before = df.count()
        while True:
            pairs = df.select("user_id", "item_id").distinct()
            users = pairs.groupBy("user_id").count().filter(F.col("count") >= cfg.min_user_interactions)
            items = pairs.groupBy("item_id").count().filter(F.col("count") >= cfg.min_item_interactions)
            kept = df.join(users.select("user_id"), "user_id", "left_semi").join(items.select("item_id"), "item_id",
                                                                                  "left_semi").cache()
            if kept.count() == df.count():
                df = kept
                break
            df = kept
        stats["dropped_kcore"] = before - df.count()
    mapping = F.create_map(*[x for k in known for x in (F.lit(k), F.lit(float(cfg.event_weights[k])))])
    weight = mapping[F.col("event")]
    if cfg.rating_as_weight:
        weight = F.when(F.col("rating").isNotNull(), F.col("rating") * weight).otherwise(weight)
    df = df.withColumn("weight", weight.cast("float"))
    stats["output"] = df.count()
    if stats["output"] == 0:
        raise DataError("events: no events left after preprocessing on Spark; check data.preprocess")
    return df, stats


@one_line
def ingest(cfg: Config) -> None:
    from recsys_cli.stages.ingest import complete_catalog, load_source

    spark = session(cfg.engine)
    raw = load_source(cfg)
    status(f"ingest (spark {cfg.engine.master}): {raw.description or cfg.data.source}")
    df, stats = preprocess(to_spark(spark, raw.events), cfg.data.preprocess)
    events = to_polars(df.orderBy(*ORDER)).cast(raw.events.schema | {"weight": pl.Float32})
    events = events.select([*raw.events.columns, "weight"])
    items = complete_catalog(raw.items, events)
    users = raw.users.unique("user_id", keep="first", maintain_order=True).sort("user_id")
    report = {"source": cfg.data.source, "description": raw.description, "engine": "spark",
              **({"read": raw.notes} if raw.notes else {}), "preprocess": stats, "catalog_items": items.height,
              "users_table_rows": users.height, "profile": profile(events, items)}
    with atomic_dir(cfg.paths.interim) as tmp:
        events.write_parquet(tmp / layout.EVENTS)
        items.write_parquet(tmp / layout.ITEMS)
        users.write_parquet(tmp / layout.USERS)
        (tmp / layout.INGEST_REPORT).write_text(json.dumps(report, indent=2) + "\n")
    status(f"ingest (spark): {events.height:,} events, {events['user_id'].n_unique():,} users, "
           f"{items.height:,} catalog items -> {cfg.paths.interim}")


def _cut(spark_df, n: int, q: float) -> datetime:  # noqa: ANN001
    """polars' ``quantile(q, "higher")`` of the epoch milliseconds, exactly, as ``percentile_disc`` on Spark."""
    from pyspark.sql import functions as F

    index = math.ceil(q * (n - 1))  # the element polars' "higher" takes
    qd = (index + 0.5) / n  # percentile_disc(qd) takes element ceil(qd * n) - 1 == index
    value = spark_df.select(F.expr(f"percentile_disc({qd!r}) WITHIN GROUP (ORDER BY ms)").alias("v")).first()["v"]
    return datetime.utcfromtimestamp(int(value) / 1000)


def cutoffs(df, n: int, cfg: SplitConfig) -> tuple[datetime, datetime]:  # noqa: ANN001
    from recsys_cli.data.splits import _parse_date

    ms = df.selectExpr("unix_millis(timestamp) AS ms")
    t2 = _parse_date(cfg.test_start, "split.test_start") if cfg.test_start else _cut(ms, n, 1.0 - cfg.test_frac)
    if cfg.valid_start:
        t1 = _parse_date(cfg.valid_start, "split.valid_start")
    else:
        q = 1.0 - cfg.test_frac - cfg.valid_frac
        if q <= 0:
            raise ConfigError("split.valid_frac + split.test_frac: must be < 1")
        t1 = _cut(ms, n, q) if cfg.valid_frac > 0 else t2
    if t1 > t2:
        raise ConfigError(f"split: the valid cutoff {t1} is after the test cutoff {t2}; set split.valid_start")
    return t1, t2


@one_line
def split(cfg: Config) -> None:
    from pyspark.sql import functions as F

    from recsys_cli.data.leakage import window_fingerprints
    from recsys_cli.data.splits import Split, report
    from recsys_cli.stages.inputs import need
    from recsys_cli.stages.split import print_report

    if cfg.split.method != "temporal" or cfg.split.targets != "all":
        raise ConfigError(f"split.method={cfg.split.method}: engine=spark splits on a global clock only "
                          "(split=temporal, targets all); use engine=local for the other protocols")
    spark = session(cfg.engine)
    lay = Layout.of(cfg)
    df = spark.read.parquet(str(need(lay.events, "ingest"))).cache()
    n = df.count()
    t1, t2 = cutoffs(df, n, cfg.split)
    catalog_ids = spark.read.parquet(str(need(lay.items, "ingest"))).select(F.col("item_id").alias("id"))
    user_ids = spark.read.parquet(str(need(lay.users, "ingest"))).select(F.col("user_id").alias("id"))
    # the local engine's vocabularies: sorted ids of the events and the users table / catalog
    users = IdMap.from_values(to_polars(df.select(F.col("user_id").alias("id")).union(user_ids).distinct())["id"])
    items = IdMap.from_values(to_polars(df.select(F.col("item_id").alias("id")).union(catalog_ids).distinct())["id"])
    uidx = to_spark(spark, pl.DataFrame({"user_id": users.ids, "user_idx": range(len(users))}).cast(
        {"user_idx": pl.Int32}))
    iidx = to_spark(spark, pl.DataFrame({"item_id": items.ids, "item_idx": range(len(items))}).cast(
        {"item_idx": pl.Int32}))
    indexed = df.join(F.broadcast(uidx), "user_id").join(F.broadcast(iidx), "item_id")
    ts = F.col("timestamp")
    train = indexed.filter(ts < F.lit(t1))
    train_users = train.select("user_id").distinct().withColumn("_u", F.lit(True))
    train_items = train.select("item_id").distinct().withColumn("_i", F.lit(True))

    def flagged(frame):  # noqa: ANN001, ANN202
        out = (frame.join(F.broadcast(train_users), "user_id", "left").join(F.broadcast(train_items), "item_id", "left")
               .withColumn("cold_user", F.col("_u").isNull()).withColumn("cold_item", F.col("_i").isNull())
               .drop("_u", "_i"))
        return out

    columns = [*df.columns, "user_idx", "item_idx", "cold_user", "cold_item"]
    windows = {
        "train": flagged(train),
        "valid": flagged(indexed.filter((ts >= F.lit(t1)) & (ts < F.lit(t2)))),
        "test": flagged(indexed.filter(ts >= F.lit(t2))),
    }
    frames = {name: to_polars(w.select(columns).orderBy(*ORDER)) for name, w in windows.items()}
    schema = pl.read_parquet_schema(lay.events)
    frames = {name: f.cast({c: schema[c] for c in schema if c in f.columns} | {"user_idx": pl.Int32,
                                                                              "item_idx": pl.Int32})
              for name, f in frames.items()}
    if frames["train"].height == 0 or frames["test"].height == 0:
        raise DataError(f"split: the temporal cutoffs t1={t1}, t2={t2} leave an empty train or test window")
    result = Split(frames["train"], frames["valid"], frames["test"],
                   info={"method": "temporal", "t1": str(t1), "t2": str(t2)})
    info = report(result)
    info["engine"] = "spark"
    info["fingerprints"] = window_fingerprints(result.windows())
    info["n_users_indexed"] = len(users)
    info["n_items_indexed"] = len(items)
    with atomic_dir(cfg.paths.processed) as tmp:
        for name, frame in result.windows().items():
            frame.write_parquet(tmp / layout.window_file(name))
        save_ids(tmp / layout.IDS, users, items)
        (tmp / layout.SPLIT_REPORT).write_text(json.dumps(info, indent=2) + "\n")
    df.unpersist()
    ingest_report = json.loads(lay.ingest_report.read_text()) if lay.ingest_report.is_file() else {}
    print_report(info, ingest_report.get("profile", {}))
    status(f"split (spark {cfg.engine.master}): temporal -> {cfg.paths.processed}")
