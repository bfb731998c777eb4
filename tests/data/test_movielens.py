"""MovieLens source: made-up folders in every format, parsed values and bad lines."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from recsys_cli.config import DataConfig
from recsys_cli.data.sources import movielens
from recsys_cli.data.tables import EVENTS, ITEMS, USERS
from recsys_cli.errors import ConfigError, DataError


def flags(*on: str) -> str:
    return "|".join("1" if g in on else "0" for g in movielens.GENRES_100K)


def write(path: Path, text: str, encoding: str = "utf-8") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))


def ml100k(root: Path) -> Path:
    folder = root / "ml-100k"
    write(
        folder / "u.data",
        "1\t10\t4\t881250949\n2\t20\t3\t891717742\n1\t20\t5\t878887116\n2\t30\t1\t875000000\n",
    )
    write(
        folder / "u.item",
        f"10|Misérables, Les (1995)|01-Jan-1995||http://x/10|{flags('Drama', 'Musical')}\n"
        f"20|Toy Story (1995)|05-Oct-1995||http://x/20|{flags('Animation', 'Comedy')}\n"
        f"30|unknown|||http://x/30|{flags('unknown')}\n",
        encoding="latin-1",
    )
    write(folder / "u.user", "1|24|M|technician|85711\n2|53|F|other|94043\n")
    return folder


def ml1m(root: Path) -> Path:
    folder = root / "ml-1m"
    write(folder / "ratings.dat", "1::1193::5::978300760\n2::2::3::978302109\n2::1193::4::978301968\n")
    write(
        folder / "movies.dat",
        "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n2::Misérables, Les (1995)::Drama|Musical\n",
        encoding="latin-1",
    )
    write(folder / "users.dat", "1::F::1::10::48067\n2::M::56::16::70072\n")
    return folder


def ml10m(root: Path) -> Path:
    folder = root / "ml-10M100K"
    write(folder / "ratings.dat", "1::122::5::838985046\n1::185::3.5::838983525\n7::122::0.5::1049764412\n")
    write(
        folder / "movies.dat",
        "122::Boomerang (1992)::Comedy|Romance\n185::Misérables, Les (1995)::(no genres listed)\n",
    )
    return folder


def ml_csv(root: Path, name: str = "data", readme: str | None = None) -> Path:
    folder = root / name
    write(
        folder / "ratings.csv",
        "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,11,4.5,964981247\n6,1,2.5,1147880044\n",
    )
    write(
        folder / "movies.csv",
        "movieId,title,genres\n"
        '1,"American President, The (1995)",Comedy|Drama|Romance\n'
        "11,Misérables (2012),(no genres listed)\n"
        "12,Babylon 5,Sci-Fi\n",
    )
    if readme is not None:
        write(folder / "README.txt", readme)
    return folder


def load(folder: Path, tmp_path: Path, **kw: object) -> movielens.RawData:
    return movielens.load(DataConfig(source="movielens", path=str(folder), **kw), tmp_path / "raw")


def error_of(folder: Path, tmp_path: Path, **kw: object) -> str:
    with pytest.raises(DataError) as info:
        load(folder, tmp_path, **kw)
    message = str(info.value)
    assert "\n" not in message
    return message


# ------------------------------------------------------------------- detection


def test_detects_each_format(tmp_path: Path) -> None:
    assert movielens.detect(ml100k(tmp_path)) == "ml-100k"
    assert movielens.detect(ml1m(tmp_path)) == "ml-1m"
    assert movielens.detect(ml10m(tmp_path)) == "ml-10m"
    assert movielens.detect(ml_csv(tmp_path, "ml-25m")) == "ml-25m"
    assert movielens.detect(ml_csv(tmp_path, "whatever")) == "ml-latest"
    small = ml_csv(tmp_path, "renamed", readme="Summary\n=======\n\nThis dataset (ml-latest-small) describes")
    assert movielens.detect(small) == "ml-latest-small"


def test_description_names_format_and_counts(tmp_path: Path) -> None:
    raw = load(ml100k(tmp_path), tmp_path)
    assert raw.description == "ml-100k: 2 users, 3 items, 4 ratings"


# --------------------------------------------------------------------- ml-100k


def test_ml100k_values(tmp_path: Path) -> None:
    raw = load(ml100k(tmp_path), tmp_path)
    assert dict(raw.events.schema) == EVENTS and dict(raw.items.schema) == ITEMS
    assert dict(raw.users.schema) == USERS
    first = raw.events.row(0, named=True)
    assert first["user_id"] == "1" and first["item_id"] == "10"
    assert first["rating"] == 4.0 and first["event"] == "rating"
    assert first["timestamp"] == datetime(1997, 12, 4, 15, 55, 49)
    items = {r["item_id"]: r for r in raw.items.iter_rows(named=True)}
    assert items["10"]["title"] == "Misérables, Les (1995)"
    assert items["10"]["category"] == "Drama|Musical"
    assert items["10"]["launch_date"] == datetime(1995, 1, 1)
    assert items["20"]["category"] == "Animation|Comedy"
    assert items["20"]["launch_date"] == datetime(1995, 10, 5)
    assert items["30"]["category"] is None and items["30"]["launch_date"] is None
    users = {r["user_id"]: r for r in raw.users.iter_rows(named=True)}
    assert users["1"]["age_band"] == "18-24" and users["1"]["gender"] == "M"
    assert users["2"]["age_band"] == "50-55" and users["2"]["location"] == "94043"
    assert users["2"]["signup_date"] is None


def test_age_bands() -> None:
    ages = pl.Series([1, 17, 18, 24, 25, 34, 35, 44, 45, 49, 50, 55, 56, 90])
    assert movielens._age_band(ages).to_list() == [
        "<18", "<18", "18-24", "18-24", "25-34", "25-34", "35-44", "35-44",
        "45-49", "45-49", "50-55", "50-55", "56+", "56+",
    ]  # fmt: skip


def test_ml100k_short_line_names_file_and_line(tmp_path: Path) -> None:
    folder = ml100k(tmp_path)
    write(folder / "u.data", "1\t10\t4\t881250949\n2\t20\t3\n")
    message = error_of(folder, tmp_path)
    assert "u.data: line 2, field 'timestamp'" in message and "expected 4 non-empty fields" in message


def test_ml100k_non_integer_id(tmp_path: Path) -> None:
    folder = ml100k(tmp_path)
    write(folder / "u.data", "1\t10\t4\t881250949\n2\t20\t3\t891717742\n2\tx7\t3\t891717742\n")
    message = error_of(folder, tmp_path)
    assert "u.data: line 3, field 'item': 'x7' is not an integer" in message


def test_ml100k_bad_release_date(tmp_path: Path) -> None:
    folder = ml100k(tmp_path)
    write(folder / "u.item", f"10|A (1995)|01-Jan-1995||u|{flags()}\n20|B (1995)|1995/01/01||u|{flags()}\n")
    assert "u.item: line 2, field 'release date': '1995/01/01'" in error_of(folder, tmp_path)


def test_blank_lines_keep_line_numbers(tmp_path: Path) -> None:
    folder = ml100k(tmp_path)
    write(folder / "u.data", "1\t10\t4\t881250949\n\n2\t20\t3\t891717742\n\n2\t20\tgood\t1\n\n")
    assert "u.data: line 5, field 'rating': 'good' is not a number" in error_of(folder, tmp_path)
    write(folder / "u.data", "1\t10\t4\t881250949\n\n2\t20\t3\t891717742\n\n")
    assert load(folder, tmp_path).events.height == 2


# ------------------------------------------------------------------ ml-1m / 10m


def test_ml1m_values(tmp_path: Path) -> None:
    raw = load(ml1m(tmp_path), tmp_path)
    assert raw.description.startswith("ml-1m: 2 users, 2 items, 3 ratings")
    assert raw.events["timestamp"][0] == datetime(2000, 12, 31, 22, 12, 40)
    items = {r["item_id"]: r for r in raw.items.iter_rows(named=True)}
    assert items["2"]["title"] == "Misérables, Les (1995)"
    assert items["2"]["category"] == "Drama|Musical"
    assert items["1193"]["launch_date"] == datetime(1975, 1, 1)
    users = {r["user_id"]: r for r in raw.users.iter_rows(named=True)}
    assert users["1"]["age_band"] == "<18" and users["1"]["gender"] == "F"
    assert users["2"]["age_band"] == "56+" and users["2"]["location"] == "70072"


def test_ml1m_bad_age_code(tmp_path: Path) -> None:
    folder = ml1m(tmp_path)
    write(folder / "users.dat", "1::F::1::10::48067\n2::M::57::16::70072\n")
    assert "users.dat: line 2, field 'age': '57' is not an age code" in error_of(folder, tmp_path)


def test_ml10m_values(tmp_path: Path) -> None:
    raw = load(ml10m(tmp_path), tmp_path)
    assert raw.description.startswith("ml-10m:")
    assert raw.events["rating"].to_list() == [5.0, 3.5, 0.5]
    assert raw.users.height == 0
    items = {r["item_id"]: r for r in raw.items.iter_rows(named=True)}
    assert items["185"]["title"] == "Misérables, Les (1995)" and items["185"]["category"] is None
    assert items["122"]["category"] == "Comedy|Romance"


def test_dat_line_with_extra_field(tmp_path: Path) -> None:
    folder = ml10m(tmp_path)
    write(folder / "ratings.dat", "1::122::5::838985046\n1::185::3.5::838983525\n7::122::0.5::1::2\n")
    message = error_of(folder, tmp_path)
    assert "ratings.dat: line 3: expected 4 fields separated by '::', found 5" in message
    assert "'7::122::0.5::1::2'" in message


# ------------------------------------------------------------------ CSV family


def test_csv_values(tmp_path: Path) -> None:
    raw = load(ml_csv(tmp_path, "ml-latest-small"), tmp_path)
    assert raw.description == "ml-latest-small: 2 users, 2 items, 3 ratings"
    assert raw.events["rating"].to_list() == [4.0, 4.5, 2.5]
    assert raw.events["timestamp"][2] == datetime(2006, 5, 17, 15, 34, 4)
    items = {r["item_id"]: r for r in raw.items.iter_rows(named=True)}
    assert items["1"]["title"] == "American President, The (1995)"
    assert items["1"]["category"] == "Comedy|Drama|Romance"
    assert items["11"]["title"] == "Misérables (2012)" and items["11"]["category"] is None
    assert items["11"]["launch_date"] == datetime(2012, 1, 1)
    assert items["12"]["launch_date"] is None
    assert raw.users.height == 0


def test_csv_bad_value_names_line_counting_header(tmp_path: Path) -> None:
    folder = ml_csv(tmp_path)
    write(folder / "ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,1.5,4.0,964982703\n")
    assert "ratings.csv: line 3, field 'item': '1.5' is not an integer" in error_of(folder, tmp_path)


def test_csv_missing_header_column(tmp_path: Path) -> None:
    folder = ml_csv(tmp_path)
    write(folder / "ratings.csv", "userId,itemId,rating,timestamp\n1,1,4.0,964982703\n")
    message = error_of(folder, tmp_path)
    assert (
        "ratings.csv: column 'movieId' not found; columns are: userId, itemId, rating, timestamp" in message
    )


# ----------------------------------------------------------- config and folders


def test_explicit_format_checks_files(tmp_path: Path) -> None:
    folder = ml10m(tmp_path)
    assert load(folder, tmp_path, format="ml-10m").events.height == 3
    message = error_of(folder, tmp_path, format="ml-1m")
    assert "not a ml-1m folder: missing users.dat" in message


def test_unknown_format_lists_allowed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:  # a config value: exit 2
        load(ml10m(tmp_path), tmp_path, format="ml-2m")
    message = str(info.value)
    assert "'ml-2m'" in message and "ml-100k" in message and "ml-latest-small" in message


def test_empty_folder_and_missing_path(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert "no MovieLens files found" in error_of(tmp_path / "empty", tmp_path)
    assert "MovieLens folder not found (data.path)" in error_of(tmp_path / "nope", tmp_path)
    with pytest.raises(DataError, match="data.path is not set"):
        movielens.load(DataConfig(source="movielens"), tmp_path)


def test_empty_ratings_file(tmp_path: Path) -> None:
    folder = ml100k(tmp_path)
    write(folder / "u.data", "")
    assert "u.data: file is empty" in error_of(folder, tmp_path)
