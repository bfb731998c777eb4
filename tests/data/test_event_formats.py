"""Event logs in every format: CSV, Parquet, JSON lines, gzip and zip, chunked; filters and missing values."""

from __future__ import annotations

import gzip
import json
import zipfile
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from recsys_cli.config import ColumnsConfig, DataConfig, ItemColumnsConfig, PreprocessConfig, RowFilter
from recsys_cli.data.preprocess import preprocess
from recsys_cli.data.sources import events
from recsys_cli.errors import ConfigError, DataError

ROWS = [
    {"user": "u1", "item": "a", "ts": 1_700_000_000, "kind": "pv", "qty": 1},
    {"user": "u1", "item": "b", "ts": 1_700_000_060, "kind": "cart", "qty": 2},
    {"user": "u2", "item": "a", "ts": 1_700_000_120, "kind": "buy", "qty": 3},
    {"user": "u3", "item": "c", "ts": 1_700_000_180, "kind": "fav", "qty": 1},
    {"user": "u2", "item": "c", "ts": 1_700_000_240, "kind": "pv", "qty": 5},
]
COLUMNS = ColumnsConfig(user="user", item="item", timestamp="ts", event="kind", quantity="qty")
EXPECTED = pl.DataFrame(
    {
        "user_id": [r["user"] for r in ROWS],
        "item_id": [r["item"] for r in ROWS],
        "timestamp": [datetime.fromtimestamp(r["ts"], tz=None).replace(tzinfo=None) for r in ROWS],
    }
)


def csv_text(rows: list[dict] = ROWS) -> str:
    return "user,item,ts,kind,qty\n" + "".join(f"{r['user']},{r['item']},{r['ts']},{r['kind']},{r['qty']}\n" for r in rows)


def jsonl_text(rows: list[dict] = ROWS) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def write(path: Path, text: str) -> Path:
    data = text.encode()
    if path.suffix == ".gz":
        data = gzip.compress(data)
        path.write_bytes(data)
    elif path.suffix == ".zip":
        inner = path.name.removesuffix(".zip")
        inner = inner if "." in inner else inner + ".csv"
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr(inner, data)
    else:
        path.write_bytes(data)
    return path


def load(path: Path, **kw: object) -> pl.DataFrame:
    kw.setdefault("columns", COLUMNS)
    return events.load(DataConfig(source="events", path=str(path), **kw)).events  # type: ignore[arg-type]


def fails(path: Path, *parts: str, **kw: object) -> str:
    with pytest.raises(DataError) as info:
        load(path, **kw)
    message = str(info.value)
    assert "\n" not in message
    for part in parts:
        assert part in message, f"{part!r} not in {message!r}"
    return message


def utc(seconds: int) -> datetime:
    return datetime(1970, 1, 1) + (datetime.fromtimestamp(seconds) - datetime.fromtimestamp(0))


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("log.csv", csv_text()), ("log.csv.gz", csv_text()), ("log.csv.zip", csv_text()), ("log.zip", csv_text()),
        ("log.jsonl", jsonl_text()), ("log.json", jsonl_text()), ("log.json.gz", jsonl_text()),
        ("log.jsonl.zip", jsonl_text()), ("log.tsv.gz", csv_text().replace(",", "\t")),
    ],
)
def test_every_format_reads_the_same_events(tmp_path: Path, name: str, text: str) -> None:
    out = load(write(tmp_path / name, text))
    assert out["user_id"].to_list() == [r["user"] for r in ROWS]
    assert out["item_id"].to_list() == [r["item"] for r in ROWS]
    assert out["event"].to_list() == [r["kind"] for r in ROWS]
    assert out["quantity"].to_list() == [float(r["qty"]) for r in ROWS]
    assert out["timestamp"].to_list() == [utc(r["ts"]) for r in ROWS]


def test_parquet_plain_and_compressed(tmp_path: Path) -> None:
    frame = pl.DataFrame(ROWS)
    frame.write_parquet(tmp_path / "log.parquet")
    with zipfile.ZipFile(tmp_path / "log.zip", "w") as archive:
        archive.write(tmp_path / "log.parquet", "events.parquet")
    (tmp_path / "log.parquet.gz").write_bytes(gzip.compress((tmp_path / "log.parquet").read_bytes()))
    for name in ("log.parquet", "log.zip", "log.parquet.gz"):
        out = load(tmp_path / name, chunk_rows=2)
        assert out["item_id"].to_list() == ["a", "b", "a", "c", "c"], name


