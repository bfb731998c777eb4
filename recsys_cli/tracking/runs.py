"""The tracking session: one MLflow run per stage (nested under a parent for ``recsys run``).

See :mod:`recsys_cli.tracking` for what is logged and where. Module state: the
open session (``_session``), so stages and models log without holding a handle.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recsys_cli import __version__
from recsys_cli.errors import ConfigError

if TYPE_CHECKING:
    from recsys_cli.config import Config

from recsys_cli.tracking.outputs import stage_outputs, stage_reports
from recsys_cli.tracking.provenance import data_tags, git_commit
from recsys_cli.tracking.values import MAX_TAG_VALUE, flatten, metric_key, numeric, param_value

MAX_FAILURES = 3  # MLflow errors in one session before it stops tracking
STORE_DB = "mlflow.db"
STORE_ARTIFACTS = "mlartifacts"

# A remote store that stops answering should cost seconds, not MLflow's default minutes of retries.
_ENV_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",  # status lines are ours; no tqdm bars in the stage output
}



# -------------------------------------------------------------------- the session


@dataclass
class _Session:
    client: Any  # mlflow.MlflowClient
    uri: str
    experiment_id: str
    cfg: Config
    command: str
    parent: str | None = None  # the `recsys run` run
    current: str | None = None  # the stage's run
    stage_name: str | None = None
    pending: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # step metrics of the running trial
    failures: int = 0
    off: bool = False
    warned: set[str] = field(default_factory=set)
    lock: threading.RLock = field(default_factory=threading.RLock)


_session: _Session | None = None


def _warn(message: str) -> None:
    from recsys_cli.progress import console

    from rich.markup import escape

    console.print(f"[yellow]warning:[/] mlflow: {escape(message)}", highlight=False, soft_wrap=True)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


def _safe(what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call MLflow; an error becomes one warning line (and after a few, tracking stops for this command)."""
    s = _session
    if s is None or s.off:
        return None
    try:
        with _quiet():
            return fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - tracking must never break a stage
        with s.lock:
            s.failures += 1
            line = f"{what}: {_one_line(exc)}"
            if line not in s.warned:
                s.warned.add(line)
                _warn(line)
            if s.failures >= MAX_FAILURES and not s.off:
                s.off = True
                _warn(f"{s.failures} errors; tracking is off for the rest of this command")
        return None


@contextmanager
def _quiet() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _quiet_loggers() -> None:
    for name in ("mlflow", "alembic", "alembic.runtime.migration"):
        logging.getLogger(name).setLevel(logging.WARNING)


def store_uri(cfg: Config) -> tuple[str, bool]:
    """The tracking URI this config uses, and whether it was given explicitly."""
    if cfg.tracking.uri:  # config is the one source of truth: $MLFLOW_TRACKING_URI is not read
        return cfg.tracking.uri, True
    root = Path(cfg.paths.root).resolve()
    return f"sqlite:///{(root / STORE_DB).as_posix()}", False


def connect(cfg: Config) -> tuple[Any, str, str]:
    """An MLflow client on the configured store, and its experiment id (created if missing).

    Raises ConfigError when the store cannot be used.
    """
    for key, value in _ENV_DEFAULTS.items():
        os.environ.setdefault(key, value)
    uri, explicit = store_uri(cfg)
    try:
        with _quiet():
            import mlflow
            from mlflow import MlflowClient

            _quiet_loggers()
            if not explicit:
                Path(cfg.paths.root).resolve().mkdir(parents=True, exist_ok=True)
            _check_sqlite(uri)
            mlflow.set_tracking_uri(uri)
            mlflow.set_registry_uri(uri)
            client = MlflowClient(tracking_uri=uri, registry_uri=uri)
            name = cfg.tracking.experiment
            experiment = client.get_experiment_by_name(name)
            if experiment is None:
                location = None if explicit else (Path(cfg.paths.root).resolve() / STORE_ARTIFACTS).as_uri()
                experiment_id = client.create_experiment(name, artifact_location=location)
            else:
                experiment_id = experiment.experiment_id
                if experiment.lifecycle_stage == "deleted":
                    client.restore_experiment(experiment_id)
    except Exception as exc:  # noqa: BLE001 - MLflow raises many kinds
        where = f"tracking.uri={uri}" if explicit else f"local MLflow store {uri}"
        raise ConfigError(f"{where}: cannot use it ({_one_line(exc)}); tracking=none turns tracking off") from None
    return client, uri, experiment_id


