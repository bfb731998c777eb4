"""The pipeline stages: each a plain ``run(cfg) -> None`` that talks through files.

The CLI, DVC's ``cmd``, Optuna trials and the tests all call these functions.
A stage's module is imported when the stage runs, so ``recsys ingest`` does not
pay for the imports of ``export`` (scikit-learn, the feature store) and a bad
config or file is reported within a second.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

_MODULES = (
    ("ingest", "ingest"),
    ("split", "split"),
    ("features", "features"),
    ("tune", "tune"),
    ("train", "train"),
    ("eval", "evaluate"),
    ("export", "export"),
    ("batch-recommend", "batch_recommend"),
)


def _stage(module: str) -> Callable[[Any], None]:
    def run(cfg: Any) -> None:
        importlib.import_module(f"recsys_cli.stages.{module}").run(cfg)

    run.__name__ = run.__qualname__ = f"{module}.run"
    return run


PIPELINE: tuple[tuple[str, Callable[[Any], None]], ...] = tuple((name, _stage(module)) for name, module in _MODULES)
