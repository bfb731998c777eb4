"""Per-user uncertainty and significance for evaluation metrics.

Every metric the evaluator reports is a mean over users; these helpers say how
sure that mean is and whether two models really differ.

  bootstrap_ci      mean and percentile-bootstrap CI of one per-user column
  bootstrap_table   the same for many columns, all from the SAME resampled users
  paired_compare    model B vs model A on the same users: paired bootstrap CI of
                    the mean difference, bootstrap and Wilcoxon p-values, verdict

Resampling is vectorised and memory-bounded: each chunk draws ``rows`` bootstrap
replicates of ``n`` user indices at once, with ``rows * n <= chunk_cells``
(default ``CHUNK_CELLS``), turns them into per-replicate user counts and gets
every column's replicate sums from one matrix-vector product per replicate. At
most about two chunk-sized arrays (indices, then counts) are alive at a time, so
the default keeps the working set near 4M numbers (~32 MB) even for 100K users.
Replicates are drawn in order from one ``numpy.random.default_rng(seed)`` stream
and each is reduced on its own, so the result is bit-identical for any chunk size.

NaN entries are treated as missing (e.g. ILD of a one-item list): a column's
mean is over the users that have a value, and in each replicate over the
resampled users that have one (a ratio estimator), so all columns still share
the same resampled users.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import stats

#: Max (replicate x user) cells resampled per chunk; peak memory is ~2x this many numbers.
CHUNK_CELLS = 2_000_000


def _resampled_means(
    matrix: np.ndarray, n_boot: int, seed: int, chunk_cells: int | None = None
) -> np.ndarray:
    """(n_boot, m) bootstrap replicate means of the columns of ``matrix`` (n users x m).

    Rows (users) are resampled with replacement; NaN cells are ignored (ratio
    estimator), so a replicate with no valid user for a column is NaN there.
    """
    n, m = matrix.shape
    chunk = CHUNK_CELLS if chunk_cells is None else int(chunk_cells)
    rows_per_chunk = max(1, chunk // max(n, 1))
    missing = np.isnan(matrix)
    has_missing = bool(missing.any())
    # counts @ rhs gives sums of values and (if needed) counts of valid users
    rhs = np.where(missing, 0.0, matrix)
    if has_missing:
        rhs = np.hstack([rhs, (~missing).astype(np.float64)])
    rhs_t = np.ascontiguousarray(rhs.T)  # (m or 2m) x n
    rng = np.random.default_rng(seed)
    out = np.empty((n_boot, m), dtype=np.float64)
    for start in range(0, n_boot, rows_per_chunk):
        rows = min(rows_per_chunk, n_boot - start)
        idx = rng.integers(0, n, size=(rows, n), dtype=np.int64)
        idx += (np.arange(rows, dtype=np.int64) * n)[:, None]  # row offsets for one bincount
        counts = np.bincount(idx.ravel(), minlength=rows * n)
        del idx
        counts = counts.reshape(rows, n).astype(np.float64)
        # one matrix-vector product per replicate (not one matrix product per chunk):
        # BLAS may round a row differently depending on how many rows it gets, and
        # the result must not depend on the chunk size
        prod = np.empty((rows, rhs_t.shape[0]))
        for r in range(rows):
            prod[r] = rhs_t @ counts[r]
        del counts
        if has_missing:
            with np.errstate(invalid="ignore", divide="ignore"):
                out[start : start + rows] = prod[:, :m] / prod[:, m:]
        else:
            out[start : start + rows] = prod / n
    return out


def _as_matrix(columns: Mapping[str, np.ndarray]) -> tuple[list[str], np.ndarray]:
    names = list(columns)
    arrays = [np.asarray(columns[k], dtype=np.float64).ravel() for k in names]
    lengths = {len(a) for a in arrays}
    if len(lengths) > 1:
        detail = ", ".join(f"{k}={len(a)}" for k, a in zip(names, arrays))
        raise ValueError(f"bootstrap_table: all columns must have one value per user, got lengths {detail}")
    n = lengths.pop() if lengths else 0
    return names, (np.column_stack(arrays) if arrays else np.empty((n, 0)))


def _nanmean_cols(matrix: np.ndarray) -> np.ndarray:
    valid = ~np.isnan(matrix)
    cnt = valid.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(valid, matrix, 0.0).sum(axis=0) / cnt


def _percentile_ci(reps: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Per column (lo, hi) percentiles of replicate means, NaN replicates ignored."""
    lo = np.full(reps.shape[1], np.nan)
    hi = np.full(reps.shape[1], np.nan)
    ok = ~np.all(np.isnan(reps), axis=0)
    if ok.any():
        q = np.nanquantile(reps[:, ok], [alpha / 2, 1 - alpha / 2], axis=0)
        lo[ok], hi[ok] = q[0], q[1]
    return lo, hi


def _check(n_boot: int, alpha: float) -> None:
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")


