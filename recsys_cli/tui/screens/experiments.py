"""Experiments: the arms of online experiments with CTR, conversion, revenue and intervals; traffic over time.

The numbers come from :func:`recsys_cli.tui.experiments_source.load`; until
an event store exists it answers with how to start an experiment, shown here.
"""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Select, Static

from recsys_cli.tui import experiments_source
from recsys_cli.tui.experiments_source import Experiment, Interval, NotStarted
from recsys_cli.tui.widgets.line_chart import LineChart


def cell(i: Interval, digits: int = 4) -> str:
    text = f"{i.value:.{digits}f}"
    if i.low is not None and i.high is not None:
        text += f" [{i.low:.{digits}f}, {i.high:.{digits}f}]"
    return text


class ExperimentsScreen(Screen):
    CSS_PATH = "experiments.tcss"
    BINDINGS = [Binding("ctrl+r", "reload", "Reload")]

    def __init__(self) -> None:
        super().__init__()
        self.experiments: list[Experiment] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="experiment-note")
        yield Select([], prompt="experiment", id="experiment", compact=True)
        yield DataTable(id="arms", cursor_type="row")
        yield LineChart("traffic share", id="traffic")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#arms", DataTable).add_columns("arm", "impressions", "CTR", "conversion", "revenue/1000")
        self.action_reload()

    @work(thread=True, exclusive=True, group="experiments", exit_on_error=False)
    def action_reload(self) -> None:
        from recsys_cli.tui.app import one_line

        try:
            found = experiments_source.load(self.app.cfg)
        except Exception as exc:  # noqa: BLE001
            self.app.call_from_thread(self.notify, one_line(exc), severity="error")
            return
        self.app.call_from_thread(self.show, found)

    def show(self, found: list[Experiment] | NotStarted) -> None:
        started = not isinstance(found, NotStarted)
        for selector in ("#experiment", "#arms", "#traffic"):
            self.query_one(selector).display = started
        note = self.query_one("#experiment-note", Static)
        if isinstance(found, NotStarted):
            note.update(found.message)
            return
        self.experiments = found
        note.update(f"{len(found)} experiment{'s' if len(found) != 1 else ''} in the event store")
        select = self.query_one("#experiment", Select)
        select.set_options([(e.name, i) for i, e in enumerate(found)])
        if found:
            select.value = 0
            self.draw(found[0])

    def on_select_changed(self, event: Select.Changed) -> None:
        if isinstance(event.value, int) and event.value < len(self.experiments):
            self.draw(self.experiments[event.value])

    def draw(self, experiment: Experiment) -> None:
        table = self.query_one("#arms", DataTable)
        table.clear()
        for arm in experiment.arms:
            table.add_row(arm.name, f"{arm.impressions:,}", cell(arm.ctr), cell(arm.conversion),
                          cell(arm.revenue, 2))
        names = [a.name for a in experiment.arms]
        x = list(range(1, len(experiment.traffic) + 1))
        series = {n: [float(share.get(n, 0.0)) for _, share in experiment.traffic] for n in names}
        self.query_one("#traffic", LineChart).plot(x, series, title="traffic share by period", xlabel="period")
