"""Any event log (plus an optional item catalog) into the interim tables.

Files are CSV, Parquet or JSON lines, optionally gzip- or zip-compressed, read
in chunks (:mod:`recsys_cli.data.sources.files`). Columns are mapped by
``data.columns`` (and ``data.item_columns`` for the catalog); a mapping may
list candidates, of which the first the file has is used. Before the rows are
read: ``data.exclude`` leaves out rows (returns, cancellations) and
``data.on_missing=drop`` rows without a user, item, timestamp or event, each
counted in the ingest report; ``data.event_map`` renames the log's event
values to the canonical ones (view, add_to_cart, purchase, favorite). When
``data.items_path`` is the event log itself, the catalog is taken from the same
rows in the same pass.

Bad input is reported as one line naming the file, the column with its config
key, and the row: ``row N`` is the N-th data row after the header, counting
from 1 (for Parquet, the N-th row; for JSON lines, ``line N``), e.g.::

    events.csv: row 5, column 'stars' (data.columns.rating): 'abc' is not a number

Timestamps (``data.timestamp_unit``): numbers are seconds/ms/us/ns since 1970
(``auto`` guesses the unit from their size in the first chunk), text is
ISO-8601 (a trailing ``UTC`` allowed, or ``data.timestamp_format``), datetime
columns are used as they are; all end up as naive UTC.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from recsys_cli.config import DataConfig, RowFilter
from recsys_cli.data.sources.files import ReadOptions, Source
from recsys_cli.data.sources.readers import Table, fail, first, show
from recsys_cli.data.tables import RawData
from recsys_cli.errors import DataError
from recsys_cli.progress import progress_bar

EPOCH_UNITS = ("s", "ms", "us", "ns")
TO_MS = {"s": 1000.0, "ms": 1.0, "us": 1e-3, "ns": 1e-6}
PER_MS = {"ms": 1, "us": 1_000, "ns": 1_000_000}
ISO_NAIVE = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d")
ISO_ZONED = ("%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M%#z")
PRICE = re.compile(r"^\s*(?:[A-Z]{3}\s*)?[$€£¥₹]?\s*(\d[\d,]*(?:\.\d+)?)(?:\s*(?:-|to)\s*[$€£¥₹]?\s*\d[\d,]*(?:\.\d+)?)?\s*(?:[A-Z]{3})?\s*$")
CATEGORY_PATH = " > "
EVENT_KEYS = ("user", "item", "timestamp", "event", "rating", "price", "session", "device", "quantity", "text")
ITEM_KEYS = ("item", "title", "description", "category", "brand", "price")
NEEDED = ("user", "item", "timestamp", "event")  # what on_missing=drop requires of a row


@dataclass
class Tally:
    """What reading left out, for the ingest report."""

    rows: int = 0
    excluded: dict[str, int] = field(default_factory=dict)
    missing: dict[str, int] = field(default_factory=dict)
    missing_rows: int = 0
    bad_prices: int = 0
    time: dict[str, Any] = field(default_factory=dict)  # the timestamp decisions of the first chunk

    def report(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rows_read": self.rows}
        if self.excluded:
            out["excluded"] = dict(self.excluded)
        if self.missing_rows:
            out["dropped_missing"] = {"rows": self.missing_rows, "by_column": dict(self.missing)}
        if self.bad_prices:
            out["catalog_prices_set_to_null"] = self.bad_prices
        return out

    def summary(self) -> str:
        parts = []
        excluded = {label: n for label, n in self.excluded.items() if n}
        if excluded:
            parts.append("excluded " + ", ".join(f"{n:,} ({label})" for label, n in excluded.items()))
        if self.missing_rows:
            cols = ", ".join(f"{c} {n:,}" for c, n in self.missing.items() if n)
            parts.append(f"dropped {self.missing_rows:,} rows with a missing value ({cols})")
        return "; ".join(parts)


def load(cfg: DataConfig) -> RawData:
    """Read the event log at ``data.path`` and the catalog at ``data.items_path``, if set."""
    if not cfg.path:
        raise DataError("data.path is not set: point it at an event log (CSV, Parquet or JSON lines): data.path=FILE")
    path = Path(cfg.path)
    source = Source(path, "data.path", _options(cfg))
    c = cfg.columns
    cols = _resolve(source, {k: getattr(c, k) for k in EVENT_KEYS}, "data.columns", ("user", "item", "timestamp"))
    filters = [(f, _column(source, f.column, f"data.exclude[{i}].column")) for i, f in enumerate(cfg.exclude)]
    same_file = bool(cfg.items_path) and _same(Path(cfg.items_path or ""), path)
    item_cols = _item_columns(source, cfg) if same_file else {}
    needed = list(dict.fromkeys([*cols.values(), *(col for _, col in filters), *item_cols.values()]))

    tally = Tally()
    event_parts: list[pl.DataFrame] = []
    item_parts: list[pl.DataFrame] = []
    for table in _reading(source, needed, tally):
        table = _exclude(table, filters, tally)
        if cfg.on_missing == "drop":
            table = _drop_missing(table, cols, tally)
        if table.frame.height == 0:
            continue
        event_parts.append(_events(table, cols, cfg, tally))
        if same_file:
            item_parts.append(_items(table, item_cols, cfg, tally))
    if not event_parts:
        left = tally.summary() or "no rows"
        raise fail(source.path, f"no rows left to read: {left} (data.exclude, data.on_missing)")
    events = pl.concat(event_parts, how="diagonal_relaxed")
    if cfg.event_map and "event" in events.columns:
        events = events.with_columns(pl.col("event").replace(cfg.event_map))
    description = (
        f"events {path.name}: {events.height:,} events, {events['user_id'].n_unique():,} users, "
        f"{events['item_id'].n_unique():,} items"
    )
    if tally.summary():
        description += f" ({tally.summary()})"
    items = None
    if same_file:
        items = _catalog(item_parts)
        description += f"; catalog from the same file: {items.height:,} items"
    elif cfg.items_path:
        items = _read_catalog(Path(cfg.items_path), cfg, tally)
        description += f"; catalog {Path(cfg.items_path).name}: {items.height:,} items"
    return RawData.build(events, items, description=description, notes=tally.report())


def _options(cfg: DataConfig) -> ReadOptions:
    return ReadOptions(
        format=cfg.format, header=cfg.header, names=cfg.names, separator=cfg.separator,
        encoding=cfg.encoding, chunk_rows=cfg.chunk_rows,
    )


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _reading(source: Source, columns: list[str], tally: Tally) -> Iterable[Table]:
    """The chunks, with a transient progress line of the rows read so far."""
    with progress_bar(transient=True) as bar:
        task = bar.add_task(f"reading {source.path.name}", total=None)
        for table in source.chunks(columns):
            tally.rows += table.frame.height
            bar.advance(task, table.frame.height)
            yield table


def _column(source: Source, spec: str | list[str], key: str, hint: str = "") -> str:
    """The file's column for a mapping value: the name, or the first candidate present."""
    candidates = [spec] if isinstance(spec, str) else list(spec)
    for name in candidates:
        if name in source.columns:
            return name
    shown = candidates[0] if len(candidates) == 1 else " or ".join(candidates)
    table = Table(str(source.path), pl.DataFrame({c: [] for c in source.columns}))
    raise table.missing_column(shown, key, hint + source.separator_hint())


