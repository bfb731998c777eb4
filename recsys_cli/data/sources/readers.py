"""Read delimited text and Parquet files, and point at the exact bad value.

A :class:`Table` is a frame plus where each row came from. Errors name the
file, the column (or MovieLens field) and the position, one of:

- ``row N``: the N-th data row, counting from 1 after the header (event logs,
  Parquet files);
- ``line N``: the physical line of the file, the header counted (MovieLens).

Bad values are found vectorised: text is cast with ``strict=False`` and the
first row whose value was present but came out null is the culprit.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv

from recsys_cli.errors import DataError

CONTROL = r"[\x00-\x1f\x7f-\x9f]"
"""Characters no id may hold: C0 controls (NUL, tab, newline, escape...), DEL and C1 controls."""
CONTROL_CHARS = re.compile(CONTROL)
CONTROL_NAMES = {"\x00": "NUL", "\t": "tab", "\n": "newline", "\r": "carriage return", "\x1b": "escape",
                 "\x7f": "DEL"}

ROW = "_recsys_row"
"""The 1-based data row of every table row (blank lines are dropped, rows keep their number)."""

_UNIT_SEP = "\x1f"  # stands in for multi-character separators such as MovieLens' "::"


def show(value: object, limit: int = 60) -> str:
    """A value as quoted in an error message: repr, on one line, shortened."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def first(mask: pl.Series) -> int | None:
    """Index of the first true value of a boolean series (nulls count as false)."""
    mask = mask.fill_null(False)
    return int(mask.arg_max()) if mask.any() else None  # type: ignore[arg-type]


def fail(file: str | Path, problem: str) -> DataError:
    """A one-line :class:`DataError` about ``file``."""
    return DataError(f"{file}: {problem}".replace("\r", " ").replace("\n", " "))


@dataclass(frozen=True)
class Table:
    """A read file: ``frame`` has the file's columns plus :data:`ROW`."""

    file: str
    frame: pl.DataFrame
    line_offset: int | None = None
    """None: positions are "row N"; an int k: they are "line N+k"."""

    @property
    def columns(self) -> list[str]:
        return [c for c in self.frame.columns if c != ROW]

    def where(self, index: int) -> str:
        row = int(self.frame[ROW][index])
        return f"row {row}" if self.line_offset is None else f"line {row + self.line_offset}"

    def error(self, index: int, subject: str, problem: str) -> DataError:
        """An error about the value of ``subject`` in the row at ``index`` (0-based frame index)."""
        return fail(self.file, f"{self.where(index)}, {subject}: {problem}")

    def missing_column(self, column: str, key: str | None = None, hint: str = "") -> DataError:
        names = self.columns
        listed = ", ".join(names[:30]) + (f", ... ({len(names) - 30} more)" if len(names) > 30 else "")
        where = f" ({key})" if key else ""
        return fail(self.file, f"column '{column}'{where} not found; columns are: {listed}{hint}")

    def require(self, columns: list[str], note: str = "") -> None:
        """Every row has a value in each of ``columns`` (else: the first row without)."""
        misses = [(i, c) for c in columns if (i := first(self.frame[c].is_null())) is not None]
        if misses:
            index, column = min(misses)
            raise self.error(index, f"field '{column}'", f"missing value{note}")

    def ids(self, column: str, subject: str, integer: bool = False) -> pl.Series:
        """The column as non-empty text ids; ``integer`` also demands whole numbers."""
        if integer:
            return self.numbers(column, subject, integer=True, required=True).cast(pl.Utf8)
        series = self.frame[column]
        if series.dtype.is_float():
            finite = series.drop_nulls().drop_nans()
            if (finite == finite.floor()).all():
                series = series.cast(pl.Int64, strict=False)
        try:
            text = series.cast(pl.Utf8).str.strip_chars()
        except pl.exceptions.PolarsError:
            raise fail(self.file, f"{subject} has type {series.dtype}; expected ids") from None
        bad = first(text.is_null() | (text == ""))
        if bad is not None:
            raise self.error(bad, subject, "missing value; every row needs one")
        bad = first(text.str.contains(CONTROL))
        if bad is not None:
            value = str(text[bad])
            char = next(c for c in value if CONTROL_CHARS.match(c))
            name = CONTROL_NAMES.get(char, f"U+{ord(char):04X}")
            raise self.error(bad, subject, f"{show(value)} holds a control character ({name}); ids must be "
                                           "printable text")
        return text

    def finite(self, values: pl.Series, subject: str, negative: str | None = None) -> pl.Series:
        """``values`` (of this table's rows) without NaN or infinity; ``negative``: why a negative one is an error."""
        if values.dtype.is_float():
            bad = first(values.is_nan() | values.is_infinite())
            if bad is not None:
                raise self.error(bad, subject, f"{values[bad]} is not a finite number")
        if negative is not None:
            bad = first(values < 0)
            if bad is not None:
                raise self.error(bad, subject, f"{values[bad]} is negative; {negative}")
        return values

    def numbers(self, column: str, subject: str, integer: bool = False, required: bool = False) -> pl.Series:
        """The column as Int64 (``integer``) or Float64; text that is no number is an error."""
        series = self.frame[column]
        target = pl.Int64 if integer else pl.Float64
        kind = "an integer" if integer else "a number"
        if series.dtype == pl.Utf8:
            text = series.str.strip_chars()
            text = text.set(text == "", None)  # type: ignore[arg-type]
            out = text.cast(target, strict=False)
            bad = first(text.is_not_null() & out.is_null())
            if bad is not None:
                raise self.error(bad, subject, f"{show(text[bad])} is not {kind}")
        elif series.dtype.is_numeric():
            if integer and series.dtype.is_float():
                bad = first(series.is_not_null() & (series != series.floor()))
                if bad is not None:
                    raise self.error(bad, subject, f"{series[bad]!r} is not {kind}")
            out = series.cast(target, strict=False)
        elif series.dtype == pl.Null:
            out = series.cast(target)
        else:
            raise fail(self.file, f"{subject} has type {series.dtype}; expected numbers")
        if required:
            bad = first(out.is_null())
            if bad is not None:
                raise self.error(bad, subject, "missing value; every row needs one")
        return out

    def text(self, column: str, subject: str) -> pl.Series:
        """The column as (nullable) text."""
        series = self.frame[column]
        try:
            return series.cast(pl.Utf8)
        except pl.exceptions.PolarsError:
            raise fail(self.file, f"{subject} has type {series.dtype}; expected text") from None


