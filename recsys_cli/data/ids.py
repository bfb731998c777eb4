"""IdMap: external ids (strings) <-> dense integer indices, at the edges only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl


class IdMap:
    """An immutable vocabulary of external ids: index ``i`` is ``ids[i]``.

    A new vocabulary is sorted (``IdMap(values)``, ``from_values``). Once saved,
    a map is append-only: ``load_ids`` keeps the saved order and ``append``
    gives new ids the next indices, so a new user or product never shifts the
    index of one a model or bundle already knows (``recsys update``).
    """

    def __init__(self, ids: np.ndarray | list[str], keep_order: bool = False) -> None:
        arr = np.asarray(ids, dtype=str)
        if keep_order:
            if np.unique(arr).size != arr.size:
                raise ValueError("IdMap: duplicate ids in an ordered vocabulary")
        elif arr.size and np.any(arr[1:] <= arr[:-1]):
            arr = np.unique(arr)
        self.ids = arr
        self._frame = pl.DataFrame({"id": self.ids, "idx": np.arange(self.ids.size, dtype=np.int32)})

    @classmethod
    def from_values(cls, *columns: pl.Series | list[str]) -> IdMap:
        values = pl.concat([pl.Series(c, dtype=pl.Utf8) for c in columns]).drop_nulls().unique().sort()
        return cls(values.to_numpy().astype(str))

    def append(self, values: pl.Series | list[str] | np.ndarray) -> IdMap:
        """This map plus the ids of ``values`` it does not know, in first-seen order, at the end."""
        series = pl.Series("id", values, dtype=pl.Utf8) if not isinstance(values, pl.Series) else values.cast(pl.Utf8)
        new = series.drop_nulls().unique(maintain_order=True)
        new = new.filter(pl.Series(self.index(new) < 0))
        if new.len() == 0:
            return self
        return IdMap(np.concatenate([self.ids, new.to_numpy().astype(str)]), keep_order=True)

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
        return IdMap(z["users"], keep_order=True), IdMap(z["items"], keep_order=True)
