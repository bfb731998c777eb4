"""eval: metrics of the trained model.

Ranking (the default): full ranking over every item on the test window.
Headline metrics are over users with history and at least one relevant test
item; users with no history are scored through the fallback and reported as
their own ``cold.`` segment, never mixed in. Items the model saw for a user,
and items in ``eval.exclude_windows``, are excluded from lists and targets.

Rating (``eval.task=rating``): RMSE/MAE of predicted ratings on the test
window, or ``eval.folds``-fold cross-validation over all ratings.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import polars as pl
from rich.table import Table

from recsys_cli import layout
from recsys_cli.atomic import atomic_file, write_text
from recsys_cli.config import Config, fingerprint
from recsys_cli.errors import ConfigError
from recsys_cli.evaluation.rating import kfold, rmse_mae
from recsys_cli.layout import Layout
from recsys_cli.models import TrainData, build
from recsys_cli.progress import progress_bar, status, stdout
from recsys_cli.stages.eval_setup import load_setup
from recsys_cli.stages.inputs import ids, matrix, model_dir, read_json, trained_model, window

EVAL_LISTS = layout.EVAL_LISTS  # in reports/: user_id, rank, item_id, score, cold


def fit_windows(cfg: Config) -> list[str]:
    info = read_json(model_dir(cfg) / layout.TRAIN_INFO, f"train model={cfg.model.name}")
    return list(info.get("fit_windows", ["train"]))


def run(cfg: Config) -> None:
    if cfg.eval.task == "rating":
        metrics = run_rating(cfg)
    else:
        metrics = run_ranking(cfg)
    metrics["config_sha256"] = fingerprint(cfg)
    reports = cfg.paths.reports_dir
    write_text(reports / layout.METRICS, json.dumps(metrics, indent=2) + "\n")
    write_text(reports / layout.HEADLINE, json.dumps(headline(cfg, metrics), indent=2) + "\n")
    write_text(reports / "config.yaml", cfg.to_yaml())
    status(f"eval: -> {reports / layout.METRICS} (headline: {reports / layout.HEADLINE})")


def headline(cfg: Config, metrics: dict[str, Any]) -> dict[str, Any]:
    """The few numbers `dvc exp show` lists (metrics.json keeps them all), at the eval metric's cutoff."""
    k = cfg.eval.metric.partition("@")[2] or str(max(cfg.eval.k))
    keys = ("model", *(f"{m}@{k}" for m in ("ndcg", "recall", "map", "hit_rate", "coverage")), "users",
            f"cold.ndcg@{k}", "cold.users", "business.ctr", "business.revenue_per_1000", "rmse", "mae")
    return {key: metrics[key] for key in keys if key in metrics}


# ------------------------------------------------------------------- ranking


def run_ranking(cfg: Config) -> dict[str, Any]:
    from recsys_cli.stages.eval_ranking import score, warn_sampled
    from recsys_cli.stages.eval_rolling import fold_names, rolling

    warn_sampled(cfg)
    ids(cfg)  # the earliest missing input names the stage to run first
    model, fallback = trained_model(cfg)
    setup = load_setup(cfg, fit_windows(cfg))
    spark_metrics: dict[str, Any] = {}
    from recsys_cli.engines import runs_on

    if runs_on(cfg, "eval") == "spark" and setup.foldin is None and not cfg.eval.sampled:
        from recsys_cli.engines.spark import evaluate as spark_eval

        warm = setup.test_users[setup.known[setup.test_users]]
        model, spark_metrics = spark_eval.rank(cfg, model, warm, setup.seen, setup.relevant, max(cfg.eval.k))
    outcome = score(cfg, setup, model, fallback)
    metrics = outcome.metrics
    if spark_metrics:
        metrics.update(spark_metrics)
        metrics["engine"] = "spark"
    metrics["protocol"] = protocol(cfg, setup)
    if fold_names(cfg):  # headline = mean over folds, with its spread; per-fold intervals would mislead
        metrics = {k: v for k, v in metrics.items() if ".ci_" not in k}
        metrics.update(rolling(cfg, metrics))
        outcome.metrics = metrics
    business = business_metrics(cfg, setup, outcome, fallback)
    metrics.update(business)
    write_ranking_reports(cfg, metrics, outcome)
    print_ranking(cfg, metrics, outcome, setup)
    return metrics


