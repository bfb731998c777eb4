"""update: fold a batch of new events into a bundle without a full retrain -> a new bundle version.

``recsys update update.events=FILE [bundle=DIR|s3://...] [update.out=DIR|s3://...]``

1. The bundle is loaded and verified; the events (CSV, Parquet or JSON lines
   with the columns of ``data/interim/events.parquet``: user_id, item_id,
   timestamp, event, ...) are cleaned and weighted by ``data.preprocess``.
2. The id maps are append-only: new users and products get the next indices,
   so every index the bundle knows stays where it was.
3. The history (what is never recommended again, who is known) takes the new
   events in; the model folds them in (``models/incremental.py``: ALS/BPR/LMF
   re-solve the touched users' and items' factors, item-item models and
   popularity refresh their history); the popularity fallback is recounted;
   co-visitation and content neighbours are rebuilt from the new history when
   the service loads it. ``update.retrain=true`` instead refits the model from
   scratch on the whole new history with the bundle's params (the baseline).
4. A new bundle is written (atomically; in place by default) with an
   ``updates`` entry in its manifest; ``POST /admin/reload`` serves it.
"""

from __future__ import annotations

import json
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp

from recsys_cli import layout, remote
from recsys_cli.atomic import scratch
from recsys_cli.bundle import FEATURES, Bundle, BundleParts, merge_history, read_bundle, write_bundle
from recsys_cli.config import Config
from recsys_cli.data.ids import IdMap, save_ids
from recsys_cli.data.preprocess import preprocess
from recsys_cli.data.tables import EVENTS, EVENTS_REQUIRED, conform
from recsys_cli.errors import ConfigError, DataError
from recsys_cli.manifest import MANIFEST
from recsys_cli.models.base import TrainData
from recsys_cli.models.incremental import refit_popularity, update_model
from recsys_cli.progress import status

KEEP_INFO = ("model", "params", "fit", "heldout_fit_windows", "config_sha256", "updates")


