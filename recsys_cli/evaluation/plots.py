"""PNG charts of an evaluation for the README and reports (matplotlib, no screen needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from recsys_cli.atomic import atomic_file


def _save(fig: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    with atomic_file(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def _figure(title: str):  # noqa: ANN202
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    return fig, ax


def metrics_at_k(curve: list[dict[str, Any]], names: tuple[str, ...], title: str, path: Path) -> None:
    fig, ax = _figure(title)
    ks = [row["k"] for row in curve]
    for name in names:
        values = [row.get(name) for row in curve]
        if all(v is not None for v in values):
            ax.plot(ks, values, marker="o", label=name)
    ax.set_xlabel("k")
    ax.set_xticks(ks)
    ax.legend(fontsize=8)
    _save(fig, path)


def segment_bars(levels: dict[str, dict[str, Any]], metric: str, title: str, path: Path) -> None:
    fig, ax = _figure(title)
    names = [name for name, row in levels.items() if row.get(metric) is not None]
    values = [levels[n][metric] for n in names]
    bars = ax.bar(names, values, color="#4C72B0")
    for bar, n in zip(bars, names, strict=True):
        ax.annotate(f"{levels[n]['users']:,} users", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center", va="bottom", fontsize=7)
    ax.set_ylabel(metric)
    _save(fig, path)