def protocol(cfg: Config, setup: Any) -> str:
    split = read_json(Layout.of(cfg).split_report, "split")
    relevance = "any test event" if cfg.eval.relevant_events is None else "+".join(cfg.eval.relevant_events)
    ranking = f"sampled ({cfg.eval.sampled} negatives)" if cfg.eval.sampled else "full ranking"
    targets = "; new items only" if split.get("targets") == "new_items" else ""
    seen = f"seen in {'+'.join(setup.excluded)} excluded" if cfg.eval.exclude_seen else "seen items kept"
    return f"{split.get('method')} split{targets}; {ranking}; relevant = {relevance}; {seen}"


def business_metrics(cfg: Config, setup: Any, outcome: Any, fallback: Any) -> dict[str, Any]:
    """Expected CTR / conversion / revenue per 1,000 recommendations under the synthetic shop's own model."""
    from recsys_cli.evaluation import business

    response = business.for_config(cfg)
    if response is None or outcome.warm is None or outcome.warm.users.size == 0:
        return {}
    from recsys_cli.topk import popular_lists

    warm = outcome.warm
    k = 10 if 10 in cfg.eval.k else max(cfg.eval.k)
    top = warm.top[:, :k]
    item_ids = np.asarray(setup.items.ids, dtype=object)
    to_ids = lambda t: np.where(t >= 0, item_ids[np.maximum(t, 0)], None)  # noqa: E731
    user_ids = np.asarray(setup.users.ids, dtype=object)[warm.users]
    exclude = setup.seen[warm.users] if cfg.eval.exclude_seen else None
    pop_top = popular_lists(fallback.order(), exclude, k)
    result = business.business_metrics(response, user_ids, to_ids(top), popular_item_ids=to_ids(pop_top))
    return {f"business.{key}": (round(v, 6) if isinstance(v, float) else v) for key, v in result.items()}


def write_ranking_reports(cfg: Config, metrics: dict[str, Any], outcome: Any) -> None:
    from recsys_cli.evaluation import plots
    from recsys_cli.stages.eval_ranking import BEYOND, HEADLINE, curve

    reports = cfg.paths.reports_dir
    ks = sorted(cfg.eval.k)
    accuracy = curve(metrics, ks, HEADLINE)
    beyond = curve(metrics, ks, (*BEYOND, "coverage", "gini"))
    write_text(reports / "plots" / "metrics_at_k.json", json.dumps(accuracy, indent=2) + "\n")
    write_text(reports / "plots" / "beyond_at_k.json", json.dumps(beyond, indent=2) + "\n")
    write_text(reports / layout.SEGMENTS, json.dumps(outcome.segments, indent=2, default=str) + "\n")
    activity = outcome.segments.get("activity", {})
    write_text(reports / "plots" / "segments.json", json.dumps(
        [{"segment": name, "users": row["users"], "metric": cfg.eval.metric, "value": row.get(cfg.eval.metric)}
         for name, row in activity.items()],
        indent=2) + "\n")
    if outcome.per_user.height:
        with atomic_file(reports / layout.PER_USER) as tmp:
            outcome.per_user.write_parquet(tmp)
    if outcome.lists is not None:  # the lists scored: recompute any metric with ranx / trec_eval / pandas
        with atomic_file(reports / EVAL_LISTS) as tmp:
            outcome.lists.write_parquet(tmp)
    title = f"{cfg.model.name}: {metrics['protocol']}"
    plots.metrics_at_k(accuracy, ("ndcg", "recall", "precision", "map"), title, reports / "plots" / "metrics_at_k.png")
    plots.metrics_at_k(beyond, ("coverage", "gini", "popularity", "serendipity"), f"{cfg.model.name}: beyond accuracy",
                       reports / "plots" / "beyond_at_k.png")
    if activity:
        plots.segment_bars(activity, cfg.eval.metric, f"{cfg.model.name}: {cfg.eval.metric} by user activity",
                           reports / "plots" / "segments_activity.png")


