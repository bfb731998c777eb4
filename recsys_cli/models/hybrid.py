"""Hybrid recommenders: late fusion, early fusion, and blend weights learned on valid.

mode=late   a weighted sum of the components' scores, each normalised per
            user over the whole catalog (z-score by default), with the
            weights given in the config.
mode=meta   as late, but the weights are learned: components are fit on the
            train window, then an Optuna search over the weight simplex
            (weights >= 0 summing to 1, by stick-breaking) picks the weights
            that maximise NDCG@10 on the valid window (never the test window).
            Every single component and the equal blend are tried first, so
            the result is never worse on valid than any of them.
            ``fitted_params()`` returns the learned weights as a late blend,
            which is what a refit on train+valid uses.
With ``objective=rating`` (explicit ratings) the blend predicts ratings:
            weights and an intercept are fit by least squares on a random
            ``meta_holdout`` share of the training ratings (components fit
            on the rest), then the components are refit on all of them.
mode=early  content and side features go into one learned model: EASE fit on
            the interactions stacked with the item features as extra rows
            (category, brand, price band one-hots and TF-IDF words; "collective
            EASE"). Items that share features co-occur, so items without any
            interaction still get weights and can be recommended.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from recsys_cli.errors import RecsysError, StageInputError, TooLarge
from recsys_cli.evaluation.metrics import hits_matrix, per_user
from recsys_cli.manifest import read_manifest
from recsys_cli.models.base import Recs, TrainData, rank
from recsys_cli.models.ease import memory_needed_gb
from recsys_cli.models.store import load_arrays, save_arrays
from recsys_cli.progress import progress_bar, warn
from recsys_cli.schema import bound, from_dict, to_dict


@dataclass
class Component:
    name: str
    weight: float = 1.0
    params: dict[str, Any] = field(default_factory=dict)


def _default_components() -> list[Component]:
    return [
        Component("ease", 1.0, {"l2": 300.0}),
        Component("itemknn", 1.0, {}),
        Component("rp3beta", 1.0, {}),
        Component("als", 1.0, {}),
        Component("popularity", 0.3, {"half_life_days": 14.0}),
    ]


@dataclass
class HybridParams:
    mode: Literal["late", "meta", "early"] = "meta"
    objective: Literal["ranking", "rating"] = "ranking"
    components: list[Component] = field(default_factory=_default_components)
    normalize: Literal["zscore", "minmax", "none"] = "zscore"
    meta_trials: int = bound(60, ge=0)
    meta_users: int = bound(3000, ge=1)
    meta_metric_k: int = bound(10, ge=1)
    meta_holdout: float = bound(0.1, gt=0.0, lt=1.0)
    intercept: float = 0.0  # rating objective: the blend's constant term (learned in meta mode)
    early_l2: float = bound(300.0, gt=0.0)
    early_side_weight: float = bound(0.3, ge=0.0)
    early_text_weight: float = bound(0.3, ge=0.0)
    memory_budget_gb: float = bound(4.0, gt=0.0)


def normalise(scores: np.ndarray, how: str) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float32)
    if how == "none":
        return scores
    if how == "minmax":
        lo = scores.min(axis=1, keepdims=True)
        span = scores.max(axis=1, keepdims=True) - lo
        return (scores - lo) / np.where(span > 0, span, 1.0)
    mean = scores.mean(axis=1, keepdims=True)
    std = scores.std(axis=1, keepdims=True)
    return (scores - mean) / np.where(std > 0, std, 1.0)


def from_sticks(sticks: list[float]) -> np.ndarray:
    """Stick-breaking: n-1 numbers in [0, 1] -> n weights >= 0 that sum to 1.

    Scaling every weight gives the same ranking, so the search runs over the
    simplex (n-1 free numbers) rather than the cube, where the redundant scale
    would waste trials.
    """
    weights, rest = [], 1.0
    for b in sticks:
        weights.append(rest * b)
        rest *= 1.0 - b
    return np.array([*weights, rest], dtype=np.float64)


def to_sticks(weights: np.ndarray) -> list[float]:
    """The inverse of :func:`from_sticks` for weights >= 0 (scaled to sum 1 first; all zeros: equal weights)."""
    w = np.asarray(weights, dtype=np.float64)
    w = w / w.sum() if w.sum() > 0 else np.full(w.size, 1.0 / w.size)
    sticks, rest = [], 1.0
    for x in w[:-1]:
        sticks.append(float(min(1.0, x / rest)) if rest > 1e-12 else 0.0)
        rest -= x
    return sticks


def _build(component: Component) -> Any:
    from recsys_cli.models import model_class

    cls = model_class(component.name)
    if component.name == "hybrid":
        raise RecsysError("model.components: a hybrid cannot contain another hybrid")
    return cls(from_dict(cls.Params, component.params, where=f"model.components[{component.name}].params"))


class Hybrid:
    name: ClassVar[str] = "hybrid"
    Params: ClassVar[type] = HybridParams

    def __init__(self, params: HybridParams | None = None) -> None:
        self.params = params or HybridParams()
        self.show_progress = False
        self.models: list[Any] = []
        self.weights = np.zeros(0, dtype=np.float32)
        self.early_weights: np.ndarray | None = None
        self.history = sp.csr_matrix((0, 0), dtype=np.float32)
        self.meta_report: dict[str, Any] = {}
        self.intercept = 0.0
        self.scale = (1.0, 5.0)
        self.n_users = 0
        self.n_items = 0

    # ------------------------------------------------------------------ fitting
    def fit(self, data: TrainData) -> Self:
        self.n_users, self.n_items = data.n_users, data.n_items
        if self.params.mode == "early":
            self._fit_early(data)
            return self
        if not self.params.components:
            raise RecsysError("model.components: a hybrid needs at least one component")
        self.models = []
        kept: list[Component] = []
        with progress_bar(transient=True) as bar:
            task = bar.add_task("fitting hybrid components", total=len(self.params.components), visible=self.show_progress)
            for comp in self.params.components:
                model = _build(comp)
                if hasattr(model, "show_progress"):
                    model.show_progress = False
                try:  # a component that cannot fit this catalog (EASE over its memory budget) is left out
                    self.models.append(model.fit(data))
                    kept.append(comp)
                except TooLarge as exc:
                    warn(f"hybrid: component {comp.name} left out: {exc}")
                bar.advance(task)
        if not kept:
            raise RecsysError("model.components: no hybrid component could be fit on this data (see the warnings above)")
        if len(kept) < len(self.params.components):
            self.params = replace(self.params, components=kept)  # what is saved and refit is what was fit
        self.weights = np.array([c.weight for c in self.params.components], dtype=np.float32)
        self.scale = self._rating_scale(data)
        if self.params.objective == "rating":
            if self.params.mode == "meta":
                self.weights, self.intercept = self._learn_rating_weights(data)
            else:
                self.intercept = self.params.intercept
            return self
        if self.params.mode == "meta":
            if data.valid is None:
                raise RecsysError("hybrid mode=meta learns its weights on the valid window, which is empty here")
            self.weights = self._learn_weights(data)
        return self

    @staticmethod
    def _rating_scale(data: TrainData) -> tuple[float, float]:
        if data.ratings is not None and data.ratings.nnz:
            return float(data.ratings.data.min()), float(data.ratings.data.max())
        return 1.0, 5.0

    def _learn_rating_weights(self, data: TrainData) -> tuple[np.ndarray, float]:
        if data.ratings is None:
            raise RecsysError("hybrid objective=rating learns its weights from explicit ratings; this data has none")
        coo = data.ratings.tocoo()
        rng = np.random.default_rng(data.seed)
        hold = rng.random(coo.nnz) < self.params.meta_holdout
        keep = ~hold
        part = sp.csr_matrix((coo.data[keep], (coo.row[keep], coo.col[keep])), shape=data.ratings.shape)
        binary = part.copy()
        binary.data[:] = 1.0
        sub = replace(data, ratings=part, matrix=binary, valid=None, events=None)
        preds = []
        for comp in self.params.components:
            model = _build(comp)
            if not hasattr(model, "predict"):
                raise RecsysError(f"hybrid objective=rating: component {comp.name!r} does not predict ratings")
            preds.append(model.fit(sub).predict(coo.row[hold], coo.col[hold]))
        design = np.column_stack([*preds, np.ones(int(hold.sum()))])
        solution, *_ = np.linalg.lstsq(design, coo.data[hold], rcond=None)
        from recsys_cli.evaluation.rating import rmse_mae

        self.meta_report = {
            "holdout_ratings": int(hold.sum()),
            "blend": rmse_mae(np.clip(design @ solution, *self.scale), coo.data[hold]),
            "singles": {c.name: rmse_mae(p, coo.data[hold])["rmse"] for c, p in zip(self.params.components, preds, strict=True)},
        }
        return solution[:-1].astype(np.float32), float(solution[-1])

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Predicted ratings (objective=rating): the weighted components plus the intercept, clipped."""
        if self.params.objective != "rating":
            raise RecsysError("hybrid predicts ratings only with objective=rating")
        total = np.full(len(users), self.intercept, dtype=np.float64)
        for weight, model in zip(self.weights, self.models, strict=True):
            total += float(weight) * model.predict(users, items)
        return np.clip(total, *self.scale)

    def _component_scores(self, users: np.ndarray) -> list[np.ndarray]:
        if self.params.objective == "rating":
            return [np.asarray(m.score(users), dtype=np.float32) for m in self.models]
        return [normalise(m.score(users), self.params.normalize) for m in self.models]

    def _learn_weights(self, data: TrainData) -> np.ndarray:
        import optuna

        p = self.params
        known = np.diff(data.matrix.indptr) > 0
        users = np.flatnonzero(known & (np.diff(data.valid.indptr) > 0))
        rng = np.random.default_rng(data.seed)
        if users.size > p.meta_users:
            users = np.sort(rng.choice(users, p.meta_users, replace=False))
        if users.size == 0:
            raise RecsysError("hybrid mode=meta: no valid-window user has train history to learn weights from")
        parts = self._component_scores(users)
        seen = data.matrix[users]
        rel = data.valid[users]
        n_rel = np.diff(rel.indptr)
        k = p.meta_metric_k
        metric = f"ndcg@{k}"

        def value(w: np.ndarray) -> float:
            blend = sum(wi * part for wi, part in zip(w, parts, strict=True))
            top = rank(blend, k, seen).items
            return float(per_user(hits_matrix(top, rel), n_rel, [k])[metric].mean())

        n = len(parts)
        if n == 1:
            self.meta_report = {"valid_users": int(users.size), metric: value(np.ones(1)), "singles": {}}
            return np.ones(1, dtype=np.float32)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=data.seed))
        starts = [np.ones(n)] + [np.eye(n)[i] for i in range(n)] + [self.weights.astype(float)]
        for start in starts:
            study.enqueue_trial({f"b{i}": v for i, v in enumerate(to_sticks(start))})
        with progress_bar(transient=True) as bar:
            task = bar.add_task("learning blend weights on valid", total=len(starts) + p.meta_trials, visible=self.show_progress)
            study.optimize(
                lambda t: value(from_sticks([t.suggest_float(f"b{i}", 0.0, 1.0) for i in range(n - 1)])),
                n_trials=len(starts) + p.meta_trials,
                callbacks=[lambda *_: bar.advance(task)],
            )
        best = from_sticks([study.best_params[f"b{i}"] for i in range(n - 1)]).astype(np.float32)
        singles = {c.name: value(np.eye(n)[i]) for i, c in enumerate(self.params.components)}
        self.meta_report = {"valid_users": int(users.size), metric: study.best_value, "singles": singles}
        return best

    def _fit_early(self, data: TrainData) -> None:
        p = self.params
        feats = data.features
        if feats is None:
            raise StageInputError("hybrid mode=early needs item features: run `recsys features` first")
        n = data.n_items
        need = memory_needed_gb(n)
        if need > p.memory_budget_gb:
            raise RecsysError(
                f"hybrid early fusion: {n:,} items need about {need:.1f} GB, over model.memory_budget_gb="
                f"{p.memory_budget_gb:g}; use mode=late or meta"
            )
        x = data.matrix.astype(np.float32).tocsr()
        x.data[:] = 1.0
        side = feats.item_side.matrix.T.tocsr() * p.early_side_weight
        text = feats.tfidf.T.tocsr() * p.early_text_weight
        stacked = sp.vstack([x, side, text], format="csr")
        gram = (stacked.T @ stacked).toarray().astype(np.float64)
        gram[np.diag_indices(n)] += p.early_l2
        inv = scipy.linalg.inv(gram, overwrite_a=True, check_finite=False)
        w = -inv / np.diag(inv)[None, :]
        np.fill_diagonal(w, 0.0)
        self.early_weights = w.astype(np.float32)
        self.history = x

    def fitted_params(self) -> HybridParams:
        """The learned blend as a plain late fusion (components with their own fitted params)."""
        if self.params.mode != "meta":
            return self.params
        comps = []
        for comp, model, weight in zip(self.params.components, self.models, self.weights, strict=True):
            fitted = model.fitted_params() if hasattr(model, "fitted_params") else model.params
            comps.append(Component(comp.name, float(weight), to_dict(fitted)))
        return replace(self.params, mode="late", components=comps, intercept=self.intercept)

    # ------------------------------------------------------------------ scoring
    def score(self, users: np.ndarray, items: np.ndarray | None = None) -> np.ndarray:
        users = np.asarray(users)
        if self.params.mode == "early":
            w = self.early_weights if items is None else self.early_weights[:, items]
            return np.asarray(self.history[users] @ w, dtype=np.float32)
        blend = np.full((users.size, self.n_items), self.intercept if self.params.objective == "rating" else 0.0,
                        dtype=np.float32)
        for weight, part in zip(self.weights, self._component_scores(users), strict=True):
            if weight:
                blend += weight * part
        return blend if items is None else blend[:, items]

    def recommend(
        self, users: np.ndarray, k: int, exclude: sp.csr_matrix | None = None, items: np.ndarray | None = None
    ) -> Recs:
        return rank(self.score(users, items), k, exclude, items)

    def can_fold_in(self) -> bool:
        """Whether every weighted component can score a history it never saw (see ``score_history``)."""
        if self.params.mode == "early":
            return True
        return all(hasattr(m, "score_history") for m, w in zip(self.models, self.weights) if w)

    def score_history(self, rows: sp.csr_matrix, items: np.ndarray | None = None) -> np.ndarray:
        """Fold in histories the model never saw: the same blend of each component's fold-in scores."""
        rows = sp.csr_matrix(rows, dtype=np.float32)
        if self.params.mode == "early":
            x = rows.copy()
            x.data[:] = 1.0
            w = self.early_weights if items is None else self.early_weights[:, items]
            return np.asarray(x @ w, dtype=np.float32)
        blend = np.full((rows.shape[0], self.n_items), self.intercept if self.params.objective == "rating" else 0.0,
                        dtype=np.float32)
        for weight, model in zip(self.weights, self.models, strict=True):
            if not weight:
                continue
            part = np.asarray(model.score_history(rows), dtype=np.float32)
            blend += weight * (part if self.params.objective == "rating" else normalise(part, self.params.normalize))
        return blend if items is None else blend[:, items]

    def similar_items(self, items: np.ndarray, k: int) -> Recs:
        if self.params.mode == "early":
            sims = self.early_weights[items].copy()
            sims[np.arange(len(items)), items] = -np.inf
            return rank(sims, k)
        main = int(np.argmax(self.weights))
        return self.models[main].similar_items(items, k)

    # ------------------------------------------------------------------ storage
    def save(self, path: Path) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {"weights": self.weights, "intercept": np.array([self.intercept]),
                                         "scale": np.array(self.scale)}
        if self.params.mode == "early":
            h = self.history
            arrays |= {"early": self.early_weights, "h_indptr": h.indptr, "h_indices": h.indices, "h_data": h.data}
        else:
            for i, model in enumerate(self.models):
                target = path / f"component{i}"
                if target.exists():
                    shutil.rmtree(target)
                model.save(target)
        save_arrays(path, self.name, self.params, arrays, n_users=self.n_users, n_items=self.n_items,
                    meta=self.meta_report)

    @classmethod
    def load(cls, path: Path) -> Self:
        path = Path(path)
        params, arrays, manifest = load_arrays(path, cls.name, cls.Params)
        model = cls(params)
        model.n_users, model.n_items = manifest["n_users"], manifest["n_items"]
        model.weights = arrays["weights"]
        model.intercept = float(arrays["intercept"][0])
        model.scale = (float(arrays["scale"][0]), float(arrays["scale"][1]))
        model.meta_report = manifest.get("meta", {})
        if params.mode == "early":
            model.early_weights = arrays["early"]
            model.history = sp.csr_matrix(
                (arrays["h_data"], arrays["h_indices"], arrays["h_indptr"]), shape=(model.n_users, model.n_items)
            )
            return model
        from recsys_cli.models import load_model

        read_manifest(path, verify=True)
        model.models = [load_model(path / f"component{i}") for i in range(len(params.components))]
        return model
