"""The model registry behind ``recsys export`` and ``recsys registry``: the bundle as a pyfunc model from code."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recsys_cli import __version__
from recsys_cli.errors import ConfigError, RecsysError
from recsys_cli.tracking import runs
from recsys_cli.tracking.provenance import data_tags
from recsys_cli.tracking.runs import STORE_DB, _log_path, _one_line, _quiet, _safe, _set_tags, active, connect, store_uri

if TYPE_CHECKING:
    from recsys_cli.config import Config

def register_bundle(bundle: Path, name: str, k: int = 10) -> str | None:
    """Log the bundle as a pyfunc model (models from code) in the current run and register it.

    Returns the new version, or None when not tracking (or MLflow failed: a warning).
    """
    s = runs._session
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