@pytest.mark.parametrize("name", ["log.csv.gz", "log.jsonl", "log.parquet"])
def test_chunks_give_the_same_result_and_row_numbers(tmp_path: Path, name: str) -> None:
    rows = [{"user": f"u{i % 7}", "item": f"i{i % 11}", "ts": 1_700_000_000 + i, "kind": "pv", "qty": 1} for i in range(50)]
    if name.endswith("parquet"):
        pl.DataFrame(rows).write_parquet(tmp_path / name)
        path = tmp_path / name
    else:
        path = write(tmp_path / name, csv_text(rows) if ".csv" in name else jsonl_text(rows))
    whole = load(path)
    for size in (1, 3, 49, 50):
        assert load(path, chunk_rows=size).equals(whole)
    # a bad value in row 38, wherever the chunks fall, is named as row 38 (line 38 of JSON lines)
    rows[37]["ts"] = "soon"
    if name.endswith("parquet"):
        pl.DataFrame(rows, schema_overrides={"ts": pl.Utf8}).with_columns(pl.col("ts").cast(pl.Utf8)).write_parquet(path)
    else:
        write(path, csv_text(rows) if ".csv" in name else jsonl_text(rows))
    where = "line 38" if name.endswith("jsonl") else "row 38"
    for size in (4, 50):
        fails(path, f"{where}, column 'ts' (data.columns.timestamp): cannot parse 'soon'", chunk_rows=size)


def test_timestamp_unit_is_guessed_once_per_file(tmp_path: Path) -> None:
    """ms timestamps: a later chunk of small values is not re-guessed as seconds."""
    rows = [dict(r, ts=r["ts"] * 1000) for r in ROWS]
    out = load(write(tmp_path / "log.jsonl", jsonl_text(rows)), chunk_rows=2)
    assert out["timestamp"].to_list() == [utc(r["ts"]) for r in ROWS]


def test_amazon_style_nested_json(tmp_path: Path) -> None:
    reviews = [
        {"reviewerID": "A1", "asin": "B1", "overall": 5.0, "unixReviewTime": 1529193600, "style": {"Size:": " 50"}},
        {"reviewerID": "A2", "asin": "B2", "overall": 4.0, "unixReviewTime": 1528934400, "vote": "3"},
    ]
    meta = [
        {"asin": "B1", "title": "Card", "category": ["Gift Cards", "Restaurants"], "price": "$1,250.00",
         "description": ["Nice.", "Really."], "brand": "Acme"},
        {"asin": "B2", "title": "Other", "category": [], "price": "", "description": [], "brand": ""},
    ]
    path = write(tmp_path / "r.json.gz", jsonl_text(reviews))
    items = write(tmp_path / "m.json.gz", jsonl_text(meta))
    raw = events.load(
        DataConfig(
            source="events", path=str(path), items_path=str(items), columns=ColumnsConfig(
                user=["user_id", "reviewerID"], item=["parent_asin", "asin"], timestamp=["unixReviewTime", "timestamp"],
                event=None, rating=["overall", "rating"]),
            item_columns=ItemColumnsConfig(item=["parent_asin", "asin"], title="title", description="description",
                                           category=["category", "categories"], brand=["brand", "store"], price="price"),
        )
    )
    assert raw.events["user_id"].to_list() == ["A1", "A2"]
    assert raw.events["rating"].to_list() == [5.0, 4.0]
    assert raw.events["timestamp"][0] == datetime(2018, 6, 17)
    row = raw.items.row(0, named=True)
    assert row["category"] == "Gift Cards > Restaurants" and row["price"] == 1250.0
    assert row["description"] == "Nice. Really." and row["brand"] == "Acme"
    other = raw.items.row(1, named=True)
    assert other["category"] is None and other["price"] is None and other["brand"] is None


@pytest.mark.parametrize(
    ("text", "price"),
    [("$12.99", 12.99), ("$1,250.00", 1250.0), ("  $10.99 - $15.99 ", 10.99), ("EUR 5", 5.0), ("7", 7.0), ("", None)],
)
def test_price_strings(tmp_path: Path, text: str, price: float | None) -> None:
    (tmp_path / "items.csv").write_text(f'item_id,title,price\na,Mug,"{text}"\n')
    raw = events.load(
        DataConfig(source="events", path=str(write(tmp_path / "log.csv", csv_text())), columns=COLUMNS,
                   items_path=str(tmp_path / "items.csv"), item_columns=ItemColumnsConfig(price="price"))
    )
    assert raw.items.row(0, named=True)["price"] == (pytest.approx(price) if price is not None else None)


