"""What each stage leaves behind: the files logged as artifacts and the reports logged as metrics."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from recsys_cli import layout
from recsys_cli.features.store import REPORT as FEATURES_REPORT
from recsys_cli.layout import Layout

if TYPE_CHECKING:
    from recsys_cli.config import Config

def stage_outputs(cfg: Config, name: str) -> list[tuple[Path, str | None]]:
    p = cfg.paths
    lay = Layout.of(cfg)
    reports = p.reports_dir
    return {
        "ingest": [(lay.ingest_report, None)],
        "split": [(lay.split_report, None)],
        "features": [(p.features / FEATURES_REPORT, None)],
        "tune": [(p.tune, "tune"), (reports / "tune", "tune/plots")],
        "train": [(p.models / cfg.model.name, "model")],
        "eval": [
            (lay.metrics, None),
            (reports / layout.SEGMENTS, None),
            (reports / layout.PER_USER, None),
            (reports / "plots", "plots"),
        ],
        "export": [],  # the bundle travels inside the registered model (register_bundle)
    }.get(name, [])


def stage_reports(cfg: Config, name: str) -> list[tuple[Path, str]]:
    """JSON reports whose numbers become metrics (``prefix``: '' for eval's headline metrics)."""
    p = cfg.paths
    lay = Layout.of(cfg)
    return {
        "ingest": [(lay.ingest_report, "ingest")],
        "split": [(lay.split_report, "split")],
        "features": [(p.features / FEATURES_REPORT, "features")],
        "tune": [(lay.best_params, "tune")],
        "train": [(lay.train_info(cfg.model.name), "train")],
        "eval": [(lay.metrics, "")],
    }.get(name, [])
