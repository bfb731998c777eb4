"""Bootstrap CIs and paired significance tests for per-user metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from recsys_cli.evaluation import significance as sig
from recsys_cli.evaluation.significance import bootstrap_ci, bootstrap_table, paired_compare


def ndcg_like(rng: np.random.Generator, n: int, p_zero: float = 0.6) -> np.ndarray:
    """Skewed per-user values in [0, 1]: many exact zeros (no hit), the rest spread out."""
    return np.where(rng.random(n) < p_zero, 0.0, rng.beta(2.0, 3.0, n))


# ----------------------------------------------------------------------------- bootstrap_ci


def test_bootstrap_ci_agrees_with_scipy_percentile_bootstrap() -> None:
    x = ndcg_like(np.random.default_rng(7), 400)
    b = 20_000
    mean, lo, hi = bootstrap_ci(x, n_boot=b, alpha=0.05, seed=1)
    ref = stats.bootstrap(
        (x,), np.mean, n_resamples=b, confidence_level=0.95, method="percentile",
        vectorized=True, rng=np.random.default_rng(2),
    ).confidence_interval  # fmt: skip
    assert mean == pytest.approx(x.mean(), rel=1e-12)
    # Monte Carlo error: the bootstrap mean is ~normal with sd se; the 2.5% quantile of
    # B draws has sd ~ sqrt(q(1-q)/B) / phi(1.96) * se = 0.019 se at B=20000, so two
    # independent runs differ by ~0.027 se. 0.15 se is > 5 MC standard errors, yet far
    # below the 0.31 se shift of using the 90% instead of the 95% quantiles.
    se = x.std(ddof=1) / math.sqrt(len(x))
    tol = 0.15 * se
    assert tol < (stats.norm.ppf(0.975) - stats.norm.ppf(0.95)) * se / 2
    assert lo == pytest.approx(ref.low, abs=tol)
    assert hi == pytest.approx(ref.high, abs=tol)
    assert lo < mean < hi
    # and the interval has the normal-theory width (skew is mild at n=400)
    assert (hi - lo) == pytest.approx(2 * 1.96 * se, rel=0.1)


def test_bootstrap_ci_covers_the_true_mean_about_95_percent_of_the_time() -> None:
    # zero-inflated uniform: 0 with prob 0.5, else U(0, 1) -> true mean 0.25
    rng = np.random.default_rng(123)
    true_mean, hits, n_sets = 0.25, 0, 200
    for i in range(n_sets):
        x = np.where(rng.random(200) < 0.5, 0.0, rng.random(200))
        _, lo, hi = bootstrap_ci(x, n_boot=1000, seed=i)
        hits += lo <= true_mean <= hi
    coverage = hits / n_sets
    assert 0.90 <= coverage <= 0.99, coverage


def test_chunking_does_not_change_results(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    x = ndcg_like(rng, 1000)
    y = np.where(rng.random(1000) < 0.2, np.nan, rng.random(1000))  # with missing values

    chunks = 0
    real_bincount = np.bincount

    def counting_bincount(*args, **kwargs):  # one bincount per chunk
        nonlocal chunks
        chunks += 1
        return real_bincount(*args, **kwargs)

    monkeypatch.setattr(sig.np, "bincount", counting_bincount)
    one = bootstrap_ci(x, n_boot=300, seed=5)
    assert chunks == 1  # 300 x 1000 cells fit in the default chunk
    chunks = 0
    many = bootstrap_ci(x, n_boot=300, seed=5, chunk_cells=3500)  # 3 replicates per chunk
    assert chunks == 100
    assert many == one  # bit-identical, not just close
    assert bootstrap_ci(x, n_boot=300, seed=5, chunk_cells=1) == one  # one replicate per chunk

    monkeypatch.setattr(sig, "CHUNK_CELLS", 7000)  # the module default, 7 per chunk (last one partial)
    chunks = 0
    table = bootstrap_table({"x": x, "y": y}, n_boot=300, seed=5)
    assert chunks == math.ceil(300 / 7)
    monkeypatch.setattr(sig, "CHUNK_CELLS", 10**9)
    assert bootstrap_table({"x": x, "y": y}, n_boot=300, seed=5) == table

    a, b = x, np.clip(x + 0.01 * rng.standard_normal(1000), 0, 1)
    assert paired_compare(a, b, n_boot=300, chunk_cells=2000) == paired_compare(a, b, n_boot=300)


def test_bootstrap_ci_edge_cases() -> None:
    assert all(math.isnan(v) for v in bootstrap_ci(np.array([])))
    assert bootstrap_ci(np.array([0.37])) == (0.37, 0.37, 0.37)
    assert bootstrap_ci(np.full(50, 0.5)) == pytest.approx((0.5, 0.5, 0.5))
    # NaN = missing: the mean is over users with a value
    mean, lo, hi = bootstrap_ci(np.array([1.0, np.nan, 3.0, np.nan]), n_boot=500)
    assert mean == 2.0 and 1.0 <= lo <= mean <= hi <= 3.0
    assert all(math.isnan(v) for v in bootstrap_ci(np.array([np.nan, np.nan])))
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_ci(np.ones(3), n_boot=0)


def test_bootstrap_is_deterministic_per_seed() -> None:
    x = ndcg_like(np.random.default_rng(11), 300)
    assert bootstrap_ci(x, seed=4) == bootstrap_ci(x, seed=4)
    assert bootstrap_ci(x, seed=4) != bootstrap_ci(x, seed=5)


# ----------------------------------------------------------------------------- bootstrap_table


def test_bootstrap_table_resamples_the_same_users_for_every_column() -> None:
    x = ndcg_like(np.random.default_rng(8), 500)
    table = bootstrap_table({"x": x, "neg": -x, "affine": 2 * x + 1}, n_boot=800, seed=9)
    mx, lx, hx = table["x"]
    assert (mx, lx, hx) == pytest.approx(bootstrap_ci(x, n_boot=800, seed=9), rel=1e-12)
    # with the same resampled users, transformed columns give exactly transformed CIs;
    # independent resamples per column would miss these by ~0.05 se or more
    mn, ln, hn = table["neg"]
    assert (mn, ln, hn) == pytest.approx((-mx, -hx, -lx), rel=1e-12)
    ma, la, ha = table["affine"]
    assert (ma, la, ha) == pytest.approx((2 * mx + 1, 2 * lx + 1, 2 * hx + 1), rel=1e-12)


def test_bootstrap_table_checks_lengths_and_handles_empty() -> None:
    assert bootstrap_table({}) == {}
    assert all(math.isnan(v) for v in bootstrap_table({"a": np.array([])})["a"])
    with pytest.raises(ValueError, match="a=3, b=2"):
        bootstrap_table({"a": np.ones(3), "b": np.ones(2)})


# ----------------------------------------------------------------------------- paired_compare


def test_paired_compare_detects_a_real_improvement() -> None:
    rng = np.random.default_rng(21)
    a = ndcg_like(rng, 1500)
    b = a + np.where(rng.random(1500) < 0.8, 0.02, 0.0)  # +0.02 for 80% of users
    r = paired_compare(a, b, metric="ndcg@10")
    assert r["n_users"] == 1500
    assert r["mean_a"] == pytest.approx(a.mean()) and r["mean_b"] == pytest.approx(b.mean())
    assert r["diff"] == pytest.approx(0.016, abs=0.002)
    assert 0 < r["diff_lo"] < r["diff"] < r["diff_hi"]
    assert r["p_wilcoxon"] < 1e-6 and r["p_bootstrap"] < 0.01
    assert r["significant"] is True
    assert r["verdict"] == (
        f"B is better than A: {r['diff']:+.4f} ndcg@10 (95% CI {r['diff_lo']:+.4f}..{r['diff_hi']:+.4f}, "
        "Wilcoxon p<0.0001, 1,500 users)"
    )

    worse = paired_compare(b, a, metric="ndcg@10")
    assert worse["significant"] and worse["diff_hi"] < 0
    assert worse["verdict"].startswith(f"B is worse than A: {-r['diff']:+.4f} ndcg@10")
    named = paired_compare(a, b, name_a="als", name_b="hybrid", higher_is_better=False)
    assert named["verdict"].startswith("hybrid is worse than als")


def test_paired_compare_false_positive_rate_stays_near_alpha() -> None:
    fp_sig = fp_boot = 0
    for seed in range(100):
        rng = np.random.default_rng(1000 + seed)
        a, b = ndcg_like(rng, 300), ndcg_like(rng, 300)  # same distribution, no effect
        r = paired_compare(a, b, n_boot=500, seed=seed)
        fp_sig += r["significant"]
        fp_boot += r["p_bootstrap"] < 0.05
        if not r["significant"]:
            assert r["verdict"].startswith("no significant difference between A and B")
    assert fp_sig <= 10
    assert fp_boot <= 10


@pytest.mark.parametrize("n", [20, 400])  # exact and normal-approximation Wilcoxon
def test_p_wilcoxon_is_scipys_with_ties_and_zeros(n: int) -> None:
    rng = np.random.default_rng(n)
    a = rng.integers(0, 5, n) / 4  # coarse values: tied and zero differences
    b = np.clip(a + rng.integers(-1, 3, n) / 4, 0, 1)
    r = paired_compare(a, b)
    assert r["p_wilcoxon"] == pytest.approx(stats.wilcoxon(b, a, zero_method="wilcox").pvalue, rel=1e-12)
    c = a + rng.normal(0.05, 0.1, n)  # no ties: the exact test for n=20
    assert paired_compare(a, c)["p_wilcoxon"] == pytest.approx(
        stats.wilcoxon(c, a, zero_method="wilcox").pvalue, rel=1e-12
    )


def test_significant_needs_both_the_ci_and_wilcoxon() -> None:
    a = np.full(100, 0.5)
    # few big gains, many small losses: the mean clearly moves, the signed ranks do not
    b = a + np.r_[np.full(30, 0.4), np.full(70, -0.04)]
    r = paired_compare(a, b)
    assert r["diff_lo"] > 0 and r["p_wilcoxon"] > 0.05
    assert r["significant"] is False and r["verdict"].startswith("no significant difference")
    # many small gains, few big losses: the ranks move, the mean does not
    b = a + np.r_[np.full(90, 0.04), np.full(10, -0.36)]
    r = paired_compare(a, b)
    assert r["diff_lo"] < 0 < r["diff_hi"] and r["p_wilcoxon"] < 0.05
    assert r["significant"] is False


def test_all_zero_differences_are_not_significant() -> None:
    a = ndcg_like(np.random.default_rng(5), 200)
    r = paired_compare(a, a.copy(), metric="recall@20")
    assert math.isnan(r["p_wilcoxon"])
    assert r["diff"] == 0 and r["diff_lo"] == 0 and r["diff_hi"] == 0
    assert r["p_bootstrap"] == 1.0
    assert r["significant"] is False
    assert r["verdict"].startswith("no significant difference") and "p=n/a" in r["verdict"]
    # a single nonzero difference: CI may exclude 0 only by luck, Wilcoxon cannot confirm
    b = a.copy()
    b[0] += 0.5
    one = paired_compare(a, b)
    assert one["significant"] is False
    assert one["p_wilcoxon"] == pytest.approx(stats.wilcoxon(b, a, zero_method="wilcox").pvalue)
    assert one["p_wilcoxon"] > 0.05


def test_paired_compare_is_deterministic_and_checks_lengths() -> None:
    rng = np.random.default_rng(2)
    a, b = ndcg_like(rng, 400), ndcg_like(rng, 400)
    assert paired_compare(a, b, seed=3) == paired_compare(a, b, seed=3)
    assert paired_compare(a, b, seed=3)["diff_lo"] != paired_compare(a, b, seed=4)["diff_lo"]
    with pytest.raises(ValueError, match=r"len\(a\)=400 != len\(b\)=399"):
        paired_compare(a, b[:-1])


def test_paired_compare_drops_users_with_missing_values_and_handles_none() -> None:
    a = np.array([0.1, np.nan, 0.3, 0.5])
    b = np.array([0.2, 0.4, np.nan, 0.7])
    r = paired_compare(a, b)
    assert r["n_users"] == 2
    assert r["diff"] == pytest.approx(0.15)
    empty = paired_compare(np.array([]), np.array([]))
    assert empty["n_users"] == 0 and empty["significant"] is False and math.isnan(empty["diff"])