def _resolve(
    source: Source, mapping: dict[str, str | list[str] | None], prefix: str, required: tuple[str, ...]
) -> dict[str, str]:
    """The config keys whose column is set, each with the file's column (checked to exist)."""
    present = {}
    for key, spec in mapping.items():
        if spec is None or spec == []:
            continue
        hint = "" if key in required else f"; set {prefix}.{key}=null if the file has none"
        present[key] = _column(source, spec, f"{prefix}.{key}", hint)
    return present


def _item_columns(source: Source, cfg: DataConfig) -> dict[str, str]:
    c = cfg.item_columns
    return _resolve(source, {k: getattr(c, k) for k in ITEM_KEYS}, "data.item_columns", ("item",))


# ------------------------------------------------------------------ row filters


def _label(f: RowFilter, column: str) -> str:
    if f.label:
        return f.label
    parts = []
    if f.prefix is not None:
        parts.append(f"{column} starts with {f.prefix!r}")
    if f.equals is not None:
        parts.append(f"{column} in [{', '.join(f.equals)}]")
    for op, sign in (("lt", "<"), ("le", "<="), ("gt", ">"), ("ge", ">=")):
        if getattr(f, op) is not None:
            parts.append(f"{column} {sign} {getattr(f, op):g}")
    return " and ".join(parts)


