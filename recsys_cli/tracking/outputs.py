"""What each stage leaves behind: the files logged as artifacts and the reports logged as metrics."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from recsys_cli.config import Config

def stage_outputs(cfg: Config, name: str) -> list[tuple[Path, str | None]]:
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


def stage_reports(cfg: Config, name: str) -> list[tuple[Path, str]]:
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