def check_file(path: Path, key: str | None = None) -> None:
    """``path`` is an existing, non-empty file (``key``: the config key that named it)."""
    named = f" ({key})" if key else ""
    if not path.exists():
        raise fail(path, f"file not found{named}")
    if not path.is_file():
        raise fail(path, f"not a file{named}")
    if path.stat().st_size == 0:
        raise fail(path, "file is empty (0 bytes)")


SNIFF_BYTES = 64 << 10  # the start of a text file, checked for being text at all
CONTROL_BYTES = bytes(b for b in range(0x20) if b not in b"\t\n\r\f") + b"\x7f"
MAX_CONTROL_SHARE = 0.05  # text has next to none; random or binary bytes about 12%


def check_text(file: str | Path, head: bytes, what: str) -> None:
    """The first bytes of a file read as text (``what``: how it is read) are text.

    Refuses, naming the file: only blank lines, a Parquet file, a zip archive
    or Excel workbook, UTF-16, and bytes of which more than 5% are control
    bytes (random or binary data; text has none but tabs and line ends).
    """
    if not head.strip():
        raise fail(file, "file is empty (only blank lines)")
    if head.startswith(b"PAR1"):
        raise fail(file, f"is a Parquet file, {what}; name it .parquet or set data.format=parquet")
    if head.startswith(b"PK\x03\x04"):
        raise fail(file, f"is a zip archive or an Excel workbook, {what}; name it .zip or .xlsx")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise fail(file, "is UTF-16 text; save it as UTF-8 (data.encoding: utf8, latin-1 or cp1252)")
    controls = len(head) - len(head.translate(None, CONTROL_BYTES))
    if controls > MAX_CONTROL_SHARE * len(head):
        raise fail(file, f"is not text: {controls:,} of its first {len(head):,} bytes are control bytes "
                         f"(a binary file?), {what}")


