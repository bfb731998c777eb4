"""Sparse feature rows (one-hot side features, TF-IDF) as inputs to a linear projection.

A :class:`SparseRows` holds a CSR matrix as numpy arrays (what the model
directory stores) and hands out torch ``EmbeddingBag`` inputs for a batch of
rows: a row's projection is the weighted sum of its columns' vectors, which
is a linear layer over the sparse row without ever making it dense.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn


@dataclass
class SparseRows:
    matrix: sp.csr_matrix  # float32, rows x columns

    @classmethod
    def of(cls, matrix: sp.csr_matrix | None, n_rows: int) -> SparseRows:
        """``matrix`` as float32 CSR, or an empty (n_rows x 0) one."""
        if matrix is None:
            return cls(sp.csr_matrix((n_rows, 0), dtype=np.float32))
        m = sp.csr_matrix(matrix, dtype=np.float32)
        if m.shape[0] != n_rows:
            raise ValueError(f"feature matrix has {m.shape[0]} rows, expected {n_rows}")
        m.sort_indices()
        return cls(m)

    @property
    def columns(self) -> int:
        return int(self.matrix.shape[1])

    def bag(self, rows: np.ndarray, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(indices, offsets, weights) of ``rows`` for ``nn.EmbeddingBag(mode="sum")``."""
        sub = self.matrix[np.asarray(rows)]
        return (
            torch.from_numpy(sub.indices.astype(np.int64)).to(device),
            torch.from_numpy(sub.indptr[:-1].astype(np.int64)).to(device),
            torch.from_numpy(sub.data.astype(np.float32)).to(device),
        )

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        m = self.matrix
        return {
            f"{prefix}.indptr": m.indptr.astype(np.int64), f"{prefix}.indices": m.indices.astype(np.int64),
            f"{prefix}.data": m.data.astype(np.float32), f"{prefix}.shape": np.array(m.shape, dtype=np.int64),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str) -> SparseRows:
        shape = tuple(int(s) for s in arrays[f"{prefix}.shape"])
        m = sp.csr_matrix((arrays[f"{prefix}.data"], arrays[f"{prefix}.indices"], arrays[f"{prefix}.indptr"]), shape=shape)
        return cls(m)


class Projection(nn.Module):
    """A bias-free linear map of sparse rows to ``dim``; zero vectors when there are no columns."""

    def __init__(self, columns: int, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.bag = nn.EmbeddingBag(columns, dim, mode="sum") if columns else None
        if self.bag is not None:
            nn.init.normal_(self.bag.weight, std=0.01)

    def forward(self, rows: SparseRows, index: np.ndarray, device: torch.device) -> torch.Tensor:
        if self.bag is None:
            return torch.zeros(len(index), self.dim, device=device)
        indices, offsets, weights = rows.bag(index, device)
        return self.bag(indices, offsets, per_sample_weights=weights)
