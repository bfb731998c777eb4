"""Leakage guard: what a stage learns from must lie inside the train window.

The split stage writes ``train`` / ``valid`` / ``test`` windows and
``split_report.json``. A stage that learns something (features, vocabularies,
popularity counts, models) states which frame it learns from, and the guard
checks that frame against the split on disk:

temporal     (any split whose report has ``t1``: temporal, rolling) no event
             at or after the cutoff: ``t1`` for the train window, ``t2`` when
             a refit also reads valid (train < t1 <= valid < t2).
every split  every event must be one of the fit window's events, counted by
             (user_idx, item_idx, timestamp): per-user splits (leave_last,
             random_ratio) have no global clock, so membership is the rule.

A violation raises :class:`~recsys_cli.errors.DataError` with one line that
names the stage, what it read, the offending timestamp and the cutoff.

The features stage records a :func:`fingerprint` of the frame it used (event
count, first and last timestamp, an order-free hash of its events, the split
and the cutoff); :func:`check_fingerprint` lets train and tune verify that the
features on disk were computed from the current train window: not over all
data, and not left over from another split.

Usage::

    cutoff = Cutoff.from_split(cfg.paths.processed, stage="features")
    check_frame(train, cutoff, "features", "item popularity")
    report["train_window"] = fingerprint(train, cutoff)
    ...
    check_fingerprint(report.get("train_window"), cutoff, "train")
    check_frame(train_plus_valid, cutoff.fit_on("train", "valid"), "train", "the refit window")
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from recsys_cli import layout
from recsys_cli.errors import DataError, StageInputError

WINDOWS = layout.WINDOWS
EXTRA_WINDOWS = ("foldin",)  # read when the split wrote them (user_holdout: held-out users' early history)
KEY = ("user_idx", "item_idx", "timestamp")
_EPOCH = datetime(1970, 1, 1)
_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


# ------------------------------------------------------------------ hashing


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, elementwise on uint64 (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint64(30))
        x = x * np.uint64(0xBF58476D1CE4E5B9)
        x = x ^ (x >> np.uint64(27))
        x = x * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def _epoch_ms(frame: pl.DataFrame) -> np.ndarray:
    return frame["timestamp"].dt.epoch("ms").fill_null(np.iinfo(np.int64).min).to_numpy().astype(np.int64)


def row_hashes(frame: pl.DataFrame) -> np.ndarray:
    """One stable 64-bit hash per event of (user_idx, item_idx, timestamp in ms).

    Plain numpy arithmetic: the same on every machine and library version.
    """
    missing = [c for c in KEY if c not in frame.columns]
    if missing:
        raise DataError(f"leakage guard: the frame has no {', '.join(missing)} column (a split window has them all)")
    with np.errstate(over="ignore"):
        u = frame["user_idx"].fill_null(-1).to_numpy().astype(np.int64).view(np.uint64)
        i = frame["item_idx"].fill_null(-1).to_numpy().astype(np.int64).view(np.uint64)
        t = _epoch_ms(frame).view(np.uint64)
        h = _mix(u + np.uint64(0x9E3779B97F4A7C15))
        h = _mix(h ^ i)
        return _mix(h ^ t)


def _hash_sum(hashes: np.ndarray) -> str:
    return f"{int(hashes.sum(dtype=np.uint64)) & int(_MASK):016x}"


# ------------------------------------------------------------------ times


def _to_ms(value: datetime) -> int:
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return (value - _EPOCH) // timedelta(milliseconds=1)


def _from_ms(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=int(ms))


def fmt_time(value: datetime | int | None) -> str:
    """``2025-11-02 00:00``; seconds only where they are not zero."""
    if value is None:
        return "-"
    if isinstance(value, (int, np.integer)):
        value = _from_ms(int(value))
    if value.second or value.microsecond:
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return value.strftime("%Y-%m-%d %H:%M")


def _parse(value: Any) -> datetime | None:
    if value in (None, "", "None"):
        return None
    return datetime.fromisoformat(str(value))


# ------------------------------------------------------------------ the split


@dataclass(frozen=True)
class WindowStats:
    """One split window as the guard knows it: its sorted event hashes and time range."""

    hashes: np.ndarray  # sorted uint64, one per event
    first: int | None  # epoch ms
    last: int | None

    @classmethod
    def of(cls, frame: pl.DataFrame) -> WindowStats:
        ms = _epoch_ms(frame)
        return cls(np.sort(row_hashes(frame)), int(ms.min()) if ms.size else None, int(ms.max()) if ms.size else None)

    @property
    def events(self) -> int:
        return int(self.hashes.size)

    def count(self, keys: np.ndarray) -> np.ndarray:
        """How many of this window's events have each hash in ``keys``."""
        return np.searchsorted(self.hashes, keys, "right") - np.searchsorted(self.hashes, keys, "left")


