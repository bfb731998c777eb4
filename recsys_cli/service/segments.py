"""Segment popularity: what shoppers who share an attribute (age band, gender, location) interact with.

For each attribute value, the share of that segment's shoppers who
interacted with each item, against the share over all shoppers: a shopper
who only tells us "25-34, London" is shown what over-indexes with people
like them ("popular in CATEGORY with shoppers like you"), not only what is
popular with everyone. Built once at load from the bundle's user table and
history (binary, so one heavy buyer does not make a segment).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl
import scipy.sparse as sp

ATTRIBUTES = ("age_band", "gender", "location")
MIN_USERS = 5  # a segment smaller than this says nothing


@dataclass
class SegmentPopularity:
    overall: np.ndarray  # share of all shoppers with history who interacted with each item
    shares: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # attr -> value -> share per item
    sizes: dict[str, dict[str, int]] = field(default_factory=dict)

    @classmethod
    def build(cls, users: pl.DataFrame | None, history: sp.csr_matrix) -> SegmentPopularity:
        binary = sp.csr_matrix((np.ones(history.nnz, dtype=np.float32), history.indices, history.indptr),
                               shape=history.shape)
        active = np.diff(binary.indptr) > 0
        n_active = max(int(active.sum()), 1)
        overall = np.asarray(binary.sum(axis=0)).ravel().astype(np.float32) / n_active
        out = cls(overall=overall)
        if users is None or users.height != history.shape[0]:
            return out
        for attr in ATTRIBUTES:
            if attr not in users.columns:
                continue
            values = users[attr].cast(pl.Utf8).to_numpy()
            out.shares[attr], out.sizes[attr] = {}, {}
            for value in {v for v in values.tolist() if v}:
                rows = np.flatnonzero((values == value) & active)
                if rows.size < MIN_USERS:
                    continue
                out.shares[attr][value] = np.asarray(binary[rows].sum(axis=0)).ravel().astype(np.float32) / rows.size
                out.sizes[attr][value] = int(rows.size)
        return out

    def values(self, attr: str) -> list[str]:
        return sorted(self.shares.get(attr, {}))

    def scores(self, attributes: dict[str, str | None]) -> np.ndarray | None:
        """Per item, the segments' smoothed share lifted against everyone (None when no attribute is known).

        Each known attribute contributes ``log((share_v + e) / (overall + e))``
        weighted by how popular the item is in the segment, so items that are
        both popular in the segment and over-indexed there come first.
        """
        parts = []
        for attr, value in attributes.items():
            share = self.shares.get(attr, {}).get(value or "")
            if share is not None:
                parts.append(share)
        if not parts:
            return None
        eps = 1.0 / 1000.0
        segment = np.mean(parts, axis=0)
        lift = np.log((segment + eps) / (self.overall + eps))
        return (segment * (1.0 + np.clip(lift, -1.0, 3.0))).astype(np.float32)