def bootstrap_table(
    columns: Mapping[str, np.ndarray],
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
    chunk_cells: int | None = None,
) -> dict[str, tuple[float, float, float]]:
    """{name: (mean, lo, hi)}: mean and percentile-bootstrap (1 - alpha) CI per column.

    ``columns`` maps metric names to per-user values in the same user order. The
    same resampled users are used for every column, so the intervals are
    mutually consistent. A column with no (non-NaN) values gives (nan, nan, nan);
    one with a single value v gives (v, v, v).
    """
    _check(n_boot, alpha)
    names, matrix = _as_matrix(columns)
    if not names:
        return {}
    means = _nanmean_cols(matrix)
    if matrix.shape[0] == 0:
        return {k: (float("nan"),) * 3 for k in names}
    reps = _resampled_means(matrix, n_boot, seed, chunk_cells)
    lo, hi = _percentile_ci(reps, alpha)
    return {k: (float(means[j]), float(lo[j]), float(hi[j])) for j, k in enumerate(names)}


def bootstrap_ci(
    values: np.ndarray,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
    chunk_cells: int | None = None,
) -> tuple[float, float, float]:
    """(mean, lo, hi): the mean over users and its percentile-bootstrap (1 - alpha) CI.

    Users are resampled with replacement ``n_boot`` times; lo/hi are the alpha/2 and
    1 - alpha/2 quantiles of the replicate means (linear interpolation, as
    ``scipy.stats.bootstrap(method='percentile')``). Empty input -> (nan, nan, nan);
    a single user -> (v, v, v). NaN values are treated as missing.
    """
    return bootstrap_table({"v": values}, n_boot=n_boot, alpha=alpha, seed=seed, chunk_cells=chunk_cells)["v"]


def _fmt_p(p: float) -> str:
    if np.isnan(p):
        return "p=n/a"
    return "p<0.0001" if p < 1e-4 else f"p={p:.4f}"


def paired_compare(
    a: np.ndarray,
    b: np.ndarray,
    n_boot: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
    *,
    metric: str = "",
    name_a: str = "A",
    name_b: str = "B",
    higher_is_better: bool = True,
    chunk_cells: int | None = None,
) -> dict[str, Any]:
    """Compare model B against model A on one metric, paired over the same users.

    ``a[i]`` and ``b[i]`` are the metric for user i under models A and B. Users with
    a NaN in either are dropped. Returns a dict with

      mean_a, mean_b   means over the compared users
      diff             mean of (b - a)
      diff_lo, diff_hi percentile CI of diff from a paired bootstrap (users resampled
                       with replacement, each keeping its (a, b) pair)
      p_bootstrap      two-sided: 2 * min(P*(d <= 0), P*(d >= 0)) over the bootstrap
                       replicates d of the mean difference, each share computed as
                       (count + 1) / (n_boot + 1) so it is never exactly 0; capped at 1
      p_wilcoxon       ``scipy.stats.wilcoxon(b - a, zero_method='wilcox')`` p-value
                       (zero differences dropped); nan when every difference is 0
      n_users          users compared
      significant      diff CI excludes 0 AND p_wilcoxon < alpha (both must agree)
      verdict          one line, e.g. "B is better than A: +0.0123 ndcg@10 (95% CI
                       +0.0051..+0.0190, Wilcoxon p=0.0012, 1,234 users)"

    Raises ValueError when a and b have different lengths.
    """
    _check(n_boot, alpha)
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(
            f"paired_compare needs the same users in the same order: len(a)={len(a)} != len(b)={len(b)}"
        )
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b = a[keep], b[keep]
    n = len(a)
    level = f"{100 * (1 - alpha):g}%"
    label = f" {metric}" if metric else ""
    nan = float("nan")
    if n == 0:
        return {
            "mean_a": nan, "mean_b": nan, "diff": nan, "diff_lo": nan, "diff_hi": nan,
            "p_bootstrap": nan, "p_wilcoxon": nan, "n_users": 0, "significant": False,
            "verdict": f"no users to compare {name_a} and {name_b}{label}",
        }  # fmt: skip
    d = b - a
    diff = float(d.mean())
    reps = _resampled_means(d[:, None], n_boot, seed, chunk_cells)[:, 0]
    lo, hi = (float(x) for x in np.quantile(reps, [alpha / 2, 1 - alpha / 2]))
    share_le = (np.count_nonzero(reps <= 0) + 1) / (n_boot + 1)
    share_ge = (np.count_nonzero(reps >= 0) + 1) / (n_boot + 1)
    p_boot = float(min(1.0, 2 * min(share_le, share_ge)))
    p_wil = nan if not np.any(d != 0) else float(stats.wilcoxon(d, zero_method="wilcox").pvalue)
    significant = bool((lo > 0 or hi < 0) and p_wil < alpha)  # nan < alpha is False
    detail = (
        f"{diff:+.4f}{label} ({level} CI {lo:+.4f}..{hi:+.4f}, "
        f"Wilcoxon {_fmt_p(p_wil)}, {n:,} users)"
    )
    if significant:
        better = (diff > 0) == higher_is_better
        verdict = f"{name_b} is {'better' if better else 'worse'} than {name_a}: {detail}"
    else:
        verdict = f"no significant difference between {name_a} and {name_b}: {detail}"
    return {
        "mean_a": float(a.mean()),
        "mean_b": float(b.mean()),
        "diff": diff,
        "diff_lo": lo,
        "diff_hi": hi,
        "p_bootstrap": p_boot,
        "p_wilcoxon": p_wil,
        "n_users": n,
        "significant": significant,
        "verdict": verdict,
    }
