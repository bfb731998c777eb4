"""The pipeline stages: each a plain ``run(cfg) -> None`` that talks through files.

The CLI, DVC's ``cmd``, Optuna trials and the tests all call these functions.
"""

from recsys_cli.stages import (
    batch_recommend,
    evaluate,
    export,
    features,
    ingest,
    split,
    train,
    tune,
)

PIPELINE = (
    ("ingest", ingest.run),
    ("split", split.run),
    ("features", features.run),
    ("tune", tune.run),
    ("train", train.run),
    ("eval", evaluate.run),
    ("export", export.run),
    ("batch-recommend", batch_recommend.run),
)
