"""eval: full-ranking metrics of the trained model on the test window.

Headline metrics are over users with train history and at least one relevant
test item; users with no train history are scored through the fallback and
reported as their own ``cold.`` segment, never mixed in.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from rich.table import Table

from recsys_cli.atomic import atomic_file, write_text
from recsys_cli.config import Config
from recsys_cli.evaluation.metrics import METRICS, evaluate
from recsys_cli.models.fallback import WithFallback
from recsys_cli.progress import status, stdout
from recsys_cli.stages.inputs import ids, matrix, relevant, trained_model, window


def run(cfg: Config) -> None:
    users, items = ids(cfg)
    seen = matrix(window(cfg, "train"), users, items)
    test = window(cfg, "test")
    rel = relevant(cfg, test, users, items, seen)
    model, fallback = trained_model(cfg)
    known = np.diff(seen.indptr) > 0
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
    write_text(reports / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    curve = [
        {"k": k, **{m: metrics.get(f"{m}@{k}") for m in ("ndcg", "recall", "precision", "map", "hit_rate")}}
        for k in sorted(cfg.eval.k)
    ]
    write_text(reports / "plots" / "metrics_at_k.json", json.dumps(curve, indent=2) + "\n")
    if result.per_user.height:
        with atomic_file(reports / "per_user.parquet") as tmp:
            result.per_user.write_parquet(tmp)
    print_metrics(cfg, metrics)


def print_metrics(cfg: Config, metrics: dict[str, Any]) -> None:
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
    seen = "seen-in-train items excluded from lists and targets" if cfg.eval.exclude_seen else "seen items kept"
    cold_n = metrics.get("cold.users", 0)
    cold_txt = f"; cold users ({cold_n:,}, popularity fallback) ndcg@10 {metrics['cold.ndcg@10']:.4f}" if "cold.ndcg@10" in metrics else ""
    status(f"eval: relevant = {relevance}; {seen}{cold_txt}; -> {cfg.paths.reports_dir / 'metrics.json'}")