def _exclude(table: Table, filters: list[tuple[RowFilter, str]], tally: Tally) -> Table:
    frame = table.frame
    for i, (f, column) in enumerate(filters):
        series = frame[column]
        subject = f"column '{column}' (data.exclude[{i}])"
        mask = pl.repeat(True, frame.height, eager=True)
        if f.prefix is not None or f.equals is not None:
            text = Table(table.file, frame, table.line_offset).text(column, subject).str.strip_chars()
            if f.prefix is not None:
                mask &= text.str.starts_with(f.prefix).fill_null(False)
            if f.equals is not None:
                mask &= text.is_in(list(f.equals)).fill_null(False)
        if any(getattr(f, op) is not None for op in ("lt", "le", "gt", "ge")):
            number = Table(table.file, frame, table.line_offset).numbers(column, subject)
            for op, compare in (("lt", number.__lt__), ("le", number.__le__), ("gt", number.__gt__), ("ge", number.__ge__)):
                bound_ = getattr(f, op)
                if bound_ is not None:
                    mask &= compare(bound_).fill_null(False)
        del series
        hits = int(mask.sum())
        label = _label(f, column)
        tally.excluded[label] = tally.excluded.get(label, 0) + hits
        if hits:
            frame = frame.filter(~mask)
    return Table(table.file, frame, table.line_offset)


def _blank(series: pl.Series) -> pl.Series:
    if series.dtype == pl.Utf8:
        return series.is_null() | (series.str.strip_chars() == "")
    if series.dtype.is_float():
        return series.is_null() | series.is_nan()
    return series.is_null()


def _drop_missing(table: Table, cols: dict[str, str], tally: Tally) -> Table:
    frame = table.frame
    masks = {cols[k]: _blank(frame[cols[k]]) for k in NEEDED if k in cols}
    for column, mask in masks.items():
        tally.missing[column] = tally.missing.get(column, 0) + int(mask.sum())
    if not masks:
        return table
    any_missing = pl.DataFrame(masks).select(pl.any_horizontal(pl.all())).to_series()
    dropped = int(any_missing.sum())
    tally.missing_rows += dropped
    return Table(table.file, frame.filter(~any_missing), table.line_offset) if dropped else table


# --------------------------------------------------------------------- columns


def _events(table: Table, cols: dict[str, str], cfg: DataConfig, tally: Tally) -> pl.DataFrame:
    def subject(key: str) -> str:
        return f"column '{cols[key]}' (data.columns.{key})"

    out: dict[str, pl.Series] = {
        "user_id": table.ids(cols["user"], subject("user")),
        "item_id": table.ids(cols["item"], subject("item")),
        "timestamp": timestamps(table, cols["timestamp"], subject("timestamp"), cfg, tally.time),
    }
    if "event" in cols:
        out["event"] = table.ids(cols["event"], subject("event"))
    else:
        kind = "rating" if "rating" in cols else "interaction"
        out["event"] = pl.repeat(kind, table.frame.height, eager=True, dtype=pl.Utf8)
    for key in ("rating", "price", "quantity"):
        if key in cols:
            negative = (f"a price cannot be (data.exclude can leave out such rows: [{{column: {cols[key]}, lt: 0}}])"
                        if key == "price" else None)
            out[key] = table.finite(table.numbers(cols[key], subject(key)), subject(key), negative)
    for key, name in (("session", "session_id"), ("device", "device"), ("text", "text")):
        if key in cols:
            out[name] = _text(table, cols[key], subject(key))
    return pl.DataFrame(out)


