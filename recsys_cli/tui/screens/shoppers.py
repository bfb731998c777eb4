"""Shoppers: every shopper in the bundle, searchable and filterable, drawn virtually (100,000 rows are cheap)."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Footer, Header, Input, Select, Static

from recsys_cli.tui.screens.filtered import FilteredListScreen
from recsys_cli.tui.tables import ACTIVITY, SEGMENTS, Filter, Tables
from recsys_cli.tui.widgets.virtual_table import Column, VirtualTable

SORTS = (("id", "by id"), ("items", "most products"), ("recent", "most recent"))


def day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d") if ms >= 0 else "-"


class ShoppersScreen(FilteredListScreen):
    noun, search_id, count_id = "shoppers", "shopper-search", "shopper-count"
    CSS_PATH = "shoppers.tcss"
    BINDINGS = [
        Binding("/", "search", "Search"),
        Binding("o", "sort", "Sort"),
        Binding("x", "clear", "Clear filters", show=False),
        Binding("escape", "focus_table", "Table", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.wanted = Filter()
        self.order = np.zeros(0, dtype=np.int64)

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="shopper-filters", classes="filters"):
            yield Input(placeholder="/ search shopper id", id="shopper-search", compact=True)
            yield Select([(s, s) for s in SEGMENTS], prompt="segment", id="segment", compact=True)
            yield Select([(a, a) for a in ACTIVITY], prompt="active", id="activity", compact=True)
        with Horizontal(id="shopper-attributes", classes="filters"):
            yield Select([], prompt="age band", id="age_band", compact=True)
            yield Select([], prompt="gender", id="gender", compact=True)
            yield Select([], prompt="location", id="location", compact=True)
            yield Select([(label, key) for key, label in SORTS], value="id", allow_blank=False, id="sort",
                         compact=True)
        yield VirtualTable([], empty="loading the bundle…", id="shoppers")
        yield Static("", id="shopper-count", classes="status")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.app.quiet(self.query_one("#shopper-search", Input))
        self.app.tables_ready.subscribe(self, self.show_tables)
        if self.app.tables is not None:
            self.show_tables(self.app.tables)
        elif self.app.load_error:
            self.query_one(VirtualTable).set_empty(self.app.load_error)
        self.query_one(VirtualTable).focus()

    # ------------------------------------------------------------ data

    def show_tables(self, tables: Tables) -> None:
        table = self.query_one(VirtualTable)
        frame = tables.shoppers
        ids = frame["user_id"].to_numpy()
        segment = frame["segment"].to_numpy()
        items = frame["items"].to_numpy()
        buys = frame["purchases"].to_numpy()
        last = frame["last_ms"].to_numpy()
        attrs = {c: frame[c].to_numpy() if c in frame.columns else None for c in ("age_band", "gender", "location")}

        def attr(name: str):  # noqa: ANN202
            values = attrs[name]
            return (lambda k: str(values[k]) if values[k] is not None else "-") if values is not None else (lambda k: "-")

        table.columns = [
            Column("shopper", 10, lambda k: str(ids[k])),
            Column("segment", 7, lambda k: str(segment[k])),
            Column("products", 8, lambda k: f"{items[k]:,}", right=True),
            Column("bought", 6, lambda k: f"{buys[k]:,}", right=True, priority=2),
            Column("last active", 11, lambda k: day(int(last[k]))),
            Column("age", 5, attr("age_band"), priority=1),
            Column("gender", 6, attr("gender"), priority=1),
            Column("location", 10, attr("location"), priority=1, grow=True),
        ]
        table._layout_width = -1
        for name in ("age_band", "gender", "location"):
            select = self.query_one(f"#{name}", Select)
            select.set_options([(v, v) for v in tables.options(name)])
        table.set_empty("no shopper matches these filters (x clears them)")
        self.apply_filter()

    def filtered(self, tables: Tables) -> tuple[np.ndarray, int]:
        return tables.filter(self.wanted), tables.n_shoppers

    # ------------------------------------------------------------ filters

    @on(Input.Changed, "#shopper-search")
    def search_changed(self, event: Input.Changed) -> None:
        self.wanted.text = event.value
        self.apply_filter()

    @on(Input.Submitted, "#shopper-search")
    def search_done(self) -> None:
        self.query_one(VirtualTable).focus()

    @on(Select.Changed)
    def select_changed(self, event: Select.Changed) -> None:
        name = event.select.id or ""
        value = None if event.value is Select.NULL else str(event.value)
        if name == "sort":
            self.wanted.sort = value or "id"
        elif hasattr(self.wanted, name):
            setattr(self.wanted, name, value)
        else:
            return
        self.apply_filter()

    def action_sort(self) -> None:
        select = self.query_one("#sort", Select)
        keys = [k for k, _ in SORTS]
        select.value = keys[(keys.index(str(select.value)) + 1) % len(keys)]

    def action_clear(self) -> None:
        self.query_one("#shopper-search", Input).value = ""
        for name in ("segment", "activity", "age_band", "gender", "location"):
            self.query_one(f"#{name}", Select).clear()
        self.wanted = Filter(sort=self.wanted.sort)
        self.apply_filter()

    # ------------------------------------------------------------ opening a shopper

    @on(VirtualTable.Selected, "#shoppers")
    def open_shopper(self, event: VirtualTable.Selected) -> None:
        from recsys_cli.tui.screens.shopper_detail import ShopperDetailScreen

        self.app.push_screen(ShopperDetailScreen(self.order, event.position), self._returned)

    def _returned(self, position: int | None) -> None:
        if position is not None and self.order.size:
            self.query_one(VirtualTable).cursor = position