def test_bad_price_error_or_null(tmp_path: Path) -> None:
    (tmp_path / "items.csv").write_text("item_id,title,price\na,Mug,$3\nb,Pen,.a-box{color:#fff}\n")
    kw = dict(source="events", path=str(write(tmp_path / "log.csv", csv_text())), columns=COLUMNS,
              items_path=str(tmp_path / "items.csv"), item_columns=ItemColumnsConfig(price="price"))
    with pytest.raises(DataError, match=r"items.csv: row 2, column 'price' \(data.item_columns.price\): '.a-box"):
        events.load(DataConfig(**kw))  # type: ignore[arg-type]
    raw = events.load(DataConfig(**kw, on_bad_price="null"))  # type: ignore[arg-type]
    assert raw.items["price"].to_list() == [3.0, None]
    assert raw.notes["catalog_prices_set_to_null"] == 1


# ------------------------------------------------------------------- bad files


def test_compression_that_is_not_there(tmp_path: Path) -> None:
    fake = tmp_path / "log.json.gz"
    fake.write_text(jsonl_text())
    fails(fake, "log.json.gz: not a gzip file, though its name ends in .gz (data.path)")
    fake = tmp_path / "log.csv.zip"
    fake.write_text(csv_text())
    fails(fake, "log.csv.zip: not a zip archive")
    hidden = tmp_path / "log.csv"
    hidden.write_bytes(gzip.compress(csv_text().encode()))
    fails(hidden, "is gzip-compressed but its name does not end in .gz", "log.csv.gz")


def test_truncated_gzip(tmp_path: Path) -> None:
    rows = [dict(ROWS[0], ts=1_700_000_000 + i) for i in range(2000)]
    data = gzip.compress(csv_text(rows).encode())
    path = tmp_path / "log.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    fails(path, "log.csv.gz: the gzip stream is corrupt or cut short")


def test_zip_with_several_files_or_none(tmp_path: Path) -> None:
    path = tmp_path / "logs.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.csv", csv_text())
        archive.writestr("b.csv", csv_text())
        archive.writestr("__MACOSX/._a.csv", "junk")
    fails(path, "logs.zip: a zip archive must hold exactly one file, found 2 files (a.csv, b.csv)")
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("folder/", "")
    fails(path, "found no file")
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("events.dat", csv_text())
    fails(path, "cannot tell the format from the name 'events.dat'")


def test_bad_json_lines(tmp_path: Path) -> None:
    lines = jsonl_text().splitlines()
    path = tmp_path / "log.jsonl"
    path.write_text("\n".join([*lines[:2], "", '{"user": "u9", ', *lines[2:]]) + "\n")
    fails(path, "log.jsonl: line 4: not valid JSON")
    path.write_text(json.dumps(ROWS))
    fails(path, "line 1: expected a JSON object, found list", "a JSON array is not read, only one object per line")
    path.write_text(json.dumps(ROWS, indent=1))
    fails(path, "line 1: not valid JSON", "a JSON array is not read, only one object per line")
    path.write_text('{"user": "u1"}\n[1, 2]\n')
    fails(path, "line 2: expected a JSON object, found list")


