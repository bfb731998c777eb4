"""One product: what it is, and the products like it, collaborative (the model's) and by content, side by side."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from recsys_cli.tui.keys import NAV_HIDDEN
from recsys_cli.tui.widgets.virtual_table import fit

if TYPE_CHECKING:
    from recsys_cli.service.types import Similar

K = 10


class ProductDetailScreen(Screen):
    CSS_PATH = "product_detail.tcss"
    BINDINGS = [
        Binding("escape", "back", "Back"),
        *NAV_HIDDEN,
    ]

    def __init__(self, item: int) -> None:
        super().__init__()
        self.item = item
        self.similar: dict[str, Similar | None] = {"collaborative": None, "content": None}

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="product")
        with Horizontal(id="similar"):
            for method in ("collaborative", "content"):
                with Vertical(classes="side"):
                    yield Static(method, id=f"label-{method}", classes="side-label")
                    yield DataTable(id=f"similar-{method}", cursor_type="row")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        for method in ("collaborative", "content"):
            self.query_one(f"#similar-{method}", DataTable).add_columns("#", "product", "score")
        self.app.service_ready.subscribe(self, lambda _: self.find_similar())
        self.describe()
        if self.app.service is not None:
            self.find_similar()
        else:
            self.query_one("#label-collaborative", Static).update("loading the model…")
        self.query_one("#similar-collaborative").focus()

    def describe(self) -> None:
        tables = self.app.tables
        if tables is None:
            return
        row = tables.products.row(self.item, named=True)
        price = row.get("price")
        parts = [f"[b]{row['title']}[/b]  ({row['item_id']})"]
        facts = [str(row[c]) for c in ("category", "brand") if row.get(c)]
        if price is not None and price == price:
            facts.append(f"{price:,.2f}")
        if row.get("launch_date"):
            facts.append(f"launched {str(row['launch_date'])[:10]}")
        facts.append(f"{row['shoppers']:,} shoppers")
        parts.append(" · ".join(facts))
        if row.get("description"):
            parts.append(f"[dim]{row['description']}[/dim]")
        self.query_one("#product", Static).update("\n".join(parts))

    @work(thread=True, exclusive=True, group="similar", exit_on_error=False)
    def find_similar(self) -> None:
        from recsys_cli.tui.app import one_line

        service = self.app.service
        item_id = str(service.item_ids[self.item])
        try:
            found = {m: service.similar(item_id, K, method=m) for m in ("collaborative", "content")}
        except Exception as exc:  # noqa: BLE001
            self.app.call_from_thread(self.notify, one_line(exc), severity="error")
            return
        self.app.call_from_thread(self._show, found)

    def _show(self, found: dict[str, Similar | None]) -> None:
        self.similar = found
        service = self.app.service
        width = max(self.size.width // 2 - 2 - 6 - 2 * 3 - 2, 12)
        for method, sim in found.items():
            table = self.query_one(f"#similar-{method}", DataTable)
            table.clear()
            if sim is None:
                continue
            table.add_rows([
                (str(rank), fit(str(service.catalog.titles[service.item_index(s.item_id)]), width),
                 f"{s.score:.3f}")
                for rank, s in enumerate(sim.items, 1)
            ])
            label = f"collaborative ({sim.model})" if method == "collaborative" else "content (text similarity)"
            self.query_one(f"#label-{method}", Static).update(f"[b]{label}[/b]")

    def action_back(self) -> None:
        self.dismiss()

    @on(DataTable.RowSelected)
    def open_similar(self, event: DataTable.RowSelected) -> None:
        """Enter on a similar product opens it (its own similar products)."""
        method = (event.data_table.id or "").removeprefix("similar-")
        sim = self.similar.get(method)
        if sim is None or event.cursor_row >= len(sim.items):
            return
        self.app.push_screen(ProductDetailScreen(self.app.service.item_index(sim.items[event.cursor_row].item_id)))
