"""Hyper-parameter tuning with Optuna: the work behind ``recsys tune``.

- ``space``: search spaces as data (conf/tune/<model>.yaml), conditional params
- ``objective``: one trial = fit on train, score on valid (never test)
- ``pruning``: per-epoch valid scores -> median / successive-halving pruning
- ``study``: the stored study's identity, resume, the optimisation loop
- ``storage``: the journal (or SQLite) file under data/tune/, one writer at a time
- ``monitor``: progress bar (trials, best so far, ETA) and per-trial tracking
- ``results`` / ``plots``: best_params.json + trials.json; history and importance PNGs

:func:`tune` runs a whole study on already loaded train data.
"""

from __future__ import annotations

from pathlib import Path

import optuna

from recsys_cli.config import Config
from recsys_cli.models import TrainData, params_of
from recsys_cli.schema import to_dict
from recsys_cli.tuning.monitor import StudyMonitor
from recsys_cli.tuning.objective import Objective
from recsys_cli.tuning.storage import opened, storage_path
from recsys_cli.tuning.study import Callback, finished, open_study, optimize, study_name, window_fingerprint

__all__ = ["tune"]


def tune(
    cfg: Config, data: TrainData, directory: Path, callbacks: list[Callback] | None = None
) -> tuple[optuna.Study, int]:
    """Resume (or start) the study of ``cfg``'s objective in ``directory`` and run it to ``tune.trials``.

    Returns the study and how many finished trials it held before this run.
    ``callbacks`` run after each trial, after the progress bar's.
    """
    objective = Objective(cfg.model, cfg.tune, data, cfg.eval.batch_size)  # checks the metric first
    name = study_name(cfg, window_fingerprint(cfg.paths.processed))
    with opened(storage_path(cfg.tune, directory), cfg.tune.storage) as storage:
        study = open_study(cfg.tune, name, storage, to_dict(params_of(cfg.model)))
        done = finished(study)
        with StudyMonitor(cfg.model.name, cfg.tune.metric, cfg.tune.trials, done, cfg.tune.timeout) as monitor:
            monitor.start_from(study)
            optimize(study, objective, cfg.tune.trials, cfg.tune.timeout, [monitor, *(callbacks or [])])
    return study, done
