"""Datasets the benchmarks share: ML-100K and the small synthetic shop.

ML-100K is split leave-last-5 per user (so every user is evaluated), the synthetic
shop on time (the default). Both go through the real recsys stages (ingest -> split) into a scratch
directory, so the matrices are exactly what `recsys train` and `recsys eval` see.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from recsys_cli import config
from recsys_cli.stages import ingest, split
from recsys_cli.stages.inputs import ids, matrix, relevant, window

SCRATCH = Path(tempfile.gettempdir()) / "recsys-bench"


def prepare(name: str, overrides: list[str]) -> config.Config:
    cfg = config.load([f"paths.root={SCRATCH / name}", *overrides])
    if not (cfg.paths.processed / "ids.npz").exists():
        ingest.run(cfg)
        split.run(cfg)
    return cfg


def matrices(cfg: config.Config) -> dict[str, sp.csr_matrix]:
    users, items = ids(cfg)
    train = matrix(window(cfg, "train"), users, items)
    test = relevant(cfg, window(cfg, "test"), users, items, train)
    # evaluate users with train history and at least one relevant test item
    keep = (np.diff(train.indptr) > 0) & (np.diff(test.indptr) > 0)
    test = sp.csr_matrix(sp.diags(keep.astype(np.float32)) @ test)
    test.eliminate_zeros()
    return {"train": train, "test": test}


def dataset_configs(ml100k: str) -> dict[str, config.Config]:
    out = {}
    if Path(ml100k, "u.data").is_file():
        # leave-last-5 per user: every user has test items, so the timing covers all 943
        out["ml-100k"] = prepare("ml100k", ["data=movielens", f"data.path={ml100k}", "split=leave_last", "split.n_test=5", "split.n_valid=5"])
    out["synthetic-small"] = prepare("synthetic-small", ["data.scale=small"])
    return out


def dataset_matrices(ml100k: str) -> dict[str, dict[str, sp.csr_matrix]]:
    return {name: matrices(cfg) for name, cfg in dataset_configs(ml100k).items()}
