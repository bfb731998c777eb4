"""The statistics of an online experiment report: intervals, tests, posteriors, sample-ratio mismatch.

Plain numpy/scipy functions on counts and per-unit values; nothing here
knows about stores or servers.
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def wilson(successes: int, trials: int, alpha: float = 0.05) -> tuple[float | None, float | None]:
    """Wilson score interval of a proportion (good near 0, where CTRs live)."""
    if trials <= 0:
        return None, None
    z = float(stats.norm.ppf(1 - alpha / 2))
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * np.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def two_proportion(s1: int, n1: int, s2: int, n2: int) -> tuple[float | None, float | None]:
    """Pooled two-proportion z-test of arm 2 against arm 1: (z, two-sided p)."""
    if n1 <= 0 or n2 <= 0:
        return None, None
    pooled = (s1 + s2) / (n1 + n2)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 0.0, 1.0
    z = (s2 / n2 - s1 / n1) / se
    return float(z), float(2 * stats.norm.sf(abs(z)))


def bootstrap_mean(values: np.ndarray, n_boot: int, alpha: float, rng: np.random.Generator
                   ) -> tuple[float | None, float | None]:
    """Percentile interval of the mean of ``values`` (one value per unit, e.g. revenue per user)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return None, None
    idx = rng.integers(0, values.size, size=(n_boot, values.size))
    means = values[idx].mean(axis=1)
    return float(np.quantile(means, alpha / 2)), float(np.quantile(means, 1 - alpha / 2))


def bootstrap_ratio(numerator: np.ndarray, denominator: np.ndarray, n_boot: int, alpha: float,
                    rng: np.random.Generator, scale: float = 1.0) -> tuple[float | None, float | None]:
    """Percentile interval of sum(num) / sum(den) resampling units (e.g. revenue per 1,000 impressions by list)."""
    num, den = np.asarray(numerator, float), np.asarray(denominator, float)
    if num.size == 0 or den.sum() == 0:
        return None, None
    idx = rng.integers(0, num.size, size=(n_boot, num.size))
    ratios = scale * num[idx].sum(axis=1) / np.maximum(den[idx].sum(axis=1), 1e-12)
    return float(np.quantile(ratios, alpha / 2)), float(np.quantile(ratios, 1 - alpha / 2))


def bootstrap_difference(a: np.ndarray, b: np.ndarray, n_boot: int, alpha: float, rng: np.random.Generator
                         ) -> tuple[float | None, float | None, float | None]:
    """Mean(b) - mean(a) with a percentile interval and a two-sided bootstrap p-value (independent samples)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.size == 0 or b.size == 0:
        return None, None, None
    da = a[rng.integers(0, a.size, size=(n_boot, a.size))].mean(axis=1)
    db = b[rng.integers(0, b.size, size=(n_boot, b.size))].mean(axis=1)
    diff = db - da
    p = 2 * min((diff <= 0).mean(), (diff >= 0).mean())
    return float(np.quantile(diff, alpha / 2)), float(np.quantile(diff, 1 - alpha / 2)), float(min(1.0, p))


def probability_best(successes: list[int], trials: list[int], draws: int = 20_000, seed: int = 0) -> list[float]:
    """P(arm has the highest rate) under independent Beta(1 + s, 1 + n - s) posteriors, by Monte Carlo."""
    rng = np.random.default_rng(seed)
    s, n = np.asarray(successes, float), np.asarray(trials, float)
    samples = rng.beta(1 + s[:, None], 1 + np.maximum(n - s, 0)[:, None], size=(s.size, draws))
    best = np.argmax(samples, axis=0)
    return [float((best == i).mean()) for i in range(s.size)]


def sample_ratio_mismatch(observed: list[int], weights: list[float]) -> tuple[float | None, float | None]:
    """Chi-square test of the units per arm against the configured split: (statistic, p)."""
    obs = np.asarray(observed, float)
    if obs.sum() == 0:
        return None, None
    w = np.asarray(weights, float)
    expected = obs.sum() * w / w.sum()
    chi2, p = stats.chisquare(obs, expected)
    return float(chi2), float(p)