@dataclass(frozen=True)
class Cutoff:
    """The split on disk, and which of its windows a stage may learn from (``fit``)."""

    method: str
    t1: datetime | None  # global-clock splits only: first instant of valid (train < t1)
    t2: datetime | None  # global-clock splits only: first instant of test
    windows: dict[str, WindowStats] = field(repr=False)
    fit: tuple[str, ...] = ("train",)

    @classmethod
    def from_split(cls, processed: Path, stage: str = "features") -> Cutoff:
        """Read ``split_report.json`` and the windows' (user_idx, item_idx, timestamp).

        Also checks each window still holds what the split wrote (its event
        count, and its hash where the report records one), so an edited
        ``train.parquet`` cannot smuggle events past the guard.
        """
        report_path = processed / layout.SPLIT_REPORT
        if not report_path.is_file():
            raise StageInputError(f"{report_path} not found: run `recsys split` first")
        info = json.loads(report_path.read_text())
        windows: dict[str, WindowStats] = {}
        for name in (*WINDOWS, *EXTRA_WINDOWS):
            path = processed / layout.window_file(name)
            if not path.is_file():
                if name in EXTRA_WINDOWS:
                    continue
                raise StageInputError(f"{path} not found: run `recsys split` first")
            stats = WindowStats.of(pl.read_parquet(path, columns=list(KEY)))
            expected = (info.get(name) or {}).get("events")
            if expected is not None and int(expected) != stats.events:
                raise DataError(
                    f"{stage}: {path} holds {stats.events:,} events but `recsys split` wrote {int(expected):,}; "
                    "the window was changed after the split: rerun `recsys split`"
                )
            recorded = (info.get("fingerprints") or {}).get(name)
            if recorded is not None and recorded != _hash_sum(stats.hashes):
                raise DataError(
                    f"{stage}: {path} is not the window `recsys split` wrote (its events differ); rerun `recsys split`"
                )
            windows[name] = stats
        return cls(str(info.get("method", "unknown")), _parse(info.get("t1")), _parse(info.get("t2")), windows)

    def fit_on(self, *names: str) -> Cutoff:
        """The same split, learning from ``names`` (e.g. ``"train", "valid"`` for a refit)."""
        unknown = [n for n in names if n not in self.windows]
        if unknown or not names:
            raise ValueError(f"fit windows must be among {tuple(self.windows)}, got {names}")
        return replace(self, fit=tuple(names))

    @property
    def window_name(self) -> str:
        return "+".join(self.fit)

    @property
    def bound(self) -> tuple[datetime, str] | None:
        """The global cutoff of the fit windows and its name, or None for per-user splits."""
        if self.t1 is None or "test" in self.fit or "foldin" in self.fit:
            return None
        if "valid" in self.fit:
            return (self.t2, "t2") if self.t2 is not None else None
        return self.t1, "t1"

    def describe(self) -> str:
        """``train cutoff 2025-11-02 00:00 (t1)`` or ``per-user random_ratio split``."""
        bound = self.bound
        if bound is None:
            return f"per-user {self.method} split"
        return f"{self.window_name} cutoff {fmt_time(bound[0])} ({bound[1]})"

    def fit_hashes(self) -> np.ndarray:
        """The sorted event hashes of the fit windows together."""
        if len(self.fit) == 1:
            return self.windows[self.fit[0]].hashes
        return np.sort(np.concatenate([self.windows[n].hashes for n in self.fit]))


# ------------------------------------------------------------------ checks


def _rule(stage: str, cutoff: Cutoff) -> str:
    return f"{stage} must learn from the {cutoff.window_name} window only"


