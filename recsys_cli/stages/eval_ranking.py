"""eval (ranking): full ranking of the test window, with every metric, segment and interval.

Headline metrics are over users with history and at least one relevant test
item; users with no history are scored through the fallback and reported as
the ``cold`` segment (and ``cold.`` keys), never mixed in. Users with no
relevant test item are counted, not scored. Beyond-accuracy metrics, segments,
bootstrap intervals and (on synthetic data) business proxies come from the
same top-k lists, computed batch by batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from recsys_cli.config import Config
from recsys_cli.evaluation import segments as seg
from recsys_cli.evaluation.beyond import ItemContext, catalog_level, per_list
from recsys_cli.topk import popular_lists
from recsys_cli.evaluation.metrics import EvalResult, evaluate, hits_matrix, per_user
from recsys_cli.evaluation.sampled import WARNING
from recsys_cli.evaluation.significance import bootstrap_table
from recsys_cli.models.base import Recommender
from recsys_cli.models.popularity import Popularity
from recsys_cli.progress import console
from recsys_cli.stages.eval_setup import EvalSetup, recommender

HEADLINE = ("ndcg", "recall", "precision", "map", "mrr", "hit_rate")
BEYOND = ("novelty", "popularity", "serendipity", "ild_category", "ild_text")


@dataclass
class Outcome:
    """One model scored on one split."""

    metrics: dict[str, Any]
    per_user: pl.DataFrame  # warm and cold users, every per-user metric, segment columns
    segments: dict[str, Any] = field(default_factory=dict)
    warm: EvalResult | None = None
    lists: pl.DataFrame | None = None  # the scored top-K lists: user_id, rank, item_id, score, cold


def _beyond(ctx: ItemContext, pop_order: np.ndarray, ks: list[int]):  # noqa: ANN202
    def extra(users: np.ndarray, top: np.ndarray, hits: np.ndarray, exclude: Any) -> dict[str, np.ndarray]:
        return per_list(top, hits, popular_lists(pop_order, exclude, max(ks)), ctx, ks)

    return extra


def score(cfg: Config, setup: EvalSetup, model: Recommender, fallback: Popularity, show_progress: bool = True,
          with_segments: bool = True) -> Outcome:
    ks = sorted(set(cfg.eval.k))
    recommend = recommender(cfg, setup, model, fallback)
    ctx = setup.context
    assert ctx is not None and setup.user_info is not None
    pop_order = fallback.order()  # serendipity's reference: the popularity recommender's lists
    extra = _beyond(ctx, pop_order, ks)
    exclude = setup.seen if cfg.eval.exclude_seen else None
    known = setup.known[setup.test_users]
    kw = dict(n_items=setup.n_items, ks=ks, exclude=exclude, batch_size=cfg.eval.batch_size,
              show_progress=show_progress, extra=extra)
    warm = evaluate(recommend, setup.test_users[known], setup.relevant, description="evaluating users with history", **kw)
    cold = evaluate(recommend, setup.test_users[~known], setup.relevant, description="evaluating cold users", **kw)

    metrics: dict[str, Any] = {"model": cfg.model.name}
    metrics.update({k: round(v, 6) for k, v in warm.summary.items() if np.isfinite(v)})
    metrics.update(catalog_level(warm.top, setup.n_items, ks))
    metrics["test_users"] = int(setup.test_users.size)
    metrics["users_without_relevant"] = int(known.sum() - warm.summary["users"])
    metrics.update({f"cold.{k}": round(v, 6) for k, v in cold.summary.items()
                    if np.isfinite(v) and not k.startswith("coverage")})
    if cfg.eval.bootstrap and warm.per_user.height:
        cols = {f"{m}@{k}": warm.per_user[f"{m}@{k}"].to_numpy() for m in HEADLINE for k in ks}
        for name, (_, lo, hi) in bootstrap_table(cols, n_boot=cfg.eval.bootstrap, alpha=cfg.eval.alpha,
                                                 seed=cfg.seed).items():
            metrics[f"{name}.ci_low"], metrics[f"{name}.ci_high"] = round(lo, 6), round(hi, 6)

    frame = _per_user_frame(cfg, setup, warm, cold)
    out = Outcome(metrics=metrics, per_user=frame, warm=warm, lists=scored_lists(setup, warm, cold))
    if with_segments:
        out.segments = segments(cfg, setup, frame, warm, ks)
    return out


def _per_user_frame(cfg: Config, setup: EvalSetup, warm: EvalResult, cold: EvalResult) -> pl.DataFrame:
    """Per-user metrics of warm and cold users with their segment columns (history, activity, attributes)."""
    users = setup.user_info
    assert users is not None
    labels, _ = seg.activity(users["history"].to_numpy(), cfg.eval.hot_quantile)
    info = seg.user_attributes(users.drop("history")).with_columns(
        history=users["history"], activity=pl.Series(labels)
    )
    parts = [r.per_user for r in (warm, cold) if r.per_user.height]
    if not parts:
        return pl.DataFrame()
    frame = pl.concat(parts, how="diagonal_relaxed").join(info.drop("user_id", strict=False), on="user_idx", how="left")
    user_id = pl.Series("user_id", setup.users.ids[frame["user_idx"].to_numpy()])
    return frame.select(user_id, pl.all())


def scored_lists(setup: EvalSetup, warm: EvalResult, cold: EvalResult) -> pl.DataFrame:
    """Every list the metrics were computed from, in external ids (``reports/eval_lists.parquet``)."""
    parts = []
    for result, is_cold in ((warm, False), (cold, True)):
        if result.users.size == 0:
            continue
        n, k = result.top.shape
        flat = result.top.ravel()
        keep = flat >= 0
        users = np.repeat(result.users, k)[keep]
        scores = result.top_scores.ravel()[keep] if result.top_scores is not None else np.full(keep.sum(), np.nan)
        parts.append(pl.DataFrame({
            "user_id": setup.users.ids[users],
            "rank": np.tile(np.arange(1, k + 1, dtype=np.int16), n)[keep],
            "item_id": setup.items.ids[flat[keep]],
            "score": scores.astype(np.float32),
            "cold": np.full(users.size, is_cold),
        }))
    if not parts:
        return pl.DataFrame(schema={"user_id": pl.Utf8, "rank": pl.Int16, "item_id": pl.Utf8, "score": pl.Float32,
                                    "cold": pl.Boolean})
    return pl.concat(parts)


def segments(cfg: Config, setup: EvalSetup, frame: pl.DataFrame, warm: EvalResult, ks: list[int]) -> dict[str, Any]:
    if frame.height == 0:
        return {}
    metrics = [c for c in frame.columns if "@" in c]
    values = frame.select(metrics).to_numpy().astype(np.float64)
    activity = frame["activity"].to_numpy()
    _, threshold = seg.activity(setup.user_info["history"].to_numpy(), cfg.eval.hot_quantile)  # as labelled
    by_activity = seg.means_by(activity, values, metrics)
    out: dict[str, Any] = {
        "activity": {level: by_activity[level] for level in ("cold", "warm", "hot") if level in by_activity},
        "activity_hot_threshold": threshold,
    }
    attr_cols = [c for c in frame.columns if c not in ("user_idx", "history", "activity") and "@" not in c]
    with_history = activity != "cold"  # like the headline: users with history
    out["users"] = {
        c: seg.means_by(frame[c].cast(pl.Utf8).fill_null("unknown").to_numpy()[with_history], values[with_history], metrics)
        for c in attr_cols
    }
    out["items"] = item_segments(cfg, setup, warm, ks)
    return out


def item_segments(cfg: Config, setup: EvalSetup, warm: EvalResult, ks: list[int]) -> dict[str, Any]:
    """The warm users' lists scored against only new (no train event) or only existing target items."""
    out: dict[str, Any] = {}
    if warm.users.size == 0:
        return out
    for label, rel in setup.relevant_by_item.items():
        n_rel = np.diff(rel.indptr)[warm.users]
        rows = np.flatnonzero(n_rel > 0)
        entry: dict[str, Any] = {"users": int(rows.size)}
        if rows.size:
            hits = hits_matrix(warm.top[rows], rel[warm.users[rows]])
            entry.update({k: round(float(v.mean()), 6) for k, v in per_user(hits, n_rel[rows], ks).items()})
        out[label] = entry
    return out


def curve(metrics: dict[str, Any], ks: list[int], names: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{"k": k, **{m: metrics.get(f"{m}@{k}") for m in names}} for k in sorted(ks)]


def warn_sampled(cfg: Config) -> None:
    if cfg.eval.sampled > 0:
        console.print(f"[bold yellow]warning:[/] {WARNING.format(n=cfg.eval.sampled)}", highlight=False)

