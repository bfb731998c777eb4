"""RecommenderService: one loaded bundle, answering in external ids.

The HTTP API, the MLflow pyfunc model, ``recsys batch-recommend`` and the TUI
all call this; none of them holds model code. Two paths over the same rules:

- ``recommend_batch``: many users by index (batch-recommend, the pyfunc);
- ``recommend``: one shopper by id, the fast path (dict lookup, seen items
  sliced from the history's CSR ``indptr``, one score row, a 1-D top-k).

Both list the same items in the same order for the same plain request: known
users (history in the model's fit windows) get the model, everyone else the
popularity fallback; items the user already interacted with are never
listed; ties go to the lower item index.

The single path also adapts to the request, choosing one ``strategy``:

- ``personalised``: a shopper the model was fit on, nothing new since;
- ``fold_in``: a shopper with events the model never saw (posted feedback,
  the current session, or history outside the fit windows): the model scores
  that history directly (ALS/BPR/LMF solve the user vector, item-item models
  multiply the history by W); models that cannot fold in use the history's
  content profile;
- ``cold_start``: no history, but preferences or demographics (from the
  request or the bundle's user table): stated categories, brands and price
  band matched over the catalog text and attributes, plus what over-indexes
  with shoppers like them, diversified by MMR;
- ``popular_fallback``: nothing known: popularity.

Products nobody interacted with are placed by content similarity to the
shopper's history and lifted by a promotional boost that decays with their
age (``serve.new_items``). Filters and exclusions apply to every strategy.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from recsys_cli.bundle import Bundle, read_bundle
from recsys_cli.config import ServeConfig
from recsys_cli.models.base import Recs
from recsys_cli.service.catalog import CatalogIndex
from recsys_cli.service.explain import Explainer
from recsys_cli.service.live import LiveState
from recsys_cli.service.rules import BatchRules
from recsys_cli.service.segments import ATTRIBUTES, SegmentPopularity
from recsys_cli.service.types import Preferences, RecommendRequest, Recommendation, ScoredItem, Similar
from recsys_cli.topk import PAD, rank, rank_one, row_batch

DAY_MS = 86_400_000


def _z(x: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Z-scores of the finite values (over ``mask`` where given); -inf stays -inf."""
    finite = np.isfinite(x) if mask is None else (np.isfinite(x) & mask)
    if not finite.any():
        return np.zeros_like(x, dtype=np.float32)
    values = x[finite]
    std = float(values.std())
    out = (x - float(values.mean())) / (std if std > 0 else 1.0)
    return out.astype(np.float32)


