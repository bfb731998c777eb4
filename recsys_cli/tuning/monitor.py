"""What a running study reports as it goes: a progress bar, and a tracking record per trial.

The bar (rich, on stderr like every progress bar of recsys) counts finished
trials out of ``tune.trials`` (a resumed study starts where it stopped), shows
the best value so far with its trial number, how many trials were pruned,
and an ETA from the pace of this run, capped by what ``tune.timeout`` leaves.
"""

from __future__ import annotations

import math
import time

import optuna
from optuna.trial import FrozenTrial, TrialState
from rich.progress import (
    BarColumn, MofNCompleteColumn, Progress, ProgressColumn, SpinnerColumn, Task, TextColumn, TimeElapsedColumn,
)
from rich.text import Text

from recsys_cli import tracking
from recsys_cli.progress import console


class EtaColumn(ProgressColumn):
    """Time left: the remaining trials at this run's pace, never past the timeout."""

    def __init__(self, deadline: float | None) -> None:
        super().__init__()
        self.deadline = deadline

    def render(self, task: Task) -> Text:
        left = task.time_remaining
        if self.deadline is not None:
            until = max(self.deadline - time.monotonic(), 0.0)
            left = until if left is None else min(left, until)
        if left is None or task.finished:
            return Text("eta -:--:--", style="progress.remaining")
        m, s = divmod(int(math.ceil(left)), 60)
        h, m = divmod(m, 60)
        return Text(f"eta {h}:{m:02d}:{s:02d}", style="progress.remaining")


class StudyMonitor:
    """An Optuna callback: advance the bar and log the trial to tracking after each trial."""

    def __init__(self, model: str, metric: str, total: int, done: int, timeout: float | None) -> None:
        self.model, self.metric = model, metric
        deadline = time.monotonic() + timeout if timeout else None
        self.bar = Progress(
            SpinnerColumn(), TextColumn("[progress.description]{task.description}"), BarColumn(),
            MofNCompleteColumn(), TimeElapsedColumn(), EtaColumn(deadline), console=console,
        )
        self.pruned = 0
        self.best: FrozenTrial | None = None
        self.task = self.bar.add_task(self._describe(), total=total, completed=min(done, total))

    def start_from(self, study: optuna.Study) -> None:
        """Show the stored best of a resumed study from the start."""
        complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        self.best = max(complete, key=lambda t: t.value, default=None)  # type: ignore[arg-type, return-value]
        self.pruned = len(study.get_trials(deepcopy=False, states=(TrialState.PRUNED,)))
        self.bar.update(self.task, description=self._describe())

    def __enter__(self) -> StudyMonitor:
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()

    def _describe(self) -> str:
        text = f"tuning {self.model}"
        best = self.best
        if best is not None:
            text += f": best {self.metric} {best.value:.4f} (#{best.number})"
        return text + (f", {self.pruned} pruned" if self.pruned else "")

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        curve = [float(v) for _, v in trial.user_attrs.get("measured", {}).get("curve", [])]
        tracking.log_trial(trial.number, trial.params, trial.value, trial.state.name, curve or None)
        if trial.state not in (TrialState.COMPLETE, TrialState.PRUNED):
            return
        self.pruned += trial.state == TrialState.PRUNED
        if trial.state == TrialState.COMPLETE and (self.best is None or trial.value > self.best.value):  # type: ignore[operator]
            self.best = trial
        self.bar.update(self.task, advance=1, description=self._describe())
