"""Every metric broken out by segment: user activity, user attributes, new vs existing items.

Activity (by train-history length, i.e. distinct items in the fit window):
  cold  no history (scored through the fallback)
  warm  1 .. the ``hot_quantile`` quantile of history length among all users with history
  hot   above it
User attributes: every low-cardinality column of the user table (age band,
gender, location, device, ...); a numeric ``age`` becomes 10-year bands.
Items: metrics recomputed against only the new items (no train event) or only
the existing ones, on the same lists, over users with at least one such target.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

MAX_LEVELS = 24  # a user column with more distinct values is not a segment


def activity(history_len: np.ndarray, hot_quantile: float) -> tuple[np.ndarray, int]:
    """Label each user cold / warm / hot; returns the labels and the hot threshold (history length)."""
    history_len = np.asarray(history_len)
    with_history = history_len[history_len > 0]
    threshold = int(np.quantile(with_history, hot_quantile)) if with_history.size else 0
    labels = np.where(history_len == 0, "cold", np.where(history_len > threshold, "hot", "warm"))
    return labels, threshold


def user_attributes(users: pl.DataFrame) -> pl.DataFrame:
    """The segmenting columns of a user table (user_idx plus low-cardinality attributes)."""
    out = [pl.col("user_idx")]
    for name, dtype in users.schema.items():
        if name in ("user_idx", "user_id"):
            continue
        if name == "age" and dtype.is_numeric():
            decade = ((pl.col("age") // 10) * 10).cast(pl.Int64).cast(pl.Utf8)
            out.append(pl.concat_str(decade, pl.lit("s")).alias("age_band"))
        elif dtype in (pl.Utf8, pl.Categorical, pl.Boolean) or dtype.is_integer():
            if 1 < users[name].n_unique() <= MAX_LEVELS:
                out.append(pl.col(name).cast(pl.Utf8))
    return users.select(out)


def breakdown(per_user: pl.DataFrame, by: str, metrics: list[str]) -> dict[str, dict[str, Any]]:
    """Mean of each metric per level of ``by`` (with the user count); null levels are 'unknown'."""
    if per_user.height == 0 or by not in per_user.columns:
        return {}
    metrics = [m for m in metrics if m in per_user.columns]
    values = per_user.select(metrics).to_numpy().astype(np.float64) if metrics else np.zeros((per_user.height, 0))
    return means_by(per_user[by].cast(pl.Utf8).fill_null("unknown").to_numpy(), values, metrics)


def means_by(labels: np.ndarray, values: np.ndarray, metrics: list[str]) -> dict[str, dict[str, Any]]:
    """Per level of ``labels``: user count and the mean of each column of ``values``.

    NaN values (e.g. diversity of a one-item list) are left out of that
    metric's mean. One indicator-matrix product for all metrics and levels.
    """
    levels, codes = np.unique(labels, return_inverse=True)
    onehot = np.zeros((levels.size, labels.size))
    onehot[codes, np.arange(labels.size)] = 1.0
    finite = np.isfinite(values)
    sums, counts = onehot @ np.where(finite, values, 0.0), onehot @ finite
    users = onehot.sum(axis=1)
    out: dict[str, dict[str, Any]] = {}
    for i, level in enumerate(levels):
        row: dict[str, Any] = {"users": int(users[i])}
        for j, m in enumerate(metrics):
            row[m] = round(float(sums[i, j] / counts[i, j]), 6) if counts[i, j] else None
        out[str(level)] = row
    return out