class RecommenderService:
    """Loads a bundle once (checksums verified); recommend, similar items, batch top-k."""

    def __init__(self, bundle: Bundle, config: ServeConfig | None = None, live: LiveState | None = None) -> None:
        self.config = config or ServeConfig()
        self.bundle = bundle
        self.model = bundle.model
        self.fallback = bundle.fallback
        self.history = bundle.history
        self.n_users, self.n_items = len(bundle.users), len(bundle.items)
        self.user_ids = bundle.users.ids
        self.item_ids = bundle.items.ids
        self._user_index = {u: i for i, u in enumerate(self.user_ids.tolist())}
        self._item_index = {t: i for i, t in enumerate(self.item_ids.tolist())}
        self.model_name = str(bundle.manifest.get("model", getattr(self.model, "name", "model")))
        self.version = bundle.version
        tfidf = bundle.features.tfidf if bundle.features is not None else None
        self.catalog = CatalogIndex.build(bundle.catalog, self.history.matrix, tfidf)
        self.segments = SegmentPopularity.build(bundle.user_table, self.history.matrix)
        self.explainer = Explainer(self.model, self.catalog)
        self.live = live if live is not None else LiveState(self._event_weights())
        self._popularity = np.asarray(self.fallback.score(np.zeros(1, dtype=np.int64))[0], dtype=np.float32)
        # optional capabilities, checked once: fold-in of unseen histories
        can = getattr(self.model, "can_fold_in", None)
        self.can_fold_in = bool(can()) if callable(can) else hasattr(self.model, "score_history")
        self._attributes = self._user_attributes()
        self._boost = self._new_item_boost()
        self._boosted = set(np.flatnonzero(self._boost > 0).tolist()) if self._boost is not None else set()
        # products nobody interacted with: placed by their content neighbours (see _place_new_items)
        self._new = np.flatnonzero(self.catalog.interactions == 0)
        self._established = self.catalog.interactions > 0
        self._established_idx = np.flatnonzero(self._established)
        self._new_neighbours, self._new_weights = self.catalog.content_neighbours(self._new)
        # items x new products: column j averages new product j's neighbours (scores @ this = their weighted mean)
        self._placement = sp.csr_matrix(
            (self._new_weights.ravel(), (self._new_neighbours.ravel(), np.repeat(np.arange(self._new.size),
                                                                                  self._new_weights.shape[1]))),
            shape=(self.n_items, self._new.size), dtype=np.float32).tocsc()
        self._new_boost = self._boost[self._new].astype(np.float64) if self._boost is not None else None
        self.places_new_items = bool(self._new.size) and bool(self._established.any())
        self._compact = None  # the compact two-stage path's precomputations (see _build_retriever)
        self.retriever, self._factor_model = self._build_retriever()
        self.loaded_at = time.time()

    @classmethod
    def load(cls, path: str | Path, config: ServeConfig | None = None, live: LiveState | None = None
             ) -> RecommenderService:
        return cls(read_bundle(Path(path), mmap=True), config, live)

    # ------------------------------------------------------------------ setup

    def _event_weights(self) -> dict[str, float]:
        import yaml

        config = self.bundle.path / "config.yaml"
        try:
            raw = yaml.safe_load(config.read_text()) or {}
            weights = raw["data"]["preprocess"]["event_weights"]
            return {str(k): float(v) for k, v in weights.items()}
        except (OSError, KeyError, TypeError, ValueError, yaml.YAMLError):
            return {}

    def _user_attributes(self) -> list[dict[str, str | None]] | None:
        table = self.bundle.user_table
        if table is None or table.height != self.n_users:
            return None
        cols = [a for a in ATTRIBUTES if a in table.columns]
        if not cols:
            return None
        return table.select(cols).cast({c: str for c in cols}).to_dicts()

    def _new_item_boost(self) -> np.ndarray | None:
        """Per item, the promotional boost of a product nobody interacted with yet (None if there is none)."""
        cfg = self.config.new_items
        new = (self.catalog.interactions == 0) & (self.catalog.launch_ms >= 0)
        if cfg.boost <= 0 or not new.any():
            return None
        if cfg.clock == "wall":
            now = time.time() * 1000.0
        else:
            now = float(self.history.last_ms.max()) if self.history.last_ms.size else time.time() * 1000.0
        age = np.maximum(now - self.catalog.launch_ms, 0) / DAY_MS
        boost = np.where(new & (age <= cfg.max_age_days), cfg.boost * 0.5 ** (age / cfg.half_life_days), 0.0)
        return boost.astype(np.float32) if boost.any() else None

    def _build_retriever(self):  # noqa: ANN202 - (Retriever | None, the factor model it queries with)
        """Two-stage retrieval when configured and the catalog is large enough (see service/retrieval.py)."""
        cfg = self.config.retrieval
        if cfg.candidates <= 0 or self.n_items < cfg.min_items:
            return None, None
        from recsys_cli.models.factors import FactorModel
        from recsys_cli.service.retrieval import Retriever, retrieval_vectors

        found = retrieval_vectors(self.model)
        if found is None:
            return None, None
        factor_model = self.model if isinstance(self.model, FactorModel) else next(
            m for m, w in zip(self.model.models, self.model.weights) if w and isinstance(m, FactorModel))
        vectors, ids = found[0], None
        if factor_model is self.model:
            # a factor model scores x . y, so a new product's placement (the weighted mean of its neighbours'
            # scores) is x . z with z the same mean of their vectors, and the spread of a row over the
            # established products is sqrt(x' C x) with C their covariance: the whole list is ranked over
            # the candidates alone, equal to the exact path wherever the candidates hold its top
            item_f = np.asarray(factor_model.item_factors, dtype=np.float64)
            if self.places_new_items:
                new_vectors = np.asarray(self._placement.T @ item_f, dtype=np.float32)
                est = item_f[self._established_idx]
                cov = np.cov(est, rowvar=False, ddof=0) if est.shape[0] > 1 else np.zeros((est.shape[1],) * 2)
                new_pos = np.full(self.n_items, -1, dtype=np.int64)
                new_pos[self._new] = np.arange(self._new.size)
                boosted = (np.flatnonzero(self._new_boost > 0) if self._new_boost is not None
                           else np.zeros(0, dtype=np.int64))
                self._compact = (new_vectors, np.atleast_2d(cov), new_pos, self._new[boosted])
                vectors = np.concatenate([factor_model.item_factors[self._established_idx], new_vectors])
                ids = np.concatenate([self._established_idx, self._new])
            else:
                self._compact = (None, None, None, np.zeros(0, dtype=np.int64))
        retriever = Retriever.build(vectors, self.history.matrix, self._popularity, cfg, ids=ids)
        return retriever, factor_model

    def _blocked(self, hist: np.ndarray, req: RecommendRequest) -> np.ndarray:
        """Item indices never listed for this request: the shopper's history and the request's ``exclude``."""
        if not req.exclude:
            return hist
        extra = np.array([i for i in (self.item_index(x) for x in req.exclude) if i >= 0], dtype=np.int32)
        return np.concatenate([hist, extra])

    def _recent(self, user: int, req: RecommendRequest, n: int = 10) -> np.ndarray:
        """The shopper's ``n`` latest items, oldest first: the bundle's by time, then live feedback and session."""
        parts = []
        if user >= 0:
            lo, hi = self.history.matrix.indptr[user], self.history.matrix.indptr[user + 1]
            if hi > lo:
                latest = np.argsort(self.history.last_ms[lo:hi], kind="stable")[-n:]
                parts.append(np.asarray(self.history.matrix.indices[lo:hi])[latest].astype(np.int64))
        later = [self.item_index(i) for i in [*self.live.row(req.user_id)[0], *req.session_items]]
        parts.append(np.array([i for i in later if i >= 0], dtype=np.int64))
        return np.concatenate(parts)[-n:]

    def _two_stage(self, query: np.ndarray, hist: np.ndarray, score, req: RecommendRequest,  # noqa: ANN001
                   recent: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """A factor model's list over the candidates alone (stage two, new products and rules included);
        None when the candidates cannot fill it (the exact path answers then)."""
        assert self.retriever is not None and self._compact is not None
        new_vectors, cov, new_pos, boosted = self._compact
        blocked_ids = self._blocked(hist, req)
        cands = self.retriever.candidates(query, recent)
        q = np.asarray(query, dtype=np.float64)
        std = 1.0
        if boosted.size and new_vectors is not None:
            # promoted new products: their boosted scores are cheap to compute for all of them; the best k
            # that may be listed join the candidates (no other can reach the list)
            std = float(np.sqrt(max(q @ cov @ q, 0.0))) or 1.0
            pos = new_pos[boosted]
            lifted = new_vectors[pos].astype(np.float64) @ q + std * self._new_boost[pos]
            lifted[np.isin(boosted, blocked_ids)] = -np.inf
            best, _ = rank_one(lifted.astype(np.float32), req.k)
            cands = np.union1d(cands, boosted[best])
        values = np.empty(cands.size, dtype=np.float32)
        if new_vectors is None:
            values[:] = score(cands)
        else:
            pos = new_pos[cands]
            is_new = pos >= 0
            values[~is_new] = score(cands[~is_new])
            if is_new.any():
                placed = new_vectors[pos[is_new]].astype(np.float64) @ q
                if self._new_boost is not None:
                    placed = placed + std * self._new_boost[pos[is_new]]
                values[is_new] = placed
        blocked = np.isin(cands, blocked_ids)
        top, scores = rank_one(values, req.k, np.flatnonzero(blocked))
        if top.size < min(req.k, int((~blocked).sum())) or (
                top.size < req.k and self.n_items - np.unique(blocked_ids).size > top.size):
            return None  # fewer than k listable candidates while the catalog has more: rank them all
        return cands[top].astype(np.int32), scores

    def _candidate_scores(self, query: np.ndarray, hist: np.ndarray, score) -> np.ndarray:  # noqa: ANN001
        """Stage two: the model scores only the candidates; everything else is -inf."""
        assert self.retriever is not None
        candidates = self.retriever.candidates(query, hist)
        row = np.full(self.n_items, -np.inf, dtype=np.float32)
        row[candidates] = score(candidates)
        return row

    # ------------------------------------------------------------------ ids

    def user_index(self, user_id: str) -> int:
        """Index of a user id, -1 if the bundle has never seen them."""
        return self._user_index.get(str(user_id), -1)

    def item_index(self, item_id: str) -> int:
        return self._item_index.get(str(item_id), -1)

    def seen(self, user: int) -> np.ndarray:
        """Item indices the user interacted with (never recommended again): a slice of the CSR."""
        if user < 0:
            return np.zeros(0, dtype=np.int32)
        return self.history.items_of(user)

    # ----------------------------------------------------------- batch path

    def recommend_batch(self, users: np.ndarray, k: int, rules: BatchRules | None = None) -> Recs:
        """Top-k for user indices, seen items excluded: what ``recommend`` lists for each plain request.

        Shoppers the model was fit on are scored in one batch; the rest (history
        outside the fit windows, or none) row by row through the same code as
        the single path; new products are placed and boosted for every row.
        ``rules`` (batch-recommend's business rules, service/rules.py) mask,
        exclude and cap on top of that.
        """
        users = np.asarray(users, dtype=np.int64)
        hist = self.history.matrix[users]
        weights = self._weight_rows(users)
        warm = self.history.known[users]
        scores = np.empty((users.size, self.n_items), dtype=np.float32)
        mmr_rows: dict[int, np.ndarray] = {}
        if warm.any():
            scores[warm] = self.model.score(users[warm])
        for r in np.flatnonzero(~warm).tolist():
            lo, hi = weights.indptr[r], weights.indptr[r + 1]
            items, w, codes = weights.indices[lo:hi], weights.data[lo:hi], hist.data[lo:hi]
            row, strategy, _ = self._base_scores(int(users[r]), items, w, False, False, None)
            if strategy == "cold_start":
                mmr_rows[r] = row
            scores[r] = row
        if self.places_new_items:
            plain = np.array([r not in mmr_rows for r in range(users.size)])
            if plain.any():
                scores[plain] = self._place_new_items(scores[plain])
        blocked = hist if rules is None else rules.blocked(hist)
        recs = rank(scores, k, hist) if rules is None else rules.rank(rules.mask(scores), k, blocked)
        for r, row in mmr_rows.items():
            if rules is None:
                items, values = self._mmr(row, k, hist.indices[hist.indptr[r] : hist.indptr[r + 1]])
            else:
                pool = self._mmr(rules.mask(row[None, :].copy())[0], max(k, self.config.cold_start.mmr_pool),
                                 blocked.indices[blocked.indptr[r] : blocked.indptr[r + 1]])
                items, values, _ = rules.cap_one(*pool, k)
            recs.items[r] = PAD
            recs.scores[r] = -np.inf
            recs.items[r, : items.size], recs.scores[r, : items.size] = items, values
        return recs

    def _weight_rows(self, users: np.ndarray) -> sp.csr_matrix:
        """The users' history rows with their summed event weights."""
        m = self.history.matrix
        if self.history.weight is None:
            return sp.csr_matrix(m[users], dtype=np.float32)
        full = sp.csr_matrix((self.history.weight, m.indices, m.indptr), shape=m.shape)
        return full[users]

    def batches(self, k: int, batch_size: int = 4096):  # noqa: ANN201 - a generator of (users, Recs)
        """Every user's top-k, batch by batch (memory bounded by the batch)."""
        size = row_batch(self.n_items, batch_size)
        for start in range(0, self.n_users, size):
            users = np.arange(start, min(start + size, self.n_users))
            yield users, self.recommend_batch(users, k)

    def strategy_of(self, user: int) -> str:
        """What a plain request of an indexed user gets (``recommend_batch`` and ``recommend`` agree)."""
        if self.history.known[user]:
            return "personalised"
        if self.history.matrix.indptr[user + 1] > self.history.matrix.indptr[user]:
            return "fold_in"
        return "cold_start" if self._attributes_of(user, None) else "popular_fallback"

    def recommend_many(self, user_ids: list[str], k: int) -> list[Recommendation]:
        """Lists for many user ids at once through the batch path (unknown ids: the single path)."""
        idx = np.array([self.user_index(u) for u in user_ids], dtype=np.int64)
        indexed = np.flatnonzero(idx >= 0)
        recs = self.recommend_batch(idx[indexed], k) if indexed.size else None
        row_of = {int(r): j for j, r in enumerate(indexed.tolist())}
        out = []
        for r, user_id in enumerate(user_ids):
            if r not in row_of:
                out.append(self.recommend(RecommendRequest(user_id=str(user_id), k=k)))
                continue
            assert recs is not None
            items, scores = recs.items[row_of[r]], recs.scores[row_of[r]]
            keep = items >= 0
            strategy = self.strategy_of(int(idx[r]))
            out.append(Recommendation(
                user_id=str(user_id),
                items=[ScoredItem(str(self.item_ids[i]), float(v)) for i, v in zip(items[keep], scores[keep])],
                strategy=strategy,  # type: ignore[arg-type]
                model=self._model_label(strategy), bundle=self.version,
            ))
        return out

    def _model_label(self, strategy: str) -> str:
        if strategy in ("personalised", "fold_in"):
            return self.model_name
        return "cold_start" if strategy == "cold_start" else "popularity"

    # ----------------------------------------------------------- single path

    def _history_of(self, user: int, req: RecommendRequest) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
        """The shopper's items, weights and codes: bundle history + live feedback + session; and whether any is new."""
        parts_i, parts_w, parts_s = [], [], []
        if user >= 0:
            items, weights, codes = self.history.row(user)
            parts_i.append(items), parts_w.append(weights), parts_s.append(codes)
        live_ids, live_w, live_s = self.live.row(req.user_id)
        fresh = False
        if live_ids:
            idx = np.array([self.item_index(i) for i in live_ids], dtype=np.int64)
            ok = idx >= 0
            if ok.any():
                parts_i.append(idx[ok].astype(np.int32)), parts_w.append(live_w[ok]), parts_s.append(live_s[ok])
                fresh = True
        if req.session_items:
            idx = np.array([self.item_index(i) for i in req.session_items], dtype=np.int64)
            idx = idx[idx >= 0].astype(np.int32)
            if idx.size:
                view = float(self.live.weights.get("view", 1.0))
                parts_i.append(idx), parts_w.append(np.full(idx.size, view, np.float32))
                parts_s.append(np.ones(idx.size, np.int8))
                fresh = True
        if not parts_i:
            return np.zeros(0, np.int32), np.zeros(0, np.float32), np.zeros(0, np.int8), False
        items = np.concatenate(parts_i)
        weights = np.concatenate(parts_w).astype(np.float32)
        codes = np.concatenate(parts_s).astype(np.int8)
        if len(parts_i) > 1:  # one entry per item: weights summed, the strongest event kept
            uniq, inv = np.unique(items, return_inverse=True)
            weights = np.bincount(inv, weights=weights, minlength=uniq.size).astype(np.float32)
            strongest = np.zeros(uniq.size, dtype=np.int8)
            np.maximum.at(strongest, inv, codes)
            items, codes = uniq.astype(np.int32), strongest
        return items, weights, codes, fresh

    def _attributes_of(self, user: int, prefs: Preferences | None) -> dict[str, str | None]:
        known = dict(self._attributes[user]) if self._attributes is not None and user >= 0 else {}
        if prefs is not None:
            for attr in ATTRIBUTES:
                if getattr(prefs, attr, None):
                    known[attr] = getattr(prefs, attr)
        return {k: v for k, v in known.items() if v}

    def recommend(self, req: RecommendRequest | str, k: int | None = None, exclude: list[str] | None = None,
                  request_id: str | None = None) -> Recommendation:
        """One shopper's list by id (see the module docstring for the strategies)."""
        if not isinstance(req, RecommendRequest):
            req = RecommendRequest(user_id=str(req), k=k or self.config.default_k, exclude=list(exclude or []),
                                   request_id=request_id)
        user = self.user_index(req.user_id)
        hist, weights, codes, fresh = self._history_of(user, req)
        warm = user >= 0 and bool(self.history.known[user])
        prefs = req.preferences
        # a filtered list may lie deeper than any candidate set: filters are ranked over the whole catalog
        whole = req.filters is not None and not req.filters.empty()
        staged = None if whole else self._staged(user, hist, weights, warm, fresh, req)
        boosted: set[int] = set()
        if staged is not None:
            (items, values), strategy, reasons = staged
            boosted = self._boosted
        else:
            items, values, strategy, reasons, boosted = self._exact(user, hist, weights, warm, fresh, prefs, req,
                                                                    candidates=not whole)
        explanations = self._explain(items, strategy, hist, weights, codes, reasons, boosted)
        return Recommendation(
            user_id=str(req.user_id),
            items=[ScoredItem(str(self.item_ids[i]), float(v), e)
                   for i, v, e in zip(items.tolist(), values.tolist(), explanations)],
            strategy=strategy,  # type: ignore[arg-type]
            model=self._model_label(strategy), bundle=self.version, request_id=req.request_id,
        )

    # ----------------------------------------------------------- pieces

    def _staged(self, user: int, hist: np.ndarray, weights: np.ndarray, warm: bool, fresh: bool,
                req: RecommendRequest):  # noqa: ANN202 - ((items, scores), strategy, reasons) or None
        """The compact two-stage path of a factor model (see _build_retriever), when it applies."""
        if self.retriever is None or self._compact is None:
            return None
        if warm and not fresh:
            users = np.array([user], dtype=np.int64)
            query = self._factor_model.user_factors[user]
            listed = self._two_stage(query, hist, lambda c: self.model.score(users, c)[0], req, self._recent(user, req))
            return None if listed is None else (listed, "personalised", {})
        if hist.size and self.can_fold_in:
            rows = sp.csr_matrix((weights, hist, [0, hist.size]), shape=(1, self.n_items), dtype=np.float32)
            query = self._factor_model.fold_in_factors(rows)[0]
            item_f = self._factor_model.item_factors
            listed = self._two_stage(query, hist, lambda c: np.asarray(item_f[c] @ query, dtype=np.float32), req,
                                     self._recent(user, req))
            return None if listed is None else (listed, "fold_in", {})
        return None

    def _exact(self, user: int, hist: np.ndarray, weights: np.ndarray, warm: bool, fresh: bool,
               prefs: Preferences | None, req: RecommendRequest, candidates: bool = True):  # noqa: ANN202
        """Every product scored (a hybrid's candidates only, with ``candidates``): (items, scores, strategy,
        reasons, boosted)."""
        scores, strategy, reasons = self._base_scores(user, hist, weights, warm, fresh, prefs, candidates)
        boosted: set[int] = set()
        if self.places_new_items and strategy != "cold_start":
            scores = self._place_new_items(scores[None, :])[0]
            boosted = self._boosted
        blocked = self._blocked(hist, req)
        allowed = self.catalog.allowed(req.filters)
        if allowed is not None:
            scores = np.where(allowed, scores, -np.inf).astype(np.float32)
        if strategy == "cold_start":
            items, values = self._mmr(scores, req.k, blocked)
        else:
            items, values = rank_one(scores, req.k, blocked)
        return items, values, strategy, reasons, boosted

    def _base_scores(self, user: int, hist: np.ndarray, weights: np.ndarray, warm: bool, fresh: bool,
                     prefs: Preferences | None, candidates: bool = True) -> tuple[np.ndarray, str, dict[int, str]]:
        """One shopper's score row and strategy, before new-item placement, filters and exclusions."""
        retriever = self.retriever if candidates else None
        if warm and not fresh:
            users = np.array([user], dtype=np.int64)
            if retriever is not None:
                query = self._factor_model.user_factors[user]
                return self._candidate_scores(query, hist, lambda c: self.model.score(users, c)[0]), "personalised", {}
            row = np.array(self.model.score(users)[0], dtype=np.float32)
            return row, "personalised", {}
        if hist.size:
            if self.can_fold_in:
                rows = sp.csr_matrix((weights, hist, [0, hist.size]), shape=(1, self.n_items), dtype=np.float32)
                if retriever is not None:
                    query = self._factor_model.fold_in_factors(rows)[0]
                    return self._candidate_scores(query, hist, lambda c: self.model.score_history(rows, c)[0]), \
                        "fold_in", {}
                return np.array(self.model.score_history(rows)[0], dtype=np.float32), "fold_in", {}
            # the model cannot score an unseen history: its content profile, popularity breaking ties
            return self.catalog.profile_scores(hist, weights) + 1e-3 * _z(self._popularity), "fold_in", {}
        attributes = self._attributes_of(user, prefs)
        if (prefs is not None and not prefs.empty()) or attributes:
            scores, reasons = self._cold_scores(prefs, attributes)
            return scores, "cold_start", reasons
        return self._popularity.copy(), "popular_fallback", {}

    def _place_new_items(self, scores: np.ndarray, history: sp.csr_matrix | None = None) -> np.ndarray:
        """Rows of scores with new products placed by content and boosted (see ``serve.new_items``).

        A product nobody touched yet has no collaborative signal, so it takes
        the weighted mean score the row gives the most text-similar
        established products of its category (its content neighbours, found
        once at load): a shopper who likes those gets it high, others low.
        Then every new product gets its age-decayed boost, in units of the
        row's standard deviation over the established products (a boost of 1
        lifts a new product by one spread of the model's scores). Established
        products keep the model's own scores.
        """
        out = np.array(scores, dtype=np.float32, copy=True)
        placed = np.asarray(out @ self._placement, dtype=np.float32)  # weighted mean of the neighbours' scores
        if self._boost is not None:
            est = out[:, self._established_idx]
            finite = np.isfinite(est)
            if finite.all():
                std = est.std(axis=1, dtype=np.float64)
            else:
                count = np.maximum(finite.sum(axis=1), 1)
                mean = np.where(finite, est, 0.0).sum(axis=1) / count
                std = np.sqrt((np.where(finite, est - mean[:, None], 0.0) ** 2).sum(axis=1) / count)
            std[std <= 0] = 1.0
            placed = placed + (std[:, None] * self._new_boost[None, :]).astype(np.float32)
        out[:, self._new] = np.where(np.isfinite(placed), placed, -np.inf)
        return out

    def _cold_scores(self, prefs: Preferences | None, attributes: dict[str, str | None]
                     ) -> tuple[np.ndarray, dict[int, str]]:
        """A new shopper: stated preferences first, then what shoppers like them choose, then what sells.

        Every signal is on a 0..1 scale: a stated category counts 1, a brand
        0.6, the price band 0.4, text similarity to the stated products up to
        0.5 (so related products rank next); segment popularity (relative to
        its best item) weighs half as much as one stated category, overall
        popularity 0.2.
        """
        cfg = self.config.cold_start
        cat = self.catalog
        pop = np.maximum(self._popularity, 0)
        total = 0.2 * pop / max(float(pop.max()), 1e-12)
        reasons: dict[int, str] = {}
        label = np.zeros(cat.n_items, dtype=np.int8)  # 1 category, 2 brand, 3 segment
        if prefs is not None and (prefs.categories or prefs.brands or prefs.price_min is not None
                                  or prefs.price_max is not None):
            match = np.zeros(cat.n_items, dtype=np.float32)
            in_cat = cat.in_categories(prefs.categories) if prefs.categories else np.zeros(cat.n_items, bool)
            in_brand = cat.in_brands(prefs.brands) if prefs.brands else np.zeros(cat.n_items, bool)
            match += 1.0 * in_cat + 0.6 * in_brand
            if prefs.price_min is not None or prefs.price_max is not None:
                match += 0.4 * cat.in_price(prefs.price_min, prefs.price_max)
            seeds = np.flatnonzero(in_cat | in_brand)
            if seeds.size:  # content similarity to what they asked for reaches related products
                weight = pop[seeds] + 1.0
                match += 0.5 * cat.profile_scores(seeds, weight / weight.sum())
            total = total + cfg.preference_weight * match
            label[in_brand] = 2
            label[in_cat] = 1
        seg = self.segments.scores(attributes) if attributes else None
        if seg is not None:
            seg_norm = seg / max(float(seg.max()), 1e-12)
            total = total + 0.5 * cfg.segment_weight * seg_norm
            label[(label == 0) & (seg_norm > 0.5)] = 3
        for i in np.flatnonzero(label).tolist():
            reasons[i] = ("category", "brand", "segment")[label[i] - 1]
        return total.astype(np.float32), reasons

    def _mmr(self, scores: np.ndarray, k: int, blocked: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Maximal marginal relevance over the best ``mmr_pool`` items: relevant, but not all alike."""
        cfg = self.config.cold_start
        pool, values = rank_one(scores.copy(), max(k, cfg.mmr_pool), blocked)
        if pool.size <= 1 or cfg.mmr_lambda >= 1.0:
            return pool[:k], values[:k]
        rel = (values - values.min()) / max(float(values.max() - values.min()), 1e-9)
        vectors = self.catalog.text[pool]
        sims = np.asarray((vectors @ vectors.T).todense(), dtype=np.float32)
        chosen = [0]
        best_sim = sims[0].copy()
        available = np.ones(pool.size, dtype=bool)
        available[0] = False
        lam = cfg.mmr_lambda
        while len(chosen) < min(k, pool.size):
            gain = np.where(available, lam * rel - (1 - lam) * best_sim, -np.inf)
            nxt = int(np.argmax(gain))  # ties: the lower position, i.e. the more relevant
            chosen.append(nxt)
            available[nxt] = False
            best_sim = np.maximum(best_sim, sims[nxt])
        chosen_arr = np.array(chosen)
        return pool[chosen_arr], values[chosen_arr]

    def _explain(self, items: np.ndarray, strategy: str, hist: np.ndarray, weights: np.ndarray, codes: np.ndarray,
                 reasons: dict[int, str], boosted: set[int]) -> list[str | None]:
        if not self.config.explain or items.size == 0:
            return [None] * int(items.size)
        out: list[str | None] = [None] * int(items.size)
        if strategy in ("personalised", "fold_in") and hist.size:
            out = self.explainer.because(items, hist, weights, codes)
        phrase = self.explainer.category_phrase
        for slot, item in enumerate(items.tolist()):
            if item in boosted and self.catalog.interactions[item] == 0:
                out[slot] = phrase(item, "new in {category}", "new arrival")
            elif out[slot] is not None:
                continue
            elif strategy == "cold_start":
                reason = reasons.get(item)
                if reason == "category":
                    out[slot] = phrase(item, "matches your interest in {category}", "matches your interests")
                elif reason == "brand":
                    out[slot] = f"from {self.catalog.brands[self.catalog.brand[item]]}, a brand you like"
                elif reason == "segment":
                    out[slot] = phrase(item, "popular in {category} with shoppers like you", "popular with shoppers like you")
                else:
                    out[slot] = phrase(item, "popular in {category}", "popular right now")
            elif strategy in ("personalised", "fold_in"):  # the model's own signal, no single history item
                out[slot] = "shoppers with tastes like yours chose this"
            else:
                out[slot] = phrase(item, "popular in {category}", "popular right now")
        return out

    # ----------------------------------------------------------- similar items

    def similar(self, item_id: str, k: int, method: str = "collaborative") -> Similar | None:
        """Items like ``item_id``: by the model's own similarity (collaborative) or by text (content)."""
        item = self.item_index(item_id)
        if item < 0:
            return None
        if method == "content":
            idx, vals = self.catalog.similar(item, k)
            pairs = list(zip(idx.tolist(), vals.tolist()))
            name = "content"
        else:
            recs = self.model.similar_items(np.array([item], dtype=np.int64), k + 1)
            pairs = [(int(i), float(s)) for i, s in zip(recs.items[0], recs.scores[0]) if i >= 0 and i != item][:k]
            name = self.model_name
        return Similar(
            item_id=str(item_id),
            items=[ScoredItem(str(self.item_ids[i]), s) for i, s in pairs],
            method="content" if method == "content" else "collaborative", model=name, bundle=self.version,
        )
