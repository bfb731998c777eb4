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

from recsys_cli.tracking.provenance import data_tags, file_sha256, git_commit
from recsys_cli.tracking.registry import delete_alias, list_versions, register_bundle, registry_client, set_alias
from recsys_cli.tracking.runs import (
    MAX_FAILURES,
    STORE_ARTIFACTS,
    STORE_DB,
    active,
    connect,
    current_run_id,
    log_artifact,
    log_metrics,
    log_params,
    log_trial,
    session,
    stage,
    store_uri,
)
from recsys_cli.tracking.values import MAX_KEY, MAX_PARAM_VALUE, MAX_TAG_VALUE, flatten, metric_key, numeric, param_value

__all__ = [
    "MAX_FAILURES", "MAX_KEY", "MAX_PARAM_VALUE", "MAX_TAG_VALUE", "STORE_ARTIFACTS", "STORE_DB",
    "active", "connect", "current_run_id", "data_tags", "delete_alias", "file_sha256", "flatten", "git_commit",
    "list_versions", "log_artifact", "log_metrics", "log_params", "log_trial", "metric_key", "numeric",
    "param_value", "register_bundle", "registry_client", "session", "set_alias", "stage", "store_uri",
]
