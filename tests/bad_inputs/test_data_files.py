"""Bad event logs and catalogs given to `recsys ingest data=events` (a real subprocess each).

Every file is generated here, a few bytes each. The one error line names the
file, and where one exists the row (``row N``: the N-th data row after the
header; ``line N`` for JSON lines) and the column with its config key.
"""

from __future__ import annotations

import gzip
import io
import random
from pathlib import Path

import polars as pl
import pytest

from tests.bad_inputs.cli import Case, Outcome, check, collected, run_all

HEADER = "user_id,item_id,timestamp,event\n"
GOOD = [("u1", "p1", "2024-01-01T10:00:00", "view"), ("u2", "p2", "2024-01-02T10:00:00", "purchase"),
        ("u3", "p1", "2024-01-03T10:00:00", "add_to_cart")]


def csv(*rows: tuple[str, ...], header: str = HEADER) -> bytes:
    return (header + "".join(",".join(r) + "\n" for r in rows)).encode()


def garbage(n: int, seed: int) -> bytes:
    rng = random.Random(seed)
    return bytes(rng.getrandbits(8) for _ in range(n))


def parquet_bytes(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


GOOD_FRAME = pl.DataFrame({"user_id": ["u1", "u2"], "item_id": ["p1", "p2"],
                           "timestamp": ["2024-01-01T10:00:00", "2024-01-02T10:00:00"], "event": ["view", "view"]})


def ingest(name: str, *extra: str) -> list[str]:
    return ["ingest", "data=events", f"data.path={{root}}/in/{name}", "paths.root={root}", "tracking=none", *extra]


def make_dir(path: Path) -> None:
    path.mkdir(parents=True)


CASES = [
    Case("empty-file", ingest("e.csv"), ["in/e.csv", "file is empty"], files={"in/e.csv": b""}),
    Case("blank-lines-only", ingest("e.csv"), ["in/e.csv", "empty"], files={"in/e.csv": b"\n\n  \n"}),
    Case("header-only", ingest("e.csv"), ["in/e.csv", "no data rows"], files={"in/e.csv": HEADER.encode()}),
    Case("missing-column", ingest("e.csv"),
         ["in/e.csv", "column 'timestamp' (data.columns.timestamp) not found", "columns are: user_id, item_id, event"],
         files={"in/e.csv": b"user_id,item_id,event\nu1,p1,view\n"}),
    Case("duplicated-column", ingest("e.csv"), ["in/e.csv", "column 'user_id'", "twice"],
         files={"in/e.csv": csv(("u1", "p1", "u9", "2024-01-01", "view"),
                                header="user_id,item_id,user_id,timestamp,event\n")}),
    Case("header-repeated-inside", ingest("e.csv"), ["in/e.csv", "row 3", "header"],
         files={"in/e.csv": csv(GOOD[0], GOOD[1], ("user_id", "item_id", "timestamp", "event"), GOOD[2])}),
    Case("wrong-delimiter", ingest("e.csv"), ["in/e.csv", "data.separator", "';'"],
         files={"in/e.csv": HEADER.replace(",", ";").encode() + b"u1;p1;2024-01-01;view\n"}),
    Case("binary-garbage", ingest("e.csv"), ["in/e.csv", "not text"], files={"in/e.csv": garbage(4000, 3)}),
    Case("binary-garbage-small", ingest("e.csv"), ["in/e.csv", "not text"], files={"in/e.csv": garbage(300, 1)}),
    Case("parquet-named-csv", ingest("e.csv"), ["in/e.csv", "Parquet"], files={"in/e.csv": parquet_bytes(GOOD_FRAME)}),
    Case("invalid-utf8-when-utf8-is-set", ingest("e.csv", "data.encoding=utf8"),
         ["in/e.csv", "UTF-8", "data.encoding"],
         files={"in/e.csv": csv(GOOD[0]) + b"u\xff\xfe2,p2,2024-01-02T10:00:00,view\n"}),
    Case("invalid-utf8-json-lines", ingest("e.jsonl", "data.encoding=utf8"), ["in/e.jsonl", "line 2", "utf-8"],
         files={"in/e.jsonl": b'{"user_id": "u1", "item_id": "p1", "timestamp": 1700000000, "event": "view"}\n'
                              b'{"user_id": "u\xff", "item_id": "p1", "timestamp": 1700000000, "event": "view"}\n'}),
    Case("truncated-last-row", ingest("e.csv"), ["in/e.csv", "row 3", "expected 4 fields", "found 2"],
         files={"in/e.csv": csv(GOOD[0], GOOD[1])[:-1] + b"\nu3,p1"}),
    Case("unterminated-quote", ingest("e.csv"), ["in/e.csv", "row 2"],
         files={"in/e.csv": csv(GOOD[0]) + b'u2,"p2,2024-01-02T10:00:00,view\n'}),
    Case("empty-timestamp", ingest("e.csv"),
         ["in/e.csv", "row 2", "column 'timestamp' (data.columns.timestamp)", "missing value"],
         files={"in/e.csv": csv(GOOD[0], ("u2", "p2", "", "view"), GOOD[2])}),
    Case("unparsable-timestamp", ingest("e.csv"),
         ["in/e.csv", "row 3", "column 'timestamp' (data.columns.timestamp)", "'yesterday'"],
         files={"in/e.csv": csv(GOOD[0], GOOD[1], ("u3", "p1", "yesterday", "view"))}),
    Case("timestamp-out-of-range", ingest("e.csv"),
         ["in/e.csv", "row 2", "column 'timestamp' (data.columns.timestamp)"],
         files={"in/e.csv": b"user_id,item_id,timestamp,event\nu1,p1,1700000000,view\nu2,p2,1e300,view\n"}),
    Case("nul-in-user-id", ingest("e.csv"),
         ["in/e.csv", "row 2", "column 'user_id' (data.columns.user)", "control character"],
         files={"in/e.csv": csv(GOOD[0], ("u2\x00x", "p2", "2024-01-02T10:00:00", "view"))}),
    Case("escape-char-in-item-id", ingest("e.csv"),
         ["in/e.csv", "row 1", "column 'item_id' (data.columns.item)", "control character"],
         files={"in/e.csv": csv(("u1", "p1\x1b[31m", "2024-01-01T10:00:00", "view"), GOOD[1])}),
    Case("newline-in-quoted-id", ingest("e.csv"),
         ["in/e.csv", "row 2", "column 'user_id' (data.columns.user)", "control character"],
         files={"in/e.csv": csv(GOOD[0], ('"u2\nu3"', "p2", "2024-01-02T10:00:00", "view"))}),
    Case("blank-item-id", ingest("e.csv"), ["in/e.csv", "row 2", "column 'item_id' (data.columns.item)", "missing"],
         files={"in/e.csv": csv(GOOD[0], ("u2", "   ", "2024-01-02T10:00:00", "view"))}),
    Case("negative-event-price", ingest("e.csv", "data.columns.price=price"),
         ["in/e.csv", "row 2", "column 'price' (data.columns.price)", "negative"],
         files={"in/e.csv": csv(("u1", "p1", "2024-01-01", "view", "9.5"), ("u2", "p2", "2024-01-02", "view", "-3"),
                                header="user_id,item_id,timestamp,event,price\n")}),
    Case("infinite-price", ingest("e.csv", "data.columns.price=price"),
         ["in/e.csv", "row 1", "column 'price' (data.columns.price)", "inf"],
         files={"in/e.csv": csv(("u1", "p1", "2024-01-01", "view", "inf"),
                                header="user_id,item_id,timestamp,event,price\n")}),
    Case("negative-catalog-price", ingest("e.csv", "data.items_path={root}/in/items.csv", "data.item_columns.price=price"),
         ["in/items.csv", "row 2", "column 'price' (data.item_columns.price)", "negative"],
         files={"in/e.csv": csv(*GOOD), "in/items.csv": b"item_id,title,price\np1,Mug,4.5\np2,Cup,-1.25\n"}),
    Case("rating-not-a-number", ingest("e.csv", "data.columns.rating=stars", "data.columns.event=null"),
         ["in/e.csv", "row 2", "column 'stars' (data.columns.rating)", "'five'", "not a number"],
         files={"in/e.csv": b"user_id,item_id,timestamp,stars\nu1,p1,1700000000,4\nu2,p1,1700000060,five\n"}),
    Case("parquet-that-is-not-parquet", ingest("e.parquet"), ["in/e.parquet", "cannot read as Parquet"],
         files={"in/e.parquet": csv(*GOOD)}),
    Case("truncated-parquet", ingest("e.parquet"), ["in/e.parquet", "cannot read as Parquet"],
         files={"in/e.parquet": parquet_bytes(GOOD_FRAME)[:-20]}),
    Case("parquet-timestamp-of-wrong-type", ingest("e.parquet"),
         ["in/e.parquet", "column 'timestamp' (data.columns.timestamp)", "Boolean"],
         files={"in/e.parquet": parquet_bytes(GOOD_FRAME.with_columns(pl.lit(True).alias("timestamp")))}),
    Case("excel-that-is-not-excel", ingest("e.xlsx"), ["in/e.xlsx", "cannot read as an Excel workbook"],
         files={"in/e.xlsx": b"PK\x03\x04 this is no workbook"}),
    Case("json-lines-broken-line", ingest("e.jsonl"), ["in/e.jsonl", "line 2", "not valid JSON"],
         files={"in/e.jsonl": b'{"user_id": "u1", "item_id": "p1", "timestamp": 1700000000, "event": "view"}\n'
                              b'{"user_id": "u2", "item_id": \n'}),
    Case("json-array-not-lines", ingest("e.json"), ["in/e.json", "line 1", "JSON lines"],
         files={"in/e.json": b'[{"user_id": "u1", "item_id": "p1", "timestamp": 1700000000, "event": "view"},\n'
                             b' {"user_id": "u2", "item_id": "p1", "timestamp": 1700000000, "event": "view"}]\n'}),
    Case("json-duplicated-key", ingest("e.jsonl"), ["in/e.jsonl", "line 1", "'user_id'", "twice"],
         files={"in/e.jsonl": b'{"user_id": "u1", "item_id": "p1", "user_id": "u2", "timestamp": 1700000000, '
                              b'"event": "view"}\n'}),
    Case("gzip-cut-short", ingest("e.csv.gz"), ["in/e.csv.gz", "corrupt or cut short"],
         files={"in/e.csv.gz": gzip.compress(csv(*GOOD) * 50)[:-30]}),
    Case("gzip-without-gz-name", ingest("e.csv"), ["in/e.csv", "gzip-compressed"],
         files={"in/e.csv": gzip.compress(csv(*GOOD))}),
    Case("unknown-suffix", ingest("e.dat"), ["in/e.dat", "cannot tell the format", "data.format"],
         files={"in/e.dat": csv(*GOOD)}),
    Case("path-is-a-directory", ingest("folder"), ["in/folder", "not a file (data.path)"],
         files={"in/folder": make_dir}),
    Case("missing-path", ingest("nowhere.csv"), ["in/nowhere.csv", "file not found (data.path)"]),
    Case("path-not-set", ["ingest", "data=events", "paths.root={root}", "tracking=none"], ["data.path is not set"]),
    Case("headerless-without-names", ingest("e.csv", "data.header=false"), ["data.names", "in/e.csv"], code=2,
         files={"in/e.csv": csv(*GOOD, header="")}),
]


@pytest.fixture(scope="module")
def outcomes(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    return run_all(collected(request, CASES), tmp_path_factory.mktemp("bad-data"))


@pytest.mark.parametrize("case", [c.param() for c in CASES])
def test_a_bad_data_file_is_one_clear_line_and_nothing_written(case: Case, outcomes: dict[str, Outcome]) -> None:
    check(case, outcomes[case.id])