def read_events(path: Path) -> pl.DataFrame:
    """The new events as the interim events table (one clear line on a bad file)."""
    if not path.is_file():
        raise DataError(f"{path}: update.events not found")
    name = path.name.lower()
    try:
        if name.endswith((".parquet", ".pq")):
            frame = pl.read_parquet(path)
        elif name.endswith((".jsonl", ".json", ".ndjson")):
            frame = pl.read_ndjson(path)
        else:
            frame = pl.read_csv(path, separator="\t" if name.endswith(".tsv") else ",", infer_schema_length=10000)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise DataError(f"{path}: cannot read ({str(exc).splitlines()[0]})") from None
    missing = [c for c in EVENTS_REQUIRED if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: no column {missing[0]!r}; update.events needs {', '.join(EVENTS_REQUIRED)}")
    ts = frame["timestamp"]
    if ts.dtype == pl.Utf8:
        try:
            parsed = ts.str.to_datetime(strict=False, time_unit="ms")
            bad = (parsed.is_null() & ts.is_not_null()).to_numpy()
        except pl.exceptions.PolarsError:  # no common format: name the first value that is no ISO date-time
            bad = np.array([not _is_datetime(v) for v in ts.to_list()])
            parsed = None if bad.any() else pl.Series(
                [datetime.fromisoformat(v) if v else None for v in ts.to_list()]).cast(pl.Datetime("ms"))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(f"{path}: row {row + 1}, column 'timestamp': {ts[row]!r} is not a date-time")
        frame = frame.with_columns(timestamp=parsed)
    elif ts.dtype.is_integer():
        unit = "ms" if ts.max() is not None and ts.max() > 10**11 else "s"
        frame = frame.with_columns(timestamp=pl.from_epoch(ts, time_unit=unit).cast(pl.Datetime("ms")))
    for column in EVENTS_REQUIRED:
        nulls = frame[column].is_null()
        if nulls.any():
            row = int(np.flatnonzero(nulls.to_numpy())[0])
            raise DataError(f"{path}: row {row + 1}, column {column!r}: missing value")
    return conform(frame, EVENTS, EVENTS_REQUIRED)


def _is_datetime(value: str | None) -> bool:
    if value is None:
        return True
    try:
        datetime.fromisoformat(value)
        return True
    except ValueError:
        return False


def _pad_rows(m: sp.csr_matrix, rows: int) -> sp.csr_matrix:
    if m.shape[0] >= rows:
        return m
    return sp.vstack([m, sp.csr_matrix((rows - m.shape[0], m.shape[1]), dtype=m.dtype)], format="csr")


def grow_features(src: Path, dest: Path, n_users: int, n_items: int) -> None:
    """The bundle's features with empty rows for new users and products (their text is unknown)."""
    from recsys_cli.features import store
    from recsys_cli.features.side import SideMatrix
    from recsys_cli.features.text import load_tfidf, save_tfidf

    shutil.copytree(src, dest)
    tfidf, vocab = load_tfidf(src / store.TFIDF)
    save_tfidf(dest / store.TFIDF, _pad_rows(tfidf, n_items), vocab)
    for name, n in ((store.ITEM_SIDE, n_items), (store.USER_SIDE, n_users)):
        if (src / name).is_file():
            side = store.load_side(src / name)
            store.save_side(dest / name, SideMatrix(_pad_rows(side.matrix.tocsr(), n), side.names))
    for name, key, n in ((store.ITEM_TABLE, "item_idx", n_items), (store.USER_TABLE, "user_idx", n_users)):
        if (src / name).is_file():
            table = pl.read_parquet(src / name)
            if key in table.columns and table.height < n:
                extra = pl.DataFrame({key: np.arange(table.height, n)}).cast({key: table.schema[key]})
                pl.concat([table, extra], how="diagonal").write_parquet(dest / name)


def weight_matrix(bundle_history: Any) -> sp.csr_matrix:
    m = bundle_history.matrix
    return sp.csr_matrix((bundle_history.weight.astype(np.float32), m.indices, m.indptr), shape=m.shape)


def fold_in(bundle: Bundle, events: pl.DataFrame, sweeps: int, retrain: bool, seed: int, reach: str = "touched",
            cg_steps: int = 0) -> tuple[IdMap, IdMap, Any, dict[str, Any]]:
    """The new ids, history and model(s) after the events; and what changed."""
    users = bundle.users.append(events["user_id"])
    items = bundle.items.append(events["item_id"])
    events = events.with_columns(user_idx=pl.Series(users.index(events["user_id"])),
                                 item_idx=pl.Series(items.index(events["item_id"])))
    history = merge_history(bundle.history, events, len(users), len(items))
    touched_users = np.unique(events["user_idx"].to_numpy()).astype(np.int64)
    touched_items = np.unique(events["item_idx"].to_numpy()).astype(np.int64)
    history.known[touched_users] = True
    weights = weight_matrix(history)
    model = bundle.model
    if retrain:
        fit_rows = np.flatnonzero(history.known)
        mask = np.zeros(weights.shape[0], dtype=np.float32)
        mask[fit_rows] = 1.0
        fit_matrix = sp.csr_matrix(sp.diags(mask) @ weights)  # the windows the model is fit on: known users
        model = type(model)(model.params)
        if hasattr(model, "show_progress"):
            model.show_progress = True
        model.fit(TrainData(matrix=fit_matrix, seed=seed))
        how = f"refit from scratch on {fit_matrix.nnz:,} user-item pairs"
    else:
        how = update_model(model, weights, touched_users, touched_items, sweeps, reach, cg_steps)
    refit_popularity(bundle.fallback, weights)
    info = {"events": events.height, "new_users": len(users) - len(bundle.users),
            "new_items": len(items) - len(bundle.items), "touched_users": int(touched_users.size),
            "touched_items": int(touched_items.size), "how": how}
    return users, items, (history, model), info


def run(cfg: Config) -> None:
    if not cfg.update.events:
        raise ConfigError("update.events: give the file of new events, e.g. recsys update update.events=day.parquet")
    started = time.perf_counter()
    source = cfg.bundle or str(cfg.paths.bundle)
    bundle = read_bundle(remote.local_bundle(source, cfg.s3))
    raw = read_events(Path(cfg.update.events))
    events, stats = preprocess(raw, cfg.data.preprocess)
    if events.height == 0:
        raise DataError(f"{cfg.update.events}: no events left after preprocessing ({stats})")
    status(f"update: {events.height:,} new events into {remote.describe(source)} ({bundle.version})")
    users, items, (history, model), info = fold_in(bundle, events, cfg.update.sweeps, cfg.update.retrain, cfg.seed,
                                                         cfg.update.reach, cfg.update.cg_steps)
    out = cfg.update.out or source
    old = bundle.manifest
    fit = dict(old.get("fit") or {})
    newest = events["timestamp"].max()
    if newest is not None and (fit.get("cutoff") is None or newest.isoformat() > str(fit["cutoff"])):
        fit["cutoff"] = newest.isoformat()
    fit["events"] = int(fit.get("events") or 0) + events.height
    fit["users"] = int(history.known.sum())
    info["seconds"] = round(time.perf_counter() - started, 3)
    info["base_version"] = bundle.version
    info["at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    manifest_info = {k: v for k, v in old.items() if k in KEEP_INFO}
    manifest_info.update({"fit": fit, "n_users": len(users), "n_items": len(items),
                          "updates": [*old.get("updates", []), info]})
    if hasattr(model, "params"):
        from recsys_cli.schema import to_dict

        manifest_info["params"] = to_dict(model.params)
    local_out = None if remote.is_remote(out) else Path(out)
    with scratch(local_out or cfg.paths.bundle) as work:
        model.save(work / "fit" / layout.MODEL)
        bundle.fallback.save(work / "fit" / layout.FALLBACK)
        save_ids(work / layout.IDS, users, items)
        catalog = pl.concat([bundle.catalog, pl.DataFrame({"item_id": items.ids[len(bundle.items):]})],
                            how="diagonal") if len(items) > len(bundle.items) else bundle.catalog
        table = bundle.user_table
        if table is not None and len(users) > len(bundle.users):
            table = pl.concat([table, pl.DataFrame({"user_id": users.ids[len(bundle.users):]})], how="diagonal")
        features_dir = None
        if (bundle.path / FEATURES).is_dir():
            features_dir = work / FEATURES
            grow_features(bundle.path / FEATURES, features_dir, len(users), len(items))
        extra = {name: bundle.path / name for name in ("config.yaml", layout.TRAIN_INFO, layout.METRICS)}
        parts = BundleParts(model_dir=work / "fit", ids_file=work / layout.IDS, catalog=catalog, users=table,
                            history=history, info=manifest_info, features_dir=features_dir, extra_files=extra)
        target = local_out or work / "upload"
        write_bundle(target, parts)
        if local_out is None:
            sent = remote.upload(target, str(out), cfg.s3)
            where = sent["uri"]
        else:
            where = str(target)
    version = _version(local_out) if local_out is not None else sent["version"]
    status(f"update: {info['how']}; +{info['new_users']:,} users, +{info['new_items']:,} products; "
           f"{info['seconds']:.1f}s -> {where} (version {version}; POST /admin/reload to serve it)")


def _version(path: Path) -> str:
    from recsys_cli.manifest import sha256_file

    return sha256_file(path / MANIFEST)[:12]


def summary(path: Path) -> dict[str, Any]:
    """The last update recorded in a bundle's manifest."""
    manifest = json.loads((path / MANIFEST).read_text())
    return (manifest.get("updates") or [{}])[-1]
