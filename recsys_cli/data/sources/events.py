"""Any CSV or Parquet event log (plus an optional item catalog) into the interim tables.

Columns are mapped by ``data.columns`` (and ``data.item_columns`` for the
catalog). Bad input is reported as one line naming the file, the column with
its config key, and the row: ``row N`` is the N-th data row after the header,
counting from 1 (for Parquet, the N-th row), e.g.::

    events.csv: row 5, column 'stars' (data.columns.rating): 'abc' is not a number

Timestamps (``data.timestamp_unit``): numbers are seconds/ms/us/ns since 1970
(``auto`` guesses the unit from their size), text is ISO-8601 (or
``data.timestamp_format``), datetime columns are used as they are; all end up
as naive UTC.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from recsys_cli.config import DataConfig
from recsys_cli.data.sources.readers import Table, fail, first, read_delimited, read_parquet, show
from recsys_cli.data.tables import RawData
from recsys_cli.errors import DataError

SUFFIXES = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet"}
FORMATS = ("auto", "csv", "parquet")
EPOCH_UNITS = ("s", "ms", "us", "ns")
TO_MS = {"s": 1000.0, "ms": 1.0, "us": 1e-3, "ns": 1e-6}
PER_MS = {"ms": 1, "us": 1_000, "ns": 1_000_000}
ISO_NAIVE = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d")
ISO_ZONED = ("%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M%#z")


def load(cfg: DataConfig) -> RawData:
    """Read the event log at ``data.path`` and the catalog at ``data.items_path``, if set."""
    if not cfg.path:
        raise DataError("data.path is not set: point it at a CSV or Parquet event log (data.path=FILE)")
    path = Path(cfg.path)
    table = read_table(path, cfg.format, "data.path")
    events = _events(table, cfg)
    description = (
        f"events {path.name}: {events.height} events, {events['user_id'].n_unique()} users, "
        f"{events['item_id'].n_unique()} items"
    )
    items = None
    if cfg.items_path:
        items = _items(read_table(Path(cfg.items_path), cfg.format, "data.items_path"), cfg)
        description += f"; catalog {Path(cfg.items_path).name}: {items.height} items"
    return RawData.build(events, items, description=description)


def read_table(path: Path, fmt: str, key: str) -> Table:
    """A CSV/TSV or Parquet file, the format from ``fmt`` or else the suffix."""
    if fmt not in FORMATS:
        raise DataError(
            f"data.format: unknown format {fmt!r} for an event log; choose one of: {', '.join(FORMATS)}"
        )
    if fmt == "auto":
        fmt = SUFFIXES.get(path.suffix.lower(), "")
        if not fmt:
            raise fail(
                path,
                f"cannot tell the format from the suffix {path.suffix!r} ({key}); "
                "set data.format=csv or data.format=parquet",
            )
    if fmt == "parquet":
        return read_parquet(path, key)
    return read_delimited(path, separator=_separator(path), key=key)


def _separator(path: Path) -> str:
    if path.suffix.lower() == ".tsv":
        return "\t"
    if path.suffix.lower() == ".csv" or not path.is_file():
        return ","
    with open(path, "rb") as handle:
        head = handle.readline()
    return "\t" if b"\t" in head and b"," not in head else ","


def _mapped(
    table: Table, mapping: dict[str, str | None], prefix: str, required: tuple[str, ...]
) -> dict[str, str]:
    """The config keys whose column is set, after checking each column is in the file."""
    present = {}
    for key, column in mapping.items():
        if column is None:
            continue
        if column not in table.columns:
            hint = "" if key in required else f"; set {prefix}.{key}=null if the file has none"
            raise table.missing_column(column, f"{prefix}.{key}", hint)
        present[key] = column
    return present


def _events(table: Table, cfg: DataConfig) -> pl.DataFrame:
    c = cfg.columns
    mapping = {
        "user": c.user, "item": c.item, "timestamp": c.timestamp, "event": c.event,
        "rating": c.rating, "price": c.price, "session": c.session, "device": c.device,
    }  # fmt: skip
    cols = _mapped(table, mapping, "data.columns", ("user", "item", "timestamp"))

    def subject(key: str) -> str:
        return f"column '{cols[key]}' (data.columns.{key})"

    out: dict[str, pl.Series] = {
        "user_id": table.ids(cols["user"], subject("user")),
        "item_id": table.ids(cols["item"], subject("item")),
        "timestamp": timestamps(table, cols["timestamp"], subject("timestamp"), cfg),
    }
    if "event" in cols:
        out["event"] = table.ids(cols["event"], subject("event"))
    else:
        kind = "rating" if "rating" in cols else "interaction"
        out["event"] = pl.repeat(kind, table.frame.height, eager=True, dtype=pl.Utf8)
    for key, name in (("rating", "rating"), ("price", "price")):
        if key in cols:
            out[name] = table.numbers(cols[key], subject(key))
    for key, name in (("session", "session_id"), ("device", "device")):
        if key in cols:
            out[name] = table.text(cols[key], subject(key))
    return pl.DataFrame(out)


def _items(table: Table, cfg: DataConfig) -> pl.DataFrame:
    c = cfg.item_columns
    mapping = {
        "item": c.item, "title": c.title, "description": c.description,
        "category": c.category, "brand": c.brand, "price": c.price,
    }  # fmt: skip
    cols = _mapped(table, mapping, "data.item_columns", ("item",))

    def subject(key: str) -> str:
        return f"column '{cols[key]}' (data.item_columns.{key})"

    out = {"item_id": table.ids(cols["item"], subject("item"))}
    for key in ("title", "description", "category", "brand"):
        if key in cols:
            out[key] = table.text(cols[key], subject(key))
    if "price" in cols:
        out["price"] = table.numbers(cols["price"], subject("price"))
    return pl.DataFrame(out).unique("item_id", keep="first", maintain_order=True)


# -------------------------------------------------------------------- timestamps


def timestamps(table: Table, column: str, subject: str, cfg: DataConfig) -> pl.Series:
    """The column as naive-UTC ``Datetime("ms")``; the first bad or missing value is an error."""
    series = table.frame[column]
    unit, fmt = cfg.timestamp_unit, cfg.timestamp_format
    dtype = series.dtype
    if isinstance(dtype, pl.Datetime) or dtype == pl.Date:
        out = _naive_utc(series.cast(pl.Datetime("ms", getattr(dtype, "time_zone", None))))
    elif dtype.is_numeric():
        out = _from_epoch(table.numbers(column, subject), unit)
    elif dtype == pl.Utf8:
        text = series.str.strip_chars()
        text = text.set(text == "", None)  # type: ignore[arg-type]
        if unit in EPOCH_UNITS or (unit == "auto" and fmt is None and _looks_numeric(text)):
            numbers = text.cast(pl.Float64, strict=False)
            units = "seconds/ms/us/ns" if unit == "auto" else unit
            expected = f"a number of {units} since 1970 (data.timestamp_unit={unit})"
            out = _from_epoch(numbers, unit)
        else:
            out = _parse_text(text, fmt)
            expected = (
                f"a timestamp in the format {fmt!r} (data.timestamp_format)"
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
        raise table.error(bad, subject, "missing value; every event needs a timestamp")
    return out


def _looks_numeric(text: pl.Series) -> bool:
    sample = text.drop_nulls().head(1)
    return sample.len() == 1 and bool(sample.str.contains(r"^[+-]?\d+(\.\d+)?$").all())


def _from_epoch(numbers: pl.Series, unit: str) -> pl.Series:
    if unit not in EPOCH_UNITS:
        unit = guess_unit(numbers)
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


def _parse_text(text: pl.Series, fmt: str | None) -> pl.Series:
    if fmt:
        try:
            return _naive_utc(text.str.to_datetime(fmt, strict=False, time_unit="ms"))
        except pl.exceptions.PolarsError as exc:
            raise DataError(
                f"data.timestamp_format: {fmt!r} is not a usable strftime pattern ({exc})".splitlines()[0]
            ) from None
    iso = text.str.replace(r"^(\d{4}-\d{2}-\d{2}) ", "${1}T")
    parsed = [iso.str.to_datetime(f, strict=False, time_unit="ms") for f in ISO_NAIVE]
    parsed += [_naive_utc(iso.str.to_datetime(f, strict=False, time_unit="ms")) for f in ISO_ZONED]
    return pl.select(pl.coalesce(parsed)).to_series().alias(text.name)


def _naive_utc(series: pl.Series) -> pl.Series:
    dtype = series.dtype
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
        series = series.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    return series.cast(pl.Datetime("ms"))
