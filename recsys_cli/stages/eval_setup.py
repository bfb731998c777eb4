"""What a ranking evaluation needs from disk: histories, seen items, targets, item context.

Shared by ``recsys eval``, its rolling-origin folds and ``recsys eval compare``
so that every model is scored on exactly the same users, targets and lists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import scipy.sparse as sp

from recsys_cli.config import Config
from recsys_cli.data.ids import IdMap
from recsys_cli.errors import ConfigError
from recsys_cli.evaluation.beyond import ItemContext, category_vectors, reduce_text
from recsys_cli.evaluation.sampled import sampled_recommender
from recsys_cli.features.store import TFIDF
from recsys_cli.layout import Layout
from recsys_cli.models.base import Recommender, Recs, rank
from recsys_cli.models.fallback import WithFallback
from recsys_cli.stages.inputs import catalog, ids, matrix, relevant, user_table, window

FOLD_IN = ("popularity", "ease", "itemknn", "rp3beta", "als", "bpr", "lmf", "multvae")


@dataclass
class EvalSetup:
    users: IdMap
    items: IdMap
    history: sp.csr_matrix  # what each user's recommendations may use (fit windows, or fold-in)
    seen: sp.csr_matrix  # excluded from lists and targets
    relevant: sp.csr_matrix  # binary test targets, seen removed
    test: pl.DataFrame
    test_users: np.ndarray
    known: np.ndarray  # bool per user: has history
    excluded: list[str]
    foldin: sp.csr_matrix | None  # user_holdout: held-out users' early history
    train_events: pl.DataFrame
    context: ItemContext | None = None  # item popularity / category / text vectors (beyond-accuracy metrics)
    user_info: pl.DataFrame | None = None  # user_idx, history length, attributes (segments)
    relevant_by_item: dict[str, sp.csr_matrix] = field(default_factory=dict)  # "new" / "existing" target items

    @property
    def n_items(self) -> int:
        return len(self.items)


def _frames(cfg: Config, names: list[str]) -> pl.DataFrame:
    return pl.concat([window(cfg, n).select("user_idx", "item_idx", "weight") for n in names])


def load_setup(cfg: Config, fitted: list[str]) -> EvalSetup:
    users, items = ids(cfg)
    has_foldin = Layout.of(cfg).window("foldin").is_file()
    fit_matrix = matrix(_frames(cfg, fitted), users, items)
    foldin = matrix(window(cfg, "foldin"), users, items) if has_foldin else None
    history = fit_matrix if foldin is None else (fit_matrix + foldin).tocsr()
    excluded = sorted(set(fitted) | set(cfg.eval.exclude_windows)) + (["foldin"] if has_foldin else [])
    seen = matrix(_frames(cfg, excluded), users, items)
    test = window(cfg, "test")
    rel = relevant(cfg, test, users, items, seen)
    test_users = np.unique(test["user_idx"].to_numpy())
    setup = EvalSetup(
        users=users, items=items, history=history, seen=seen, relevant=rel, test=test, test_users=test_users,
        known=np.diff(history.indptr) > 0, excluded=excluded, foldin=foldin,
        train_events=window(cfg, "train"),
    )
    if "cold_item" in test.columns:
        for label, new in (("new", True), ("existing", False)):
            setup.relevant_by_item[label] = relevant(cfg, test.filter(pl.col("cold_item") == new), users, items, seen)
    setup.context = item_context(cfg, setup)
    setup.user_info = user_frame(cfg, setup)
    return setup


RecommendFn = Callable[[np.ndarray, int, sp.csr_matrix | None], Recs]


def recommender(cfg: Config, setup: EvalSetup, model: Recommender, fallback: Recommender) -> RecommendFn:
    """How test users get lists: the model (fold-in for held-out users), the fallback for the rest; sampled if asked."""
    if setup.foldin is not None:
        if not hasattr(model, "score_history"):
            raise ConfigError(
                f"split=user_holdout: model {cfg.model.name!r} cannot fold in unseen users; "
                f"use one of: {', '.join(FOLD_IN)}"
            )
        foldin = setup.foldin

        def score(users: np.ndarray) -> np.ndarray:
            return model.score_history(foldin[users])  # type: ignore[attr-defined]

        def recommend(users: np.ndarray, k: int, exclude: sp.csr_matrix | None = None) -> Recs:
            return rank(score(users), k, exclude)
    else:
        routed = WithFallback(model, fallback, setup.known)

        def score(users: np.ndarray) -> np.ndarray:
            warm = setup.known[users]
            out = fallback.score(users).astype(np.float32)
            if warm.any():
                out[warm] = model.score(users[warm])
            return out

        def recommend(users: np.ndarray, k: int, exclude: sp.csr_matrix | None = None) -> Recs:
            return routed.recommend(users, k, exclude)

    if cfg.eval.sampled > 0:
        seen = setup.seen if cfg.eval.exclude_seen else None
        return sampled_recommender(score, setup.relevant, seen, setup.n_items, cfg.eval.sampled, cfg.seed)
    return recommend


def item_context(cfg: Config, setup: EvalSetup) -> ItemContext:
    """Item popularity (train users), category and text vectors for the beyond-accuracy metrics."""
    train = matrix(setup.train_events, setup.users, setup.items)
    train_users = np.asarray((train > 0).sum(axis=0)).ravel().astype(np.float64)
    cat = catalog(cfg, setup.items)
    category = category_vectors(cat["category"].to_list()) if "category" in cat.columns else None
    text = None
    tfidf_path = cfg.paths.features / TFIDF
    if tfidf_path.is_file():
        from recsys_cli.features.text import load_tfidf

        tfidf, _ = load_tfidf(tfidf_path)
        text = reduce_text(tfidf, dims=32, seed=cfg.seed)
    return ItemContext(train_users=train_users, n_users=int((np.diff(train.indptr) > 0).sum()),
                       category=category, text=text)


def user_frame(cfg: Config, setup: EvalSetup) -> pl.DataFrame:
    """user_idx, train-history length and the user's attributes (plus their usual device)."""
    table = user_table(cfg, setup.users).with_row_index("user_idx").with_columns(pl.col("user_idx").cast(pl.Int32))
    table = table.with_columns(history=pl.Series(np.diff(setup.history.indptr).astype(np.int32)))
    if "device" not in table.columns and "device" in setup.train_events.columns:
        usual = (
            setup.train_events.group_by("user_idx", "device").len()
            .sort(["user_idx", "len", "device"], descending=[False, True, False])
            .group_by("user_idx", maintain_order=True).first()
            .select(pl.col("user_idx").cast(pl.Int32), "device")
        )
        table = table.join(usual, on="user_idx", how="left")
    return table