def print_ranking(cfg: Config, metrics: dict[str, Any], outcome: Any, setup: Any) -> None:
    from recsys_cli.stages.eval_ranking import BEYOND, HEADLINE

    ks = sorted(cfg.eval.k)
    table = Table(title=f"{metrics['model']} on the test window ({metrics.get('users', 0):,} users with history)")
    table.add_column("metric")
    for k in ks:
        table.add_column(f"@{k}", justify="right")
    if f"ndcg@{ks[0]}.ci_low" in metrics:
        table.add_column(f"{1 - cfg.eval.alpha:.0%} CI @{ks[-1]}", justify="right")
    for name in (*HEADLINE, "recall_capped", "map_capped", *BEYOND, "coverage", "gini"):
        if f"{name}@{ks[0]}" in metrics:
            row = [f"{metrics[f'{name}@{k}']:.4f}" for k in ks]
            if f"ndcg@{ks[0]}.ci_low" in metrics:
                lo, hi = metrics.get(f"{name}@{ks[-1]}.ci_low"), metrics.get(f"{name}@{ks[-1]}.ci_high")
                row.append(f"{lo:.4f}-{hi:.4f}" if lo is not None else "")
            table.add_row(name, *row)
    stdout.print(table)
    print_segments(cfg, outcome.segments)
    if any(k.startswith("business.") for k in metrics):
        biz = Table(title=f"business proxies per recommendation slot (top-{10 if 10 in ks else ks[-1]}, the shop's own response model)")
        for col in ("", cfg.model.name, "random", "popularity", "lift vs random", "lift vs popularity"):
            biz.add_column(col, justify="right" if col else "left")
        for m in ("ctr", "conversion", "revenue_per_1000"):
            cells = [metrics.get(f"business.{m}"), metrics.get(f"business.random.{m}"),
                     metrics.get(f"business.popularity.{m}"), metrics.get(f"business.lift_vs_random.{m}"),
                     metrics.get(f"business.lift_vs_popularity.{m}")]
            value = (lambda c: f"{c:.3%}") if m != "revenue_per_1000" else (lambda c: f"{c:,.2f}")
            fmt = [(value(c) if i < 3 else f"{c:+.1%}") if isinstance(c, (int, float)) else "-"
                   for i, c in enumerate(cells)]
            biz.add_row(m, *fmt)
        stdout.print(biz)
    cold_n = metrics.get("cold.users", 0)
    cold_txt = f"; cold users ({cold_n:,}, popularity fallback) ndcg@10 {metrics['cold.ndcg@10']:.4f}" if "cold.ndcg@10" in metrics else ""
    folds = f"; {metrics['folds']} rolling folds, {cfg.eval.metric} {metrics[cfg.eval.metric]:.4f} +- {metrics.get(cfg.eval.metric + '.std', 0):.4f}" if "folds" in metrics else ""
    status(f"eval: {metrics['protocol']}{cold_txt}{folds}")


def print_segments(cfg: Config, segments: dict[str, Any]) -> None:
    if not segments:
        return
    metric = cfg.eval.metric
    table = Table(title=f"{metric} by segment")
    for col in ("segment", "level", "users", metric):
        table.add_column(col, justify="right" if col in ("users", metric) else "left")
    for level, row in segments.get("activity", {}).items():
        table.add_row("activity", level, f"{row['users']:,}", f"{row.get(metric, float('nan')):.4f}")
    for level, row in segments.get("items", {}).items():
        table.add_row("target items", level, f"{row['users']:,}", f"{row[metric]:.4f}" if metric in row else "-")
    for column, levels in segments.get("users", {}).items():
        if len(levels) > 8:  # long breakdowns (e.g. location) are in reports/segments.json only
            continue
        for level, row in levels.items():
            table.add_row(column, level, f"{row['users']:,}", f"{row.get(metric, float('nan')):.4f}")
    stdout.print(table)


