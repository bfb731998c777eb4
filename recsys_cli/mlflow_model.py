"""The export bundle as an MLflow pyfunc model, logged as "models from code".

``recsys export`` logs *this file* as the model's code (nothing is pickled) and
the bundle directory as the model's one artifact. On load MLflow runs the file;
``set_model`` at the bottom names the model object, and ``load_context`` reads
the bundle (checksums verified) from ``context.artifacts["bundle"]``.

``predict``: user ids in (a DataFrame with a ``user_id`` column, or its first
column; a list; ``{"user_id": [...]}``), top-K items out, one row per user:
``user_id``, ``item_ids`` (external ids, best first), ``scores``, ``fallback``
(true where the user has no train history or is unknown, and got the popularity
fallback). ``k`` comes from the request's params (default: the bundle's
``recommend.k``, else 10). Items a user has interacted with in any window are
not recommended again, as in ``recsys batch-recommend``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from mlflow.models import set_model
from mlflow.pyfunc import PythonModel

HISTORY = "history.npz"  # in the bundle: seen items per user (CSR) and which users have train history
DEFAULT_K = 10


class BundleRecommender:
    """Top-K for external user ids from a loaded bundle; unknown or cold users get the fallback."""

    def __init__(self, path: Path) -> None:
        from recsys_cli.bundle import read_bundle

        self.bundle = read_bundle(path)
        n_users, n_items = len(self.bundle.users), len(self.bundle.items)
        history = Path(path) / HISTORY
        if history.is_file():
            with np.load(history, allow_pickle=False) as z:
                seen = sp.csr_matrix((np.ones(z["indices"].size, dtype=np.float32), z["indices"], z["indptr"]),
                                     shape=(n_users, n_items))
                known = z["known"].astype(bool)
        else:  # an older bundle: no history to exclude; every indexed user counts as known
            seen = sp.csr_matrix((n_users, n_items), dtype=np.float32)
            known = np.ones(n_users, dtype=bool)
        # one empty row at the end stands for unknown users
        self.seen = sp.vstack([seen, sp.csr_matrix((1, n_items), dtype=np.float32)], format="csr")
        self.known = known
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
        idx = self.bundle.users.index(ids) if ids else np.zeros(0, dtype=np.int32)
        warm = (idx >= 0) & self.known[np.maximum(idx, 0)] if len(self.known) else np.zeros(len(ids), dtype=bool)
        rows = np.where(idx >= 0, idx, self.seen.shape[0] - 1)
        items = np.full((len(ids), k), -1, dtype=np.int64)
        scores = np.full((len(ids), k), -np.inf, dtype=np.float64)
        for mask, model in ((warm, self.bundle.model), (~warm, self.bundle.fallback)):
            sel = np.flatnonzero(mask)
            if sel.size == 0:
                continue
            users = np.where(warm[sel], idx[sel], 0).astype(np.int64)  # the fallback ranks the same for anyone
            recs = model.recommend(users, k, self.seen[rows[sel]])
            items[sel], scores[sel] = recs.items, recs.scores
        external = self.bundle.items.external(items)
        return pd.DataFrame(
            {
                "user_id": ids,
                "item_ids": [[str(i) for i, j in zip(ext, row) if j >= 0] for ext, row in zip(external, items)],
                "scores": [[float(s) for s, j in zip(srow, row) if j >= 0] for srow, row in zip(scores, items)],
                "fallback": ~warm,
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
