"""Folding new events into a fitted model without refitting it from scratch (``recsys update``).

- latent-factor models (ALS, BPR, LMF): new users and items get zero rows;
  the factors of the users and items the new events touch are re-solved by
  the ALS least-squares step (confidence ``alpha * weight``, ridge
  ``regularization``: implicit's own update), users given the item factors,
  then items given the user factors, ``sweeps`` times; nothing else moves.
  A row that has factors takes ``cg_steps`` steps of conjugate gradient from
  them, as implicit's own ALS fits (its ``use_cg``, 3 steps; a popular
  product's column of thousands of shoppers costs steps x its length x
  factors instead of its length x factors²); new rows and ``cg_steps=0`` are
  solved exactly;
- item-item models (EASE, item-kNN, RP3beta): the history they multiply by
  W becomes the new one (new items get empty rows and columns of W);
- popularity: recounted from the new history.

Any other model refuses with one line: refit it with ``recsys train``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from recsys_cli.errors import RecsysError
from recsys_cli.models.factors import FactorModel
from recsys_cli.models.itemitem import ItemItemModel
from recsys_cli.models.popularity import Popularity


def _grow(a: np.ndarray, rows: int) -> np.ndarray:
    if a.shape[0] >= rows:
        return a
    return np.vstack([a, np.zeros((rows - a.shape[0], a.shape[1]), dtype=a.dtype)])


def _block_cg(gram: np.ndarray, fb: np.ndarray, conf: np.ndarray, valid: np.ndarray, x: np.ndarray,
              steps: int) -> np.ndarray:
    """``steps`` of conjugate gradient from ``x`` for every row of a padded block at once (rows independent):
    ``(gram + F_iᵀ diag(c_i - 1) F_i) x_i = F_iᵀ c_i`` without forming the matrices (implicit's CG step)."""
    w = np.where(valid, conf - 1.0, 0.0)

    def product(v: np.ndarray) -> np.ndarray:  # block x factors
        fv = np.matmul(fb, v[..., None])[..., 0]  # block x width
        return v @ gram + np.matmul((w * fv)[:, None, :], fb)[:, 0, :]

    r = np.matmul(conf[:, None, :], fb)[:, 0, :] - product(x)
    p = r.copy()
    rs = (r * r).sum(axis=1)
    for _ in range(steps):
        ap = product(p)
        denom = (p * ap).sum(axis=1)
        step = np.where((rs > 1e-20) & (denom > 0), rs / np.where(denom > 0, denom, 1.0), 0.0)
        x = x + step[:, None] * p
        r = r - step[:, None] * ap
        new = (r * r).sum(axis=1)
        p = r + np.where(rs > 1e-20, new / np.where(rs > 0, rs, 1.0), 0.0)[:, None] * p
        rs = new
    return x


def solve_rows(fixed: np.ndarray, rows: sp.csr_matrix, alpha: float, reg: float,
               block_entries: int = 8192, current: np.ndarray | None = None, cg_steps: int = 0) -> np.ndarray:
    """For each row of ``rows`` (weights over the fixed side), the ALS least-squares solution.

    ``x = (FᵀF + F_iᵀ(C_i - I)F_i + λI)⁻¹ F_iᵀ C_i 1`` with ``C_i = alpha * w``
    over the row's non-zeros: implicit's ALS update for one side given the other.
    Rows go in blocks of similar length, padded to the block's longest (padding
    weighs nothing), so each block is one batched product and one batched solve;
    a block holds about ``block_entries`` entries (memory: that times 8 x factors bytes).
    With ``cg_steps`` and the rows' ``current`` factors, a row that already has
    factors takes that many conjugate-gradient steps from them instead (as implicit
    fits); a row without (a new shopper or product) is solved exactly.
    """
    f = fixed.astype(np.float64)
    d = f.shape[1]
    gram = f.T @ f + (reg or 1e-6) * np.eye(d)
    out = np.zeros((rows.shape[0], d))
    lengths = np.diff(rows.indptr)
    order = np.argsort(lengths, kind="stable")
    order = order[lengths[order] > 0]
    refine = np.zeros(rows.shape[0], dtype=bool)
    if cg_steps > 0 and current is not None:
        refine = np.asarray(current != 0).any(axis=1)
    start = 0
    while start < order.size:
        rest = lengths[order[start : start + block_entries]]  # a block holds at most this many rows
        fits = (np.arange(rest.size) + 1) * rest <= block_entries  # rows sorted by length: padded size grows
        count = max(1, int(np.argmin(fits)) if not fits.all() else rest.size)
        block = order[start : start + count]
        width = int(lengths[block[-1]])
        offsets = np.arange(width)
        valid = offsets[None, :] < lengths[block][:, None]
        where = np.where(valid, rows.indptr[block][:, None] + offsets[None, :], 0)
        conf = np.where(valid, alpha * rows.data[where].astype(np.float64), 0.0)
        fb = f[rows.indices[where]]  # block x width x factors
        cg = refine[block]
        if cg.any():
            out[block[cg]] = _block_cg(gram, fb[cg], conf[cg], valid[cg],
                                       np.asarray(current[block[cg]], dtype=np.float64), cg_steps)
        if (~cg).any():
            fe, ce, ve = fb[~cg], conf[~cg], valid[~cg]
            weighted = fe * np.where(ve, ce - 1.0, 0.0)[..., None]
            a = gram + np.matmul(weighted.transpose(0, 2, 1), fe)
            b = np.matmul(ce[:, None, :], fe)  # rows x 1 x factors
            out[block[~cg]] = np.linalg.solve(a, b.transpose(0, 2, 1))[..., 0]
        start += count
    return out.astype(np.float32)


def update_factors(model: FactorModel, weights: sp.csr_matrix, users: np.ndarray, items: np.ndarray,
                   sweeps: int, reach: str = "touched", cg_steps: int = 0) -> None:
    """Grow to ``weights``' shape, then re-solve the touched users and items in alternation.

    ``reach="neighbours"``: the users re-solved are also every shopper of a touched
    item (their scores move with those items' factors), not only the shoppers
    in the new events.
    """
    n_users, n_items = weights.shape
    model._set_factors(_grow(model.user_factors, n_users), _grow(model.item_factors, n_items))
    alpha = float(getattr(model.params, "alpha", 1.0))
    reg = float(getattr(model.params, "regularization", 0.01))
    columns = sp.csr_matrix(weights.T)  # items x users
    if reach == "neighbours" and items.size:
        users = np.union1d(users, columns[items].indices).astype(np.int64)
    for _ in range(sweeps):
        if users.size:
            model.user_factors[users] = solve_rows(model.item_factors, weights[users], alpha, reg,
                                                   current=model.user_factors[users], cg_steps=cg_steps)
        if items.size:
            model.item_factors[items] = solve_rows(model.user_factors, columns[items], alpha, reg,
                                                   current=model.item_factors[items], cg_steps=cg_steps)
    model._set_factors(model.user_factors, model.item_factors)  # drops cached Grams of the old factors


def update_model(model: Any, weights: sp.csr_matrix, users: np.ndarray, items: np.ndarray, sweeps: int,
                 reach: str = "touched", cg_steps: int = 0) -> str:
    """Fold the new history ``weights`` (users x items, summed event weights) into ``model``; what was done."""
    n_users, n_items = weights.shape
    if isinstance(model, FactorModel):
        update_factors(model, weights, users, items, sweeps, reach, cg_steps)
        solver = f"{cg_steps} conjugate-gradient steps, new rows exactly" if cg_steps else "exactly"
        return (f"re-solved the factors of {users.size:,} shoppers ({reach}) and {items.size:,} items "
                f"({sweeps} sweeps, {solver})")
    if isinstance(model, ItemItemModel):
        w = model.weights
        grow = n_items - w.shape[0]
        if grow > 0:
            if sp.issparse(w):
                w = sp.block_diag([w, sp.csr_matrix((grow, grow), dtype=np.float32)], format="csr")
            else:
                w = np.pad(w, ((0, grow), (0, grow)))
        binary = getattr(model.params, "binary", getattr(model.params, "binary_history", False))
        hist = sp.csr_matrix(weights, dtype=np.float32, copy=True)
        if binary:
            hist.data[:] = 1.0
        model._set(hist, w)
        return "history refreshed (item-item weights kept; new items start empty)"
    if isinstance(model, Popularity):
        refit_popularity(model, weights)
        return "popularity recounted"
    raise RecsysError(f"recsys update: model {getattr(model, 'name', type(model).__name__)!r} cannot fold in new "
                      "events (als, bpr, lmf, ease, itemknn, rp3beta, popularity can); refit it with `recsys train`")


def refit_popularity(model: Popularity, weights: sp.csr_matrix) -> None:
    """Popularity over the new history (distinct users or summed weights; a half-life is not recomputed)."""
    model.n_users, model.n_items = weights.shape
    if model.params.by == "users":
        model.item_scores = np.bincount(weights.indices, minlength=weights.shape[1]).astype(np.float32)
    else:
        model.item_scores = np.asarray(weights.sum(axis=0)).ravel().astype(np.float32)