# -------------------------------------------------------------------- rating


def _require_predict(model: Any, name: str) -> None:
    if not hasattr(model, "predict"):
        raise ConfigError(f"eval.task=rating: model {name!r} does not predict ratings (use svd, svdpp, knnbaseline)")


def run_rating(cfg: Config) -> dict[str, Any]:
    if cfg.eval.folds:
        return cross_validate(cfg)
    users, items = ids(cfg)
    model, _ = trained_model(cfg)
    _require_predict(model, cfg.model.name)
    test = window(cfg, "test").filter(pl.col("rating").is_not_null())
    if test.height == 0:
        raise ConfigError("eval.task=rating: the test window has no ratings (this data has no explicit ratings)")
    pred = model.predict(test["user_idx"].to_numpy(), test["item_idx"].to_numpy())
    result = rmse_mae(pred, test["rating"].to_numpy())
    metrics = {"model": cfg.model.name, "task": "rating", **{k: (round(v, 6) if isinstance(v, float) else v) for k, v in result.items()}}
    print_rating(metrics, f"{cfg.model.name}: rating prediction on the test window ({result['n']:,} ratings)")
    return metrics


def cross_validate(cfg: Config) -> dict[str, Any]:
    """k-fold CV over every rating of the ingested data (like surprise's benchmark)."""
    from recsys_cli.stages.inputs import need
    from recsys_cli.stages.train import tuned_params

    events = pl.read_parquet(need(Layout.of(cfg).events, "ingest")).filter(pl.col("rating").is_not_null())
    if events.height == 0:
        raise ConfigError("eval.folds: this data has no explicit ratings to cross-validate")
    users, items = ids(cfg)
    events = events.with_columns(
        user_idx=pl.Series(users.index(events["user_id"])), item_idx=pl.Series(items.index(events["item_id"]))
    )
    overrides, _ = tuned_params(cfg)
    folds = kfold(events.height, cfg.eval.folds, cfg.eval.fold_seed)
    per_fold = []
    with progress_bar() as bar:
        task = bar.add_task(f"{cfg.eval.folds}-fold CV of {cfg.model.name}", total=len(folds))
        for test_rows in folds:
            mask = np.ones(events.height, dtype=bool)
            mask[test_rows] = False
            train, test = events.filter(pl.Series(mask)), events.filter(pl.Series(~mask))
            data = TrainData(
                matrix=matrix(train, users, items),
                events=train.select("user_idx", "item_idx", "timestamp", "weight", "event", "rating"),
                ratings=matrix(train, users, items, value="rating"),
                seed=cfg.seed,
            )
            model = build(cfg.model, overrides)
            _require_predict(model, cfg.model.name)
            model.fit(data)
            pred = model.predict(test["user_idx"].to_numpy(), test["item_idx"].to_numpy())
            per_fold.append(rmse_mae(pred, test["rating"].to_numpy()))
            bar.advance(task)
    rmse = np.array([f["rmse"] for f in per_fold])
    mae = np.array([f["mae"] for f in per_fold])
    metrics = {
        "model": cfg.model.name,
        "task": "rating",
        "folds": cfg.eval.folds,
        "rmse": round(float(rmse.mean()), 6),
        "rmse_std": round(float(rmse.std()), 6),
        "mae": round(float(mae.mean()), 6),
        "mae_std": round(float(mae.std()), 6),
        "n": int(events.height),
        **{f"fold{i}.rmse": round(f["rmse"], 6) for i, f in enumerate(per_fold)},
    }
    print_rating(metrics, f"{cfg.model.name}: {cfg.eval.folds}-fold cross-validation ({events.height:,} ratings)")
    return metrics


def print_rating(metrics: dict[str, Any], title: str) -> None:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in ("rmse", "rmse_std", "mae", "mae_std", "n"):
        if key in metrics:
            table.add_row(key, f"{metrics[key]:.4f}" if isinstance(metrics[key], float) else f"{metrics[key]:,}")
    stdout.print(table)
