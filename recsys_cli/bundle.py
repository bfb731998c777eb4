"""The export bundle: the one artifact the service loads.

Layout (``FORMAT``; every file listed with its sha256 in ``manifest.json``,
nested model manifests included, checked on load):

    model/            the served model (``Recommender.save``)
    fallback/         popularity, for shoppers the model cannot personalise
    ids.npz           external user and item ids in index order
    catalog.parquet   one row per item, in item-index order
    users.parquet     one row per user (attributes), in user-index order
    history.npz       every user's interactions over the windows the bundle saw
                      (CSR: indptr, indices; per pair the strongest event and the
                      last time) and ``known``: who the model personalises
    features/         item text and side features of the fit (content cold start)
    config.yaml, train_info.json, metrics.json

Arrays load without pickle. The manifest also records what the served model
saw: its fit windows, their event count and the cut-off (last event time).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp

from recsys_cli import __version__, layout
from recsys_cli.atomic import atomic_dir
from recsys_cli.data.ids import IdMap, load_ids
from recsys_cli.errors import RecsysError
from recsys_cli.manifest import MANIFEST, read_manifest, write_manifest
from recsys_cli.models import Recommender, load_model

FORMAT_NAME = "recsys-bundle"
FORMAT_VERSION = 2
FORMAT = f"{FORMAT_NAME}/{FORMAT_VERSION}"
HISTORY = "history.npz"
FEATURES = "features"

# the strongest thing a shopper did with an item, for "because you bought X" explanations
STRENGTH = {"view": 1, "click": 1, "rating": 1, "favorite": 2, "add_to_cart": 2, "purchase": 3}
PURCHASE_CODE = STRENGTH["purchase"]
STRENGTH_VERB = {0: "interacted with", 1: "viewed", 2: "added to your cart", 3: "bought"}


class BundleError(RecsysError):
    """A bundle that cannot be served: missing, damaged, tampered with, or of another format."""


@dataclass
class History:
    """Per user, the items they interacted with (CSR rows), how strongly and when last."""

    matrix: sp.csr_matrix  # users x items, data = strength code (1 view .. 3 purchase), int8
    last_ms: np.ndarray  # per non-zero, epoch milliseconds of the last interaction
    known: np.ndarray  # bool per user: has history in the model's fit windows
    weight: np.ndarray | None = None  # per non-zero, the summed event weights (what models are fit on)

    def row(self, user: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A user's items, their summed weights and strongest event codes."""
        m = self.matrix
        lo, hi = m.indptr[user], m.indptr[user + 1]
        weights = self.weight[lo:hi] if self.weight is not None else m.data[lo:hi].astype(np.float32)
        return m.indices[lo:hi], weights, m.data[lo:hi]

    def items_of(self, user: int) -> np.ndarray:
        m = self.matrix
        return m.indices[m.indptr[user] : m.indptr[user + 1]]


def history_from_events(events: pl.DataFrame, n_users: int, n_items: int, fit_users: np.ndarray) -> History:
    """``History`` from events with user_idx, item_idx, timestamp and (optionally) event."""
    strength = (
        pl.col("event").replace_strict(STRENGTH, default=1, return_dtype=pl.Int8)
        if "event" in events.columns else pl.lit(1, dtype=pl.Int8)
    )
    weight = pl.col("weight").cast(pl.Float32) if "weight" in events.columns else pl.lit(1.0, dtype=pl.Float32)
    pairs = (
        events.select("user_idx", "item_idx", strength.alias("s"), pl.col("timestamp").dt.epoch("ms").alias("t"),
                      weight.alias("w"))
        .group_by("user_idx", "item_idx").agg(pl.col("s").max(), pl.col("t").max(), pl.col("w").sum())
        .sort("user_idx", "item_idx")
    )
    rows = pairs["user_idx"].to_numpy().astype(np.int64)
    cols = pairs["item_idx"].to_numpy().astype(np.int32)
    indptr = np.zeros(n_users + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_users), out=indptr[1:])
    matrix = sp.csr_matrix((pairs["s"].to_numpy().astype(np.int8), cols, indptr), shape=(n_users, n_items))
    known = np.zeros(n_users, dtype=bool)
    known[np.asarray(fit_users, dtype=np.int64)] = True
    return History(matrix=matrix, last_ms=pairs["t"].to_numpy().astype(np.int64), known=known,
                   weight=pairs["w"].to_numpy().astype(np.float32))


