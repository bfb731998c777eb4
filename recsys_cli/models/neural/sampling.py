"""Pointwise training examples: every positive pair plus sampled negatives per positive."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

REJECTION_ROUNDS = 20


def positives(matrix: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """(users, items) of every non-zero of ``matrix``, row-major."""
    m = matrix.tocsr()
    users = np.repeat(np.arange(m.shape[0], dtype=np.int64), np.diff(m.indptr))
    return users, m.indices.astype(np.int64)


def negatives(matrix: sp.csr_matrix, users: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One uniformly drawn item per entry of ``users`` that the user has not interacted with.

    Rejection sampling: draws that hit a positive are redrawn (a few rounds;
    a user who has seen nearly everything may keep a rare positive).
    """
    m = matrix.tocsr()
    if not m.has_sorted_indices:
        m = m.sorted_indices()
    n_items = m.shape[1]
    pos_u, pos_i = positives(m)
    keys = pos_u * n_items + pos_i  # sorted: rows ascending, columns sorted within rows
    items = rng.integers(0, n_items, size=users.size)
    redo = np.arange(users.size)
    for _ in range(REJECTION_ROUNDS):
        if keys.size == 0 or redo.size == 0:
            break
        query = users[redo] * n_items + items[redo]
        at = np.minimum(np.searchsorted(keys, query), keys.size - 1)
        redo = redo[keys[at] == query]
        items[redo] = rng.integers(0, n_items, size=redo.size)
    return items


def pointwise(matrix: sp.csr_matrix, n_negatives: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One epoch of (users, items, labels): each positive once, ``n_negatives`` negatives each."""
    pos_u, pos_i = positives(matrix)
    neg_u = np.repeat(pos_u, n_negatives)
    neg_i = negatives(matrix, neg_u, rng)
    users = np.concatenate([pos_u, neg_u])
    items = np.concatenate([pos_i, neg_i])
    labels = np.concatenate([np.ones(pos_u.size, np.float32), np.zeros(neg_u.size, np.float32)])
    return users, items, labels
