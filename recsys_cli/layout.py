"""The files between stages: the one place that names them.

Every stage, and every engine (the local one and ``recsys_cli/engines/spark``),
reads and writes through these names, so the output of one engine is the input
of the other: a Spark split is trained, exported and served unchanged.

    <data>/interim/     events.parquet, items.parquet, users.parquet, ingest_report.json
    <data>/processed/   train.parquet, valid.parquet, test.parquet, ids.npz, split_report.json
    <data>/models/NAME/ model/, fallback/, train_info.json, config.yaml, manifest.json
    <data>/tune/        best_params.json, trials.json
    <data>/recs/        recommendations/part-NNNNN.parquet, recs_info.json, config.yaml
    <data>/bundle/      the export bundle (recsys_cli/bundle.py)
    <reports>/          metrics.json, headline.json, segments.json, per_user.parquet,
                        eval_lists.parquet, stages.json (wall time and peak memory per stage)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from recsys_cli.config import Config, PathsConfig

# interim (ingest)
EVENTS = "events.parquet"
ITEMS = "items.parquet"
USERS = "users.parquet"
INGEST_REPORT = "ingest_report.json"
# processed (split)
WINDOWS = ("train", "valid", "test")
IDS = "ids.npz"
SPLIT_REPORT = "split_report.json"
FOLDS = "folds"
# models (train) and tune
MODEL = "model"
FALLBACK = "fallback"
TRAIN_INFO = "train_info.json"
BEST_PARAMS = "best_params.json"
# reports (eval) and recs (batch-recommend)
METRICS = "metrics.json"
HEADLINE = "headline.json"
SEGMENTS = "segments.json"
PER_USER = "per_user.parquet"
EVAL_LISTS = "eval_lists.parquet"
STAGES = "stages.json"
RECS = "recommendations"  # a directory of part-NNNNN.parquet files
RECS_INFO = "recs_info.json"


def window_file(name: str) -> str:
    """``train`` -> ``train.parquet`` (also ``foldin`` for user_holdout splits)."""
    return f"{name}.parquet"


def part_file(index: int) -> str:
    return f"part-{index:05d}.parquet"


@dataclass(frozen=True)
class Layout:
    """Paths of every file between stages under one ``paths`` config."""

    paths: PathsConfig

    @classmethod
    def of(cls, cfg: Config) -> Layout:
        return cls(cfg.paths)

    # interim
    @property
    def events(self) -> Path:
        return self.paths.interim / EVENTS

    @property
    def items(self) -> Path:
        return self.paths.interim / ITEMS

    @property
    def users(self) -> Path:
        return self.paths.interim / USERS

    @property
    def ingest_report(self) -> Path:
        return self.paths.interim / INGEST_REPORT

    # processed
    def window(self, name: str) -> Path:
        return self.paths.processed / window_file(name)

    @property
    def ids(self) -> Path:
        return self.paths.processed / IDS

    @property
    def split_report(self) -> Path:
        return self.paths.processed / SPLIT_REPORT

    # models
    def model_dir(self, name: str) -> Path:
        return self.paths.models / name

    def train_info(self, name: str) -> Path:
        return self.paths.models / name / TRAIN_INFO

    @property
    def best_params(self) -> Path:
        return self.paths.tune / BEST_PARAMS

    # reports
    @property
    def metrics(self) -> Path:
        return self.paths.reports_dir / METRICS

    @property
    def stages(self) -> Path:
        return self.paths.reports_dir / STAGES

    # recs
    @property
    def recs(self) -> Path:
        return self.paths.recs / RECS

    @property
    def recs_info(self) -> Path:
        return self.paths.recs / RECS_INFO
