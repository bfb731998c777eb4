"""The explorer driven by Textual's Pilot: what a user does, checked against independent references."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from textual.widgets import DataTable, Input, Select, SelectionList, Static

from recsys_cli import config
from recsys_cli.tui.app import ExplorerApp
from recsys_cli.tui.screens.catalog import CatalogScreen
from recsys_cli.tui.screens.metrics import MetricsScreen
from recsys_cli.tui.screens.model_picker import ModelPicker
from recsys_cli.tui.screens.playground import PlaygroundScreen
from recsys_cli.tui.screens.product_detail import ProductDetailScreen
from recsys_cli.tui.screens.shopper_detail import SHARED, ShopperDetailScreen
from recsys_cli.tui.screens.shoppers import ShoppersScreen
from recsys_cli.tui.widgets.virtual_table import VirtualTable

from .conftest import overrides

pytestmark = pytest.mark.asyncio


async def settle(app, pilot) -> None:  # noqa: ANN001
    """Until every worker is done and what they posted is drawn."""
    for _ in range(4):
        await app.workers.wait_for_complete()
        await pilot.pause()


def rows(table: DataTable) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(r)] for r in range(table.row_count)]


def catalog(root: Path) -> pl.DataFrame:
    return pl.read_parquet(root / "data" / "bundle" / "catalog.parquet").with_row_index("idx")


async def test_shoppers_open_one_and_step(tui_cfg, tui_shop, events) -> None:
    app = ExplorerApp(tui_cfg, cursor_blink=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, ShoppersScreen)
        table = screen.query_one(VirtualTable)
        n_users = events["user_idx"].n_unique()
        assert table.row_count == n_users
        await pilot.press("down", "down", "enter")
        await settle(app, pilot)
        detail = app.screen
        assert isinstance(detail, ShopperDetailScreen)
        user_id = str(app.service.user_ids[detail.user])
        assert user_id == "u000002"  # the third shopper by id
        mine = events.filter(pl.col("user_id") == user_id)
        history = rows(detail.query_one("#history", DataTable))
        assert len(history) == mine["item_id"].n_unique()  # one row per product
        newest = mine.sort("timestamp")["timestamp"][-1].strftime("%Y-%m-%d")
        assert history[0][0] == newest
        recs = detail.lists["a"]
        assert recs is not None and len(recs.items) == 10
        assert not {s.item_id for s in recs.items} & set(mine["item_id"].to_list())  # never what they had
        shown = rows(detail.query_one("#recs-a", DataTable))
        assert [r[3] for r in shown] == [f"{s.score:.3f}" for s in recs.items]
        assert "why #1" in str(detail.query_one("#why", Static).render())
        await pilot.press("n")
        await settle(app, pilot)
        assert str(app.service.user_ids[detail.user]) == "u000003"
        assert detail.update_ms  # each move is timed for the bench
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, ShoppersScreen)
        assert table.cursor == 3  # back where the detail left off


async def test_shopper_filters_match_the_data(tui_cfg, events) -> None:
    app = ExplorerApp(tui_cfg, cursor_blink=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        users = pl.read_parquet(Path(tui_cfg.paths.root) / "data" / "bundle" / "users.parquet")
        screen.query_one("#location", Select).value = "London"
        screen.query_one("#gender", Select).value = "F"
        await settle(app, pilot)
        expected = users.filter((pl.col("location") == "London") & (pl.col("gender") == "F"))["user_id"].sort()
        table = screen.query_one(VirtualTable)
        shown = [str(app.tables.shoppers["user_id"][int(k)]) for k in table.rows]
        assert shown == expected.to_list() and len(shown) > 0
        screen.query_one("#shopper-search", Input).value = "00001"
        await settle(app, pilot)
        shown = [str(app.tables.shoppers["user_id"][int(k)]) for k in table.rows]
        assert shown == [u for u in expected.to_list() if "00001" in u]
        await pilot.press("escape", "x")
        await settle(app, pilot)
        assert table.row_count == events["user_idx"].n_unique()
        # hot: more products than the eval.hot_quantile quantile of history lengths
        screen.query_one("#segment", Select).value = "hot"
        await settle(app, pilot)
        per_user = events.group_by("user_id").agg(pl.col("item_id").n_unique().alias("n"))
        threshold = int(np.quantile(per_user["n"].to_numpy(), tui_cfg.eval.hot_quantile))
        hot = per_user.filter(pl.col("n") > threshold)["user_id"].sort().to_list()
        assert [str(app.tables.shoppers["user_id"][int(k)]) for k in table.rows] == hot


async def test_switch_models_marks_the_overlap(tui_cfg, tui_shop, events) -> None:
    app = ExplorerApp(tui_cfg, cursor_blink=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.press("m")
        await settle(app, pilot)
        picker = app.screen
        assert isinstance(picker, ModelPicker)
        await pilot.press("down", "down", "enter")  # no second model, als, popularity
        await settle(app, pilot)
        detail = app.screen
        assert isinstance(detail, ShopperDetailScreen)
        b = detail.lists["b"]
        assert b is not None and b.model == "popularity"
        # independent reference: distinct train-window shoppers per product, seen products left out
        train = pl.read_parquet(tui_shop / "data" / "processed" / "train.parquet")
        counts = train.group_by("item_idx").agg(pl.col("user_idx").n_unique().alias("n"))
        ranked = counts.sort(["n", "item_idx"], descending=[True, False])["item_idx"].to_list()
        user_id = "u000000"
        seen = set(events.filter(pl.col("user_id") == user_id)["item_idx"].to_list())
        ids = app.service.item_ids
        expected = [str(ids[i]) for i in ranked if i not in seen]
        touched = set(events["item_idx"].unique().to_list())
        listed = [s.item_id for s in b.items if app.service.item_index(s.item_id) in touched]
        assert listed == expected[: len(listed)] and len(listed) >= 8
        a = detail.lists["a"]
        shared = {s.item_id for s in a.items} & {s.item_id for s in b.items}
        for side, rec in (("a", a), ("b", b)):
            marks = [r[0] for r in rows(detail.query_one(f"#recs-{side}", DataTable))]
            assert marks == [SHARED if s.item_id in shared else " " for s in rec.items]
        await pilot.press("m", "enter")  # back to one model
        await settle(app, pilot)
        assert detail.lists["b"] is None and not detail.query_one("#side-b").display


async def test_catalog_filters_and_similar_products(tui_cfg, tui_shop) -> None:
    app = ExplorerApp(tui_cfg, cursor_blink=False)
    items = catalog(tui_shop)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("2")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, CatalogScreen)
        table = screen.query_one(VirtualTable)
        assert table.row_count == items.height
        screen.query_one("#category", Select).value = "Electronics"
        screen.query_one("#price-max", Input).value = "300"
        await settle(app, pilot)
        expected = items.filter(pl.col("category").str.starts_with("Electronics > ") & (pl.col("price") <= 300))
        assert table.rows.tolist() == expected["idx"].to_list() and table.row_count > 0
        brand = expected["brand"][0]
        screen.query_one("#brand", Select).value = brand
        await settle(app, pilot)
        expected = expected.filter(pl.col("brand") == brand)
        assert table.rows.tolist() == expected["idx"].to_list()
        await pilot.press("enter")
        await settle(app, pilot)
        product = app.screen
        assert isinstance(product, ProductDetailScreen) and product.item == expected["idx"][0]
        content = product.similar["content"]
        assert content is not None and len(content.items) == 10
        # content neighbours: cosine of the product's text vector with every other's (an independent cosine)
        text = app.service.catalog.text
        sims = np.asarray((text @ text[product.item].T).todense()).ravel()
        sims[product.item] = -np.inf
        best = np.lexsort((np.arange(sims.size), -sims))[:10]
        assert [s.item_id for s in content.items] == [str(app.service.item_ids[i]) for i in best]
        collaborative = product.similar["collaborative"]
        assert collaborative is not None and collaborative.model == "als"
        assert str(app.service.item_ids[product.item]) not in {s.item_id for s in collaborative.items}


async def test_onboarding_picks_change_the_list_and_events_fold_in(tui_cfg, tui_shop) -> None:
    app = ExplorerApp(tui_cfg, cursor_blink=False)
    items = catalog(tui_shop)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("3")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, PlaygroundScreen)
        before = [s.item_id for s in screen.current.items]
        assert screen.current.strategy == "popular_fallback"
        screen.query_one("#categories", SelectionList).select("Beauty")
        await settle(app, pilot)
        rec = screen.current
        assert rec.strategy == "cold_start" and [s.item_id for s in rec.items] != before
        beauty = set(items.filter(pl.col("category").str.starts_with("Beauty"))["item_id"].to_list())
        assert sum(s.item_id in beauty for s in rec.items) >= 8
        brand_of = dict(zip(items["item_id"].to_list(), items["brand"].to_list(), strict=True))
        top = brand_of[rec.items[0].item_id]
        brand = next(b for b in items.filter(pl.col("category").str.starts_with("Beauty"))["brand"].to_list()
                     if b != top)  # a Beauty brand other than the first product's
        screen.query_one("#brands", SelectionList).select(brand)
        await settle(app, pilot)
        with_brand = screen.current
        assert [s.item_id for s in with_brand.items] != [s.item_id for s in rec.items]
        assert brand_of[with_brand.items[0].item_id] == brand  # both picks beat one
        first = with_brand.items[0].item_id
        screen.query_one("#cold-recs", DataTable).focus()
        await pilot.press("b")  # buy the highlighted (first) product
        await settle(app, pilot)
        folded = screen.current
        assert folded.strategy == "fold_in"
        assert first not in {s.item_id for s in folded.items}  # what they bought is not offered again
        assert "posted: purchase" in str(screen.query_one("#posted", Static).render())
        await pilot.press("r")
        await settle(app, pilot)
        assert screen.current.strategy == "popular_fallback" and screen.user_id.endswith("-2")


async def test_metrics_screen_shows_the_reports(tui_cfg, tui_shop) -> None:
    import json

    metrics = json.loads((tui_shop / "reports" / "metrics.json").read_text())
    app = ExplorerApp(tui_cfg, cursor_blink=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("4")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, MetricsScreen)
        table = rows(screen.query_one("#metric-table", DataTable))
        ndcg = next(r for r in table if r[0] == "ndcg")
        at10 = [str(c.label) for c in screen.query_one("#metric-table", DataTable).columns.values()].index(
            "@10  (95% interval)")
        value, low, high = metrics["ndcg@10"], metrics["ndcg@10.ci_low"], metrics["ndcg@10.ci_high"]
        assert ndcg[at10] == f"{value:.3f} ({low:.3f}-{high:.3f})"
        await pilot.press("k")
        await settle(app, pilot)
        chart = screen.query_one("#at-k-chart")
        at_k = json.loads((tui_shop / "reports" / "plots" / "metrics_at_k.json").read_text())
        assert chart.x == [r["k"] for r in at_k] and chart.series["ndcg"] == [r["ndcg"] for r in at_k]
        await pilot.press("g")
        await settle(app, pilot)
        bars = screen.query_one("#segment-chart")
        segments = json.loads((tui_shop / "reports" / "segments.json").read_text())["activity"]
        assert bars.values == [segments[g]["ndcg@10"] for g in segments]
        await pilot.press("c")
        await settle(app, pilot)
        compare = json.loads((tui_shop / "reports" / "compare" / "popularity_vs_als.json").read_text())
        text = str(screen.query_one("#compare-result", Static).render())
        assert f"{compare['diff']:+.4f}" in text and compare["verdict"].split(":")[0] in text.replace("\n", " ")


async def test_missing_bundle_and_reports_are_notifications(tmp_path) -> None:
    cfg = config.load(overrides(tmp_path))
    app = ExplorerApp(cfg, cursor_blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        messages = [n.message for n in app._notifications]
        assert len(messages) == 1 and "recsys export" in messages[0] and str(tmp_path) in messages[0]
        assert app.screen.query_one(VirtualTable).empty == messages[0]
        await pilot.press("4")
        await settle(app, pilot)
        messages = [n.message for n in app._notifications]
        assert any("metrics.json not found: run `recsys eval`" in m for m in messages)
        await pilot.press("enter", "2", "3", "5")  # nothing loaded: every screen still opens
        await settle(app, pilot)
        assert "recsys serve" in str(app.screen.query_one("#experiment-note", Static).render())


async def test_a_damaged_bundle_is_refused_with_one_line(tui_shop, tmp_path) -> None:
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(tui_shop / "data" / "bundle", root / "data" / "bundle")
    catalog_file = root / "data" / "bundle" / "catalog.parquet"
    catalog_file.write_bytes(catalog_file.read_bytes()[:-8] + b"tampered")
    cfg = dataclasses.replace(config.load(overrides(root)))
    app = ExplorerApp(cfg, cursor_blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert app.service is None
        messages = [n.message for n in app._notifications]
        assert any("catalog.parquet" in m and "\n" not in m for m in messages)


async def test_experiments_screen_reads_the_event_store(tui_cfg, tmp_path) -> None:  # noqa: ANN001
    """Arms with their CTR and intervals, the same numbers `recsys ab report` computes (statsmodels' Wilson)."""
    import time

    from statsmodels.stats.proportion import proportion_confint

    from recsys_cli.serve.events import EventStore
    from recsys_cli.tui.screens.experiments import ExperimentsScreen

    db = tmp_path / "events.db"
    store = EventStore(f"sqlite:///{db}")
    store.save_experiment("demo", "running", {"name": "demo", "allocation": "hashed", "reward": "click",
                                              "arms": [{"name": "a", "weight": 1.0}, {"name": "b", "weight": 1.0}]})
    now, logged, served = time.time(), [], []
    for arm, lists, clicks in (("a", 40, 8), ("b", 40, 20)):
        for i in range(lists):
            rid = f"{arm}{i}"
            served.append({"request_id": rid, "ts": now + i, "user_id": f"u{i}", "experiment": "demo", "arm": arm,
                           "bundle": "x", "strategy": "personalised", "k": 5, "items": [f"p{j}" for j in range(5)],
                           "n": 5})
            if i < clicks:
                logged.append({"ts": now + i, "user_id": f"u{i}", "item_id": "p0", "event": "click", "price": None,
                               "quantity": 1, "position": 0, "request_id": rid, "experiment": "demo", "arm": arm,
                               "bundle": "x"})
    for s in served:
        store.log_served(s)
    store.submit(logged).result(10)
    store.close_sync()
    cfg = dataclasses.replace(tui_cfg, serve=dataclasses.replace(tui_cfg.serve, events=f"sqlite:///{db}"))
    app = ExplorerApp(cfg, cursor_blink=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("5")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, ExperimentsScreen)
        table = rows(screen.query_one("#arms", DataTable))
        assert [r[0] for r in table] == ["a", "b"] and [r[1] for r in table] == ["200", "200"]
        for r, clicks in zip(table, (8, 20)):
            lo, hi = proportion_confint(clicks, 200, alpha=0.05, method="wilson")
            assert r[2] == f"{clicks / 200:.4f} [{lo:.4f}, {hi:.4f}]"
