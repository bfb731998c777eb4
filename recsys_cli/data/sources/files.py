"""Open an event log or catalog file and read it in chunks.

The format comes from the suffix chain (or ``data.format``): ``.csv``/``.tsv``/
``.txt`` are delimited text, ``.parquet``/``.pq`` Parquet, ``.jsonl``/``.json``/
``.ndjson`` JSON lines (one object per line), ``.xlsx`` an Excel workbook (its
first sheet, every cell read as text, e.g. UCI's ``Online Retail.xlsx``); a last ``.gz`` means gzip and a
last ``.zip`` a zip archive with exactly one file (whose own name tells the
format when the archive's does not): ``events.csv.gz``, ``reviews.json.gz``,
``online_retail.zip``. The compression is checked against the file's first
bytes before anything is read.

Rows come in chunks of ``data.chunk_rows`` (text is streamed, never loaded
whole; a workbook, at most 1,048,576 rows, is parsed whole first), each a :class:`~recsys_cli.data.sources.readers.Table` whose row
numbers continue across chunks, so an error names the same row wherever the
chunk boundaries fall: ``row N`` is the N-th non-blank data row after the
header (CSV, Parquet), ``line N`` the physical line (JSON lines).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from recsys_cli.data.sources.readers import (
    ROW, SNIFF_BYTES, Table, check_file, check_text, fail, first, first_line, show,
)
from recsys_cli.errors import ConfigError, DataError

KINDS = {
    ".csv": "csv", ".tsv": "csv", ".txt": "csv",
    ".parquet": "parquet", ".pq": "parquet",
    ".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl",
    ".xlsx": "xlsx",
}  # fmt: skip
COMPRESSIONS = {".gz": "gzip", ".gzip": "gzip", ".zip": "zip"}
FORMATS = ("auto", "csv", "parquet", "jsonl", "xlsx")
GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK"
BLOCK_BYTES = 16 << 20  # pyarrow's CSV block: a single row longer than this fails
PEEK_LINES = 1000  # JSON lines whose keys name the columns


@dataclass(frozen=True)
class ReadOptions:
    """How to read one file (the ``data.*`` reading keys)."""

    format: str = "auto"
    header: bool = True
    names: list[str] | None = None
    separator: str | None = None
    encoding: str = "auto"  # auto: UTF-8, else Latin-1 | utf8 | latin-1
    chunk_rows: int = 500_000


class Source:
    """One file: its format and compression, its columns, and its rows in chunks."""

    def __init__(self, path: Path, key: str, options: ReadOptions) -> None:
        self.path = Path(path)
        self.key = key
        self.options = options
        check_file(self.path, key)
        self.compression, self.member, self.kind = self._describe()
        self.encoding = "utf8" if options.encoding in ("auto", "utf8", "utf-8") else options.encoding
        if self.kind in ("csv", "jsonl"):
            self._check_text()
        self.separator = self._separator() if self.kind == "csv" else ","
        self.columns = self._columns()
        self._check_unique(self.columns)

    @property
    def name(self) -> str:
        return f"{self.path}" + (f" ({self.member})" if self.member else "")

    # ----------------------------------------------------------------- format
    def _describe(self) -> tuple[str | None, str | None, str]:
        path, fmt = self.path, self.options.format
        if fmt not in FORMATS:
            raise ConfigError(f"data.format: unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}")
        suffixes = [s.lower() for s in path.suffixes]
        compression = COMPRESSIONS.get(suffixes[-1]) if suffixes else None
        inner = suffixes[:-1] if compression else suffixes
        with open(path, "rb") as handle:
            head = handle.read(4)
        member = None
        if compression == "gzip" and not head.startswith(GZIP_MAGIC):
            raise fail(path, f"not a gzip file, though its name ends in {path.suffix} ({self.key})")
        if compression == "zip":
            if not head.startswith(ZIP_MAGIC):
                raise fail(path, f"not a zip archive, though its name ends in {path.suffix} ({self.key})")
            member = self._zip_member()
            if not inner or inner[-1] not in KINDS:
                inner = [s.lower() for s in Path(member).suffixes]
        if compression is None and head.startswith(GZIP_MAGIC):
            raise fail(path, f"is gzip-compressed but its name does not end in .gz ({self.key}); rename it to {path.name}.gz")
        kind = fmt
        if fmt == "auto":
            kind = KINDS.get(inner[-1], "") if inner else ""
            if not kind:
                name = member or path.name
                raise fail(
                    path,
                    f"cannot tell the format from the name {name!r} ({self.key}); name it .csv, .parquet or "
                    ".jsonl (optionally + .gz or .zip), or set data.format=csv|parquet|jsonl",
                )
        return compression, member, kind

    def _check_text(self) -> None:
        """A text format's file starts with text (not a Parquet file, an archive or random bytes)."""
        with self._open() as handle:
            head = handle.read(SNIFF_BYTES)
        check_text(self.path, head, f"though read as {self.kind} ({self.key})")

    def _check_unique(self, columns: list[str]) -> None:
        seen: dict[str, int] = {}
        for position, name in enumerate(columns, start=1):
            if name in seen:
                raise fail(self.path, f"column {name!r} appears twice in the header (fields {seen[name]} and "
                                      f"{position}); rename one")
            seen[name] = position

    def separator_hint(self) -> str:
        """For a missing column: a header that is one column holding another separator says so."""
        if self.kind != "csv" or len(self.columns) != 1:
            return ""
        found = [s for s in (";", "\t", "|", ",", ":") if s in self.columns[0] and s != self.separator]
        return f"; the header is one field: is the separator {found[0]!r}? set data.separator={found[0]!r}" if found else ""

    def _zip_member(self) -> str:
        try:
            with zipfile.ZipFile(self.path) as archive:
                names = [i.filename for i in archive.infolist() if not i.is_dir() and not _zip_junk(i.filename)]
        except (zipfile.BadZipFile, OSError) as exc:
            raise fail(self.path, f"cannot read the zip archive: {first_line(exc)}") from None
        if len(names) != 1:
            listed = ", ".join(names[:10]) + (f", ... ({len(names) - 10} more)" if len(names) > 10 else "")
            found = f"{len(names)} files ({listed})" if names else "no file"
            raise fail(self.path, f"a zip archive must hold exactly one file, found {found}; unzip it and set {self.key} to one")
        return names[0]

    def _separator(self) -> str:
        if self.options.separator:
            return self.options.separator
        inner = Path(self.member) if self.member else self.path
        suffixes = [s.lower() for s in inner.suffixes if s.lower() not in COMPRESSIONS]
        if suffixes and suffixes[-1] == ".tsv":
            return "\t"
        with self._open() as handle:
            head = handle.readline(1 << 16)
        return "\t" if b"\t" in head and b"," not in head else ","

    @contextlib.contextmanager
    def _open(self) -> Iterator[IO[bytes]]:
        """The decompressed bytes; decompression errors become one-line DataErrors."""
        try:
            if self.compression == "gzip":
                with gzip.open(self.path, "rb") as handle:
                    yield handle
            elif self.compression == "zip":
                with zipfile.ZipFile(self.path) as archive, archive.open(self.member or "") as handle:
                    yield handle
            else:
                with open(self.path, "rb") as handle:
                    yield handle
        except (EOFError, zlib.error, gzip.BadGzipFile, zipfile.BadZipFile) as exc:
            what = "gzip stream" if self.compression == "gzip" else "zip member"
            raise fail(self.path, f"the {what} is corrupt or cut short: {first_line(exc)}") from None

    @contextlib.contextmanager
    def _native(self) -> Iterator[Any]:
        """The bytes for pyarrow's CSV reader: an Arrow file (gzip inflated by Arrow) where possible.

        pyarrow reads ahead in a background thread; reading a Python file
        object there needs the GIL, and a parse error that stops the reader
        early can leave that thread to abort the interpreter as it exits
        ("terminate called without an active exception"). Arrow's own files
        do not call back into Python.
        """
        if self.compression == "zip":
            with self._open() as handle:
                yield handle
            return
        try:
            raw = pa.OSFile(str(self.path))
            stream = pa.CompressedInputStream(raw, "gzip") if self.compression == "gzip" else raw
        except OSError as exc:
            raise fail(self.path, f"cannot open: {first_line(exc)}") from None
        try:
            yield stream
        except OSError as exc:
            if self.compression == "gzip" and not isinstance(exc, pa.ArrowInvalid):
                raise fail(self.path, f"the gzip stream is corrupt or cut short: {first_line(exc)}") from None
            raise
        finally:
            stream.close()

    # ---------------------------------------------------------------- columns
    def _columns(self) -> list[str]:
        if self.kind == "xlsx":
            return [c for c in self._workbook().columns if c != ROW]
        if self.kind == "parquet":
            with self._parquet() as parquet:
                return list(parquet.schema_arrow.names)
        if self.kind == "jsonl":
            keys: dict[str, None] = {}
            for _, record in self._json_records(limit=PEEK_LINES):
                keys.update(dict.fromkeys(record))
            return list(keys)
        if not self.options.header:
            if not self.options.names:
                raise ConfigError(f"data.names: {self.name} has no header (data.header=false); list its column names")
            return list(self.options.names)
        try:
            with self._csv_reader(None) as reader:
                return list(reader.schema.names)
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            invalid = isinstance(exc, UnicodeDecodeError) or "invalid UTF8" in str(exc)
            if invalid and self.options.encoding == "auto" and self.encoding != "latin-1":
                self.encoding = "latin-1"
                return self._columns()
            if isinstance(exc, UnicodeDecodeError):
                raise fail(self.path, "the header is not UTF-8 text; set data.encoding=latin-1 (or the file's "
                                      "encoding)") from None
            raise self._csv_error(exc) from None

    # ----------------------------------------------------------------- chunks
    def chunks(self, columns: list[str]) -> Iterator[Table]:
        """The rows, ``chunk_rows`` at a time, with only ``columns`` (which must exist)."""
        if self.kind == "parquet":
            yield from self._parquet_chunks(columns)
        elif self.kind == "xlsx":
            frame = self._workbook().select(*columns, ROW)
            for start in range(0, frame.height, self.options.chunk_rows):
                yield Table(str(self.path), frame.slice(start, self.options.chunk_rows))
        elif self.kind == "jsonl":
            yield from self._json_chunks(columns)
        else:
            yield from self._csv_chunks(columns)

    def _table(self, frame: pl.DataFrame, first_row: int, lines: bool = False) -> Table:
        frame = frame.with_columns(pl.int_range(first_row, first_row + frame.height, dtype=pl.Int64).alias(ROW))
        return Table(str(self.path), frame, 0 if lines else None)

    def _check_no_header_rows(self, table: Table) -> None:
        """A data row whose every value is its column's name: the header again (two files joined)."""
        columns = table.columns
        if not self.options.header or not columns:
            return
        same = table.frame.select(pl.all_horizontal([pl.col(c) == c for c in columns]).alias("h")).to_series()
        index = first(same)
        if index is not None:
            raise fail(self.path, f"{table.where(index)} repeats the header line (were two files joined?); remove it")

    # CSV -------------------------------------------------------------------
    @contextlib.contextmanager
    def _csv_reader(self, columns: list[str] | None) -> Iterator[pacsv.CSVStreamingReader]:
        names = None if self.options.header else list(self.options.names or [])
        with self._native() as handle:
            try:
                reader = pacsv.open_csv(
                    handle,
                    read_options=pacsv.ReadOptions(
                        use_threads=False, block_size=BLOCK_BYTES, column_names=names,
                        encoding="utf8" if self.encoding == "utf8" else self.encoding,
                    ),
                    parse_options=pacsv.ParseOptions(delimiter=self.separator, newlines_in_values=True),
                    convert_options=pacsv.ConvertOptions(
                        column_types={c: pa.string() for c in columns or []},
                        include_columns=columns or [], strings_can_be_null=True,
                    ),
                )
            except StopIteration:
                raise fail(self.path, "file is empty") from None
            yield reader

    def _csv_chunks(self, columns: list[str]) -> Iterator[Table]:
        size = self.options.chunk_rows
        row = 1
        pending: list[pa.RecordBatch] = []
        try:
            with self._csv_reader(columns) as reader:
                for batch in reader:
                    pending.append(batch)
                    while sum(b.num_rows for b in pending) >= size:
                        table = pa.Table.from_batches(pending)
                        chunk = self._table(pl.from_arrow(table.slice(0, size)), row)  # type: ignore[arg-type]
                        self._check_no_header_rows(chunk)
                        yield chunk
                        row += size
                        pending = table.slice(size).to_batches()
        except pa.ArrowInvalid as exc:
            if "invalid UTF8" in str(exc) and self.options.encoding == "auto" and row == 1:
                self.encoding = "latin-1"  # auto: the whole file is Latin-1 (nothing was handed out yet)
                yield from self._csv_chunks(columns)
                return
            raise self._csv_error(exc) from None
        rest = pa.Table.from_batches(pending) if pending else None
        if rest is not None and rest.num_rows:
            chunk = self._table(pl.from_arrow(rest), row)  # type: ignore[arg-type]
            self._check_no_header_rows(chunk)
            yield chunk
        elif row == 1:
            raise fail(self.path, "no data rows (only a header)" if self.options.header else "no data rows")

    def _csv_error(self, exc: Exception) -> DataError:
        text = first_line(exc)
        if "Empty CSV file" in text:
            return fail(self.path, "file is empty")
        if "invalid UTF8" in text:
            return fail(self.path, "is not UTF-8 text; set data.encoding=latin-1 (or the file's encoding)")
        ragged = _RAGGED.search(text)
        if ragged:
            number, expected, found, line = ragged.groups()
            row = int(number) - int(self.options.header)
            return fail(self.path, f"row {row}: expected {expected} fields separated by {self.separator!r}, found {found}: {show(line)}")
        return fail(self.path, f"cannot read as delimited text: {text.removeprefix('CSV parse error: ')}")

    # Parquet ---------------------------------------------------------------
    @contextlib.contextmanager
    def _parquet(self) -> Iterator[pq.ParquetFile]:
        try:
            if self.compression:
                with self._open() as handle:
                    data = handle.read()
                parquet = pq.ParquetFile(io.BytesIO(data))
            else:
                parquet = pq.ParquetFile(self.path)
        except (pa.ArrowException, OSError) as exc:
            raise fail(self.path, f"cannot read as Parquet: {first_line(exc)}") from None
        yield parquet

    def _parquet_chunks(self, columns: list[str]) -> Iterator[Table]:
        row = 1
        with self._parquet() as parquet:
            try:
                for batch in parquet.iter_batches(batch_size=self.options.chunk_rows, columns=columns):
                    if batch.num_rows:
                        yield self._table(pl.from_arrow(batch), row)  # type: ignore[arg-type]
                        row += batch.num_rows
            except (pa.ArrowException, OSError) as exc:
                raise fail(self.path, f"cannot read as Parquet: {first_line(exc)}") from None
        if row == 1:
            raise fail(self.path, "no data rows")

    # Excel -----------------------------------------------------------------
    def _workbook(self) -> pl.DataFrame:
        """The first sheet, every cell as text (dates as ``2010-12-01 08:26:00``), read once."""
        cached = getattr(self, "_sheet", None)
        if cached is not None:
            return cached
        try:
            import fastexcel
        except ImportError:
            raise fail(self.path, "reading .xlsx needs the fastexcel package (pip install fastexcel)") from None
        try:
            if self.compression:
                with self._open() as handle:
                    reader = fastexcel.read_excel(handle.read())
            else:
                reader = fastexcel.read_excel(str(self.path))
            sheet = reader.load_sheet(0, dtypes="string", header_row=0 if self.options.header else None)
            frame = sheet.to_polars()
        except Exception as exc:  # fastexcel raises its own exception types for every kind of bad workbook
            if isinstance(exc, DataError):
                raise
            raise fail(self.path, f"cannot read as an Excel workbook: {first_line(exc)}") from None
        if not self.options.header and self.options.names:
            frame = frame.rename(dict(zip(frame.columns, self.options.names, strict=False)))
        if frame.width:  # blank rows are skipped; the others keep their data-row number
            frame = frame.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))
            frame = frame.filter(~pl.all_horizontal(pl.exclude(ROW).is_null()))
        if frame.height == 0:
            raise fail(self.path, "no data rows")
        self._sheet = frame
        return frame

    # JSON lines ------------------------------------------------------------
    def _json_records(self, limit: int | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
        """(line number, object) for every non-blank line."""
        encoding = "utf-8" if self.encoding == "utf8" else self.encoding
        seen = 0
        with self._open() as handle:
            for number, raw in enumerate(handle, start=1):
                if not raw.strip():
                    continue
                try:
                    record = json.loads(raw.decode(encoding), object_pairs_hook=_unique_keys)
                except UnicodeDecodeError:
                    raise fail(self.path, f"line {number}: not {encoding} text; set data.encoding") from None
                except _DuplicateKey as exc:
                    raise fail(self.path, f"line {number}: key {exc.args[0]!r} appears twice in one object") from None
                except json.JSONDecodeError as exc:
                    hint = "; a JSON array is not read, only one object per line (JSON lines)" if number == 1 and raw.lstrip().startswith(b"[") else ""
                    raise fail(self.path, f"line {number}: not valid JSON ({exc.msg} at column {exc.colno}){hint}") from None
                if not isinstance(record, dict):
                    hint = "; a JSON array is not read, only one object per line (JSON lines)" if number == 1 and isinstance(record, list) else ""
                    raise fail(self.path, f"line {number}: expected a JSON object, found {type(record).__name__}{hint}")
                yield number, record
                seen += 1
                if limit is not None and seen >= limit:
                    return
        if seen == 0:
            raise fail(self.path, "no data rows (no JSON object in the file)")

    def _json_chunks(self, columns: list[str]) -> Iterator[Table]:
        lines: list[int] = []
        values: dict[str, list[Any]] = {c: [] for c in columns}
        for number, record in self._json_records():
            lines.append(number)
            for column in columns:
                values[column].append(record.get(column))
            if len(lines) >= self.options.chunk_rows:
                yield self._json_table(lines, values)
                lines, values = [], {c: [] for c in columns}
        if lines:
            yield self._json_table(lines, values)

    def _json_table(self, lines: list[int], values: dict[str, list[Any]]) -> Table:
        frame = pl.DataFrame([_series(name, column) for name, column in values.items()] or None)
        frame = frame.with_columns(pl.Series(ROW, lines, dtype=pl.Int64)) if frame.width else pl.DataFrame({ROW: lines})
        return Table(str(self.path), frame, 0)


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    record = dict(pairs)
    if len(record) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return record


_RAGGED = re.compile(r"Row #(\d+): Expected (\d+) columns, got (\d+): (.*)")


def _zip_junk(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return name.startswith("__MACOSX/") or base.startswith("._") or base in (".DS_Store", "Thumbs.db")


def _series(name: str, values: list[Any]) -> pl.Series:
    """One JSON field as a column: numbers stay numbers, lists of scalars become List(Utf8), else text."""
    kinds = {_kind(v) for v in values if v is not None}
    if kinds <= {"int"}:
        return pl.Series(name, values, dtype=pl.Int64)
    if kinds <= {"int", "float"}:
        return pl.Series(name, [None if v is None else float(v) for v in values], dtype=pl.Float64)
    if kinds == {"list"}:
        return pl.Series(name, [None if v is None else [_text(x) for x in v] for v in values], dtype=pl.List(pl.Utf8))
    return pl.Series(name, [None if v is None else _text(v) for v in values], dtype=pl.Utf8)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, list):
        return "list"
    return "dict" if isinstance(value, dict) else "str"


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return " ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