def decode(data: bytes, encoding: str) -> str:
    """``encoding`` "auto": UTF-8 if it decodes, else Latin-1 (older MovieLens files)."""
    if encoding != "auto":
        return data.decode(encoding)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def read_delimited(
    path: Path,
    *,
    separator: str = ",",
    header: bool = True,
    names: list[str] | None = None,
    encoding: str = "utf8",
    quote: bool = True,
    lines: bool = False,
    key: str | None = None,
) -> Table:
    """Read a delimited text file with every column as text.

    ``names`` (headerless files) fixes the number of fields; ``separator`` may be
    several characters ("::"); ``encoding`` is utf8, latin-1 or auto; ``lines``
    reports positions as file lines instead of data rows.
    """
    check_file(path, key)
    with open(path, "rb") as handle:
        check_text(path, handle.read(SNIFF_BYTES), "though read as delimited text" + (f" ({key})" if key else ""))
    source: Path | bytes = path
    sep = separator
    if encoding != "utf8" or len(separator) > 1:
        data = path.read_bytes()
        if encoding != "utf8":
            data = decode(data, encoding).encode("utf-8")
        if len(separator) > 1:
            data = data.replace(separator.encode(), _UNIT_SEP.encode())
            sep = _UNIT_SEP
        source = data
    offset = int(header) if lines else None
    try:
        frame = pl.read_csv(
            source,
            separator=sep,
            has_header=header,
            schema={n: pl.Utf8 for n in names} if names else None,
            infer_schema=False,
            quote_char='"' if quote else None,
        )
    except pl.exceptions.NoDataError:
        raise fail(path, "file is empty") from None
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise _ragged(path, source, sep, separator, header, quote, lines) or fail(
            path, f"cannot read as delimited text: {first_line(exc)}"
        ) from None
    frame = frame.with_row_index(ROW, offset=1)
    frame = frame.filter(~pl.all_horizontal(pl.exclude(ROW).is_null()))
    if frame.height == 0:
        raise fail(path, "no data rows (only a header)" if header else "no data rows")
    return Table(str(path), frame, offset)


def _ragged(
    path: Path,
    source: Path | bytes,
    sep: str,
    separator: str,
    header: bool,
    quote: bool,
    lines: bool,
) -> DataError | None:
    """Find the first line with the wrong number of fields (pyarrow reports its number)."""
    bad: list[pacsv.InvalidRow] = []

    def handler(row: pacsv.InvalidRow) -> str:
        if not row.text.strip():
            return "skip"
        bad.append(row)
        return "error"

    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:  # pyarrow decodes each bad row's text as UTF-8 for the handler
        data = data.decode("latin-1").encode("utf-8")
    with contextlib.suppress(pa.ArrowException, OSError):
        pacsv.read_csv(
            pa.BufferReader(data),  # an Arrow buffer: no Python file for pyarrow's reader threads to call
            read_options=pacsv.ReadOptions(
                use_threads=False, autogenerate_column_names=True, skip_rows=int(header)
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=sep,
                quote_char='"' if quote else False,
                ignore_empty_lines=False,
                invalid_row_handler=handler,
            ),
            convert_options=pacsv.ConvertOptions(include_columns=["f0"], column_types={"f0": pa.binary()}),
        )
    if not bad:
        return None
    row = bad[0]
    if row.number is None or row.number < 0:
        where = "a line"
    else:
        where = f"line {row.number}" if lines else f"row {row.number - int(header)}"
    text = row.text.replace(_UNIT_SEP, separator)
    return fail(
        path,
        f"{where}: expected {row.expected_columns} fields separated by {separator!r}, "
        f"found {row.actual_columns}: {show(text)}",
    )


def read_parquet(path: Path, key: str | None = None) -> Table:
    """Read a Parquet file as stored; positions are data rows."""
    check_file(path, key)
    try:
        frame = pl.read_parquet(path)
    except (pl.exceptions.PolarsError, pa.ArrowException, OSError) as exc:
        raise fail(path, f"cannot read as Parquet: {first_line(exc)}") from None
    if frame.height == 0:
        raise fail(path, "no data rows")
    return Table(str(path), frame.with_row_index(ROW, offset=1))
