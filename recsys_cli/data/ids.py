"""IdMap: external ids (strings) <-> dense integer indices, at the edges only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl


class IdMap:
    """A sorted, immutable vocabulary of external ids."""

    def __init__(self, ids: np.ndarray | list[str]) -> None:
        arr = np.asarray(ids, dtype=str)
        if arr.size and np.any(arr[1:] <= arr[:-1]):
            arr = np.unique(arr)
        self.ids = arr
        self._frame = pl.DataFrame({"id": self.ids, "idx": np.arange(self.ids.size, dtype=np.int32)})

    @classmethod
    def from_values(cls, *columns: pl.Series | list[str]) -> IdMap:
        values = pl.concat([pl.Series(c, dtype=pl.Utf8) for c in columns]).drop_nulls().unique().sort()
        return cls(values.to_numpy().astype(str))

    def __len__(self) -> int:
        return int(self.ids.size)

    def index(self, values: pl.Series | list[str] | np.ndarray) -> np.ndarray:
        """Indices of ``values`` (-1 where unknown)."""
        series = pl.Series("id", values, dtype=pl.Utf8) if not isinstance(values, pl.Series) else values.alias("id").cast(pl.Utf8)
        joined = series.to_frame().join(self._frame, on="id", how="left", maintain_order="left")
        return joined["idx"].fill_null(-1).to_numpy().astype(np.int32)

    def external(self, idx: np.ndarray) -> np.ndarray:
        """External ids of indices (``""`` for -1 padding)."""
        idx = np.asarray(idx)
        out = self.ids[np.clip(idx, 0, max(len(self) - 1, 0))] if len(self) else np.full(idx.shape, "", dtype=str)
        return np.where(idx >= 0, out, "")


def save_ids(path: Path, users: IdMap, items: IdMap) -> None:
    with open(path, "wb") as fh:
        np.savez(fh, users=users.ids, items=items.ids)


def load_ids(path: Path) -> tuple[IdMap, IdMap]:
    with np.load(path, allow_pickle=False) as z:
        return IdMap(z["users"]), IdMap(z["items"])
