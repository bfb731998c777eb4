"""Typed config: the schema of every group, and composing ``conf/`` into it.

``conf/`` (Hydra) is the one source of truth. ``load()`` composes it with
command-line overrides, or reads an already composed ``params.yaml`` (what DVC
runs), and returns a validated :class:`Config`. No DictConfig leaves this file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from recsys_cli.errors import ConfigError
from recsys_cli.schema import bound, from_dict, to_dict

# --------------------------------------------------------------------------- data


Column = str | list[str]
"""A column name, or candidates: the first one the file has (``[parent_asin, asin]``)."""


@dataclass
class ColumnsConfig:
    """Column mapping of a generic event log (``data=events``)."""

    user: Column = "user_id"
    item: Column = "item_id"
    timestamp: Column = "timestamp"
    event: Column | None = "event"
    rating: Column | None = None
    price: Column | None = None
    session: Column | None = None
    device: Column | None = None
    quantity: Column | None = None  # units bought; data.preprocess.quantity_weight makes it the weight
    text: Column | None = None  # free text of the event (a review); features.text_fields: [reviews]


@dataclass
class ItemColumnsConfig:
    """Column mapping of an optional item catalog next to an event log."""

    item: Column = "item_id"
    title: Column | None = "title"
    description: Column | None = None
    category: Column | None = None
    brand: Column | None = None
    price: Column | None = None


@dataclass
class RowFilter:
    """Rows to leave out (returns, cancellations, test orders): every condition given must hold.

    ``prefix``: the text starts with it; ``equals``: the text is one of these;
    ``lt``/``le``/``gt``/``ge``: the number compares so. Counted in the ingest
    report under ``label`` (default: the condition).
    """

    column: Column
    label: str | None = None
    prefix: str | None = None
    equals: list[str] | None = None
    lt: float | None = None
    le: float | None = None
    gt: float | None = None
    ge: float | None = None

    def __post_init__(self) -> None:
        if self.prefix is None and self.equals is None and all(
            v is None for v in (self.lt, self.le, self.gt, self.ge)
        ):
            raise ConfigError(f"data.exclude ({self.column}): give a condition: prefix, equals, lt, le, gt or ge")


@dataclass
class PreprocessConfig:
    dedupe: bool = True
    min_user_interactions: int = bound(1, ge=1)
    min_item_interactions: int = bound(1, ge=1)
    event_weights: dict[str, float] = field(
        default_factory=lambda: {"view": 1.0, "add_to_cart": 3.0, "purchase": 5.0, "favorite": 2.0, "rating": 1.0}
    )
    drop_unknown_events: bool = True
    rating_threshold: float | None = None
    rating_as_weight: bool = False
    quantity_weight: Literal["none", "linear", "log"] = "none"  # weight x quantity, or x (1 + ln quantity)


@dataclass
class DataConfig:
    source: Literal["synthetic", "movielens", "events", "eventstore"] = "synthetic"
    seed: int = 42
    scale: Literal["tiny", "small", "medium", "full", "xl"] = "small"
    path: str | None = None
    format: str = "auto"
    url: str | None = None
    sha256: str | None = None
    header: bool = True  # false: the file starts with data; data.names lists its columns
    names: list[str] | None = None
    separator: str | None = None  # null: from the suffix (.tsv) or the first line
    encoding: Literal["auto", "utf8", "latin-1", "cp1252"] = "auto"  # auto: UTF-8, else Latin-1
    chunk_rows: int = bound(500_000, ge=1)  # rows read at a time
    timestamp_unit: Literal["auto", "s", "ms", "us", "ns", "iso"] = "auto"
    timestamp_format: str | list[str] | None = None  # strftime pattern(s) for text timestamps, tried in order
    columns: ColumnsConfig = field(default_factory=ColumnsConfig)
    event_map: dict[str, str] = field(default_factory=dict)  # the log's event values -> view, add_to_cart, ...
    on_missing: Literal["error", "drop"] = "error"  # a row without user, item, timestamp (or event)
    exclude: list[RowFilter] = field(default_factory=list)
    items_path: str | None = None
    item_columns: ItemColumnsConfig = field(default_factory=ItemColumnsConfig)
    category_separator: str | None = None  # the file's separator inside a category path ("."), read as " > "
    on_bad_price: Literal["error", "null"] = "error"  # a catalog price that is no price ("n/a", page junk)
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    store: str | None = None  # data=eventstore: the event store (null: serve.events)
    base_path: str | None = None  # data=eventstore: earlier events (an interim events.parquet) to learn from too


# -------------------------------------------------------------------------- split


@dataclass
class SplitConfig:
    method: Literal["temporal", "leave_last", "random_ratio", "rolling", "user_holdout"] = "temporal"
    valid_frac: float = bound(0.1, ge=0.0, lt=1.0)
    test_frac: float = bound(0.1, gt=0.0, lt=1.0)
    valid_start: str | None = None
    test_start: str | None = None
    n_valid: int = bound(1, ge=0)
    n_test: int = bound(1, ge=1)
    min_train: int = bound(1, ge=1)
    rounding: Literal["floor", "nearest"] = "floor"
    seed: int = 0
    folds: int = bound(3, ge=1)  # rolling: number of origins (the last fold is the main split)
    targets: Literal["all", "new_items"] = "all"  # new_items: only items first seen after the train cutoff


# ----------------------------------------------------------------------- features


@dataclass
class FeaturesConfig:
    text_fields: list[str] = field(
        default_factory=lambda: ["title", "description", "category", "brand"]
    )
    tfidf_max_features: int = bound(20000, ge=1)
    tfidf_min_df: int = bound(2, ge=1)
    tfidf_max_ngram: int = bound(1, ge=1, le=3)


# -------------------------------------------------------------------------- model


@dataclass
class ModelConfig:
    """``name`` picks the model; every other key is that model's ``Params``.

    The params are checked against the model's own dataclass by
    ``recsys_cli.models.check_params`` (the model owns its schema).
    """

    name: str
    params: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- tune


@dataclass
class ParamSpace:
    type: Literal["int", "float", "categorical"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: list[Any] | None = None
    when: dict[str, Any] | None = None  # conditional: sampled only when these params took these values


@dataclass
class ComponentTune:
    """One hybrid component's own study (``tune.components.<model name>``).

    ``space`` is that model's search space (an experiment composes it in:
    ``- /tune@tune.components.ease.space: ease``); ``trials`` defaults to
    ``tune.trials``.
    """

    trials: int | None = bound(None, ge=0)
    space: dict[str, ParamSpace] = field(default_factory=dict)


@dataclass
class TuneConfig:
    """The Optuna study of ``recsys tune`` (see recsys_cli/tuning/ and conf/tune/default.yaml)."""

    trials: int = bound(8, ge=0)  # finished (complete or pruned) trials the study ends with, counting resumed ones
    timeout: float | None = bound(None, gt=0.0)  # seconds for this run; checked between trials
    metric: str = "ndcg@10"  # a ranking metric at a cutoff, measured on the valid window
    seed: int = 0  # TPE sampler seed
    apply_best: bool = True
    storage: Literal["journal", "sqlite"] = "journal"  # data/tune/study.journal or data/tune/study.db
    resume: bool = True  # continue the stored study with the same objective; false: start it again
    n_startup_trials: int = bound(10, ge=0)  # random trials before TPE models the space
    multivariate: bool = True  # TPE over the joint space (grouped by condition for conditional spaces)
    pruner: Literal["median", "halving", "none"] = "median"
    prune_startup_trials: int = bound(5, ge=0)  # finished trials before the median pruner prunes anything
    prune_warmup: int = bound(2, ge=0)  # epochs/iterations a trial always runs (halving: its min resource)
    report_every: int = bound(5, ge=1)  # report valid NDCG@10 every N epochs/iterations of an iterative model
    plots: bool = True  # history and importance PNGs under reports/tune/
    space: dict[str, ParamSpace] = field(default_factory=dict)  # the chosen model's: conf/tune/<model>.yaml
    # model=hybrid: tune each listed component in its own study before the blend (instead of ``space``)
    components: dict[str, ComponentTune] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """What Optuna would reject only at the first trial, as a config error when the config loads.

        (Param names, bounds and ``when`` targets are checked against the
        model in ``models.check_config``; the metric's name in ``recsys tune``.)
        """
        _, sep, k = self.metric.partition("@")
        if not sep or not k.isdigit() or int(k) < 1:
            raise ConfigError(f"tune.metric: {self.metric!r} is not a ranking metric at a cutoff; use NAME@K, e.g. ndcg@10")
        _check_space_shape(self.space, "tune.space")
        for model, entry in self.components.items():
            _check_space_shape(entry.space, f"tune.components.{model}.space")


def _check_space_shape(space: dict[str, ParamSpace], prefix: str) -> None:
    """Shape checks of one search space (names, bounds, steps, ``when`` order)."""
    earlier: set[str] = set()
    for name, spec in space.items():
        where = f"{prefix}.{name}"
        for param in spec.when or {}:
            if param not in earlier:
                raise ConfigError(f"{where}.when: {param!r} must be a param listed before {name!r}")
        earlier.add(name)
        if spec.type == "categorical":
            bad = [c for c in spec.choices or [] if c is not None and not isinstance(c, (bool, int, float, str))]
            if bad:
                raise ConfigError(f"{where}.choices: {bad[0]!r} is not a number, string, bool or null")
            continue
        if spec.log and spec.step is not None:
            raise ConfigError(f"{where}: a log space takes no step")
        if spec.step is not None and spec.step <= 0:
            raise ConfigError(f"{where}.step: must be > 0")
        if spec.type == "int":
            for key in ("low", "high", "step"):
                value = getattr(spec, key)
                if value is not None and float(value) != int(value):
                    raise ConfigError(f"{where}.{key}: an int space needs whole numbers, got {value}")



# --------------------------------------------------------------------------- eval


@dataclass
class EvalConfig:
    task: Literal["ranking", "rating"] = "ranking"
    k: list[int] = field(default_factory=lambda: [5, 10, 20])
    relevant_events: list[str] | None = None
    exclude_seen: bool = True
    exclude_windows: list[Literal["train", "valid"]] = field(default_factory=lambda: ["train"])
    batch_size: int = bound(2048, ge=1)
    metric: str = "ndcg@10"
    folds: int = bound(0, ge=0)
    fold_seed: int = 0
    sampled: int = bound(0, ge=0)  # > 0: rank each user's relevant items among this many sampled negatives (old papers only)
    bootstrap: int = bound(1000, ge=0)  # bootstrap resamples of users for confidence intervals (0: none)
    alpha: float = bound(0.05, gt=0.0, lt=0.5)
    hot_quantile: float = bound(0.8, gt=0.0, lt=1.0)  # users above this quantile of train-history length are "hot"


@dataclass
class TrackingConfig:
    """MLflow tracking of every stage run (``tracking=none`` turns it off)."""

    enabled: bool = True
    uri: str | None = None  # null: sqlite:///<paths.root>/mlflow.db (+ <paths.root>/mlartifacts); or any MLflow URI
    experiment: str = "recsys"
    registered_model: str = "recsys"  # `recsys export` registers the bundle under this name


@dataclass
class TrainConfig:
    """How the train stage fits: on train only, or refit on train+valid at the end."""

    refit_with_valid: bool = False


@dataclass
class RulesConfig:
    """Business rules of ``recsys batch-recommend`` (none by default: the lists ``recsys serve`` answers)."""

    exclude: Literal["seen", "purchased", "none"] = "seen"  # what a shopper did that is never listed again
    categories: list[str] = field(default_factory=list)  # only these categories (a path prefix: "Home" or "Home > Bath")
    exclude_categories: list[str] = field(default_factory=list)  # never these categories
    price_min: float | None = bound(None, ge=0.0)
    price_max: float | None = bound(None, ge=0.0)
    max_per_category: int | None = bound(None, ge=1)  # at most this many items of one category in a list

    def __post_init__(self) -> None:
        if self.price_min is not None and self.price_max is not None and self.price_min > self.price_max:
            raise ConfigError(f"recommend.rules.price_min: {self.price_min} is above price_max={self.price_max}")

    @property
    def active(self) -> bool:
        return (self.exclude != "seen" or bool(self.categories) or bool(self.exclude_categories)
                or self.price_min is not None or self.price_max is not None or self.max_per_category is not None)


@dataclass
class RecommendConfig:
    k: int = bound(10, ge=1)
    batch_size: int = bound(4096, ge=1)  # users scored at once: memory is bounded by batch_size x items
    threads: int = bound(0, ge=0)  # batches scored in parallel (0: one per core)
    rules: RulesConfig = field(default_factory=RulesConfig)


@dataclass
class EngineConfig:
    """How stages compute: ``local`` (numpy/polars/implicit) or ``spark`` (Apache Spark, the ``.[spark]`` extra).

    Both write the same files (``recsys_cli/layout.py``), so any stage can follow either.
    """

    name: Literal["local", "spark"] = "local"
    master: str = "local[*]"  # spark://host:7077, yarn, k8s://... for a cluster
    partitions: int = bound(8, ge=1)  # spark.sql.shuffle.partitions and the ALS blocks
    driver_memory: str = "4g"
    conf: dict[str, str] = field(default_factory=dict)  # any other spark.* setting


@dataclass
class NewItemsConfig:
    """Products without interactions: placed by content, lifted by a promotional boost that decays with age."""

    boost: float = bound(0.5, ge=0.0)  # a brand-new product's lift, in standard deviations of the shopper's scores
    half_life_days: float = bound(14.0, gt=0.0)  # the boost halves every this many days after launch
    max_age_days: float = bound(90.0, gt=0.0)  # no boost after this age
    clock: Literal["data", "wall"] = "data"  # age from the newest event the bundle saw, or from now


@dataclass
class ColdStartConfig:
    """Shoppers with no history: preferences / demographics, diversified by MMR."""

    mmr_lambda: float = bound(0.7, ge=0.0, le=1.0)  # 1: relevance only; lower: more diverse lists
    mmr_pool: int = bound(200, ge=1)  # candidates MMR chooses from
    segment_weight: float = bound(1.0, ge=0.0)  # weight of "popular with shoppers like you"
    preference_weight: float = bound(1.0, ge=0.0)  # weight of matching the stated categories, brands, price


@dataclass
class RetrievalConfig:
    """Two-stage retrieval: candidates from an ANN index + co-visitation + popularity, then the model ranks."""

    candidates: int = bound(0, ge=0)  # 0: score the whole catalog (exact); N: rank only N candidates
    min_items: int = bound(20000, ge=0)  # only for catalogs at least this large
    index: Literal["auto", "ivf", "faiss", "usearch", "exact"] = "auto"  # auto: ivf; faiss: faiss HNSW
    nlist: int = bound(0, ge=0)  # ivf: clusters (0: the square root of the catalog size)
    nprobe: int = bound(16, ge=1)  # ivf: clusters searched per query (more: higher recall, slower)
    covisit: int = bound(20, ge=0)  # candidates per recent item from co-visitation with the shopper's 10 latest
    popular: int = bound(50, ge=0)  # candidates from popularity


@dataclass
class ServeConfig:
    """``recsys serve``: the HTTP API over one bundle (see recsys_cli/serve/)."""

    host: str = "127.0.0.1"  # loopback unless told otherwise
    port: int = bound(8000, ge=0, le=65535)
    workers: int = bound(1, ge=1)
    default_k: int = bound(10, ge=1)
    max_k: int = bound(100, ge=1)
    max_body_bytes: int = bound(65536, ge=256)  # larger request bodies get 413
    max_batch: int = bound(1000, ge=1)  # events in one /feedback batch
    max_in_flight: int = bound(512, ge=1)  # requests handled at once; more get 503 + Retry-After
    max_queue_ms: float = bound(200.0, ge=0.0)  # a request that waited longer gets 503 + Retry-After; 0: never
    admin_token: str | None = None  # bearer token of /admin/*; else $RECSYS_ADMIN_TOKEN; unset: admin disabled
    cache: str = "memory"  # memory | none | redis://host:port/db
    cache_size: int = bound(10000, ge=1)  # responses kept by the in-process LRU
    cache_ttl: float = bound(300.0, gt=0.0)  # seconds a cached response lives (redis)
    explain: bool = True  # an explanation per item
    log_requests: bool = True  # one JSON line per request on stderr
    new_items: NewItemsConfig = field(default_factory=NewItemsConfig)
    cold_start: ColdStartConfig = field(default_factory=ColdStartConfig)
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    events: str = "sqlite"  # the event store: sqlite (<data>/events/events.db) | sqlite:///PATH | postgresql://... | none

    def __post_init__(self) -> None:
        if not (self.events in ("sqlite", "none") or self.events.startswith(("sqlite:///", "postgresql://",
                                                                                 "postgres://"))):
            raise ConfigError(f"serve.events: {self.events!r}; use sqlite, none, sqlite:///PATH or postgresql://...")
        if self.default_k > self.max_k:
            raise ConfigError(f"serve.default_k: {self.default_k} is above serve.max_k={self.max_k}")
        if not (self.cache in ("memory", "none") or self.cache.startswith(("redis://", "rediss://", "unix://"))):
            raise ConfigError(f"serve.cache: {self.cache!r}; use memory, none or a redis:// URL")


@dataclass
class ABArmConfig:
    name: str
    bundle: str | None = None  # a bundle directory (relative to paths.root); null: the served bundle
    weight: float = bound(1.0, gt=0.0)
    serve: dict[str, Any] = field(default_factory=dict)  # serve.* overrides for this arm


@dataclass
class ABConfig:
    """An online experiment (``recsys serve`` runs it; ``recsys ab report|simulate`` read and drive it)."""

    name: str | None = None  # null: no experiment
    allocation: Literal["hashed", "thompson", "ucb1"] = "hashed"
    reward: Literal["click", "purchase"] = "click"  # a list's success: a click, or a purchase (conversion)
    salt: str | None = None  # hashed split salt (default: the name)
    arms: list[ABArmConfig] = field(default_factory=list)
    start: bool = True  # `recsys serve` creates and starts it unless it was stopped or promoted
    requests: int = bound(20000, ge=1)  # simulate: requests to send
    concurrency: int = bound(8, ge=1)  # simulate: requests in flight
    seed: int = 0  # simulate: shoppers and their clicks
    url: str | None = None  # simulate: the server (default http://serve.host:serve.port)
    alpha: float = bound(0.05, gt=0.0, lt=0.5)  # report: 1 - confidence of the intervals
    bootstrap: int = bound(2000, ge=100)  # report: resamples for revenue intervals


@dataclass
class S3Config:
    """Where bundles go and come from on S3 (or any S3-compatible store).

    Unset values come from the standard AWS settings: ``AWS_ENDPOINT_URL``,
    ``AWS_REGION`` / ``AWS_DEFAULT_REGION``, ``AWS_ACCESS_KEY_ID`` /
    ``AWS_SECRET_ACCESS_KEY`` (or a profile / instance role), as boto3 reads them.
    """

    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    cache_dir: str | None = None  # where `recsys serve bundle=s3://...` keeps its verified copy (null: ~/.cache/recsys/bundles)


@dataclass
class ExportConfig:
    """What ``recsys export`` bundles (and ``recsys batch-recommend`` then serves from)."""

    production: bool = True  # refit the model on every window (train+valid+test) with the tuned params
    uri: str | None = None  # s3://bucket/prefix: also upload the bundle (manifest last)

    def __post_init__(self) -> None:
        if self.uri is not None and not self.uri.startswith("s3://"):
            raise ConfigError(f"export.uri: {self.uri!r} is not an s3://bucket/prefix location")


@dataclass
class UpdateConfig:
    """``recsys update``: fold a batch of new events into a bundle without a full retrain."""

    events: str | None = None  # the new events (CSV/Parquet/JSON lines with the interim events columns)
    out: str | None = None  # where the new bundle goes (null: replace the bundle in place)
    sweeps: int = bound(2, ge=1)  # alternating re-solves of the touched users and items
    reach: Literal["touched", "neighbours"] = "touched"  # neighbours: also every shopper of the touched items
    retrain: bool = False  # refit the model from scratch on the whole new history instead (the baseline)
    cg_steps: int = bound(3, ge=0)  # rows with factors: conjugate-gradient steps from them (0: every row exactly)


@dataclass
class PathsConfig:
    """Where stages read and write; ``data`` and ``reports`` are relative to ``root``."""

    root: str = "."
    data: str = "data"
    reports: str = "reports"
    fold: str | None = None  # set by eval for a rolling-origin fold: its windows, features and models

    def _fold(self, base: Path, work: str) -> Path:
        if self.fold is None:
            return base
        if work == "processed":
            return base / "folds" / self.fold
        return self.data_dir / "eval" / "folds" / self.fold / work

    @property
    def data_dir(self) -> Path:
        return Path(self.root) / self.data

    @property
    def reports_dir(self) -> Path:
        return Path(self.root) / self.reports

    @property
    def raw(self) -> Path:
        return self.data_dir / "raw"

    @property
    def interim(self) -> Path:
        return self.data_dir / "interim"

    @property
    def processed(self) -> Path:
        return self._fold(self.data_dir / "processed", "processed")

    @property
    def features(self) -> Path:
        return self._fold(self.data_dir / "features", "features")

    @property
    def models(self) -> Path:
        return self._fold(self.data_dir / "models", "models")

    @property
    def tune(self) -> Path:
        return self.data_dir / "tune"

    @property
    def recs(self) -> Path:
        return self.data_dir / "recs"

    @property
    def bundle(self) -> Path:
        return self.data_dir / "bundle"


@dataclass
class Config:
    data: DataConfig
    split: SplitConfig
    features: FeaturesConfig
    model: ModelConfig
    tune: TuneConfig
    eval: EvalConfig
    recommend: RecommendConfig
    paths: PathsConfig
    train: TrainConfig = field(default_factory=TrainConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)
    ab: ABConfig = field(default_factory=ABConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    s3: S3Config = field(default_factory=S3Config)
    update: UpdateConfig = field(default_factory=UpdateConfig)
    bundle: str | None = None  # the bundle `recsys serve` / `recsys tui` load (default: paths.bundle)
    seed: int = 42

    @property
    def bundle_path(self) -> Path:
        """The bundle `export` writes and `serve` / `tui` / `batch-recommend` read (relative to paths.root)."""
        if not self.bundle:
            return self.paths.bundle
        path = Path(self.bundle)
        return path if path.is_absolute() or "://" in self.bundle else Path(self.paths.root) / path

    def to_dict(self) -> dict[str, Any]:
        out = to_dict(self)
        out["model"] = {"name": self.model.name, **self.model.params}
        return out

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


# --------------------------------------------------------------------- composing

GROUPS = ("data", "split", "features", "model", "tune", "eval", "paths", "tracking", "serve", "ab", "engine", "experiment")


def conf_dir() -> Path:
    """Where ``conf/`` lives: $RECSYS_CONF, ./conf, or the copy shipped in the package."""
    env = os.environ.get("RECSYS_CONF")
    candidates = [Path(env)] if env else []
    candidates += [
        Path.cwd() / "conf",
        Path(__file__).resolve().parent / "_conf",
        Path(__file__).resolve().parent.parent / "conf",
    ]
    for path in candidates:
        if (path / "config.yaml").is_file():
            return path
    raise ConfigError("no conf/config.yaml found (set RECSYS_CONF to the config directory)")


def from_mapping(raw: dict[str, Any]) -> Config:
    """Validate a composed mapping into a :class:`Config`."""
    raw = dict(raw)
    model = raw.get("model")
    if not isinstance(model, dict) or "name" not in model:
        raise ConfigError("model.name: missing; choose a model, e.g. model=als")
    model = dict(model)
    raw["model"] = {"name": model.pop("name"), "params": model}
    raw.pop("experiment", None)
    raw.pop("hydra", None)
    return from_dict(Config, raw)


def compose(overrides: list[str] | None = None, directory: Path | None = None) -> dict[str, Any]:
    """Compose ``conf/`` with Hydra overrides into a plain, resolved mapping."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    overrides = list(overrides or [])
    directory = directory or conf_dir()
    _check_group_choices(overrides, directory)
    hydra_overrides, assignments = _split_assignments(overrides)
    try:
        with initialize_config_dir(config_dir=str(directory), version_base="1.3", job_name="recsys"):
            cfg = hydra_compose(config_name="config", overrides=hydra_overrides)
            for key, value, free in assignments:
                _assign(cfg, key, value, free)
            return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
    except (HydraException, OmegaConfBaseException) as exc:
        raise ConfigError(_explain_hydra_error(exc, overrides, directory)) from None


def _split_assignments(overrides: list[str]) -> tuple[list[str], list[tuple[str, Any, bool]]]:
    """Plain ``key=value`` overrides that Hydra would merge where users expect a replacement.

    Hydra merges a mapping value into an existing mapping (``key={a: 1}`` keeps
    the old keys, and fails on new ones in a struct config), and refuses a new
    key inside a free-form mapping without ``+``. Two kinds of plain override
    are therefore set after composition instead: a mapping value replaces the
    node (``data.preprocess.event_weights={pv: 1, buy: 5}``), and a key under a
    free-form mapping of the schema (``dict[str, ...]``, e.g.
    ``data.event_map.pv=view``) is added or changed. Returns Hydra's overrides
    and these (key, value, is-in-a-free-form-mapping).
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import OverrideType
    from hydra.errors import HydraException

    parser = OverridesParser.create()
    kept: list[str] = []
    assignments: list[tuple[str, Any, bool]] = []
    for line in overrides:
        try:
            override = parser.parse_override(line)
        except HydraException as exc:
            key = line.lstrip("+~").partition("=")[0] or line
            problem = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(f"{key}: cannot parse the override {line!r} ({problem}); quote a value with "
                              f"brackets, braces or commas: {key}='...'") from None
        key = override.key_or_group
        if override.type != OverrideType.CHANGE or override.package is not None or override.is_sweep_override():
            kept.append(line)
            continue
        value = override.value()
        free = _under_free_mapping(key.split("."))
        if isinstance(value, dict) or free:
            assignments.append((key, _plain_value(value), free))
        else:
            kept.append(line)
    return kept, assignments


def _plain_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_value(v) for v in value]
    return value


def _under_free_mapping(parts: list[str]) -> bool:
    """Whether a proper prefix of the dotted key is a free-form ``dict[...]`` field of the schema."""
    import dataclasses
    import types
    import typing

    node: Any = Config
    for part in parts[:-1]:
        if not dataclasses.is_dataclass(node) or node is ModelConfig:  # model.* is checked by the model
            return False
        tp = typing.get_type_hints(node).get(part)
        if typing.get_origin(tp) in (typing.Union, types.UnionType):
            options = [a for a in typing.get_args(tp) if a is not type(None)]
            tp = options[0] if len(options) == 1 else None
        if tp is dict or typing.get_origin(tp) is dict:
            return True
        node = tp
    return False


def _assign(cfg: Any, key: str, value: Any, free: bool) -> None:
    """Set ``key`` to ``value`` in the composed config, replacing what was there."""
    from omegaconf import OmegaConf

    missing = object()
    parent_key, _, leaf = key.rpartition(".")
    parent = OmegaConf.select(cfg, parent_key, default=missing) if parent_key else cfg
    exists = OmegaConf.select(cfg, key, default=missing) is not missing
    if not exists and not free:
        allowed = ", ".join(sorted(str(k) for k in parent)) if OmegaConf.is_dict(parent) else "(none)"
        raise ConfigError(f"{key}: unknown key; allowed: {allowed}")
    OmegaConf.update(cfg, key, value, merge=False, force_add=free)


def _check_group_choices(overrides: list[str], directory: Path) -> None:
    for item in overrides:
        key, sep, value = item.lstrip("+~").partition("=")
        group_dir = directory / key
        if sep and "." not in key and group_dir.is_dir():
            options = sorted(p.stem for p in group_dir.glob("*.yaml"))
            if value not in options and value != "null":
                raise ConfigError(f"{key}: unknown choice {value!r}; choose one of: {', '.join(options)}")


def _explain_hydra_error(exc: Exception, overrides: list[str], directory: Path) -> str:
    text = str(exc)
    match = re.search(r"Could not override '([^']+)'", text) or re.search(
        r"Key '([^']+)' is not in struct", text
    )
    if match:
        key = match.group(1)
        parent, _, leaf = key.rpartition(".")
        others = [o for o in overrides if not o.startswith(key + "=")]
        try:
            node: Any = compose(others, directory)
            for part in parent.split(".") if parent else []:
                node = node[part]
            allowed = ", ".join(sorted(node)) if isinstance(node, dict) else "(none)"
        except (ConfigError, KeyError, TypeError):
            allowed = "(see `recsys config`)"
        return f"{key}: unknown key; allowed: {allowed}"
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return f"config: {first}"


def load(overrides: list[str] | None = None, params_file: str | Path | None = None) -> Config:
    """The validated config: from ``params_file`` (+ dotted overrides) or from ``conf/``."""
    if params_file is not None:
        path = Path(params_file)
        if not path.is_file():
            raise ConfigError(f"{path}: params file not found (write it with `recsys config --out {path}`)")
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or type(exc).__name__
            raise ConfigError(f"{path}: not valid YAML ({problem}{where})") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: expected a mapping of config keys, found {type(raw).__name__}")
        for item in overrides or []:
            key, sep, value = item.partition("=")
            if not sep or key.startswith(("+", "~")) or "." not in key and key in GROUPS:
                raise ConfigError(f"{item}: with --params only plain key=value overrides are allowed")
            _set_dotted(raw, key, yaml.safe_load(value))
        return from_mapping(raw)
    return from_mapping(compose(overrides))


def _set_dotted(raw: dict[str, Any], key: str, value: Any) -> None:
    node = raw
    parts = key.split(".")
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            raise ConfigError(f"{key}: unknown key")
        node = node[part]
    node[parts[-1]] = value


def fingerprint(cfg: Config) -> str:
    """The sha256 of a validated config: the name of the config an artifact was made with.

    Canonical JSON (sorted keys) of ``cfg.to_dict()`` without ``paths`` (where
    files go, not what they hold) and ``tracking`` (where runs are logged), so
    the same settings give the same fingerprint from ``conf/`` or a params
    file, in any project root. Model params are as configured (a model default
    spelled out in YAML counts as set).
    """
    import hashlib
    import json

    settings = {k: v for k, v in cfg.to_dict().items() if k not in ("paths", "tracking")}
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()
