"""What the shoppers and catalog screens share: a virtual table of rows filtered in a worker."""

from __future__ import annotations

import numpy as np
from textual import work
from textual.screen import Screen
from textual.widgets import Input, Static

from recsys_cli.tui.tables import Tables
from recsys_cli.tui.widgets.virtual_table import VirtualTable


class FilteredListScreen(Screen):
    """Subclasses say what they list (``noun``, the ids of their search box and count line) and how the
    tables filter it (``filtered``); filtering runs in a worker, the newest request wins."""

    noun = "rows"
    search_id = "search"
    count_id = "count"

    def filtered(self, tables: Tables) -> tuple[np.ndarray, int]:
        """The matching rows in display order, and how many there are in all."""
        raise NotImplementedError

    @work(thread=True, exclusive=True, group="filter", exit_on_error=False)
    def apply_filter(self) -> None:
        tables = self.app.tables
        if tables is None:
            return
        order, total = self.filtered(tables)
        self.app.call_from_thread(self._show, order, total)

    def _show(self, order: np.ndarray, total: int) -> None:
        self.order = order
        self.query_one(VirtualTable).set_rows(order)
        self.query_one(f"#{self.count_id}", Static).update(
            f"{order.size:,} of {total:,} {self.noun} · enter opens one · tab: filters · x clears them")

    def action_search(self) -> None:
        self.query_one(f"#{self.search_id}", Input).focus()

    def action_focus_table(self) -> None:
        self.query_one(VirtualTable).focus()
