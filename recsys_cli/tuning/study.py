"""The stored study: its identity, storage, resume and the optimisation loop.

The study lives in ``data/tune/study.journal`` (Optuna's append-only journal,
the default) or ``data/tune/study.db`` (SQLite), next to best_params.json
(see :mod:`recsys_cli.tuning.storage`).
Its name is the model plus a hash of everything that defines the objective:
the search space, the metric, the model's fixed params and source file, the
seed, the relevance rules, the features config and the fingerprints of the
train and valid windows (never the test window's). So a rerun of the same objective resumes the stored study,
while a changed space, metric or split starts a fresh one in the same file.

Resuming: ``tune.trials`` is the number of finished (complete or pruned)
trials the study ends with, so a rerun after an interruption runs only the
rest. A trial the interruption caught (failed by Ctrl-C, or left running by a
killed process) is marked failed and its params are queued again, first. The
sampler is reseeded with ``tune.seed`` plus the number of stored trials, so
a resumed study does not replay the random start it already ran.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from recsys_cli import layout
from recsys_cli.config import Config, TuneConfig
from recsys_cli.errors import RecsysError
from recsys_cli.schema import to_dict
from recsys_cli.tuning.pruning import make_pruner
from recsys_cli.tuning.space import default_point

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
Callback = Callable[[optuna.Study, FrozenTrial], None]


def window_fingerprint(processed: Path) -> dict[str, Any]:
    """What identifies the train and valid windows (never the test window): hashes from split_report.json."""
    path = processed / layout.SPLIT_REPORT
    info = json.loads(path.read_text()) if path.is_file() else {}
    prints = info.get("fingerprints") or {}
    out: dict[str, Any] = {"method": info.get("method"), "t1": info.get("t1")}
    for name in ("train", "valid"):
        out[name] = {"hash": prints.get(name), "events": (info.get(name) or {}).get("events")}
    return out


def model_source(name: str) -> str:
    """A hash of the model's own source file, so a changed implementation starts a fresh study.

    (Code the model shares with others, e.g. ``factors.py``, is not covered:
    ``tune.resume=false`` starts over.)
    """
    from recsys_cli.models import model_class

    try:
        path = inspect.getsourcefile(model_class(name))
    except TypeError:
        return ""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16] if path else ""


def study_name(cfg: Config, fingerprint: dict[str, Any]) -> str:
    """``<model>-<12 hex>``: the same objective gives the same name, any change a new one."""
    payload = {
        "model": cfg.to_dict()["model"],
        "source": model_source(cfg.model.name),
        "space": {name: to_dict(spec) for name, spec in cfg.tune.space.items()},
        "metric": cfg.tune.metric,
        "seed": cfg.seed,
        "relevant": {"events": cfg.eval.relevant_events, "exclude_seen": cfg.eval.exclude_seen},
        "features": to_dict(cfg.features),
        "data": fingerprint,
    }
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return f"{cfg.model.name}-{digest}"


def make_sampler(tune: TuneConfig, offset: int = 0) -> optuna.samplers.BaseSampler:
    """Seeded TPE; ``offset`` (trials already stored) keeps a resumed study from replaying its random start."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(
            seed=tune.seed + offset, n_startup_trials=tune.n_startup_trials,
            multivariate=tune.multivariate, group=tune.multivariate,
        )


def open_study(
    tune: TuneConfig, name: str, storage: optuna.storages.BaseStorage, defaults: dict[str, Any]
) -> optuna.Study:
    """Load the stored study of this objective (or create it) and queue what must run first.

    Queued first: the params of trials an interruption caught; in a new
    study, the model's configured params (``user_attrs.default``), so the
    best is never worse than the default on validation.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if not tune.resume and name in {s.study_name for s in optuna.get_all_study_summaries(storage)}:
        optuna.delete_study(study_name=name, storage=storage)
    study = optuna.create_study(
        study_name=name, storage=storage, direction="maximize", load_if_exists=True,
        sampler=make_sampler(tune), pruner=make_pruner(tune),
    )
    trials = study.get_trials(deepcopy=False)
    if trials:
        study.sampler = make_sampler(tune, offset=len(trials))
    for trial in trials:
        if trial.state == TrialState.RUNNING:  # left by a killed process (one tuner per study)
            study.tell(trial.number, state=TrialState.FAIL)
    retried = {t.user_attrs.get("retry_of") for t in trials}
    for trial in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)):
        if trial.number not in retried and trial.params:
            attrs = {"retry_of": trial.number, **({"default": True} if trial.user_attrs.get("default") else {})}
            study.enqueue_trial(trial.params, user_attrs=attrs)
    if not trials:
        point = default_point(tune.space, defaults)
        if point is not None:
            study.enqueue_trial(point, user_attrs={"default": True})
    return study


def finished(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=FINISHED))


def optimize(
    study: optuna.Study, objective: Callable[[optuna.Trial], float], trials: int,
    timeout: float | None = None, callbacks: Sequence[Callback] = (),
) -> None:
    """Run until ``trials`` trials have finished in the study, or ``timeout`` seconds have passed.

    Optuna checks the timeout between trials: a running trial completes.
    A trial that raises stops the study (Ctrl-C too); the next run retries it.
    A trial that fails on the user's data or config (a RecsysError, or out of
    memory) ends the run with one line naming the trial and its params, with
    no traceback from Optuna.
    """
    remaining = trials - finished(study)
    if remaining <= 0:
        return

    def guarded(trial: optuna.Trial) -> float:
        try:
            return objective(trial)
        except RecsysError as exc:  # one line naming the trial; Optuna's own report (with traceback) stays quiet
            raise type(exc)(f"tune: trial {trial.number} with {trial.params} failed: {exc}") from None
        except MemoryError:
            raise RecsysError(f"tune: trial {trial.number} with {trial.params} ran out of memory") from None

    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # Optuna logs a failed trial with its traceback
    try:
        study.optimize(guarded, n_trials=remaining, timeout=timeout, callbacks=list(callbacks), gc_after_trial=False)
    finally:
        optuna.logging.set_verbosity(level)
