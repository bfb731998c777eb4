"""Where the experiments screen gets its numbers: one function, :func:`load`.

Online experiments (arms served by ``recsys serve``, outcomes in its event
store) are being built in ``recsys_cli/serve/``. Until that store exists
:func:`load` answers with how to start one; wiring it is this one function
returning :class:`Experiment` values, the screen draws whatever it gets.
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
    return NotStarted(store=None)
