"""A table over an index array, drawn line by line: 100,000 rows cost what the visible ones cost.

Textual's line API (``ScrollView.render_line``): the widget only knows the
row keys in display order (a numpy array) and, per column, a function from a
row key to its text. Setting a new order (a filter, a sort) swaps the array
and refreshes the visible lines; nothing is built per row. Columns have a
priority: on a narrow terminal the least important ones are left out, and
one column can grow into the spare width.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip


@dataclass(frozen=True)
class Column:
    label: str
    width: int  # the least width it needs
    cell: Callable[[int], str]  # row key -> its text
    right: bool = False  # right-aligned (numbers)
    priority: int = 0  # higher: left out first when the terminal is narrow
    grow: bool = False  # takes the spare width


def fit(text: str, width: int, right: bool = False) -> str:
    """``text`` cut or padded to exactly ``width`` cells (an ellipsis marks a cut)."""
    if cell_len(text) > width:
        return set_cell_size(text, max(width - 1, 0)) + "…" if width > 0 else ""
    pad = " " * (width - cell_len(text))
    return pad + text if right else text + pad


class VirtualTable(ScrollView, can_focus=True):
    """Rows are keys (ints) in display order; columns turn a key into text."""

    BINDINGS = [
        Binding("up,k", "move(-1)", "Up", show=False),
        Binding("down,j", "move(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "jump(0)", "First", show=False),
        Binding("end", "jump(-1)", "Last", show=False),
        Binding("enter", "select", "Open", show=False),
    ]
    COMPONENT_CLASSES = {"virtual-table--header", "virtual-table--cursor", "virtual-table--cursor-blur",
                         "virtual-table--empty"}

    cursor: reactive[int] = reactive(0, always_update=True, init=False)

    class Highlighted(Message):
        def __init__(self, table: VirtualTable, position: int, key: int) -> None:
            super().__init__()
            self.table, self.position, self.key = table, position, key

        @property
        def control(self) -> VirtualTable:
            return self.table

    class Selected(Highlighted):
        pass

    def __init__(self, columns: list[Column], *, empty: str = "nothing to show", id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.columns = columns
        self.empty = empty
        self.rows = np.zeros(0, dtype=np.int64)
        self._layout: list[tuple[Column, int]] = []
        self._layout_width = -1

    # ------------------------------------------------------------ data

    @property
    def row_count(self) -> int:
        return int(self.rows.size)

    @property
    def cursor_key(self) -> int | None:
        return int(self.rows[self.cursor]) if self.rows.size else None

    def set_rows(self, rows: np.ndarray, keep: bool = True) -> None:
        """Show these keys in this order; the cursor stays on its key when it is still listed."""
        key = self.cursor_key if keep else None
        self.rows = np.asarray(rows, dtype=np.int64)
        self.virtual_size = Size(0, self.row_count + 1)
        position = 0
        if key is not None and self.rows.size:
            found = np.flatnonzero(self.rows == key)
            position = int(found[0]) if found.size else 0
        if position == 0:
            self.scroll_to(y=0, animate=False, immediate=True)
        self.cursor = position
        self.refresh()

    def set_empty(self, text: str) -> None:
        self.empty = text
        self.refresh()

    # ------------------------------------------------------------ cursor

    def watch_cursor(self, position: int) -> None:
        if not self.rows.size:
            return
        position = min(max(position, 0), self.row_count - 1)
        if position != self.cursor:
            self.cursor = position
            return
        body = max(self.size.height - 1, 1)
        top = int(self.scroll_offset.y)
        if position < top:
            self.scroll_to(y=position, animate=False, immediate=True)
        elif position >= top + body:
            self.scroll_to(y=position - body + 1, animate=False, immediate=True)
        self.refresh()
        self.post_message(self.Highlighted(self, position, int(self.rows[position])))

    def action_move(self, step: int) -> None:
        if self.rows.size:
            self.cursor = min(max(self.cursor + step, 0), self.row_count - 1)

    def action_page(self, direction: int) -> None:
        self.action_move(direction * max(self.size.height - 2, 1))

    def action_jump(self, where: int) -> None:
        if self.rows.size:
            self.cursor = where % self.row_count

    def action_select(self) -> None:
        if self.rows.size:
            self.post_message(self.Selected(self, self.cursor, int(self.rows[self.cursor])))

    def on_click(self, event: events.Click) -> None:
        position = int(self.scroll_offset.y) + event.y - 1
        if 0 <= position < self.row_count:
            self.cursor = position
            if event.chain >= 2:
                self.action_select()

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def on_resize(self) -> None:
        self.virtual_size = Size(0, self.row_count + 1)
        self._layout_width = -1

    # ------------------------------------------------------------ drawing

    def _columns(self, width: int) -> list[tuple[Column, int]]:
        """The columns that fit ``width`` (by priority, in their order) and their widths."""
        if width == self._layout_width:
            return self._layout
        chosen = list(self.columns)
        while len(chosen) > 1 and sum(c.width for c in chosen) + len(chosen) - 1 > width:
            chosen.remove(max(chosen, key=lambda c: (c.priority, self.columns.index(c))))
        spare = width - (sum(c.width for c in chosen) + len(chosen) - 1)
        growers = [c for c in chosen if c.grow] or chosen[-1:]
        layout = []
        for col in chosen:
            extra = spare // len(growers) if col in growers and spare > 0 else 0
            layout.append((col, col.width + extra))
        self._layout, self._layout_width = layout, width
        return layout

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        layout = self._columns(width)
        if y == 0:
            text = " ".join(fit(c.label, w, c.right) for c, w in layout)
            return Strip([Segment(fit(text, width), base + self.get_component_rich_style("virtual-table--header"))])
        position = int(self.scroll_offset.y) + y - 1
        if not self.rows.size:
            if y == 1:
                style = base + self.get_component_rich_style("virtual-table--empty")
                return Strip([Segment(fit(" " + self.empty, width), style)])
            return Strip.blank(width, base)
        if position >= self.row_count:
            return Strip.blank(width, base)
        key = int(self.rows[position])
        text = " ".join(fit(c.cell(key), w, c.right) for c, w in layout)
        style = base
        if position == self.cursor:
            name = "virtual-table--cursor" if self.has_focus else "virtual-table--cursor-blur"
            style = base + self.get_component_rich_style(name)
        return Strip([Segment(fit(text, width), style)])
