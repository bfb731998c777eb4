"""The Spark engine (``engine=spark``): ingest, split, ALS, batch-recommend and eval on Apache Spark.

Each module writes exactly the files of the local engine (``recsys_cli/layout.py``),
so features, tune, export and serve run unchanged after it. ``engine.master``
picks the cluster (``local[*]`` by default, ``spark://host:7077``, ...).
pyspark is the ``.[spark]`` extra and needs Java 17.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar

from recsys_cli.config import EngineConfig
from recsys_cli.errors import ConfigError, RecsysError

F = TypeVar("F", bound=Callable[..., Any])


class SparkError(RecsysError):
    """A Spark job failed: its first line, no JVM stack."""


def one_line(fn: F) -> F:
    """Spark's own errors (analysis, Py4J, a lost executor) as one ``SparkError`` line."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except RecsysError:
            raise
        except Exception as exc:  # noqa: BLE001 - pyspark raises many kinds; the user gets one line
            if type(exc).__module__.split(".")[0] not in ("pyspark", "py4j"):
                raise
            first = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
            raise SparkError(f"spark ({fn.__module__.rsplit('.', 1)[-1]}.{fn.__name__}): {first[:300]}") from None

    return wrapper  # type: ignore[return-value]

_SESSION: dict[str, Any] = {}


def session(cfg: EngineConfig) -> Any:
    """The SparkSession of this process (built once per master), quiet, with the configured settings."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError("engine=spark needs pyspark: pip install -e '.[spark]' (and Java 17)") from None
    key = cfg.master
    if key in _SESSION:
        return _SESSION[key]
    os.environ.setdefault("PYSPARK_PYTHON", __import__("sys").executable)
    builder = (SparkSession.builder.master(cfg.master).appName("recsys")
               .config("spark.driver.memory", cfg.driver_memory)
               .config("spark.sql.shuffle.partitions", str(cfg.partitions))
               .config("spark.default.parallelism", str(cfg.partitions))
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.sql.execution.arrow.pyspark.enabled", "true")
               .config("spark.ui.enabled", "false")
               .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
               .config("spark.executor.extraJavaOptions", "-Duser.timezone=UTC"))
    for k, v in cfg.conf.items():
        builder = builder.config(k, v)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # noqa: BLE001 - no Java, a bad master: one line
        raise ConfigError(f"engine.master={cfg.master}: Spark did not start ({str(exc).splitlines()[0][:200]})") from None
    spark.sparkContext.setLogLevel("ERROR")
    _SESSION[key] = spark
    return spark


def to_spark(spark: Any, frame: Any) -> Any:
    """A polars frame as a Spark DataFrame (through Arrow)."""
    return spark.createDataFrame(frame.to_arrow())


def to_polars(df: Any) -> Any:
    """A Spark DataFrame collected as a polars frame (through Arrow)."""
    import polars as pl

    return pl.from_arrow(df.toArrow())
