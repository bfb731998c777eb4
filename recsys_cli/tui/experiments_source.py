"""Where the experiments screen gets its numbers: one function, :func:`load`.

Online experiments (arms served by ``recsys serve``, outcomes in its event
store, ``serve.events``): every experiment with its arms' CTR, conversion and
revenue per 1,000 impressions with their intervals (the same numbers as
``recsys ab report``) and the traffic share over time. With no store, or an
empty one, :func:`load` answers with how to start one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from recsys_cli.config import Config

HOW_TO_START = (
    "No online experiment yet. Start one: serve the bundle with `recsys serve` and send it traffic "
    "(`recsys ab simulate` replays simulated shoppers against the arms); the arms, their CTR, "
    "conversion and revenue with intervals, and the traffic share over time then show here."
)


@dataclass
class Interval:
    value: float
    low: float | None = None
    high: float | None = None


@dataclass
class Arm:
    name: str
    impressions: int
    ctr: Interval
    conversion: Interval
    revenue: Interval  # per 1,000 impressions


@dataclass
class Experiment:
    name: str
    arms: list[Arm]
    # traffic share over time: (period label, {arm: share of that period's impressions})
    traffic: list[tuple[str, dict[str, float]]] = field(default_factory=list)
    status: str = ""


@dataclass
class NotStarted:
    message: str = HOW_TO_START
    store: Path | None = None


def load(cfg: Config) -> list[Experiment] | NotStarted:
    """Every experiment in the event store, or how to start one when there is no store yet."""
    from recsys_cli.ab import report
    from recsys_cli.errors import RecsysError
    from recsys_cli.serve.events import store_url

    url = store_url(cfg.serve.events, cfg.paths.data_dir)
    path = Path(url.split("sqlite:///", 1)[1]) if url and url.startswith("sqlite:///") else None
    try:
        store = report.open_store(cfg)
    except RecsysError:
        return NotStarted(store=path)
    try:
        rows = store.experiments()
        if not rows:
            return NotStarted(store=path)
        out = []
        for row in rows:
            result = report.compute(store, row, cfg.ab.alpha, n_boot=500, seed=cfg.ab.seed)
            line = report.timeline(store, row["name"], bins=12)
            arms = [Arm(name=a["arm"], impressions=a["impressions"],
                        ctr=Interval(a["ctr"] or 0.0, *a["ctr_ci"]),
                        conversion=Interval(a["conversion"] or 0.0, *a["conversion_ci"]),
                        revenue=Interval(a["revenue_per_1000"] or 0.0, *a["revenue_per_1000_ci"]))
                    for a in result["arms"]]
            traffic = [(f"{t:.0f}m", {arm: share[i] for arm, share in line.get("share", {}).items()})
                       for i, t in enumerate(line.get("t", []))]
            out.append(Experiment(name=row["name"], arms=arms, traffic=traffic, status=row["status"]))
        return out
    finally:
        store.close_sync()