def _text(table: Table, column: str, subject: str, joiner: str = " ") -> pl.Series:
    """Text, with a JSON list of strings joined (a description list, a category path)."""
    series = table.frame[column]
    if isinstance(series.dtype, pl.List):
        return series.list.eval(pl.element().cast(pl.Utf8).str.strip_chars()).list.join(joiner).alias(column)
    return table.text(column, subject)


def _items(table: Table, cols: dict[str, str], cfg: DataConfig, tally: Tally) -> pl.DataFrame:
    def subject(key: str) -> str:
        return f"column '{cols[key]}' (data.item_columns.{key})"

    out = {"item_id": table.ids(cols["item"], subject("item"))}
    for key in ("title", "description", "brand"):
        if key in cols:
            text = _text(table, cols[key], subject(key)).str.strip_chars()
            out[key] = text.set(text == "", None)  # type: ignore[arg-type]
    if "category" in cols:
        category = _text(table, cols["category"], subject("category"), CATEGORY_PATH).str.strip_chars()
        if cfg.category_separator:
            category = category.str.replace_all(cfg.category_separator, CATEGORY_PATH, literal=True)
        out["category"] = category.set(category == "", None)  # type: ignore[arg-type]
    if "price" in cols:
        out["price"] = _prices(table, cols["price"], subject("price"), cfg, tally)
    return pl.DataFrame(out)


def _prices(table: Table, column: str, subject: str, cfg: DataConfig, tally: Tally) -> pl.Series:
    """Numbers, or price text such as "$12.99", "$1,250.00", "EUR 5" or "$10.99 - $15.99" (the lower)."""
    series = table.frame[column]
    negative = "a price cannot be (data.on_bad_price=null leaves such prices out)"
    if series.dtype != pl.Utf8:
        numbers = table.numbers(column, subject)
        if cfg.on_bad_price == "null":
            bad = numbers.is_nan() | numbers.is_infinite() | (numbers < 0) if numbers.dtype.is_float() else numbers < 0
            tally.bad_prices += int(bad.fill_null(False).sum())
            return numbers.set(bad.fill_null(False), None)  # type: ignore[arg-type]
        return table.finite(numbers, subject, negative)
    text = series.str.strip_chars()
    text = text.set(text == "", None)  # type: ignore[arg-type]
    parsed = text.str.extract(PRICE.pattern, 1).str.replace_all(",", "").cast(pl.Float64, strict=False)
    bad = text.is_not_null() & parsed.is_null()
    if bad.any():
        if cfg.on_bad_price == "error":
            index = first(bad)
            assert index is not None
            value = str(text[index])
            if value.lstrip().startswith("-") and PRICE.match(value.lstrip()[1:]):
                raise table.error(index, subject, f"{show(value)} is negative; {negative}")
            raise table.error(index, subject, f"{show(value)} is not a price (data.on_bad_price=null leaves such prices out)")
        tally.bad_prices += int(bad.sum())
    return parsed


