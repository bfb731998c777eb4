"""The model registry: a plain dict from name to class (DESIGN principle 9).

Models whose imports are heavy (torch, sentence-transformers) are listed as
"module:Class" strings and imported on first use, so `recsys --help` and the
non-deep models never pay for torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from recsys_cli.config import Config, ModelConfig, ParamSpace
from recsys_cli.errors import ConfigError
from recsys_cli.models.als import ALS
from recsys_cli.models.base import Recommender, Recs, TrainData, rank
from recsys_cli.models.bpr import BPR
from recsys_cli.models.ease import EASE
from recsys_cli.models.hybrid import Hybrid
from recsys_cli.models.itemknn import ItemKNN
from recsys_cli.models.lmf import LMF
from recsys_cli.models.popularity import Popularity
from recsys_cli.models.rp3beta import RP3beta
from recsys_cli.models.tfidf import TFIDF
from recsys_cli.schema import from_dict

REGISTRY: dict[str, type | str] = {
    "popularity": Popularity,
    "als": ALS,
    "bpr": BPR,
    "lmf": LMF,
    "ease": EASE,
    "itemknn": ItemKNN,
    "rp3beta": RP3beta,
    "tfidf": TFIDF,
    "embedding": "recsys_cli.models.embedding:Embedding",
    "svd": "recsys_cli.models.svd:SVD",
    "svdpp": "recsys_cli.models.svdpp:SVDpp",
    "knnbaseline": "recsys_cli.models.knnbaseline:KNNBaseline",
    "neumf": "recsys_cli.models.neural.neumf:NeuMF",
    "multvae": "recsys_cli.models.neural.multvae:MultVAE",
    "widedeep": "recsys_cli.models.neural.widedeep:WideDeep",
    "twotower": "recsys_cli.models.neural.twotower:TwoTower",
    "hybrid": Hybrid,
}

__all__ = ["REGISTRY", "Recommender", "Recs", "TrainData", "build", "check_config", "load_model", "rank"]


def model_class(name: str) -> type:
    if name not in REGISTRY:
        raise ConfigError(f"model.name: unknown model {name!r}; choose one of: {', '.join(sorted(REGISTRY))}")
    entry = REGISTRY[name]
    if isinstance(entry, str):
        import importlib

        module, _, attr = entry.partition(":")
        try:
            entry = getattr(importlib.import_module(module), attr)
        except ImportError as exc:
            raise ConfigError(
                f"model {name!r} needs an optional dependency ({exc.name}); install it with: pip install -e '.[deep]'"
            ) from None
        REGISTRY[name] = entry
    return entry


def params_of(cfg: ModelConfig, overrides: dict[str, Any] | None = None) -> Any:
    cls = model_class(cfg.name)
    return from_dict(cls.Params, {**cfg.params, **(overrides or {})}, where="model")


def build(cfg: ModelConfig, overrides: dict[str, Any] | None = None, **kwargs: Any) -> Recommender:
    cls = model_class(cfg.name)
    return cls(params_of(cfg, overrides), **kwargs)


def load_model(path: Path) -> Recommender:
    from recsys_cli.manifest import read_manifest

    name = read_manifest(Path(path), verify=False).get("model")
    return model_class(str(name)).load(Path(path))


def check_config(cfg: Config) -> None:
    """Validate what config.py cannot: the model's params and the tuning spaces.

    The search space is the configured model's (conf/tune/<model>.yaml);
    ``when`` conditions must name a param of the same space. A hybrid's
    component spaces (``tune.components.<name>.space``) are checked against
    the model they are named after.
    """
    params = params_of(cfg.model)
    if cfg.model.name == "hybrid":
        for i, comp in enumerate(params.components):
            cls = model_class(comp.name)
            from_dict(cls.Params, comp.params, where=f"model.components[{i}].params")
    _check_model_space(cfg.model.name, cfg.tune.space, "tune.space", f"conf/tune/{cfg.model.name}.yaml")
    for name, entry in cfg.tune.components.items():
        if name not in REGISTRY or name == "hybrid":
            raise ConfigError(f"tune.components.{name}: not a model a hybrid can hold; choose from: "
                              f"{', '.join(sorted(n for n in REGISTRY if n != 'hybrid'))}")
        _check_model_space(name, entry.space, f"tune.components.{name}.space", f"conf/tune/{name}.yaml")


def _check_model_space(model: str, space: dict[str, ParamSpace], prefix: str, source: str) -> None:
    fields = set(model_class(model).Params.__dataclass_fields__)
    for key, spec in space.items():
        where = f"{prefix}.{key} ({source})"
        if key not in fields:
            raise ConfigError(f"{where}: {model} has no param {key!r}; params: {', '.join(sorted(fields))}")
        _check_space(spec, where)
        for param, value in (spec.when or {}).items():
            if param not in space:
                raise ConfigError(f"{where}.when: {param!r} is not a param of this search space")
            choices = space[param].choices
            if space[param].type == "categorical" and choices is not None and value not in choices:
                raise ConfigError(f"{where}.when: {param}={value!r} is not one of its choices {choices}")


def _check_space(spec: ParamSpace, where: str) -> None:
    if spec.type == "categorical":
        if not spec.choices:
            raise ConfigError(f"{where}.choices: a categorical space needs a non-empty list of choices")
        return
    if spec.low is None or spec.high is None:
        raise ConfigError(f"{where}: an {spec.type} space needs low and high")
    if spec.low > spec.high:
        raise ConfigError(f"{where}: low ({spec.low}) is above high ({spec.high})")
    if spec.log and spec.low <= 0:
        raise ConfigError(f"{where}.low: a log space needs low > 0")
