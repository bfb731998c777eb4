"""MLflow tracking of stage runs, and the model registry behind ``recsys export``.

The CLI opens a session around the stages it runs (:func:`session`, then
:func:`stage` per stage): one MLflow run per stage, nested under one parent run
for ``recsys run``. Each run gets the whole composed config as params (dotted
keys), tags (recsys version, git commit, dataset and split hashes), the stage's
outputs as artifacts and its report numbers as metrics. The tuner adds one
nested run per trial (:func:`log_trial`); a training loop logs per-epoch curves
(:func:`log_metrics` with ``step``).

Stages and models call only :func:`active`, :func:`log_metrics`,
:func:`log_params`, :func:`log_artifact`, :func:`log_trial` and
:func:`register_bundle`; each does nothing when no session is open
(``tracking=none``, or a stage called as a plain function), so library code
never depends on MLflow being configured. MLflow is imported only when a
session opens.

Where: ``tracking.uri`` (any MLflow tracking URI; ``$MLFLOW_TRACKING_URI`` is not
read, pass it as ``tracking.uri=$MLFLOW_TRACKING_URI``), else a local store in
the project: ``sqlite:///<paths.root>/mlflow.db`` with
artifacts under ``<paths.root>/mlartifacts`` (MLflow's own defaults, so
``mlflow ui`` in the project directory shows the runs).

Tracking never breaks a stage: an MLflow error is one warning line, and after
a few the session stops tracking. Only a store given explicitly (URI) that
cannot be reached is an error, at the start, before any work.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import math
import os
import re
import subprocess
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recsys_cli import __version__
from recsys_cli.errors import ConfigError, RecsysError

if TYPE_CHECKING:
    from recsys_cli.config import Config

MAX_PARAM_VALUE = 6000  # MLflow's limit on a param value
MAX_KEY = 250  # and on a param/metric/tag key
MAX_TAG_VALUE = 8000
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


# ------------------------------------------------------------------ names, values


def metric_key(name: str) -> str:
    """An MLflow-safe metric/param key: ``ndcg@10`` -> ``ndcg_at_10``; other odd characters -> ``_``."""
    key = re.sub(r"[^\w.\-/ ]", "_", str(name).replace("@", "_at_"))
    return key[:MAX_KEY]


def param_value(value: Any) -> str:
    """A param value as text (JSON for non-strings), cut to MLflow's 6000 characters."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if len(text) > MAX_PARAM_VALUE:
        note = f"...[{len(text)} chars]"
        text = text[: MAX_PARAM_VALUE - len(note)] + note
    return text


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings -> ``{"a.b.c": leaf}``; lists and scalars are leaves; an empty mapping is ``{}``."""
    if isinstance(tree, dict) and tree:
        out: dict[str, Any] = {}
        for key, value in tree.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: tree} if prefix else {}


def numeric(tree: Any, prefix: str = "") -> dict[str, float]:
    """Every numeric leaf of a report (bools and text left out), under sanitised dotted keys."""
    out = {}
    for key, value in flatten(tree, prefix).items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[metric_key(key)] = float(value)
    return out


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


# ------------------------------------------------------------ what each stage leaves


def _outputs(cfg: Config, name: str) -> list[tuple[Path, str | None]]:
    p = cfg.paths
    reports = p.reports_dir
    return {
        "ingest": [(p.interim / "ingest_report.json", None)],
        "split": [(p.processed / "split_report.json", None)],
        "features": [(p.features / "features_report.json", None)],
        "tune": [(p.tune, "tune"), (reports / "tune", "tune/plots")],
        "train": [(p.models / cfg.model.name, "model")],
        "eval": [
            (reports / "metrics.json", None),
            (reports / "segments.json", None),
            (reports / "per_user.parquet", None),
            (reports / "plots", "plots"),
        ],
        "export": [],  # the bundle travels inside the registered model (register_bundle)
    }.get(name, [])


def _reports(cfg: Config, name: str) -> list[tuple[Path, str]]:
    """JSON reports whose numbers become metrics (``prefix``: '' for eval's headline metrics)."""
    p = cfg.paths
    return {
        "ingest": [(p.interim / "ingest_report.json", "ingest")],
        "split": [(p.processed / "split_report.json", "split")],
        "features": [(p.features / "features_report.json", "features")],
        "tune": [(p.tune / "best_params.json", "tune")],
        "train": [(p.models / cfg.model.name / "train_info.json", "train")],
        "eval": [(p.reports_dir / "metrics.json", "")],
    }.get(name, [])


def _record_outputs(cfg: Config, name: str, run_id: str | None) -> None:
    s = _session
    if s is None or run_id is None:
        return
    for path, subdir in _outputs(cfg, name):
        _log_path(run_id, path, subdir)
    for path, prefix in _reports(cfg, name):
        try:
            report = json.loads(path.read_text()) if path.is_file() else None
        except (OSError, ValueError):
            report = None
        if isinstance(report, dict):
            values = numeric(report, prefix)
            _log_metrics_to(run_id, values)
            if s.parent:  # the parent run carries every stage's numbers, to compare whole runs
                _log_metrics_to(s.parent, values)


# --------------------------------------------------------------------- provenance


def git_commit(cwd: Path | None = None) -> str:
    """``git rev-parse HEAD`` of the working directory, or "unknown"."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and re.fullmatch(r"[0-9a-f]{7,64}", commit) else "unknown"


_hash_cache: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _hash_cache:
        from recsys_cli.manifest import sha256_file

        _hash_cache[key] = sha256_file(path)
    return _hash_cache[key]


def data_tags(cfg: Config) -> dict[str, str]:
    """``dataset.hash`` (sha256 of the ingested events) and ``split.hash`` (of the split's window fingerprints)."""
    tags: dict[str, str] = {}
    events = file_sha256(cfg.paths.interim / "events.parquet")
    fingerprints = None
    report = cfg.paths.processed / "split_report.json"
    try:
        if report.is_file():
            fingerprints = json.loads(report.read_text()).get("fingerprints")
    except (OSError, ValueError, AttributeError):
        fingerprints = None
    split_hash = (
        hashlib.sha256(json.dumps(fingerprints, sort_keys=True).encode()).hexdigest() if fingerprints else None
    )
    if events or split_hash:
        tags["dataset.hash"] = events or split_hash  # type: ignore[assignment]
    if split_hash:
        tags["split.hash"] = split_hash
    return tags


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


# ---------------------------------------------------------------------- registry


def register_bundle(bundle: Path, name: str, k: int = 10) -> str | None:
    """Log the bundle as a pyfunc model (models from code) in the current run and register it.

    Returns the new version, or None when not tracking (or MLflow failed: a warning).
    """
    s = _session
    if not active() or s is None:
        return None
    run_id = s.current
    info = _safe("log model", _log_model, Path(bundle), name, k, run_id)
    if info is None:  # keep the bundle with the run at least
        _log_path(run_id, Path(bundle), "bundle")
        return None
    version = getattr(info, "registered_model_version", None)
    if version is None:
        return None
    _safe("tag run", _set_tags, run_id, {"registered_model": name, "registered_model.version": str(version),
                                         "registered_model.uri": f"models:/{name}/{version}"})
    for key, value in {"recsys.version": __version__, "model.name": s.cfg.model.name, **data_tags(s.cfg)}.items():
        _safe("tag version", s.client.set_model_version_tag, name, str(version), key, value)
    return str(version)


def _log_model(bundle: Path, name: str, k: int, run_id: str) -> Any:
    import mlflow
    import mlflow.pyfunc
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

    import recsys_cli

    code = Path(recsys_cli.__file__).resolve().parent / "mlflow_model.py"
    signature = ModelSignature(
        # string: the scoring server reads numeric ids in JSON/CSV as text too (MovieLens ids)
        inputs=Schema([ColSpec("string", "user_id")]),
        params=ParamSchema([ParamSpec("k", "long", int(k))]),
    )
    # MLflow prints "Successfully registered model ..." itself; the export stage says it in one line instead
    with contextlib.redirect_stderr(io.StringIO()), mlflow.start_run(run_id=run_id):
        # a resumed run is ended by its `with`; the stage's own end marks it again right after
        return mlflow.pyfunc.log_model(
            name="model",
            python_model=str(code),
            artifacts={"bundle": str(bundle)},
            signature=signature,
            pip_requirements=[f"mlflow=={mlflow.__version__}", f"recsys-cli=={__version__}"],
            registered_model_name=name,
            await_registration_for=60,
        )


def registry_client(cfg: Config) -> Any:
    """An MLflow client for ``recsys registry``; RecsysError when tracking is off."""
    if not cfg.tracking.enabled:
        raise ConfigError("tracking is off (tracking=none): there is no model registry to use")
    uri, explicit = store_uri(cfg)
    if not explicit and not (Path(cfg.paths.root).resolve() / STORE_DB).is_file():
        raise RecsysError(f"no MLflow store at {uri} yet: `recsys export` registers the first version")
    return connect(cfg)[0]


def set_alias(cfg: Config, alias: str, version: str) -> None:
    client = registry_client(cfg)
    name = cfg.tracking.registered_model
    try:
        with _quiet():
            client.get_model_version(name, str(version))
            client.set_registered_model_alias(name, alias, str(version))
    except Exception as exc:  # noqa: BLE001
        raise RecsysError(f"registry: cannot set alias {alias!r} -> {name} version {version}: {_one_line(exc)}") from None


def delete_alias(cfg: Config, alias: str) -> None:
    client = registry_client(cfg)
    try:
        with _quiet():
            client.delete_registered_model_alias(cfg.tracking.registered_model, alias)
    except Exception as exc:  # noqa: BLE001
        raise RecsysError(f"registry: cannot delete alias {alias!r}: {_one_line(exc)}") from None


def list_versions(cfg: Config) -> list[dict[str, Any]]:
    """Every version of the registered model, newest first, with its aliases."""
    client = registry_client(cfg)
    name = cfg.tracking.registered_model
    try:
        with _quiet():
            versions = client.search_model_versions(f"name = '{name}'")
            # search results carry no aliases in every store; the registered model has them all
            aliases: dict[str, list[str]] = {}
            if versions:
                for alias, version in (client.get_registered_model(name).aliases or {}).items():
                    aliases.setdefault(str(version), []).append(alias)
    except Exception as exc:  # noqa: BLE001
        raise RecsysError(f"registry: cannot list {name!r}: {_one_line(exc)}") from None
    rows = [
        {
            "version": str(v.version),
            "aliases": sorted(aliases.get(str(v.version), [])),
            "created": v.creation_timestamp,
            "run_id": v.run_id,
            "model": (v.tags or {}).get("model.name", ""),
            "status": v.status,
        }
        for v in versions
    ]
    return sorted(rows, key=lambda r: int(r["version"]), reverse=True)