def merge_history(history: History, events: pl.DataFrame, n_users: int, n_items: int) -> History:
    """``history`` (grown to ``n_users`` x ``n_items``) with ``events`` folded in: strongest event, last time,
    summed weight per pair. ``known`` is kept (new users start unknown)."""
    m = history.matrix
    strength = (
        pl.col("event").replace_strict(STRENGTH, default=1, return_dtype=pl.Int8)
        if "event" in events.columns else pl.lit(1, dtype=pl.Int8)
    )
    w = pl.col("weight").cast(pl.Float32) if "weight" in events.columns else pl.lit(1.0, dtype=pl.Float32)
    new = (events.select(pl.col("user_idx").cast(pl.Int64), pl.col("item_idx").cast(pl.Int64), strength.alias("s"),
                         pl.col("timestamp").dt.epoch("ms").alias("t"), w.alias("w"))
           .group_by("user_idx", "item_idx").agg(pl.col("s").max(), pl.col("t").max(), pl.col("w").sum())
           .sort("user_idx", "item_idx"))
    # the old pairs in CSR order are sorted by (user, item): one key each, so the new pairs are found by a
    # binary search and either update their pair in place or are inserted at their place
    rows = np.repeat(np.arange(m.shape[0], dtype=np.int64), np.diff(m.indptr))
    old_keys = rows * n_items + m.indices.astype(np.int64)
    s_old = np.array(m.data, dtype=np.int8)
    t_old = np.array(history.last_ms, dtype=np.int64)
    w_old = np.array(history.weight if history.weight is not None else m.data, dtype=np.float32)
    if old_keys.size > 1 and not (np.diff(old_keys) > 0).all():  # a CSR whose rows are not sorted: sort it
        order = np.argsort(old_keys, kind="stable")
        old_keys, s_old, t_old, w_old = old_keys[order], s_old[order], t_old[order], w_old[order]
    new_users, new_items = new["user_idx"].to_numpy(), new["item_idx"].to_numpy()
    new_keys = new_users * n_items + new_items
    at = np.searchsorted(old_keys, new_keys)
    found = at < old_keys.size
    found[found] = old_keys[at[found]] == new_keys[found]
    s_new, t_new, w_new = (new[c].to_numpy() for c in ("s", "t", "w"))
    hit = at[found]
    s_old[hit] = np.maximum(s_old[hit], s_new[found])
    t_old[hit] = np.maximum(t_old[hit], t_new[found])
    w_old[hit] += w_new[found].astype(np.float32)
    fresh = ~found
    place = at[fresh]
    keys = np.insert(old_keys, place, new_keys[fresh])
    users = keys // n_items
    indptr = np.zeros(n_users + 1, dtype=np.int64)
    np.cumsum(np.bincount(users, minlength=n_users), out=indptr[1:])
    matrix = sp.csr_matrix((np.insert(s_old, place, s_new[fresh].astype(np.int8)),
                            (keys % n_items).astype(np.int32), indptr), shape=(n_users, n_items))
    known = np.zeros(n_users, dtype=bool)
    known[: history.known.size] = history.known
    return History(matrix=matrix, last_ms=np.insert(t_old, place, t_new[fresh].astype(np.int64)), known=known,
                   weight=np.insert(w_old, place, w_new[fresh].astype(np.float32)))


def save_history(path: Path, history: History) -> None:
    m = history.matrix
    with open(path, "wb") as fh:
        np.savez(fh, indptr=m.indptr.astype(np.int64), indices=m.indices.astype(np.int32),
                 strength=m.data.astype(np.int8), last_ms=history.last_ms.astype(np.int64),
                 known=history.known.astype(bool), shape=np.array(m.shape, dtype=np.int64),
                 weight=(history.weight if history.weight is not None else m.data).astype(np.float32))


def load_history(path: Path) -> History:
    with np.load(path, allow_pickle=False) as z:
        shape = tuple(int(v) for v in z["shape"])
        matrix = sp.csr_matrix((z["strength"], z["indices"], z["indptr"]), shape=shape)
        return History(matrix=matrix, last_ms=z["last_ms"], known=z["known"].astype(bool), weight=z["weight"])


