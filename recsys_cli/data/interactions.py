"""Interactions: a user x item CSR matrix of summed event weights, built from events."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import scipy.sparse as sp


def to_matrix(
    frame: pl.DataFrame,
    n_users: int,
    n_items: int,
    value: str | None = "weight",
) -> sp.csr_matrix:
    """Sum ``value`` (or count rows, if None) per (user_idx, item_idx) into a CSR matrix."""
    users = frame["user_idx"].to_numpy()
    items = frame["item_idx"].to_numpy()
    data = (
        frame[value].to_numpy().astype(np.float32)
        if value is not None
        else np.ones(frame.height, dtype=np.float32)
    )
    mat = sp.csr_matrix((data, (users, items)), shape=(n_users, n_items), dtype=np.float32)
    mat.sum_duplicates()
    mat.sort_indices()
    return mat


def binary(mat: sp.csr_matrix) -> sp.csr_matrix:
    out = mat.copy()
    out.data = np.ones_like(out.data)
    return out


def save_matrix(path: Path, mat: sp.csr_matrix) -> None:
    with open(path, "wb") as fh:
        np.savez(fh, indptr=mat.indptr, indices=mat.indices, data=mat.data, shape=np.array(mat.shape))


def load_matrix(path: Path) -> sp.csr_matrix:
    with np.load(path, allow_pickle=False) as z:
        return sp.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=tuple(z["shape"]))
