"""MovieLens folders (GroupLens releases) into the interim tables.

Formats, told apart by the files present (``data.format=auto``):

- ml-100k: ``u.data`` (tab), ``u.item`` and ``u.user`` (``|``, Latin-1)
- ml-1m: ``ratings.dat``, ``movies.dat``, ``users.dat`` (``::``)
- ml-10m: ``ratings.dat``, ``movies.dat`` and no ``users.dat``
- ml-20m, ml-25m, ml-latest, ml-latest-small: ``ratings.csv``, ``movies.csv``
  (one file format; named from README.txt, else the folder, else ml-latest)

Bad lines are reported as ``<file>: line N, field '<name>': <problem>`` where N
is the physical line of the file (the CSV header is line 1).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import polars as pl

from recsys_cli.config import DataConfig
from recsys_cli.data.sources.download import extract_zip, fetch
from recsys_cli.data.sources.readers import Table, fail, first, read_delimited, show
from recsys_cli.data.tables import RawData
from recsys_cli.errors import ConfigError, DataError

CSV_FAMILY = ("ml-20m", "ml-25m", "ml-latest", "ml-latest-small")
FORMATS = ("ml-100k", "ml-1m", "ml-10m", *CSV_FAMILY)
FILES: dict[str, tuple[str, ...]] = {
    "ml-100k": ("u.data", "u.item", "u.user"),
    "ml-1m": ("ratings.dat", "movies.dat", "users.dat"),
    "ml-10m": ("ratings.dat", "movies.dat"),
    **{name: ("ratings.csv", "movies.csv") for name in CSV_FAMILY},
}
GENRES_100K = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip
AGE_CODES_1M = {
    "1": "<18",
    "18": "18-24",
    "25": "25-34",
    "35": "35-44",
    "45": "45-49",
    "50": "50-55",
    "56": "56+",
}
RATING_FIELDS = ["user", "item", "rating", "timestamp"]

Tables = tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame | None]


def load(cfg: DataConfig, raw_dir: Path) -> RawData:
    """Read the MovieLens folder at ``data.path`` (or download ``data.url`` into ``raw_dir``)."""
    folder = _folder(cfg, Path(raw_dir))
    fmt = detect(folder) if cfg.format == "auto" else cfg.format
    if fmt not in FORMATS:
        raise ConfigError(
            f"data.format: unknown MovieLens format {fmt!r}; choose one of: auto, {', '.join(FORMATS)}"
        )
    missing = [name for name in FILES[fmt] if not (folder / name).is_file()]
    if missing:
        raise fail(folder, f"not a {fmt} folder: missing {', '.join(missing)}")
    events, items, users = READERS[fmt](folder)
    description = (
        f"{fmt}: {events['user_id'].n_unique()} users, {events['item_id'].n_unique()} items, "
        f"{events.height} ratings"
    )
    return RawData.build(events, items, users, description=description)


def detect(folder: Path) -> str:
    """The MovieLens format of ``folder``, from the files in it."""
    if (folder / "u.data").is_file():
        return "ml-100k"
    if (folder / "ratings.dat").is_file():
        return "ml-1m" if (folder / "users.dat").is_file() else "ml-10m"
    if (folder / "ratings.csv").is_file():
        return _csv_flavour(folder)
    raise fail(
        folder,
        "no MovieLens files found (expected u.data, ratings.dat or ratings.csv); "
        "check data.path or set data.format",
    )


def _csv_flavour(folder: Path) -> str:
    readme = folder / "README.txt"
    if readme.is_file():
        text = readme.read_text(encoding="utf-8", errors="replace")[:4000]
        for name in re.findall(r"\((ml-[a-z0-9-]+)\)", text, flags=re.IGNORECASE):
            if name.lower() in CSV_FAMILY:
                return name.lower()
    return folder.name.lower() if folder.name.lower() in CSV_FAMILY else "ml-latest"


def _folder(cfg: DataConfig, raw_dir: Path) -> Path:
    if cfg.path:
        path = Path(cfg.path)
        if path.is_dir():
            return path
        if path.is_file() and path.suffix.lower() == ".zip":
            return extract_zip(path, raw_dir)
        if not cfg.url:
            raise fail(path, "MovieLens folder not found (data.path)")
    if cfg.url:
        return extract_zip(fetch(cfg.url, cfg.sha256, raw_dir), raw_dir)
    raise DataError(
        "data.path is not set: point it at a MovieLens folder (data.path=DIR), "
        "or set data.url and data.sha256 to download one"
    )


# ----------------------------------------------------------------------- readers


def _ml100k(folder: Path) -> Tables:
    ratings = _read(folder / "u.data", "\t", RATING_FIELDS, "utf8")
    items = _read(
        folder / "u.item", "|", ["item", "title", "release date", "video release date", "url", *GENRES_100K]
    )
    flags = pl.DataFrame([items.numbers(g, f"field '{g}'", integer=True, required=True) for g in GENRES_100K])
    bad = first(~flags.select(pl.all_horizontal(pl.all().is_in([0, 1]))).to_series())
    if bad is not None:
        raise items.error(bad, "genre flags", "expected 0 or 1")
    genres = flags.select(
        pl.concat_list([pl.when(pl.col(g) == 1).then(pl.lit(g)) for g in GENRES_100K if g != "unknown"])
        .list.drop_nulls()
        .list.join("|")
    ).to_series()
    released = _dates(items, "release date", "%d-%b-%Y", "a date like 01-Jan-1995")
    users = _read(folder / "u.user", "|", ["user", "age", "gender", "occupation", "zip"])
    age = users.numbers("age", "field 'age'", integer=True, required=True)
    return (
        _events(ratings),
        _items(items, genres=genres, launch=released),
        _users(users, _age_band(age)),
    )


def _ml1m(folder: Path) -> Tables:
    users = _read(folder / "users.dat", "::", ["user", "gender", "age", "occupation", "zip"])
    code = users.text("age", "field 'age'").str.strip_chars()
    bad = first(~code.is_in(list(AGE_CODES_1M)))
    if bad is not None:
        raise users.error(
            bad, "field 'age'", f"{show(code[bad])} is not an age code ({', '.join(AGE_CODES_1M)})"
        )
    events, items, _ = _ml10m(folder)
    return events, items, _users(users, code.replace_strict(AGE_CODES_1M, return_dtype=pl.Utf8))


def _ml10m(folder: Path) -> Tables:
    ratings = _read(folder / "ratings.dat", "::", RATING_FIELDS, "utf8")
    items = _read(folder / "movies.dat", "::", ["item", "title", "genres"])
    return _events(ratings), _movies(items), None


def _ml_csv(folder: Path) -> Tables:
    ratings = _read_csv(
        folder / "ratings.csv",
        {"userId": "user", "movieId": "item", "rating": "rating", "timestamp": "timestamp"},
        "utf8",
    )
    items = _read_csv(folder / "movies.csv", {"movieId": "item", "title": "title", "genres": "genres"})
    return _events(ratings), _movies(items), None


READERS: dict[str, Callable[[Path], Tables]] = {
    "ml-100k": _ml100k,
    "ml-1m": _ml1m,
    "ml-10m": _ml10m,
    **{name: _ml_csv for name in CSV_FAMILY},
}


# ----------------------------------------------------------------------- helpers


def _read(path: Path, separator: str, names: list[str], encoding: str = "auto") -> Table:
    """A headerless MovieLens file (UTF-8 or Latin-1), every field as text."""
    return read_delimited(
        path, separator=separator, header=False, names=names, encoding=encoding, quote=False, lines=True
    )


def _read_csv(path: Path, renames: dict[str, str], encoding: str = "auto") -> Table:
    table = read_delimited(path, separator=",", header=True, encoding=encoding, lines=True)
    for column in renames:
        if column not in table.columns:
            raise table.missing_column(column)
    return Table(table.file, table.frame.rename(renames), table.line_offset)


def _events(table: Table) -> pl.DataFrame:
    note = f" (expected {len(RATING_FIELDS)} non-empty fields)"
    table.require(RATING_FIELDS, note)
    seconds = table.numbers("timestamp", "field 'timestamp'", integer=True, required=True)
    return pl.DataFrame(
        {
            "user_id": table.ids("user", "field 'user'", integer=True),
            "item_id": table.ids("item", "field 'item'", integer=True),
            "timestamp": pl.from_epoch(seconds, time_unit="s").cast(pl.Datetime("ms")),
            "event": pl.repeat("rating", table.frame.height, eager=True, dtype=pl.Utf8),
            "rating": table.numbers("rating", "field 'rating'", required=True),
        }
    )


def _movies(table: Table) -> pl.DataFrame:
    table.require(["item", "title"], " (expected 3 non-empty fields)")
    genres = table.text("genres", "field 'genres'").str.strip_chars()
    genres = genres.set(genres.is_in(["(no genres listed)", ""]), None)  # type: ignore[arg-type]
    title = table.text("title", "field 'title'").str.strip_chars()
    year = title.str.extract(r"\((\d{4})\)$", 1).cast(pl.Int32)
    launch = pl.select(pl.date(year, 1, 1).cast(pl.Datetime("ms"))).to_series()
    return _items(table, genres=genres, launch=launch)


def _items(table: Table, genres: pl.Series, launch: pl.Series) -> pl.DataFrame:
    genres = genres.set(genres == "", None)  # type: ignore[arg-type]
    return pl.DataFrame(
        {
            "item_id": table.ids("item", "field 'item'", integer=True),
            "title": table.text("title", "field 'title'").str.strip_chars(),
            "category": genres,
            "launch_date": launch,
        }
    )


def _users(table: Table, age_band: pl.Series) -> pl.DataFrame:
    table.require(["user", "gender"])
    return pl.DataFrame(
        {
            "user_id": table.ids("user", "field 'user'", integer=True),
            "age_band": age_band,
            "gender": table.text("gender", "field 'gender'").str.strip_chars(),
            "location": table.text("zip", "field 'zip'").str.strip_chars(),
        }
    )


def _dates(table: Table, column: str, fmt: str, expected: str) -> pl.Series:
    text = table.text(column, f"field '{column}'").str.strip_chars()
    text = text.set(text == "", None)  # type: ignore[arg-type]
    parsed = text.str.to_datetime(fmt, strict=False, time_unit="ms")
    bad = first(text.is_not_null() & parsed.is_null())
    if bad is not None:
        raise table.error(bad, f"field '{column}'", f"{show(text[bad])} is not {expected}")
    return parsed


def _age_band(age: pl.Series) -> pl.Series:
    bands = [(18, "<18"), (25, "18-24"), (35, "25-34"), (45, "35-44"), (50, "45-49"), (56, "50-55")]
    expr: pl.Expr = pl.lit("56+")
    for upper, label in reversed(bands):
        expr = pl.when(pl.col("age") < upper).then(pl.lit(label)).otherwise(expr)
    return pl.DataFrame({"age": age}).select(expr.alias("age_band")).to_series()