def _check_sqlite(uri: str) -> None:
    """Open a sqlite store once ourselves: MLflow retries a bad one for about 100 s before it gives up."""
    if not uri.startswith("sqlite:///"):
        return
    path = uri[len("sqlite:///"):].split("?", 1)[0]
    if not path or path == ":memory:":
        return
    import sqlite3

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=10)
    try:
        connection.execute("pragma schema_version").fetchone()
    finally:
        connection.close()


@contextmanager
def session(cfg: Config, command: str, stages: list[str]) -> Iterator[None]:
    """Track the stages a CLI command runs; a parent run when there is more than one.

    A bad explicit ``tracking.uri`` raises ConfigError here, before any work;
    a local store that fails is a warning and the stages run untracked.
    Ctrl-C marks the open runs KILLED, an error FAILED.
    """
    global _session
    if not cfg.tracking.enabled or _session is not None:
        yield
        return
    try:
        client, uri, experiment_id = connect(cfg)
    except ConfigError as exc:
        if store_uri(cfg)[1]:
            raise
        _warn(f"{exc}; running untracked this time")
        yield
        return
    _session = _Session(client=client, uri=uri, experiment_id=experiment_id, cfg=cfg, command=command)
    try:
        if len(stages) > 1:
            _session.parent = _start_run(command, None, {"recsys.stages": ",".join(stages)})
        try:
            yield
        except KeyboardInterrupt:
            _end_run(_session.parent, "KILLED", "interrupted (Ctrl-C)")
            raise
        except BaseException as exc:
            _end_run(_session.parent, "FAILED", _one_line(exc))
            raise
        else:
            _end_run(_session.parent, "FINISHED")
    finally:
        _session = None


@contextmanager
def stage(cfg: Config, name: str) -> Iterator[None]:
    """One stage's MLflow run (nested under the session's parent run, if any)."""
    s = _session
    if s is None:
        yield
        return
    run_id = _start_run(name, s.parent, {"recsys.stage": name})
    s.current, s.stage_name, s.pending = run_id, name, {}
    try:
        try:
            yield
        except KeyboardInterrupt:
            _end_run(run_id, "KILLED", "interrupted (Ctrl-C)")
            raise
        except BaseException as exc:
            _end_run(run_id, "FAILED", _one_line(exc))
            raise
        _record_outputs(cfg, name, run_id)
        _end_run(run_id, "FINISHED")
    finally:
        s.current, s.stage_name, s.pending = None, None, {}


def _base_tags(cfg: Config) -> dict[str, str]:
    commit = git_commit()
    return {
        "recsys.version": __version__,
        "recsys.command": _session.command if _session else "",
        "model.name": cfg.model.name,
        "data.source": cfg.data.source,
        "git.commit": commit,
        "mlflow.source.git.commit": commit,
        "mlflow.source.name": "recsys",
        "mlflow.source.type": "LOCAL",
        **data_tags(cfg),
    }


def _start_run(name: str, parent: str | None, extra_tags: dict[str, str]) -> str | None:
    s = _session
    assert s is not None
    tags = {**_base_tags(s.cfg), **extra_tags}
    if parent:
        tags["mlflow.parentRunId"] = parent
    try:
        import getpass

        tags["mlflow.user"] = getpass.getuser()
    except Exception:  # noqa: BLE001
        pass
    run = _safe(f"start run {name}", s.client.create_run, s.experiment_id, tags=tags, run_name=name)
    if run is None:
        return None
    run_id = run.info.run_id
    _log_params_to(run_id, flatten(s.cfg.to_dict()))
    return run_id


def _end_run(run_id: str | None, status: str, error: str | None = None) -> None:
    s = _session
    if s is None or run_id is None:
        return
    if error:
        _safe("tag error", s.client.set_tag, run_id, "error", error[:MAX_TAG_VALUE])
    _safe("data tags", _set_tags, run_id, data_tags(s.cfg))
    was_off, s.off = s.off, False  # always try to close the run, even after errors
    try:
        _safe(f"end run ({status})", s.client.set_terminated, run_id, status)
    finally:
        s.off = was_off


def _set_tags(run_id: str, tags: dict[str, str]) -> None:
    from mlflow.entities import RunTag

    assert _session is not None
    _session.client.log_batch(run_id, tags=[RunTag(k, str(v)[:MAX_TAG_VALUE]) for k, v in tags.items()])


def _log_params_to(run_id: str, params: dict[str, Any]) -> None:
    s = _session
    if s is None or run_id is None or not params:
        return
    from mlflow.entities import Param

    items = [Param(metric_key(k), param_value(v)) for k, v in params.items() if k]
    _safe("log params", s.client.log_batch, run_id, params=items)


