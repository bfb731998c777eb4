"""One metric across segments (or arms) as bars, drawn in the terminal with plotext."""

from __future__ import annotations

from textual_plotext import PlotextPlot


class BarChart(PlotextPlot):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.labels: list[str] = []
        self.values: list[float] = []

    def plot(self, labels: list[str], values: list[float], title: str = "", horizontal: bool = True) -> None:
        self.labels, self.values = list(labels), list(values)
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(title)
        if self.labels:
            plt.bar(self.labels, self.values, orientation="horizontal" if horizontal else "vertical", width=0.5)
        self.refresh()
