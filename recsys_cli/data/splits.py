"""Split events into train / valid / test windows, and flag what is cold.

temporal    one global clock: train < t1 <= valid < t2 <= test (the default;
            nothing in train happens after anything in valid or test)
leave_last  per user: the last ``n_test`` events are test, the ``n_valid``
            before them valid (leaks other users' future into train; offered
            for comparison with published protocols)
random_ratio per user, a random share to test and valid (RecBole's and
            Microsoft Recommenders' protocols on MovieLens; ignores time)
rolling     time-series cross-validation: ``folds`` rolling origins, each a
            temporal split whose test window is the next ``test_frac`` of events;
            the last fold is the main split, the earlier ones are in ``folds``
user_holdout strong generalisation: a seeded ``test_frac`` (``valid_frac``) of
            users is held out; their early history (the first 1 - test_frac of
            their events, in time) is for folding in, the rest is evaluated.
            Test users' early history goes to ``foldin``, never to train;
            valid users' early history is in train (for tuning)

``targets=new_items`` keeps in valid/test only the events of items first seen
after the train cutoff (new-item validation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl

from recsys_cli.config import SplitConfig
from recsys_cli.errors import ConfigError, DataError


@dataclass
class Split:
    train: pl.DataFrame
    valid: pl.DataFrame
    test: pl.DataFrame
    info: dict[str, Any] = field(default_factory=dict)
    foldin: pl.DataFrame | None = None  # user_holdout: held-out users' early history
    folds: list["Split"] = field(default_factory=list)  # rolling: the earlier origins, oldest first

    def windows(self) -> dict[str, pl.DataFrame]:
        out = {"train": self.train, "valid": self.valid, "test": self.test}
        if self.foldin is not None:
            out["foldin"] = self.foldin
        return out


def _parse_date(value: str, key: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{key}: {value!r} is not a date (use YYYY-MM-DD or an ISO timestamp)") from None


def temporal(events: pl.DataFrame, cfg: SplitConfig) -> Split:
    ms = events["timestamp"].dt.epoch("ms")
    if cfg.test_start is not None:
        t2 = _parse_date(cfg.test_start, "split.test_start")
    else:
        t2 = datetime.utcfromtimestamp(ms.quantile(1.0 - cfg.test_frac, "higher") / 1000)
    if cfg.valid_start is not None:
        t1 = _parse_date(cfg.valid_start, "split.valid_start")
    else:
        q = 1.0 - cfg.test_frac - cfg.valid_frac
        if q <= 0:
            raise ConfigError("split.valid_frac + split.test_frac: must be < 1")
        t1 = datetime.utcfromtimestamp(ms.quantile(q, "higher") / 1000) if cfg.valid_frac > 0 else t2
    if t1 > t2:
        if cfg.valid_start is None:
            raise ConfigError(
                f"split.test_start: {t2} is before the valid cutoff {t1} that valid_frac/test_frac give; "
                "set split.valid_start too"
            )
        raise ConfigError(f"split.valid_start: {t1} is after split.test_start {t2}")
    ts = pl.col("timestamp")
    out = Split(
        train=events.filter(ts < t1),
        valid=events.filter((ts >= t1) & (ts < t2)),
        test=events.filter(ts >= t2),
        info={"method": "temporal", "t1": str(t1), "t2": str(t2)},
    )
    _check_windows(out, events, t1, t2, cfg, "temporal")
    return out


def _check_windows(out: Split, events: pl.DataFrame, t1: datetime, t2: datetime, cfg: SplitConfig, kind: str) -> None:
    """An empty train or test window: a config error naming the date key that caused it, else a data error."""
    first, last = events["timestamp"].min(), events["timestamp"].max()
    if out.train.height == 0:
        key = "split.valid_start" if cfg.valid_start is not None else (
            "split.test_start" if cfg.test_start is not None and cfg.valid_frac == 0 else None)
        if key is not None:
            raise ConfigError(f"{key}: {t1} is at or before the first event ({first}); the train window would be "
                              "empty")
    if out.test.height == 0 and cfg.test_start is not None:
        raise ConfigError(f"split.test_start: {t2} is after the last event ({last}); the test window would be empty")
    if out.train.height == 0 or out.test.height == 0:
        raise DataError(f"split: the {kind} cutoffs t1={t1}, t2={t2} leave an empty train or test window "
                        f"(events from {first} to {last})")


def leave_last(events: pl.DataFrame, cfg: SplitConfig) -> Split:
    held = cfg.n_valid + cfg.n_test
    ranked = events.sort(["user_id", "timestamp", "item_id"]).with_columns(
        _from_end=pl.int_range(pl.len()).reverse().over("user_id"),
        _count=pl.len().over("user_id"),
    )
    eligible = pl.col("_count") >= cfg.min_train + held
    is_test = eligible & (pl.col("_from_end") < cfg.n_test)
    is_valid = eligible & (pl.col("_from_end") >= cfg.n_test) & (pl.col("_from_end") < held)
    drop = ["_from_end", "_count"]
    return Split(
        train=ranked.filter(~is_test & ~is_valid).drop(drop),
        valid=ranked.filter(is_valid).drop(drop),
        test=ranked.filter(is_test).drop(drop),
        info={"method": "leave_last", "n_valid": cfg.n_valid, "n_test": cfg.n_test},
    )


def random_ratio(events: pl.DataFrame, cfg: SplitConfig) -> Split:
    """Per user, a seeded random ``test_frac`` to test and ``valid_frac`` to valid.

    Counts per user: ``floor`` (RecBole: floor(frac * n), at least one when the
    user has two or more events and frac > 0) or ``nearest`` (Microsoft
    Recommenders' stratified split: the train share is round((1 - frac) * n)).
    """
    rng = np.random.default_rng(cfg.seed)
    keyed = events.with_row_index("_row").with_columns(_key=pl.Series(rng.random(events.height)))
    ranked = keyed.sort(["user_id", "_key"]).with_columns(
        _pos=pl.int_range(pl.len()).over("user_id"),
        _n=pl.len().over("user_id"),
    )
    n = pl.col("_n").cast(pl.Float64)

    def count(frac: float) -> pl.Expr:
        if frac <= 0:
            return pl.lit(0)
        if cfg.rounding == "nearest":
            return (n - ((1.0 - frac) * n).round(0)).cast(pl.Int64)
        base = (frac * n).floor().cast(pl.Int64)
        return pl.when((base == 0) & (pl.col("_n") >= 2)).then(1).otherwise(base)

    ranked = ranked.with_columns(_test=count(cfg.test_frac), _valid=count(cfg.valid_frac))
    ranked = ranked.with_columns(  # never leave a user without a train event
        _valid=pl.min_horizontal(pl.col("_valid"), pl.max_horizontal(pl.col("_n") - pl.col("_test") - 1, 0))
    )
    from_end = pl.col("_n") - 1 - pl.col("_pos")
    is_test = from_end < pl.col("_test")
    is_valid = ~is_test & (from_end < pl.col("_test") + pl.col("_valid"))
    drop = ["_row", "_key", "_pos", "_n", "_test", "_valid"]
    order = ["timestamp", "user_id", "item_id"]
    return Split(
        train=ranked.filter(~is_test & ~is_valid).drop(drop).sort(order),
        valid=ranked.filter(is_valid).drop(drop).sort(order),
        test=ranked.filter(is_test).drop(drop).sort(order),
        info={"method": "random_ratio", "valid_frac": cfg.valid_frac, "test_frac": cfg.test_frac,
              "rounding": cfg.rounding, "seed": cfg.seed},
    )


def _by_quantiles(events: pl.DataFrame, train_end: float, valid_end: float, test_end: float) -> Split:
    """Temporal split at event-time quantiles: train < q(train_end) <= valid < q(valid_end) <= test < q(test_end)."""
    ms = events["timestamp"].dt.epoch("ms")

    def cut(q: float) -> datetime | None:
        return None if q >= 1.0 else datetime.utcfromtimestamp(ms.quantile(q, "higher") / 1000)

    t1, t2, t3 = cut(train_end), cut(valid_end), cut(test_end)
    ts = pl.col("timestamp")
    test = events.filter(ts >= t2) if t3 is None else events.filter((ts >= t2) & (ts < t3))
    out = Split(
        train=events.filter(ts < t1),
        valid=events.filter((ts >= t1) & (ts < t2)),
        test=test,
        info={"method": "temporal", "t1": str(t1), "t2": str(t2), **({"t3": str(t3)} if t3 else {})},
    )
    if out.train.height == 0 or out.test.height == 0:
        raise DataError(f"split: the rolling cutoffs t1={t1}, t2={t2} leave an empty train or test window")
    return out


def rolling(events: pl.DataFrame, cfg: SplitConfig) -> Split:
    """``folds`` temporal splits with origins ``test_frac`` of the events apart; the last is returned, with the rest in ``folds``."""
    if cfg.folds * cfg.test_frac + cfg.valid_frac >= 1.0:
        raise ConfigError(
            f"split.folds: {cfg.folds} folds x test_frac {cfg.test_frac} + valid_frac {cfg.valid_frac} "
            "leave no train window; use fewer folds or smaller fractions"
        )
    splits = []
    for back in range(cfg.folds - 1, -1, -1):  # oldest origin first
        test_end = 1.0 - back * cfg.test_frac
        valid_end = test_end - cfg.test_frac
        split = _by_quantiles(events, valid_end - cfg.valid_frac, valid_end, test_end)
        split.info.update(method="rolling", fold=cfg.folds - 1 - back, folds=cfg.folds)
        splits.append(split)
    last = splits[-1]
    last.folds = splits[:-1]
    return last


def user_holdout(events: pl.DataFrame, cfg: SplitConfig) -> Split:
    """Hold out whole users; their early history is fold-in, their later history the target."""
    rng = np.random.default_rng(cfg.seed)
    users = events["user_id"].unique().sort()
    role = rng.random(users.len())
    roles = pl.DataFrame({
        "user_id": users,
        "_role": np.where(role < cfg.test_frac, 2, np.where(role < cfg.test_frac + cfg.valid_frac, 1, 0)),
    })
    ranked = events.sort(["user_id", "timestamp", "item_id"]).join(roles, on="user_id", how="left").with_columns(
        _pos=pl.int_range(pl.len()).over("user_id"), _n=pl.len().over("user_id")
    )
    keep_n = (pl.col("_n").cast(pl.Float64) * (1.0 - cfg.test_frac)).round(0).cast(pl.Int64).clip(1, None)
    early = (pl.col("_pos") < keep_n) | (pl.col("_n") < 2)
    role_ = pl.col("_role")
    drop = ["_role", "_pos", "_n"]
    order = ["timestamp", "user_id", "item_id"]
    out = Split(
        train=ranked.filter((role_ == 0) | ((role_ == 1) & early)).drop(drop).sort(order),
        valid=ranked.filter((role_ == 1) & ~early).drop(drop).sort(order),
        test=ranked.filter((role_ == 2) & ~early).drop(drop).sort(order),
        foldin=ranked.filter((role_ == 2) & early).drop(drop).sort(order),
        info={"method": "user_holdout", "test_frac": cfg.test_frac, "valid_frac": cfg.valid_frac, "seed": cfg.seed,
              "test_users": int((roles["_role"] == 2).sum()), "valid_users": int((roles["_role"] == 1).sum())},
    )
    if out.test.height == 0 or out.train.height == 0:
        raise DataError("split: user_holdout left an empty train or test window (too few users or events)")
    return out


METHODS = {"temporal": temporal, "leave_last": leave_last, "random_ratio": random_ratio,
           "rolling": rolling, "user_holdout": user_holdout}


def split_events(events: pl.DataFrame, cfg: SplitConfig) -> Split:
    split = METHODS[cfg.method](events, cfg)
    return finish(split, cfg)


def finish(split: Split, cfg: SplitConfig) -> Split:
    """Flag cold rows; with ``targets=new_items`` keep only new items' events in valid/test."""
    out = flag_cold(split)
    out.folds = [finish(f, cfg) for f in split.folds]
    if cfg.targets == "new_items":
        new = pl.col("cold_item")
        out.valid, out.test = out.valid.filter(new), out.test.filter(new)
        out.info["targets"] = "new_items"
        if out.test.height == 0:
            raise DataError("split: targets=new_items but no item is first seen in the test window")
    return out


def flag_cold(split: Split) -> Split:
    """Mark valid/test (and fold-in) rows whose user or item never occurs in train."""
    users = split.train["user_id"].unique().implode()
    items = split.train["item_id"].unique().implode()

    def flag(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.with_columns(
            cold_user=~pl.col("user_id").is_in(users),
            cold_item=~pl.col("item_id").is_in(items),
        )

    foldin = flag(split.foldin) if split.foldin is not None else None
    return Split(flag(split.train), flag(split.valid), flag(split.test), split.info, foldin, split.folds)


def report(split: Split) -> dict[str, Any]:
    """Counts, date ranges and cold shares of each window."""
    out: dict[str, Any] = dict(split.info)
    for name, frame in split.windows().items():
        if name == "foldin":
            out[name] = {"events": frame.height, "users": frame["user_id"].n_unique()}
            continue
        entry: dict[str, Any] = {
            "events": frame.height,
            "users": frame["user_id"].n_unique(),
            "items": frame["item_id"].n_unique(),
        }
        if frame.height:
            entry["first"] = str(frame["timestamp"].min())
            entry["last"] = str(frame["timestamp"].max())
        if name != "train" and frame.height:
            cold_users = frame.filter(pl.col("cold_user"))["user_id"].n_unique()
            cold_items = frame.filter(pl.col("cold_item"))["item_id"].n_unique()
            entry["cold_users"] = cold_users
            entry["cold_user_share"] = round(cold_users / max(entry["users"], 1), 4)
            entry["cold_items"] = cold_items
            entry["cold_item_share"] = round(cold_items / max(entry["items"], 1), 4)
            entry["cold_user_event_share"] = round(float(frame["cold_user"].mean()), 4)
        out[name] = entry
    if split.folds:
        out["folds"] = [report(f) for f in split.folds]
    return out
