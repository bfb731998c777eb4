"""Shared plumbing for the explicit-rating models fit by scikit-surprise (svd, svdpp, knnbaseline).

Fitting is surprise's own code (its Cython SGD / ALS / similarity loops);
everything after that is ours. The learned parameters are copied out of the
surprise algorithm into numpy arrays in *our* index space, and prediction is
re-implemented, vectorised, from those arrays only. So scoring many users at
once is fast, and a saved model is a plain ``.npz`` — a surprise algorithm is
never pickled.

What the models are fit on:

- with explicit ratings (``data.ratings`` is a CSR of ratings), those
  ratings, on the scale ``(min, max)`` of the ratings seen in training;
- without (``data.ratings`` is None: the synthetic shop's view/cart/purchase
  events), **pseudo-ratings**: the summed event weight of each (user, item)
  pair from ``data.matrix``, clipped to ``[1, 5]``, on the scale ``(1, 5)``.

Ids: the raw ids handed to surprise are our integer indices, so surprise's
inner ids map back to our indices through ``trainset.to_raw_uid`` /
``to_raw_iid``. A user (item) is *known* when it has at least one training
rating, exactly as ``trainset.knows_user`` decides; every array below holds
zeros for unknown users and items, and the prediction code applies
surprise's fallbacks for them explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from recsys_cli.models.base import Recs, TrainData, rank

PSEUDO_SCALE = (1.0, 5.0)


@dataclass
class Ratings:
    """The ratings a surprise model is fit on, in our index space."""

    matrix: sp.csr_matrix  # float64 users x items, sorted indices, one entry per rated pair
    scale: tuple[float, float]  # (lowest, highest) rating: what predictions are clipped to
    pseudo: bool  # True when built from event weights (no explicit ratings in the data)


def ratings_of(data: TrainData) -> Ratings:
    """Explicit ratings where the data has them, else clipped event-weight pseudo-ratings."""
    if data.ratings is not None:
        mat = sp.csr_matrix(data.ratings, dtype=np.float64, copy=True)
        mat.sum_duplicates()
        mat.sort_indices()
        if mat.nnz == 0:
            raise ValueError("explicit-rating model: the training data has no ratings")
        return Ratings(mat, (float(mat.data.min()), float(mat.data.max())), pseudo=False)
    mat = sp.csr_matrix(data.matrix, dtype=np.float64, copy=True)
    mat.sum_duplicates()
    mat.eliminate_zeros()  # no event, no pseudo-rating
    mat.sort_indices()
    if mat.nnz == 0:
        raise ValueError("explicit-rating model: the training data has no interactions")
    mat.data = np.clip(mat.data, *PSEUDO_SCALE)
    return Ratings(mat, PSEUDO_SCALE, pseudo=True)


def trainset(ratings: Ratings) -> Any:
    """A surprise Trainset built by surprise's own ``construct_trainset``.

    Raw ids are our indices (Python ints). Ratings are fed in CSR order (user
    by user, items ascending), so each ``trainset.ur[u]`` / ``trainset.ir[i]``
    list is in ascending order of our indices — the order in which surprise
    breaks ties between equally similar neighbours.
    """
    from surprise import Dataset, Reader

    coo = ratings.matrix.tocoo()
    raw = list(zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist(), [None] * coo.nnz, strict=True))
    return Dataset(Reader(rating_scale=ratings.scale)).construct_trainset(raw)


def id_maps(ts: Any) -> tuple[np.ndarray, np.ndarray]:
    """Our user and item index of every surprise inner id (inner id -> ours)."""
    users = np.array([ts.to_raw_uid(u) for u in range(ts.n_users)], dtype=np.int64)
    items = np.array([ts.to_raw_iid(i) for i in range(ts.n_items)], dtype=np.int64)
    return users, items


def spread(values: np.ndarray, ours: np.ndarray, n: int) -> np.ndarray:
    """Rows indexed by surprise inner id -> rows indexed by our index (zeros for the unknown)."""
    values = np.asarray(values, dtype=np.float64)
    out = np.zeros((n, *values.shape[1:]), dtype=np.float64)
    out[ours] = values
    return out


def known(ours: np.ndarray, n: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[ours] = True
    return mask


def pairs(users: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    users = np.asarray(users, dtype=np.int64).ravel()
    items = np.asarray(items, dtype=np.int64).ravel()
    if users.shape != items.shape:
        raise ValueError(f"predict: {users.size} users but {items.size} items; pass one of each per rating")
    return users, items


def clip(est: np.ndarray, scale: np.ndarray | tuple[float, float]) -> np.ndarray:
    """Clip into the rating scale as ``AlgoBase.predict`` does (min with high, then max with low)."""
    low, high = float(scale[0]), float(scale[1])
    return np.maximum(low, np.minimum(high, est))


# ------------------------------------------------------- biased matrix factorisation (svd, svdpp)


@dataclass
class Factors:
    """What SVD and SVD++ predict from, in our index space.

    ``user_vec`` is p_u for SVD and p_u + |N(u)|^-1/2 sum_j y_j for SVD++
    (the user's effective factor); zeros for unknown users and items.
    """

    mu: float
    bu: np.ndarray
    bi: np.ndarray
    user_vec: np.ndarray
    qi: np.ndarray
    known_users: np.ndarray
    known_items: np.ndarray
    biased: bool = True

    @classmethod
    def empty(cls, biased: bool = True) -> Factors:
        return cls(0.0, np.zeros(0), np.zeros(0), np.zeros((0, 0)), np.zeros((0, 0)),
                   np.zeros(0, bool), np.zeros(0, bool), biased)

    def estimate(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Unclipped estimates of (user, item) pairs, mirroring SVD/SVDpp ``estimate``."""
        both = self.known_users[users] & self.known_items[items]
        dot = np.einsum("ij,ij->i", self.user_vec[users], self.qi[items])
        if not self.biased:  # unbiased SVD: impossible unless both known -> global mean
            return np.where(both, dot, self.mu)
        est = self.mu + self.bu[users] + self.bi[items]  # zeros stand in for unknown biases
        return np.where(both, est + dot, est)

    def grid(self, users: np.ndarray, items: np.ndarray | None) -> np.ndarray:
        """Unclipped estimates of every user in ``users`` x every candidate item."""
        cols = np.arange(self.qi.shape[0]) if items is None else np.asarray(items, dtype=np.int64)
        dot = self.user_vec[users] @ self.qi[cols].T
        both = self.known_users[users][:, None] & self.known_items[cols][None, :]
        if not self.biased:
            return np.where(both, dot, self.mu)
        est = (self.mu + self.bu[users])[:, None] + self.bi[cols][None, :]
        return np.where(both, est + dot, est)


def factor_similar(qi: np.ndarray, items: np.ndarray, k: int) -> Recs:
    """Most similar items by cosine of item factors (the item itself excluded)."""
    items = np.asarray(items, dtype=np.int64)
    norms = np.linalg.norm(qi, axis=1)
    norms[norms == 0] = 1.0
    unit = qi / norms[:, None]
    return rank(unit[items] @ unit.T, k, self_exclusion(items, qi.shape[0]))


def self_exclusion(items: np.ndarray, n_items: int) -> sp.csr_matrix:
    return sp.csr_matrix((np.ones(len(items)), (np.arange(len(items)), items)), shape=(len(items), n_items))


def scale_array(scale: tuple[float, float]) -> np.ndarray:
    return np.array(scale, dtype=np.float64)
