"""Generic event-log source: column mapping, timestamps, catalog, and one-line errors."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from recsys_cli.config import ColumnsConfig, DataConfig, ItemColumnsConfig
from recsys_cli.data.sources import events
from recsys_cli.data.tables import EVENTS, ITEMS
from recsys_cli.errors import ConfigError, DataError

MAPPING = ColumnsConfig(
    user="customer", item="sku", timestamp="when", event="action",
    rating="stars", price="amount", session="visit", device="dev",
)  # fmt: skip
HEADER = "customer,sku,when,action,stars,amount,visit,dev\n"
ROWS = [
    "c1,p1,2024-01-02T03:04:05,view,,,s1,mobile",
    "c1,p2,2024-01-02 03:05:00,purchase,4.5,19.99,s1,mobile",
    "c2,p1,2024-01-03T10:00:00Z,view,,,s2,desktop",
    "c2,p3,2024-01-03T12:30:00+02:00,add_to_cart,,5,s2,desktop",
    "c3,p2,2024-01-04,view,,,,",
]


def csv(tmp_path: Path, rows: list[str] = ROWS, header: str = HEADER, name: str = "events.csv") -> Path:
    path = tmp_path / name
    path.write_text(header + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def cfg(path: Path, columns: ColumnsConfig = MAPPING, **kw: object) -> DataConfig:
    return DataConfig(source="events", path=str(path), columns=columns, **kw)


def error(config: DataConfig, *parts: str) -> str:
    """Loading fails with one line that contains every part."""
    with pytest.raises(DataError) as info:
        events.load(config)
    message = str(info.value)
    assert "\n" not in message, message
    for part in parts:
        assert part in message, f"{part!r} not in {message!r}"
    return message


# -------------------------------------------------------------------- reading


def test_csv_with_custom_mapping(tmp_path: Path) -> None:
    raw = events.load(cfg(csv(tmp_path)))
    assert dict(raw.events.schema) == EVENTS
    assert raw.description == "events events.csv: 5 events, 3 users, 3 items"
    rows = raw.events.to_dicts()
    assert rows[1] == {
        "user_id": "c1", "item_id": "p2", "timestamp": datetime(2024, 1, 2, 3, 5),
        "event": "purchase", "rating": 4.5, "price": pytest.approx(19.99), "session_id": "s1",
        "device": "mobile", "quantity": None, "text": None,
    }  # fmt: skip
    assert raw.events["timestamp"].to_list() == [
        datetime(2024, 1, 2, 3, 4, 5),
        datetime(2024, 1, 2, 3, 5),
        datetime(2024, 1, 3, 10, 0),
        datetime(2024, 1, 3, 10, 30),  # +02:00 -> UTC
        datetime(2024, 1, 4),
    ]
    assert raw.events["rating"].null_count() == 4
    assert raw.events["session_id"][4] is None


def test_parquet_with_typed_columns(tmp_path: Path) -> None:
    path = tmp_path / "log.parquet"
    pl.DataFrame(
        {
            "u": [10, 11, 10],
            "i": ["a", "b", "c"],
            "t": [datetime(2024, 5, 1, 8, tzinfo=UTC)] * 3,
            "r": [1, 2, 5],
        }
    ).with_columns(pl.col("t").dt.convert_time_zone("Europe/Berlin")).write_parquet(path)
    raw = events.load(cfg(path, ColumnsConfig(user="u", item="i", timestamp="t", event=None, rating="r")))
    assert raw.events["user_id"].to_list() == ["10", "11", "10"]
    assert raw.events["event"].to_list() == ["rating"] * 3
    assert raw.events["rating"].to_list() == [1.0, 2.0, 5.0]
    assert raw.events["timestamp"][0] == datetime(2024, 5, 1, 8)


def test_no_event_column_means_interaction_and_tsv(tmp_path: Path) -> None:
    path = tmp_path / "log.tsv"
    path.write_text("user\titem\tts\nu1\ti1\t1700000000\nu2\ti2\t1700000060\n")
    raw = events.load(cfg(path, ColumnsConfig(user="user", item="item", timestamp="ts", event=None)))
    assert raw.events["event"].to_list() == ["interaction", "interaction"]
    assert raw.events["timestamp"].to_list() == [
        datetime(2023, 11, 14, 22, 13, 20),
        datetime(2023, 11, 14, 22, 14, 20),
    ]


@pytest.mark.parametrize("scale", [1, 1_000, 1_000_000, 1_000_000_000])
def test_epoch_unit_is_guessed_from_magnitude(tmp_path: Path, scale: int) -> None:
    path = tmp_path / "log.parquet"
    pl.DataFrame({"user_id": ["u"], "item_id": ["i"], "timestamp": [1_700_000_000 * scale]}).write_parquet(
        path
    )
    raw = events.load(cfg(path, ColumnsConfig(event=None)))
    assert raw.events["timestamp"][0] == datetime(2023, 11, 14, 22, 13, 20)


def test_explicit_unit_and_strftime_format(tmp_path: Path) -> None:
    path = csv(tmp_path, ["u,i,1700000000000"], header="user_id,item_id,timestamp\n")
    raw = events.load(cfg(path, ColumnsConfig(event=None), timestamp_unit="ms"))
    assert raw.events["timestamp"][0] == datetime(2023, 11, 14, 22, 13, 20)
    path = csv(tmp_path, ["u,i,31/01/2024 12:30"], header="user_id,item_id,timestamp\n")
    raw = events.load(cfg(path, ColumnsConfig(event=None), timestamp_format="%d/%m/%Y %H:%M"))
    assert raw.events["timestamp"][0] == datetime(2024, 1, 31, 12, 30)


def test_item_catalog(tmp_path: Path) -> None:
    items = tmp_path / "catalog.csv"
    items.write_text('sku,name,cat,cost\np1,"Mug, blue",home|kitchen,9.5\np2,Pen,office,\np1,dup,x,1\n')
    config = cfg(
        csv(tmp_path), items_path=str(items),
        item_columns=ItemColumnsConfig(item="sku", title="name", category="cat", price="cost"),
    )  # fmt: skip
    raw = events.load(config)
    assert dict(raw.items.schema) == ITEMS
    assert raw.items["item_id"].to_list() == ["p1", "p2"]
    assert raw.items.row(0, named=True)["title"] == "Mug, blue"
    assert raw.items["category"].to_list() == ["home|kitchen", "office"]
    assert raw.items["price"][1] is None
    assert raw.description.endswith("; catalog catalog.csv: 2 items")


# --------------------------------------------------------------------- errors


def test_file_not_found(tmp_path: Path) -> None:
    error(cfg(tmp_path / "nope.csv"), "nope.csv", "file not found (data.path)")


def test_empty_file_and_header_only(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    error(cfg(empty), "empty.csv", "file is empty")
    error(cfg(csv(tmp_path, [], name="head.csv")), "head.csv", "no data rows (only a header)")


def test_missing_required_column_names_key_and_columns(tmp_path: Path) -> None:
    path = csv(tmp_path, ["x,y,1"], header="a,b,c\n")
    message = error(cfg(path))
    assert message.endswith(
        "events.csv: column 'customer' (data.columns.user) not found; columns are: a, b, c"
    )


def test_missing_optional_column_suggests_null(tmp_path: Path) -> None:
    path = csv(tmp_path, ["u,i,1700000000"], header="user_id,item_id,timestamp\n")
    error(
        cfg(path, ColumnsConfig()), "column 'event' (data.columns.event) not found", "data.columns.event=null"
    )


def test_non_numeric_rating_names_row(tmp_path: Path) -> None:
    rows = [*ROWS[:4], "c3,p2,2024-01-04,view,abc,,,"]
    error(
        cfg(csv(tmp_path, rows)),
        "events.csv: row 5, column 'stars' (data.columns.rating): 'abc' is not a number",
    )


def test_non_numeric_price_names_row(tmp_path: Path) -> None:
    rows = [*ROWS[:1], "c1,p2,2024-01-02,purchase,4,$19.99,s1,mobile", *ROWS[2:]]
    error(cfg(csv(tmp_path, rows)), "events.csv", "row 2", "column 'amount' (data.columns.price)", "'$19.99'")


def test_bad_timestamp_names_row_and_value(tmp_path: Path) -> None:
    rows = [*ROWS[:2], "c2,p1,yesterday,view,,,s2,desktop", *ROWS[3:]]
    error(
        cfg(csv(tmp_path, rows)), "events.csv: row 3, column 'when' (data.columns.timestamp)", "'yesterday'"
    )


def test_bad_numeric_timestamp(tmp_path: Path) -> None:
    path = csv(
        tmp_path, ["u,i,1700000000", "u,i,17e", "u,i,1700000001"], header="user_id,item_id,timestamp\n"
    )
    error(cfg(path, ColumnsConfig(event=None)), "events.csv: row 2, column 'timestamp'", "'17e'")


def test_missing_ids_name_row(tmp_path: Path) -> None:
    rows = [*ROWS[:3], ",p3,2024-01-03,view,,,s2,desktop", *ROWS[4:]]
    error(cfg(csv(tmp_path, rows)), "events.csv: row 4, column 'customer' (data.columns.user): missing value")
    rows = [*ROWS[:1], "c1,  ,2024-01-03,view,,,s2,desktop", *ROWS[2:]]
    error(cfg(csv(tmp_path, rows)), "events.csv: row 2, column 'sku' (data.columns.item): missing value")


def test_missing_timestamp_names_row(tmp_path: Path) -> None:
    rows = [*ROWS[:4], "c3,p2,,view,,,,"]
    error(cfg(csv(tmp_path, rows)), "row 5, column 'when' (data.columns.timestamp): missing value")


def test_ragged_row(tmp_path: Path) -> None:
    rows = [*ROWS[:2], "c2,p1,2024-01-03,view,,,s2,desktop,extra", *ROWS[3:]]
    error(cfg(csv(tmp_path, rows)), "events.csv: row 3: expected 8 fields separated by ',', found 9")


def test_parquet_wrong_types(tmp_path: Path) -> None:
    path = tmp_path / "log.parquet"
    pl.DataFrame(
        {"user_id": ["u", "v", None], "item_id": ["i", "j", "k"], "timestamp": [1, 2, 3]}
    ).write_parquet(path)
    error(
        cfg(path, ColumnsConfig(event=None)),
        "log.parquet: row 3, column 'user_id' (data.columns.user): missing value",
    )
    pl.DataFrame(
        {"user_id": ["u", "v"], "item_id": ["i", "j"], "timestamp": [1, 2], "r": ["4", "abc"]}
    ).write_parquet(path)
    error(
        cfg(path, ColumnsConfig(event=None, rating="r")),
        "log.parquet: row 2, column 'r' (data.columns.rating): 'abc'",
    )
    pl.DataFrame({"user_id": ["u"], "item_id": ["i"], "timestamp": [True]}).write_parquet(path)
    error(
        cfg(path, ColumnsConfig(event=None)), "column 'timestamp' (data.columns.timestamp) has type Boolean"
    )


def test_catalog_errors_name_item_columns_key(tmp_path: Path) -> None:
    items = tmp_path / "catalog.csv"
    items.write_text("id,name\np1,Mug\n")
    error(
        cfg(csv(tmp_path), items_path=str(items)),
        "catalog.csv: column 'item_id' (data.item_columns.item) not found",
    )
    items.write_text("item_id,title,cost\np1,Mug,1\np2,Pen,cheap\n")
    config = cfg(csv(tmp_path), items_path=str(items), item_columns=ItemColumnsConfig(price="cost"))
    error(config, "catalog.csv: row 2, column 'cost' (data.item_columns.price): 'cheap' is not a price")


def test_unknown_suffix_and_format(tmp_path: Path) -> None:
    path = tmp_path / "log.dat"
    path.write_text("{}")
    error(cfg(path), "log.dat", "data.format=csv|parquet|jsonl")
    with pytest.raises(ConfigError, match="data.format: unknown format 'xls'; choose one of: .*csv, parquet, jsonl, xlsx"):
        events.load(cfg(csv(tmp_path), format="xls"))  # a config value: exit 2


def test_path_not_set() -> None:
    with pytest.raises(DataError, match="data.path is not set"):
        events.load(DataConfig(source="events"))
