"""split: train / valid / test windows with integer ids, cold flags and a report."""

from __future__ import annotations

import json
from typing import Any

import polars as pl
from rich.table import Table

from recsys_cli import layout
from recsys_cli.atomic import atomic_dir
from recsys_cli.config import Config
from recsys_cli.data.ids import IdMap, save_ids
from recsys_cli.layout import Layout
from recsys_cli.data.profile import REAL_SHOP
from recsys_cli.data.leakage import window_fingerprints
from recsys_cli.data.splits import report, split_events
from recsys_cli.progress import status, stdout
from recsys_cli.stages.inputs import need, read_json


def run(cfg: Config) -> None:
    from recsys_cli.engines import runs_on

    if runs_on(cfg, "split") == "spark":
        from recsys_cli.engines.spark import data

        data.split(cfg)
        return
    events = pl.read_parquet(need(Layout.of(cfg).events, "ingest"))
    items = pl.read_parquet(need(Layout.of(cfg).items, "ingest"))
    users_table = pl.read_parquet(need(Layout.of(cfg).users, "ingest"))
    users = IdMap.from_values(events["user_id"], users_table["user_id"])
    item_ids = IdMap.from_values(events["item_id"], items["item_id"])
    events = events.with_columns(
        user_idx=pl.Series(users.index(events["user_id"])),
        item_idx=pl.Series(item_ids.index(events["item_id"])),
    )
    split = split_events(events, cfg.split)
    info = report(split)
    info["fingerprints"] = window_fingerprints(split.windows())
    info["n_users_indexed"] = len(users)
    info["n_items_indexed"] = len(item_ids)
    with atomic_dir(cfg.paths.processed) as tmp:
        for name, frame in split.windows().items():
            frame.write_parquet(tmp / layout.window_file(name))
        save_ids(tmp / layout.IDS, users, item_ids)
        (tmp / layout.SPLIT_REPORT).write_text(json.dumps(info, indent=2) + "\n")
        for i, fold in enumerate(split.folds):  # rolling: the earlier origins
            fold_dir = tmp / layout.FOLDS / f"fold_{i}"
            fold_dir.mkdir(parents=True)
            for name, frame in fold.windows().items():
                frame.write_parquet(fold_dir / layout.window_file(name))
            save_ids(fold_dir / layout.IDS, users, item_ids)
            fold_info = {**report(fold), "fingerprints": window_fingerprints(fold.windows())}
            (fold_dir / layout.SPLIT_REPORT).write_text(json.dumps(fold_info, indent=2) + "\n")
    print_report(info, read_json(Layout.of(cfg).ingest_report, "ingest").get("profile", {}))
    status(f"split: {split.info['method']} -> {cfg.paths.processed}")


def print_report(info: dict[str, Any], shop: dict[str, Any]) -> None:
    table = Table(title=f"split ({info['method']})")
    for col in ("window", "events", "users", "items", "from", "to", "cold users", "cold items"):
        table.add_column(col, justify="right" if col not in ("window", "from", "to") else "left")
    for name in ("train", "valid", "test"):
        w = info[name]
        table.add_row(
            name, f"{w['events']:,}", f"{w['users']:,}", f"{w['items']:,}",
            str(w.get("first", "-"))[:16], str(w.get("last", "-"))[:16],
            f"{w['cold_user_share']:.1%}" if "cold_user_share" in w else "-",
            f"{w['cold_item_share']:.1%}" if "cold_item_share" in w else "-",
        )
    stdout.print(table)
    checks = Table(title="shop profile vs public shop logs")
    checks.add_column("figure")
    checks.add_column("this data", justify="right")
    checks.add_column("real shops", justify="right")
    for key, (lo, hi) in REAL_SHOP.items():
        if key in shop:
            value = shop[key]
            mark = "[green]ok[/]" if lo <= value <= hi else "[yellow]outside[/]"
            checks.add_row(key, f"{value:g} {mark}", f"{lo:g} - {hi:g}")
    for key in ("event_mix", "events_per_session", "events_per_item", "purchase_price", "daily_cycle"):
        if key in shop:
            checks.add_row(key, json.dumps(shop[key])[:60], "")
    if checks.row_count:
        stdout.print(checks)