@dataclass
class BundleParts:
    """What ``recsys export`` puts in a bundle."""

    model_dir: Path  # holds model/ and fallback/
    ids_file: Path
    catalog: pl.DataFrame
    users: pl.DataFrame | None
    history: History
    info: dict[str, Any]
    features_dir: Path | None = None
    extra_files: dict[str, Path] = field(default_factory=dict)


def write_bundle(dest: Path, parts: BundleParts) -> dict[str, Any]:
    """Write the bundle at ``dest`` atomically (a reader sees the old bundle or the new, whole)."""
    with atomic_dir(dest) as tmp:
        shutil.copytree(parts.model_dir / "model", tmp / "model")
        shutil.copytree(parts.model_dir / "fallback", tmp / "fallback")
        shutil.copy2(parts.ids_file, tmp / layout.IDS)
        parts.catalog.write_parquet(tmp / "catalog.parquet")
        if parts.users is not None:
            parts.users.write_parquet(tmp / layout.USERS)
        save_history(tmp / HISTORY, parts.history)
        if parts.features_dir is not None and parts.features_dir.is_dir():
            shutil.copytree(parts.features_dir, tmp / FEATURES)
        for name, path in parts.extra_files.items():
            if path.is_file():
                shutil.copy2(path, tmp / name)
        return write_manifest(
            tmp,
            {
                "format": FORMAT,
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "recsys_version": __version__,
                **parts.info,
            },
        )


def check_format(manifest: dict[str, Any], path: Path) -> None:
    """A clear error for a bundle of another format, instead of a crash further on."""
    fmt = manifest.get("format")
    name, _, version = str(fmt).partition("/")
    if not isinstance(fmt, str) or name != FORMAT_NAME or not version.isdigit():
        raise BundleError(f"{path / MANIFEST}: format {fmt!r} is not a recsys bundle ({FORMAT})")
    if int(version) > FORMAT_VERSION:
        raise BundleError(
            f"{path}: bundle format {fmt} is newer than this recsys {__version__} reads ({FORMAT}); upgrade recsys"
        )
    if int(version) < FORMAT_VERSION:
        raise BundleError(f"{path}: bundle format {fmt} was written by an older recsys; run `recsys export` again")


@dataclass
class Bundle:
    path: Path
    manifest: dict[str, Any]
    model: Recommender
    fallback: Recommender
    users: IdMap
    items: IdMap
    catalog: pl.DataFrame
    user_table: pl.DataFrame | None
    history: History
    features: Any = None  # recsys_cli.features.store.Features when the bundle has features/

    @property
    def version(self) -> str:
        """A short name of this exact bundle: the first 12 hex of its manifest's sha256."""
        from recsys_cli.manifest import sha256_file

        return sha256_file(self.path / MANIFEST)[:12]


def read_manifest_checked(path: Path) -> dict[str, Any]:
    """The bundle's manifest after its format and every file's checksum were checked."""
    path = Path(path)
    if not path.is_dir():
        raise BundleError(f"{path}: no bundle there (run `recsys export` first)")
    manifest = read_manifest(path, verify=False)
    check_format(manifest, path)
    return read_manifest(path, verify=True)


def read_bundle(path: Path, mmap: bool = False) -> Bundle:
    """Load a bundle, verifying its format and every checksum first.

    ``mmap``: model arrays are memory-mapped read-only (several server
    processes share one copy of the pages).
    """
    path = Path(path)
    if mmap:
        from recsys_cli.models.store import memory_mapped

        with memory_mapped():
            return read_bundle(path)
    manifest = read_manifest_checked(path)
    users, items = load_ids(path / layout.IDS)
    features = None
    if (path / FEATURES / "tfidf.npz").is_file():
        from recsys_cli.features.store import load_features

        features = load_features(path / FEATURES)
    user_file = path / layout.USERS
    return Bundle(
        path=path,
        manifest=manifest,
        model=load_model(path / "model"),
        fallback=load_model(path / "fallback"),
        users=users,
        items=items,
        catalog=pl.read_parquet(path / "catalog.parquet"),
        user_table=pl.read_parquet(user_file) if user_file.is_file() else None,
        history=load_history(path / HISTORY),
        features=features,
    )
