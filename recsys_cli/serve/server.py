"""``recsys serve``: uvicorn over the app, one process or ``serve.workers`` of them.

With one worker the app object is handed to uvicorn directly. With several,
uvicorn imports :func:`app_from_env` in each worker process; the composed
config travels in ``RECSYS_SERVE_CONFIG`` (YAML) and Prometheus samples go to
a shared ``PROMETHEUS_MULTIPROC_DIR`` so ``/metrics`` sums every worker.
"""

from __future__ import annotations

import os
import tempfile

from recsys_cli.config import Config

ENV = "RECSYS_SERVE_CONFIG"


def app_from_env():  # noqa: ANN201 - uvicorn's factory in each worker
    import yaml

    from recsys_cli.config import from_mapping
    from recsys_cli.serve.app import create_app

    return create_app(from_mapping(yaml.safe_load(os.environ[ENV])))


def run(cfg: Config) -> None:
    import uvicorn

    from recsys_cli.progress import status

    from recsys_cli import remote

    serve = cfg.serve
    if remote.is_remote(cfg.bundle):  # fail at once on a bad location or a bundle that does not verify
        local = remote.download(cfg.bundle, cfg.s3)
        status(f"serve: {remote.describe(cfg.bundle)} verified in {local}")
    where = f"http://{serve.host}:{serve.port}"
    status(f"serve: {remote.describe(cfg.bundle or cfg.bundle_path)} on {where} ({serve.workers} worker{'s' if serve.workers > 1 else ''}); "
           f"docs {where}/docs, metrics {where}/metrics")
    common = dict(host=serve.host, port=serve.port, log_level="warning", access_log=False,
                  timeout_graceful_shutdown=10, server_header=False)
    if serve.workers == 1:
        from recsys_cli.serve.app import create_app

        uvicorn.run(create_app(cfg), **common)
        return
    os.environ[ENV] = cfg.to_yaml()
    with tempfile.TemporaryDirectory(prefix="recsys-metrics-") as metrics_dir:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        uvicorn.run("recsys_cli.serve.server:app_from_env", factory=True, workers=serve.workers, **common)
