"""Catalog: search and filter products by text, category, brand and price; enter opens a product."""

from __future__ import annotations

import numpy as np
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Footer, Header, Input, Select, Static

from recsys_cli.tui.screens.filtered import FilteredListScreen
from recsys_cli.tui.tables import ProductFilter, Tables
from recsys_cli.tui.widgets.virtual_table import Column, VirtualTable


def price(text: str) -> float | None:
    """A price typed in a box: a number, or nothing (a bad entry is ignored and marked)."""
    try:
        return float(text.replace(",", "").strip()) if text.strip() else None
    except ValueError:
        return None


class CatalogScreen(FilteredListScreen):
    noun, search_id, count_id = "products", "product-search", "product-count"
    CSS_PATH = "catalog.tcss"
    BINDINGS = [
        Binding("/", "search", "Search"),
        Binding("x", "clear", "Clear filters", show=False),
        Binding("escape", "focus_table", "Table", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.wanted = ProductFilter()
        self.order = np.zeros(0, dtype=np.int64)

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(classes="filters"):
            yield Input(placeholder="/ search title, brand or id", id="product-search", compact=True)
            yield Input(placeholder="min price", id="price-min", compact=True, type="number")
            yield Input(placeholder="max price", id="price-max", compact=True, type="number")
        with Horizontal(classes="filters"):
            yield Select([], prompt="category", id="category", compact=True)
            yield Select([], prompt="brand", id="brand", compact=True)
        yield VirtualTable([], empty="loading the bundle…", id="products")
        yield Static("", id="product-count", classes="status")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.app.quiet(*self.query(Input))
        self.app.tables_ready.subscribe(self, self.show_tables)
        if self.app.tables is not None:
            self.show_tables(self.app.tables)
        elif self.app.load_error:
            self.query_one(VirtualTable).set_empty(self.app.load_error)
        self.query_one(VirtualTable).focus()

    def show_tables(self, tables: Tables) -> None:
        frame = tables.products
        ids, titles = frame["item_id"].to_numpy(), frame["title"].to_numpy()
        cats = frame["category"].to_numpy() if "category" in frame.columns else None
        brands = frame["brand"].to_numpy() if "brand" in frame.columns else None
        prices = frame["price"].to_numpy() if "price" in frame.columns else None
        shoppers = frame["shoppers"].to_numpy()
        table = self.query_one(VirtualTable)
        table.columns = [
            Column("product", 8, lambda k: str(ids[k]), priority=2),
            Column("title", 20, lambda k: str(titles[k]), grow=True),
            Column("category", 16, (lambda k: str(cats[k] or "-")) if cats is not None else (lambda k: "-"),
                   priority=1, grow=True),
            Column("brand", 10, (lambda k: str(brands[k] or "-")) if brands is not None else (lambda k: "-")),
            Column("price", 9, (lambda k: f"{prices[k]:,.2f}" if prices[k] == prices[k] else "-")
                   if prices is not None else (lambda k: "-"), right=True),
            Column("shoppers", 8, lambda k: f"{shoppers[k]:,}", right=True, priority=3),
        ]
        table._layout_width = -1
        category = self.query_one("#category", Select)
        category.set_options([(c if " > " not in c else "  " + c.split(" > ", 1)[1], c) for c in tables.categories()])
        self.query_one("#brand", Select).set_options([(b, b) for b in tables.brands()])
        table.set_empty("no product matches these filters (x clears them)")
        self.apply_filter()

    def filtered(self, tables: Tables) -> tuple[np.ndarray, int]:
        return tables.filter_products(self.wanted), tables.n_products

    @on(Input.Changed)
    def typed(self, event: Input.Changed) -> None:
        if event.input.id == "product-search":
            self.wanted.text = event.value
        elif event.input.id == "price-min":
            self.wanted.price_min = price(event.value)
        elif event.input.id == "price-max":
            self.wanted.price_max = price(event.value)
        else:
            return
        self.apply_filter()

    @on(Input.Submitted)
    def submitted(self) -> None:
        self.query_one(VirtualTable).focus()

    @on(Select.Changed)
    def chosen(self, event: Select.Changed) -> None:
        value = None if event.value is Select.NULL else str(event.value)
        if event.select.id == "category":
            self.wanted.category = value
        elif event.select.id == "brand":
            self.wanted.brand = value
        else:
            return
        self.apply_filter()

    def action_clear(self) -> None:
        for widget in self.query(Input):
            widget.value = ""
        for select in self.query(Select):
            select.clear()
        self.wanted = ProductFilter()
        self.apply_filter()

    @on(VirtualTable.Selected, "#products")
    def open_product(self, event: VirtualTable.Selected) -> None:
        from recsys_cli.tui.screens.product_detail import ProductDetailScreen

        self.app.push_screen(ProductDetailScreen(event.key))