def test_latin1_csv_is_read_with_encoding_auto(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_bytes(csv_text().replace("u1", "caf\xe9").encode("latin-1"))
    assert load(path)["user_id"][0] == "caf\xe9"
    fails(path, "is not UTF-8 text; set data.encoding=latin-1", encoding="utf8")


def test_headerless_file_with_names(tmp_path: Path) -> None:
    path = tmp_path / "UserBehavior.csv"
    path.write_text("1,10,100,pv,1511544070\n1,11,100,buy,1511561733\n")
    cols = ColumnsConfig(user="u", item="i", timestamp="t", event="b")
    out = load(path, header=False, names=["u", "i", "c", "b", "t"], columns=cols)
    assert out["item_id"].to_list() == ["10", "11"]
    assert out["timestamp"][0] == datetime(2017, 11, 24, 17, 21, 10)
    with pytest.raises(ConfigError, match="data.names"):  # a config problem: exit 2
        load(path, header=False, columns=cols)


def test_missing_candidate_columns_are_listed(tmp_path: Path) -> None:
    path = write(tmp_path / "log.csv", csv_text())
    fails(path, "column 'user_id or reviewerID' (data.columns.user) not found; columns are: user, item, ts, kind, qty",
          columns=ColumnsConfig(user=["user_id", "reviewerID"], item="item", timestamp="ts", event=None))


# ------------------------------------------------------ filters, missing values


RETAIL = (
    "InvoiceNo,StockCode,Quantity,InvoiceDate,CustomerID\n"
    "536365,85123A,6,12/1/2010 8:26,17850\n"
    "C536379,D,-1,12/1/2010 9:41,14527\n"
    "536381,22139,0,12/1/2010 9:41,15311\n"
    "536414,22139,56,12/1/2010 11:52,\n"
    "536415,POST,1,12/1/2010 11:57,12583\n"
    "536416,22086,12,,12583\n"
)
RETAIL_COLUMNS = ColumnsConfig(user="CustomerID", item="StockCode", timestamp="InvoiceDate", event=None, quantity="Quantity")


def test_missing_values_error_names_row_by_default(tmp_path: Path) -> None:
    path = write(tmp_path / "retail.csv", RETAIL)
    fails(path, "retail.csv: row 4, column 'CustomerID' (data.columns.user): missing value",
          columns=RETAIL_COLUMNS, timestamp_format="%m/%d/%Y %H:%M")


def test_exclude_filters_and_drop_missing_are_counted(tmp_path: Path) -> None:
    path = write(tmp_path / "retail.csv", RETAIL)
    raw = events.load(
        DataConfig(
            source="events", path=str(path), columns=RETAIL_COLUMNS, timestamp_format="%m/%d/%Y %H:%M",
            on_missing="drop",
            exclude=[RowFilter(column="InvoiceNo", prefix="C", label="cancellations"),
                     RowFilter(column="Quantity", le=0), RowFilter(column="StockCode", equals=["POST", "D"])],
        )
    )
    assert raw.events["item_id"].to_list() == ["85123A"]
    assert raw.events["timestamp"][0] == datetime(2010, 12, 1, 8, 26)
    assert raw.notes["excluded"] == {"cancellations": 1, "Quantity <= 0": 1, "StockCode in [POST, D]": 1}
    assert raw.notes["dropped_missing"] == {"rows": 2, "by_column": {"CustomerID": 1, "StockCode": 0, "InvoiceDate": 1}}
    assert raw.notes["rows_read"] == 6


def test_filter_on_a_non_number_names_the_row(tmp_path: Path) -> None:
    path = write(tmp_path / "retail.csv", RETAIL.replace(",-1,", ",minus one,"))
    fails(path, "row 2, column 'Quantity' (data.exclude[0]): 'minus one' is not a number",
          columns=RETAIL_COLUMNS, exclude=[RowFilter(column="Quantity", le=0)])


def test_everything_filtered_out_says_so(tmp_path: Path) -> None:
    path = write(tmp_path / "log.csv", csv_text())
    fails(path, "log.csv: no rows left to read: excluded 5 (qty >= 0)", exclude=[RowFilter(column="qty", ge=0)])


# ---------------------------------------------------- event names and weights


def test_event_map_renames_values_and_others_pass_through(tmp_path: Path) -> None:
    path = write(tmp_path / "log.csv", csv_text())
    out = load(path, event_map={"pv": "view", "cart": "add_to_cart", "buy": "purchase"})
    assert out["event"].to_list() == ["view", "add_to_cart", "purchase", "fav", "view"]
    cleaned, stats = preprocess(out, PreprocessConfig(event_weights={"view": 1, "add_to_cart": 3, "purchase": 5, "fav": 2}))
    assert cleaned["weight"].to_list() == [1.0, 3.0, 5.0, 2.0, 1.0]
    cleaned, stats = preprocess(out, PreprocessConfig())
    assert stats["dropped_unknown_event"] == 1  # fav: no weight, dropped by default


def test_nothing_left_lists_found_and_known_values(tmp_path: Path) -> None:
    out = load(write(tmp_path / "log.csv", csv_text()))
    with pytest.raises(DataError) as info:
        preprocess(out, PreprocessConfig(event_weights={"view": 1.0, "purchase": 5.0}))
    message = str(info.value)
    assert "values in the event column: pv (2), " in message
    assert "known (data.preprocess.event_weights): view, purchase" in message
    assert "data.event_map" in message and "\n" not in message


@pytest.mark.parametrize(("how", "weights"), [("none", [1, 3, 5, 5, 1]), ("linear", [1, 6, 15, 5, 5])])
def test_quantity_as_weight(tmp_path: Path, how: str, weights: list[float]) -> None:
    out = load(write(tmp_path / "log.csv", csv_text()), event_map={"pv": "view", "cart": "add_to_cart", "buy": "purchase", "fav": "purchase"})
    cleaned, _ = preprocess(out, PreprocessConfig(quantity_weight=how))  # type: ignore[arg-type]
    assert cleaned["weight"].to_list() == [float(w) for w in weights]


def test_log_quantity_and_duplicate_lines_add_up() -> None:
    frame = pl.DataFrame(
        {"user_id": ["u", "u"], "item_id": ["a", "a"], "timestamp": [datetime(2024, 1, 1)] * 2,
         "event": ["purchase"] * 2, "quantity": [2.0, 5.0]}
    )
    cleaned, stats = preprocess(frame, PreprocessConfig(quantity_weight="log"))
    assert stats["dropped_duplicates"] == 1
    assert cleaned["quantity"].to_list() == [7.0]
    assert cleaned["weight"][0] == pytest.approx(5.0 * (1 + __import__("math").log(7.0)))
