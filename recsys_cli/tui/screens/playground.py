"""Cold-start playground: a new shopper picks categories, brands and a price band; the list follows each pick.

The list is the service's answer for a shopper it has never seen, with the
picks as :class:`Preferences` (strategy ``cold_start``). ``v`` / ``a`` / ``b``
post a view, add-to-cart or purchase of the highlighted product to the
service's live state, as ``POST /feedback`` would: the next list is folded in
from those events (strategy ``fold_in``). ``r`` starts over as a new shopper.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Select, SelectionList, Static

from recsys_cli.tui.tables import Tables
from recsys_cli.tui.widgets.virtual_table import fit

if TYPE_CHECKING:  # the service package loads models: imported where used, so the first screen never waits
    from recsys_cli.service.types import Preferences, Recommendation

EVENTS = {"v": "view", "a": "add_to_cart", "b": "purchase"}


def band_label(low: float | None, high: float | None) -> str:
    if low is None and high is None:
        return "any price"
    if low is None:
        return f"under {high:,.0f}"
    if high is None:
        return f"{low:,.0f} and up"
    return f"{low:,.0f}-{high:,.0f}"


class PlaygroundScreen(Screen):
    CSS_PATH = "playground.tcss"
    BINDINGS = [
        Binding("v", "post('v')", "View", show=False),
        Binding("a", "post('a')", "Cart", show=False),
        Binding("b", "post('b')", "Buy", show=False),
        Binding("r", "reset", "New shopper"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.shopper = 1
        self.posted: list[tuple[str, str]] = []  # (event, item id)
        self.current: Recommendation | None = None
        self.bands: list[tuple[float | None, float | None]] = []

    @property
    def user_id(self) -> str:
        return f"tui-new-shopper-{self.shopper}"

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="playground"):
            with Vertical(id="picks"):
                yield Static("[b]categories[/b]", classes="side-label")
                yield SelectionList[str](id="categories")
                yield Static("[b]brands[/b]", classes="side-label")
                yield SelectionList[str](id="brands")
                yield Select([], prompt="any price", id="price", compact=True)
            with Vertical(id="outcome"):
                yield Static("", id="strategy", classes="side-label")
                yield DataTable(id="cold-recs", cursor_type="row")
                yield Static("", id="cold-why", classes="status")
                yield Static("", id="posted", classes="status")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.app.tables_ready.subscribe(self, self.show_tables)
        self.app.service_ready.subscribe(self, lambda _: self.refresh_list())
        if self.app.tables is not None:
            self.show_tables(self.app.tables)
        self.refresh_list()
        self.query_one("#categories").focus()

    def show_tables(self, tables: Tables) -> None:
        cats = self.query_one("#categories", SelectionList)
        cats.clear_options()
        cats.add_options([(c if " > " not in c else "  " + c.split(" > ", 1)[1], c) for c in tables.categories()])
        brands = self.query_one("#brands", SelectionList)
        brands.clear_options()
        brands.add_options([(b, b) for b in tables.brands()])
        self.bands = tables.price_bands()
        self.query_one("#price", Select).set_options([(band_label(*b), i) for i, b in enumerate(self.bands)])

    def preferences(self) -> Preferences:
        from recsys_cli.service.types import Preferences

        prefs = Preferences(categories=list(self.query_one("#categories", SelectionList).selected),
                            brands=list(self.query_one("#brands", SelectionList).selected))
        choice = self.query_one("#price", Select).value
        if choice is not Select.NULL and isinstance(choice, int) and choice < len(self.bands):
            prefs.price_min, prefs.price_max = self.bands[choice]
        return prefs

    # ------------------------------------------------------------ reacting

    @on(SelectionList.SelectedChanged)
    @on(Select.Changed, "#price")
    def picked(self) -> None:
        self.refresh_list()

    def refresh_list(self) -> None:
        if self.app.service is None:
            self.query_one("#strategy", Static).update("loading the model…")
            return
        self.recommend(self.preferences())

    @work(thread=True, exclusive=True, group="cold", exit_on_error=False)
    def recommend(self, prefs: Preferences) -> None:
        from recsys_cli.service.types import RecommendRequest
        from recsys_cli.tui.app import one_line

        try:
            rec = self.app.service.recommend(RecommendRequest(user_id=self.user_id, k=10, preferences=prefs))
        except Exception as exc:  # noqa: BLE001
            self.app.call_from_thread(self.notify, one_line(exc), severity="error")
            return
        self.app.call_from_thread(self._show, rec)

    def _show(self, rec: Recommendation) -> None:
        self.current = rec
        service = self.app.service
        table = self.query_one("#cold-recs", DataTable)
        row = table.cursor_row
        table.clear(columns=True)
        room = self.query_one("#outcome").size.width - (2 + 6) - 2 * 5 - 2
        product = min(max(room // 2, 14), 32)
        category = min(max(room - product, 12), 32)
        for label, width in (("#", 2), ("product", product), ("category", category), ("score", 6), ("why", 40)):
            table.add_column(label, width=width)
        table.add_rows([
            (str(rank), fit(str(service.catalog.titles[i]), product),
             fit(service.catalog.category_name(i) or "-", category), f"{s.score:.3f}", s.explanation or "")
            for rank, s in enumerate(rec.items, 1) for i in [service.item_index(s.item_id)]
        ])
        if rec.items:
            table.move_cursor(row=min(row, len(rec.items) - 1))
        what = {"cold_start": "from the picks", "fold_in": "from the events posted",
                "popular_fallback": "what sells: pick something"}.get(rec.strategy, rec.strategy)
        self.query_one("#strategy", Static).update(f"[b]{rec.strategy}[/b] · {what} · {self.user_id}")
        self._show_posted()

    @on(DataTable.RowHighlighted, "#cold-recs")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.current is not None and 0 <= event.cursor_row < len(self.current.items):
            item = self.current.items[event.cursor_row]
            self.query_one("#cold-why", Static).update(f"why #{event.cursor_row + 1}: {item.explanation or '-'}")

    def _show_posted(self) -> None:
        if not self.posted:
            text = "v view · a cart · b buy the highlighted product: the list folds it in"
        else:
            titles = self.app.service.catalog.titles
            text = "posted: " + ", ".join(f"{e} {titles[self.app.service.item_index(i)]}" for e, i in self.posted[-3:])
        self.query_one("#posted", Static).update(text)

    def action_post(self, key: str) -> None:
        service = self.app.service
        if service is None or self.current is None or not self.current.items:
            return
        row = self.query_one("#cold-recs", DataTable).cursor_row
        item = self.current.items[min(max(row, 0), len(self.current.items) - 1)].item_id
        service.live.add(self.user_id, item, EVENTS[key])
        self.posted.append((EVENTS[key].replace("_", " "), item))
        self.refresh_list()

    def action_reset(self) -> None:
        self.shopper += 1
        self.posted = []
        self.query_one("#categories", SelectionList).deselect_all()
        self.query_one("#brands", SelectionList).deselect_all()
        self.query_one("#price", Select).clear()
        self.refresh_list()
