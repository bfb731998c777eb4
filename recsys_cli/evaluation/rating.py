"""Rating-prediction accuracy: RMSE and MAE, and k-fold splits like surprise's benchmark."""

from __future__ import annotations

import numpy as np


def rmse_mae(predicted: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    err = np.asarray(predicted, dtype=np.float64) - np.asarray(actual, dtype=np.float64)
    return {"rmse": float(np.sqrt(np.mean(err**2))), "mae": float(np.mean(np.abs(err))), "n": int(err.size)}


def kfold(n: int, folds: int, seed: int) -> list[np.ndarray]:
    """Test-row indices of each fold: one seeded shuffle cut into ``folds`` near-equal parts.

    The same scheme as ``surprise.model_selection.KFold(shuffle=True)``:
    the first ``n % folds`` folds get one extra row.
    """
    order = np.random.RandomState(seed).permutation(n)
    sizes = np.full(folds, n // folds)
    sizes[: n % folds] += 1
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    return [np.sort(order[bounds[f] : bounds[f + 1]]) for f in range(folds)]
