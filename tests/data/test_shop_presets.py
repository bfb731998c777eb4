"""`recsys run data=PRESET data.path=FILE` on fixtures in each publisher's exact format."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from recsys_cli.cli import app
from tests.data import shop_logs

runner = CliRunner()
FAST = ["model=popularity", "tune.trials=0", "tracking=none"]


def run(root: Path, *args: str) -> dict:
    result = runner.invoke(app, ["run", *args, f"paths.root={root}"])
    assert result.exit_code == 0, result.output
    assert (root / "data" / "bundle" / "manifest.json").is_file()
    return json.loads((root / "data" / "interim" / "ingest_report.json").read_text())


def interim(root: Path, name: str) -> pl.DataFrame:
    return pl.read_parquet(root / "data" / "interim" / f"{name}.parquet")


def test_online_retail_with_no_other_argument(tmp_path: Path) -> None:
    path = shop_logs.online_retail(tmp_path / "OnlineRetail.csv")
    report = run(tmp_path, "data=online_retail", f"data.path={path}")
    read = report["read"]
    assert read["excluded"]["cancellations (InvoiceNo starts with C)"] == 16
    assert read["excluded"]["postage, fees and manual adjustments (non-product StockCodes)"] == 14
    assert read["dropped_missing"]["by_column"]["CustomerID"] == 44
    # independent count straight from the file: lines kept = not C-invoices, not POST, with a customer
    lines = path.read_bytes().decode("latin-1").splitlines()[1:]
    kept = [ln for ln in lines if not ln.startswith("C") and ",POST," not in ln and not ln.rsplit(",", 2)[1] == ""]
    events = interim(tmp_path, "events")
    assert events.height == len(kept) and set(events["event"]) == {"purchase"}
    items = interim(tmp_path, "items")
    assert "CAF\xc9 GLASS JAR" in items["title"].to_list()  # Latin-1 description as the product title
    assert items.filter(pl.col("item_id") == "85100A")["price"][0] == pytest.approx(1.25)


def test_taobao_with_no_other_argument(tmp_path: Path) -> None:
    path = shop_logs.taobao(tmp_path / "UserBehavior.csv")
    report = run(tmp_path, "data=taobao_user_behavior", f"data.path={path}")
    assert sum(report["read"]["excluded"].values()) == 2
    events = interim(tmp_path, "events")
    assert set(events["event"]) == {"view", "add_to_cart", "favorite", "purchase"}
    assert events.height == 400
    weights = dict(zip(events["event"], events["weight"], strict=True))
    assert weights == {"view": 1.0, "add_to_cart": 3.0, "favorite": 2.0, "purchase": 5.0}
    assert interim(tmp_path, "items")["category"].n_unique() == shop_logs.N_GROUPS


def test_retailrocket(tmp_path: Path) -> None:
    path = shop_logs.retailrocket(tmp_path / "events.csv")
    run(tmp_path, "data=retailrocket", f"data.path={path}", *FAST)
    events = interim(tmp_path, "events")
    assert set(events["event"]) == {"view", "add_to_cart", "purchase"}
    first = path.read_text().splitlines()[1].split(",")
    row = events.filter(pl.col("user_id") == first[1]).sort("timestamp").row(0, named=True)
    assert int(row["timestamp"].timestamp() * 1000) == int(first[0])  # milliseconds kept


def test_rees46_gzipped(tmp_path: Path) -> None:
    import gzip

    plain = shop_logs.rees46(tmp_path / "2019-Oct.csv")
    path = tmp_path / "2019-Oct.csv.gz"
    path.write_bytes(gzip.compress(plain.read_bytes()))
    report = run(tmp_path, "data=rees46", f"data.path={path}", *FAST)
    assert report["preprocess"]["dropped_unknown_event"] == report["preprocess"]["event_values"]["remove_from_cart"]
    items = interim(tmp_path, "items")
    assert "electronics > smartphone" in items["category"].to_list()
    assert items["brand"].null_count() > 0  # empty brands are missing, not ""


@pytest.mark.parametrize("release", ["2018", "2023"])
def test_amazon_reviews(tmp_path: Path, release: str) -> None:
    reviews, meta = (shop_logs.amazon_2018 if release == "2018" else shop_logs.amazon_2023)(tmp_path)
    report = run(tmp_path, "data=amazon_reviews", f"data.path={reviews}", f"data.items_path={meta}",
                 "features.text_fields=[title,description,category,brand,reviews]", *FAST)
    events = interim(tmp_path, "events")
    assert set(events["event"]) == {"rating"} and events["text"].null_count() == 0
    items = interim(tmp_path, "items")
    assert items.height == shop_logs.N_ITEMS and items["title"].null_count() == 0
    if release == "2018":
        assert report["read"]["catalog_prices_set_to_null"] == 1  # the page junk in one price
        assert items.filter(pl.col("item_id") == "B000000007")["price"][0] == 1250.0
        assert items["category"][0] == "Gift Cards > Group 0"
    else:
        assert items["item_id"][0] == "B000000000"  # parent_asin, not the variant asin
    with np.load(tmp_path / "data" / "features" / "tfidf.npz", allow_pickle=False) as z:
        vocabulary = set(z["vocabulary"].tolist())
    word = "fans" if release == "2018" else "works"
    assert word in vocabulary  # a word only the reviews have: review text is a feature
    assert "zyzzyva" not in vocabulary  # ... from the train window only (the last review says it)


def test_online_retail_as_published_xlsx(tmp_path: Path) -> None:
    path = shop_logs.online_retail_xlsx(tmp_path / "Online Retail.xlsx")
    report = run(tmp_path, "data=online_retail", f"data.path={path}", *FAST)
    assert report["read"]["excluded"]["cancellations (InvoiceNo starts with C)"] == 16
    no_customer = sum(1 for k in range(400) if k % 9 == 4)  # the fixture's lines without a CustomerID
    assert report["read"]["dropped_missing"]["by_column"]["CustomerID"] == no_customer
    events = interim(tmp_path, "events")
    assert events.height == 400 - no_customer
    assert events["user_id"].str.contains(r"\.").sum() == 0  # 17850.0 in the sheet is customer 17850
    first = events.sort("timestamp").row(0, named=True)
    assert first["timestamp"] == shop_logs._interactions(1, 400)[0][2].replace(tzinfo=None)


def test_bad_workbook_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "Online Retail.xlsx"
    path.write_text("not a workbook")
    result = runner.invoke(app, ["ingest", "data=online_retail", f"data.path={path}", "tracking=none", f"paths.root={tmp_path}"])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "cannot read as an Excel workbook" in " ".join(result.output.split())
    assert not (tmp_path / "data" / "interim").exists()


@pytest.mark.parametrize("preset", ["amazon_reviews", "online_retail", "retailrocket", "rees46", "taobao_user_behavior"])
def test_presets_compose_and_validate(preset: str) -> None:
    from recsys_cli import config, models

    cfg = config.load([f"data={preset}", "data.path=/data/log"])
    models.check_config(cfg)
    assert cfg.data.source == "events" and cfg.data.path == "/data/log"
    if cfg.data.items_path is not None and preset != "amazon_reviews":
        assert cfg.data.items_path == "/data/log"  # the log is its own catalog


def test_amazon_giftcards_experiment_is_the_documented_protocol() -> None:
    from recsys_cli import config, models

    cfg = config.load(["experiment=amazon_giftcards"])
    models.check_config(cfg)
    assert cfg.data.path and cfg.data.path.endswith("amazon-2018-gift-cards/Gift_Cards_5.json.gz")
    assert cfg.split.method == "temporal" and cfg.train.refit_with_valid
    assert "reviews" in cfg.features.text_fields
    assert cfg.model.name == "hybrid" and {c["name"] for c in cfg.model.params["components"]} >= {"ease", "tfidf", "popularity"}
