"""Metrics: what ``reports/`` holds — the metric table with intervals, metric vs K, segments, two runs compared."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Select, Static, TabbedContent, TabPane

from recsys_cli.tui import reports
from recsys_cli.tui.widgets.bar_chart import BarChart
from recsys_cli.tui.widgets.line_chart import LineChart

AT_K = ("ndcg", "recall", "precision", "map", "mrr", "hit_rate")


def num(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:,.0f}" if float(value).is_integer() and abs(value) >= 1 else f"{value:.4f}"


def cell(row: reports.MetricRow | None) -> str:
    """A value with its interval, compactly: 0.126 (0.087-0.168)."""
    if row is None:
        return ""
    if row.low is None or row.high is None:
        return num(row.value) if row.value >= 1 else f"{row.value:.3f}"
    return f"{row.value:.3f} ({row.low:.3f}-{row.high:.3f})"


class MetricsScreen(Screen):
    CSS_PATH = "metrics.tcss"
    BINDINGS = [
        Binding("t", "tab('table')", "Table", show=False),
        Binding("k", "tab('at-k')", "At K", show=False),
        Binding("g", "tab('segments')", "Segments", show=False),
        Binding("c", "tab('compare')", "Compare", show=False),
        Binding("ctrl+r", "reload", "Reload", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.segments: dict[str, dict[str, dict]] = {}
        self.problems: list[str] = []

    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(initial="table"):
            with TabPane("Table [dim]t[/dim]", id="table"):
                yield Static("", id="table-note")
                yield DataTable(id="metric-table", cursor_type="row", zebra_stripes=True)
            with TabPane("At K [dim]k[/dim]", id="at-k"):
                yield LineChart("metrics at K", id="at-k-chart")
            with TabPane("Segments [dim]g[/dim]", id="segments"):
                yield Select([], prompt="breakdown", id="breakdown", compact=True)
                yield Select([], prompt="metric", id="segment-metric", compact=True)
                yield BarChart(id="segment-chart")
            with TabPane("Compare [dim]c[/dim]", id="compare"):
                yield Select([], prompt="comparison", id="comparison", compact=True)
                yield Static("", id="compare-result")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.load()

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def action_reload(self) -> None:
        self.load()

    def load(self) -> None:
        """Read every report (small JSON files); each missing one is a notification naming its command."""
        where: Path = self.app.reports_dir
        self.problems = []
        self._table(where)
        self._at_k(where)
        self._segments(where)
        self._comparisons(where)
        for problem in dict.fromkeys(self.problems):
            self.notify(problem, title="report missing", severity="warning", timeout=20)

    def _table(self, where: Path) -> None:
        table = self.query_one("#metric-table", DataTable)
        note = self.query_one("#table-note", Static)
        table.clear(columns=True)
        try:
            data = reports.metrics(where)
        except reports.ReportMissing as exc:
            self.problems.append(str(exc))
            note.update(str(exc))
            return
        users = data.get("users")
        note.update(f"model [b]{data.get('model', '?')}[/b]"
                    + (f" · {users:,} test users with history" if isinstance(users, int) else "")
                    + " · intervals: per-user bootstrap")
        ks, rows = reports.pivot(reports.metric_rows(data))
        table.add_column("metric", width=22)
        for k in ks:
            table.add_column(f"@{k}  [dim](95% interval)[/dim]", width=19)
        for row in rows:
            if row.plain is not None:
                table.add_row(row.metric, num(row.plain.value), *[""] * (len(ks) - 1))
                continue
            table.add_row(row.metric, *(cell(row.by_k.get(k)) for k in ks))

    def _at_k(self, where: Path) -> None:
        chart = self.query_one("#at-k-chart", LineChart)
        try:
            rows = reports.at_k(where)
        except reports.ReportMissing as exc:
            self.problems.append(str(exc))
            chart.plot([], {}, title="no reports/plots/metrics_at_k.json: run `recsys eval`")
            return
        ks = [float(r["k"]) for r in rows]
        series = {m: [float(r[m]) for r in rows] for m in AT_K if all(m in r for r in rows)}
        chart.plot(ks, series, title="metrics at K")

    def _segments(self, where: Path) -> None:
        try:
            self.segments = reports.segments(where)
        except reports.ReportMissing as exc:
            self.problems.append(str(exc))
            self.segments = {}
        names = list(self.segments)
        breakdown = self.query_one("#breakdown", Select)
        breakdown.set_options([(n, n) for n in names])
        metrics = sorted({k for seg in self.segments.values() for vals in seg.values() for k in vals
                          if "@" in k}, key=lambda m: (m.split("@")[0] not in AT_K, int(m.split("@")[1]), m))
        chooser = self.query_one("#segment-metric", Select)
        chooser.set_options([(m, m) for m in metrics])
        if names:
            breakdown.value = names[0]
        if "ndcg@10" in metrics:
            chooser.value = "ndcg@10"
        self.draw_segments()

    @on(Select.Changed, "#breakdown")
    @on(Select.Changed, "#segment-metric")
    def draw_segments(self) -> None:
        breakdown = self.query_one("#breakdown", Select).value
        metric = self.query_one("#segment-metric", Select).value
        chart = self.query_one("#segment-chart", BarChart)
        if breakdown is Select.NULL or metric is Select.NULL or breakdown not in self.segments:
            chart.plot([], [], title="no reports/segments.json: run `recsys eval`")
            return
        groups = self.segments[str(breakdown)]
        labels = [g for g, v in groups.items() if isinstance(v.get(metric), int | float)]
        users = {g: groups[g].get("users") for g in labels}
        chart.plot([f"{g} ({users[g]:,})" if isinstance(users[g], int) else g for g in labels],
                   [float(groups[g][metric]) for g in labels], title=f"{metric} by {breakdown} (users)")

    def _comparisons(self, where: Path) -> None:
        found = reports.comparisons(where)
        select = self.query_one("#comparison", Select)
        select.set_options([(p.stem.replace("_vs_", " vs "), str(p)) for p in found])
        if found:
            select.value = str(found[0])
        else:
            self.query_one("#compare-result", Static).update(
                f"No comparison in {where / 'compare'}: run `recsys eval compare A B` "
                "(e.g. recsys train model=popularity && recsys eval compare popularity als).")

    @on(Select.Changed, "#comparison")
    def show_comparison(self, event: Select.Changed) -> None:
        if event.value is Select.NULL:
            return
        out = self.query_one("#compare-result", Static)
        try:
            r = reports.comparison(Path(str(event.value)))
        except reports.ReportMissing as exc:
            out.update(str(exc))
            return
        n = r.get("n_users")
        p = r.get("p_wilcoxon")
        lines = [
            f"[b]{r['b']} vs {r['a']}[/b] on {r['metric']}" + (f", {n:,} users, paired" if isinstance(n, int) else ""),
            "",
            f"  {r['a']:<14} {r['mean_a']:.4f}",
            f"  {r['b']:<14} {r['mean_b']:.4f}",
            f"  difference     {r['diff']:+.4f}   95% interval {r['diff_lo']:+.4f} .. {r['diff_hi']:+.4f}",
        ]
        if isinstance(p, int | float):
            lines.append(f"  Wilcoxon p     {p:.4g}")
        if r.get("verdict"):
            lines += ["", str(r["verdict"])]
        out.update("\n".join(lines))
