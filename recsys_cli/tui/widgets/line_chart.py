"""Metrics against K as lines, drawn in the terminal with plotext."""

from __future__ import annotations

from textual_plotext import PlotextPlot



class LineChart(PlotextPlot):
    """One line per series over shared x values."""

    def __init__(self, title: str = "", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.title = title
        self.x: list[float] = []
        self.series: dict[str, list[float]] = {}

    def plot(self, x: list[float], series: dict[str, list[float]], title: str | None = None,
             xlabel: str = "K") -> None:
        self.x, self.series = list(x), dict(series)
        if title is not None:
            self.title = title
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(self.title)
        plt.xlabel(xlabel)
        for name, values in self.series.items():
            plt.plot(self.x, values, label=name, marker="braille")
        if self.x:
            plt.xticks(self.x, [f"{v:g}" for v in self.x])
        self.refresh()