def _log_metrics_to(run_id: str | None, metrics: dict[str, float], step: int | None = None) -> None:
    s = _session
    if s is None or run_id is None or not metrics:
        return
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    items = [
        Metric(metric_key(k), float(v), now, int(step or 0))
        for k, v in metrics.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    ]
    _safe("log metrics", s.client.log_batch, run_id, metrics=items)


def _log_path(run_id: str | None, path: Path, subdir: str | None) -> None:
    s = _session
    if s is None or run_id is None or not path.exists():
        return
    if path.is_dir():
        _safe(f"log artifacts {path.name}", s.client.log_artifacts, run_id, str(path), subdir)
    else:
        _safe(f"log artifact {path.name}", s.client.log_artifact, run_id, str(path), subdir)


def _record_outputs(cfg: Config, name: str, run_id: str | None) -> None:
    s = _session
    if s is None or run_id is None:
        return
    for path, subdir in stage_outputs(cfg, name):
        _log_path(run_id, path, subdir)
    for path, prefix in stage_reports(cfg, name):
        try:
            report = json.loads(path.read_text()) if path.is_file() else None
        except (OSError, ValueError):
            report = None
        if isinstance(report, dict):
            values = numeric(report, prefix)
            _log_metrics_to(run_id, values)
            if s.parent:  # the parent run carries every stage's numbers, to compare whole runs
                _log_metrics_to(s.parent, values)




# ------------------------------------------------------------- what stages call


def active() -> bool:
    """Is an MLflow run open for the current stage?"""
    s = _session
    return s is not None and not s.off and s.current is not None


def current_run_id() -> str | None:
    """The current stage's MLflow run id (None when not tracking)."""
    return _session.current if active() else None  # type: ignore[union-attr]


def log_metrics(metrics: dict[str, float], step: int | None = None) -> None:
    """Numeric metrics of the current run (``step``: e.g. the epoch of a training curve).

    During ``tune``, stepped metrics (a trial's training curve) are held and
    logged to that trial's nested run by the next :func:`log_trial`.
    """
    s = _session
    if not active() or s is None:
        return
    clean = {
        k: float(v) for k, v in metrics.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))
    }
    if s.stage_name == "tune" and step is not None:
        with s.lock:
            for key, value in clean.items():
                s.pending.setdefault(key, []).append((int(step), value))
        return
    _log_metrics_to(s.current, clean, step)


def log_params(params: dict[str, Any]) -> None:
    """Params of the current run (nested mappings flattened to dotted keys)."""
    if active():
        _log_params_to(_session.current, flatten(params))  # type: ignore[union-attr]


def log_artifact(path: Path, subdir: str | None = None) -> None:
    """A file or directory as an artifact of the current run."""
    if active():
        _log_path(_session.current, Path(path), subdir)  # type: ignore[union-attr]


_TRIAL_STATUS = {"COMPLETE": "FINISHED", "PRUNED": "FINISHED", "FAIL": "FAILED", "RUNNING": "KILLED", "WAITING": "KILLED"}


def log_trial(number: int, params: dict[str, Any], value: float | None, state: str,
              curve: list[float] | None = None) -> None:
    """One finished tuning trial, as a nested run under the tune stage's run.

    Params: the trial's sampled params; metrics: ``value`` (and the tune
    metric by name), ``curve`` per step and any stepped metrics the trial
    logged; tags: ``optuna.trial`` and ``optuna.state``.
    """
    s = _session
    if not active() or s is None:
        return
    with s.lock:
        pending, s.pending = s.pending, {}
    state = str(state).rsplit(".", 1)[-1].upper()  # TrialState.COMPLETE or "COMPLETE"
    tags = {
        "mlflow.parentRunId": s.current,
        "optuna.trial": str(number),
        "optuna.state": state,
        "recsys.stage": "tune",
        "recsys.version": __version__,
        "model.name": s.cfg.model.name,
    }
    run = _safe(f"start trial {number}", s.client.create_run, s.experiment_id, tags=tags, run_name=f"trial-{number}")
    if run is None:
        return
    run_id = run.info.run_id
    _log_params_to(run_id, flatten(params))
    if value is not None and math.isfinite(float(value)):
        _log_metrics_to(run_id, {"value": float(value), s.cfg.tune.metric: float(value)})
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    steps = [Metric("curve", float(v), now, i) for i, v in enumerate(curve or []) if math.isfinite(float(v))]
    steps += [Metric(metric_key(k), v, now, step) for k, points in pending.items() for step, v in points]
    if steps:
        _safe("log trial curve", s.client.log_batch, run_id, metrics=steps)
    _safe(f"end trial {number}", s.client.set_terminated, run_id, _TRIAL_STATUS.get(state, "FINISHED"))