def _catalog(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """One row per item: for each column, the first value any of its rows has."""
    frame = pl.concat(parts, how="diagonal_relaxed")
    return frame.group_by("item_id", maintain_order=True).agg(pl.all().drop_nulls().first())


def _read_catalog(path: Path, cfg: DataConfig, tally: Tally) -> pl.DataFrame:
    source = Source(path, "data.items_path", _options(cfg))
    cols = _item_columns(source, cfg)
    parts = [_items(table, cols, cfg, tally) for table in _reading(source, list(dict.fromkeys(cols.values())), Tally())]
    return _catalog(parts)


# -------------------------------------------------------------------- timestamps


def timestamps(
    table: Table, column: str, subject: str, cfg: DataConfig, state: dict[str, Any] | None = None
) -> pl.Series:
    """The column as naive-UTC ``Datetime("ms")``; the first bad or missing value is an error.

    ``state`` carries what the first chunk decided (numbers or text, the
    guessed epoch unit) to the later chunks of the same file.
    """
    state = {} if state is None else state
    series = table.frame[column]
    unit = cfg.timestamp_unit
    fmt = [cfg.timestamp_format] if isinstance(cfg.timestamp_format, str) else list(cfg.timestamp_format or [])
    dtype = series.dtype
    if isinstance(dtype, pl.Datetime) or dtype == pl.Date:
        out = _naive_utc(series.cast(pl.Datetime("ms", getattr(dtype, "time_zone", None))))
    elif dtype.is_numeric():
        out = _from_epoch(table.numbers(column, subject), unit, state)
    elif dtype == pl.Utf8:
        text = series.str.strip_chars()
        text = text.set(text == "", None)  # type: ignore[arg-type]
        if "numeric" not in state:
            state["numeric"] = unit in EPOCH_UNITS or (unit == "auto" and not fmt and _looks_numeric(text))
        if state["numeric"]:
            numbers = text.cast(pl.Float64, strict=False)
            units = "seconds/ms/us/ns" if unit == "auto" else unit
            expected = f"a number of {units} since 1970 (data.timestamp_unit={unit})"
            out = _from_epoch(numbers, unit, state)
        else:
            out = _parse_text(text, fmt)
            expected = (
                f"a timestamp in the format {' or '.join(repr(f) for f in fmt)} (data.timestamp_format)"
                if fmt
                else "an ISO-8601 timestamp like 2024-01-31T12:00:00 (set data.timestamp_format for others)"
            )
        bad = first(text.is_not_null() & out.is_null())
        if bad is not None:
            raise table.error(bad, subject, f"cannot parse {show(text[bad])}: expected {expected}")
    else:
        raise fail(table.file, f"{subject} has type {dtype}; expected timestamps")
    bad = first(out.is_null())
    if bad is not None:
        raise table.error(bad, subject, "missing value; every event needs a timestamp (data.on_missing=drop drops such rows)")
    return out


def _looks_numeric(text: pl.Series) -> bool:
    sample = text.drop_nulls().head(1)
    return sample.len() == 1 and bool(sample.str.contains(r"^[+-]?\d+(\.\d+)?$").all())


def _from_epoch(numbers: pl.Series, unit: str, state: dict[str, Any]) -> pl.Series:
    if unit not in EPOCH_UNITS:
        unit = state.setdefault("unit", guess_unit(numbers))
    if numbers.dtype.is_integer():
        whole = numbers.cast(pl.Int64)
        ms = whole * 1000 if unit == "s" else whole // PER_MS[unit]
    else:
        ms = (numbers.cast(pl.Float64) * TO_MS[unit]).round(0).cast(pl.Int64, strict=False)
    return pl.from_epoch(ms, time_unit="ms").cast(pl.Datetime("ms"))


def guess_unit(numbers: pl.Series) -> str:
    """Seconds, ms, us or ns since 1970, from the typical size of the values."""
    median = numbers.cast(pl.Float64).abs().median()
    if median is None or median < 1e11:  # type: ignore[operator]
        return "s"
    if median < 1e14:  # type: ignore[operator]
        return "ms"
    return "us" if median < 1e17 else "ns"  # type: ignore[operator]


def _parse_text(text: pl.Series, fmt: list[str]) -> pl.Series:
    if fmt:
        parsed = []
        for pattern in fmt:
            try:
                parsed.append(_naive_utc(text.str.to_datetime(pattern, strict=False, time_unit="ms")))
            except pl.exceptions.PolarsError as exc:
                raise DataError(
                    f"data.timestamp_format: {pattern!r} is not a usable strftime pattern ({exc})".splitlines()[0]
                ) from None
        return pl.select(pl.coalesce(parsed)).to_series().alias(text.name)
    iso = text.str.replace(r"^(\d{4}-\d{2}-\d{2}) ", "${1}T").str.replace(r"\s*UTC$", "Z")
    parsed = [iso.str.to_datetime(f, strict=False, time_unit="ms") for f in ISO_NAIVE]
    parsed += [_naive_utc(iso.str.to_datetime(f, strict=False, time_unit="ms")) for f in ISO_ZONED]
    return pl.select(pl.coalesce(parsed)).to_series().alias(text.name)


def _naive_utc(series: pl.Series) -> pl.Series:
    dtype = series.dtype
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
        series = series.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    return series.cast(pl.Datetime("ms"))
