"""Inputs of a Wide & Deep model: user context, categorical feature crosses, history crosses.

Everything here is built from the fit window at fit time and stored with the
model, so scoring needs nothing else.

- **Context.** Events carry their time (and, in some sources, a device) only
  when they happen; when ranking the whole catalog for a user there is no
  event yet. So context becomes a property of the user: the 4-hour band of
  the day they are most active in (``hour=16-20``) and, when the events have
  a ``device`` column, their most used device (``device=mobile``), one-hot.
- **Feature crosses.** A field is a block of one-hot columns named
  ``field=value`` (``recsys_cli.features.side``); a cross pairs a user field
  with an item field (age band x item top category, user price band x item
  price band, favourite category x item top category, ...) and gets one
  weight per (user value, item value) pair, "unknown" included. The item
  field ``item`` is the item id itself (hour band x item). Crosses whose
  fields are missing are skipped, so with no features only the id-level
  crosses are left.
- **History crosses** (the paper's "installed app x impression app"): each of
  the user's ``history`` most-weighted train items crossed with the
  candidate item, hashed into ``buckets`` weights (exact when
  ``n_items**2 <= buckets``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import scipy.sparse as sp

from recsys_cli.features.side import SideMatrix

HOUR_BAND = 4  # hours per band of the day

FEATURE_CROSSES = [
    ("age_band", "top"),
    ("gender", "top"),
    ("price_band", "price_band"),
    ("top_category", "top"),
    ("hour", "top"),
    ("device", "top"),
]
ID_CROSSES = [("hour", "item"), ("device", "item")]


def _modal(users: np.ndarray, codes: np.ndarray, n_users: int, n_codes: int) -> np.ndarray:
    """Each user's most frequent code (ties: the lowest), -1 for users with no events."""
    counts = np.zeros((n_users, n_codes), dtype=np.int64)
    np.add.at(counts, (users, codes), 1)
    best = counts.argmax(axis=1)
    return np.where(counts.sum(axis=1) > 0, best, -1)


def user_context(events: pl.DataFrame | None, n_users: int) -> SideMatrix:
    """One-hot of each user's modal hour band and (when events have one) modal device."""
    if events is None or events.height == 0:
        return SideMatrix(sp.csr_matrix((n_users, 0), dtype=np.float32), np.array([], dtype=str))
    users = events["user_idx"].to_numpy().astype(np.int64)
    blocks, names = [], []
    if "timestamp" in events.columns:
        bands = 24 // HOUR_BAND
        hour = (events["timestamp"].dt.hour().to_numpy().astype(np.int64) // HOUR_BAND).clip(0, bands - 1)
        blocks.append(_modal(users, hour, n_users, bands))
        names.append([f"hour={b * HOUR_BAND:02d}-{(b + 1) * HOUR_BAND:02d}" for b in range(bands)])
    if "device" in events.columns:
        device = events["device"].cast(pl.Utf8).fill_null("unknown").to_numpy()
        values, codes = np.unique(device, return_inverse=True)
        blocks.append(_modal(users, codes.astype(np.int64), n_users, len(values)))
        names.append([f"device={v}" for v in values])
    mats = []
    for modal, labels in zip(blocks, names, strict=True):
        rows = np.flatnonzero(modal >= 0)
        mats.append(sp.csr_matrix((np.ones(rows.size, np.float32), (rows, modal[rows])), shape=(n_users, len(labels))))
    return SideMatrix(sp.hstack(mats, format="csr", dtype=np.float32), np.array(sum(names, []), dtype=str))


def join_side(*sides: SideMatrix | None) -> SideMatrix:
    present = [s for s in sides if s is not None and s.matrix.shape[1]]
    if not present:
        n = next((s.matrix.shape[0] for s in sides if s is not None), 0)
        return SideMatrix(sp.csr_matrix((n, 0), dtype=np.float32), np.array([], dtype=str))
    return SideMatrix(
        sp.hstack([s.matrix for s in present], format="csr", dtype=np.float32),
        np.concatenate([np.asarray(s.names, dtype=str) for s in present]),
    )


def field_codes(side: SideMatrix, field: str) -> tuple[np.ndarray, int] | None:
    """Per row, the value index within ``field``'s one-hot block (``n_values`` = unknown), or None."""
    cols = np.flatnonzero(np.char.startswith(np.asarray(side.names, dtype=str), f"{field}="))
    if cols.size == 0:
        return None
    block = side.matrix.tocsr()[:, cols].tocsr()
    block.sort_indices()
    has = np.diff(block.indptr) > 0
    codes = np.full(block.shape[0], cols.size, dtype=np.int64)
    codes[has] = block.indices[block.indptr[:-1][has]]
    return codes, cols.size + 1


@dataclass
class Crosses:
    """Cross c gives pair (u, i) the weight ``offset[c] + user[c, u] * width[c] + item[c, i]``."""

    user: np.ndarray  # (crosses, n_users) int64
    item: np.ndarray  # (crosses, n_items) int64
    width: np.ndarray  # (crosses,) number of item values per cross
    offset: np.ndarray  # (crosses,) first weight of each cross
    cells: int  # weights over all crosses
    names: list[str]


def build_crosses(user_side: SideMatrix, item_side: SideMatrix, n_users: int, n_items: int) -> Crosses:
    users, items, widths, sizes, names = [], [], [], [], []
    for ufield, ifield in FEATURE_CROSSES + ID_CROSSES:
        u = field_codes(user_side, ufield)
        i = (np.arange(n_items, dtype=np.int64), n_items) if ifield == "item" else field_codes(item_side, ifield)
        if u is None or i is None or f"{ufield}x{ifield}" in names:
            continue
        users.append(u[0])
        items.append(i[0])
        widths.append(i[1])
        sizes.append(u[1] * i[1])
        names.append(f"{ufield}x{ifield}")
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    return Crosses(
        user=np.array(users, dtype=np.int64).reshape(len(users), n_users),
        item=np.array(items, dtype=np.int64).reshape(len(items), n_items),
        width=np.array(widths, dtype=np.int64),
        offset=offsets[:-1],
        cells=int(offsets[-1]),
        names=names,
    )


def history(matrix: sp.csr_matrix, length: int) -> np.ndarray:
    """(n_users, length): each user's most-weighted train items (ties: lower index), -1 padded."""
    m = matrix.tocsr()
    out = np.full((m.shape[0], length), -1, dtype=np.int64)
    if length == 0 or m.nnz == 0:
        return out
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    order = np.lexsort((m.indices, -m.data, rows))  # by row, heaviest first, then item index
    rank = np.arange(order.size) - m.indptr[rows[order]]
    keep = rank < length
    out[rows[order][keep], rank[keep]] = m.indices[order][keep]
    return out
