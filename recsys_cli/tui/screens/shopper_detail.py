"""One shopper: their history as a timeline and what the model recommends, with a second model side by side.

The history is the bundle's (per product: the strongest event, its last
date, the price); the lists and their explanations come from the service,
in a worker (exclusive: moving on quickly drops the stale answer). ``n`` /
``p`` step through the shoppers list as it is filtered; ``m`` picks a second
trained model and the products both lists share are marked.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from recsys_cli.tui.keys import NAV_HIDDEN
from recsys_cli.tui.screens.shoppers import day
from recsys_cli.tui.widgets.virtual_table import fit

if TYPE_CHECKING:  # the service package loads models: imported where used
    from recsys_cli.service.types import Recommendation

SHARED = "◆"


def money(value: float) -> str:
    return "-" if value != value else f"{value:,.2f}"  # NaN: unknown


class ShopperDetailScreen(Screen[int]):
    CSS_PATH = "shopper_detail.tcss"
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("n", "step(1)", "Next"),
        Binding("p", "step(-1)", "Previous"),
        Binding("m", "pick_model", "Compare model"),
        *NAV_HIDDEN,
    ]

    def __init__(self, order: np.ndarray, position: int) -> None:
        super().__init__()
        self.order = order
        self.position = position
        self.user = int(order[position])
        self.lists: dict[str, Recommendation | None] = {"a": None, "b": None}
        self.update_ms: list[float] = []  # key press -> lists on screen (the bench reads this)
        self._asked = time.perf_counter()

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="who")
        yield DataTable(id="history", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="recs"):
            with Vertical(id="side-a", classes="side"):
                yield Static("", id="label-a", classes="side-label")
                yield DataTable(id="recs-a", cursor_type="row")
            with Vertical(id="side-b", classes="side"):
                yield Static("", id="label-b", classes="side-label")
                yield DataTable(id="recs-b", cursor_type="row")
        yield Static("", id="why", classes="status")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#side-b").display = self.app.second is not None
        self.app.service_ready.subscribe(self, lambda _: self.show())
        self.app.second_ready.subscribe(self, self._second_changed)
        self.show()
        self.query_one("#recs-a").focus()

    # ------------------------------------------------------------ moving

    def action_back(self) -> None:
        self.dismiss(self.position)

    def action_step(self, step: int) -> None:
        position = self.position + step
        if 0 <= position < self.order.size:
            self.position, self.user = position, int(self.order[position])
            self.show()

    def action_pick_model(self) -> None:
        from recsys_cli.tui.screens.model_picker import ModelPicker

        self.app.push_screen(ModelPicker(), self._picked)

    def _picked(self, name: str | None) -> None:
        if name == "":
            return  # cancelled
        self.app.load_second(name)

    def _second_changed(self, second: object) -> None:
        self.query_one("#side-b").display = second is not None
        self.show()

    # ------------------------------------------------------------ drawing

    def show(self) -> None:
        self._asked = time.perf_counter()
        self.show_history()
        if self.app.service is None:
            self.query_one("#label-a", Static).update("loading the model…")
            return
        self.recommend(self.user)

    def show_history(self) -> None:
        tables = self.app.tables
        if tables is None:
            return
        row = tables.shoppers.row(self.user, named=True)
        attrs = " ".join(str(row[c]) for c in ("age_band", "gender", "location") if row.get(c))
        since = f" · signed up {str(row['signup_date'])[:10]}" if row.get("signup_date") else ""
        self.query_one("#who", Static).update(
            f"[b]{row['user_id']}[/b]  {attrs}  · [b]{row['segment']}[/b] · {row['items']:,} products, "
            f"{row['purchases']:,} bought · last active {day(int(row['last_ms']))}{since}"
            f"   [dim]({self.position + 1:,} of {self.order.size:,})[/dim]")
        line = tables.timeline(self.user)
        products = tables.products
        titles, prices = products["title"], products["price"] if "price" in products.columns else None
        cats = products["category"] if "category" in products.columns else None
        history = self.query_one("#history", DataTable)
        history.clear(columns=True)
        room = self.size.width - (10 + 8 + 9) - 2 * 5 - 1  # fixed columns, cell padding, scrollbar
        product = min(max(room - max(room // 3, 10), 16), 48)
        history.add_column("when", width=10)
        history.add_column("event", width=8)
        history.add_column("product", width=product)
        history.add_column("price", width=9)
        history.add_column("category", width=max(room - product, 8))
        history.add_rows([
            (day(int(ms)), event, fit(str(titles[int(i)]), product),
             money(float(prices[int(i)])) if prices is not None and prices[int(i)] is not None else "-",
             str(cats[int(i)]) if cats is not None else "")
            for i, event, ms in zip(line.items.tolist(), line.events, line.last_ms.tolist())
        ])

    @work(thread=True, exclusive=True, group="recs", exit_on_error=False)
    def recommend(self, user: int) -> None:
        from recsys_cli.service.types import RecommendRequest
        from recsys_cli.tui.app import one_line

        service, second = self.app.service, self.app.second
        user_id = str(service.user_ids[user])
        try:
            a = service.recommend(RecommendRequest(user_id=user_id, k=10))
            b = second.recommend(RecommendRequest(user_id=user_id, k=10)) if second is not None else None
        except Exception as exc:  # noqa: BLE001
            self.app.call_from_thread(self.notify, one_line(exc), severity="error")
            return
        self.app.call_from_thread(self._show_lists, user, a, b)

    def _show_lists(self, user: int, a: Recommendation, b: Recommendation | None) -> None:
        if user != self.user:
            return  # a stale answer: the shopper changed meanwhile
        self.lists = {"a": a, "b": b}
        ids = {side: {s.item_id for s in rec.items} for side, rec in self.lists.items() if rec is not None}
        shared = ids["a"] & ids["b"] if "b" in ids else set()
        for side, rec in self.lists.items():
            if rec is None:
                continue
            self._fill(side, rec, shared)
        self._explain()
        asked = self._asked
        self.call_after_refresh(lambda: self.update_ms.append((time.perf_counter() - asked) * 1000))

    def _fill(self, side: str, rec: Recommendation, shared: set[str]) -> None:
        service = self.app.service
        titles = service.catalog.titles
        table = self.query_one(f"#recs-{side}", DataTable)
        table.clear(columns=True)
        side_width = self.size.width // (2 if self.lists["b"] is not None else 1)
        room = side_width - (1 + 2 + 6) - 2 * 5 - 2  # fixed columns, cell padding, border, scrollbar
        product = max(room, 12) if room < 40 else min(room // 2, 36)  # narrow: the why line below tells why
        for label, width in ((" ", 1), ("#", 2), ("product", product), ("score", 6), ("why", max(room - product, 40))):
            table.add_column(label, width=width)
        table.add_rows([
            (SHARED if s.item_id in shared else " ", str(rank),
             fit(str(titles[service.item_index(s.item_id)]), product), f"{s.score:.3f}", s.explanation or "")
            for rank, s in enumerate(rec.items, 1)
        ])
        common = f" · {len(shared)} in common {SHARED}" if self.lists["b"] is not None else ""
        self.query_one(f"#label-{side}", Static).update(f"[b]{rec.model}[/b] · {rec.strategy}{common}")

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id in ("recs-a", "recs-b") and event.data_table.has_focus:
            self._explain(event.data_table.id[-1], event.cursor_row)

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a product (history or a list) opens it: its details and similar products."""
        from recsys_cli.tui.screens.product_detail import ProductDetailScreen

        table = event.data_table.id
        if table == "history" and self.app.tables is not None:
            items = self.app.tables.timeline(self.user).items
            if event.cursor_row < items.size:
                self.app.push_screen(ProductDetailScreen(int(items[event.cursor_row])))
        elif table in ("recs-a", "recs-b") and self.app.service is not None:
            rec = self.lists.get(table[-1])
            if rec is not None and event.cursor_row < len(rec.items):
                item = self.app.service.item_index(rec.items[event.cursor_row].item_id)
                self.app.push_screen(ProductDetailScreen(item))

    def on_descendant_focus(self) -> None:
        focused = self.focused
        if focused is not None and focused.id in ("recs-a", "recs-b"):
            self._explain(focused.id[-1])

    def _explain(self, side: str = "a", row: int | None = None) -> None:
        rec = self.lists.get(side)
        if rec is None or not rec.items:
            self.query_one("#why", Static).update("")
            return
        row = self.query_one(f"#recs-{side}", DataTable).cursor_row if row is None else row
        item = rec.items[min(max(row, 0), len(rec.items) - 1)]
        self.query_one("#why", Static).update(f"why #{row + 1} ({rec.model}): {item.explanation or '-'}")
