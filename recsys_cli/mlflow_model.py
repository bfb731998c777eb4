"""The export bundle as an MLflow pyfunc model, logged as "models from code".

``recsys export`` logs *this file* as the model's code (nothing is pickled) and
the bundle directory as the model's one artifact. On load MLflow runs the file;
``set_model`` at the bottom names the model object, and ``load_context`` reads
the bundle (checksums verified) from ``context.artifacts["bundle"]``.

``predict``: user ids in (a DataFrame with a ``user_id`` column, or its first
column; a list; ``{"user_id": [...]}``), top-K items out, one row per user:
``user_id``, ``item_ids`` (external ids, best first), ``scores``, ``fallback``
(true where the user has no train history or is unknown, and got the popularity
fallback). It is a thin adapter over ``recsys_cli.service.RecommenderService``,
the same service ``recsys serve`` and ``recsys batch-recommend`` use. ``k`` comes from the request's params (default: the bundle's
``recommend.k``, else 10). Items a user has interacted with in any window are
not recommended again, as in ``recsys batch-recommend``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlflow.models import set_model
from mlflow.pyfunc import PythonModel

DEFAULT_K = 10


class BundleRecommender:
    """The pyfunc's view of :class:`~recsys_cli.service.RecommenderService`: top-K rows for user ids."""

    def __init__(self, path: Path) -> None:
        from recsys_cli.service import RecommenderService

        self.service = RecommenderService.load(path)
        self.bundle = self.service.bundle
        self.default_k = int(self._configured_k() or DEFAULT_K)

    def _configured_k(self) -> int | None:
        import yaml

        config = self.bundle.path / "config.yaml"
        if not config.is_file():
            return None
        k = ((yaml.safe_load(config.read_text()) or {}).get("recommend") or {}).get("k")
        return int(k) if isinstance(k, int) and k > 0 else None

    def recommend(self, user_ids: list[str], k: int | None = None) -> pd.DataFrame:
        k = int(k or self.default_k)
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        ids = [str(u) for u in user_ids]
        lists = self.service.recommend_many(ids, k)
        return pd.DataFrame(
            {
                "user_id": ids,
                "item_ids": [[i.item_id for i in rec.items] for rec in lists],
                "scores": [[i.score for i in rec.items] for rec in lists],
                "fallback": np.array([rec.strategy != "personalised" for rec in lists], dtype=bool),
            }
        )


def user_ids_of(model_input: Any) -> list[str]:
    """User ids from whatever a pyfunc caller sends: a DataFrame, a Series, a list, a dict."""
    if isinstance(model_input, pd.DataFrame):
        if model_input.shape[1] == 0:
            return []
        column = "user_id" if "user_id" in model_input.columns else model_input.columns[0]
        out: list[str] = []
        for value in model_input[column].tolist():  # a cell may hold a list: {"inputs": [[...]]}
            out += user_ids_of(value) if isinstance(value, (list, tuple, np.ndarray)) else [str(value)]
        return out
    if isinstance(model_input, dict):
        values = model_input.get("user_id", model_input.get("user_ids", next(iter(model_input.values()), [])))
        return user_ids_of(values)
    if isinstance(model_input, (pd.Series, np.ndarray)):
        return [str(v) for v in np.asarray(model_input).ravel().tolist()]
    if isinstance(model_input, (list, tuple)):
        return [str(v) for v in model_input]
    return [str(model_input)]


class RecsysModel(PythonModel):
    """The pyfunc wrapper MLflow serves: ``load_context`` reads the bundle once."""

    def load_context(self, context: Any) -> None:
        self.recommender = BundleRecommender(Path(context.artifacts["bundle"]))

    # model_input: pd.DataFrame is a hint MLflow builds no schema from (the logged signature is the schema)
    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        k = (params or {}).get("k")
        return self.recommender.recommend(user_ids_of(model_input), int(k) if k else None)


set_model(RecsysModel())
