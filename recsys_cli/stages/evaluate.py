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

from recsys_cli.atomic import atomic_file, write_text
from recsys_cli.config import Config
from recsys_cli.errors import ConfigError
from recsys_cli.evaluation.metrics import METRICS, evaluate
from recsys_cli.evaluation.rating import kfold, rmse_mae
from recsys_cli.models import TrainData, build
from recsys_cli.models.fallback import WithFallback
from recsys_cli.progress import progress_bar, status, stdout
from recsys_cli.stages.inputs import (
    ids,
    matrix,
    model_dir,
    read_json,
    relevant,
    trained_model,
    window,
)


def fit_windows(cfg: Config) -> list[str]:
    info = read_json(model_dir(cfg) / "train_info.json", f"train model={cfg.model.name}")
    return list(info.get("fit_windows", ["train"]))


def run(cfg: Config) -> None:
    if cfg.eval.task == "rating":
        metrics = run_rating(cfg)
    else:
        metrics = run_ranking(cfg)
    write_text(cfg.paths.reports_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    status(f"eval: -> {cfg.paths.reports_dir / 'metrics.json'}")


# ------------------------------------------------------------------- ranking


def run_ranking(cfg: Config) -> dict[str, Any]:
    users, items = ids(cfg)
    model, fallback = trained_model(cfg)
    fitted = fit_windows(cfg)
    history = matrix(pl.concat([window(cfg, w).select("user_idx", "item_idx", "weight") for w in fitted]), users, items)
    excluded = sorted(set(fitted) | set(cfg.eval.exclude_windows))
    seen = matrix(pl.concat([window(cfg, w).select("user_idx", "item_idx", "weight") for w in excluded]), users, items)
    test = window(cfg, "test")
    rel = relevant(cfg, test, users, items, seen)
    known = np.diff(history.indptr) > 0
    recommender = WithFallback(model, fallback, known)
    test_users = np.unique(test["user_idx"].to_numpy())
    warm, cold = test_users[known[test_users]], test_users[~known[test_users]]
    exclude = seen if cfg.eval.exclude_seen else None
    kw = dict(n_items=len(items), ks=cfg.eval.k, exclude=exclude, batch_size=cfg.eval.batch_size, show_progress=True)
    result = evaluate(recommender.recommend, warm, rel, description="evaluating warm users", **kw)
    cold_result = evaluate(recommender.recommend, cold, rel, description="evaluating cold users", **kw)

    metrics: dict[str, Any] = {"model": cfg.model.name}
    metrics.update({k: round(v, 6) for k, v in result.summary.items()})
    metrics["test_users"] = int(test_users.size)
    metrics["users_without_relevant"] = int(warm.size - result.summary["users"])
    metrics.update({f"cold.{k}": round(v, 6) for k, v in cold_result.summary.items()})

    reports = cfg.paths.reports_dir
    curve = [
        {"k": k, **{m: metrics.get(f"{m}@{k}") for m in ("ndcg", "recall", "precision", "map", "hit_rate")}}
        for k in sorted(cfg.eval.k)
    ]
    write_text(reports / "plots" / "metrics_at_k.json", json.dumps(curve, indent=2) + "\n")
    if result.per_user.height:
        with atomic_file(reports / "per_user.parquet") as tmp:
            result.per_user.write_parquet(tmp)
    print_ranking(cfg, metrics, excluded)
    return metrics


def print_ranking(cfg: Config, metrics: dict[str, Any], excluded: list[str]) -> None:
    ks = sorted(cfg.eval.k)
    table = Table(title=f"{metrics['model']} on the test window ({metrics.get('users', 0):,} users with history)")
    table.add_column("metric")
    for k in ks:
        table.add_column(f"@{k}", justify="right")
    for name in (*METRICS, "coverage"):
        if f"{name}@{ks[0]}" in metrics:
            table.add_row(name, *[f"{metrics[f'{name}@{k}']:.4f}" for k in ks])
    stdout.print(table)
    relevance = "any test event" if cfg.eval.relevant_events is None else " / ".join(cfg.eval.relevant_events)
    seen = f"items seen in {'+'.join(excluded)} excluded" if cfg.eval.exclude_seen else "seen items kept"
    cold_n = metrics.get("cold.users", 0)
    cold_txt = f"; cold users ({cold_n:,}, popularity fallback) ndcg@10 {metrics['cold.ndcg@10']:.4f}" if "cold.ndcg@10" in metrics else ""
    status(f"eval: relevant = {relevance}; {seen}{cold_txt}")


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

    events = pl.read_parquet(need(cfg.paths.interim / "events.parquet", "ingest")).filter(pl.col("rating").is_not_null())
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