def check_frame(frame: pl.DataFrame, cutoff: Cutoff, stage: str, what: str) -> None:
    """Raise :class:`DataError` unless every event of ``frame`` lies in the fit window.

    Temporal splits: no timestamp at or after the cutoff. Every split: each
    (user_idx, item_idx, timestamp) occurs in ``frame`` at most as often as in
    the fit window (so held-out events, or duplicates of train events, fail).
    """
    if frame.height == 0:
        return
    ms = _epoch_ms(frame)
    bound = cutoff.bound
    if bound is not None:
        limit = _to_ms(bound[0])
        late = ms >= limit
        if late.any():
            latest = int(ms.max())
            where = "at" if latest == limit else "after"
            raise DataError(
                f"{stage}: {what} reads {int(late.sum()):,} event{'s' if late.sum() != 1 else ''} up to "
                f"{fmt_time(latest)}, {where} the {cutoff.window_name} cutoff {fmt_time(bound[0])} ({bound[1]}); "
                f"{_rule(stage, cutoff)}"
            )
    hashes = row_hashes(frame)
    fit = cutoff.fit_hashes()
    ordered = np.sort(hashes)
    if ordered.size == fit.size and np.array_equal(ordered, fit):
        return  # exactly the fit window (the usual case)
    # multiset inclusion on sorted hashes: the k-th copy of a hash is allowed if the fit holds at least k
    position = np.arange(ordered.size)
    run_start = np.maximum.accumulate(np.where(np.r_[True, ordered[1:] != ordered[:-1]], position, 0))
    allowed = np.searchsorted(fit, ordered, "right") - np.searchsorted(fit, ordered, "left")
    excess = (position - run_start) >= allowed
    if not excess.any():
        return
    extra = int(excess.sum())
    rows = np.flatnonzero(np.isin(hashes, np.unique(ordered[excess])))
    # name an offending event, preferring one from a held-out window
    first = int(rows[0])
    origin = "in no split window"
    for name in cutoff.windows:
        if name in cutoff.fit:
            continue
        held = cutoff.windows[name].count(hashes[rows]) > 0
        if held.any():
            first, origin = int(rows[np.flatnonzero(held)[0]]), f"a {name} event"
            break
    else:
        in_fit = np.searchsorted(fit, hashes[first], "right") > np.searchsorted(fit, hashes[first], "left")
        if in_fit:
            origin = f"a {cutoff.window_name} event read more often than the window holds it"
    row = frame.row(first, named=True)
    user = row.get("user_id", row["user_idx"])
    item = row.get("item_id", row["item_idx"])
    raise DataError(
        f"{stage}: {what} reads {extra:,} event{'s' if extra != 1 else ''} outside the {cutoff.window_name} window "
        f"(e.g. user {user}, item {item} at {fmt_time(int(ms[first]))}, {origin}) of the {cutoff.describe()}; "
        f"{_rule(stage, cutoff)}"
    )


def fingerprint(frame: pl.DataFrame, cutoff: Cutoff) -> dict[str, Any]:
    """What a stage learned from, to record in its report: events, time range, hash, split, cutoff."""
    ms = _epoch_ms(frame)
    bound = cutoff.bound
    return {
        "split": cutoff.method,
        "window": cutoff.window_name,
        "cutoff": fmt_time(bound[0]) if bound else None,
        "cutoff_ms": _to_ms(bound[0]) if bound else None,
        "events": int(frame.height),
        "first_ms": int(ms.min()) if ms.size else None,
        "last_ms": int(ms.max()) if ms.size else None,
        "last": fmt_time(int(ms.max())) if ms.size else None,
        "hash": _hash_sum(row_hashes(frame)),
    }


def check_fingerprint(
    recorded: dict[str, Any] | None, cutoff: Cutoff, stage: str, what: str = "the features on disk"
) -> None:
    """Raise unless ``recorded`` (a :func:`fingerprint`) is of exactly the fit window of ``cutoff``."""
    if not recorded:
        raise StageInputError(
            f"{stage}: {what} record no train-window fingerprint (written before the leakage guard, "
            "or not by `recsys features`); rerun `recsys features`"
        )
    bound = cutoff.bound
    last = recorded.get("last_ms")
    if bound is not None and last is not None and last >= _to_ms(bound[0]):
        where = "at" if last == _to_ms(bound[0]) else "after"
        raise DataError(
            f"{stage}: {what} were computed from events up to {fmt_time(last)}, {where} the "
            f"{cutoff.window_name} cutoff {fmt_time(bound[0])} ({bound[1]}); {what} must be computed from the "
            f"{cutoff.window_name} window only: rerun `recsys features`"
        )
    stats = [cutoff.windows[n] for n in cutoff.fit]
    events = sum(s.events for s in stats)
    current = _hash_sum(np.concatenate([s.hashes for s in stats]))
    if recorded.get("hash") != current or recorded.get("events") != events:
        lasts = [s.last for s in stats if s.last is not None]
        more = " (more events than the window holds: computed over more than the train window?)" if (
            recorded.get("events") or 0) > events else ""
        raise DataError(
            f"{stage}: {what} were computed from {recorded.get('events', 0):,} events up to "
            f"{fmt_time(last)}, not from the current {cutoff.window_name} window ({events:,} events up to "
            f"{fmt_time(max(lasts) if lasts else None)}) of the {cutoff.describe()}{more}; stale or leaked "
            "features: rerun `recsys features`"
        )


def window_fingerprints(windows: dict[str, pl.DataFrame]) -> dict[str, str]:
    """Per window, the hash :meth:`Cutoff.from_split` compares (for ``split_report.json['fingerprints']``)."""
    return {name: _hash_sum(row_hashes(frame)) for name, frame in windows.items()}
