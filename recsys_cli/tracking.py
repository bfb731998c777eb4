"""MLflow tracking of stage runs (interface; the implementation is being written).

Stages and the tuner call only these functions; they do nothing when no run is
active (``tracking=none`` or outside a CLI stage run), so library code never
depends on MLflow being configured.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def active() -> bool:
    """Is an MLflow run open for the current stage?"""
    return False


def log_metrics(metrics: dict[str, float], step: int | None = None) -> None:
    """Numeric metrics of the current run (``step``: e.g. the epoch of a training curve)."""


def log_params(params: dict[str, Any]) -> None:
    """Params of the current run (flattened dotted keys)."""


def log_artifact(path: Path, subdir: str | None = None) -> None:
    """A file or directory as an artifact of the current run."""


def log_trial(number: int, params: dict[str, Any], value: float | None, state: str,
              curve: list[float] | None = None) -> None:
    """One finished tuning trial, as a nested run under the tune stage's run."""
